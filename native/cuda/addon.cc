// native/cuda/addon.cc: the distillery_cuda.node module entry point. Only registers exports:
// the shared checked bindings over the CUDA kernel table, plus probe/deviceInfo/allocManaged/zero.
#include <napi.h>

#include "../bindings.h"
#include "bindings.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kd::RegisterKernels(env, exports, &kdc::kCudaKernels);
  kdc::RegisterDevice(env, exports);
  return exports;
}

NODE_API_MODULE(distillery_cuda, Init)
