// native/cuda/bindings.cc: the CUDA kernel table for the shared bindings, and the device
// bindings. Loading the module touches no CUDA API; probe() asks for a device and turns every
// failure (no driver, no device: cudaGetDeviceCount error 35/100) into "no CUDA device (...)".
#include "bindings.h"

#include <string>

#include "kernels.h"

namespace kdc {

const kd::KernelTable kCudaKernels = {
    kdc_matmul, kdc_bias_add, kdc_bias_grad, kdc_relu, kdc_relu_backward, kdc_gelu, kdc_gelu_backward,
    kdc_softmax_t, kdc_log_softmax_t, kdc_kd_loss, kdc_cross_entropy, kdc_mse, kdc_sgd_step, kdc_adamw_step,
};

namespace {
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  std::string why;
  if (device_count(&why) <= 0) {
    o.Set("ok", false);
    o.Set("error", why);
    return o;
  }
  try {
    o.Set("device", device_name());
  } catch (const std::exception& e) {
    o.Set("ok", false);
    o.Set("error", std::string("no usable CUDA device: ") + e.what());
    return o;
  }
  o.Set("ok", true);
  o.Set("cublas", uses_cublas());
  return o;
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  std::string why;
  if (device_count(&why) <= 0) throw Napi::Error::New(info.Env(), why);
  return Napi::String::New(info.Env(), device_name());
}
}  // namespace

void RegisterDeviceInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
}

}  // namespace kdc
