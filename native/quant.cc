// native/quant.cc: the int8 kernels (see quant.h). Compiled with -ffp-contract=off (CMakeLists.txt):
// dequantize_int32 must round twice, f32(f32(acc − zero·wsum)·scale) + bias, never as one FMA.
//
// matmul_int8 with AVX-512 VNNI, M >= 16 and a row-major C uses the broadcast form (W packed per
// 32-column panel, see vnni::packed_gemm), and so do conv2d_int8's stride-1 convolutions with 4 or
// more output channels per group (C transposed: channels as rows, pixels as columns, the pixels'
// taps packed straight from a padded copy, see conv_images_vnni). Otherwise it is computed in
// dot-product form:
// acc[m,n] = Σ_k a[m,k]·w[n,k] over rows of A and rows of W, both contiguous in k, so neither
// operand is packed (W is used in place: no per-call reorder of the weights, which at M = 1 would
// cost as much as the product). A register tile of
// MR rows × 4 columns keeps MR·4 vector accumulators of partial sums; they are reduced to the 4
// int32 results of each row once, at the end of k.
// - AVX-512 VNNI: vpdpbusd (u8 × s8, four products summed into each int32 lane). Its sums do not
//   saturate (only vpdpbusds does): exact for K <= 32768 (|acc| <= 255·128·K < 2^31). The tail of
//   k is read with masked loads (no byte past the rows is touched).
// - AVX2: vpmaddubsw would add u8×s8 pairs in saturating int16 (255·(−128)·2 = −65280 does not
//   fit), so, as oneDNN does on its exact path, the bytes are widened to int16 first
//   (vpmovzxbw / vpmovsxbw) and multiplied with vpmaddwd (int16 pairs summed into int32: exact).
// - scalar: plain int32 loops.
// The kernel is picked once by CPUID; DISTILLERY_GEMM_ISA=avx2|baseline caps it (as for the sgemm),
// and each candidate must pass a self-test against the scalar loops on saturating operands.
#include "quant.h"

#include <immintrin.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "pool.h"
#include "simd.h"

namespace {

// C[m*csm + n*csn] = Σ_k A[m*lda + k]·W[n*ldw + k] for m < M, n < N.
using I8GemmFn = void (*)(int32_t* C, const uint8_t* A, const int8_t* W, int64_t M, int64_t N, int64_t K, int64_t lda,
                          int64_t ldw, int64_t csm, int64_t csn);

// ---- scalar ----------------------------------------------------------------------------------
void i8gemm_scalar(int32_t* C, const uint8_t* A, const int8_t* W, int64_t M, int64_t N, int64_t K, int64_t lda,
                   int64_t ldw, int64_t csm, int64_t csn) {
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      const uint8_t* a = A + m * lda;
      const int8_t* w = W + n * ldw;
      int32_t s = 0;
      for (int64_t k = 0; k < K; k++) s += static_cast<int32_t>(a[k]) * static_cast<int32_t>(w[k]);
      C[m * csm + n * csn] = s;
    }
}

// Rows of A are walked in blocks that keep A's block in L2 while a 4-column panel of W stays in L1.
constexpr int64_t kABlockBytes = 256 * 1024;
inline int64_t row_block(int64_t K, int64_t MR) {
  int64_t mb = kABlockBytes / (K > 0 ? K : 1);
  mb -= mb % MR;
  return mb < MR ? MR : mb;
}

// ---- AVX-512 VNNI ----------------------------------------------------------------------------
#define KD_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2")))
#define KD_STR2(x) #x
#define KD_STR(x) KD_STR2(x)
// The VNNI register tile (rows of A × rows of W); kd_matmul_int8_mt splits along whole tiles.
#ifndef VNNI_MR
#define VNNI_MR 4
#define VNNI_NR 4
#endif

namespace vnni {
// The 4 sums of 4 accumulators (columns j..j+3 of one row) as one xmm: two unpack/add rounds
// leave, per 128-bit lane, [sum0, sum1, sum2, sum3] of that lane; then the 4 lanes are added.
KD_VNNI KD_INLINE __m128i reduce4(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
  const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
  const __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
  const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// One MR × NR tile (NR <= 8) over all of K: the MR activation vectors are loaded once per 64 k
// (rows of A, from L2), then each weight vector once (the NR-row panel of W stays in L1 while the
// rows of A pass).
template <int MR, int NR>
KD_VNNI KD_INLINE void tile(int32_t* C, const uint8_t* A, const int8_t* W, int64_t K, int64_t lda, int64_t ldw,
                            int64_t csm, int64_t csn) {
  constexpr int NG = NR > 4 ? 8 : 4;  // accumulators per row, reduced 4 at a time
  __m512i acc[MR][NG];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NG; j++) acc[i][j] = _mm512_setzero_si512();
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    __m512i a[MR];
    for (int i = 0; i < MR; i++) a[i] = _mm512_loadu_si512(A + i * lda + k);
    for (int j = 0; j < NR; j++) {
      const __m512i b = _mm512_loadu_si512(W + j * ldw + k);
      for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a[i], b);
    }
  }
  if (k < K) {
    const __mmask64 mask = (~0ULL) >> (64 - (K - k));
    __m512i a[MR];
    for (int i = 0; i < MR; i++) a[i] = _mm512_maskz_loadu_epi8(mask, A + i * lda + k);
    for (int j = 0; j < NR; j++) {
      const __m512i b = _mm512_maskz_loadu_epi8(mask, W + j * ldw + k);
      for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a[i], b);
    }
  }
  for (int i = 0; i < MR; i++) {
    int32_t* c = C + i * csm;
    for (int g = 0; g < NG; g += 4) {
      const __m128i s = reduce4(acc[i][g], acc[i][g + 1], acc[i][g + 2], acc[i][g + 3]);
      const int nj = NR - g < 4 ? NR - g : 4;
      if (nj == 4 && csn == 1) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(c + g), s);
      } else {
        alignas(16) int32_t v[4];
        _mm_store_si128(reinterpret_cast<__m128i*>(v), s);
        for (int j = 0; j < nj; j++) c[(g + j) * csn] = v[j];
      }
    }
  }
}

template <int MR>
KD_VNNI KD_INLINE void tile_cols(int32_t* C, const uint8_t* A, const int8_t* W, int64_t nr, int64_t K, int64_t lda,
                                 int64_t ldw, int64_t csm, int64_t csn) {
  switch (nr) {
    case 8: tile<MR, 8>(C, A, W, K, lda, ldw, csm, csn); break;
    case 7: tile<MR, 7>(C, A, W, K, lda, ldw, csm, csn); break;
    case 6: tile<MR, 6>(C, A, W, K, lda, ldw, csm, csn); break;
    case 5: tile<MR, 5>(C, A, W, K, lda, ldw, csm, csn); break;
    case 4: tile<MR, 4>(C, A, W, K, lda, ldw, csm, csn); break;
    case 3: tile<MR, 3>(C, A, W, K, lda, ldw, csm, csn); break;
    case 2: tile<MR, 2>(C, A, W, K, lda, ldw, csm, csn); break;
    default: tile<MR, 1>(C, A, W, K, lda, ldw, csm, csn); break;
  }
}

// ---- the broadcast (packed) form, for M >= kPackMinRows rows of A ----
// W's rows are packed, 32 at a time (one panel, two zmm wide), so that one 64-byte vector holds
// 16 columns × 4 consecutive k: panel[q][c][0..3] = W[c][4q..4q+3] (zero past K and past N).
// Then each 4 bytes of a row of A are broadcast (vpbroadcastd from memory) and vpdpbusd adds
// their products into 16 columns at once: accumulators hold finished sums (no reduction at the
// end of k) and the tile is MR rows × 32 columns. The panel (32·K bytes: 25 KB at K = 784) is
// packed just before it is used and stays in L1 while every row tile of A passes; packing costs
// one pass over W per call (a 16×16 int32 transpose per 1 KB), about 1/40 of the product at M = 128.
// Measured (one core, 128×768×784, interleaved with the dot form): 8×2 tiles 245 µs against
// 345 µs; 4×3 equal to 8×2, 4×4 330 µs and 6×3 330 µs (the 48- and 64-column panels outgrow L1).
constexpr int64_t kPackMinRows = 16;
constexpr int kPanelCols = 32;

// rows r0..r15 (16 int32 each, k-quads) → o[q] = the 16 rows' quad q.
KD_VNNI KD_INLINE void transpose16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {  // u[4i+j], 128-bit lane L: rows 4i..4i+3 of quad 4L+j
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; j++) {  // lanes L of u[j], u[4+j], u[8+j], u[12+j] → quad 4L+j
    const __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44), v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xEE);
    const __m512i w0 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44), w1 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xEE);
    r[j] = _mm512_shuffle_i32x4(v0, w0, 0x88);
    r[4 + j] = _mm512_shuffle_i32x4(v0, w0, 0xDD);
    r[8 + j] = _mm512_shuffle_i32x4(v1, w1, 0x88);
    r[12 + j] = _mm512_shuffle_i32x4(v1, w1, 0xDD);
  }
}

// Packs rows 0..ncols-1 (ncols <= 32, ldw bytes apart) of W into panel P: Kq16 quads (K/4 rounded
// up to a multiple of 16) × 32 columns × 4 bytes, zero past K and past ncols.
KD_VNNI KD_INLINE void pack_panel(int8_t* P, const int8_t* W, int64_t ncols, int64_t K, int64_t ldw) {
  for (int cg = 0; cg < 2; cg++)
    for (int64_t k = 0; k < K; k += 64) {
      const __mmask64 mask = K - k >= 64 ? ~0ULL : (~0ULL) >> (64 - (K - k));
      __m512i r[16];
      for (int i = 0; i < 16; i++) {
        const int64_t c = cg * 16 + i;
        r[i] = c < ncols ? _mm512_maskz_loadu_epi8(mask, W + c * ldw + k) : _mm512_setzero_si512();
      }
      transpose16(r);
      int8_t* d = P + ((k / 4) * kPanelCols + cg * 16) * 4;
      for (int q = 0; q < 16; q++) _mm512_storeu_si512(d + q * kPanelCols * 4, r[q]);
    }
}

// C[i·csm + j] for MR rows of A and the panel's ncols (<= 32) columns.
// kSwap: the roles of the bytes are swapped, A holds the int8 operand (broadcast) and the panel the
// uint8 one (the convolutions' transposed form: ctile, conv_images_vnni).
template <bool kSwap>
KD_VNNI KD_INLINE __m512i dp(__m512i acc, __m512i a, __m512i b) {
  return kSwap ? _mm512_dpbusd_epi32(acc, b, a) : _mm512_dpbusd_epi32(acc, a, b);
}

// acc = the MR rows of A times the panel (32 columns: two zmm per row).
template <int MR, bool kSwap>
KD_VNNI KD_INLINE void bcompute(__m512i (&acc)[MR][2], const uint8_t* A, int64_t lda, const int8_t* P, int64_t K) {
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_si512();
  const int64_t Kf = K / 4;
  for (int64_t q = 0; q < Kf; q++) {
    const __m512i b0 = _mm512_loadu_si512(P + q * 128), b1 = _mm512_loadu_si512(P + q * 128 + 64);
    for (int i = 0; i < MR; i++) {
      int32_t x;
      std::memcpy(&x, A + i * lda + 4 * q, 4);
      const __m512i a = _mm512_set1_epi32(x);
      acc[i][0] = dp<kSwap>(acc[i][0], a, b0);
      acc[i][1] = dp<kSwap>(acc[i][1], a, b1);
    }
  }
  if (K % 4) {  // the last 1-3 k: only those bytes of A are read (W's packed quad is zero past K)
    const __m512i b0 = _mm512_loadu_si512(P + Kf * 128), b1 = _mm512_loadu_si512(P + Kf * 128 + 64);
    for (int i = 0; i < MR; i++) {
      int32_t x = 0;
      std::memcpy(&x, A + i * lda + 4 * Kf, static_cast<size_t>(K % 4));
      const __m512i a = _mm512_set1_epi32(x);
      acc[i][0] = dp<kSwap>(acc[i][0], a, b0);
      acc[i][1] = dp<kSwap>(acc[i][1], a, b1);
    }
  }
}

template <int MR>
KD_VNNI KD_INLINE void btile(int32_t* C, int64_t csm, const uint8_t* A, int64_t lda, const int8_t* P, int64_t K, int64_t ncols) {
  __m512i acc[MR][2];
  bcompute<MR, false>(acc, A, lda, P, K);
  if (ncols == kPanelCols) {
    for (int i = 0; i < MR; i++) {
      _mm512_storeu_si512(C + i * csm, acc[i][0]);
      _mm512_storeu_si512(C + i * csm + 16, acc[i][1]);
    }
  } else {
    const __mmask16 m0 = static_cast<__mmask16>(ncols >= 16 ? 0xFFFF : (1u << ncols) - 1);
    const __mmask16 m1 = static_cast<__mmask16>(ncols <= 16 ? 0 : (1u << (ncols - 16)) - 1);
    for (int i = 0; i < MR; i++) {
      _mm512_mask_storeu_epi32(C + i * csm, m0, acc[i][0]);
      _mm512_mask_storeu_epi32(C + i * csm + 16, m1, acc[i][1]);
    }
  }
}

// The convolutions' tile: rows are output channels (A = their int8 weights, broadcast), the panel
// holds 32 "virtual" pixels of which the lanes in m0/m1 are real; those are compressed to the front
// and stored at C + p0 / C + p1 (row i at C + i·csm), the junk lanes dropped.
template <int MR>
KD_VNNI KD_INLINE void ctile(int32_t* C, int64_t csm, const uint8_t* A, int64_t lda, const int8_t* P, int64_t K,
                             __mmask16 m0, __mmask16 m1, int64_t p0, int64_t p1) {
  __m512i acc[MR][2];
  bcompute<MR, true>(acc, A, lda, P, K);
  const __mmask16 s0 = static_cast<__mmask16>((1u << __builtin_popcount(m0)) - 1), s1 = static_cast<__mmask16>((1u << __builtin_popcount(m1)) - 1);
  for (int i = 0; i < MR; i++) {
    _mm512_mask_storeu_epi32(C + i * csm + p0, s0, _mm512_maskz_compress_epi32(m0, acc[i][0]));
    _mm512_mask_storeu_epi32(C + i * csm + p1, s1, _mm512_maskz_compress_epi32(m1, acc[i][1]));
  }
}

// The broadcast form over all of C (csn == 1): panels of 32 columns, each packed into a
// per-thread buffer, then 8-row tiles (the last 1-7 rows: one smaller tile).
KD_VNNI void packed_gemm(int32_t* C, const uint8_t* A, const int8_t* W, int64_t M, int64_t N, int64_t K, int64_t lda,
                         int64_t ldw, int64_t csm) {
  constexpr int64_t MR = 8;
  thread_local std::vector<int8_t> panel;
  const int64_t Kq16 = (K + 63) / 64 * 16;
  if (static_cast<int64_t>(panel.size()) < Kq16 * kPanelCols * 4) panel.resize(static_cast<size_t>(Kq16 * kPanelCols * 4));
  int8_t* P = panel.data();
  const int64_t mb = row_block(K, MR);  // A's rows in blocks that stay in L2 (each panel packed once per block)
  for (int64_t m0 = 0; m0 < M; m0 += mb) {
    const int64_t m1 = m0 + mb < M ? m0 + mb : M;
    for (int64_t n = 0; n < N; n += kPanelCols) {
      const int64_t nc = N - n < kPanelCols ? N - n : kPanelCols;
      pack_panel(P, W + n * ldw, nc, K, ldw);
      int64_t m = m0;
      for (; m + MR <= m1; m += MR) btile<MR>(C + m * csm + n, csm, A + m * lda, lda, P, K, nc);
      switch (m1 - m) {
        case 7: btile<7>(C + m * csm + n, csm, A + m * lda, lda, P, K, nc); break;
        case 6: btile<6>(C + m * csm + n, csm, A + m * lda, lda, P, K, nc); break;
        case 5: btile<5>(C + m * csm + n, csm, A + m * lda, lda, P, K, nc); break;
        case 4: btile<4>(C + m * csm + n, csm, A + m * lda, lda, P, K, nc); break;
        case 3: btile<3>(C + m * csm + n, csm, A + m * lda, lda, P, K, nc); break;
        case 2: btile<2>(C + m * csm + n, csm, A + m * lda, lda, P, K, nc); break;
        case 1: btile<1>(C + m * csm + n, csm, A + m * lda, lda, P, K, nc); break;
        default: break;
      }
    }
  }
}
}  // namespace vnni

// M >= 16 rows with a row-major C: the broadcast form above. Otherwise (batch 1, the column-major
// C of the convolutions) the dot form, which reads W in place:
// 4 rows × 4 columns: 16 zmm accumulators, 4 activation vectors per 64 k, weights as memory operands.
// Measured (one core, 128x800x784): 4x4 412 us; 6x4 665 us, 2x8 579 us, 3x8 800 us (more row pointers
// than general registers: the address arithmetic spills), and 4x4 with all 4 weight vectors
// loaded before the activations 456 us.
KD_VNNI __attribute__((flatten)) void i8gemm_vnni(int32_t* C, const uint8_t* A, const int8_t* W, int64_t M, int64_t N,
                                                 int64_t K, int64_t lda, int64_t ldw, int64_t csm, int64_t csn) {
  if (M >= vnni::kPackMinRows && csn == 1) {
    vnni::packed_gemm(C, A, W, M, N, K, lda, ldw, csm);
    return;
  }
  constexpr int64_t MR = VNNI_MR, NR = VNNI_NR;
  const int64_t mb = row_block(K, MR);
  for (int64_t m0 = 0; m0 < M; m0 += mb) {
    const int64_t m1 = m0 + mb < M ? m0 + mb : M;
    for (int64_t n = 0; n < N; n += NR) {
      const int64_t nr = N - n < NR ? N - n : NR;
      int64_t m = m0;
      for (; m + MR <= m1; m += MR) vnni::tile_cols<MR>(C + m * csm + n * csn, A + m * lda, W + n * ldw, nr, K, lda, ldw, csm, csn);
      switch (m1 - m) {
        case 5: vnni::tile_cols<5>(C + m * csm + n * csn, A + m * lda, W + n * ldw, nr, K, lda, ldw, csm, csn); break;
        case 4: vnni::tile_cols<4>(C + m * csm + n * csn, A + m * lda, W + n * ldw, nr, K, lda, ldw, csm, csn); break;
        case 3: vnni::tile_cols<3>(C + m * csm + n * csn, A + m * lda, W + n * ldw, nr, K, lda, ldw, csm, csn); break;
        case 2: vnni::tile_cols<2>(C + m * csm + n * csn, A + m * lda, W + n * ldw, nr, K, lda, ldw, csm, csn); break;
        case 1: vnni::tile_cols<1>(C + m * csm + n * csn, A + m * lda, W + n * ldw, nr, K, lda, ldw, csm, csn); break;
        default: break;
      }
    }
  }
}

// ---- AVX2 (exact: widened to int16, vpmaddwd) ----------------------------------------------------
#define KD_AVX2 __attribute__((target("avx2")))

namespace avx2 {
KD_AVX2 KD_INLINE __m128i reduce4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

template <int MR, int NR>
KD_AVX2 KD_INLINE void tile(int32_t* C, const uint8_t* A, const int8_t* W, int64_t K, int64_t lda, int64_t ldw,
                            int64_t csm, int64_t csn) {
  __m256i acc[MR][4];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_si256();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m256i a[MR];
    for (int i = 0; i < MR; i++) a[i] = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(A + i * lda + k)));
    for (int j = 0; j < NR; j++) {
      const __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(W + j * ldw + k)));
      for (int i = 0; i < MR; i++) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(a[i], b));
    }
  }
  for (int i = 0; i < MR; i++) {
    alignas(16) int32_t v[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(v), reduce4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]));
    for (int j = 0; j < NR; j++) {
      int32_t s = v[j];
      for (int64_t kk = k; kk < K; kk++) s += static_cast<int32_t>(A[i * lda + kk]) * static_cast<int32_t>(W[j * ldw + kk]);
      C[i * csm + j * csn] = s;
    }
  }
}

template <int MR>
KD_AVX2 KD_INLINE void tile_cols(int32_t* C, const uint8_t* A, const int8_t* W, int64_t nr, int64_t K, int64_t lda,
                                 int64_t ldw, int64_t csm, int64_t csn) {
  switch (nr) {
    case 4: tile<MR, 4>(C, A, W, K, lda, ldw, csm, csn); break;
    case 3: tile<MR, 3>(C, A, W, K, lda, ldw, csm, csn); break;
    case 2: tile<MR, 2>(C, A, W, K, lda, ldw, csm, csn); break;
    default: tile<MR, 1>(C, A, W, K, lda, ldw, csm, csn); break;
  }
}
}  // namespace avx2

// 2 rows × 4 columns: 8 ymm accumulators, 2 widened activation vectors, 1 weight vector per 16 k.
KD_AVX2 __attribute__((flatten)) void i8gemm_avx2(int32_t* C, const uint8_t* A, const int8_t* W, int64_t M, int64_t N,
                                                 int64_t K, int64_t lda, int64_t ldw, int64_t csm, int64_t csn) {
  constexpr int64_t MR = 2, NR = 4;
  const int64_t mb = row_block(K, MR);
  for (int64_t m0 = 0; m0 < M; m0 += mb) {
    const int64_t m1 = m0 + mb < M ? m0 + mb : M;
    for (int64_t n = 0; n < N; n += NR) {
      const int64_t nr = N - n < NR ? N - n : NR;
      int64_t m = m0;
      for (; m + MR <= m1; m += MR) avx2::tile_cols<2>(C + m * csm + n * csn, A + m * lda, W + n * ldw, nr, K, lda, ldw, csm, csn);
      if (m < m1) avx2::tile_cols<1>(C + m * csm + n * csn, A + m * lda, W + n * ldw, nr, K, lda, ldw, csm, csn);
    }
  }
}

// ---- dispatch --------------------------------------------------------------------------------

// The candidate against the scalar loops on full-range and saturating operands (every pair
// 255·(−128)), odd shapes (row/column/k tails) and a strided (transposed) output. True when exact.
bool i8gemm_selftest(I8GemmFn fn) {
  static const int64_t shapes[][3] = {{1, 1, 1}, {5, 7, 63}, {9, 13, 129}, {4, 4, 64}, {3, 6, 1000}, {17, 5, 200}, {23, 37, 131}, {16, 32, 64}};
  uint32_t seed = 777;
  auto rnd = [&seed]() {
    seed = seed * 1664525u + 1013904223u;
    return static_cast<int>(seed >> 24);
  };
  for (int extreme = 0; extreme < 2; extreme++)
    for (const auto& sh : shapes) {
      const int64_t M = sh[0], N = sh[1], K = sh[2];
      std::vector<uint8_t> A(M * K);
      std::vector<int8_t> W(N * K);
      std::vector<int32_t> C(M * N), R(M * N), T(M * N);
      for (auto& v : A) v = extreme ? 255 : static_cast<uint8_t>(rnd());
      for (auto& v : W) v = extreme ? -128 : static_cast<int8_t>(rnd() - 128);
      i8gemm_scalar(R.data(), A.data(), W.data(), M, N, K, K, K, N, 1);
      fn(C.data(), A.data(), W.data(), M, N, K, K, K, N, 1);
      fn(T.data(), A.data(), W.data(), M, N, K, K, K, 1, M);  // column-major output
      for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++)
          if (C[m * N + n] != R[m * N + n] || T[n * M + m] != R[m * N + n]) return false;
    }
  return true;
}

struct I8Choice {
  I8GemmFn fn;
  const char* name;
};

I8Choice pick_i8gemm() {
  __builtin_cpu_init();
  const char* cap = std::getenv("DISTILLERY_GEMM_ISA");
  const bool allow512 = !cap || std::strcmp(cap, "avx512") == 0;
  const bool allow2 = allow512 || std::strcmp(cap, "avx2") == 0;
  static std::string failed;
  if (allow512 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni")) {
    if (i8gemm_selftest(i8gemm_vnni)) return {i8gemm_vnni, "avx512-vnni " KD_STR(VNNI_MR) "x" KD_STR(VNNI_NR)};
    failed += "avx512-vnni kernel failed its self-test; ";
  }
  if (allow2 && __builtin_cpu_supports("avx2")) {
    if (i8gemm_selftest(i8gemm_avx2)) {
      failed += "avx2 2x4";
      return {i8gemm_avx2, failed.c_str()};
    }
    failed += "avx2 kernel failed its self-test; ";
  }
  failed += "scalar";
  return {i8gemm_scalar, failed.c_str()};
}
const I8Choice g_i8 = pick_i8gemm();

// ---- quantize_int8 ---------------------------------------------------------------------------

// One value as the reference does it: NaN -> 0, clamp to ±512 in float (so ±Inf and huge values
// never reach the integer conversion), round half to even, add the zero point, clamp to [0,255].
KD_INLINE uint8_t quantize_one(float x, float s, int32_t zp) {
  float v = x * s;
  if (v != v) v = 0.0f;
  v = v > 512.0f ? 512.0f : v < -512.0f ? -512.0f : v;
  const int32_t z = static_cast<int32_t>(std::nearbyint(v)) + zp;  // default rounding: to nearest even
  return static_cast<uint8_t>(z < 0 ? 0 : z > 255 ? 255 : z);
}

void quantize_scalar(uint8_t* q, const float* x, int64_t n, float s, int32_t zp) {
  for (int64_t i = 0; i < n; i++) q[i] = quantize_one(x[i], s, zp);
}

// 32 values per step: vcvtps2dq rounds to nearest even under the default MXCSR; the clamp to
// [0,255] is the saturating packs (int32 -> int16 -> uint8), whose lane order is then restored.
KD_AVX2 KD_INLINE __m256i quantize8(const float* p, __m256 vs, __m256i vz) {
  __m256 v = _mm256_mul_ps(_mm256_loadu_ps(p), vs);
  v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN -> 0
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-512.0f)), _mm256_set1_ps(512.0f));
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), vz);
}

KD_AVX2 void quantize_avx2(uint8_t* q, const float* x, int64_t n, float s, int32_t zp) {
  const __m256 vs = _mm256_set1_ps(s);
  const __m256i vz = _mm256_set1_epi32(zp), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i ab = _mm256_packs_epi32(quantize8(x + i, vs, vz), quantize8(x + i + 8, vs, vz));
    const __m256i cd = _mm256_packs_epi32(quantize8(x + i + 16, vs, vz), quantize8(x + i + 24, vs, vz));
    const __m256i r = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), r);
  }
  for (; i < n; i++) q[i] = quantize_one(x[i], s, zp);
}

const bool g_avx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") != 0) &&
                    !(std::getenv("DISTILLERY_GEMM_ISA") && std::strcmp(std::getenv("DISTILLERY_GEMM_ISA"), "baseline") == 0);

// 64 values per step on AVX-512 (the int8 GEMM's ISA gate): NaN lanes are zeroed by the masked
// conversion (so they become zeroPoint), the clamp to [0,255] is a max with 0 here and the unsigned
// saturating narrow vpmovusdb at the store. About 2x the AVX2 loop (its packs and lane fix-up go).
// 16 values x as int32 in [0, ∞): round(clamp(x·s, ±512)) + zp, NaN → zp.
KD_VNNI KD_INLINE __m512i quantize_lanes(__m512 x, __m512 vs, __m512i vz) {
  const __m512 v = _mm512_mul_ps(x, vs);
  const __mmask16 ord = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
  const __m512 c = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-512.0f)), _mm512_set1_ps(512.0f));
  return _mm512_max_epi32(_mm512_add_epi32(_mm512_maskz_cvtps_epi32(ord, c), vz), _mm512_setzero_si512());
}

KD_VNNI KD_INLINE __m128i quantize16(const float* p, __m512 vs, __m512i vz) {
  return _mm512_cvtusepi32_epi8(quantize_lanes(_mm512_loadu_ps(p), vs, vz));
}

KD_VNNI void quantize_avx512(uint8_t* q, const float* x, int64_t n, float s, int32_t zp) {
  const __m512 vs = _mm512_set1_ps(s);
  const __m512i vz = _mm512_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), quantize16(x + i, vs, vz));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 16), quantize16(x + i + 16, vs, vz));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 32), quantize16(x + i + 32, vs, vz));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 48), quantize16(x + i + 48, vs, vz));
  }
  for (; i + 16 <= n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), quantize16(x + i, vs, vz));
  if (i < n) {  // the tail, masked: no read or write past n
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_cvtusepi32_storeu_epi8(q + i, m, quantize_lanes(_mm512_maskz_loadu_ps(m, x + i), vs, vz));
  }
}

const bool g_q512 = g_i8.fn == i8gemm_vnni;  // AVX-512 allowed and present, and the int8 GEMM passed its self-test

// ---- conv2d_int8 -----------------------------------------------------------------------------

struct Geo {
  int64_t C, H, W, OC, k, stride, pad, groups, OH, OW, cg, og, ckk;
};

// Depthwise-like convolutions (one input channel per group): direct, on a copy of the plane padded
// with xZero; the inner loop runs along an output row (vectorized by the clones at stride 1).
KD_CLONES void conv_direct(int32_t* __restrict acc, const uint8_t* __restrict x, const int8_t* __restrict w, const Geo& g, int32_t xZero) {
  const int64_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  // Rows of 3×3 stride-1 outputs are computed in whole blocks of 16 (no scalar tail), reading up
  // to 16 + 2 bytes past a row's end: the slack after the plane covers the last row.
  const int64_t OWr = (g.OW + 15) & ~int64_t{15};
  static thread_local std::vector<uint8_t> padded;
  static thread_local std::vector<int32_t> rowbuf;
  if (padded.size() < static_cast<size_t>(Hp * Wp + OWr + 32)) padded.resize(Hp * Wp + OWr + 32);
  if (rowbuf.size() < static_cast<size_t>(OWr)) rowbuf.resize(OWr);
  uint8_t* P = padded.data();
  std::memset(P, xZero, Hp * Wp + OWr + 32);
  int64_t planeOf = -1;
  for (int64_t o = 0; o < g.OC; o++) {
    const int64_t c = o / g.og;  // the group's one input channel
    if (c != planeOf) {
      for (int64_t h = 0; h < g.H; h++) std::memcpy(P + (h + g.pad) * Wp + g.pad, x + (c * g.H + h) * g.W, g.W);
      planeOf = c;
    }
    const int8_t* wo = w + o * g.k * g.k;
    if (g.k == 3 && g.stride == 1) {
      // The common 3×3 stride-1 case: the nine taps summed per output pixel in one pass along the
      // row (vectorized along j), instead of nine read-modify-write passes over the row.
      const int32_t w0 = wo[0], w1 = wo[1], w2 = wo[2], w3 = wo[3], w4 = wo[4], w5 = wo[5], w6 = wo[6], w7 = wo[7], w8 = wo[8];
      for (int64_t i = 0; i < g.OH; i++) {
        int32_t* __restrict row = acc + (o * g.OH + i) * g.OW;
        const uint8_t* __restrict r0 = P + i * Wp;
        const uint8_t* __restrict r1 = r0 + Wp;
        const uint8_t* __restrict r2 = r1 + Wp;
        int32_t* __restrict t = rowbuf.data();
        for (int64_t j = 0; j < OWr; j++)
          t[j] = w0 * r0[j] + w1 * r0[j + 1] + w2 * r0[j + 2] + w3 * r1[j] + w4 * r1[j + 1] + w5 * r1[j + 2] + w6 * r2[j] + w7 * r2[j + 1] + w8 * r2[j + 2];
        std::memcpy(row, t, g.OW * sizeof(int32_t));
      }
      continue;
    }
    for (int64_t i = 0; i < g.OH; i++) {
      // __restrict: the int32 row and the uint8 source never overlap (uint8 may alias anything,
      // so without it the compiler re-reads s after every store and does not vectorize).
      int32_t* __restrict row = acc + (o * g.OH + i) * g.OW;
      for (int64_t j = 0; j < g.OW; j++) row[j] = 0;
      for (int64_t a = 0; a < g.k; a++) {
        const uint8_t* src = P + (i * g.stride + a) * Wp;
        for (int64_t b = 0; b < g.k; b++) {
          const int32_t wv = wo[a * g.k + b];
          const uint8_t* __restrict s = src + b;
          if (g.stride == 1)
            for (int64_t j = 0; j < g.OW; j++) row[j] += wv * static_cast<int32_t>(s[j]);
          else
            for (int64_t j = 0; j < g.OW; j++) row[j] += wv * static_cast<int32_t>(s[j * g.stride]);
        }
      }
    }
  }
}

// Output pixels [p0, p0 + np) of one image and group as rows of ckk bytes (c, a, b order: the
// weights' order), xZero outside the image.
void im2row(uint8_t* rows, const uint8_t* x, const Geo& g, int64_t p0, int64_t np, int32_t xZero) {
  const uint8_t z = static_cast<uint8_t>(xZero);
  for (int64_t p = 0; p < np; p++) {
    const int64_t i = (p0 + p) / g.OW, j = (p0 + p) % g.OW;
    uint8_t* r = rows + p * g.ckk;
    for (int64_t c = 0; c < g.cg; c++) {
      const uint8_t* plane = x + c * g.H * g.W;
      for (int64_t a = 0; a < g.k; a++, r += g.k) {
        const int64_t h = i * g.stride - g.pad + a;
        if (h < 0 || h >= g.H) {
          std::memset(r, z, g.k);
          continue;
        }
        const uint8_t* line = plane + h * g.W;
        const int64_t w0 = j * g.stride - g.pad;
        if (w0 >= 0 && w0 + g.k <= g.W) {
          std::memcpy(r, line + w0, g.k);
        } else {
          for (int64_t b = 0; b < g.k; b++) r[b] = (w0 + b >= 0 && w0 + b < g.W) ? line[w0 + b] : z;
        }
      }
    }
  }
}

// im2row for 3×3 stride-1 convolutions from Q, the group's cg planes already padded with xZero
// (Hp × Wp each): nine bytes per channel per pixel, copied without bounds checks.
void im2row3(uint8_t* __restrict rows, const uint8_t* __restrict Q, const Geo& g, int64_t p0, int64_t np) {
  const int64_t Wp = g.W + 2 * g.pad, HWp = (g.H + 2 * g.pad) * Wp;
  int64_t i = p0 / g.OW, j = p0 % g.OW;
  for (int64_t p = 0; p < np; p++) {
    uint8_t* __restrict r = rows + p * g.ckk;
    const uint8_t* src = Q + i * Wp + j;
    for (int64_t c = 0; c < g.cg; c++, src += HWp, r += 9) {
      r[0] = src[0], r[1] = src[1], r[2] = src[2];
      r[3] = src[Wp], r[4] = src[Wp + 1], r[5] = src[Wp + 2];
      r[6] = src[2 * Wp], r[7] = src[2 * Wp + 1], r[8] = src[2 * Wp + 2];
    }
    if (++j == g.OW) j = 0, i++;
  }
}

// Stride-1 convolutions on AVX-512 VNNI, in the broadcast form with C transposed: per image and
// group, acc (og × P: output channels as rows, pixels as columns) = W (og × ckk, int8) times the
// pixels' taps (ckk × P, uint8). The image is copied with its padding (xZero) into a plane Hp × Wp
// per channel; over "virtual" pixels v = i·Wp + j (the padded width, so 2·pad junk columns per row)
// tap (c, a, b) of pixel v is byte c·Hp·Wp + a·Wp + b + v: contiguous in v. So a 32-pixel panel
// (the GEMM's W panel format: per 4 taps, 32 columns × 4 bytes) is built with plain loads and byte
// interleaves, no im2row, and 8 output channels at a time broadcast 4 weight bytes against it
// (vpdpbusd with the operands' roles swapped: ctile). The junk columns are computed and dropped
// (compressed out) when the tile is stored.
// Measured against the dot form with im2row (one core, A/B in alternation on a busy machine, the
// fastest of 60 calls, batch 128, 3×3 pad 1): 8→16 on 14×14 616-637 → 251-255 µs; 32→64 on 14×14
// 3.6-4.0 → 2.8-3.4 ms; 1→8 on 28×28 393-415 → 347 µs (it writes 3.2 MB of int32: bound by that).
KD_VNNI void conv_images_vnni(int32_t* acc, const uint8_t* x, const int8_t* w, const Geo& g, int32_t xZero, int64_t n0, int64_t n1) {
  constexpr int64_t MR = 8, PB = vnni::kPanelCols;
  const int64_t K = g.ckk, Kq = (K + 3) / 4, P = g.OH * g.OW, plane = g.C * g.H * g.W, out = g.OC * P;
  const int64_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad, HWp = Hp * Wp;
  const int64_t Pv = g.OH * Wp, Pv32 = (Pv + PB - 1) / PB * PB;  // virtual pixels, in whole panels
  static thread_local std::vector<uint8_t> padded;
  static thread_local std::vector<int8_t> panel;
  static thread_local std::vector<int64_t> off;
  // Slack after the last plane: the junk pixels of the last panel read up to Pv32 + (k-1)·(Wp+1) bytes.
  const size_t padBytes = static_cast<size_t>(g.cg * HWp + (Pv32 - Pv) + PB + 2 * g.k * Wp + 64);
  if (padded.size() < padBytes) padded.resize(padBytes);
  if (panel.size() < static_cast<size_t>(Kq * PB * 4)) panel.resize(static_cast<size_t>(Kq * PB * 4));
  off.resize(static_cast<size_t>(Kq * 4));
  for (int64_t t = 0; t < Kq * 4; t++) {
    const int64_t c = t / (g.k * g.k), a = t / g.k % g.k, b = t % g.k;
    off[t] = t < K ? c * HWp + a * Wp + b : -1;
  }
  // Per panel (the same in every image): its real pixels among v0 .. v0+31 (the junk: columns
  // j >= OW of a padded row, v >= Pv) and where they go, p(v) = the real pixels before v.
  struct PanelMap {
    __mmask16 m[2];
    int64_t p[2];
  };
  static thread_local std::vector<PanelMap> maps;
  maps.resize(static_cast<size_t>(Pv32 / PB));
  for (int64_t v0 = 0; v0 < Pv32; v0 += PB) {
    PanelMap& pm = maps[v0 / PB];
    pm.m[0] = pm.m[1] = 0;
    for (int l = 0; l < 32; l++) {
      const int64_t v = v0 + l;
      if (v < Pv && v % Wp < g.OW) pm.m[l >> 4] = static_cast<__mmask16>(pm.m[l >> 4] | (1u << (l & 15)));
    }
    for (int h = 0; h < 2; h++) {
      const int64_t v = v0 + 16 * h;
      pm.p[h] = v / Wp * g.OW + (v % Wp < g.OW ? v % Wp : g.OW);
    }
  }
  const __m128i zero = _mm_setzero_si128();
  uint8_t* Q = padded.data();
  int8_t* Pn = panel.data();
  std::memset(Q, xZero, padBytes);
  for (int64_t n = n0; n < n1; n++)
    for (int64_t gi = 0; gi < g.groups; gi++) {
      const uint8_t* xg = x + n * plane + gi * g.cg * g.H * g.W;
      const uint8_t* wg = reinterpret_cast<const uint8_t*>(w + gi * g.og * K);
      int32_t* ag = acc + n * out + gi * g.og * P;
      for (int64_t c = 0; c < g.cg; c++)  // the border stays xZero from the memset
        for (int64_t h = 0; h < g.H; h++) std::memcpy(Q + c * HWp + (h + g.pad) * Wp + g.pad, xg + (c * g.H + h) * g.W, g.W);
      for (int64_t v0 = 0; v0 < Pv32; v0 += PB) {
        for (int64_t q = 0; q < Kq; q++) {
          const int64_t* o4 = off.data() + 4 * q;
          for (int h = 0; h < 2; h++) {
            const int64_t v = v0 + 16 * h;
            const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(Q + o4[0] + v));
            const __m128i x1 = o4[1] >= 0 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(Q + o4[1] + v)) : zero;
            const __m128i x2 = o4[2] >= 0 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(Q + o4[2] + v)) : zero;
            const __m128i x3 = o4[3] >= 0 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(Q + o4[3] + v)) : zero;
            const __m128i l01 = _mm_unpacklo_epi8(x0, x1), h01 = _mm_unpackhi_epi8(x0, x1);
            const __m128i l23 = _mm_unpacklo_epi8(x2, x3), h23 = _mm_unpackhi_epi8(x2, x3);
            __m128i* d = reinterpret_cast<__m128i*>(Pn + q * PB * 4 + h * 64);
            _mm_storeu_si128(d, _mm_unpacklo_epi16(l01, l23));
            _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(l01, l23));
            _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(h01, h23));
            _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(h01, h23));
          }
        }
        const PanelMap& pm = maps[v0 / PB];
        const __mmask16 m0 = pm.m[0], m1 = pm.m[1];
        const int64_t p0 = pm.p[0], p1 = pm.p[1];
        int64_t o = 0;
        for (; o + MR <= g.og; o += MR) vnni::ctile<MR>(ag + o * P, P, wg + o * K, K, Pn, K, m0, m1, p0, p1);
        int32_t* c = ag + o * P;
        const uint8_t* a = wg + o * K;
        switch (g.og - o) {
          case 7: vnni::ctile<7>(c, P, a, K, Pn, K, m0, m1, p0, p1); break;
          case 6: vnni::ctile<6>(c, P, a, K, Pn, K, m0, m1, p0, p1); break;
          case 5: vnni::ctile<5>(c, P, a, K, Pn, K, m0, m1, p0, p1); break;
          case 4: vnni::ctile<4>(c, P, a, K, Pn, K, m0, m1, p0, p1); break;
          case 3: vnni::ctile<3>(c, P, a, K, Pn, K, m0, m1, p0, p1); break;
          case 2: vnni::ctile<2>(c, P, a, K, Pn, K, m0, m1, p0, p1); break;
          case 1: vnni::ctile<1>(c, P, a, K, Pn, K, m0, m1, p0, p1); break;
          default: break;
        }
      }
    }
}

// Images [n0, n1): im2row in blocks of pixels, then the int8 gemm with pixels as rows and the
// group's output channels as columns, written transposed into acc (N,OC,OH,OW).
void conv_images(int32_t* acc, const uint8_t* x, const int8_t* w, const Geo& g, int32_t xZero, int64_t n0, int64_t n1) {
  if (g_i8.fn == i8gemm_vnni && g.stride == 1 && g.og >= 4) {
    conv_images_vnni(acc, x, w, g, xZero, n0, n1);
    return;
  }
  const int64_t P = g.OH * g.OW, plane = g.C * g.H * g.W, out = g.OC * P;
  if (g.cg == 1) {
    for (int64_t n = n0; n < n1; n++) conv_direct(acc + n * out, x + n * plane, w, g, xZero);
    return;
  }
  int64_t pb = (1 << 20) / g.ckk;  // ≤ 1 MiB of rows per block
  pb = pb < 4 ? 4 : pb > 1024 ? 1024 : pb - pb % 4;
  if (pb > P) pb = P;
  static thread_local std::vector<uint8_t> rows;
  if (rows.size() < static_cast<size_t>(pb * g.ckk)) rows.resize(pb * g.ckk);
  const bool k3 = g.k == 3 && g.stride == 1;
  const int64_t Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  static thread_local std::vector<uint8_t> padded;
  if (k3 && padded.size() < static_cast<size_t>(g.cg * Hp * Wp)) padded.resize(g.cg * Hp * Wp);
  for (int64_t n = n0; n < n1; n++)
    for (int64_t gi = 0; gi < g.groups; gi++) {
      const uint8_t* xg = x + n * plane + gi * g.cg * g.H * g.W;
      int32_t* ag = acc + n * out + gi * g.og * P;
      if (k3) {
        uint8_t* Q = padded.data();
        std::memset(Q, xZero, g.cg * Hp * Wp);
        for (int64_t c = 0; c < g.cg; c++)
          for (int64_t h = 0; h < g.H; h++) std::memcpy(Q + (c * Hp + h + g.pad) * Wp + g.pad, xg + (c * g.H + h) * g.W, g.W);
      }
      for (int64_t p0 = 0; p0 < P; p0 += pb) {
        const int64_t np = P - p0 < pb ? P - p0 : pb;
        if (k3) im2row3(rows.data(), padded.data(), g, p0, np);
        else im2row(rows.data(), xg, g, p0, np, xZero);
        g_i8.fn(ag + p0, rows.data(), w + gi * g.og * g.ckk, np, g.og, g.ckk, g.ckk, g.ckk, 1, P);
      }
    }
}

Geo geo(int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
  Geo g{C, H, W, OC, k, stride, pad, groups, (H + 2 * pad - k) / stride + 1, (W + 2 * pad - k) / stride + 1, C / groups, OC / groups, 0};
  g.ckk = g.cg * k * k;
  return g;
}

// ---- dequantize_int32 ------------------------------------------------------------------------

// acc − zero·wsum is formed exactly in double (|zero·wsum| < 2^40) and rounded once to float,
// as the reference's Math.fround(acc − zc); then one float multiply and one float add (no FMA).
KD_CLONES void dequantize(float* y, const int32_t* acc, const int32_t* wsum, const float* scale, const float* bias,
                          int32_t zero, int64_t N, int64_t C, int64_t HW) {
  if (HW == 1) {
    for (int64_t n = 0; n < N; n++) {
      const int32_t* a = acc + n * C;
      float* o = y + n * C;
      for (int64_t c = 0; c < C; c++) {
        const float d = static_cast<float>(static_cast<double>(a[c]) - static_cast<double>(zero) * static_cast<double>(wsum[c]));
        const float t = d * scale[c];
        o[c] = t + bias[c];
      }
    }
    return;
  }
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      const double zc = static_cast<double>(zero) * static_cast<double>(wsum[c]);
      const float s = scale[c], b = bias[c];
      const int32_t* a = acc + (n * C + c) * HW;
      float* o = y + (n * C + c) * HW;
      for (int64_t q = 0; q < HW; q++) {
        const float d = static_cast<float>(static_cast<double>(a[q]) - zc);
        const float t = d * s;
        o[q] = t + b;
      }
    }
}

}  // namespace

namespace kd {
const char* matmul_int8_kernel() { return g_i8.name; }
}  // namespace kd

extern "C" {

void kd_quantize_int8(uint8_t* q, const float* x, int64_t n, float invScale, int32_t zeroPoint) {
  if (n <= 0) return;
  if (g_q512) quantize_avx512(q, x, n, invScale, zeroPoint);
  else if (g_avx2) quantize_avx2(q, x, n, invScale, zeroPoint);
  else quantize_scalar(q, x, n, invScale, zeroPoint);
}

void kd_matmul_int8(int32_t* acc, const uint8_t* a, const int8_t* w, int64_t M, int64_t N, int64_t K) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    std::memset(acc, 0, sizeof(int32_t) * M * N);
    return;
  }
  g_i8.fn(acc, a, w, M, N, K, K, K, N, 1);
}

void kd_matmul_int8_mt(int32_t* acc, const uint8_t* a, const int8_t* w, int64_t M, int64_t N, int64_t K, int64_t threads) {
  constexpr double kMinMacsPerThread = 2e6;  // below this the hand-off costs more than it saves
  const double macs = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  int64_t parts = threads < 1 ? 1 : threads > 64 ? 64 : threads;
  while (parts > 1 && macs / static_cast<double>(parts) < kMinMacsPerThread) parts--;
  const bool byCols = N >= M;
  const int64_t unit = byCols ? VNNI_NR : VNNI_MR, units = ((byCols ? N : M) + unit - 1) / unit;  // whole register tiles
  if (units < parts) parts = units;
  if (parts <= 1 || K <= 0) {
    kd_matmul_int8(acc, a, w, M, N, K);
    return;
  }
  const int64_t extent = byCols ? N : M;
  kd::parallel_parts(static_cast<int>(parts), [&](int p) {
    const int64_t lo = units * p / parts * unit, hi0 = units * (p + 1) / parts * unit, hi = hi0 < extent ? hi0 : extent;
    if (hi <= lo) return;
    if (byCols) g_i8.fn(acc + lo, a, w + lo * K, M, hi - lo, K, K, K, N, 1);
    else g_i8.fn(acc + lo * N, a + lo * K, w, hi - lo, N, K, K, K, N, 1);
  });
}

void kd_conv2d_int8(int32_t* acc, const uint8_t* x, const int8_t* w, int64_t N, int64_t C, int64_t H, int64_t W,
                    int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int32_t xZero) {
  const Geo g = geo(C, H, W, OC, k, stride, pad, groups);
  if (N <= 0 || OC <= 0 || g.OH <= 0 || g.OW <= 0) return;
  if (g.ckk == 0) {
    std::memset(acc, 0, sizeof(int32_t) * N * OC * g.OH * g.OW);
    return;
  }
  conv_images(acc, x, w, g, xZero, 0, N);
}

void kd_conv2d_int8_mt(int32_t* acc, const uint8_t* x, const int8_t* w, int64_t N, int64_t C, int64_t H, int64_t W,
                       int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int32_t xZero, int64_t threads) {
  const Geo g = geo(C, H, W, OC, k, stride, pad, groups);
  int64_t parts = threads < 1 ? 1 : threads > 64 ? 64 : threads;
  if (parts > N) parts = N;
  const double macs = static_cast<double>(N) * OC * g.OH * g.OW * g.ckk;
  while (parts > 1 && macs / static_cast<double>(parts) < 1e6) parts--;
  if (parts <= 1 || g.ckk == 0 || OC <= 0) {
    kd_conv2d_int8(acc, x, w, N, C, H, W, OC, k, stride, pad, groups, xZero);
    return;
  }
  kd::parallel_parts(static_cast<int>(parts), [&](int p) {
    const int64_t n0 = N * p / parts, n1 = N * (p + 1) / parts;
    if (n1 > n0) conv_images(acc, x, w, g, xZero, n0, n1);
  });
}

void kd_dequantize_int32(float* y, const int32_t* acc, const int32_t* wsum, const float* scale, const float* bias,
                         int32_t zero, int64_t N, int64_t C, int64_t HW) {
  if (N <= 0 || C <= 0 || HW <= 0) return;
  dequantize(y, acc, wsum, scale, bias, zero, N, C, HW);
}

}  // extern "C"
