// native/cuda/bindings.h: the CUDA kernel table and the device bindings (probe, deviceInfo, allocManaged, zero).
#pragma once
#include <napi.h>

#include "../kernel_table.h"

namespace kdc {
extern const kd::KernelTable kCudaKernels;
// probe() -> { ok, device, cublas } or { ok: false, error: "no CUDA device (...)" };
// deviceInfo() -> the device name, or throws "no CUDA device (...)";
// allocManaged(bytes) -> ArrayBuffer over device-resident (managed) memory the kernels use in
// place; zero(buf) -> cudaMemset on such memory. Registered after the kernels (zero replaces theirs).
void RegisterDevice(Napi::Env env, Napi::Object exports);
}  // namespace kdc
