// native/addon.cc: the distillery.node module entry point (CPU kernels). Only registers exports.
#include <napi.h>

#include "activations.h"
#include "batchnorm.h"
#include "bias.h"
#include "bindings.h"
#include "conv.h"
#include "losses.h"
#include "matmul.h"
#include "optim.h"
#include "pooling.h"
#include "quant.h"
#include "softmax.h"

namespace {
const kd::KernelTable kCpuKernels = {
    kd_matmul, kd_bias_add, kd_bias_grad, kd_relu, kd_relu_backward, kd_gelu, kd_gelu_backward,
    kd_softmax_t, kd_log_softmax_t, kd_kd_loss, kd_cross_entropy, kd_mse, kd_sgd_step, kd_adamw_step,
    kd_conv2d, kd_conv2d_backward_data, kd_conv2d_backward_weight, kd_maxpool2d, kd_maxpool2d_backward, kd_avgpool2d,
    kd_avgpool2d_backward, kd_batchnorm_stats, kd_batchnorm, kd_batchnorm_backward_reduce, kd_batchnorm_backward,
    kd_quantize_int8, kd_matmul_int8, kd_conv2d_int8, kd_dequantize_int32,
    kd_matmul_mt, kd_sgd_step_mt, kd_adamw_step_mt, kd_conv2d_mt, kd_conv2d_backward_data_mt, kd_conv2d_backward_weight_mt,
    kd_matmul_int8_mt, kd_conv2d_int8_mt,
};

// isa() -> which kernel variant this CPU runs ("x86-64-v4", "x86-64-v3" or "default").
Napi::Value Isa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kd_isa()); }

// probe() -> { ok: true, isa, matmul, matmul_int8 }: what the loader's child process calls.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("ok", true);
  o.Set("isa", kd_isa());
  o.Set("matmul", kd_matmul_kernel());
  o.Set("matmul_int8", kd::matmul_int8_kernel());
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kd::RegisterKernels(env, exports, &kCpuKernels);
  exports.Set("isa", Napi::Function::New(env, Isa, "isa"));
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  return exports;
}
}  // namespace

NODE_API_MODULE(distillery, Init)
