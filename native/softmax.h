// native/softmax.h: row-wise softmax / log-softmax of logits/T (max-subtracted) and the row
// log-sum-exp helper shared with the loss kernels. Optimized for small K (classes).
#pragma once
#include <cstdint>

extern "C" {
// out, logits are (N,K): out = softmax(logits/T) per row.
void kd_softmax_t(float* out, const float* logits, int64_t N, int64_t K, double T);
// out, logits are (N,K): out = log_softmax(logits/T) per row.
void kd_log_softmax_t(float* out, const float* logits, int64_t N, int64_t K, double T);
}

namespace kd {
// z is (K): log(sum_k exp(z[k]·invT)), max-subtracted, f64 accumulation.
double row_lse(const float* z, int64_t K, double invT);
}
