// native/conv.cc: 2-D convolution (NCHW), optimized. Dense and grouped convolutions are im2col +
// the packed sgemm of matmul.cc (forward W·col, backward data Wᵀ·dy then col2im, backward weight
// dy·colᵀ summed over the batch); a 1×1 stride-1 unpadded convolution uses x itself as col.
// Depthwise-like convolutions (one input channel per group) run direct loops over the taps.
// Small planes are batched (several images per gemm). Scratch is per thread (thread_local, grown
// once). Assumes the checks of conv.h (bindings.cc makes them).
#include "conv.h"

#include <cstring>
#include <vector>

#include "matmul.h"
#include "pool.h"
#include "simd.h"

namespace {

struct Conv {
  int64_t N, C, H, W, OC, k, s, pad, G, OH, OW, Cg, OCg, K, P;
};

Conv shape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
  Conv c{};
  c.N = N, c.C = C, c.H = H, c.W = W, c.OC = OC, c.k = k, c.s = stride, c.pad = pad, c.G = groups;
  c.OH = (H + 2 * pad - k) / stride + 1;
  c.OW = (W + 2 * pad - k) / stride + 1;
  c.Cg = C / groups;
  c.OCg = OC / groups;
  c.K = c.Cg * k * k;
  c.P = c.OH * c.OW;
  return c;
}

// The output columns j in [lo, hi) whose input column j·s − pad + b lies in [0, n).
KD_INLINE void valid_range(int64_t n, int64_t out, int64_t s, int64_t pad, int64_t b, int64_t* lo, int64_t* hi) {
  const int64_t off = pad - b;  // input column = j·s − off
  int64_t l = off <= 0 ? 0 : (off + s - 1) / s;
  int64_t h = n - 1 + off < 0 ? 0 : (n - 1 + off) / s + 1;
  if (l > out) l = out;
  if (h > out) h = out;
  if (h < l) h = l;
  *lo = l;
  *hi = h;
}

bool is_pointwise(const Conv& s) { return s.k == 1 && s.s == 1 && s.pad == 0; }
// One input channel per group (depthwise, any multiplier): direct loops instead of a 1-row gemm.
bool is_depthwise(const Conv& s) { return s.Cg == 1 && s.G > 1; }

// Images per gemm: planes below 256 outputs are batched up to ~256 columns.
int64_t block_images(const Conv& s, int64_t count) {
  if (s.P >= 256) return 1;
  const int64_t nb = (256 + s.P - 1) / s.P;
  return nb < count ? nb : count;
}

float* scratch(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(n);
  return v.data();
}
std::vector<float>& col_buf() {
  static thread_local std::vector<float> v;
  return v;
}
std::vector<float>& tmp_buf() {
  static thread_local std::vector<float> v;
  return v;
}

// col (K, nb·P): row (c·k + a)·k + b, column img·P + i·OW + j = x[n0 + img, g·Cg + c, i·s − pad + a, j·s − pad + b] (0 outside).
KD_CLONES void im2col(float* __restrict col, const float* __restrict x, const Conv& s, int64_t n0, int64_t nb, int64_t g) {
  const int64_t ld = nb * s.P;
  for (int64_t c = 0; c < s.Cg; c++)
    for (int64_t a = 0; a < s.k; a++)
      for (int64_t b = 0; b < s.k; b++) {
        float* dst = col + ((c * s.k + a) * s.k + b) * ld;
        int64_t lo, hi;
        valid_range(s.W, s.OW, s.s, s.pad, b, &lo, &hi);
        for (int64_t img = 0; img < nb; img++) {
          const float* xp = x + ((n0 + img) * s.C + g * s.Cg + c) * s.H * s.W;
          float* d = dst + img * s.P;
          for (int64_t i = 0; i < s.OH; i++) {
            const int64_t h = i * s.s - s.pad + a;
            float* dr = d + i * s.OW;
            if (h < 0 || h >= s.H) {
              for (int64_t j = 0; j < s.OW; j++) dr[j] = 0.0f;
              continue;
            }
            const float* xr = xp + h * s.W + (lo < hi ? lo * s.s - s.pad + b : 0);  // xr[(j − lo)·s] is column j's input, j in [lo, hi)
            for (int64_t j = 0; j < lo; j++) dr[j] = 0.0f;
            if (s.s == 1)
              for (int64_t j = lo; j < hi; j++) dr[j] = xr[j - lo];
            else
              for (int64_t j = lo; j < hi; j++) dr[j] = xr[(j - lo) * s.s];
            for (int64_t j = hi; j < s.OW; j++) dr[j] = 0.0f;
          }
        }
      }
}

// dx[n0 + img, g·Cg + c, ...] += the col entries that im2col copied from there.
KD_CLONES void col2im(float* __restrict dx, const float* __restrict col, const Conv& s, int64_t n0, int64_t nb, int64_t g) {
  const int64_t ld = nb * s.P;
  for (int64_t c = 0; c < s.Cg; c++)
    for (int64_t a = 0; a < s.k; a++)
      for (int64_t b = 0; b < s.k; b++) {
        const float* src = col + ((c * s.k + a) * s.k + b) * ld;
        int64_t lo, hi;
        valid_range(s.W, s.OW, s.s, s.pad, b, &lo, &hi);
        for (int64_t img = 0; img < nb; img++) {
          float* xp = dx + ((n0 + img) * s.C + g * s.Cg + c) * s.H * s.W;
          const float* d = src + img * s.P;
          for (int64_t i = 0; i < s.OH; i++) {
            const int64_t h = i * s.s - s.pad + a;
            if (h < 0 || h >= s.H) continue;
            const float* dr = d + i * s.OW;
            float* xr = xp + h * s.W + (lo < hi ? lo * s.s - s.pad + b : 0);
            if (s.s == 1)
              for (int64_t j = lo; j < hi; j++) xr[j - lo] += dr[j];
            else
              for (int64_t j = lo; j < hi; j++) xr[(j - lo) * s.s] += dr[j];
          }
        }
      }
}

// ---- depthwise (Cg = 1): direct loops over the k×k taps ------------------------------------------

KD_CLONES void dw_forward(float* __restrict y, const float* __restrict x, const float* __restrict w, const float* __restrict bias,
                          const Conv& s, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n++)
    for (int64_t o = 0; o < s.OC; o++) {
      const int64_t c = o / s.OCg;
      const float* xp = x + (n * s.C + c) * s.H * s.W;
      float* yp = y + (n * s.OC + o) * s.P;
      const float bo = bias[o];
      for (int64_t q = 0; q < s.P; q++) yp[q] = bo;
      for (int64_t a = 0; a < s.k; a++)
        for (int64_t b = 0; b < s.k; b++) {
          const float wv = w[(o * s.k + a) * s.k + b];
          int64_t lo, hi;
          valid_range(s.W, s.OW, s.s, s.pad, b, &lo, &hi);
          for (int64_t i = 0; i < s.OH; i++) {
            const int64_t h = i * s.s - s.pad + a;
            if (h < 0 || h >= s.H) continue;
            const float* xr = xp + h * s.W + (lo < hi ? lo * s.s - s.pad + b : 0);
            float* yr = yp + i * s.OW;
            if (s.s == 1)
              for (int64_t j = lo; j < hi; j++) yr[j] += wv * xr[j - lo];
            else
              for (int64_t j = lo; j < hi; j++) yr[j] += wv * xr[(j - lo) * s.s];
          }
        }
    }
}

KD_CLONES void dw_backward_data(float* __restrict dx, const float* __restrict dy, const float* __restrict w, const Conv& s,
                                int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n++)
    for (int64_t c = 0; c < s.C; c++) {
      float* xp = dx + (n * s.C + c) * s.H * s.W;
      for (int64_t q = 0; q < s.H * s.W; q++) xp[q] = 0.0f;
      for (int64_t o = c * s.OCg; o < (c + 1) * s.OCg; o++) {
        const float* yp = dy + (n * s.OC + o) * s.P;
        for (int64_t a = 0; a < s.k; a++)
          for (int64_t b = 0; b < s.k; b++) {
            const float wv = w[(o * s.k + a) * s.k + b];
            int64_t lo, hi;
            valid_range(s.W, s.OW, s.s, s.pad, b, &lo, &hi);
            for (int64_t i = 0; i < s.OH; i++) {
              const int64_t h = i * s.s - s.pad + a;
              if (h < 0 || h >= s.H) continue;
              float* xr = xp + h * s.W + (lo < hi ? lo * s.s - s.pad + b : 0);
              const float* yr = yp + i * s.OW;
              if (s.s == 1)
                for (int64_t j = lo; j < hi; j++) xr[j - lo] += wv * yr[j];
              else
                for (int64_t j = lo; j < hi; j++) xr[(j - lo) * s.s] += wv * yr[j];
            }
          }
      }
    }
}

// dw (OC, k, k) and dbias (OC) over images [n0, n1), overwritten.
KD_CLONES void dw_backward_weight(float* __restrict dw, float* __restrict dbias, const float* __restrict dy,
                                  const float* __restrict x, const Conv& s, int64_t n0, int64_t n1) {
  for (int64_t o = 0; o < s.OC; o++) {
    const int64_t c = o / s.OCg;
    double db = 0.0;
    for (int64_t n = n0; n < n1; n++) {
      const float* yp = dy + (n * s.OC + o) * s.P;
      float t = 0.0f;
      for (int64_t q = 0; q < s.P; q++) t += yp[q];
      db += t;
    }
    dbias[o] = static_cast<float>(db);
    for (int64_t a = 0; a < s.k; a++)
      for (int64_t b = 0; b < s.k; b++) {
        int64_t lo, hi;
        valid_range(s.W, s.OW, s.s, s.pad, b, &lo, &hi);
        double acc = 0.0;
        for (int64_t n = n0; n < n1; n++) {
          const float* xp = x + (n * s.C + c) * s.H * s.W;
          const float* yp = dy + (n * s.OC + o) * s.P;
          float t = 0.0f;
          for (int64_t i = 0; i < s.OH; i++) {
            const int64_t h = i * s.s - s.pad + a;
            if (h < 0 || h >= s.H) continue;
            const float* xr = xp + h * s.W + (lo < hi ? lo * s.s - s.pad + b : 0);
            const float* yr = yp + i * s.OW;
            if (s.s == 1)
              for (int64_t j = lo; j < hi; j++) t += yr[j] * xr[j - lo];
            else
              for (int64_t j = lo; j < hi; j++) t += yr[j] * xr[(j - lo) * s.s];
          }
          acc += t;
        }
        dw[(o * s.k + a) * s.k + b] = static_cast<float>(acc);
      }
  }
}

// out (M, R) (+)= A (M, L; rows lda apart) · Bᵀ (B is (R, L); rows ldb apart): the backward-weight
// product when R = Cg·k·k is too small for the sgemm's tiles (a first layer: C = 1, 3×3 → R = 9).
// Four dot products at a time along L, 8 lanes each.
KD_CLONES void small_nt(float* __restrict out, const float* __restrict A, int64_t lda, const float* __restrict B, int64_t ldb,
                        int64_t M, int64_t R, int64_t L, bool accumulate) {
  for (int64_t o = 0; o < M; o++) {
    const float* a = A + o * lda;
    float* d = out + o * R;
    for (int64_t r = 0; r < R; r += 4) {
      const int64_t nr = R - r < 4 ? R - r : 4;
      const float* b[4];
      for (int64_t u = 0; u < 4; u++) b[u] = B + (r + (u < nr ? u : 0)) * ldb;
      v8f s0 = {}, s1 = {}, s2 = {}, s3 = {};
      int64_t q = 0;
      for (; q + 8 <= L; q += 8) {
        const v8f av = kd_load(a + q);
        s0 += av * kd_load(b[0] + q);
        s1 += av * kd_load(b[1] + q);
        s2 += av * kd_load(b[2] + q);
        s3 += av * kd_load(b[3] + q);
      }
      float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (int l = 0; l < 8; l++) {
        t[0] += s0[l];
        t[1] += s1[l];
        t[2] += s2[l];
        t[3] += s3[l];
      }
      for (; q < L; q++)
        for (int64_t u = 0; u < 4; u++) t[u] += a[q] * b[u][q];
      for (int64_t u = 0; u < nr; u++) d[r + u] = accumulate ? d[r + u] + t[u] : t[u];
    }
  }
}

// dbias[o] (+)= Σ over images [n0, n1) and the plane of dy[n, o]: 16 lanes per plane, f64 across planes.
KD_CLONES void bias_sums(float* __restrict dbias, const float* __restrict dy, const Conv& s, int64_t n0, int64_t n1, bool accumulate) {
  for (int64_t o = 0; o < s.OC; o++) {
    double db = accumulate ? dbias[o] : 0.0;
    for (int64_t n = n0; n < n1; n++) {
      const float* yp = dy + (n * s.OC + o) * s.P;
      v8f a0 = {}, a1 = {};
      int64_t q = 0;
      for (; q + 16 <= s.P; q += 16) {
        a0 += kd_load(yp + q);
        a1 += kd_load(yp + q + 8);
      }
      a0 += a1;
      float t = 0.0f;
      for (int l = 0; l < 8; l++) t += a0[l];
      for (; q < s.P; q++) t += yp[q];
      db += t;
    }
    dbias[o] = static_cast<float>(db);
  }
}

// ---- dense and grouped: im2col + sgemm --------------------------------------------------------------

KD_CLONES void add_bias(float* __restrict y, const float* __restrict bias, const Conv& s, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n++)
    for (int64_t o = 0; o < s.OC; o++) {
      float* yr = y + (n * s.OC + o) * s.P;
      const float bo = bias[o];
      for (int64_t q = 0; q < s.P; q++) yr[q] += bo;
    }
}

// y for images [n0, n1).
void forward_range(float* y, const float* x, const float* w, const float* bias, const Conv& s, int64_t n0, int64_t n1) {
  if (n1 <= n0) return;
  if (is_depthwise(s)) {
    dw_forward(y, x, w, bias, s, n0, n1);
    return;
  }
  if (is_pointwise(s)) {
    for (int64_t n = n0; n < n1; n++)
      for (int64_t g = 0; g < s.G; g++)
        kd::sgemm(y + (n * s.OC + g * s.OCg) * s.P, w + g * s.OCg * s.K, x + (n * s.C + g * s.Cg) * s.P, s.OCg, s.P, s.K,
                  s.K, 1, s.P, 1, false, s.P);
  } else {
    const int64_t nbMax = block_images(s, n1 - n0);
    float* col = scratch(col_buf(), s.K * nbMax * s.P);
    float* out = nbMax > 1 ? scratch(tmp_buf(), s.OCg * nbMax * s.P) : nullptr;
    for (int64_t nb0 = n0; nb0 < n1; nb0 += nbMax) {
      const int64_t nb = n1 - nb0 < nbMax ? n1 - nb0 : nbMax, ld = nb * s.P;
      for (int64_t g = 0; g < s.G; g++) {
        im2col(col, x, s, nb0, nb, g);
        const float* wg = w + g * s.OCg * s.K;
        if (nb == 1) {
          kd::sgemm(y + (nb0 * s.OC + g * s.OCg) * s.P, wg, col, s.OCg, s.P, s.K, s.K, 1, s.P, 1, false, s.P);
          continue;
        }
        kd::sgemm(out, wg, col, s.OCg, ld, s.K, s.K, 1, ld, 1, false, ld);
        for (int64_t img = 0; img < nb; img++)
          for (int64_t o = 0; o < s.OCg; o++)
            std::memcpy(y + ((nb0 + img) * s.OC + g * s.OCg + o) * s.P, out + o * ld + img * s.P, sizeof(float) * s.P);
      }
    }
  }
  add_bias(y, bias, s, n0, n1);
}

// dx for images [n0, n1).
void backward_data_range(float* dx, const float* dy, const float* w, const Conv& s, int64_t n0, int64_t n1) {
  if (n1 <= n0) return;
  if (is_depthwise(s)) {
    dw_backward_data(dx, dy, w, s, n0, n1);
    return;
  }
  if (is_pointwise(s)) {
    // dx_g (Cg, P) = W_gᵀ (Cg, OCg) · dy_g (OCg, P).
    for (int64_t n = n0; n < n1; n++)
      for (int64_t g = 0; g < s.G; g++)
        kd::sgemm(dx + (n * s.C + g * s.Cg) * s.P, w + g * s.OCg * s.K, dy + (n * s.OC + g * s.OCg) * s.P, s.Cg, s.P,
                  s.OCg, 1, s.K, s.P, 1, false, s.P);
    return;
  }
  std::memset(dx + n0 * s.C * s.H * s.W, 0, sizeof(float) * (n1 - n0) * s.C * s.H * s.W);
  const int64_t nbMax = block_images(s, n1 - n0);
  float* col = scratch(col_buf(), s.K * nbMax * s.P);
  float* dyb = nbMax > 1 ? scratch(tmp_buf(), s.OCg * nbMax * s.P) : nullptr;
  for (int64_t nb0 = n0; nb0 < n1; nb0 += nbMax) {
    const int64_t nb = n1 - nb0 < nbMax ? n1 - nb0 : nbMax, ld = nb * s.P;
    for (int64_t g = 0; g < s.G; g++) {
      const float* d = dy + (nb0 * s.OC + g * s.OCg) * s.P;
      if (nb > 1) {
        for (int64_t img = 0; img < nb; img++)
          for (int64_t o = 0; o < s.OCg; o++)
            std::memcpy(dyb + o * ld + img * s.P, dy + ((nb0 + img) * s.OC + g * s.OCg + o) * s.P, sizeof(float) * s.P);
        d = dyb;
      }
      // dcol (K, nb·P) = W_gᵀ (K, OCg) · dy_g (OCg, nb·P).
      kd::sgemm(col, w + g * s.OCg * s.K, d, s.K, ld, s.OCg, 1, s.K, ld, 1, false, ld);
      col2im(dx, col, s, nb0, nb, g);
    }
  }
}

// dw, dbias over images [n0, n1): added to them when accumulate, else overwritten.
void backward_weight_range(float* dw, float* dbias, const float* dy, const float* x, const Conv& s, int64_t n0, int64_t n1,
                           bool accumulate) {
  if (is_depthwise(s)) {
    if (!accumulate) {
      dw_backward_weight(dw, dbias, dy, x, s, n0, n1);
      return;
    }
    std::vector<float>& t = tmp_buf();
    float* part = scratch(t, s.OC * s.K + s.OC);
    dw_backward_weight(part, part + s.OC * s.K, dy, x, s, n0, n1);
    for (int64_t i = 0; i < s.OC * s.K; i++) dw[i] += part[i];
    for (int64_t o = 0; o < s.OC; o++) dbias[o] += part[s.OC * s.K + o];
    return;
  }
  bias_sums(dbias, dy, s, n0, n1, accumulate);
  if (n1 <= n0) {
    if (!accumulate) std::memset(dw, 0, sizeof(float) * s.OC * s.K);
    return;
  }
  const int64_t nbMax = is_pointwise(s) ? 1 : block_images(s, n1 - n0);
  float* col = is_pointwise(s) ? nullptr : scratch(col_buf(), s.K * nbMax * s.P);
  float* dyb = nbMax > 1 ? scratch(tmp_buf(), s.OCg * nbMax * s.P) : nullptr;
  bool acc = accumulate;
  for (int64_t nb0 = n0; nb0 < n1; nb0 += nbMax) {
    const int64_t nb = n1 - nb0 < nbMax ? n1 - nb0 : nbMax, ld = nb * s.P;
    for (int64_t g = 0; g < s.G; g++) {
      const float* d = dy + (nb0 * s.OC + g * s.OCg) * s.P;
      if (nb > 1) {
        for (int64_t img = 0; img < nb; img++)
          for (int64_t o = 0; o < s.OCg; o++)
            std::memcpy(dyb + o * ld + img * s.P, dy + ((nb0 + img) * s.OC + g * s.OCg + o) * s.P, sizeof(float) * s.P);
        d = dyb;
      }
      const float* cb = col;
      if (is_pointwise(s)) cb = x + (nb0 * s.C + g * s.Cg) * s.P;
      else im2col(col, x, s, nb0, nb, g);
      // dW_g (OCg, K) (+)= dy_g (OCg, nb·P) · colᵀ (nb·P, K).
      if (s.K < 16) small_nt(dw + g * s.OCg * s.K, d, ld, cb, ld, s.OCg, s.K, ld, acc);
      else kd::sgemm(dw + g * s.OCg * s.K, d, cb, s.OCg, s.K, ld, ld, 1, 1, ld, acc, s.K);
    }
    acc = true;
  }
}

// Parts for a split over images: at most `threads`, N, and one per ~4 MFLOP of work.
int64_t image_parts(const Conv& s, int64_t threads) {
  const double flops = 2.0 * static_cast<double>(s.N) * static_cast<double>(s.OC) * static_cast<double>(s.P) *
                       static_cast<double>(s.K);
  int64_t parts = threads < 1 ? 1 : threads > 64 ? 64 : threads;
  if (parts > s.N) parts = s.N;
  while (parts > 1 && flops / static_cast<double>(parts) < 4e6) parts--;
  return parts < 1 ? 1 : parts;
}

}  // namespace

extern "C" {

void kd_conv2d(float* y, const float* x, const float* w, const float* bias, int64_t N, int64_t C, int64_t H, int64_t W,
               int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
  const Conv s = shape(N, C, H, W, OC, k, stride, pad, groups);
  forward_range(y, x, w, bias, s, 0, N);
}

void kd_conv2d_backward_data(float* dx, const float* dy, const float* w, int64_t N, int64_t C, int64_t H, int64_t W,
                             int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
  const Conv s = shape(N, C, H, W, OC, k, stride, pad, groups);
  backward_data_range(dx, dy, w, s, 0, N);
}

void kd_conv2d_backward_weight(float* dw, float* dbias, const float* dy, const float* x, int64_t N, int64_t C, int64_t H,
                               int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups,
                               bool accumulate) {
  const Conv s = shape(N, C, H, W, OC, k, stride, pad, groups);
  backward_weight_range(dw, dbias, dy, x, s, 0, N, accumulate);
}

void kd_conv2d_mt(float* y, const float* x, const float* w, const float* bias, int64_t N, int64_t C, int64_t H, int64_t W,
                  int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int64_t threads) {
  const Conv s = shape(N, C, H, W, OC, k, stride, pad, groups);
  const int64_t parts = image_parts(s, threads);
  if (parts <= 1) return forward_range(y, x, w, bias, s, 0, N);
  kd::parallel_parts(static_cast<int>(parts), [&](int p) { forward_range(y, x, w, bias, s, N * p / parts, N * (p + 1) / parts); });
}

void kd_conv2d_backward_data_mt(float* dx, const float* dy, const float* w, int64_t N, int64_t C, int64_t H, int64_t W,
                                int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int64_t threads) {
  const Conv s = shape(N, C, H, W, OC, k, stride, pad, groups);
  const int64_t parts = image_parts(s, threads);
  if (parts <= 1) return backward_data_range(dx, dy, w, s, 0, N);
  kd::parallel_parts(static_cast<int>(parts), [&](int p) { backward_data_range(dx, dy, w, s, N * p / parts, N * (p + 1) / parts); });
}

void kd_conv2d_backward_weight_mt(float* dw, float* dbias, const float* dy, const float* x, int64_t N, int64_t C,
                                  int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad,
                                  int64_t groups, bool accumulate, int64_t threads) {
  const Conv s = shape(N, C, H, W, OC, k, stride, pad, groups);
  const int64_t parts = image_parts(s, threads);
  if (parts <= 1) return backward_weight_range(dw, dbias, dy, x, s, 0, N, accumulate);
  // Part 0 sums into dw/dbias (with accumulate), parts 1.. into their own slices of `partial`;
  // then the slices are added in part order.
  const int64_t nw = s.OC * s.K, slice = nw + s.OC;
  std::vector<float> partial(static_cast<size_t>(slice * (parts - 1)));
  kd::parallel_parts(static_cast<int>(parts), [&](int p) {
    const int64_t n0 = N * p / parts, n1 = N * (p + 1) / parts;
    if (p == 0) backward_weight_range(dw, dbias, dy, x, s, n0, n1, accumulate);
    else backward_weight_range(partial.data() + (p - 1) * slice, partial.data() + (p - 1) * slice + nw, dy, x, s, n0, n1, false);
  });
  for (int64_t p = 1; p < parts; p++) {
    const float* part = partial.data() + (p - 1) * slice;
    for (int64_t i = 0; i < nw; i++) dw[i] += part[i];
    for (int64_t o = 0; o < s.OC; o++) dbias[o] += part[nw + o];
  }
}

}  // extern "C"
