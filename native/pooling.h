// native/pooling.h: 2-D max and average pooling over NCHW tensors, forward and backward (optimized
// loops, runtime-dispatched). Shapes as in PoolParams (src/kernels/signatures.ts): x is (N,C,H,W),
// y is (N,C,OH,OW) with OH = (H + 2·pad − kh)/stride + 1 (likewise OW). Callers guarantee kh, kw,
// stride >= 1, H + 2·pad >= kh, W + 2·pad >= kw, and for max pooling pad < kh and pad < kw.
#pragma once
#include <cstdint>

extern "C" {
// y, idx (N,C,OH,OW): the max of each window (padding never wins; the first on ties; NaN wins) and
// its index h·W + w in its (H,W) plane; x (N,C,H,W).
void kd_maxpool2d(float* y, int32_t* idx, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                  int64_t kw, int64_t stride, int64_t pad);
// dx (N,C,H,W), overwritten: 0, then dx[n,c,idx] += dy for every output; dy, idx (N,C,OH,OW) with
// every idx in [0, H·W) (the caller checks).
void kd_maxpool2d_backward(float* dx, const float* dy, const int32_t* idx, int64_t N, int64_t C, int64_t H, int64_t W,
                           int64_t kh, int64_t kw, int64_t stride, int64_t pad);
// y (N,C,OH,OW) = window sum / (kh·kw), padding counted as zeros; x (N,C,H,W).
void kd_avgpool2d(float* y, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw,
                  int64_t stride, int64_t pad);
// dx (N,C,H,W), overwritten: each dy/(kh·kw) added to its window's in-image cells; dy (N,C,OH,OW).
void kd_avgpool2d_backward(float* dx, const float* dy, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh,
                           int64_t kw, int64_t stride, int64_t pad);
}
