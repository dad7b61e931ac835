// native/bias.cc: bias add / bias gradient, auto-vectorized inner loops over OC (contiguous),
// runtime-dispatched. Optimized; row-major float32.
#include "bias.h"

#include "simd.h"

extern "C" {

// y is (N,OC), bias is (OC).
KD_CLONES void kd_bias_add(float* y, const float* bias, int64_t N, int64_t OC) {
  for (int64_t n = 0; n < N; n++) {
    float* __restrict row = y + n * OC;
    const float* __restrict b = bias;
    for (int64_t o = 0; o < OC; o++) row[o] += b[o];
  }
}

// dbias is (OC), dy is (N,OC). Sums four rows at a time into dbias (float accumulation).
KD_CLONES void kd_bias_grad(float* dbias, const float* dy, int64_t N, int64_t OC, bool accumulate) {
  float* __restrict d = dbias;
  if (!accumulate)
    for (int64_t o = 0; o < OC; o++) d[o] = 0.0f;
  int64_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const float* __restrict r0 = dy + n * OC;
    const float* __restrict r1 = r0 + OC;
    const float* __restrict r2 = r1 + OC;
    const float* __restrict r3 = r2 + OC;
    for (int64_t o = 0; o < OC; o++) d[o] += (r0[o] + r1[o]) + (r2[o] + r3[o]);
  }
  for (; n < N; n++) {
    const float* __restrict r = dy + n * OC;
    for (int64_t o = 0; o < OC; o++) d[o] += r[o];
  }
}

}  // extern "C"
