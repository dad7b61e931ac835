// Convolution kernels (optimized; NCHW, square k×k kernel, stride, zero padding, groups): conv2d,
// conv2d_backward_data, conv2d_backward_weight. Dense and grouped convolutions run as im2col +
// the packed GEMM of matmul.ts (per image and group, over blocks of output pixels so that the
// column buffer stays ≤ 1 MiB whatever the image size); depthwise ones (one input channel per
// group) run a direct kernel. Pointers are byte offsets into linear memory.
//
// The ConvParams fields are scalar arguments in this fixed order after the tensors:
//   N, C, H, W, OC, k, stride, pad, groups
// and the GEMM paths take `work`: conv2d_workspace(C, H, W, OC, k, stride, pad, groups) bytes of
// scratch (the caller's, like matmul's workspace; each thread its own).

import { SIMD } from './simd';
import { gemm, matmul_workspace } from './matmul';

/** Floats of one column block (1 MiB): im2col's buffer for Kc rows × nb output pixels. */
// @ts-ignore: decorator
@inline const COLCAP: i32 = 1 << 18;

/** Output size along one axis (0 when the kernel does not fit, as ⌊(n + 2p − k)/s⌋ + 1 ≤ 0 in the reference). */
// @ts-ignore: decorator
@inline function outSize(n: i32, k: i32, s: i32, pad: i32): i32 {
  const span = n + 2 * pad - k;
  return span < 0 ? 0 : span / s + 1;
}

/** Output pixels per column block for a reduction of Kc rows over P output pixels. */
function blockCols(Kc: i32, P: i32): i32 {
  const nb = COLCAP / max(Kc, 1);
  if (nb >= P) return P;
  return max(8, nb & ~7);
}

// @ts-ignore: decorator
@inline function align16(p: usize): usize {
  return (p + 15) & ~<usize>15;
}

/** First output index j whose tap b lands inside [0, W): j·s − pad + b ≥ 0. */
// @ts-ignore: decorator
@inline function firstIn(pad: i32, b: i32, s: i32): i32 {
  const t = pad - b;
  return t > 0 ? (t + s - 1) / s : 0;
}

/** One past the last output index j (≤ OW) whose tap b lands inside [0, W): j·s − pad + b ≤ W − 1. */
// @ts-ignore: decorator
@inline function lastIn(W: i32, pad: i32, b: i32, s: i32, OW: i32): i32 {
  const t = W - 1 + pad - b;
  return t < 0 ? 0 : min(OW, t / s + 1);
}

// @ts-ignore: decorator
@inline function zeroF(d: usize, n: i32): void {
  let t = 0;
  if (SIMD) {
    const z = f32x4.splat(0);
    for (; t + 4 <= n; t += 4) v128.store(d + (<usize>t << 2), z);
  }
  for (; t < n; t++) store<f32>(d + (<usize>t << 2), 0);
}

// @ts-ignore: decorator
@inline function copyF(d: usize, s: usize, n: i32): void {
  let t = 0;
  if (SIMD) for (; t + 4 <= n; t += 4) v128.store(d + (<usize>t << 2), v128.load(s + (<usize>t << 2)));
  for (; t < n; t++) store<f32>(d + (<usize>t << 2), load<f32>(s + (<usize>t << 2)));
}

// @ts-ignore: decorator
@inline function addF(d: usize, s: usize, n: i32): void {
  let t = 0;
  if (SIMD) for (; t + 4 <= n; t += 4) v128.store(d + (<usize>t << 2), f32x4.add(v128.load(d + (<usize>t << 2)), v128.load(s + (<usize>t << 2))));
  for (; t < n; t++) store<f32>(d + (<usize>t << 2), load<f32>(d + (<usize>t << 2)) + load<f32>(s + (<usize>t << 2)));
}

// @ts-ignore: decorator
@inline function addScalarF(d: usize, v: f32, n: i32): void {
  let t = 0;
  if (SIMD) {
    const vv = f32x4.splat(v);
    for (; t + 4 <= n; t += 4) v128.store(d + (<usize>t << 2), f32x4.add(v128.load(d + (<usize>t << 2)), vv));
  }
  for (; t < n; t++) store<f32>(d + (<usize>t << 2), load<f32>(d + (<usize>t << 2)) + v);
}

/** Σ of n floats (f32x4 partial sums), as f64. */
// @ts-ignore: decorator
@inline function sumF(s: usize, n: i32): f64 {
  let t = 0;
  let acc: f64 = 0;
  if (SIMD) {
    let v = f32x4.splat(0);
    for (; t + 4 <= n; t += 4) v = f32x4.add(v, v128.load(s + (<usize>t << 2)));
    acc = <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
  }
  for (; t < n; t++) acc += <f64>load<f32>(s + (<usize>t << 2));
  return acc;
}

/**
 * Column block of im2col: rows r0 ≤ r < r1 of the (Cg·k·k, OH·OW) column matrix of one image's
 * group x (Cg planes of H×W), output pixels j0 ≤ p < j0 + nb, into col (r1 − r0, nb).
 * Row r = (c·k + a)·k + b holds x[c, i·s − pad + a, j·s − pad + b] for pixel p = i·OW + j (0 outside).
 */
function im2col(col: usize, x: usize, H: i32, W: i32, k: i32, s: i32, pad: i32, OW: i32, j0: i32, nb: i32, r0: i32, r1: i32): void {
  const kk = k * k;
  for (let r = r0; r < r1; r++) {
    const c = r / kk, ab = r - c * kk, a = ab / k, b = ab - a * k;
    const xp = x + ((<usize>c * <usize>H * <usize>W) << 2);
    const dst = col + ((<usize>(r - r0) * <usize>nb) << 2);
    const jlo = firstIn(pad, b, s), jhi = lastIn(W, pad, b, s, OW);
    if (s == 1 && OW == W) {
      // "same" width: pixel q reads x[q + (a − pad)·W + (b − pad)] of the flat plane, so the rows
      // whose tap row is inside the image are one contiguous copy; then the few columns whose tap
      // falls left or right of the image are zeroed.
      const OH = outSize(H, k, 1, pad);
      const qlo = max(max(pad - a, 0) * OW - j0, 0), qhi = max(min(min(OH, H + pad - a) * OW - j0, nb), qlo);
      const off = j0 + (a - pad) * W + b - pad; // dst[q] = plane[q + off]
      // (clipped to the plane: what is left out lies in the zeroed columns)
      const clo = min(max(qlo, -off), qhi), chi = max(min(qhi, H * W - off), clo);
      zeroF(dst, qlo);
      copyF(dst + (<usize>clo << 2), xp + (<usize>(clo + off) << 2), chi - clo);
      zeroF(dst + (<usize>qhi << 2), nb - qhi);
      if (jlo > 0 || jhi < OW) {
        let i = (j0 + qlo) / OW;
        for (let rowq = i * OW - j0; rowq < qhi; rowq += OW) {
          for (let j = 0; j < jlo; j++) { const q = rowq + j; if (q >= qlo && q < qhi) store<f32>(dst + (<usize>q << 2), 0); }
          for (let j = jhi; j < OW; j++) { const q = rowq + j; if (q >= qlo && q < qhi) store<f32>(dst + (<usize>q << 2), 0); }
        }
      }
      continue;
    }
    let q = 0, oi = j0 / OW, oj0 = j0 - oi * OW;
    while (q < nb) {
      const len = min(OW - oj0, nb - q);
      const h = oi * s - pad + a;
      const d = dst + (<usize>q << 2);
      if (h < 0 || h >= H || jhi <= jlo) {
        zeroF(d, len);
      } else {
        const row = xp + ((<usize>h * <usize>W) << 2);
        // this segment covers j = oj0 .. oj0+len; valid j in [jlo, jhi)
        const tlo = min(max(jlo - oj0, 0), len), thi = max(min(jhi - oj0, len), tlo);
        zeroF(d, tlo);
        if (s == 1) {
          copyF(d + (<usize>tlo << 2), row + (<usize>(oj0 + tlo - pad + b) << 2), thi - tlo);
        } else {
          for (let t = tlo; t < thi; t++) store<f32>(d + (<usize>t << 2), load<f32>(row + (<usize>((oj0 + t) * s - pad + b) << 2)));
        }
        zeroF(d + (<usize>thi << 2), len - thi);
      }
      q += len;
      oi++;
      oj0 = 0;
    }
  }
}

/** The adjoint of im2col: adds col (Kc, nb), pixels j0 ≤ p < j0 + nb, into the group's planes x. */
function col2im(x: usize, col: usize, H: i32, W: i32, k: i32, s: i32, pad: i32, OW: i32, j0: i32, nb: i32, Kc: i32): void {
  const kk = k * k;
  for (let r = 0; r < Kc; r++) {
    const c = r / kk, ab = r - c * kk, a = ab / k, b = ab - a * k;
    const xp = x + ((<usize>c * <usize>H * <usize>W) << 2);
    const src = col + ((<usize>r * <usize>nb) << 2);
    const jlo = firstIn(pad, b, s), jhi = lastIn(W, pad, b, s, OW);
    if (jhi <= jlo) continue;
    let q = 0, oi = j0 / OW, oj0 = j0 - oi * OW;
    while (q < nb) {
      const len = min(OW - oj0, nb - q);
      const h = oi * s - pad + a;
      if (h >= 0 && h < H) {
        const row = xp + ((<usize>h * <usize>W) << 2);
        const d = src + (<usize>q << 2);
        const tlo = min(max(jlo - oj0, 0), len), thi = max(min(jhi - oj0, len), tlo);
        if (s == 1) {
          addF(row + (<usize>(oj0 + tlo - pad + b) << 2), d + (<usize>tlo << 2), thi - tlo);
        } else {
          for (let t = tlo; t < thi; t++) {
            const o = row + (<usize>((oj0 + t) * s - pad + b) << 2);
            store<f32>(o, load<f32>(o) + load<f32>(d + (<usize>t << 2)));
          }
        }
      }
      q += len;
      oi++;
      oj0 = 0;
    }
  }
}

/** Bytes of scratch the forward pass (GEMM path) needs: a column block, then matmul's workspace. */
function forwardWorkspace(C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32): i32 {
  const Cg = C / groups, OCg = OC / groups;
  if (Cg == 1 && groups > 1) return 16;
  const P = outSize(H, k, stride, pad) * outSize(W, k, stride, pad);
  const Kc = Cg * k * k, nb = max(blockCols(Kc, P), 1);
  return ((Kc * nb) << 2) + matmul_workspace(OCg, nb, Kc) + 64;
}

/**
 * Stride 1 with pad ≤ k − 1, 8 or more input channels per group and a kernel of ≤ 1 MiB:
 * backward data runs as the forward convolution of dy with the flipped, transposed kernel (its
 * GEMM has C/groups rows: with fewer the col2im path is faster; the flipped copy lives in the
 * scratch, which stays small).
 */
// @ts-ignore: decorator
@inline function dataAsForward(Cg: i32, OC: i32, k: i32, stride: i32, pad: i32): bool {
  return stride == 1 && pad <= k - 1 && Cg >= 8 && OC * Cg * k * k <= COLCAP;
}

/**
 * Bytes of scratch the GEMM paths of conv2d, conv2d_backward_data and conv2d_backward_weight(_rows)
 * need for these parameters (a column block or the flipped kernel, then matmul's workspace); 16
 * for depthwise ones.
 */
export function conv2d_workspace(C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32): i32 {
  const Cg = C / groups, OCg = OC / groups;
  if (Cg == 1 && groups > 1) return 16;
  const OH = outSize(H, k, stride, pad), OW = outSize(W, k, stride, pad), P = OH * OW;
  const Kc = Cg * k * k, nb = max(blockCols(Kc, P), 1);
  let ws = max(forwardWorkspace(C, H, W, OC, k, stride, pad, groups), ((Kc * nb) << 2) + max(matmul_workspace(Kc, nb, OCg), matmul_workspace(OCg, Kc, nb)) + 64);
  if (dataAsForward(Cg, OC, k, stride, pad)) ws = max(ws, ((OC * Kc) << 2) + 16 + forwardWorkspace(OC, OH, OW, C, k, 1, k - 1 - pad, groups));
  return ws;
}

// ---- depthwise (one input channel per group): direct loops ------------------------------------

// y is (N,OC,OH,OW), += when !hasBias (the caller zeroes it); x is (N,C,H,W); w is (OC,1,k,k); bias is (OC). OCg = OC / C outputs per channel.
function depthwiseForward(y: usize, x: usize, w: usize, bias: usize, hasBias: bool, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, s: i32, pad: i32, OH: i32, OW: i32): void {
  const OCg = OC / C, P = OH * OW;
  for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) {
    const c = o / OCg;
    const xp = x + ((<usize>(n * C + c) * <usize>H * <usize>W) << 2);
    const yp = y + ((<usize>(n * OC + o) * <usize>P) << 2);
    if (hasBias) {
      const bv = load<f32>(bias + (<usize>o << 2));
      for (let q = 0; q < P; q++) store<f32>(yp + (<usize>q << 2), bv);
    }
    for (let a = 0; a < k; a++) {
      const ilo = firstIn(pad, a, s), ihi = lastIn(H, pad, a, s, OH);
      for (let b = 0; b < k; b++) {
        const wv = load<f32>(w + (<usize>((o * k + a) * k + b) << 2));
        const jlo = firstIn(pad, b, s), jhi = lastIn(W, pad, b, s, OW);
        if (jhi <= jlo) continue;
        for (let i = ilo; i < ihi; i++) {
          const xr = xp + ((<usize>(i * s - pad + a) * <usize>W) << 2);
          const yr = yp + ((<usize>i * <usize>OW) << 2);
          let j = jlo;
          if (SIMD && s == 1) {
            const wv4 = f32x4.splat(wv);
            for (; j + 4 <= jhi; j += 4) {
              const yo = yr + (<usize>j << 2);
              v128.store(yo, f32x4.add(v128.load(yo), f32x4.mul(wv4, v128.load(xr + (<usize>(j - pad + b) << 2)))));
            }
          }
          for (; j < jhi; j++) {
            const yo = yr + (<usize>j << 2);
            store<f32>(yo, load<f32>(yo) + wv * load<f32>(xr + (<usize>(j * s - pad + b) << 2)));
          }
        }
      }
    }
  }
}

// dx is (N,C,H,W), already zero; dy is (N,OC,OH,OW); w is (OC,1,k,k).
function depthwiseBackwardData(dx: usize, dy: usize, w: usize, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, s: i32, pad: i32, OH: i32, OW: i32): void {
  const OCg = OC / C, P = OH * OW;
  for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) {
    const c = o / OCg;
    const xp = dx + ((<usize>(n * C + c) * <usize>H * <usize>W) << 2);
    const yp = dy + ((<usize>(n * OC + o) * <usize>P) << 2);
    for (let a = 0; a < k; a++) {
      const ilo = firstIn(pad, a, s), ihi = lastIn(H, pad, a, s, OH);
      for (let b = 0; b < k; b++) {
        const wv = load<f32>(w + (<usize>((o * k + a) * k + b) << 2));
        const jlo = firstIn(pad, b, s), jhi = lastIn(W, pad, b, s, OW);
        if (jhi <= jlo) continue;
        for (let i = ilo; i < ihi; i++) {
          const xr = xp + ((<usize>(i * s - pad + a) * <usize>W) << 2);
          const yr = yp + ((<usize>i * <usize>OW) << 2);
          let j = jlo;
          if (SIMD && s == 1) {
            const wv4 = f32x4.splat(wv);
            for (; j + 4 <= jhi; j += 4) {
              const xo = xr + (<usize>(j - pad + b) << 2);
              v128.store(xo, f32x4.add(v128.load(xo), f32x4.mul(wv4, v128.load(yr + (<usize>j << 2)))));
            }
          }
          for (; j < jhi; j++) {
            const xo = xr + (<usize>(j * s - pad + b) << 2);
            store<f32>(xo, load<f32>(xo) + wv * load<f32>(yr + (<usize>j << 2)));
          }
        }
      }
    }
  }
}

// dw is (OC,1,k,k) (+= when accumulate); dy is (N,OC,OH,OW); x is (N,C,H,W).
function depthwiseBackwardWeight(dw: usize, dy: usize, x: usize, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, s: i32, pad: i32, OH: i32, OW: i32, accumulate: bool): void {
  const OCg = OC / C, P = OH * OW;
  for (let o = 0; o < OC; o++) {
    const c = o / OCg;
    for (let a = 0; a < k; a++) {
      const ilo = firstIn(pad, a, s), ihi = lastIn(H, pad, a, s, OH);
      for (let b = 0; b < k; b++) {
        const wo = dw + (<usize>((o * k + a) * k + b) << 2);
        const jlo = firstIn(pad, b, s), jhi = lastIn(W, pad, b, s, OW);
        let acc: f64 = accumulate ? <f64>load<f32>(wo) : 0;
        if (jhi > jlo) {
          for (let n = 0; n < N; n++) {
            const xp = x + ((<usize>(n * C + c) * <usize>H * <usize>W) << 2);
            const yp = dy + ((<usize>(n * OC + o) * <usize>P) << 2);
            let part: f32 = 0;
            for (let i = ilo; i < ihi; i++) {
              const xr = xp + ((<usize>(i * s - pad + a) * <usize>W) << 2);
              const yr = yp + ((<usize>i * <usize>OW) << 2);
              let j = jlo;
              if (SIMD && s == 1) {
                let v4 = f32x4.splat(0);
                for (; j + 4 <= jhi; j += 4) v4 = f32x4.add(v4, f32x4.mul(v128.load(yr + (<usize>j << 2)), v128.load(xr + (<usize>(j - pad + b) << 2))));
                acc += <f64>f32x4.extract_lane(v4, 0) + <f64>f32x4.extract_lane(v4, 1) + <f64>f32x4.extract_lane(v4, 2) + <f64>f32x4.extract_lane(v4, 3);
              }
              for (; j < jhi; j++) part += load<f32>(yr + (<usize>j << 2)) * load<f32>(xr + (<usize>(j * s - pad + b) << 2));
            }
            acc += <f64>part;
          }
        }
        store<f32>(wo, <f32>acc);
      }
    }
  }
}

// ---- the kernels -------------------------------------------------------------------------------

/**
 * y (N,OC,OH,OW) = conv(x (N,C,H,W), w (OC,C/groups,k,k)) + bias (OC). work: conv2d_workspace bytes.
 * Each image is independent: a -mt backend splits the batch (bitwise the same as one thread).
 */
export function conv2d(y: usize, x: usize, w: usize, bias: usize, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32, work: usize): void {
  forward(y, x, w, bias, true, N, C, H, W, OC, k, stride, pad, groups, work);
}

// conv2d, with the bias (hasBias) or without it. work: forwardWorkspace bytes.
function forward(y: usize, x: usize, w: usize, bias: usize, hasBias: bool, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32, work: usize): void {
  const OH = outSize(H, k, stride, pad), OW = outSize(W, k, stride, pad), P = OH * OW;
  if (N <= 0 || P <= 0 || OC <= 0) return;
  const Cg = C / groups, OCg = OC / groups;
  if (Cg == 1 && groups > 1) {
    if (!hasBias) memory.fill(y, 0, (<usize>N * <usize>OC * <usize>P) << 2);
    depthwiseForward(y, x, w, bias, hasBias, N, C, H, W, OC, k, stride, pad, OH, OW);
    return;
  }
  const Kc = Cg * k * k, nb = blockCols(Kc, P);
  const col = align16(work), mw = align16(col + ((<usize>Kc * <usize>nb) << 2));
  const plane = <usize>H * <usize>W;
  for (let n = 0; n < N; n++) for (let g = 0; g < groups; g++) {
    const xg = x + ((<usize>(n * C + g * Cg) * plane) << 2);
    const yg = y + ((<usize>(n * OC + g * OCg) * <usize>P) << 2);
    const wg = w + ((<usize>(g * OCg) * <usize>Kc) << 2);
    for (let j0 = 0; j0 < P; j0 += nb) {
      const jn = min(nb, P - j0);
      im2col(col, xg, H, W, k, stride, pad, OW, j0, jn, 0, Kc);
      gemm(yg + (<usize>j0 << 2), P, wg, Kc, col, jn, OCg, Kc, false, false, false, mw, 0, jn);
    }
    if (hasBias) for (let o = 0; o < OCg; o++) addScalarF(yg + ((<usize>o * <usize>P) << 2), load<f32>(bias + (<usize>(g * OCg + o) << 2)), P);
  }
}

/**
 * dx (N,C,H,W), overwritten, = the gradient of conv2d w.r.t. x, from dy (N,OC,OH,OW) and w. Stride 1
 * (pad ≤ k − 1): the forward convolution of dy with the flipped, transposed kernel (im2col + GEMM,
 * no scatter); otherwise per image and group the GEMM wᵀ·dy, then col2im. work: conv2d_workspace
 * bytes. Images are independent.
 */
export function conv2d_backward_data(dx: usize, dy: usize, w: usize, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32, work: usize): void {
  if (N <= 0) return;
  const plane = <usize>H * <usize>W;
  const OH = outSize(H, k, stride, pad), OW = outSize(W, k, stride, pad), P = OH * OW;
  const Cg = C / groups, OCg = OC / groups;
  const depthwise = Cg == 1 && groups > 1;
  if (P > 0 && OC > 0 && !depthwise && dataAsForward(Cg, OC, k, stride, pad)) {
    // dx = conv(dy, w') with pad' = k − 1 − pad (output H×W), w'[g·Cg + c, o, a, b] = w[g·OCg + o, c, k−1−a, k−1−b]
    const kk = k * k, wt = align16(work);
    for (let g = 0; g < groups; g++) for (let c = 0; c < Cg; c++) for (let o = 0; o < OCg; o++) {
      const src = w + ((<usize>((g * OCg + o) * Cg + c) * <usize>kk) << 2);
      const dst = wt + ((<usize>((g * Cg + c) * OCg + o) * <usize>kk) << 2);
      for (let t = 0; t < kk; t++) store<f32>(dst + (<usize>t << 2), load<f32>(src + (<usize>(kk - 1 - t) << 2)));
    }
    forward(dx, dy, wt, 0, false, N, OC, OH, OW, C, k, 1, k - 1 - pad, groups, align16(wt + ((<usize>OC * <usize>Cg * <usize>kk) << 2)));
    return;
  }
  memory.fill(dx, 0, (<usize>N * <usize>C * plane) << 2);
  if (P <= 0 || OC <= 0) return;
  if (depthwise) {
    depthwiseBackwardData(dx, dy, w, N, C, H, W, OC, k, stride, pad, OH, OW);
    return;
  }
  const Kc = Cg * k * k, nb = blockCols(Kc, P);
  const col = align16(work), mw = align16(col + ((<usize>Kc * <usize>nb) << 2));
  for (let n = 0; n < N; n++) for (let g = 0; g < groups; g++) {
    const xg = dx + ((<usize>(n * C + g * Cg) * plane) << 2);
    const yg = dy + ((<usize>(n * OC + g * OCg) * <usize>P) << 2);
    const wg = w + ((<usize>(g * OCg) * <usize>Kc) << 2);
    for (let j0 = 0; j0 < P; j0 += nb) {
      const jn = min(nb, P - j0);
      gemm(col, jn, wg, Kc, yg + (<usize>j0 << 2), P, Kc, OCg, true, false, false, mw, 0, jn);
      col2im(xg, col, H, W, k, stride, pad, OW, j0, jn, Kc);
    }
  }
}

/**
 * Columns r0 ≤ r < r1 of every group's dw (OC/groups, Kc), Kc = C/groups·k·k (the rest
 * untouched), and, when r0 = 0, dbias: what one thread of a split conv2d_backward_weight computes.
 * Every element sums the same products in the same order whatever the split (bitwise equal).
 * work: conv2d_workspace bytes. Depthwise convolutions take the whole range (r0 = 0, r1 = k·k).
 */
export function conv2d_backward_weight_rows(dw: usize, dbias: usize, dy: usize, x: usize, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32, accumulate: bool, work: usize, r0: i32, r1: i32): void {
  const OH = outSize(H, k, stride, pad), OW = outSize(W, k, stride, pad), P = OH * OW;
  const Cg = C / groups, OCg = OC / groups, Kc = Cg * k * k;
  const Nv = max(N, 0);
  if (r0 == 0) {
    for (let o = 0; o < OC; o++) {
      const bo = dbias + (<usize>o << 2);
      let acc: f64 = accumulate ? <f64>load<f32>(bo) : 0;
      for (let n = 0; n < Nv; n++) acc += sumF(dy + ((<usize>(n * OC + o) * <usize>P) << 2), P);
      store<f32>(bo, <f32>acc);
    }
  }
  if (Cg == 1 && groups > 1) {
    if (r0 == 0) depthwiseBackwardWeight(dw, dy, x, Nv, C, H, W, OC, k, stride, pad, OH, OW, accumulate);
    return;
  }
  if (r1 <= r0) return;
  if (Nv == 0 || P <= 0) {
    if (!accumulate) for (let o = 0; o < OC; o++) zeroF(dw + ((<usize>o * <usize>Kc + <usize>r0) << 2), r1 - r0);
    return;
  }
  const nb = blockCols(Kc, P), nr = r1 - r0;
  const col = align16(work), mw = align16(col + ((<usize>Kc * <usize>nb) << 2));
  const plane = <usize>H * <usize>W;
  for (let g = 0; g < groups; g++) {
    const dwg = dw + ((<usize>(g * OCg) * <usize>Kc + <usize>r0) << 2);
    let first = true;
    for (let n = 0; n < Nv; n++) {
      const xg = x + ((<usize>(n * C + g * Cg) * plane) << 2);
      const yg = dy + ((<usize>(n * OC + g * OCg) * <usize>P) << 2);
      for (let j0 = 0; j0 < P; j0 += nb) {
        const jn = min(nb, P - j0);
        im2col(col, xg, H, W, k, stride, pad, OW, j0, jn, r0, r1);
        gemm(dwg, Kc, yg + (<usize>j0 << 2), P, col, jn, OCg, jn, false, true, accumulate || !first, mw, 0, nr);
        first = false;
      }
    }
  }
}

/**
 * dw (OC,C/groups,k,k) and dbias (OC) = the gradients of conv2d w.r.t. w and bias (+ dw, dbias
 * when accumulate): per image and group the GEMM dy·colᵀ, accumulated. work: conv2d_workspace bytes.
 */
export function conv2d_backward_weight(dw: usize, dbias: usize, dy: usize, x: usize, N: i32, C: i32, H: i32, W: i32, OC: i32, k: i32, stride: i32, pad: i32, groups: i32, accumulate: bool, work: usize): void {
  conv2d_backward_weight_rows(dw, dbias, dy, x, N, C, H, W, OC, k, stride, pad, groups, accumulate, work, 0, (C / groups) * k * k);
}
