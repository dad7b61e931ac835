// Compile-time switches and vector helpers shared by every kernel file. One source, three builds:
// the scalar build has ASC_FEATURE_SIMD false, the relaxed build has ASC_FEATURE_RELAXED_SIMD true.

/** True in the SIMD and relaxed-SIMD builds (v128 code paths). */
export const SIMD: bool = ASC_FEATURE_SIMD;
/** True in the relaxed-SIMD build (f32x4.relaxed_madd as the multiply-add). */
export const RELAXED: bool = ASC_FEATURE_RELAXED_SIMD;

/**
 * f32x4 constants, each splatted ×4, 16-byte aligned. V8 re-materializes every v128.const inside
 * a loop (~4 instructions each, and binaryen folds hoisted constants back into the loop); a load
 * from this table is one memory operand. Read with kv(NAME).
 */
const KTAB: usize = memory.data<f32>([
  88.3762626647949, 88.3762626647949, 88.3762626647949, 88.3762626647949, // 0: HI
  -87.3365447504, -87.3365447504, -87.3365447504, -87.3365447504, // 1: LO
  1.44269504088896341, 1.44269504088896341, 1.44269504088896341, 1.44269504088896341, // 2: LOG2E
  0.693359375, 0.693359375, 0.693359375, 0.693359375, // 3: LN2_HI
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, // 4: LN2_LO
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, // 5: P0
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, // 6: P1
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, // 7: P2
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, // 8: P3
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, // 9: P4
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, // 10: P5
  1.0, 1.0, 1.0, 1.0, // 11: ONE
  2.0, 2.0, 2.0, 2.0, // 12: TWO
  9.0, 9.0, 9.0, 9.0, // 13: NINE
  0.5, 0.5, 0.5, 0.5, // 14: HALF
  0.7978845608028654, 0.7978845608028654, 0.7978845608028654, 0.7978845608028654, // 15: GELU_K0
  0.044715, 0.044715, 0.044715, 0.044715, // 16: GELU_K1
  0.134145, 0.134145, 0.134145, 0.134145, // 17: GELU_3K1
  11.0, 11.0, 11.0, 11.0, // 18: GELU_LIM (GELU_LIMIT of src/kernels/signatures.ts)
], 16);
const ITAB: usize = memory.data<i32>([127, 127, 127, 127, 0x80000000, 0x80000000, 0x80000000, 0x80000000], 16);
// @ts-ignore: decorator
@inline export const HI: i32 = 0;
// @ts-ignore: decorator
@inline export const LO: i32 = 1;
// @ts-ignore: decorator
@inline export const LOG2E: i32 = 2;
// @ts-ignore: decorator
@inline export const LN2_HI: i32 = 3;
// @ts-ignore: decorator
@inline export const LN2_LO: i32 = 4;
// @ts-ignore: decorator
@inline export const P0: i32 = 5;
// @ts-ignore: decorator
@inline export const P1: i32 = 6;
// @ts-ignore: decorator
@inline export const P2: i32 = 7;
// @ts-ignore: decorator
@inline export const P3: i32 = 8;
// @ts-ignore: decorator
@inline export const P4: i32 = 9;
// @ts-ignore: decorator
@inline export const P5: i32 = 10;
// @ts-ignore: decorator
@inline export const ONE: i32 = 11;
// @ts-ignore: decorator
@inline export const TWO: i32 = 12;
// @ts-ignore: decorator
@inline export const NINE: i32 = 13;
// @ts-ignore: decorator
@inline export const HALF: i32 = 14;
// @ts-ignore: decorator
@inline export const GELU_K0: i32 = 15;
// @ts-ignore: decorator
@inline export const GELU_K1: i32 = 16;
// @ts-ignore: decorator
@inline export const GELU_3K1: i32 = 17;
// @ts-ignore: decorator
@inline export const GELU_LIM: i32 = 18;

/** The sign bit in every lane (0x80000000 ×4). */
// @ts-ignore: decorator
@inline export function signMask(): v128 {
  return v128.load(ITAB, 16);
}

/** The f32x4 constant number i of the table (see KTAB). */
// @ts-ignore: decorator
@inline export function kv(i: i32): v128 {
  return v128.load(KTAB + (<usize>i << 4));
}

/** a·b + c, lane-wise: one fused (or unfused, the CPU decides) relaxed_madd when available. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Horizontal sum of 4 f32 lanes, as f64. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

/** Horizontal max of 4 f32 lanes. */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

/**
 * exp(x) for 4 lanes (Cephes-style: x = n·ln2 + r, degree-6 polynomial in r, 2^n by exponent
 * bits). Relative error ~2 ulp on [-87, 88]; below -87 returns 0, above 88 returns +inf.
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  const under = f32x4.lt(x, kv(LO));
  let xc = f32x4.pmin(f32x4.pmax(x, kv(LO)), kv(HI)); // pmin/pmax: one instruction each (min/max are NaN-exact sequences)
  // n = round(x / ln2)
  const fx = f32x4.nearest(f32x4.mul(xc, kv(LOG2E)));
  // r = x - n·ln2 (two-step for accuracy)
  xc = f32x4.sub(xc, f32x4.mul(fx, kv(LN2_HI)));
  xc = f32x4.sub(xc, f32x4.mul(fx, kv(LN2_LO)));
  const z = f32x4.mul(xc, xc);
  let y = madd(kv(P0), xc, kv(P1));
  y = madd(y, xc, kv(P2));
  y = madd(y, xc, kv(P3));
  y = madd(y, xc, kv(P4));
  y = madd(y, xc, kv(P5));
  y = madd(y, z, f32x4.add(xc, kv(ONE)));
  // 2^n: (n + 127) << 23; n in [-126, 127] after clamping.
  const n = i32x4.trunc_sat_f32x4_s(fx);
  const pow2 = i32x4.shl(i32x4.add(n, v128.load(ITAB)), 23);
  return v128.andnot(f32x4.mul(y, pow2), under);
}

/** tanh(u) for 4 lanes: sign(u)·(1 − 2/(exp(2|u|) + 1)), saturating to ±1 for |u| > 9. */
// @ts-ignore: decorator
@inline export function tanh4(u: v128): v128 {
  const a = f32x4.pmin(f32x4.abs(u), kv(NINE));
  const e = exp4(f32x4.add(a, a));
  const t = f32x4.sub(kv(ONE), f32x4.div(kv(TWO), f32x4.add(e, kv(ONE))));
  // copy the sign of u onto t
  return v128.or(t, v128.and(u, v128.load(ITAB, 16)));
}
