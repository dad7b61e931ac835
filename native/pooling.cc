// native/pooling.cc: max / average pooling (NCHW), forward and backward. Optimized loops (window
// bounds clipped once per row/column, a fast path for 2×2 stride-2 max pooling), runtime-dispatched.
// Assumes the checks of pooling.h (bindings.cc makes them).
#include "pooling.h"

#include <immintrin.h>

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


#define KD_POOL_AVX2 __attribute__((target("avx2,fma"))) inline
// Even and odd columns of 16 floats at p.
KD_POOL_AVX2 void split16(const float* p, __m256& even, __m256& odd) {
  const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}
// take() on 8 lanes: v (offset o) replaces (best, off) where it is larger, or NaN over a number.
KD_POOL_AVX2 void take8(__m256 v, __m256i o, __m256& best, __m256i& off) {
  const __m256 t = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ),
                                _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
  best = _mm256_blendv_ps(best, v, t);
  off = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(off), _mm256_castsi256_ps(o), t));
}

// 2×2 stride-2 max pooling of one output row, 8 outputs per step with AVX2 (even/odd columns
// split by shuffles), the same rule as take(): the first of a, b, c, d wins ties, NaN wins over a
// number. Returns the first column j it did not do (the caller finishes the row).
__attribute__((target("avx2,fma"))) int64_t max2x2_row_avx2(float* yr, int32_t* ir, const float* r0, const float* r1, int64_t OW,
                                                            int32_t row, int32_t Wi) {
  int64_t j = 0;
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i one = _mm256_set1_epi32(1), wv = _mm256_set1_epi32(Wi), w1 = _mm256_set1_epi32(Wi + 1);
  // The last, partial group of 8 is redone overlapping the one before it (the same values are
  // written again), so no output goes through the branchy scalar loop when OW >= 8.
  for (bool last = false; !last;) {
    if (j + 8 > OW) {
      if (OW < 8 || j >= OW) break;
      j = OW - 8;
      last = true;
    }
    __m256 a, b, c, d;
    split16(r0 + 2 * j, a, b);
    split16(r1 + 2 * j, c, d);
    __m256 best = a;
    __m256i off = _mm256_setzero_si256();
    take8(b, one, best, off);
    take8(c, wv, best, off);
    take8(d, w1, best, off);
    _mm256_storeu_ps(yr + j, best);
    const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(row + static_cast<int32_t>(2 * j)), lane2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(ir + j), _mm256_add_epi32(base, off));
    j += 8;
  }
  if (OW >= 8 || OW < 4) return j;
  // 4 ≤ OW < 8 (e.g. 14×14 planes): 4 outputs per step (SSE), the last group overlapping.
  const __m128i lane2s = _mm_setr_epi32(0, 2, 4, 6), ones = _mm_set1_epi32(1), wvs = _mm_set1_epi32(Wi), w1s = _mm_set1_epi32(Wi + 1);
  for (int64_t g = 0; g < 2; g++) {
    const int64_t jj = g == 0 ? 0 : OW - 4;
    __m128 e[2], o[2];
    for (int r = 0; r < 2; r++) {
      const float* p = (r == 0 ? r0 : r1) + 2 * jj;
      const __m128 lo = _mm_loadu_ps(p), hi = _mm_loadu_ps(p + 4);
      e[r] = _mm_shuffle_ps(lo, hi, 0x88);
      o[r] = _mm_shuffle_ps(lo, hi, 0xDD);
    }
    __m128 best = e[0];
    __m128i off = _mm_setzero_si128();
    const __m128 vs[3] = {o[0], e[1], o[1]};
    const __m128i os[3] = {ones, wvs, w1s};
    for (int q = 0; q < 3; q++) {
      const __m128 v = vs[q];
      const __m128 t = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(best, best)));
      best = _mm_blendv_ps(best, v, t);
      off = _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(off), _mm_castsi128_ps(os[q]), t));
    }
    _mm_storeu_ps(yr + jj, best);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(ir + jj), _mm_add_epi32(_mm_add_epi32(_mm_set1_epi32(row + static_cast<int32_t>(2 * jj)), lane2s), off));
  }
  return OW;
}

const bool kHaveAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");

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
      // Branch-free (selects, which the compiler vectorizes over j): random data mispredicts the
      // branches of take() about half the time, which made this loop 5 ns per input value.
      const int32_t Wi = static_cast<int32_t>(W);
      for (int64_t i = 0; i < OH; i++) {
        const float* r0 = xp + 2 * i * W;
        const float* r1 = r0 + W;
        float* yr = yp + i * OW;
        int32_t* ir = ip + i * OW;
        const int32_t row = static_cast<int32_t>(2 * i * W);
        for (int64_t j = kHaveAvx2 ? max2x2_row_avx2(yr, ir, r0, r1, OW, row, Wi) : 0; j < OW; j++) {
          const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
          float best = a;
          int32_t off = 0;
          const bool tb = (b > best) | ((b != b) & (best == best));
          best = tb ? b : best;
          off = tb ? 1 : off;
          const bool tc = (c > best) | ((c != c) & (best == best));
          best = tc ? c : best;
          off = tc ? Wi : off;
          const bool td = (d > best) | ((d != d) & (best == best));
          best = td ? d : best;
          off = td ? Wi + 1 : off;
          yr[j] = best;
          ir[j] = row + static_cast<int32_t>(2 * j) + off;
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
