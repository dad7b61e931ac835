// native/matmul.cc: packed, cache-blocked sgemm (BLIS-style loops, 6x16 register-blocked
// micro-kernel = 12 ymm accumulators on AVX2), every transpose absorbed by the packing step.
// Optimized; assumes row-major float32, no overlap between C and A/B. One thread.
#include "matmul.h"

#include <cstdlib>
#include <cstring>

#include "simd.h"

namespace {

constexpr int64_t MR = 6;      // micro-tile rows
constexpr int64_t NR = 16;     // micro-tile columns (2 x 8 lanes)
constexpr int64_t KC = 256;    // k-block: a 16 x KC B micro-panel (16 KiB) stays in L1
constexpr int64_t MC = 120;    // m-block: MC x KC packed A (120 KiB) stays in L2
constexpr int64_t NC = 3072;   // n-block: KC x NC packed B (3 MiB) stays in L3

// Per-thread packing buffers, allocated once (no allocation per call).
struct PackBuffers {
  float* a = nullptr;
  float* b = nullptr;
  PackBuffers() {
    a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC));
  }
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
};

PackBuffers& buffers() {
  static thread_local PackBuffers bufs;
  return bufs;
}

// Packs rows [0,rows) x k [0,kc) of a strided source (element (r,k) at src[r*rs + k*ks]) into
// R-row panels: dst[panel][k][r], zero-padded to a multiple of R rows.
template <int64_t R>
KD_INLINE void pack(float* __restrict dst, const float* __restrict src, int64_t rs, int64_t ks,
                    int64_t rows, int64_t kc) {
  for (int64_t r0 = 0; r0 < rows; r0 += R, dst += R * kc) {
    const int64_t nr = rows - r0 < R ? rows - r0 : R;
    const float* s = src + r0 * rs;
    if (nr == R && rs == 1) {
      // Rows contiguous for each k: straight copies.
      for (int64_t k = 0; k < kc; k++) {
        const float* sk = s + k * ks;
        float* d = dst + k * R;
        if constexpr (R == 16) {
          kd_store(d, kd_load(sk));
          kd_store(d + 8, kd_load(sk + 8));
        } else {
          for (int64_t r = 0; r < R; r++) d[r] = sk[r];
        }
      }
    } else if (nr == R && ks == 1 && R % 8 == 0) {
      // k contiguous for each row: 8x8 in-register transposes.
      int64_t k = 0;
      for (; k + 8 <= kc; k += 8) {
        for (int64_t h = 0; h < R; h += 8) {
          const float* sh = s + h * rs + k;
          v8f r0v = kd_load(sh), r1v = kd_load(sh + rs), r2v = kd_load(sh + 2 * rs), r3v = kd_load(sh + 3 * rs);
          v8f r4v = kd_load(sh + 4 * rs), r5v = kd_load(sh + 5 * rs), r6v = kd_load(sh + 6 * rs), r7v = kd_load(sh + 7 * rs);
          const v8i lo = {0, 8, 1, 9, 4, 12, 5, 13}, hi = {2, 10, 3, 11, 6, 14, 7, 15};
          v8f t0 = __builtin_shuffle(r0v, r1v, lo), t1 = __builtin_shuffle(r0v, r1v, hi);
          v8f t2 = __builtin_shuffle(r2v, r3v, lo), t3 = __builtin_shuffle(r2v, r3v, hi);
          v8f t4 = __builtin_shuffle(r4v, r5v, lo), t5 = __builtin_shuffle(r4v, r5v, hi);
          v8f t6 = __builtin_shuffle(r6v, r7v, lo), t7 = __builtin_shuffle(r6v, r7v, hi);
          const v8i l2 = {0, 1, 8, 9, 4, 5, 12, 13}, h2 = {2, 3, 10, 11, 6, 7, 14, 15};
          v8f s0 = __builtin_shuffle(t0, t2, l2), s1 = __builtin_shuffle(t0, t2, h2);
          v8f s2 = __builtin_shuffle(t1, t3, l2), s3 = __builtin_shuffle(t1, t3, h2);
          v8f s4 = __builtin_shuffle(t4, t6, l2), s5 = __builtin_shuffle(t4, t6, h2);
          v8f s6 = __builtin_shuffle(t5, t7, l2), s7 = __builtin_shuffle(t5, t7, h2);
          const v8i l3 = {0, 1, 2, 3, 8, 9, 10, 11}, h3 = {4, 5, 6, 7, 12, 13, 14, 15};
          float* d = dst + k * R + h;
          *reinterpret_cast<v8f*>(d + 0 * R) = __builtin_shuffle(s0, s4, l3);
          *reinterpret_cast<v8f*>(d + 1 * R) = __builtin_shuffle(s1, s5, l3);
          *reinterpret_cast<v8f*>(d + 2 * R) = __builtin_shuffle(s2, s6, l3);
          *reinterpret_cast<v8f*>(d + 3 * R) = __builtin_shuffle(s3, s7, l3);
          *reinterpret_cast<v8f*>(d + 4 * R) = __builtin_shuffle(s0, s4, h3);
          *reinterpret_cast<v8f*>(d + 5 * R) = __builtin_shuffle(s1, s5, h3);
          *reinterpret_cast<v8f*>(d + 6 * R) = __builtin_shuffle(s2, s6, h3);
          *reinterpret_cast<v8f*>(d + 7 * R) = __builtin_shuffle(s3, s7, h3);
        }
      }
      for (; k < kc; k++)
        for (int64_t r = 0; r < R; r++) dst[k * R + r] = s[r * rs + k];
    } else {
      // Generic (edge panels, small R): read along k, zero the padding rows.
      for (int64_t r = 0; r < nr; r++)
        for (int64_t k = 0; k < kc; k++) dst[k * R + r] = s[r * rs + k * ks];
      for (int64_t r = nr; r < R; r++)
        for (int64_t k = 0; k < kc; k++) dst[k * R + r] = 0.0f;
    }
  }
}

// C tile (mr x nr, leading dimension ldc) = or += Ap (MR x kc panel) · Bp (kc x NR panel).
KD_INLINE void micro_6x16(int64_t kc, const float* __restrict Ap, const float* __restrict Bp,
                          float* __restrict C, int64_t ldc, bool overwrite, int64_t mr, int64_t nr) {
  v8f c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {};
  v8f c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    const v8f b0 = *reinterpret_cast<const v8f*>(Bp);
    const v8f b1 = *reinterpret_cast<const v8f*>(Bp + 8);
    v8f a;
    a = kd_splat(Ap[0]); c00 += a * b0; c01 += a * b1;
    a = kd_splat(Ap[1]); c10 += a * b0; c11 += a * b1;
    a = kd_splat(Ap[2]); c20 += a * b0; c21 += a * b1;
    a = kd_splat(Ap[3]); c30 += a * b0; c31 += a * b1;
    a = kd_splat(Ap[4]); c40 += a * b0; c41 += a * b1;
    a = kd_splat(Ap[5]); c50 += a * b0; c51 += a * b1;
    Ap += MR;
    Bp += NR;
  }
  if (mr == MR && nr == NR) {
#define KD_ROW(i)                                                   \
  {                                                                 \
    float* p = C + (i) * ldc;                                       \
    if (overwrite) {                                                \
      kd_store(p, c##i##0);                                         \
      kd_store(p + 8, c##i##1);                                     \
    } else {                                                        \
      kd_store(p, kd_load(p) + c##i##0);                            \
      kd_store(p + 8, kd_load(p + 8) + c##i##1);                    \
    }                                                               \
  }
    KD_ROW(0) KD_ROW(1) KD_ROW(2) KD_ROW(3) KD_ROW(4) KD_ROW(5)
#undef KD_ROW
    return;
  }
  alignas(32) float t[MR * NR];
  *reinterpret_cast<v8f*>(t + 0) = c00; *reinterpret_cast<v8f*>(t + 8) = c01;
  *reinterpret_cast<v8f*>(t + 16) = c10; *reinterpret_cast<v8f*>(t + 24) = c11;
  *reinterpret_cast<v8f*>(t + 32) = c20; *reinterpret_cast<v8f*>(t + 40) = c21;
  *reinterpret_cast<v8f*>(t + 48) = c30; *reinterpret_cast<v8f*>(t + 56) = c31;
  *reinterpret_cast<v8f*>(t + 64) = c40; *reinterpret_cast<v8f*>(t + 72) = c41;
  *reinterpret_cast<v8f*>(t + 80) = c50; *reinterpret_cast<v8f*>(t + 88) = c51;
  for (int64_t i = 0; i < mr; i++)
    for (int64_t j = 0; j < nr; j++) C[i * ldc + j] = overwrite ? t[i * NR + j] : C[i * ldc + j] + t[i * NR + j];
}

}  // namespace

extern "C" {

// C is (M,N); A is (M,K) or (K,M) if transA; B is (K,N) or (N,K) if transB.
KD_CLONES void kd_matmul(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K,
                         bool transA, bool transB, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) std::memset(C, 0, sizeof(float) * M * N);
    return;
  }
  PackBuffers& buf = buffers();
  // op(A)(i,k) = A[i*ars + k*aks]; op(B)(k,j) = B[k*bks + j*bjs].
  const int64_t ars = transA ? 1 : K, aks = transA ? M : 1;
  const int64_t bks = transB ? 1 : N, bjs = transB ? K : 1;
  // Balanced k-blocks (784 -> 4 x 196 rather than 3 x 256 + 16).
  const int64_t kblocks = (K + KC - 1) / KC;
  const int64_t kcb = (K + kblocks - 1) / kblocks;
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = N - jc < NC ? N - jc : NC;
    for (int64_t pc = 0; pc < K; pc += kcb) {
      const int64_t kc = K - pc < kcb ? K - pc : kcb;
      pack<NR>(buf.b, B + pc * bks + jc * bjs, bjs, bks, nc, kc);
      const bool overwrite = pc == 0 && !accumulate;
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = M - ic < MC ? M - ic : MC;
        pack<MR>(buf.a, A + ic * ars + pc * aks, ars, aks, mc, kc);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = nc - jr < NR ? nc - jr : NR;
          const float* Bp = buf.b + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = mc - ir < MR ? mc - ir : MR;
            micro_6x16(kc, buf.a + ir * kc, Bp, C + (ic + ir) * N + jc + jr, N, overwrite, mr, nr);
          }
        }
      }
    }
  }
}

// Same shapes as kd_matmul; plain loops, float accumulation.
void kd_matmul_naive(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K,
                     bool transA, bool transB, bool accumulate) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      float acc = accumulate ? C[i * N + j] : 0.0f;
      for (int64_t k = 0; k < K; k++)
        acc += (transA ? A[k * M + i] : A[i * K + k]) * (transB ? B[j * K + k] : B[k * N + j]);
      C[i * N + j] = acc;
    }
}

const char* kd_isa() {
  // The same test the target_clones resolver makes.
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4";
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3";
  return "default";
}

}  // extern "C"
