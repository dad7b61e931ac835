// Pooling kernels (optimized; NCHW): maxpool2d (+ backward through the argmax indices), avgpool2d (+ backward).
// The PoolParams fields are scalar arguments in this fixed order after the tensors:
//   N, C, H, W, kh, kw, stride, pad
// Window bounds are clipped once per output row/column; 2×2 stride-2 unpadded pooling (the CNN's)
// has its own loops (branch-free, f32x4 over 4 outputs in the SIMD builds: the max of random data
// mispredicts every other compare). Pointers are byte offsets into linear memory.

import { SIMD } from './simd';

/** Output size along one axis (0 when the window does not fit). */
// @ts-ignore: decorator
@inline function outSize(n: i32, k: i32, s: i32, pad: i32): i32 {
  const span = n + 2 * pad - k;
  return span < 0 ? 0 : span / s + 1;
}

// v replaces the best so far: the first value, a larger one, or a NaN over a number (PyTorch's rule).
// @ts-ignore: decorator
@inline function wins(v: f32, best: f32, first: bool): bool {
  return first | (v > best) | ((v != v) & (best == best));
}

// y, idx are (N,C,OH,OW); x is (N,C,H,W).
export function maxpool2d(y: usize, idx: usize, x: usize, N: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  const OH = outSize(H, kh, stride, pad), OW = outSize(W, kw, stride, pad);
  if (N <= 0 || OH <= 0 || OW <= 0) return;
  const planes = N * C, HW = H * W;
  if (kh == 2 && kw == 2 && stride == 2 && pad == 0) {
    for (let p = 0; p < planes; p++) {
      const xp = x + ((<usize>p * <usize>HW) << 2);
      const yo = y + ((<usize>p * <usize>OH * <usize>OW) << 2), io = idx + ((<usize>p * <usize>OH * <usize>OW) << 2);
      for (let i = 0; i < OH; i++) {
        const h = 2 * i;
        const r0 = xp + ((<usize>h * <usize>W) << 2), r1 = r0 + (<usize>W << 2);
        const yr = yo + ((<usize>i * <usize>OW) << 2), ir = io + ((<usize>i * <usize>OW) << 2);
        let j = 0;
        if (SIMD) {
          const one = i32x4.splat(1), wv = i32x4.splat(W);
          for (; j + 4 <= OW; j += 4) {
            const s0 = r0 + (<usize>(2 * j) << 2), s1 = r1 + (<usize>(2 * j) << 2);
            const a0 = v128.load(s0), a1 = v128.load(s0, 16), b0 = v128.load(s1), b1 = v128.load(s1, 16);
            let best = v128.shuffle<f32>(a0, a1, 0, 2, 4, 6);
            const base = i32x4.add(i32x4.splat(h * W + 2 * j), i32x4(0, 2, 4, 6));
            let at = base;
            // a candidate wins when larger, or NaN over a number
            let v = v128.shuffle<f32>(a0, a1, 1, 3, 5, 7);
            let m = v128.or(f32x4.gt(v, best), v128.andnot(f32x4.ne(v, v), f32x4.ne(best, best)));
            best = v128.bitselect(v, best, m); at = v128.bitselect(i32x4.add(base, one), at, m);
            v = v128.shuffle<f32>(b0, b1, 0, 2, 4, 6);
            m = v128.or(f32x4.gt(v, best), v128.andnot(f32x4.ne(v, v), f32x4.ne(best, best)));
            best = v128.bitselect(v, best, m); at = v128.bitselect(i32x4.add(base, wv), at, m);
            v = v128.shuffle<f32>(b0, b1, 1, 3, 5, 7);
            m = v128.or(f32x4.gt(v, best), v128.andnot(f32x4.ne(v, v), f32x4.ne(best, best)));
            best = v128.bitselect(v, best, m); at = v128.bitselect(i32x4.add(base, i32x4.add(wv, one)), at, m);
            v128.store(yr + (<usize>j << 2), best);
            v128.store(ir + (<usize>j << 2), at);
          }
        }
        for (; j < OW; j++) {
          const w = 2 * j, o = <usize>j << 2;
          let best = load<f32>(r0 + (<usize>w << 2)), at = h * W + w;
          let v = load<f32>(r0 + (<usize>(w + 1) << 2));
          let m = wins(v, best, false);
          best = select<f32>(v, best, m); at = select<i32>(h * W + w + 1, at, m);
          v = load<f32>(r1 + (<usize>w << 2));
          m = wins(v, best, false);
          best = select<f32>(v, best, m); at = select<i32>(h * W + W + w, at, m);
          v = load<f32>(r1 + (<usize>(w + 1) << 2));
          m = wins(v, best, false);
          best = select<f32>(v, best, m); at = select<i32>(h * W + W + w + 1, at, m);
          store<f32>(yr + o, best);
          store<i32>(ir + o, at);
        }
      }
    }
    return;
  }
  for (let p = 0; p < planes; p++) {
    const xp = x + ((<usize>p * <usize>HW) << 2);
    const yo = y + ((<usize>p * <usize>OH * <usize>OW) << 2), io = idx + ((<usize>p * <usize>OH * <usize>OW) << 2);
    for (let i = 0; i < OH; i++) {
      const h0 = i * stride - pad, alo = max(0, -h0), ahi = min(kh, H - h0);
      for (let j = 0; j < OW; j++) {
        const w0 = j * stride - pad, blo = max(0, -w0), bhi = min(kw, W - w0);
        let best: f32 = -Infinity, at = -1;
        for (let a = alo; a < ahi; a++) {
          const row = (h0 + a) * W;
          for (let b = blo; b < bhi; b++) {
            const v = load<f32>(xp + (<usize>(row + w0 + b) << 2));
            if (wins(v, best, at < 0)) { best = v; at = row + w0 + b; }
          }
        }
        const o = (<usize>(i * OW + j)) << 2;
        store<f32>(yo + o, best);
        store<i32>(io + o, at);
      }
    }
  }
}

// dx is (N,C,H,W), overwritten; dy, idx are (N,C,OH,OW).
export function maxpool2d_backward(dx: usize, dy: usize, idx: usize, N: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  if (N <= 0) return;
  const HW = H * W, planes = N * C;
  memory.fill(dx, 0, (<usize>planes * <usize>HW) << 2);
  const Q = outSize(H, kh, stride, pad) * outSize(W, kw, stride, pad);
  for (let p = 0; p < planes; p++) {
    const xp = dx + ((<usize>p * <usize>HW) << 2);
    const yo = dy + ((<usize>p * <usize>Q) << 2), io = idx + ((<usize>p * <usize>Q) << 2);
    for (let q = 0; q < Q; q++) {
      const at = load<i32>(io + (<usize>q << 2));
      if (<u32>at >= <u32>HW) continue; // not an index of this plane: nothing to route
      const d = xp + (<usize>at << 2);
      store<f32>(d, load<f32>(d) + load<f32>(yo + (<usize>q << 2)));
    }
  }
}

// y is (N,C,OH,OW); x is (N,C,H,W). Padding counts as zeros (divisor kh·kw).
export function avgpool2d(y: usize, x: usize, N: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  const OH = outSize(H, kh, stride, pad), OW = outSize(W, kw, stride, pad);
  if (N <= 0 || OH <= 0 || OW <= 0) return;
  const planes = N * C, HW = H * W;
  const inv: f64 = 1.0 / <f64>(kh * kw);
  if (kh == 2 && kw == 2 && stride == 2 && pad == 0) {
    for (let p = 0; p < planes; p++) {
      const xp = x + ((<usize>p * <usize>HW) << 2);
      const yo = y + ((<usize>p * <usize>OH * <usize>OW) << 2);
      for (let i = 0; i < OH; i++) {
        const r0 = xp + ((<usize>(2 * i) * <usize>W) << 2), r1 = r0 + (<usize>W << 2);
        const yr = yo + ((<usize>i * <usize>OW) << 2);
        let j = 0;
        if (SIMD) {
          const q = f32x4.splat(0.25);
          for (; j + 4 <= OW; j += 4) {
            const s0 = r0 + (<usize>(2 * j) << 2), s1 = r1 + (<usize>(2 * j) << 2);
            const a0 = v128.load(s0), a1 = v128.load(s0, 16), b0 = v128.load(s1), b1 = v128.load(s1, 16);
            const t = f32x4.add(f32x4.add(f32x4.add(v128.shuffle<f32>(a0, a1, 0, 2, 4, 6), v128.shuffle<f32>(a0, a1, 1, 3, 5, 7)), v128.shuffle<f32>(b0, b1, 0, 2, 4, 6)), v128.shuffle<f32>(b0, b1, 1, 3, 5, 7));
            v128.store(yr + (<usize>j << 2), f32x4.mul(t, q));
          }
        }
        for (; j < OW; j++) {
          const o = <usize>(2 * j) << 2;
          store<f32>(yr + (<usize>j << 2), (load<f32>(r0 + o) + load<f32>(r0 + o, 4) + load<f32>(r1 + o) + load<f32>(r1 + o, 4)) * 0.25);
        }
      }
    }
    return;
  }
  for (let p = 0; p < planes; p++) {
    const xp = x + ((<usize>p * <usize>HW) << 2);
    const yo = y + ((<usize>p * <usize>OH * <usize>OW) << 2);
    for (let i = 0; i < OH; i++) {
      const h0 = i * stride - pad, alo = max(0, -h0), ahi = min(kh, H - h0);
      for (let j = 0; j < OW; j++) {
        const w0 = j * stride - pad, blo = max(0, -w0), bhi = min(kw, W - w0);
        let acc: f32 = 0;
        for (let a = alo; a < ahi; a++) {
          const row = xp + ((<usize>((h0 + a) * W + w0)) << 2);
          for (let b = blo; b < bhi; b++) acc += load<f32>(row + (<usize>b << 2));
        }
        store<f32>(yo + ((<usize>(i * OW + j)) << 2), <f32>(<f64>acc * inv));
      }
    }
  }
}

// dx is (N,C,H,W), overwritten; dy is (N,C,OH,OW). Each dy/(kh·kw) is added to its window's in-image cells.
export function avgpool2d_backward(dx: usize, dy: usize, N: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  if (N <= 0) return;
  const HW = H * W, planes = N * C;
  memory.fill(dx, 0, (<usize>planes * <usize>HW) << 2);
  const OH = outSize(H, kh, stride, pad), OW = outSize(W, kw, stride, pad);
  if (OH <= 0 || OW <= 0) return;
  const inv: f32 = <f32>(1.0 / <f64>(kh * kw));
  if (kh == 2 && kw == 2 && stride == 2 && pad == 0) {
    // windows tile the image: each in-window cell gets its window's dy/4 (the rest stays 0)
    for (let p = 0; p < planes; p++) {
      const xp = dx + ((<usize>p * <usize>HW) << 2);
      const yo = dy + ((<usize>p * <usize>OH * <usize>OW) << 2);
      for (let i = 0; i < OH; i++) {
        const r0 = xp + ((<usize>(2 * i) * <usize>W) << 2), r1 = r0 + (<usize>W << 2);
        const yr = yo + ((<usize>i * <usize>OW) << 2);
        let j = 0;
        if (SIMD) {
          const q = f32x4.splat(0.25);
          for (; j + 4 <= OW; j += 4) {
            const v = f32x4.mul(v128.load(yr + (<usize>j << 2)), q);
            const lo = v128.shuffle<f32>(v, v, 0, 0, 1, 1), hi = v128.shuffle<f32>(v, v, 2, 2, 3, 3);
            const o = <usize>(2 * j) << 2;
            v128.store(r0 + o, lo); v128.store(r0 + o, hi, 16);
            v128.store(r1 + o, lo); v128.store(r1 + o, hi, 16);
          }
        }
        for (; j < OW; j++) {
          const v = load<f32>(yr + (<usize>j << 2)) * inv, o = <usize>(2 * j) << 2;
          store<f32>(r0 + o, v); store<f32>(r0 + o, v, 4); store<f32>(r1 + o, v); store<f32>(r1 + o, v, 4);
        }
      }
    }
    return;
  }
  for (let p = 0; p < planes; p++) {
    const xp = dx + ((<usize>p * <usize>HW) << 2);
    const yo = dy + ((<usize>p * <usize>OH * <usize>OW) << 2);
    for (let i = 0; i < OH; i++) {
      const h0 = i * stride - pad, alo = max(0, -h0), ahi = min(kh, H - h0);
      for (let j = 0; j < OW; j++) {
        const w0 = j * stride - pad, blo = max(0, -w0), bhi = min(kw, W - w0);
        const v = load<f32>(yo + ((<usize>(i * OW + j)) << 2)) * inv;
        for (let a = alo; a < ahi; a++) {
          const row = xp + ((<usize>((h0 + a) * W + w0)) << 2);
          for (let b = blo; b < bhi; b++) {
            const d = row + (<usize>b << 2);
            store<f32>(d, load<f32>(d) + v);
          }
        }
      }
    }
  }
}
