// Pooling kernels (NCHW): maxpool2d (+ backward through the argmax indices), avgpool2d (+ backward).
// The PoolParams fields are scalar arguments in this fixed order after the tensors:
//   N, C, H, W, kh, kw, stride, pad
// Window bounds are clipped once per output row/column; 2×2 stride-2 unpadded max pooling (the
// CNN's) has its own loop. Pointers are byte offsets into linear memory.

/** Output size along one axis (0 when the window does not fit). */
// @ts-ignore: decorator
@inline function outSize(n: i32, k: i32, s: i32, pad: i32): i32 {
  const span = n + 2 * pad - k;
  return span < 0 ? 0 : span / s + 1;
}

// v replaces the best so far: the first value, a larger one, or a NaN over a number (PyTorch's rule).
// @ts-ignore: decorator
@inline function wins(v: f32, best: f32, first: bool): bool {
  return first || v > best || (v != v && best == best);
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
        for (let j = 0; j < OW; j++) {
          const w = 2 * j, o = (<usize>(i * OW + j)) << 2;
          let best = load<f32>(r0 + (<usize>w << 2)), at = h * W + w;
          let v = load<f32>(r0 + (<usize>(w + 1) << 2));
          if (wins(v, best, false)) { best = v; at = h * W + w + 1; }
          v = load<f32>(r1 + (<usize>w << 2));
          if (wins(v, best, false)) { best = v; at = h * W + W + w; }
          v = load<f32>(r1 + (<usize>(w + 1) << 2));
          if (wins(v, best, false)) { best = v; at = h * W + W + w + 1; }
          store<f32>(yo + o, best);
          store<i32>(io + o, at);
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
