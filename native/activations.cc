// native/activations.cc: element-wise activations, 8 lanes at a time (GCC vector extensions,
// runtime-dispatched) with a scalar tail. Optimized; aliasing of out and in is allowed.
#include "activations.h"

#include <cmath>

#include "simd.h"

namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCoef = 0.044715f;
// Beyond ±kLimit gelu and gelu' are their limits (x or −0; 1 or 0): GELU_LIMIT of
// src/kernels/signatures.ts, where the approximation already rounds to them in float32 (and
// before x³ overflows, which made gelu'(±1e20) NaN). NaN compares false: it stays NaN.
constexpr float kLimit = 11.0f;

KD_INLINE v8f gelu8(v8f x) {
  const v8f th = kd_tanh8(kSqrt2OverPi * (x + kCoef * x * x * x));
  const v8f y = 0.5f * x * (1.0f + th);
  const v8f lim = x > 0.0f ? x : kd_splat(-0.0f);
  return (x > kLimit) | (x < -kLimit) ? lim : y;
}

KD_INLINE v8f gelu_grad8(v8f x) {
  const v8f th = kd_tanh8(kSqrt2OverPi * (x + kCoef * x * x * x));
  const v8f du = kSqrt2OverPi * (1.0f + 3.0f * kCoef * x * x);
  const v8f g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
  const v8f lim = x > 0.0f ? kd_splat(1.0f) : kd_splat(0.0f);
  return (x > kLimit) | (x < -kLimit) ? lim : g;
}

// Loads the tail (n < 8 elements) into a zero-padded vector.
KD_INLINE v8f load_tail(const float* p, int64_t n) {
  alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; i++) t[i] = p[i];
  return *reinterpret_cast<v8f*>(t);
}
KD_INLINE void store_tail(float* p, v8f v, int64_t n) {
  alignas(32) float t[8];
  *reinterpret_cast<v8f*>(t) = v;
  for (int64_t i = 0; i < n; i++) p[i] = t[i];
}
}  // namespace

extern "C" {

// out, inp are (n).
KD_CLONES void kd_relu(float* out, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

// dinp, dout, inp are (n).
KD_CLONES void kd_relu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; i++) dinp[i] = inp[i] > 0.0f ? dout[i] : 0.0f;
}

// out, inp are (n).
KD_CLONES void kd_gelu(float* out, const float* inp, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) kd_store(out + i, gelu8(kd_load(inp + i)));
  if (i < n) store_tail(out + i, gelu8(load_tail(inp + i, n - i)), n - i);
}

// dinp, dout, inp are (n).
KD_CLONES void kd_gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) kd_store(dinp + i, kd_load(dout + i) * gelu_grad8(kd_load(inp + i)));
  if (i < n) store_tail(dinp + i, load_tail(dout + i, n - i) * gelu_grad8(load_tail(inp + i, n - i)), n - i);
}

}  // extern "C"
