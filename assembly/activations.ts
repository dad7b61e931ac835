// Activation kernels (optimized): relu, relu_backward, gelu (tanh form), gelu_backward. f32x4 main
// loops with scalar tails in the SIMD builds; plain loops in the scalar build. Pointers are byte
// offsets into the (imported) linear memory; out may alias inp, dinp may alias dout.

import { SIMD, madd, tanh4, kv, signMask, GELU_K0, GELU_K1, GELU_3K1, GELU_LIM, HALF, ONE } from './simd';

const K0: f32 = 0.7978845608028654; // sqrt(2/pi)
const K1: f32 = 0.044715;
// Beyond ±LIM gelu and gelu' are their limits (x or −0; 1 or 0): GELU_LIMIT of
// src/kernels/signatures.ts, where the approximation already rounds to them in float32.
const LIM: f32 = 11.0;

// out, inp are (n).
export function relu(out: usize, inp: usize, n: i32): void {
  let i = 0;
  if (SIMD) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, f32x4.pmax(z, v128.load(inp + o))); // 0 < x ? x : 0 (NaN -> 0, as the reference)
    }
  }
  for (; i < n; i++) {
    // Branch-free (random signs mispredict): keep x's bits where x > 0 (NaN -> 0, as the reference).
    const o = <usize>i << 2;
    store<u32>(out + o, load<u32>(inp + o) & -(<u32>(load<f32>(inp + o) > 0)));
  }
}

// dinp, dout, inp are (n).
export function relu_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  let i = 0;
  if (SIMD) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dinp + o, v128.and(v128.load(dout + o), f32x4.gt(v128.load(inp + o), z)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<u32>(dinp + o, load<u32>(dout + o) & -(<u32>(load<f32>(inp + o) > 0)));
  }
}

// @ts-ignore: decorator
@inline function geluScalar(x: f32): f32 {
  if (x > LIM) return x;
  if (x < -LIM) return -0.0;
  return <f32>(0.5 * <f64>x * (1.0 + Math.tanh(<f64>K0 * (<f64>x + <f64>K1 * <f64>x * <f64>x * <f64>x))));
}

// @ts-ignore: decorator
@inline function geluGradScalar(x: f32): f32 {
  if (x > LIM) return 1.0;
  if (x < -LIM) return 0.0;
  const xd = <f64>x;
  const th = Math.tanh(<f64>K0 * (xd + <f64>K1 * xd * xd * xd));
  const du = <f64>K0 * (1.0 + 3.0 * <f64>K1 * xd * xd);
  return <f32>(0.5 * (1.0 + th) + 0.5 * xd * (1.0 - th * th) * du);
}

// out, inp are (n).
export function gelu(out: usize, inp: usize, n: i32): void {
  let i = 0;
  if (SIMD) {
    for (; i + 4 <= n; i += 4) {
      const k0 = kv(GELU_K0), k1 = kv(GELU_K1), half = kv(HALF), one = kv(ONE);
      const o = <usize>i << 2;
      const x = v128.load(inp + o);
      const x3 = f32x4.mul(f32x4.mul(x, x), x);
      const th = tanh4(f32x4.mul(k0, madd(k1, x3, x)));
      const y = f32x4.mul(f32x4.mul(half, x), f32x4.add(one, th));
      // |x| > LIM: x where x > 0, else −0 (x's sign bit alone). NaN compares false: stays NaN.
      const lim = v128.and(x, v128.or(signMask(), f32x4.gt(x, f32x4.splat(0))));
      v128.store(out + o, v128.bitselect(lim, y, f32x4.gt(f32x4.abs(x), kv(GELU_LIM))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, geluScalar(load<f32>(inp + o)));
  }
}

// dinp, dout, inp are (n).
export function gelu_backward(dinp: usize, dout: usize, inp: usize, n: i32): void {
  let i = 0;
  if (SIMD) {
    for (; i + 4 <= n; i += 4) {
      const k0 = kv(GELU_K0), k1 = kv(GELU_K1), k13 = kv(GELU_3K1), half = kv(HALF), one = kv(ONE);
      const o = <usize>i << 2;
      const x = v128.load(inp + o);
      const x2 = f32x4.mul(x, x);
      const th = tanh4(f32x4.mul(k0, madd(k1, f32x4.mul(x2, x), x)));
      const du = f32x4.mul(k0, madd(k13, x2, one));
      const sech2 = f32x4.sub(one, f32x4.mul(th, th));
      const g = f32x4.add(f32x4.mul(half, f32x4.add(one, th)), f32x4.mul(f32x4.mul(f32x4.mul(half, x), sech2), du));
      // |x| > LIM: 1 where x > 0, else 0. NaN compares false: stays NaN.
      const lim = v128.and(one, f32x4.gt(x, f32x4.splat(0)));
      const gl = v128.bitselect(lim, g, f32x4.gt(f32x4.abs(x), kv(GELU_LIM)));
      v128.store(dinp + o, f32x4.mul(v128.load(dout + o), gl));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dinp + o, load<f32>(dout + o) * geluGradScalar(load<f32>(inp + o)));
  }
}
