// native/optim.cc: SGD and AdamW steps, one streaming pass each, auto-vectorized and
// runtime-dispatched. Optimized; hyper-parameters are rounded to f32 once per call.
#include "optim.h"

#include <cmath>

#include "pool.h"
#include "simd.h"

extern "C" {

// params, grads, momentumBuf are (n).
KD_CLONES void kd_sgd_step(float* params, const float* grads, float* momentumBuf, int64_t n, double lr,
                           double momentum, double weightDecay, bool nesterov) {
  float* __restrict p = params;
  const float* __restrict g = grads;
  float* __restrict b = momentumBuf;
  const float flr = static_cast<float>(lr), mu = static_cast<float>(momentum), wd = static_cast<float>(weightDecay);
  if (momentum == 0.0) {
    for (int64_t i = 0; i < n; i++) p[i] -= flr * (g[i] + wd * p[i]);
  } else if (nesterov) {
    for (int64_t i = 0; i < n; i++) {
      const float gi = g[i] + wd * p[i];
      const float bi = mu * b[i] + gi;
      b[i] = bi;
      p[i] -= flr * (gi + mu * bi);
    }
  } else if (weightDecay == 0.0) {
    for (int64_t i = 0; i < n; i++) {
      const float bi = mu * b[i] + g[i];
      b[i] = bi;
      p[i] -= flr * bi;
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      const float bi = mu * b[i] + (g[i] + wd * p[i]);
      b[i] = bi;
      p[i] -= flr * bi;
    }
  }
}

// params, grads, m, v are (n).
KD_CLONES void kd_adamw_step(float* params, const float* grads, float* m, float* v, int64_t n, double lr,
                             double beta1, double beta2, double eps, double weightDecay, double step) {
  float* __restrict p = params;
  const float* __restrict g = grads;
  float* __restrict mm = m;
  float* __restrict vv = v;
  const double bc1 = 1.0 - std::pow(beta1, step), bc2 = 1.0 - std::pow(beta2, step);
  const float decay = static_cast<float>(lr * weightDecay);
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float c1 = static_cast<float>(1.0 - beta1), c2 = static_cast<float>(1.0 - beta2);
  const float stepSize = static_cast<float>(lr / bc1), invBc2 = static_cast<float>(1.0 / bc2);
  const float e = static_cast<float>(eps);
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float pi = p[i] - decay * p[i];
    const float mi = b1 * mm[i] + c1 * gi;
    const float vi = b2 * vv[i] + c2 * gi * gi;
    mm[i] = mi;
    vv[i] = vi;
    p[i] = pi - stepSize * mi / (std::sqrt(vi * invBc2) + e);
  }
}

namespace {
// Up to `threads` ranges of n, in multiples of 16 floats, at least 64k elements each.
int64_t range_parts(int64_t n, int64_t threads) {
  int64_t parts = threads < 1 ? 1 : threads > 64 ? 64 : threads;
  while (parts > 1 && n / parts < (int64_t{1} << 16)) parts--;
  return parts;
}
int64_t range_at(int64_t n, int64_t parts, int64_t q) { return q == parts ? n : (n * q / parts) & ~int64_t{15}; }
}  // namespace

void kd_sgd_step_mt(float* params, const float* grads, float* momentumBuf, int64_t n, double lr, double momentum,
                    double weightDecay, bool nesterov, int64_t threads) {
  const int64_t parts = range_parts(n, threads);
  if (parts <= 1) return kd_sgd_step(params, grads, momentumBuf, n, lr, momentum, weightDecay, nesterov);
  kd::parallel_parts(static_cast<int>(parts), [&](int q) {
    const int64_t lo = range_at(n, parts, q), hi = range_at(n, parts, q + 1);
    kd_sgd_step(params + lo, grads + lo, momentum != 0.0 ? momentumBuf + lo : momentumBuf, hi - lo, lr, momentum,
                weightDecay, nesterov);
  });
}

void kd_adamw_step_mt(float* params, const float* grads, float* m, float* v, int64_t n, double lr, double beta1,
                      double beta2, double eps, double weightDecay, double step, int64_t threads) {
  const int64_t parts = range_parts(n, threads);
  if (parts <= 1) return kd_adamw_step(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, step);
  kd::parallel_parts(static_cast<int>(parts), [&](int q) {
    const int64_t lo = range_at(n, parts, q), hi = range_at(n, parts, q + 1);
    kd_adamw_step(params + lo, grads + lo, m + lo, v + lo, hi - lo, lr, beta1, beta2, eps, weightDecay, step);
  });
}

}  // extern "C"
