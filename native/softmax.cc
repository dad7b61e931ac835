// native/softmax.cc: softmax_t / log_softmax_t. The rows are short (K = classes), so this is
// scalar code with f64 accumulation, as in the reference; one pass for the max, one for the sum.
#include "softmax.h"

#include <cmath>

namespace kd {
// z is (K).
double row_lse(const float* z, int64_t K, double invT) {
  double mx = -INFINITY;
  for (int64_t k = 0; k < K; k++) mx = std::fmax(mx, z[k] * invT);
  double sum = 0.0;
  for (int64_t k = 0; k < K; k++) sum += std::exp(z[k] * invT - mx);
  return mx + std::log(sum);
}
}  // namespace kd

extern "C" {

// out, logits are (N,K).
void kd_softmax_t(float* out, const float* logits, int64_t N, int64_t K, double T) {
  const double invT = 1.0 / T;
  for (int64_t n = 0; n < N; n++) {
    const float* z = logits + n * K;
    const double lse = kd::row_lse(z, K, invT);
    for (int64_t k = 0; k < K; k++) out[n * K + k] = static_cast<float>(std::exp(z[k] * invT - lse));
  }
}

// out, logits are (N,K).
void kd_log_softmax_t(float* out, const float* logits, int64_t N, int64_t K, double T) {
  const double invT = 1.0 / T;
  for (int64_t n = 0; n < N; n++) {
    const float* z = logits + n * K;
    const double lse = kd::row_lse(z, K, invT);
    for (int64_t k = 0; k < K; k++) out[n * K + k] = static_cast<float>(z[k] * invT - lse);
  }
}

}  // extern "C"
