// native/matmul.cc: packed, cache-blocked sgemm (BLIS-style loops; AVX2+FMA 6x16 register-blocked
// micro-kernel = 12 ymm accumulators; AVX-512 6x32; baseline 4x8), every transpose absorbed by the packing step.
// Optimized; assumes row-major float32, no overlap between C and A/B. One thread. Dispatch is a
// function pointer picked once by CPUID (intrinsics need target("avx2,fma") functions: GCC
// builds broadcasts badly from vector extensions inside target_clones, measured 31 vs 45+).
#include "matmul.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <immintrin.h>

#include "pool.h"
#include "simd.h"

namespace {

constexpr int64_t KC = 512;    // largest k-block (buffer size)
constexpr int64_t MC = 240;    // largest m-block (buffer size; multiple of every MR)
constexpr int64_t NC = 3072;   // n-block: KC x NC packed B stays in L3 (multiple of every NR)

// Block sizes used (tunable for experiments with DISTILLERY_GEMM_KC / DISTILLERY_GEMM_MC):
// k-block ~256 keeps a 16 x kc B micro-panel (16 KiB) in L1; m-block <= 144 rows keeps the
// packed A block (144 KiB) in L2. Blocks are balanced (M=128 is one block, K=784 is 4 x 196).
int64_t env_or(const char* name, int64_t def, int64_t lo, int64_t hi) {
  const char* v = std::getenv(name);
  const int64_t x = v ? std::atoll(v) : def;
  return x < lo ? lo : x > hi ? hi : x;
}
const int64_t g_kc = env_or("DISTILLERY_GEMM_KC", 256, 16, KC);
const int64_t g_mc = env_or("DISTILLERY_GEMM_MC", 144, 12, MC);
// When all of M fits one m-block (W's batch of 128), A is packed once per k-block and B is packed
// in n-blocks of this many columns, so that the packed B block (kc x 384: ~300 KiB) stays in L2
// next to A instead of being streamed from L3.
const int64_t g_nc_small = env_or("DISTILLERY_GEMM_NC_SMALL", 384, 48, NC);
// Loop order for small M: 1 = A packed once, C block kept in L2 across k-blocks; 0 = k-blocks outer.
const int64_t g_small_order = env_or("DISTILLERY_GEMM_SMALL_ORDER", 1, 0, 1);
constexpr int64_t kSmallAFloats = 1 << 20;  // 4 MiB cap on the whole packed A

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

// AVX2 helpers are compiled for AVX2+FMA; gemm_avx2 (flatten) inlines them into its loops.
#define KD_AVX2 __attribute__((target("avx2,fma"))) inline

// Generic packing (edge panels, baseline ISA): rows [0,rows) x k [0,kc) of a strided source
// (element (r,k) at src[r*rs + k*ks]) into one R-row panel dst[k][r], zero-padded.
template <int64_t R>
KD_INLINE void pack_panel_generic(float* __restrict dst, const float* __restrict s, int64_t rs, int64_t ks,
                                  int64_t nr, int64_t kc) {
  for (int64_t r = 0; r < nr; r++)
    for (int64_t k = 0; k < kc; k++) dst[k * R + r] = s[r * rs + k * ks];
  for (int64_t r = nr; r < R; r++)
    for (int64_t k = 0; k < kc; k++) dst[k * R + r] = 0.0f;
}

// Packs rows [0,rows) into R-row panels (dst advances by R*kc per panel).
template <int64_t R, void (*FullPanel)(float*, const float*, int64_t, int64_t, int64_t)>
KD_INLINE void pack(float* __restrict dst, const float* __restrict src, int64_t rs, int64_t ks, int64_t rows, int64_t kc) {
  for (int64_t r0 = 0; r0 < rows; r0 += R, dst += R * kc) {
    const int64_t nr = rows - r0 < R ? rows - r0 : R;
    if (nr == R) FullPanel(dst, src + r0 * rs, rs, ks, kc);
    else pack_panel_generic<R>(dst, src + r0 * rs, rs, ks, nr, kc);
  }
}

// Stores a finished MR x NR tile held in t (row-major, NR columns) into C (mr x nr valid).
template <int64_t MR, int64_t NR>
KD_INLINE void store_tail(float* C, int64_t ldc, const float* t, bool overwrite, int64_t mr, int64_t nr) {
  for (int64_t i = 0; i < mr; i++)
    for (int64_t j = 0; j < nr; j++) C[i * ldc + j] = overwrite ? t[i * NR + j] : C[i * ldc + j] + t[i * NR + j];
}

// ---------------- baseline (any x86-64 / other CPUs): vector extensions, 4 x 8 tile -------------
namespace base {
constexpr int64_t MR = 4, NR = 8;

KD_INLINE void full_panel(float* __restrict dst, const float* __restrict s, int64_t rs, int64_t ks, int64_t kc) {
  pack_panel_generic<MR>(dst, s, rs, ks, MR, kc);
}
KD_INLINE void full_panel_b(float* __restrict dst, const float* __restrict s, int64_t rs, int64_t ks, int64_t kc) {
  pack_panel_generic<NR>(dst, s, rs, ks, NR, kc);
}

KD_INLINE void micro(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* __restrict C,
                     int64_t ldc, bool overwrite, int64_t mr, int64_t nr) {
  v8f c0 = {}, c1 = {}, c2 = {}, c3 = {};
  for (int64_t k = 0; k < kc; k++, Ap += MR, Bp += NR) {
    const v8f b = *reinterpret_cast<const v8f*>(Bp);
    c0 += Ap[0] * b;
    c1 += Ap[1] * b;
    c2 += Ap[2] * b;
    c3 += Ap[3] * b;
  }
  alignas(32) float t[MR * NR];
  *reinterpret_cast<v8f*>(t) = c0;
  *reinterpret_cast<v8f*>(t + 8) = c1;
  *reinterpret_cast<v8f*>(t + 16) = c2;
  *reinterpret_cast<v8f*>(t + 24) = c3;
  store_tail<MR, NR>(C, ldc, t, overwrite, mr, nr);
}
}  // namespace base

// ---------------- AVX2 + FMA: 6 x 16 tile, 12 ymm accumulators -----------------------------------
namespace avx2 {

// 8x8 transpose of rows s, s+rs, ..., s+7rs (8 floats each) into d, d+ld, ..., d+7ld.
KD_AVX2 void transpose8(float* d, int64_t ld, const float* s, int64_t rs) {
  __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + rs), r2 = _mm256_loadu_ps(s + 2 * rs), r3 = _mm256_loadu_ps(s + 3 * rs);
  __m256 r4 = _mm256_loadu_ps(s + 4 * rs), r5 = _mm256_loadu_ps(s + 5 * rs), r6 = _mm256_loadu_ps(s + 6 * rs), r7 = _mm256_loadu_ps(s + 7 * rs);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_store_ps(d + 0 * ld, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_store_ps(d + 1 * ld, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_store_ps(d + 2 * ld, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_store_ps(d + 3 * ld, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_store_ps(d + 4 * ld, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_store_ps(d + 5 * ld, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_store_ps(d + 6 * ld, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_store_ps(d + 7 * ld, _mm256_permute2f128_ps(s3, s7, 0x31));
}

// A full R-row panel: straight copies when rows are contiguous (rs == 1), 8x8 transposes when
// k is contiguous (ks == 1, R % 8 == 0), else the generic gather.
template <int64_t R>
KD_AVX2 void full_panel_t(float* __restrict dst, const float* __restrict s, int64_t rs, int64_t ks, int64_t kc) {
  if (rs == 1) {
    for (int64_t k = 0; k < kc; k++) {
      const float* sk = s + k * ks;
      float* d = dst + k * R;
      if constexpr (R % 8 == 0) {
        for (int64_t r = 0; r < R; r += 8) _mm256_store_ps(d + r, _mm256_loadu_ps(sk + r));
      } else {
        for (int64_t r = 0; r < R; r++) d[r] = sk[r];
      }
    }
  } else if (ks == 1 && R % 8 == 0) {
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8)
      for (int64_t h = 0; h < R; h += 8) transpose8(dst + k * R + h, R, s + h * rs + k, rs);
    for (; k < kc; k++)
      for (int64_t r = 0; r < R; r++) dst[k * R + r] = s[r * rs + k];
  } else if (ks == 1) {
    // A panel of MR rows with k contiguous: read each row along k (6 streams).
    for (int64_t k = 0; k < kc; k++)
      for (int64_t r = 0; r < R; r++) dst[k * R + r] = s[r * rs + k];
  } else {
    pack_panel_generic<R>(dst, s, rs, ks, R, kc);
  }
}
template <int64_t R>
KD_AVX2 void full_panel(float* d, const float* s, int64_t rs, int64_t ks, int64_t kc) { full_panel_t<R>(d, s, rs, ks, kc); }

// ROWS x (8*NV) tile (ROWS <= MRT; the packed A panel has MRT rows, the B panel 8*NV columns):
// C (ROWS x nr, leading dimension ldc) = or += Ap · Bp. ROWS*NV accumulators (12 at most).
template <int MRT, int NV, int ROWS>
KD_AVX2 void micro_rows(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* __restrict C,
                        int64_t ldc, bool overwrite, int64_t nr) {
  constexpr int NRT = 8 * NV;
  __m256 c[ROWS][NV];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; i++) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) c[i][v] = _mm256_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + NRT - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    __m256 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = _mm256_load_ps(Bp + 8 * v);
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++) {
      const __m256 a = _mm256_broadcast_ss(Ap + i);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[i][v] = _mm256_fmadd_ps(a, b[v], c[i][v]);
    }
    Ap += MRT;
    Bp += NRT;
  }
  if (nr == NRT) {
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++) {
      float* p = C + i * ldc;
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        if (overwrite) _mm256_storeu_ps(p + 8 * v, c[i][v]);
        else _mm256_storeu_ps(p + 8 * v, _mm256_add_ps(_mm256_loadu_ps(p + 8 * v), c[i][v]));
      }
    }
    return;
  }
  alignas(32) float t[ROWS * NRT];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) _mm256_store_ps(t + i * NRT + 8 * v, c[i][v]);
  store_tail<ROWS, NRT>(C, ldc, t, overwrite, ROWS, nr);
}

template <int MRT, int NV>
KD_AVX2 void micro(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* __restrict C,
                   int64_t ldc, bool overwrite, int64_t mr, int64_t nr) {
  static_assert(MRT <= 6, "edge cases below cover 6 rows");
  switch (mr) {
    case 6: if constexpr (MRT >= 6) micro_rows<MRT, NV, 6>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    case 5: if constexpr (MRT >= 5) micro_rows<MRT, NV, 5>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    case 4: if constexpr (MRT >= 4) micro_rows<MRT, NV, 4>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    case 3: micro_rows<MRT, NV, 3>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    case 2: micro_rows<MRT, NV, 2>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    default: micro_rows<MRT, NV, 1>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
  }
}
}  // namespace avx2

// ---------------- AVX-512: 6 x 32 tile, 12 zmm accumulators -------------------------------------
// Same structure as the AVX2 kernel with 16-lane vectors. Not run on the development machine
// (no AVX-512 there): the load-time self-test (gemm_selftest) checks it against the naive loop
// and falls back to AVX2 if it disagrees.
#define KD_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))) inline
namespace avx512 {
template <int MRT, int NV, int ROWS>
KD_AVX512 void micro_rows(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* __restrict C,
                          int64_t ldc, bool overwrite, int64_t nr) {
  constexpr int NRT = 16 * NV;
  __m512 c[ROWS][NV];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; i++) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) c[i][v] = _mm512_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + NRT - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = _mm512_load_ps(Bp + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++) {
      const __m512 a = _mm512_set1_ps(Ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[i][v] = _mm512_fmadd_ps(a, b[v], c[i][v]);
    }
    Ap += MRT;
    Bp += NRT;
  }
  if (nr == NRT) {
#pragma GCC unroll 8
    for (int i = 0; i < ROWS; i++) {
      float* p = C + i * ldc;
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        if (overwrite) _mm512_storeu_ps(p + 16 * v, c[i][v]);
        else _mm512_storeu_ps(p + 16 * v, _mm512_add_ps(_mm512_loadu_ps(p + 16 * v), c[i][v]));
      }
    }
    return;
  }
  alignas(64) float t[ROWS * NRT];
#pragma GCC unroll 8
  for (int i = 0; i < ROWS; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) _mm512_store_ps(t + i * NRT + 16 * v, c[i][v]);
  store_tail<ROWS, NRT>(C, ldc, t, overwrite, ROWS, nr);
}

template <int MRT, int NV>
KD_AVX512 void micro(int64_t kc, const float* __restrict Ap, const float* __restrict Bp, float* __restrict C,
                     int64_t ldc, bool overwrite, int64_t mr, int64_t nr) {
  switch (mr) {
    case 6: micro_rows<MRT, NV, 6>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    case 5: micro_rows<MRT, NV, 5>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    case 4: micro_rows<MRT, NV, 4>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    case 3: micro_rows<MRT, NV, 3>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    case 2: micro_rows<MRT, NV, 2>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
    default: micro_rows<MRT, NV, 1>(kc, Ap, Bp, C, ldc, overwrite, nr); break;
  }
}
}  // namespace avx512

// The blocked loops (BLIS order: jc, pc [pack B], ic [pack A], jr, ir [micro-kernel]).
// C is (M,N); op(A)(i,k) = A[i*ars + k*aks]; op(B)(k,j) = B[k*bks + j*bjs].
template <int64_t MR, int64_t NR, void (*PackA)(float*, const float*, int64_t, int64_t, int64_t),
          void (*PackB)(float*, const float*, int64_t, int64_t, int64_t),
          void (*Micro)(int64_t, const float*, const float*, float*, int64_t, bool, int64_t, int64_t)>
KD_INLINE void gemm(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t ars,
                    int64_t aks, int64_t bks, int64_t bjs, bool accumulate, int64_t ldc) {
  static_assert(MC % MR == 0 && NC % NR == 0, "blocks must be multiples of the tile");
  PackBuffers& buf = buffers();
  // Balanced k-blocks (784 -> 4 x 196 rather than 3 x 256 + 16) and m-blocks (128 -> 1 x 128).
  const int64_t kblocks = (K + g_kc - 1) / g_kc;
  const int64_t kcb = (K + kblocks - 1) / kblocks;
  const int64_t mblocks = (M + g_mc - 1) / g_mc;
  const int64_t mcb = ((M + mblocks - 1) / mblocks + MR - 1) / MR * MR;
  if (mblocks == 1 && g_small_order == 1 && mcb * K <= kSmallAFloats) {
    // Small M, A fits a packed copy: pack all of A once (k-block after k-block), then
    // jc (L2-sized) -> pc -> pack B -> jr -> ir, so the C block being updated stays in L2
    // across the k-blocks instead of going back to L3 after each one.
    static thread_local std::vector<float> apack;
    if (apack.size() < static_cast<size_t>(mcb * K)) apack.resize(mcb * K);
    float* ap = apack.data();
    for (int64_t pc = 0; pc < K; pc += kcb) {
      const int64_t kc = K - pc < kcb ? K - pc : kcb;
      pack<MR, PackA>(ap + mcb * pc, A + pc * aks, ars, aks, M, kc);
    }
    const int64_t ncs = (g_nc_small + NR - 1) / NR * NR;
    for (int64_t jc = 0; jc < N; jc += ncs) {
      const int64_t nc = N - jc < ncs ? N - jc : ncs;
      for (int64_t pc = 0; pc < K; pc += kcb) {
        const int64_t kc = K - pc < kcb ? K - pc : kcb;
        const bool overwrite = pc == 0 && !accumulate;
        pack<NR, PackB>(buf.b, B + pc * bks + jc * bjs, bjs, bks, nc, kc);
        const float* Ablk = ap + mcb * pc;
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = nc - jr < NR ? nc - jr : NR;
          const float* Bp = buf.b + jr * kc;
          for (int64_t ir = 0; ir < M; ir += MR) {
            const int64_t mr = M - ir < MR ? M - ir : MR;
            Micro(kc, Ablk + ir * kc, Bp, C + ir * ldc + jc + jr, ldc, overwrite, mr, nr);
          }
        }
      }
    }
    return;
  }
  if (mblocks == 1) {
    // Small M: pc -> pack A (all rows) -> jc (L2-sized) -> pack B -> jr -> ir.
    const int64_t ncs = (g_nc_small + NR - 1) / NR * NR;
    for (int64_t pc = 0; pc < K; pc += kcb) {
      const int64_t kc = K - pc < kcb ? K - pc : kcb;
      const bool overwrite = pc == 0 && !accumulate;
      pack<MR, PackA>(buf.a, A + pc * aks, ars, aks, M, kc);
      for (int64_t jc = 0; jc < N; jc += ncs) {
        const int64_t nc = N - jc < ncs ? N - jc : ncs;
        pack<NR, PackB>(buf.b, B + pc * bks + jc * bjs, bjs, bks, nc, kc);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = nc - jr < NR ? nc - jr : NR;
          const float* Bp = buf.b + jr * kc;
          for (int64_t ir = 0; ir < M; ir += MR) {
            const int64_t mr = M - ir < MR ? M - ir : MR;
            Micro(kc, buf.a + ir * kc, Bp, C + ir * ldc + jc + jr, ldc, overwrite, mr, nr);
          }
        }
      }
    }
    return;
  }
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = N - jc < NC ? N - jc : NC;
    for (int64_t pc = 0; pc < K; pc += kcb) {
      const int64_t kc = K - pc < kcb ? K - pc : kcb;
      pack<NR, PackB>(buf.b, B + pc * bks + jc * bjs, bjs, bks, nc, kc);
      const bool overwrite = pc == 0 && !accumulate;
      for (int64_t ic = 0; ic < M; ic += mcb) {
        const int64_t mc = M - ic < mcb ? M - ic : mcb;
        pack<MR, PackA>(buf.a, A + ic * ars + pc * aks, ars, aks, mc, kc);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = nc - jr < NR ? nc - jr : NR;
          const float* Bp = buf.b + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = mc - ir < MR ? mc - ir : MR;
            Micro(kc, buf.a + ir * kc, Bp, C + (ic + ir) * ldc + jc + jr, ldc, overwrite, mr, nr);
          }
        }
      }
    }
  }
}

// 6 x 16 tile (12 ymm accumulators: 6 broadcasts + 2 loads per 12 FMAs).
__attribute__((target("avx2,fma"), flatten)) void gemm_avx2(float* C, const float* A, const float* B, int64_t M, int64_t N,
                                                    int64_t K, int64_t ars, int64_t aks, int64_t bks, int64_t bjs, bool acc, int64_t ldc) {
  gemm<6, 16, avx2::full_panel<6>, avx2::full_panel<16>, avx2::micro<6, 2>>(C, A, B, M, N, K, ars, aks, bks, bjs, acc, ldc);
}

// 4 x 24 tile (12 ymm accumulators: 4 broadcasts + 3 loads per 12 FMAs).
__attribute__((target("avx2,fma"), flatten)) void gemm_avx2_4x24(float* C, const float* A, const float* B, int64_t M, int64_t N,
                                                         int64_t K, int64_t ars, int64_t aks, int64_t bks, int64_t bjs, bool acc, int64_t ldc) {
  gemm<4, 24, avx2::full_panel<4>, avx2::full_panel<24>, avx2::micro<4, 3>>(C, A, B, M, N, K, ars, aks, bks, bjs, acc, ldc);
}

// 6 x 32 tile, zmm (packing reuses the AVX2 8x8 transposes).
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"), flatten)) void gemm_avx512(
    float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t ars, int64_t aks, int64_t bks,
    int64_t bjs, bool acc, int64_t ldc) {
  gemm<6, 32, avx2::full_panel<6>, avx2::full_panel<32>, avx512::micro<6, 2>>(C, A, B, M, N, K, ars, aks, bks, bjs, acc, ldc);
}

void gemm_base(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t ars, int64_t aks,
               int64_t bks, int64_t bjs, bool acc, int64_t ldc) {
  gemm<base::MR, base::NR, base::full_panel, base::full_panel_b, base::micro>(C, A, B, M, N, K, ars, aks, bks, bjs, acc, ldc);
}

using GemmFn = void (*)(float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool, int64_t);

// Naive reference for the self-test (same strides as gemm).
void gemm_naive(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t ars, int64_t aks,
                int64_t bks, int64_t bjs, bool acc, int64_t ldc) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = acc ? C[i * ldc + j] : 0.0;
      for (int64_t k = 0; k < K; k++) s += static_cast<double>(A[i * ars + k * aks]) * B[k * bks + j * bjs];
      C[i * ldc + j] = static_cast<float>(s);
    }
}

// Runs `fn` on small shapes covering every transpose, accumulate, edge tiles, one and several
// m-blocks and k-blocks, against the naive loop. True when all agree.
bool gemm_selftest(GemmFn fn) {
  static const int64_t shapes[][3] = {{13, 37, 29}, {7, 45, 300}, {130, 33, 70}, {150, 40, 520}, {1, 1, 1}};
  uint32_t seed = 12345;
  auto rnd = [&seed]() {
    seed = seed * 1664525u + 1013904223u;
    return static_cast<float>(seed >> 8) / 16777216.0f - 0.5f;
  };
  for (const auto& sh : shapes) {
    const int64_t M = sh[0], N = sh[1], K = sh[2];
    float* A = static_cast<float*>(std::malloc(sizeof(float) * M * K));
    float* B = static_cast<float*>(std::malloc(sizeof(float) * K * N));
    float* C = static_cast<float*>(std::malloc(sizeof(float) * M * N));
    float* R = static_cast<float*>(std::malloc(sizeof(float) * M * N));
    bool ok = A && B && C && R;
    for (int64_t i = 0; ok && i < M * K; i++) A[i] = rnd();
    for (int64_t i = 0; ok && i < K * N; i++) B[i] = rnd();
    for (int v = 0; ok && v < 8; v++) {
      const bool tA = v & 1, tB = v & 2, acc = v & 4;
      const int64_t ars = tA ? 1 : K, aks = tA ? M : 1, bks = tB ? 1 : N, bjs = tB ? K : 1;
      for (int64_t i = 0; i < M * N; i++) C[i] = R[i] = rnd();
      fn(C, A, B, M, N, K, ars, aks, bks, bjs, acc, N);
      gemm_naive(R, A, B, M, N, K, ars, aks, bks, bjs, acc, N);
      for (int64_t i = 0; i < M * N; i++)
        if (!(std::fabs(C[i] - R[i]) <= 1e-4f * (1.0f + std::fabs(R[i])))) ok = false;
    }
    std::free(A);
    std::free(B);
    std::free(C);
    std::free(R);
    if (!ok) return false;
  }
  return true;
}

struct GemmChoice {
  GemmFn fn;
  const char* name;
  int64_t mr, nr;  // the register tile: kd_matmul_mt splits C along whole tiles
};

// Picked once, by the CPU this process runs on; DISTILLERY_GEMM_ISA=avx2|baseline caps it. Each
// candidate must pass the self-test, else the next one is used (and the reason is reported).
GemmChoice pick_gemm() {
  __builtin_cpu_init();
  const char* cap = std::getenv("DISTILLERY_GEMM_ISA");
  const bool allow512 = !cap || std::strcmp(cap, "avx512") == 0;
  const bool allow2 = allow512 || std::strcmp(cap, "avx2") == 0;
  const char* tile = std::getenv("DISTILLERY_GEMM_TILE");
  const bool t424 = tile && std::strcmp(tile, "4x24") == 0;
  static std::string failed;
  if (allow512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")) {
    if (gemm_selftest(gemm_avx512)) return {gemm_avx512, "avx512 6x32", 6, 32};
    failed += "avx512 kernel failed its self-test; ";
  }
  if (allow2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    const GemmFn f = t424 ? gemm_avx2_4x24 : gemm_avx2;
    if (gemm_selftest(f)) {
      failed += t424 ? "avx2 4x24" : "avx2 6x16";
      return {f, failed.c_str(), t424 ? 4 : 6, t424 ? 24 : 16};
    }
    failed += "avx2 kernel failed its self-test; ";
  }
  failed += "baseline 4x8";
  return {gemm_base, failed.c_str(), base::MR, base::NR};
}
const GemmChoice g_choice = pick_gemm();
const GemmFn g_gemm = g_choice.fn;

}  // namespace

namespace kd {
// C (M,N, leading dimension ldc) = op(A)·op(B) (+ C when accumulate) with op(A)(i,k) = A[i*ars + k*aks]
// and op(B)(k,j) = B[k*bks + j*bjs]: the dispatched single-thread gemm, for the convolutions.
void sgemm(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, int64_t ars, int64_t aks,
           int64_t bks, int64_t bjs, bool accumulate, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; i++) std::memset(C + i * ldc, 0, sizeof(float) * N);
    return;
  }
  g_gemm(C, A, B, M, N, K, ars, aks, bks, bjs, accumulate, ldc);
}
}  // namespace kd

extern "C" {

// C is (M,N); A is (M,K) or (K,M) if transA; B is (K,N) or (N,K) if transB.
void kd_matmul(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool transA, bool transB,
               bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) std::memset(C, 0, sizeof(float) * M * N);
    return;
  }
  // op(A)(i,k) = A[i*ars + k*aks]; op(B)(k,j) = B[k*bks + j*bjs].
  const int64_t ars = transA ? 1 : K, aks = transA ? M : 1;
  const int64_t bks = transB ? 1 : N, bjs = transB ? K : 1;
  if (N <= 12 && M >= 4 * N) {
    // Few columns (the logits layer, N = classes): a 16-wide tile would be mostly padding and
    // packing all of A would cost more than the product. Compute Cᵀ (N,M) = op(B)ᵀ·op(A)ᵀ (the
    // same strides, swapped) into a scratch buffer, then add its transpose into C.
    static thread_local std::vector<float> t;
    if (t.size() < static_cast<size_t>(M * N)) t.resize(M * N);
    float* T = t.data();
    g_gemm(T, B, A, N, M, K, bjs, bks, aks, ars, false, M);
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * N + j] = accumulate ? C[i * N + j] + T[j * M + i] : T[j * M + i];
    return;
  }
  g_gemm(C, A, B, M, N, K, ars, aks, bks, bjs, accumulate, N);
}

// kd_matmul on up to `threads` threads (the calling one and pool helpers): C is cut into
// column blocks (the weights' side, when N >= M: each thread packs only its part of B) or row
// blocks, each a whole single-thread gemm with C's leading dimension N. Every element of C is
// summed in the same order as by kd_matmul, so the results are bitwise identical.
void kd_matmul_mt(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool transA,
                  bool transB, bool accumulate, int64_t threads) {
  constexpr double kMinFlopsPerThread = 4e6;  // below this the hand-off costs more than it saves
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  int64_t parts = threads < 1 ? 1 : threads;
  if (parts > 64) parts = 64;
  while (parts > 1 && flops / static_cast<double>(parts) < kMinFlopsPerThread) parts--;
  if (parts <= 1 || M <= 0 || N <= 0 || K <= 0 || (N <= 12 && M >= 4 * N)) {
    kd_matmul(C, A, B, M, N, K, transA, transB, accumulate);
    return;
  }
  const int64_t ars = transA ? 1 : K, aks = transA ? M : 1;
  const int64_t bks = transB ? 1 : N, bjs = transB ? K : 1;
  const bool byCols = N >= M;
  // Blocks of whole register tiles (NR columns or MR rows of the kernel in use): every element
  // then sums in the same order as in one thread (bitwise the same C), and the blocks are as
  // fine as they can be: 800 columns are 25 + 25 tiles of 16 for two threads (32-column
  // blocks gave 13 + 12, 4% more work on one thread).
  const int64_t unit = byCols ? g_choice.nr : g_choice.mr, extent = byCols ? N : M;
  const int64_t units = (extent + unit - 1) / unit;
  if (units < parts) parts = units;
  if (parts <= 1) {
    kd_matmul(C, A, B, M, N, K, transA, transB, accumulate);
    return;
  }
  kd::parallel_parts(static_cast<int>(parts), [&](int p) {
    const int64_t u0 = units * p / parts, u1 = units * (p + 1) / parts;
    const int64_t lo = u0 * unit, hi = u1 * unit < extent ? u1 * unit : extent;
    if (hi <= lo) return;
    if (byCols)
      g_gemm(C + lo, A, B + lo * bjs, M, hi - lo, K, ars, aks, bks, bjs, accumulate, N);
    else
      g_gemm(C + lo * N, A + lo * ars, B, hi - lo, N, K, ars, aks, bks, bjs, accumulate, N);
  });
}

const char* kd_matmul_kernel() { return g_choice.name; }

const char* kd_isa() {
  // The same test the target_clones resolver makes.
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4";
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3";
  return "default";
}

}  // extern "C"
