// native/pooling.cc: max / average pooling (NCHW), forward and backward. Optimized loops (window
// bounds clipped once per row/column, a fast path for 2×2 stride-2 max pooling), runtime-dispatched.
// Assumes the checks of pooling.h (bindings.cc makes them).
#include "pooling.h"

#include <cstring>

#include "simd.h"

namespace {

// The window rows [a0, a1) of output row i that lie inside [0, H) (kernel rows, relative to i·s − pad).
KD_INLINE void clip(int64_t i, int64_t s, int64_t pad, int64_t k, int64_t H, int64_t* a0, int64_t* a1) {
  const int64_t h0 = i * s - pad;
  *a0 = h0 < 0 ? -h0 : 0;
  *a1 = h0 + k > H ? H - h0 : k;
  if (*a1 < *a0) *a1 = *a0;
}

// The max so far is (best, at); v at index `i` replaces it when it is the first, larger, or a NaN over a number.
KD_INLINE void take(float v, int32_t i, float& best, int32_t& at) {
  if (at < 0 || v > best || (v != v && best == best)) {
    best = v;
    at = i;
  }
}

}  // namespace

extern "C" {

KD_CLONES void kd_maxpool2d(float* y, int32_t* idx, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                            int64_t kw, int64_t stride, int64_t pad) {
  const int64_t OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  const bool fast = kh == 2 && kw == 2 && stride == 2 && pad == 0;
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float* xp = x + nc * H * W;
    float* yp = y + nc * OH * OW;
    int32_t* ip = idx + nc * OH * OW;
    if (fast) {
      for (int64_t i = 0; i < OH; i++) {
        const float* r0 = xp + 2 * i * W;
        const float* r1 = r0 + W;
        for (int64_t j = 0; j < OW; j++) {
          const int32_t base = static_cast<int32_t>(2 * i * W + 2 * j);
          float best = r0[2 * j];
          int32_t at = base;
          take(r0[2 * j + 1], base + 1, best, at);
          take(r1[2 * j], base + static_cast<int32_t>(W), best, at);
          take(r1[2 * j + 1], base + static_cast<int32_t>(W) + 1, best, at);
          yp[i * OW + j] = best;
          ip[i * OW + j] = at;
        }
      }
      continue;
    }
    for (int64_t i = 0; i < OH; i++) {
      int64_t a0, a1;
      clip(i, stride, pad, kh, H, &a0, &a1);
      for (int64_t j = 0; j < OW; j++) {
        int64_t b0, b1;
        clip(j, stride, pad, kw, W, &b0, &b1);
        float best = 0.0f;
        int32_t at = -1;
        for (int64_t a = a0; a < a1; a++) {
          const int64_t h = i * stride - pad + a;
          for (int64_t b = b0; b < b1; b++) {
            const int64_t w = j * stride - pad + b;
            take(xp[h * W + w], static_cast<int32_t>(h * W + w), best, at);
          }
        }
        yp[i * OW + j] = best;
        ip[i * OW + j] = at;
      }
    }
  }
}

KD_CLONES void kd_maxpool2d_backward(float* dx, const float* dy, const int32_t* idx, int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  const int64_t OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  if (N * C * H * W > 0) std::memset(dx, 0, sizeof(float) * N * C * H * W);
  for (int64_t nc = 0; nc < N * C; nc++) {
    float* xp = dx + nc * H * W;
    const float* yp = dy + nc * OH * OW;
    const int32_t* ip = idx + nc * OH * OW;
    for (int64_t q = 0; q < OH * OW; q++) xp[ip[q]] += yp[q];
  }
}

KD_CLONES void kd_avgpool2d(float* y, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                            int64_t stride, int64_t pad) {
  const int64_t OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  const float inv = 1.0f / static_cast<float>(kh * kw);
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float* xp = x + nc * H * W;
    float* yp = y + nc * OH * OW;
    for (int64_t i = 0; i < OH; i++) {
      int64_t a0, a1;
      clip(i, stride, pad, kh, H, &a0, &a1);
      for (int64_t j = 0; j < OW; j++) {
        int64_t b0, b1;
        clip(j, stride, pad, kw, W, &b0, &b1);
        float acc = 0.0f;
        for (int64_t a = a0; a < a1; a++) {
          const int64_t row = (i * stride - pad + a) * W + (j * stride - pad);  // + b >= 0 for b >= b0
          for (int64_t b = b0; b < b1; b++) acc += xp[row + b];
        }
        yp[i * OW + j] = acc * inv;
      }
    }
  }
}

KD_CLONES void kd_avgpool2d_backward(float* dx, const float* dy, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                                     int64_t kw, int64_t stride, int64_t pad) {
  const int64_t OH = (H + 2 * pad - kh) / stride + 1, OW = (W + 2 * pad - kw) / stride + 1;
  const float inv = 1.0f / static_cast<float>(kh * kw);
  if (N * C * H * W > 0) std::memset(dx, 0, sizeof(float) * N * C * H * W);
  for (int64_t nc = 0; nc < N * C; nc++) {
    float* xp = dx + nc * H * W;
    const float* yp = dy + nc * OH * OW;
    for (int64_t i = 0; i < OH; i++) {
      int64_t a0, a1;
      clip(i, stride, pad, kh, H, &a0, &a1);
      for (int64_t j = 0; j < OW; j++) {
        int64_t b0, b1;
        clip(j, stride, pad, kw, W, &b0, &b1);
        const float v = yp[i * OW + j] * inv;
        for (int64_t a = a0; a < a1; a++) {
          const int64_t h = i * stride - pad + a;
          for (int64_t b = b0; b < b1; b++) xp[h * W + (j * stride - pad + b)] += v;
        }
      }
    }
  }
}

}  // extern "C"
