// bench/mul-add-peak.c: the arithmetic ceiling of each backend's inner loop on this CPU, on 1
// and on 2 threads, alternated, so that what a machine can give two threads at a time is seen
// next to what it gives one. No memory traffic: 8 independent accumulators in registers.
//
//   cc -O2 -mavx2 -mfma -ffp-contract=off -pthread bench/mul-add-peak.c -o /tmp/mul-add-peak && /tmp/mul-add-peak [rounds]
//
// Loops (what V8 or the compiler emits for each backend's micro-kernel):
//   mul+add 128   wasm-simd: f32x4.mul then f32x4.add (vmulps + vaddps xmm; WebAssembly SIMD has no FMA)
//   fma 128       wasm-relaxed: f32x4.relaxed_madd (vfmadd xmm)
//   fma 256       native: AVX2 FMA (vfmadd ymm)
// Each round runs every loop on 1 thread, then on 2 threads at once, for ~0.3 s each, and
// prints GFLOP/s (2 flops per lane per multiply-add); the last lines give the medians.
// On a shared VM the 2-thread figure can swing between ~1x and ~2x of the 1-thread one from one
// round to the next: other tenants share the physical cores.
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static volatile float sink;

// The multiplier passes through an empty asm each iteration so that the compiler cannot hoist
// the products out of the loop; the accumulators are independent, so the adds (3-4 cycles of
// latency) do not chain on each other faster than the FP pipes retire them.
#define BARRIER(v) __asm__ volatile("" : "+x"(v))

// (fp-contract off: with -mfma the compiler would fuse the pair into the FMA this loop must not be)
__attribute__((optimize("fp-contract=off"))) static void mul_add_128(long n) {
  __m128 x0 = _mm_set1_ps(1.1f), x1 = _mm_set1_ps(1.2f), x2 = _mm_set1_ps(1.3f), x3 = _mm_set1_ps(1.4f);
  __m128 x4 = _mm_set1_ps(1.5f), x5 = _mm_set1_ps(1.6f), x6 = _mm_set1_ps(1.7f), x7 = _mm_set1_ps(1.8f);
  __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m128 m = _mm_set1_ps(1e-7f);
  for (long i = 0; i < n; i++) {
    BARRIER(m);
    a0 = _mm_add_ps(a0, _mm_mul_ps(x0, m)); a1 = _mm_add_ps(a1, _mm_mul_ps(x1, m));
    a2 = _mm_add_ps(a2, _mm_mul_ps(x2, m)); a3 = _mm_add_ps(a3, _mm_mul_ps(x3, m));
    a4 = _mm_add_ps(a4, _mm_mul_ps(x4, m)); a5 = _mm_add_ps(a5, _mm_mul_ps(x5, m));
    a6 = _mm_add_ps(a6, _mm_mul_ps(x6, m)); a7 = _mm_add_ps(a7, _mm_mul_ps(x7, m));
  }
  __m128 s = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)), _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)));
  sink = _mm_cvtss_f32(s);
}

static void fma_128(long n) {
  __m128 x0 = _mm_set1_ps(1.1f), x1 = _mm_set1_ps(1.2f), x2 = _mm_set1_ps(1.3f), x3 = _mm_set1_ps(1.4f);
  __m128 x4 = _mm_set1_ps(1.5f), x5 = _mm_set1_ps(1.6f), x6 = _mm_set1_ps(1.7f), x7 = _mm_set1_ps(1.8f);
  __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m128 m = _mm_set1_ps(1e-7f);
  for (long i = 0; i < n; i++) {
    BARRIER(m);
    a0 = _mm_fmadd_ps(x0, m, a0); a1 = _mm_fmadd_ps(x1, m, a1); a2 = _mm_fmadd_ps(x2, m, a2); a3 = _mm_fmadd_ps(x3, m, a3);
    a4 = _mm_fmadd_ps(x4, m, a4); a5 = _mm_fmadd_ps(x5, m, a5); a6 = _mm_fmadd_ps(x6, m, a6); a7 = _mm_fmadd_ps(x7, m, a7);
  }
  __m128 s = _mm_add_ps(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)), _mm_add_ps(_mm_add_ps(a4, a5), _mm_add_ps(a6, a7)));
  sink = _mm_cvtss_f32(s);
}

static void fma_256(long n) {
  __m256 x0 = _mm256_set1_ps(1.1f), x1 = _mm256_set1_ps(1.2f), x2 = _mm256_set1_ps(1.3f), x3 = _mm256_set1_ps(1.4f);
  __m256 x4 = _mm256_set1_ps(1.5f), x5 = _mm256_set1_ps(1.6f), x6 = _mm256_set1_ps(1.7f), x7 = _mm256_set1_ps(1.8f);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m256 m = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < n; i++) {
    BARRIER(m);
    a0 = _mm256_fmadd_ps(x0, m, a0); a1 = _mm256_fmadd_ps(x1, m, a1); a2 = _mm256_fmadd_ps(x2, m, a2); a3 = _mm256_fmadd_ps(x3, m, a3);
    a4 = _mm256_fmadd_ps(x4, m, a4); a5 = _mm256_fmadd_ps(x5, m, a5); a6 = _mm256_fmadd_ps(x6, m, a6); a7 = _mm256_fmadd_ps(x7, m, a7);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)), _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  sink = _mm256_cvtss_f32(s);
}

typedef struct { void (*fn)(long); long n; } Job;
static void* run_job(void* p) { Job* j = p; j->fn(j->n); return NULL; }

// GFLOP/s of `threads` threads each running fn(n); flops per iteration: 8 accumulators x lanes x 2.
static double measure(void (*fn)(long), long n, int lanes, int threads) {
  pthread_t th[2];
  Job job = { fn, n };
  double t = now();
  for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, run_job, &job);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  t = now() - t;
  return threads * (double)n * 8 * lanes * 2 / t / 1e9;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 8;
  if (rounds < 1 || rounds > 1000) { fprintf(stderr, "usage: %s [rounds 1..1000]\n", argv[0]); return 2; }
  int fma = __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
  struct { const char* name; void (*fn)(long); int lanes; } loops[] = {
    { "mul+add 128 (wasm-simd)", mul_add_128, 4 },
    { "fma 128 (wasm-relaxed)", fma_128, 4 },
    { "fma 256 (native AVX2)", fma_256, 8 },
  };
  int nloops = fma ? 3 : 1;
  if (!fma) printf("# no AVX2+FMA on this CPU: only the mul+add loop\n");
  // ~0.3 s per measurement at ~3 GHz, one iteration ~4 cycles
  const long n = 200000000;
  double* r1 = calloc((size_t)rounds * nloops, sizeof(double));
  double* r2 = calloc((size_t)rounds * nloops, sizeof(double));
  printf("%-26s %5s %14s %14s %7s\n", "loop", "round", "1 thread", "2 threads", "2t/1t");
  for (int r = 0; r < rounds; r++) {
    for (int l = 0; l < nloops; l++) {
      double g1 = measure(loops[l].fn, n, loops[l].lanes, 1);
      double g2 = measure(loops[l].fn, n, loops[l].lanes, 2);
      r1[l * rounds + r] = g1;
      r2[l * rounds + r] = g2;
      printf("%-26s %5d %9.1f GF/s %9.1f GF/s %6.2fx\n", loops[l].name, r + 1, g1, g2, g2 / g1);
      fflush(stdout);
    }
  }
  printf("medians over %d rounds:\n", rounds);
  for (int l = 0; l < nloops; l++) {
    qsort(r1 + l * rounds, rounds, sizeof(double), cmp);
    qsort(r2 + l * rounds, rounds, sizeof(double), cmp);
    printf("%-26s 1 thread %.1f (range %.1f-%.1f), 2 threads %.1f (range %.1f-%.1f) GFLOP/s\n", loops[l].name,
           r1[l * rounds + rounds / 2], r1[l * rounds], r1[l * rounds + rounds - 1],
           r2[l * rounds + rounds / 2], r2[l * rounds], r2[l * rounds + rounds - 1]);
  }
  free(r1);
  free(r2);
  return 0;
}
