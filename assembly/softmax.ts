// Softmax kernels (optimized): softmax_t and log_softmax_t of logits/T, row-wise, max-subtracted.
// f32x4 exp over each row with scalar (f64) tails; row sums and log-sum-exp in f64.

import { SIMD, exp4, hmax, hsum } from './simd';

/** Max over a row of z·invT. z is (K). */
// @ts-ignore: decorator
@inline export function rowMax(z: usize, K: i32, invT: f32): f32 {
  let m: f32 = -Infinity;
  let k = 0;
  if (SIMD) {
    if (K >= 4) {
      let mv = f32x4.splat(-Infinity);
      for (; k + 4 <= K; k += 4) mv = f32x4.max(mv, v128.load(z + (<usize>k << 2)));
      m = hmax(mv);
    }
  }
  for (; k < K; k++) m = max(m, load<f32>(z + (<usize>k << 2)));
  return m * invT;
}

/** Sum over a row of exp(z·invT − mx), in f64. z is (K). */
// @ts-ignore: decorator
@inline export function rowSumExp(z: usize, K: i32, invT: f32, mx: f32): f64 {
  let s: f64 = 0;
  let k = 0;
  if (SIMD) {
    const vi = f32x4.splat(invT), vm = f32x4.splat(mx);
    let sv = f32x4.splat(0);
    for (; k + 4 <= K; k += 4) sv = f32x4.add(sv, exp4(f32x4.sub(f32x4.mul(v128.load(z + (<usize>k << 2)), vi), vm)));
    s = hsum(sv);
  }
  for (; k < K; k++) s += Math.exp(<f64>(load<f32>(z + (<usize>k << 2)) * invT) - <f64>mx);
  return s;
}

// out, logits are (N,K): out = softmax(logits/T) per row, or log_softmax(logits/T) when `log`
// (a constant at each call site: inlined, each kernel keeps only its own store).
// @ts-ignore: decorator
@inline function softmaxRows(out: usize, logits: usize, N: i32, K: i32, T: f32, log: bool): void {
  const invT: f32 = <f32>(1.0 / <f64>T);
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>K) << 2;
    const z = logits + off, o = out + off;
    const mx = rowMax(z, K, invT);
    const lse = <f32>(<f64>mx + Math.log(rowSumExp(z, K, invT, mx)));
    let k = 0;
    if (SIMD) {
      const vi = f32x4.splat(invT), vl = f32x4.splat(lse);
      for (; k + 4 <= K; k += 4) {
        const b = <usize>k << 2;
        const x = f32x4.sub(f32x4.mul(v128.load(z + b), vi), vl);
        v128.store(o + b, log ? x : exp4(x));
      }
    }
    for (; k < K; k++) {
      const b = <usize>k << 2;
      store<f32>(o + b, log ? load<f32>(z + b) * invT - lse : <f32>Math.exp(<f64>(load<f32>(z + b) * invT) - <f64>lse));
    }
  }
}

// out, logits are (N,K): out = softmax(logits/T) per row.
export function softmax_t(out: usize, logits: usize, N: i32, K: i32, T: f32): void {
  softmaxRows(out, logits, N, K, T, false);
}

// out, logits are (N,K): out = log_softmax(logits/T) per row.
export function log_softmax_t(out: usize, logits: usize, N: i32, K: i32, T: f32): void {
  softmaxRows(out, logits, N, K, T, true);
}
