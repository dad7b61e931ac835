// Compile-time switches and vector helpers shared by every kernel file. One source, three builds:
// the scalar build has ASC_FEATURE_SIMD false, the relaxed build has ASC_FEATURE_RELAXED_SIMD true.

/** True in the SIMD and relaxed-SIMD builds (v128 code paths). */
export const SIMD: bool = ASC_FEATURE_SIMD;
/** True in the relaxed-SIMD build (f32x4.relaxed_madd as the multiply-add). */
export const RELAXED: bool = ASC_FEATURE_RELAXED_SIMD;

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
  const hi = f32x4.splat(88.3762626647949);
  const lo = f32x4.splat(-87.3365447504);
  const under = f32x4.lt(x, lo);
  let xc = f32x4.min(f32x4.max(x, lo), hi);
  // n = round(x / ln2)
  const fx = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  // r = x - n·ln2 (two-step for accuracy)
  xc = f32x4.sub(xc, f32x4.mul(fx, f32x4.splat(0.693359375)));
  xc = f32x4.sub(xc, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  const z = f32x4.mul(xc, xc);
  let y = f32x4.splat(1.9875691500e-4);
  y = madd(y, xc, f32x4.splat(1.3981999507e-3));
  y = madd(y, xc, f32x4.splat(8.3334519073e-3));
  y = madd(y, xc, f32x4.splat(4.1665795894e-2));
  y = madd(y, xc, f32x4.splat(1.6666665459e-1));
  y = madd(y, xc, f32x4.splat(5.0000001201e-1));
  y = madd(y, z, f32x4.add(xc, f32x4.splat(1.0)));
  // 2^n: (n + 127) << 23; n in [-126, 127] after clamping.
  const n = i32x4.trunc_sat_f32x4_s(fx);
  const pow2 = i32x4.shl(i32x4.add(n, i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(y, pow2), under);
}

/** tanh(u) for 4 lanes: sign(u)·(1 − 2/(exp(2|u|) + 1)), saturating to ±1 for |u| > 9. */
// @ts-ignore: decorator
@inline export function tanh4(u: v128): v128 {
  const a = f32x4.min(f32x4.abs(u), f32x4.splat(9.0));
  const e = exp4(f32x4.add(a, a));
  const t = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
  // copy the sign of u onto t
  const sign = v128.and(u, i32x4.splat(0x80000000));
  return v128.or(t, sign);
}
