// native/cuda/kernels.h: the kernel contract on a CUDA device (kdc_* = same shapes and semantics
// as the kd_* CPU kernels). Arrays from managed_alloc (the backend's own buffers) are used in
// place on the device; any other host array is copied to a pooled device buffer and its outputs
// copied back. Every call returns after the device has finished. Errors throw kdc::CudaError.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace kdc {
struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Number of CUDA devices; 0 with `why` set when there is none or the driver is missing.
int device_count(std::string* why);
// "NVIDIA H200 (sm_90, 139 GiB)" for device 0.
std::string device_name();
// Device-resident buffers: zero-filled cudaMallocManaged memory, which every kdc_* kernel uses in
// place (no copies); pages move to the host only when the host touches them. Throws CudaError.
void* managed_alloc(size_t bytes);
// Frees memory from managed_alloc (ignores anything else).
void managed_free(void* p);
// Zeroes [p, p + bytes) on the device and returns true when p is in managed memory; else false.
bool managed_zero(void* p, size_t bytes);
// True when matmul uses cuBLAS (built with it), false for the built-in tiled kernel.
bool uses_cublas();
}  // namespace kdc

// C is (M,N); A is (M,K) or (K,M) if transA; B is (K,N) or (N,K) if transB.
void kdc_matmul(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool transA, bool transB, bool accumulate);
// y is (N,OC), bias is (OC).
void kdc_bias_add(float* y, const float* bias, int64_t N, int64_t OC);
// dbias is (OC), dy is (N,OC).
void kdc_bias_grad(float* dbias, const float* dy, int64_t N, int64_t OC, bool accumulate);
// out, inp are (n).
void kdc_relu(float* out, const float* inp, int64_t n);
// dinp, dout, inp are (n).
void kdc_relu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
// out, inp are (n).
void kdc_gelu(float* out, const float* inp, int64_t n);
// dinp, dout, inp are (n).
void kdc_gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
// out, logits are (N,K).
void kdc_softmax_t(float* out, const float* logits, int64_t N, int64_t K, double T);
// out, logits are (N,K).
void kdc_log_softmax_t(float* out, const float* logits, int64_t N, int64_t K, double T);
// dS, s, t are (N,K).
double kdc_kd_loss(float* dS, const float* s, const float* t, int64_t N, int64_t K, double T, double alpha, bool scaleT2, bool accumulate);
// dlogits, logits are (N,K); labels is (N).
double kdc_cross_entropy(float* dlogits, const float* logits, const int32_t* labels, int64_t N, int64_t K, double weight, bool accumulate);
// dpred, pred, target are (n).
double kdc_mse(float* dpred, const float* pred, const float* target, int64_t n, double weight, bool accumulate);
// params, grads, momentumBuf are (n).
void kdc_sgd_step(float* params, const float* grads, float* momentumBuf, int64_t n, double lr, double momentum, double weightDecay, bool nesterov);
// params, grads, m, v are (n).
void kdc_adamw_step(float* params, const float* grads, float* m, float* v, int64_t n, double lr, double beta1, double beta2, double eps, double weightDecay, double step);
// y (N,OC,OH,OW) = conv(x, w) + bias; x (N,C,H,W), w (OC,C/groups,k,k), bias (OC). As kd_conv2d.
void kdc_conv2d(float* y, const float* x, const float* w, const float* bias, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups);
// dx (N,C,H,W), overwritten; dy (N,OC,OH,OW), w (OC,C/groups,k,k).
void kdc_conv2d_backward_data(float* dx, const float* dy, const float* w, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups);
// dw (OC,C/groups,k,k), dbias (OC) (+ when accumulate); dy (N,OC,OH,OW), x (N,C,H,W).
void kdc_conv2d_backward_weight(float* dw, float* dbias, const float* dy, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, bool accumulate);
// y, idx (N,C,OH,OW); x (N,C,H,W).
void kdc_maxpool2d(float* y, int32_t* idx, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
// dx (N,C,H,W), overwritten; dy, idx (N,C,OH,OW), idx in [0, H·W).
void kdc_maxpool2d_backward(float* dx, const float* dy, const int32_t* idx, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
// y (N,C,OH,OW); x (N,C,H,W).
void kdc_avgpool2d(float* y, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
// dx (N,C,H,W), overwritten; dy (N,C,OH,OW).
void kdc_avgpool2d_backward(float* dx, const float* dy, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
// mean, m2 (C); x (N,C,HW).
void kdc_batchnorm_stats(float* mean, float* m2, const float* x, int64_t N, int64_t C, int64_t HW);
// y, x (N,C,HW) (y may alias x); mean, invstd, gamma, beta (C).
void kdc_batchnorm(float* y, const float* x, const float* mean, const float* invstd, const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW);
// sumDy, sumDyXhat, mean, invstd (C); dy, x (N,C,HW).
void kdc_batchnorm_backward_reduce(float* sumDy, float* sumDyXhat, const float* dy, const float* x, const float* mean, const float* invstd, int64_t N, int64_t C, int64_t HW);
// dx, dy, x (N,C,HW) (dx may alias dy); mean, invstd, gamma, sumDy, sumDyXhat (C).
void kdc_batchnorm_backward(float* dx, const float* dy, const float* x, const float* mean, const float* invstd, const float* gamma, const float* sumDy, const float* sumDyXhat, double count, int64_t N, int64_t C, int64_t HW);
// q (n) uint8 = clamp(round_half_even(f32(x·invScale)) + zeroPoint, 0, 255); x (n).
void kdc_quantize_int8(uint8_t* q, const float* x, int64_t n, float invScale, int32_t zeroPoint);
// acc (M,N) int32 = a (M,K) uint8 · w (N,K) int8 transposed, exact (K <= 32768).
void kdc_matmul_int8(int32_t* acc, const uint8_t* a, const int8_t* w, int64_t M, int64_t N, int64_t K);
// acc (N,OC,OH,OW) int32 = conv2d of x (N,C,H,W) uint8 with w (OC,C/groups,k,k) int8, xZero outside the image.
void kdc_conv2d_int8(int32_t* acc, const uint8_t* x, const int8_t* w, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int32_t xZero);
// y (N,C,HW) = f32(f32(acc − zero·wsum[c])·scale[c]) + bias[c]; acc (N,C,HW) int32 (y may be acc's memory); wsum, scale, bias (C).
void kdc_dequantize_int32(float* y, const int32_t* acc, const int32_t* wsum, const float* scale, const float* bias, int32_t zero, int64_t N, int64_t C, int64_t HW);
