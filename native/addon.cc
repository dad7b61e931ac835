// native/addon.cc: the distillery.node module entry point. Only registers exports.
#include <napi.h>

#include "bindings.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kd::RegisterKernels(env, exports);
  return exports;
}

NODE_API_MODULE(distillery, Init)
