// native/activations.h: ReLU and GELU (tanh form) with their backwards. Optimized, vectorized.
#pragma once
#include <cstdint>

extern "C" {
// out, inp are (n): out = max(inp, 0) (NaN -> 0). out may alias inp.
void kd_relu(float* out, const float* inp, int64_t n);
// dinp, dout, inp are (n): dinp = dout where inp > 0, else 0. dinp may alias dout.
void kd_relu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
// out, inp are (n): out = 0.5·x·(1 + tanh(sqrt(2/pi)·(x + 0.044715·x³))). out may alias inp.
void kd_gelu(float* out, const float* inp, int64_t n);
// dinp, dout, inp are (n): dinp = dout · GELU'(inp). dinp may alias dout.
void kd_gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
}
