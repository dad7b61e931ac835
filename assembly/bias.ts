// Bias kernels (optimized): bias_add (row broadcast) and bias_grad (column sums), f32x4 over the
// OC axis with scalar tails. Pointers are byte offsets into linear memory.

import { SIMD } from './simd';

// y is (N,OC), bias is (OC): y[n,o] += bias[o].
export function bias_add(y: usize, bias: usize, N: i32, OC: i32): void {
  for (let n = 0; n < N; n++) {
    const row = y + ((<usize>n * <usize>OC) << 2);
    let o = 0;
    if (SIMD) {
      for (; o + 4 <= OC; o += 4) {
        const off = <usize>o << 2;
        v128.store(row + off, f32x4.add(v128.load(row + off), v128.load(bias + off)));
      }
    }
    for (; o < OC; o++) {
      const off = <usize>o << 2;
      store<f32>(row + off, load<f32>(row + off) + load<f32>(bias + off));
    }
  }
}

// dbias is (OC), dy is (N,OC): dbias[o] = (dbias[o] if accumulate) + sum_n dy[n,o].
export function bias_grad(dbias: usize, dy: usize, N: i32, OC: i32, accumulate: bool): void {
  let o = 0;
  if (SIMD) {
    for (; o + 4 <= OC; o += 4) {
      const off = <usize>o << 2;
      let acc = accumulate ? v128.load(dbias + off) : f32x4.splat(0);
      for (let n = 0; n < N; n++) acc = f32x4.add(acc, v128.load(dy + ((<usize>n * <usize>OC) << 2) + off));
      v128.store(dbias + off, acc);
    }
  }
  for (; o < OC; o++) {
    const off = <usize>o << 2;
    let acc: f32 = accumulate ? load<f32>(dbias + off) : 0;
    for (let n = 0; n < N; n++) acc += load<f32>(dy + ((<usize>n * <usize>OC) << 2) + off);
    store<f32>(dbias + off, acc);
  }
}
