// native/matmul.h: packed, cache-blocked single-precision GEMM (optimized; runtime-dispatched).
#pragma once
#include <cstdint>

extern "C" {
// C is (M,N); op(A) is (M,K): A stored (M,K), or (K,M) when transA; op(B) is (K,N): B stored
// (K,N), or (N,K) when transB. C = op(A)·op(B) (+ C when accumulate). C must not overlap A or B.
void kd_matmul(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K,
               bool transA, bool transB, bool accumulate);
// kd_matmul on up to `threads` threads (the caller and a persistent pool), C cut into column or
// row blocks; bitwise-identical results. Small products run on the calling thread alone.
void kd_matmul_mt(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K,
                  bool transA, bool transB, bool accumulate, int64_t threads);
// Which clone of the kernels this CPU runs: "x86-64-v4", "x86-64-v3" or "default".
const char* kd_isa();
// Which sgemm kernel runs here ("avx512 6x32", "avx2 6x16", "baseline 4x8"), prefixed with the
// reason when a faster one failed its load-time self-test.
const char* kd_matmul_kernel();
}

namespace kd {
// The dispatched single-thread gemm with explicit strides (C++ only, for the convolutions):
// C (M,N; row i at C + i*ldc) = op(A)·op(B) (+ C when accumulate), op(A)(i,k) = A[i*ars + k*aks],
// op(B)(k,j) = B[k*bks + j*bjs]. C must not overlap A or B.
void sgemm(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t ars, int64_t aks,
           int64_t bks, int64_t bjs, bool accumulate, int64_t ldc);
}  // namespace kd
