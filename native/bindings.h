// native/bindings.h: Node-API bindings of the kernels (argument checks, then one kernel call).
#pragma once
#include <napi.h>

#include "kernel_table.h"

namespace kd {
// Adds every kernel binding (matmul, bias_add, ..., adamw_step, conv2d, ..., batchnorm_backward), each calling into `kernels`
// (which must outlive the module), and addressMod to `exports`.
void RegisterKernels(Napi::Env env, Napi::Object exports, const KernelTable* kernels);
}
