// native/bindings.h: Node-API bindings of the kernels (argument checks, then one kernel call).
#pragma once
#include <napi.h>

namespace kd {
// Adds every kernel binding (matmul, biasAdd, ..., adamwStep) and the helpers (isa, probe,
// addressMod) to `exports`.
void RegisterKernels(Napi::Env env, Napi::Object exports);
}
