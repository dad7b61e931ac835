// matmul (optimized): C = op(A)·op(B) (+ C). GotoBLAS/BLIS structure: K blocks of KC, A and B
// packed into MR-row / NR-column panels in caller-provided workspace (packing absorbs every
// transpose, so all four variants run the same micro-kernel), MR×NR register-blocked f32x4
// micro-kernel (relaxed_madd in the relaxed build), edge tiles through a small tile buffer.

import { SIMD, madd } from './simd';

/**
 * Rows of the register block. 4×8 = 8 f32x4 accumulators: measured best on V8/x64 for both SIMD
 * builds (5×8, 6×8, 3×12, 2×16 and k-unrolled-without-a-block-split variants spill or run at
 * ~half speed; see kernel4x8).
 */
// @ts-ignore: decorator
@inline const MR: i32 = 4;
/** Columns of the register block (two f32x4). */
// @ts-ignore: decorator
@inline const NR: i32 = 8;
/** Depth of a K block: a B micro-panel of KC×NR floats (16 KiB) and an A micro-panel (8 KiB) stay in L1 (measured: 512 a few % above 256). */
// @ts-ignore: decorator
@inline const KC: i32 = 512;
/** Rows of an A block (MC×KC floats = 256 KiB stay in L2). */
// @ts-ignore: decorator
@inline const MC: i32 = 128;
/** Columns of a B block (KC×NC floats). */
// @ts-ignore: decorator
@inline const NC: i32 = 2048;

// @ts-ignore: decorator
@inline function roundUp(x: i32, m: i32): i32 {
  return (x + m - 1) / m * m;
}

/** Bytes of workspace matmul needs for these sizes (packed A block, packed B block, one tile). */
export function matmul_workspace(M: i32, N: i32, K: i32): i32 {
  const kc = min(K, KC), mc = roundUp(min(M, MC), MR), nc = roundUp(min(N, NC), NR);
  return ((mc * kc + kc * nc + MR * NR) << 2) + 64;
}

// dst[k][0..4] = src[0..4][k] for k < 4: a 4×4 block (rows ld bytes apart) transposed to rows ldd bytes apart.
// @ts-ignore: decorator
@inline function transpose4(dst: usize, ldd: usize, src: usize, ld: usize): void {
  const r0 = v128.load(src), r1 = v128.load(src + ld), r2 = v128.load(src + 2 * ld), r3 = v128.load(src + 3 * ld);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + ldd, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * ldd, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * ldd, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into panels of NR columns: Bp[panel][k][NR], zero-padded.
// B is (K,N) with rows ldb floats apart, or (N,K) with rows ldb floats apart when transB.
function packB(Bp: usize, B: usize, ldb: i32, p0: i32, kc: i32, j0: i32, nc: i32, transB: bool): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const cols = min(NR, nc - jp);
    const dst = Bp + ((<usize>jp * <usize>kc) << 2);
    const j = j0 + jp;
    if (!transB) {
      let src = B + ((<usize>p0 * <usize>ldb + <usize>j) << 2);
      const ld = <usize>ldb << 2;
      if (cols == NR) {
        for (let k = 0; k < kc; k++) {
          const d = dst + ((<usize>k * NR) << 2);
          if (SIMD) {
            v128.store(d, v128.load(src));
            v128.store(d, v128.load(src, 16), 16);
          } else {
            for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), load<f32>(src + (<usize>c << 2)));
          }
          src += ld;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          const d = dst + ((<usize>k * NR) << 2);
          let c = 0;
          for (; c < cols; c++) store<f32>(d + (<usize>c << 2), load<f32>(src + (<usize>c << 2)));
          for (; c < NR; c++) store<f32>(d + (<usize>c << 2), 0);
          src += ld;
        }
      }
    } else if (SIMD && cols == NR) {
      // op(B)[k,j] = B[j*K + k]: 4 rows of B × 4 k at a time, transposed in registers.
      const ld = <usize>ldb << 2;
      const src = B + ((<usize>j * <usize>ldb + <usize>p0) << 2);
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const s0 = src + (<usize>k << 2), d = dst + ((<usize>k * NR) << 2);
        for (let q = 0; q < NR; q += 4) transpose4(d + (<usize>q << 2), NR << 2, s0 + <usize>q * ld, ld);
      }
      for (; k < kc; k++) {
        const d = dst + ((<usize>k * NR) << 2), s0 = src + (<usize>k << 2);
        for (let c = 0; c < NR; c++) store<f32>(d + (<usize>c << 2), load<f32>(s0 + <usize>c * ld));
      }
    } else {
      // op(B)[k,j] = B[j*K + k]: each column is a contiguous row of B.
      let c = 0;
      for (; c < cols; c++) {
        const src = B + ((<usize>(j + c) * <usize>ldb + <usize>p0) << 2);
        const d = dst + (<usize>c << 2);
        for (let k = 0; k < kc; k++) store<f32>(d + ((<usize>k * NR) << 2), load<f32>(src + (<usize>k << 2)));
      }
      for (; c < NR; c++) {
        const d = dst + (<usize>c << 2);
        for (let k = 0; k < kc; k++) store<f32>(d + ((<usize>k * NR) << 2), 0);
      }
    }
  }
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] into panels of MR rows: Ap[panel][k][MR], zero-padded.
// A is (M,K) with rows lda floats apart, or (K,M) with rows lda floats apart when transA.
function packA(Ap: usize, A: usize, lda: i32, i0: i32, mc: i32, p0: i32, kc: i32, transA: bool): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const rows = min(MR, mc - ip);
    const dst = Ap + ((<usize>ip * <usize>kc) << 2);
    const i = i0 + ip;
    if (transA) {
      // op(A)[i,k] = A[k*M + i]: MR contiguous floats per k.
      let src = A + ((<usize>p0 * <usize>lda + <usize>i) << 2);
      const ld = <usize>lda << 2;
      for (let k = 0; k < kc; k++) {
        const d = dst + ((<usize>k * MR) << 2);
        let r = 0;
        if (SIMD) {
          if (rows >= 4) {
            v128.store(d, v128.load(src));
            r = 4;
          }
        }
        for (; r < rows; r++) store<f32>(d + (<usize>r << 2), load<f32>(src + (<usize>r << 2)));
        for (; r < MR; r++) store<f32>(d + (<usize>r << 2), 0);
        src += ld;
      }
    } else if (SIMD && rows == MR) {
      // op(A)[i,k] = A[i*K + k]: 4 rows × 4 k at a time, transposed in registers.
      const ld = <usize>lda << 2;
      const src = A + ((<usize>i * <usize>lda + <usize>p0) << 2);
      let k = 0;
      for (; k + 4 <= kc; k += 4) transpose4(dst + ((<usize>k * MR) << 2), MR << 2, src + (<usize>k << 2), ld);
      for (; k < kc; k++) {
        const d = dst + ((<usize>k * MR) << 2), s0 = src + (<usize>k << 2);
        for (let r = 0; r < MR; r++) store<f32>(d + (<usize>r << 2), load<f32>(s0 + <usize>r * ld));
      }
    } else {
      let r = 0;
      for (; r < rows; r++) {
        const src = A + ((<usize>(i + r) * <usize>lda + <usize>p0) << 2);
        const d = dst + (<usize>r << 2);
        for (let k = 0; k < kc; k++) store<f32>(d + ((<usize>k * MR) << 2), load<f32>(src + (<usize>k << 2)));
      }
      for (; r < MR; r++) {
        const d = dst + (<usize>r << 2);
        for (let k = 0; k < kc; k++) store<f32>(d + ((<usize>k * MR) << 2), 0);
      }
    }
  }
}

// @ts-ignore: decorator
@inline function out4(c: usize, v: v128, add: bool): void {
  v128.store(c, add ? f32x4.add(v128.load(c), v) : v);
}

// C tile (4,8) (+)= Ap panel (kc,4)ᵀ · Bp panel (kc,8). ldc in bytes.
// The k loop is unrolled by 2 with a never-taken exit between the halves: V8 issues a block's
// loads before its (pure, late-scheduled) arithmetic, so without a block boundary both halves'
// 12 loads would be live at once with the 8 accumulators and spill. Measured: 30 -> 36 GFLOP/s
// (SIMD), 40 -> 45 (relaxed).
function kernel4x8(kc: i32, a: usize, b: usize, c: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let b0: v128, b1: v128, av: v128;
  let k = 0;
  for (; k + 2 <= kc; k += 2) {
    b0 = v128.load(b); b1 = v128.load(b, 16);
    av = v128.load32_splat(a); c00 = madd(av, b0, c00); c01 = madd(av, b1, c01);
    av = v128.load32_splat(a, 4); c10 = madd(av, b0, c10); c11 = madd(av, b1, c11);
    av = v128.load32_splat(a, 8); c20 = madd(av, b0, c20); c21 = madd(av, b1, c21);
    av = v128.load32_splat(a, 12); c30 = madd(av, b0, c30); c31 = madd(av, b1, c31);
    if (kc < 0) break; // never taken: splits the two halves into separate blocks (see above)
    b0 = v128.load(b, 32); b1 = v128.load(b, 48);
    av = v128.load32_splat(a, 16); c00 = madd(av, b0, c00); c01 = madd(av, b1, c01);
    av = v128.load32_splat(a, 20); c10 = madd(av, b0, c10); c11 = madd(av, b1, c11);
    av = v128.load32_splat(a, 24); c20 = madd(av, b0, c20); c21 = madd(av, b1, c21);
    av = v128.load32_splat(a, 28); c30 = madd(av, b0, c30); c31 = madd(av, b1, c31);
    a += 32; b += 64;
  }
  for (; k < kc; k++) { // (a loop, not an if: the if form measured ~15% slower in the SIMD build)
    b0 = v128.load(b); b1 = v128.load(b, 16);
    av = v128.load32_splat(a); c00 = madd(av, b0, c00); c01 = madd(av, b1, c01);
    av = v128.load32_splat(a, 4); c10 = madd(av, b0, c10); c11 = madd(av, b1, c11);
    av = v128.load32_splat(a, 8); c20 = madd(av, b0, c20); c21 = madd(av, b1, c21);
    av = v128.load32_splat(a, 12); c30 = madd(av, b0, c30); c31 = madd(av, b1, c31);
    a += 16; b += 32;
  }
  out4(c, c00, add); out4(c + 16, c01, add); c += ldc;
  out4(c, c10, add); out4(c + 16, c11, add); c += ldc;
  out4(c, c20, add); out4(c + 16, c21, add); c += ldc;
  out4(c, c30, add); out4(c + 16, c31, add);
}

// Scalar build: C tile (4,8) (+)= Ap panel (kc,4)ᵀ · Bp panel (kc,8), as two 4×4 register blocks.
function kernelScalar(kc: i32, a0: usize, b0: usize, c: usize, ldc: usize, add: bool): void {
  for (let h = 0; h < 2; h++) {
    let a = a0, b = b0 + (<usize>h << 4);
    let s00: f32 = 0, s01: f32 = 0, s02: f32 = 0, s03: f32 = 0, s10: f32 = 0, s11: f32 = 0, s12: f32 = 0, s13: f32 = 0;
    let s20: f32 = 0, s21: f32 = 0, s22: f32 = 0, s23: f32 = 0, s30: f32 = 0, s31: f32 = 0, s32: f32 = 0, s33: f32 = 0;
    for (let k = 0; k < kc; k++) {
      const x0 = load<f32>(b), x1 = load<f32>(b, 4), x2 = load<f32>(b, 8), x3 = load<f32>(b, 12);
      let y = load<f32>(a);
      s00 += y * x0; s01 += y * x1; s02 += y * x2; s03 += y * x3;
      y = load<f32>(a, 4);
      s10 += y * x0; s11 += y * x1; s12 += y * x2; s13 += y * x3;
      y = load<f32>(a, 8);
      s20 += y * x0; s21 += y * x1; s22 += y * x2; s23 += y * x3;
      y = load<f32>(a, 12);
      s30 += y * x0; s31 += y * x1; s32 += y * x2; s33 += y * x3;
      a += 16; b += 32;
    }
    let cc = c + (<usize>h << 4);
    if (add) { s00 += load<f32>(cc); s01 += load<f32>(cc, 4); s02 += load<f32>(cc, 8); s03 += load<f32>(cc, 12); }
    store<f32>(cc, s00); store<f32>(cc, s01, 4); store<f32>(cc, s02, 8); store<f32>(cc, s03, 12); cc += ldc;
    if (add) { s10 += load<f32>(cc); s11 += load<f32>(cc, 4); s12 += load<f32>(cc, 8); s13 += load<f32>(cc, 12); }
    store<f32>(cc, s10); store<f32>(cc, s11, 4); store<f32>(cc, s12, 8); store<f32>(cc, s13, 12); cc += ldc;
    if (add) { s20 += load<f32>(cc); s21 += load<f32>(cc, 4); s22 += load<f32>(cc, 8); s23 += load<f32>(cc, 12); }
    store<f32>(cc, s20); store<f32>(cc, s21, 4); store<f32>(cc, s22, 8); store<f32>(cc, s23, 12); cc += ldc;
    if (add) { s30 += load<f32>(cc); s31 += load<f32>(cc, 4); s32 += load<f32>(cc, 8); s33 += load<f32>(cc, 12); }
    store<f32>(cc, s30); store<f32>(cc, s31, 4); store<f32>(cc, s32, 8); store<f32>(cc, s33, 12);
  }
}

// @ts-ignore: decorator
@inline function kernel(kc: i32, a: usize, b: usize, c: usize, ldc: usize, add: bool): void {
  if (!SIMD) kernelScalar(kc, a, b, c, ldc, add);
  else kernel4x8(kc, a, b, c, ldc, add);
}

/**
 * C (M,N) = op(A) (M,K) · op(B) (K,N) (+ C when accumulate). A is (M,K) or (K,M) when transA;
 * B is (K,N) or (N,K) when transB. work: matmul_workspace(M,N,K) bytes, 16-byte aligned.
 */
export function matmul(C: usize, A: usize, B: usize, M: i32, N: i32, K: i32, transA: bool, transB: bool, accumulate: bool, work: usize): void {
  matmul_cols(C, A, B, M, N, K, transA, transB, accumulate, work, 0, N);
}

/**
 * Columns j0 ≤ j < j1 of matmul's C (the rest untouched): what one thread of a column-split
 * matmul computes. Each C element sums the same products in the same order as matmul, so any
 * split gives bitwise the same C. work: matmul_workspace(M, j1 - j0, K) bytes.
 */
export function matmul_cols(C: usize, A: usize, B: usize, M: i32, N: i32, K: i32, transA: bool, transB: bool, accumulate: bool, work: usize, j0: i32, j1: i32): void {
  gemm(C, N, A, transA ? M : K, B, transB ? K : N, M, K, transA, transB, accumulate, work, j0, j1);
}

/**
 * matmul_cols on strided matrices (what the convolutions run): C rows ldc floats apart, A rows
 * (of its stored form) lda apart, B rows ldb apart. Columns j0 ≤ j < j1 of C (M rows) get
 * op(A)·op(B) (+ C when accumulate), each element summed in the same order as matmul's.
 * work: matmul_workspace(M, j1 - j0, K) bytes.
 */
export function gemm(C: usize, ldc: i32, A: usize, lda: i32, B: usize, ldb: i32, M: i32, K: i32, transA: bool, transB: bool, accumulate: bool, work: usize, j0: i32, j1: i32): void {
  if (M <= 0 || j1 <= j0) return;
  const ldcb = <usize>ldc << 2;
  if (K <= 0) {
    if (!accumulate) for (let i = 0; i < M; i++) memory.fill(C + <usize>i * ldcb + (<usize>j0 << 2), 0, <usize>(j1 - j0) << 2);
    return;
  }
  const kcMax = min(K, KC), mcMax = roundUp(min(M, MC), MR);
  const Ap = (work + 15) & ~<usize>15;
  const Bp = Ap + ((<usize>mcMax * <usize>kcMax) << 2);
  const ncMax = roundUp(min(j1 - j0, NC), NR);
  const tile = Bp + ((<usize>kcMax * <usize>ncMax) << 2);
  for (let jb = j0; jb < j1; jb += NC) {
    const nc = min(NC, j1 - jb);
    for (let p0 = 0; p0 < K; p0 += KC) {
      const kc = min(KC, K - p0);
      const add = accumulate || p0 > 0;
      packB(Bp, B, ldb, p0, kc, jb, nc, transB);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = min(MC, M - i0);
        packA(Ap, A, lda, i0, mc, p0, kc, transA);
        for (let jr = 0; jr < nc; jr += NR) {
          const cols = min(NR, nc - jr);
          const bp = Bp + ((<usize>jr * <usize>kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const ap = Ap + ((<usize>ir * <usize>kc) << 2);
            const c = C + (((<usize>(i0 + ir) * <usize>ldc) + <usize>(jb + jr)) << 2);
            if (rows == MR && cols == NR) {
              kernel(kc, ap, bp, c, ldcb, add);
            } else {
              kernel(kc, ap, bp, tile, <usize>NR << 2, false);
              for (let r = 0; r < rows; r++) {
                const cr = c + <usize>r * ldcb, tr = tile + ((<usize>r * NR) << 2);
                for (let q = 0; q < cols; q++) {
                  const o = <usize>q << 2;
                  const v = load<f32>(tr + o);
                  store<f32>(cr + o, add ? load<f32>(cr + o) + v : v);
                }
              }
            }
          }
        }
      }
    }
  }
}
