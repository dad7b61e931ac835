// native/optim.h: in-place optimizer steps over one flat buffer (SGD with momentum/Nesterov,
// AdamW). Optimized, vectorized.
#pragma once
#include <cstdint>

extern "C" {
// params, grads, momentumBuf are (n). PyTorch semantics, dampening 0:
// g = grad + wd·p; buf = momentum·buf + g; g = nesterov ? g + momentum·buf : buf (momentum > 0);
// p -= lr·g. With momentum = 0, momentumBuf is not touched.
void kd_sgd_step(float* params, const float* grads, float* momentumBuf, int64_t n, double lr,
                 double momentum, double weightDecay, bool nesterov);
// params, grads, m, v are (n). p -= lr·wd·p; m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²;
// p -= lr·(m/(1−b1^step)) / (sqrt(v/(1−b2^step)) + eps).
void kd_adamw_step(float* params, const float* grads, float* m, float* v, int64_t n, double lr,
                   double beta1, double beta2, double eps, double weightDecay, double step);
// The same steps with n cut into up to `threads` ranges run at once (the native-mt backend);
// element-wise, so the results are bitwise identical.
void kd_sgd_step_mt(float* params, const float* grads, float* momentumBuf, int64_t n, double lr,
                    double momentum, double weightDecay, bool nesterov, int64_t threads);
void kd_adamw_step_mt(float* params, const float* grads, float* m, float* v, int64_t n, double lr,
                      double beta1, double beta2, double eps, double weightDecay, double step, int64_t threads);
}
