// int8 kernels (optimized; the TS reference in src/kernels/reference.ts is the definition):
// quantize_int8, matmul_int8 (+ matmul_int8_cols, its column split for the -mt backends, and
// matmul_int8_workspace), conv2d_int8 (+ conv2d_int8_workspace) and dequantize_int32. Integer
// results are exact in every build: the SIMD builds widen uint8 activations and int8 weights to
// int16 and multiply with i32x4.dot_i16x8_s (each lane sums two products of at most 255·128 in
// int32: nothing saturates, unlike u8×s8 pairs in int16). The relaxed build runs the same code:
// i32x4.relaxed_dot_i8x16_i7x16_add_s is deterministic only for a 7-bit second operand, so
// full-range uint8 activations need two of them per 16 bytes (a = 128·hi + lo, both 7-bit: exact);
// that kernel measured 0.66-0.73× the speed of the dot_i16x8_s one on V8 (Node 20, x64: each relaxed
// dot becomes pmaddubsw + pmaddwd + paddd), so it is not used. Pointers are byte offsets into
// linear memory; nothing allocates (scratch is the caller's `work`).

import { SIMD } from './simd';

// ---- quantize ------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline function quant1(v: f32, zp: i32): i32 {
  let r = 0;
  if (v == v) r = <i32>nearest<f32>(min<f32>(max<f32>(v, -512), 512));
  const z = r + zp;
  return z < 0 ? 0 : z > 255 ? 255 : z;
}

// @ts-ignore: decorator
@inline function quant4(x: v128, s: v128, lo: v128, hi: v128, magic: v128, bias: v128): v128 {
  // NaN lanes zeroed (the reference's NaN → zeroPoint), clamped to ±512, then rounded half to even
  // by adding 1.5·2²³ (the sum's unit in the last place is 1: the FPU rounds it to nearest even)
  // and reading the integer back from the bits: cheaper than nearest + trunc_sat on x64 (V8
  // lowers trunc_sat_f32x4_s to a long NaN/overflow-guarding sequence). bias = bits(1.5·2²³) − zeroPoint.
  let v = f32x4.mul(x, s);
  v = v128.and(v, f32x4.eq(v, v));
  v = f32x4.add(f32x4.pmin(f32x4.pmax(v, lo), hi), magic);
  return i32x4.sub(v, bias);
}

/** q (n) uint8 = clamp(round_half_even(f32(x·invScale)) + zeroPoint, 0, 255); x (n) float32. */
export function quantize_int8(q: usize, x: usize, n: i32, invScale: f32, zeroPoint: i32): void {
  let i = 0;
  if (SIMD) {
    const s = f32x4.splat(invScale), lo = f32x4.splat(-512), hi = f32x4.splat(512), magic = f32x4.splat(12582912), bias = i32x4.sub(magic, i32x4.splat(zeroPoint));
    for (; i + 16 <= n; i += 16) {
      const p = x + (<usize>i << 2);
      const a = quant4(v128.load(p), s, lo, hi, magic, bias), b = quant4(v128.load(p, 16), s, lo, hi, magic, bias);
      const c = quant4(v128.load(p, 32), s, lo, hi, magic, bias), d = quant4(v128.load(p, 48), s, lo, hi, magic, bias);
      // ±512 + zeroPoint fits int16; the unsigned narrow saturates to [0, 255]
      v128.store(q + <usize>i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)));
    }
  }
  for (; i < n; i++) store<u8>(q + <usize>i, <u8>quant1(load<f32>(x + (<usize>i << 2)) * invScale, zeroPoint));
}

// ---- the u8 × s8 GEMM ----------------------------------------------------------------------

/** Horizontal sum of 4 int32 lanes (wrapping, but every sum here is below 2³¹ by the K limit). */
// @ts-ignore: decorator
@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** c + Σ of the 8 products of a (uint8) and w (int8) at these addresses, as int32x4. */
// @ts-ignore: decorator
@inline function dot8(a: usize, w: usize, c: v128): v128 {
  return i32x4.add(c, i32x4.dot_i16x8_s(v128.load8x8_u(a), v128.load8x8_s(w)));
}

/** Dot product of K uint8 at a and K int8 at w. */
function dot1(a: usize, w: usize, K: i32): i32 {
  let k = 0, s = 0;
  if (SIMD) {
    let c0 = i32x4.splat(0), c1 = i32x4.splat(0);
    for (; k + 16 <= K; k += 16) {
      c0 = dot8(a + <usize>k, w + <usize>k, c0);
      c1 = dot8(a + <usize>k + 8, w + <usize>k + 8, c1);
    }
    for (; k + 8 <= K; k += 8) c0 = dot8(a + <usize>k, w + <usize>k, c0);
    s = hsum(i32x4.add(c0, c1));
  }
  for (; k < K; k++) s += <i32>load<u8>(a + <usize>k) * <i32>load<i8>(w + <usize>k);
  return s;
}

/** The four horizontal sums of a, b, c, d (wrapping int32), as one int32x4. */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 1, 4, 5), i32x4.shuffle(a, b, 2, 3, 6, 7)); // a0+a2 a1+a3 b0+b2 b1+b3
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 1, 4, 5), i32x4.shuffle(c, d, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 2, 4, 6), i32x4.shuffle(ab, cd, 1, 3, 5, 7));
}

// out[i·sa + j·sw] for one row i of a (uint8, K) against four rows of w (int8, rows ldw bytes apart); sa, sw in bytes.
function tile1x4(o: usize, sw: usize, a: usize, w: usize, ldw: usize, K: i32): void {
  const w1 = w + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
  let k = 0;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  if (SIMD) {
    let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
    for (; k + 8 <= K; k += 8) {
      const x = v128.load8x8_u(a + <usize>k);
      c0 = i32x4.add(c0, i32x4.dot_i16x8_s(x, v128.load8x8_s(w + <usize>k)));
      c1 = i32x4.add(c1, i32x4.dot_i16x8_s(x, v128.load8x8_s(w1 + <usize>k)));
      c2 = i32x4.add(c2, i32x4.dot_i16x8_s(x, v128.load8x8_s(w2 + <usize>k)));
      c3 = i32x4.add(c3, i32x4.dot_i16x8_s(x, v128.load8x8_s(w3 + <usize>k)));
    }
    s0 = hsum(c0); s1 = hsum(c1); s2 = hsum(c2); s3 = hsum(c3);
  }
  for (; k < K; k++) {
    const x = <i32>load<u8>(a + <usize>k);
    s0 += x * <i32>load<i8>(w + <usize>k);
    s1 += x * <i32>load<i8>(w1 + <usize>k);
    s2 += x * <i32>load<i8>(w2 + <usize>k);
    s3 += x * <i32>load<i8>(w3 + <usize>k);
  }
  store<i32>(o, s0); store<i32>(o + sw, s1); store<i32>(o + 2 * sw, s2); store<i32>(o + 3 * sw, s3);
}

// SIMD: out for four int16 rows of a against two int16 rows of w, Kp a multiple of 8 (both
// zero-padded), each operand packed by widen in groups (a: 4 rows, w: 2 rows) so one step of 8
// k reads 64 contiguous bytes of a and 32 of w at constant offsets from two pointers: 8 int32x4
// accumulators, one dot_i16x8_s each per 8 products, plain loads (widened once per block).
function tile4x2(o: usize, sa: usize, sw: usize, a: usize, w: usize, Kp: i32): void {
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  const end = a + (<usize>Kp << 3);
  for (; a < end; a += 64, w += 32) {
    const b0 = v128.load(w), b1 = v128.load(w, 16);
    let x = v128.load(a);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(x, b0)); c01 = i32x4.add(c01, i32x4.dot_i16x8_s(x, b1));
    x = v128.load(a, 16);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(x, b0)); c11 = i32x4.add(c11, i32x4.dot_i16x8_s(x, b1));
    x = v128.load(a, 32);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(x, b0)); c21 = i32x4.add(c21, i32x4.dot_i16x8_s(x, b1));
    x = v128.load(a, 48);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(x, b0)); c31 = i32x4.add(c31, i32x4.dot_i16x8_s(x, b1));
  }
  // sums (rows 0-3 of column 0) and (rows 0-3 of column 1), stored lane by lane
  const s0 = hsum4(c00, c10, c20, c30), s1 = hsum4(c01, c11, c21, c31);
  store<i32>(o, i32x4.extract_lane(s0, 0)); store<i32>(o + sw, i32x4.extract_lane(s1, 0)); o += sa;
  store<i32>(o, i32x4.extract_lane(s0, 1)); store<i32>(o + sw, i32x4.extract_lane(s1, 1)); o += sa;
  store<i32>(o, i32x4.extract_lane(s0, 2)); store<i32>(o + sw, i32x4.extract_lane(s1, 2)); o += sa;
  store<i32>(o, i32x4.extract_lane(s0, 3)); store<i32>(o + sw, i32x4.extract_lane(s1, 3));
}

/**
 * rows × K bytes (rows ld bytes apart; uint8 when unsigned, else int8; rows a multiple of g)
 * widened to int16 and zero-padded to Kp, packed in groups of g rows: group r/g starts at
 * (r/g)·g·Kp·2 bytes, and in it the 8 values k..k+7 of row r sit at (k/8)·16g + (r%g)·16.
 */
function widen(dst: usize, src: usize, rows: i32, ld: usize, K: i32, Kp: i32, unsigned: bool, g: i32): void {
  const step = <usize>(g << 4);
  for (let r = 0; r < rows; r++) {
    const s = src + <usize>r * ld;
    let d = dst + <usize>(r / g) * <usize>g * (<usize>Kp << 1) + (<usize>(r % g) << 4);
    let k = 0;
    for (; k + 8 <= K; k += 8, d += step) v128.store(d, unsigned ? v128.load8x8_u(s + <usize>k) : v128.load8x8_s(s + <usize>k));
    if (k < K) {
      // the last partial group of 8, zero-padded
      for (let t = 0; t < 8; t++, k++) store<i16>(d + (<usize>t << 1), k < K ? (unsigned ? <i16>load<u8>(s + <usize>k) : <i16>load<i8>(s + <usize>k)) : 0);
    }
  }
}

/** Bytes of one widened block of w rows (stays in L2 while the row blocks of a pass over it), and of one of a. */
// @ts-ignore: decorator
@inline const PANEL: i32 = 1 << 17;

/** Bytes of workspace gemm_u8s8 needs for a reduction of K (widened blocks of w and a), 16-byte aligned inside. */
// @ts-ignore: decorator
@inline function gemmWork(K: i32): i32 {
  const row2 = ((K + 7) & ~7) << 1;
  return PANEL + max(PANEL, 4 * row2) + 32;
}

/**
 * out[i·sa + j·sw] = Σ_k a[i·lda + k]·w[j·ldw + k] (int32, exact) for rows 0 ≤ i < M of a (uint8)
 * and rows j0 ≤ j < j1 of w (int8); lda, ldw in bytes, sa, sw in int32 elements. SIMD, M ≥ 4, 2+ columns:
 * blocks of w and a widened to int16 in work (gemmWork(K) bytes), then 4×2 register tiles; rows
 * past the last 4 and an odd last column take the direct (extend-per-load) kernels.
 */
export function gemm_u8s8(out: usize, sa: i32, sw: i32, a: usize, lda: i32, M: i32, w: usize, ldw: i32, j0: i32, j1: i32, K: i32, work: usize): void {
  if (M <= 0 || j1 <= j0) return;
  const sab = <usize>sa << 2, swb = <usize>sw << 2, ldab = <usize>lda, ldwb = <usize>ldw;
  if (K <= 0) {
    for (let i = 0; i < M; i++) for (let j = j0; j < j1; j++) store<i32>(out + <usize>i * sab + <usize>j * swb, 0);
    return;
  }
  let i0 = 0;
  if (SIMD && M >= 4 && j1 - j0 >= 2) {
    const Kp = (K + 7) & ~7, row2 = <usize>Kp << 1;
    const nb = max(2, (PANEL / <i32>row2) & ~1), mb = max(4, (PANEL / <i32>row2) & ~3);
    const wp = (work + 15) & ~<usize>15, ap = wp + <usize>nb * row2;
    const M4 = M & ~3;
    for (let jb = j0; jb < j1; jb += nb) {
      const je = min(j1, jb + nb), jp = jb + ((je - jb) & ~1);
      widen(wp, w + <usize>jb * ldwb, jp - jb, ldwb, K, Kp, false, 2);
      for (let ib = 0; ib < M4; ib += mb) {
        const ie = min(M4, ib + mb);
        widen(ap, a + <usize>ib * ldab, ie - ib, ldab, K, Kp, true, 4);
        for (let i = ib; i < ie; i += 4) {
          const oi = out + <usize>i * sab, ai = ap + <usize>(i - ib) * row2;
          for (let j = jb; j < jp; j += 2) tile4x2(oi + <usize>j * swb, sab, swb, ai, wp + <usize>(j - jb) * row2, Kp);
          if (jp < je) {
            const wj = w + <usize>jp * ldwb, oj = oi + <usize>jp * swb;
            for (let r = 0; r < 4; r++) store<i32>(oj + <usize>r * sab, dot1(a + <usize>(i + r) * ldab, wj, K));
          }
        }
      }
    }
    i0 = M4;
  }
  for (let i = i0; i < M; i++) {
    const ai = a + <usize>i * ldab, oi = out + <usize>i * sab;
    let j = j0;
    for (; j + 4 <= j1; j += 4) tile1x4(oi + <usize>j * swb, swb, ai, w + <usize>j * ldwb, ldwb, K);
    for (; j < j1; j++) store<i32>(oi + <usize>j * swb, dot1(ai, w + <usize>j * ldwb, K));
  }
}

/** Bytes of workspace matmul_int8 and matmul_int8_cols need for these sizes. */
export function matmul_int8_workspace(M: i32, N: i32, K: i32): i32 {
  return SIMD && M >= 4 && N > 0 ? gemmWork(K) : 0;
}

/** acc (M,N) int32 = a (M,K) uint8 · w (N,K) int8 transposed, exact (K ≤ 32768). work: matmul_int8_workspace(M, N, K) bytes. */
export function matmul_int8(acc: usize, a: usize, w: usize, M: i32, N: i32, K: i32, work: usize): void {
  gemm_u8s8(acc, N, 1, a, K, M, w, K, 0, N, K, work);
}

/**
 * Columns j0 ≤ j < j1 of matmul_int8's acc (the rest untouched): one thread's part of a split
 * matmul_int8. Integer sums: any split gives the same acc. work: matmul_int8_workspace(M, N, K) bytes.
 */
export function matmul_int8_cols(acc: usize, a: usize, w: usize, M: i32, N: i32, K: i32, work: usize, j0: i32, j1: i32): void {
  gemm_u8s8(acc, N, 1, a, K, M, w, K, j0, j1, K, work);
}

// ---- conv2d_int8 ---------------------------------------------------------------------------

/** Bytes of one uint8 column block (output pixels × (C/groups)·k·k). */
// @ts-ignore: decorator
@inline const COLBYTES: i32 = 1 << 19;

// @ts-ignore: decorator
@inline function outSize(n: i32, k: i32, s: i32, pad: i32): i32 {
  const span = n + 2 * pad - k;
  return span < 0 ? 0 : span / s + 1;
}

/** Output pixels per column block for rows of Kc bytes over P output pixels. */
function blockPixels(Kc: i32, P: i32): i32 {
  const nb = COLBYTES / max(Kc, 1);
  return nb >= P ? P : max(4, nb & ~3);
}

/** Bytes of scratch conv2d_int8 needs for these sizes (one uint8 column block). */
export function conv2d_int8_workspace(C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32): i32 {
  const Kc = (C / groups) * k * k, P = outSize(H, k, stride, pad) * outSize(W, k, stride, pad);
  const padded = k == 3 && stride == 1 ? (C / groups) * (H + 2 * pad) * (W + 2 * pad) + 64 : 0;
  return ((blockPixels(Kc, P) * Kc + 15) & ~15) + 16 + gemmWork(Kc) + padded;
}

/**
 * One input channel (C = 1, or a depthwise group), 3×3 stride 1, og output channels: the plane
 * copied into pw with an xZero border (and 32 bytes of slack), then for each output row blocks of
 * 8 pixels summed over the nine taps in int32 (uint8 widened to int16, i32x4.extmul with the
 * tap's weight: exact). The last block of a row goes through a 32-byte staging buffer at the end of pw.
 */
function direct3(out: usize, xp: usize, w: usize, og: i32, H: i32, W: i32, pad: i32, OH: i32, OW: i32, zb: u8, pw: usize): void {
  const Hp = H + 2 * pad, Wp = W + 2 * pad, stage = pw + <usize>(Hp * Wp + 32);
  memory.fill(pw, zb, <usize>(Hp * Wp + 32));
  for (let h = 0; h < H; h++) memory.copy(pw + <usize>((h + pad) * Wp + pad), xp + <usize>(h * W), <usize>W);
  for (let o = 0; o < og; o++) {
    const wo = w + <usize>(o * 9);
    const w0 = i16x8.splat(<i16>load<i8>(wo)), w1 = i16x8.splat(<i16>load<i8>(wo + 1)), w2 = i16x8.splat(<i16>load<i8>(wo + 2));
    const w3 = i16x8.splat(<i16>load<i8>(wo + 3)), w4 = i16x8.splat(<i16>load<i8>(wo + 4)), w5 = i16x8.splat(<i16>load<i8>(wo + 5));
    const w6 = i16x8.splat(<i16>load<i8>(wo + 6)), w7 = i16x8.splat(<i16>load<i8>(wo + 7)), w8 = i16x8.splat(<i16>load<i8>(wo + 8));
    for (let i = 0; i < OH; i++) {
      const r0 = pw + <usize>(i * Wp), r1 = r0 + <usize>Wp, r2 = r1 + <usize>Wp;
      const orow = out + (<usize>((o * OH + i) * OW) << 2);
      for (let j = 0; j < OW; j += 8) {
        let lo = i32x4.splat(0), hi = i32x4.splat(0);
        let v = i16x8.extend_low_i8x16_u(v128.load64_zero(r0 + <usize>j));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w0)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w0));
        v = i16x8.extend_low_i8x16_u(v128.load64_zero(r0 + <usize>j + 1));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w1)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w1));
        v = i16x8.extend_low_i8x16_u(v128.load64_zero(r0 + <usize>j + 2));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w2)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w2));
        v = i16x8.extend_low_i8x16_u(v128.load64_zero(r1 + <usize>j));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w3)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w3));
        v = i16x8.extend_low_i8x16_u(v128.load64_zero(r1 + <usize>j + 1));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w4)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w4));
        v = i16x8.extend_low_i8x16_u(v128.load64_zero(r1 + <usize>j + 2));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w5)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w5));
        v = i16x8.extend_low_i8x16_u(v128.load64_zero(r2 + <usize>j));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w6)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w6));
        v = i16x8.extend_low_i8x16_u(v128.load64_zero(r2 + <usize>j + 1));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w7)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w7));
        v = i16x8.extend_low_i8x16_u(v128.load64_zero(r2 + <usize>j + 2));
        lo = i32x4.add(lo, i32x4.extmul_low_i16x8_s(v, w8)); hi = i32x4.add(hi, i32x4.extmul_high_i16x8_s(v, w8));
        if (j + 8 <= OW) {
          v128.store(orow + (<usize>j << 2), lo);
          v128.store(orow + (<usize>j << 2), hi, 16);
        } else {
          v128.store(stage, lo);
          v128.store(stage, hi, 16);
          memory.copy(orow + (<usize>j << 2), stage, <usize>((OW - j) << 2));
        }
      }
    }
  }
}

/**
 * acc (N,OC,OH,OW) int32 = conv2d of x (N,C,H,W) uint8 with w (OC,C/groups,k,k) int8, exact, no
 * bias; cells outside the image count as xZero. im2col (per image, group and block of output
 * pixels: rows of (C/groups)·k·k bytes) then the u8×s8 GEMM with w's rows.
 * work: conv2d_int8_workspace(C, H, W, OC, k, stride, pad, groups) bytes.
 */
export function conv2d_int8(acc: usize, x: usize, w: usize, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32, xZero: i32, work: usize): void {
  const OH = outSize(H, k, stride, pad), OW = outSize(W, k, stride, pad), P = OH * OW;
  if (N <= 0 || P <= 0) return;
  const cg = C / groups, og = OC / groups, Kc = cg * k * k, PB = blockPixels(Kc, P);
  const col = (work + 15) & ~<usize>15, gw = col + ((<usize>(PB * Kc) + 15) & ~<usize>15);
  const plane = <usize>(H * W), zb = <u8>xZero;
  const k3 = k == 3 && stride == 1, Hp = H + 2 * pad, Wp = W + 2 * pad;
  const pw = gw + <usize>gemmWork(Kc); // the padded planes (k3): conv2d_int8_workspace counts them
  for (let n = 0; n < N; n++) for (let g = 0; g < groups; g++) {
    const xg = x + (<usize>(n * C + g * cg)) * plane;
    const wg = w + <usize>(g * og) * <usize>Kc;
    const og0 = acc + ((<usize>(n * OC + g * og) * <usize>P) << 2);
    if (SIMD && k3 && cg == 1) {
      direct3(og0, xg, wg, og, H, W, pad, OH, OW, zb, pw);
      continue;
    }
    if (k3) {
      // 3×3 stride 1: the group's planes copied once into pw with an xZero border, so each pixel's
      // row is nine plain byte copies per channel (no bounds checks).
      memory.fill(pw, zb, <usize>(cg * Hp * Wp));
      for (let c = 0; c < cg; c++) for (let h = 0; h < H; h++) memory.copy(pw + <usize>((c * Hp + h + pad) * Wp + pad), xg + <usize>c * plane + <usize>(h * W), <usize>W);
    }
    for (let p0 = 0; p0 < P; p0 += PB) {
      const pb = min(PB, P - p0);
      if (k3) {
        let i = p0 / OW, j = p0 % OW;
        for (let p = 0; p < pb; p++) {
          let d = col + <usize>p * <usize>Kc, src = pw + <usize>(i * Wp + j);
          for (let c = 0; c < cg; c++) {
            store<u16>(d, load<u16>(src)); store<u8>(d + 2, load<u8>(src + 2));
            store<u16>(d + 3, load<u16>(src + <usize>Wp)); store<u8>(d + 5, load<u8>(src + <usize>Wp + 2));
            store<u16>(d + 6, load<u16>(src + <usize>(2 * Wp))); store<u8>(d + 8, load<u8>(src + <usize>(2 * Wp) + 2));
            d += 9;
            src += <usize>(Hp * Wp);
          }
          if (++j == OW) { j = 0; i++; }
        }
        gemm_u8s8(og0 + (<usize>p0 << 2), 1, P, col, Kc, pb, wg, Kc, 0, og, Kc, gw);
        continue;
      }
      // col[(p − p0)·Kc + (c·k + a)·k + b] = x̃[c, i·stride − pad + a, j·stride − pad + b], p = i·OW + j
      for (let p = 0; p < pb; p++) {
        const i = (p0 + p) / OW, j = (p0 + p) % OW;
        let d = col + <usize>p * <usize>Kc;
        for (let c = 0; c < cg; c++) {
          const xc = xg + <usize>c * plane;
          for (let a = 0; a < k; a++) {
            const h = i * stride - pad + a;
            if (h < 0 || h >= H) {
              memory.fill(d, zb, <usize>k);
            } else {
              const xr = xc + <usize>(h * W);
              for (let b = 0; b < k; b++) {
                const ww = j * stride - pad + b;
                store<u8>(d + <usize>b, ww >= 0 && ww < W ? load<u8>(xr + <usize>ww) : zb);
              }
            }
            d += <usize>k;
          }
        }
      }
      // acc[n, g·og + o, p0 + p] = Σ col[p, :]·w[g·og + o, :]: pixels are the GEMM's rows (stride 1), channels its columns (stride P)
      gemm_u8s8(og0 + (<usize>p0 << 2), 1, P, col, Kc, pb, wg, Kc, 0, og, Kc, gw);
    }
  }
}

// ---- dequantize ----------------------------------------------------------------------------

/**
 * y (N,C,HW) = f32(f32(acc − zero·wsum[c])·scale[c]) + bias[c] per channel c; acc (N,C,HW) int32,
 * wsum (C) int32, scale, bias (C) float32. Multiply then add, never fused (bitwise the reference).
 */
export function dequantize_int32(y: usize, acc: usize, wsum: usize, scale: usize, bias: usize, zero: i32, N: i32, C: i32, HW: i32): void {
  if (SIMD && HW == 1) {
    // Dense: vectors run along the channels
    const vz = i32x4.splat(zero);
    for (let n = 0; n < N; n++) {
      const row = <usize>(n * C) << 2;
      let c = 0;
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const t = i32x4.sub(v128.load(acc + row + o), i32x4.mul(vz, v128.load(wsum + o)));
        v128.store(y + row + o, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(t), v128.load(scale + o)), v128.load(bias + o)));
      }
      for (; c < C; c++) {
        const o = <usize>c << 2;
        store<f32>(y + row + o, <f32>(load<i32>(acc + row + o) - zero * load<i32>(wsum + o)) * load<f32>(scale + o) + load<f32>(bias + o));
      }
    }
    return;
  }
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    const zc = zero * load<i32>(wsum + o), s = load<f32>(scale + o), b = load<f32>(bias + o);
    const base = <usize>((n * C + c) * HW) << 2;
    let q = 0;
    if (SIMD) {
      const vzc = i32x4.splat(zc), vs = f32x4.splat(s), vb = f32x4.splat(b);
      for (; q + 4 <= HW; q += 4) {
        const p = base + (<usize>q << 2);
        v128.store(y + p, f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(v128.load(acc + p), vzc)), vs), vb));
      }
    }
    for (; q < HW; q++) {
      const p = base + (<usize>q << 2);
      store<f32>(y + p, <f32>(load<i32>(acc + p) - zc) * s + b);
    }
  }
}
