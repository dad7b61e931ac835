// native/conv.h: 2-D convolution over NCHW tensors, forward and both backward passes (optimized:
// im2col + the packed sgemm; direct loops for depthwise). Shapes as in ConvParams
// (src/kernels/signatures.ts): x is (N,C,H,W), w is (OC,C/groups,k,k), y is (N,OC,OH,OW) with
// OH = (H + 2·pad − k)/stride + 1 (likewise OW). Callers guarantee groups >= 1 dividing C and OC,
// k >= 1, stride >= 1, H + 2·pad >= k and W + 2·pad >= k, and no overlap between outputs and inputs.
#pragma once
#include <cstdint>

extern "C" {
// y (N,OC,OH,OW), overwritten = conv(x, w) + bias; x (N,C,H,W), w (OC,C/groups,k,k), bias (OC).
void kd_conv2d(float* y, const float* x, const float* w, const float* bias, int64_t N, int64_t C, int64_t H, int64_t W,
               int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups);
// dx (N,C,H,W), overwritten = gradient of conv2d w.r.t. x; dy (N,OC,OH,OW), w (OC,C/groups,k,k).
void kd_conv2d_backward_data(float* dx, const float* dy, const float* w, int64_t N, int64_t C, int64_t H, int64_t W,
                             int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups);
// dw (OC,C/groups,k,k), dbias (OC) = gradients w.r.t. w and bias (+ dw, dbias when accumulate);
// dy (N,OC,OH,OW), x (N,C,H,W).
void kd_conv2d_backward_weight(float* dw, float* dbias, const float* dy, const float* x, int64_t N, int64_t C, int64_t H,
                               int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups,
                               bool accumulate);
// The same on up to `threads` threads (the native-mt backend), the batch cut into ranges of images.
// Forward and backward data: bitwise the same as one thread. Backward weight: each range sums into
// its own partial dw/dbias and the partials are added in range order, so the result depends on the
// thread count only (bitwise the same for the same count).
void kd_conv2d_mt(float* y, const float* x, const float* w, const float* bias, int64_t N, int64_t C, int64_t H, int64_t W,
                  int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int64_t threads);
void kd_conv2d_backward_data_mt(float* dx, const float* dy, const float* w, int64_t N, int64_t C, int64_t H, int64_t W,
                                int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int64_t threads);
void kd_conv2d_backward_weight_mt(float* dw, float* dbias, const float* dy, const float* x, int64_t N, int64_t C,
                                  int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad,
                                  int64_t groups, bool accumulate, int64_t threads);
}
