// native/quant.h: the int8 kernels (quantize_int8, matmul_int8, conv2d_int8, dequantize_int32;
// src/kernels/signatures.ts has the contract, src/kernels/reference.ts the definition). Integer
// results are exact. matmul_int8 runs AVX-512 VNNI (vpdpbusd), AVX2 (vpmovzxbw/vpmovsxbw +
// vpmaddwd) or scalar code, picked once by CPUID (DISTILLERY_GEMM_ISA=avx2|baseline caps it, as
// for the sgemm). Callers (bindings.cc) guarantee the sizes, K <= 32768 and no partial overlap.
#pragma once
#include <cstdint>

extern "C" {
// q (n) = clamp(round_half_even(f32(x·invScale)) + zeroPoint, 0, 255); zeroPoint in [0, 255].
void kd_quantize_int8(uint8_t* q, const float* x, int64_t n, float invScale, int32_t zeroPoint);
// acc (M,N) int32 = a (M,K) uint8 · w (N,K) int8 transposed, exact (K <= 32768).
void kd_matmul_int8(int32_t* acc, const uint8_t* a, const int8_t* w, int64_t M, int64_t N, int64_t K);
// acc (N,OC,OH,OW) int32 = conv2d of x (N,C,H,W) uint8 with w (OC,C/groups,k,k) int8, cells
// outside the image counting as xZero; (C/groups)·k·k <= 32768. Geometry checks as in conv.h.
void kd_conv2d_int8(int32_t* acc, const uint8_t* x, const int8_t* w, int64_t N, int64_t C, int64_t H, int64_t W,
                    int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int32_t xZero);
// y (N,C,HW) = f32(f32(acc − zero·wsum[c])·scale[c]) + bias[c]; y may be acc's memory (same start).
void kd_dequantize_int32(float* y, const int32_t* acc, const int32_t* wsum, const float* scale, const float* bias,
                         int32_t zero, int64_t N, int64_t C, int64_t HW);
// The same on up to `threads` threads (native-mt): matmul_int8 cut into column blocks (N >= M) or
// row blocks, conv2d_int8 into ranges of images. Exact, so the same results as one thread.
void kd_matmul_int8_mt(int32_t* acc, const uint8_t* a, const int8_t* w, int64_t M, int64_t N, int64_t K, int64_t threads);
void kd_conv2d_int8_mt(int32_t* acc, const uint8_t* x, const int8_t* w, int64_t N, int64_t C, int64_t H, int64_t W,
                       int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int32_t xZero, int64_t threads);
}

namespace kd {
// Which matmul_int8 kernel runs here ("avx512-vnni 4x4", "avx2 2x4", "scalar"), prefixed with the
// reason when a faster one failed its load-time self-test.
const char* matmul_int8_kernel();
}  // namespace kd
