// Batch-norm kernels (optimized) over (N,C,HW) tensors: batchnorm_stats (two passes: the mean, then Σ (x −
// mean)², each row summed in f32x4 lanes and the rows in f64), batchnorm (apply),
// batchnorm_backward_reduce (Σ dy, Σ dy·xhat) and batchnorm_backward (training-mode dx).
// Pointers are byte offsets into linear memory; y may alias x, dx may alias dy.

import { SIMD } from './simd';

// @ts-ignore: decorator
@inline function hsum64(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

// mean, m2 are (C); x is (N,C,HW).
export function batchnorm_stats(mean: usize, m2: usize, x: usize, N: i32, C: i32, HW: i32): void {
  const cnt = max(N, 0) * HW;
  for (let c = 0; c < C; c++) {
    let s: f64 = 0;
    for (let n = 0; n < N; n++) {
      const r = x + ((<usize>(n * C + c) * <usize>HW) << 2);
      let q = 0;
      if (SIMD) {
        let v = f32x4.splat(0);
        for (; q + 4 <= HW; q += 4) v = f32x4.add(v, v128.load(r + (<usize>q << 2)));
        s += hsum64(v);
      }
      for (; q < HW; q++) s += <f64>load<f32>(r + (<usize>q << 2));
    }
    const mu: f64 = cnt > 0 ? s / <f64>cnt : 0;
    const mf = <f32>mu;
    let v2: f64 = 0;
    for (let n = 0; n < N; n++) {
      const r = x + ((<usize>(n * C + c) * <usize>HW) << 2);
      let q = 0;
      if (SIMD) {
        const m4 = f32x4.splat(mf);
        let v = f32x4.splat(0);
        for (; q + 4 <= HW; q += 4) {
          const d = f32x4.sub(v128.load(r + (<usize>q << 2)), m4);
          v = f32x4.add(v, f32x4.mul(d, d));
        }
        v2 += hsum64(v);
      }
      for (; q < HW; q++) {
        const d = <f64>load<f32>(r + (<usize>q << 2)) - mu;
        v2 += d * d;
      }
    }
    store<f32>(mean + (<usize>c << 2), mf);
    store<f32>(m2 + (<usize>c << 2), <f32>v2);
  }
}

// y, x are (N,C,HW); mean, invstd, gamma, beta are (C). y may alias x.
export function batchnorm(y: usize, x: usize, mean: usize, invstd: usize, gamma: usize, beta: usize, N: i32, C: i32, HW: i32): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const co = <usize>c << 2;
    const sc = load<f32>(invstd + co) * load<f32>(gamma + co), mu = load<f32>(mean + co), b = load<f32>(beta + co);
    const off = (<usize>(n * C + c) * <usize>HW) << 2;
    const xr = x + off, yr = y + off;
    let q = 0;
    if (SIMD) {
      const sc4 = f32x4.splat(sc), mu4 = f32x4.splat(mu), b4 = f32x4.splat(b);
      for (; q + 4 <= HW; q += 4) {
        const o = <usize>q << 2;
        v128.store(yr + o, f32x4.add(f32x4.mul(f32x4.sub(v128.load(xr + o), mu4), sc4), b4));
      }
    }
    for (; q < HW; q++) {
      const o = <usize>q << 2;
      store<f32>(yr + o, (load<f32>(xr + o) - mu) * sc + b);
    }
  }
}

// sumDy, sumDyXhat, mean, invstd are (C); dy, x are (N,C,HW). Both sums overwritten.
export function batchnorm_backward_reduce(sumDy: usize, sumDyXhat: usize, dy: usize, x: usize, mean: usize, invstd: usize, N: i32, C: i32, HW: i32): void {
  for (let c = 0; c < C; c++) {
    const co = <usize>c << 2;
    const mu = load<f32>(mean + co), is = load<f32>(invstd + co);
    let s: f64 = 0, sx: f64 = 0;
    for (let n = 0; n < N; n++) {
      const off = (<usize>(n * C + c) * <usize>HW) << 2;
      const dr = dy + off, xr = x + off;
      let q = 0;
      if (SIMD) {
        const mu4 = f32x4.splat(mu);
        let a = f32x4.splat(0), b = f32x4.splat(0);
        for (; q + 4 <= HW; q += 4) {
          const o = <usize>q << 2;
          const d = v128.load(dr + o);
          a = f32x4.add(a, d);
          b = f32x4.add(b, f32x4.mul(d, f32x4.sub(v128.load(xr + o), mu4)));
        }
        s += hsum64(a);
        sx += hsum64(b);
      }
      for (; q < HW; q++) {
        const o = <usize>q << 2;
        const d = load<f32>(dr + o);
        s += <f64>d;
        sx += <f64>(d * (load<f32>(xr + o) - mu));
      }
    }
    store<f32>(sumDy + co, <f32>s);
    store<f32>(sumDyXhat + co, <f32>(sx * <f64>is));
  }
}

// dx, dy, x are (N,C,HW); mean, invstd, gamma, sumDy, sumDyXhat are (C). dx may alias dy.
export function batchnorm_backward(dx: usize, dy: usize, x: usize, mean: usize, invstd: usize, gamma: usize, sumDy: usize, sumDyXhat: usize, count: f64, N: i32, C: i32, HW: i32): void {
  for (let c = 0; c < C; c++) {
    const co = <usize>c << 2;
    const is = load<f32>(invstd + co), sc = load<f32>(gamma + co) * is, mu = load<f32>(mean + co);
    const mdy: f32 = count > 0 ? <f32>(<f64>load<f32>(sumDy + co) / count) : 0;
    const mdx: f32 = count > 0 ? <f32>(<f64>load<f32>(sumDyXhat + co) / count) : 0;
    const k = is * mdx; // xhat·mdx = (x − mu)·k
    for (let n = 0; n < N; n++) {
      const off = (<usize>(n * C + c) * <usize>HW) << 2;
      const dr = dy + off, xr = x + off, o0 = dx + off;
      let q = 0;
      if (SIMD) {
        const sc4 = f32x4.splat(sc), mu4 = f32x4.splat(mu), k4 = f32x4.splat(k), m4 = f32x4.splat(mdy);
        for (; q + 4 <= HW; q += 4) {
          const o = <usize>q << 2;
          const t = f32x4.sub(f32x4.sub(v128.load(dr + o), m4), f32x4.mul(f32x4.sub(v128.load(xr + o), mu4), k4));
          v128.store(o0 + o, f32x4.mul(sc4, t));
        }
      }
      for (; q < HW; q++) {
        const o = <usize>q << 2;
        store<f32>(o0 + o, sc * (load<f32>(dr + o) - mdy - (load<f32>(xr + o) - mu) * k));
      }
    }
  }
}
