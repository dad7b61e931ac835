// native/bias.h: row-broadcast bias add and its gradient (column sums). Optimized, vectorized.
#pragma once
#include <cstdint>

extern "C" {
// y is (N,OC), bias is (OC): y[n,o] += bias[o].
void kd_bias_add(float* y, const float* bias, int64_t N, int64_t OC);
// dbias is (OC), dy is (N,OC): dbias[o] = (dbias[o] if accumulate) + sum_n dy[n,o].
void kd_bias_grad(float* dbias, const float* dy, int64_t N, int64_t OC, bool accumulate);
}
