// native/batchnorm.h: batch normalization over (N,C,HW) tensors: statistics, apply, and the two
// backward passes (optimized loops, f64 reductions, runtime-dispatched).
#pragma once
#include <cstdint>

extern "C" {
// mean, m2 (C): per channel the mean of its N·HW values and m2 = Σ (x − mean)² (0 and 0 when N·HW = 0); x (N,C,HW).
void kd_batchnorm_stats(float* mean, float* m2, const float* x, int64_t N, int64_t C, int64_t HW);
// y, x (N,C,HW); mean, invstd, gamma, beta (C): y = (x − mean)·invstd·gamma + beta. y may alias x.
void kd_batchnorm(float* y, const float* x, const float* mean, const float* invstd, const float* gamma, const float* beta,
                  int64_t N, int64_t C, int64_t HW);
// sumDy, sumDyXhat (C), overwritten: Σ dy and Σ dy·(x − mean)·invstd per channel; dy, x (N,C,HW); mean, invstd (C).
void kd_batchnorm_backward_reduce(float* sumDy, float* sumDyXhat, const float* dy, const float* x, const float* mean,
                                  const float* invstd, int64_t N, int64_t C, int64_t HW);
// dx, dy, x (N,C,HW); mean, invstd, gamma, sumDy, sumDyXhat (C):
// dx = gamma·invstd·(dy − sumDy/count − xhat·sumDyXhat/count), xhat = (x − mean)·invstd. dx may alias dy.
void kd_batchnorm_backward(float* dx, const float* dy, const float* x, const float* mean, const float* invstd,
                           const float* gamma, const float* sumDy, const float* sumDyXhat, double count, int64_t N,
                           int64_t C, int64_t HW);
}
