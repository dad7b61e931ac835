// native/kernel_table.h: the kernel contract as a table of C function pointers, so one set of
// Node-API bindings (bindings.cc) serves the CPU addon and the CUDA addon. Shapes as in the
// kd_* declarations (matmul.h, bias.h, activations.h, softmax.h, losses.h, optim.h, conv.h,
// pooling.h, batchnorm.h, quant.h).
#pragma once
#include <cstdint>

namespace kd {
struct KernelTable {
  void (*matmul)(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool transA, bool transB, bool accumulate);
  void (*bias_add)(float* y, const float* bias, int64_t N, int64_t OC);
  void (*bias_grad)(float* dbias, const float* dy, int64_t N, int64_t OC, bool accumulate);
  void (*relu)(float* out, const float* inp, int64_t n);
  void (*relu_backward)(float* dinp, const float* dout, const float* inp, int64_t n);
  void (*gelu)(float* out, const float* inp, int64_t n);
  void (*gelu_backward)(float* dinp, const float* dout, const float* inp, int64_t n);
  void (*softmax_t)(float* out, const float* logits, int64_t N, int64_t K, double T);
  void (*log_softmax_t)(float* out, const float* logits, int64_t N, int64_t K, double T);
  double (*kd_loss)(float* dS, const float* s, const float* t, int64_t N, int64_t K, double T, double alpha, bool scaleT2, bool accumulate);
  double (*cross_entropy)(float* dlogits, const float* logits, const int32_t* labels, int64_t N, int64_t K, double weight, bool accumulate);
  double (*mse)(float* dpred, const float* pred, const float* target, int64_t n, double weight, bool accumulate);
  void (*sgd_step)(float* params, const float* grads, float* momentumBuf, int64_t n, double lr, double momentum, double weightDecay, bool nesterov);
  void (*adamw_step)(float* params, const float* grads, float* m, float* v, int64_t n, double lr, double beta1, double beta2, double eps, double weightDecay, double step);
  // Convolution (conv.h: N, C, H, W, OC, k, stride, pad, groups), pooling (pooling.h: N, C, H, W,
  // kh, kw, stride, pad) and batch norm (batchnorm.h).
  void (*conv2d)(float* y, const float* x, const float* w, const float* bias, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups);
  void (*conv2d_backward_data)(float* dx, const float* dy, const float* w, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups);
  void (*conv2d_backward_weight)(float* dw, float* dbias, const float* dy, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, bool accumulate);
  void (*maxpool2d)(float* y, int32_t* idx, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
  void (*maxpool2d_backward)(float* dx, const float* dy, const int32_t* idx, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
  void (*avgpool2d)(float* y, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
  void (*avgpool2d_backward)(float* dx, const float* dy, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad);
  void (*batchnorm_stats)(float* mean, float* m2, const float* x, int64_t N, int64_t C, int64_t HW);
  void (*batchnorm)(float* y, const float* x, const float* mean, const float* invstd, const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW);
  void (*batchnorm_backward_reduce)(float* sumDy, float* sumDyXhat, const float* dy, const float* x, const float* mean, const float* invstd, int64_t N, int64_t C, int64_t HW);
  void (*batchnorm_backward)(float* dx, const float* dy, const float* x, const float* mean, const float* invstd, const float* gamma, const float* sumDy, const float* sumDyXhat, double count, int64_t N, int64_t C, int64_t HW);
  // int8 (quant.h): exact integer products, uint8 activations and int8 weights.
  void (*quantize_int8)(uint8_t* q, const float* x, int64_t n, float invScale, int32_t zeroPoint);
  void (*matmul_int8)(int32_t* acc, const uint8_t* a, const int8_t* w, int64_t M, int64_t N, int64_t K);
  void (*conv2d_int8)(int32_t* acc, const uint8_t* x, const int8_t* w, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int32_t xZero);
  void (*dequantize_int32)(float* y, const int32_t* acc, const int32_t* wsum, const float* scale, const float* bias, int32_t zero, int64_t N, int64_t C, int64_t HW);
  // On up to `threads` threads (bitwise the same results); null where there are none (the CUDA addon).
  void (*matmul_mt)(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool transA, bool transB, bool accumulate, int64_t threads) = nullptr;
  void (*sgd_step_mt)(float* params, const float* grads, float* momentumBuf, int64_t n, double lr, double momentum, double weightDecay, bool nesterov, int64_t threads) = nullptr;
  void (*adamw_step_mt)(float* params, const float* grads, float* m, float* v, int64_t n, double lr, double beta1, double beta2, double eps, double weightDecay, double step, int64_t threads) = nullptr;
  void (*conv2d_mt)(float* y, const float* x, const float* w, const float* bias, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int64_t threads) = nullptr;
  void (*conv2d_backward_data_mt)(float* dx, const float* dy, const float* w, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int64_t threads) = nullptr;
  void (*conv2d_backward_weight_mt)(float* dw, float* dbias, const float* dy, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, bool accumulate, int64_t threads) = nullptr;
  void (*matmul_int8_mt)(int32_t* acc, const uint8_t* a, const int8_t* w, int64_t M, int64_t N, int64_t K, int64_t threads) = nullptr;
  void (*conv2d_int8_mt)(int32_t* acc, const uint8_t* x, const int8_t* w, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int32_t xZero, int64_t threads) = nullptr;
};
}  // namespace kd
