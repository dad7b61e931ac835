// native/simd.h: shared helpers of the optimized C++ kernels: the runtime-dispatch macro
// (target_clones: AVX-512 / AVX2+FMA / baseline), force-inline, and GCC vector types.
#pragma once
#include <cstddef>
#include <cstdint>

#define KD_INLINE inline __attribute__((always_inline))

// Every exported kernel is compiled three times and picked at load time by the CPU (ifunc).
// Helpers called from a kernel must be KD_INLINE, or they are compiled for baseline SSE2 only.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(DISTILLERY_NO_CLONES)
#define KD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KD_CLONES
#endif

// 8 floats: one ymm register on AVX2 (two xmm on baseline). v8f is 32-byte aligned (packed
// buffers); v8fu may sit anywhere a float may (user arrays).
typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8i __attribute__((vector_size(32)));

KD_INLINE v8f kd_load(const float* p) { return *reinterpret_cast<const v8fu*>(p); }
KD_INLINE void kd_store(float* p, v8f v) { *reinterpret_cast<v8fu*>(p) = v; }
KD_INLINE v8f kd_splat(float x) { return x - v8f{}; }  // x - 0 == x exactly: folds to a broadcast

// exp(x) for 8 lanes (Cephes-style, ~1 ulp on [-87, 88]; saturates outside).
KD_INLINE v8f kd_exp8(v8f x) {
  const v8f hi = kd_splat(88.0f), lo = kd_splat(-87.3365447504f);
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  v8f fx = x * 1.44269504088896341f + 0.5f;
  v8i n = __builtin_convertvector(fx, v8i);
  v8f nf = __builtin_convertvector(n, v8f);
  v8i fix = nf > fx;  // truncation rounded toward zero: floor for negatives
  n += fix;
  nf = __builtin_convertvector(n, v8f);
  x = x - nf * 0.693359375f;
  x = x - nf * -2.12194440e-4f;
  v8f z = x * x;
  v8f y = kd_splat(1.9875691500E-4f);
  y = y * x + 8.3334519073E-3f;
  y = y * x + 4.1665795894E-2f;
  y = y * x + 1.6666665459E-1f;
  y = y * x + 5.0000001201E-1f;
  y = y * z + x + 1.0f;
  v8i e = (n + 127) << 23;
  return y * (v8f)e;  // same-size vector cast = bit cast
}

// tanh(u) = 1 - 2/(exp(2u)+1) for 8 lanes (saturates to ±1).
KD_INLINE v8f kd_tanh8(v8f u) { return 1.0f - 2.0f / (kd_exp8(u + u) + 1.0f); }
