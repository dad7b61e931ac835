// native/cuda/bindings.h: the CUDA kernel table and the device bindings (probe, deviceInfo).
#pragma once
#include <napi.h>

#include "../kernel_table.h"

namespace kdc {
extern const kd::KernelTable kCudaKernels;
// probe() -> { ok, device, cublas } or { ok: false, error: "no CUDA device (...)" };
// deviceInfo() -> the device name, or throws "no CUDA device (...)".
void RegisterDeviceInfo(Napi::Env env, Napi::Object exports);
}  // namespace kdc
