// native/optim.cc: SGD and AdamW steps, one streaming pass each, auto-vectorized and
// runtime-dispatched. Optimized; hyper-parameters are rounded to f32 once per call.
#include "optim.h"

#include <cmath>

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

}  // extern "C"
