// native/batchnorm.cc: batch-norm kernels over (N,C,HW). Optimized loops (one channel plane at a
// time, contiguous), reductions in f64 as in the TS reference, runtime-dispatched.
#include "batchnorm.h"

#include "simd.h"

extern "C" {

KD_CLONES void kd_batchnorm_stats(float* mean, float* m2, const float* x, int64_t N, int64_t C, int64_t HW) {
  const int64_t count = N * HW;
  for (int64_t c = 0; c < C; c++) {
    double s = 0.0;
    for (int64_t n = 0; n < N; n++) {
      const float* __restrict r = x + (n * C + c) * HW;
      for (int64_t q = 0; q < HW; q++) s += r[q];
    }
    const double mu = count > 0 ? s / static_cast<double>(count) : 0.0;
    double v = 0.0;
    for (int64_t n = 0; n < N; n++) {
      const float* __restrict r = x + (n * C + c) * HW;
      for (int64_t q = 0; q < HW; q++) {
        const double d = r[q] - mu;
        v += d * d;
      }
    }
    mean[c] = static_cast<float>(mu);
    m2[c] = static_cast<float>(v);
  }
}

KD_CLONES void kd_batchnorm(float* y, const float* x, const float* mean, const float* invstd, const float* gamma, const float* beta,
                            int64_t N, int64_t C, int64_t HW) {
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      const float sc = static_cast<float>(static_cast<double>(invstd[c]) * gamma[c]), mu = mean[c], b = beta[c];
      float* yr = y + (n * C + c) * HW;  // may be x itself: element-wise, in order
      const float* xr = x + (n * C + c) * HW;
      for (int64_t q = 0; q < HW; q++) yr[q] = (xr[q] - mu) * sc + b;
    }
}

KD_CLONES void kd_batchnorm_backward_reduce(float* sumDy, float* sumDyXhat, const float* dy, const float* x, const float* mean,
                                            const float* invstd, int64_t N, int64_t C, int64_t HW) {
  for (int64_t c = 0; c < C; c++) {
    const double mu = mean[c];
    double s = 0.0, sx = 0.0;
    for (int64_t n = 0; n < N; n++) {
      const float* __restrict d = dy + (n * C + c) * HW;
      const float* __restrict xr = x + (n * C + c) * HW;
      for (int64_t q = 0; q < HW; q++) {
        s += d[q];
        sx += d[q] * (xr[q] - mu);
      }
    }
    sumDy[c] = static_cast<float>(s);
    sumDyXhat[c] = static_cast<float>(sx * invstd[c]);
  }
}

KD_CLONES void kd_batchnorm_backward(float* dx, const float* dy, const float* x, const float* mean, const float* invstd,
                                     const float* gamma, const float* sumDy, const float* sumDyXhat, double count, int64_t N,
                                     int64_t C, int64_t HW) {
  for (int64_t c = 0; c < C; c++) {
    const double is = invstd[c];
    const float sc = static_cast<float>(gamma[c] * is);
    const float mdy = static_cast<float>(count > 0 ? sumDy[c] / count : 0.0);
    const float k = static_cast<float>(count > 0 ? is * sumDyXhat[c] / count : 0.0);  // xhat·mdx = (x − mean)·k
    const float mu = mean[c];
    for (int64_t n = 0; n < N; n++) {
      float* dr = dx + (n * C + c) * HW;  // may be dy itself: element-wise, in order
      const float* d = dy + (n * C + c) * HW;
      const float* __restrict xr = x + (n * C + c) * HW;
      for (int64_t q = 0; q < HW; q++) dr[q] = sc * (d[q] - mdy - (xr[q] - mu) * k);
    }
  }
}

}  // extern "C"
