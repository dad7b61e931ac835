// native/cuda/bindings.cc: the CUDA kernel table for the shared bindings, and the device
// bindings (probe, deviceInfo, allocManaged, zero). Loading the module touches no CUDA API; probe() asks for a device and turns every
// failure (no driver, no device: cudaGetDeviceCount error 35/100) into "no CUDA device (...)".
#include "bindings.h"

#include <cmath>
#include <cstring>
#include <string>

#include "kernels.h"

namespace kdc {

const kd::KernelTable kCudaKernels = {
    kdc_matmul, kdc_bias_add, kdc_bias_grad, kdc_relu, kdc_relu_backward, kdc_gelu, kdc_gelu_backward,
    kdc_softmax_t, kdc_log_softmax_t, kdc_kd_loss, kdc_cross_entropy, kdc_mse, kdc_sgd_step, kdc_adamw_step,
    kdc_conv2d, kdc_conv2d_backward_data, kdc_conv2d_backward_weight, kdc_maxpool2d, kdc_maxpool2d_backward, kdc_avgpool2d,
    kdc_avgpool2d_backward, kdc_batchnorm_stats, kdc_batchnorm, kdc_batchnorm_backward_reduce, kdc_batchnorm_backward,
    kdc_quantize_int8, kdc_matmul_int8, kdc_conv2d_int8, kdc_dequantize_int32,
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

// allocManaged(bytes) -> ArrayBuffer over zero-filled device-resident (managed) memory, freed when
// the ArrayBuffer is collected. The kernels use such arrays in place on the device.
Napi::Value AllocManaged(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "allocManaged: bytes must be a number");
  const double b = info[0].As<Napi::Number>().DoubleValue();
  if (!(b >= 0 && b <= 68719476736.0) || std::floor(b) != b)
    throw Napi::RangeError::New(env, "allocManaged: bytes must be an integer in [0, 2^36], got " + std::to_string(b));
  const size_t bytes = static_cast<size_t>(b);
  void* p;
  try {
    p = managed_alloc(bytes);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("allocManaged: ") + e.what());
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  return Napi::ArrayBuffer::New(env, p, bytes, [bytes](Napi::Env e, void* data) {
    managed_free(data);
    Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(bytes));
  });
}

// zero(buf): cudaMemset for managed memory (its pages stay on the device), memset otherwise.
Napi::Value Zero(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "zero: buf must be a Float32Array");
  Napi::Float32Array a = info[0].As<Napi::Float32Array>();
  const size_t bytes = a.ElementLength() * sizeof(float);
  if (bytes == 0) return env.Undefined();
  try {
    if (!managed_zero(a.Data(), bytes)) std::memset(a.Data(), 0, bytes);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("zero: ") + e.what());
  }
  return env.Undefined();
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  std::string why;
  if (device_count(&why) <= 0) throw Napi::Error::New(info.Env(), why);
  return Napi::String::New(info.Env(), device_name());
}
}  // namespace

void RegisterDevice(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("allocManaged", Napi::Function::New(env, AllocManaged, "allocManaged"));
  exports.Set("zero", Napi::Function::New(env, Zero, "zero"));  // replaces the host-only zero
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
}

}  // namespace kdc
