// native/cuda/kernels.cu: CUDA kernels for the whole contract (f32 data, f64 row math where the
// reference uses it; int8 products with dp4a) and their host launchers. Convolution, pooling and batch norm are direct
// kernels (one thread per output, gathers; one block per reduced weight or channel). matmul: cuBLAS when built with it
// (DISTILLERY_HAVE_CUBLAS), else a 64x64 shared-memory tiled kernel with 4x4 per thread.
// The backend's buffers are managed memory used in place; other arrays go through pooled device
// buffers (see kernels.h).
#include "kernels.h"

#include <cuda_runtime.h>

#include <cmath>
#include <map>
#include <mutex>
#include <vector>

#ifdef DISTILLERY_HAVE_CUBLAS
#include <cublas_v2.h>
#endif

namespace kdc {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw CudaError(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
#define KDC_CHECK(call) check((call), #call)

// Grow-only device buffers, one per argument slot (no cudaMalloc per call once warm).
struct Pool {
  void* p[8] = {};
  size_t cap[8] = {};
  void* get(int slot, size_t bytes) {
    if (bytes == 0) bytes = 4;
    if (cap[slot] < bytes) {
      if (p[slot]) cudaFree(p[slot]);
      p[slot] = nullptr;
      cap[slot] = 0;
      KDC_CHECK(cudaMalloc(&p[slot], bytes));
      cap[slot] = bytes;
    }
    return p[slot];
  }
};
Pool& pool() {
  static Pool p;
  return p;
}

// ---- device-resident (managed) buffers ----------------------------------------------------------
// The backend allocates its buffers with cudaMallocManaged (managed_alloc), so parameters,
// gradients, optimizer state and activations live on the device between calls: kernels use them
// in place, and pages move to the host only when JS reads them (a checkpoint, an evaluation's
// logits). Any other array (a plain Float32Array from a caller) is copied through the pool.
struct Managed {
  std::mutex mu;
  std::map<uintptr_t, size_t> ranges;  // base -> bytes
  bool contains(const void* p) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    std::lock_guard<std::mutex> g(mu);
    auto it = ranges.upper_bound(a);
    if (it == ranges.begin()) return false;
    --it;
    return a >= it->first && a < it->first + it->second;
  }
};
Managed& managed() {
  static Managed m;
  return m;
}
bool is_managed(const void* p) { return p != nullptr && managed().contains(p); }

// An input: the array itself when managed, else a copy in pool slot `slot`.
template <typename T>
T* upload(int slot, T* host, int64_t n) {
  if (is_managed(host)) return host;
  T* d = static_cast<T*>(pool().get(slot, sizeof(T) * n));
  if (n > 0) KDC_CHECK(cudaMemcpy(d, host, sizeof(T) * n, cudaMemcpyHostToDevice));
  return d;
}
template <typename T>
const T* upload(int slot, const T* host, int64_t n) {
  return upload(slot, const_cast<T*>(host), n);
}
// An output the kernel overwrites: the array itself when managed, else pool slot `slot`.
template <typename T>
T* output(int slot, T* host, int64_t n) {
  if (is_managed(host)) return host;
  return static_cast<T*>(pool().get(slot, sizeof(T) * n));
}
template <typename T>
T* scratch(int slot, int64_t n) {
  return static_cast<T*>(pool().get(slot, sizeof(T) * n));
}
// Waits for the device; copies `dev` back into `host` unless they are the same (managed) memory.
template <typename T>
void download(T* host, const T* dev, int64_t n) {
  KDC_CHECK(cudaGetLastError());
  if (host == dev) {
    KDC_CHECK(cudaDeviceSynchronize());  // the host may read managed memory only after the kernel
    return;
  }
  if (n > 0) KDC_CHECK(cudaMemcpy(host, dev, sizeof(T) * n, cudaMemcpyDeviceToHost));
}

unsigned blocks(int64_t n, int threads = 256) { return static_cast<unsigned>((n + threads - 1) / threads); }

// ---- matmul ---------------------------------------------------------------------------------
// C (M,N) = op(A)·op(B) (+ C): op(A)(i,k) = A[i*ars + k*aks], op(B)(k,j) = B[k*bks + j*bjs].
constexpr int TM = 64, TN = 64, TK = 16;
__global__ void matmul_tiled_k(float* C, const float* A, const float* B, int M, int N, int K, long ars, long aks,
                            long bks, long bjs, bool accumulate) {
  __shared__ float sA[TK][TM];
  __shared__ float sB[TK][TN];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;  // 16 x 16 threads, 4 x 4 outputs each
  const int i0 = blockIdx.y * TM, j0 = blockIdx.x * TN;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < K; k0 += TK) {
    for (int e = threadIdx.x; e < TM * TK; e += 256) {
      const int r = e / TK, k = e % TK;
      const int i = i0 + r, kk = k0 + k;
      sA[k][r] = (i < M && kk < K) ? A[i * ars + kk * aks] : 0.0f;
      const int c = e % TN, kb = e / TN;
      const int j = j0 + c, kb2 = k0 + kb;
      sB[kb][c] = (j < N && kb2 < K) ? B[kb2 * bks + j * bjs] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < TK; k++) {
      float a[4], b[4];
#pragma unroll
      for (int u = 0; u < 4; u++) {
        a[u] = sA[k][ty + 16 * u];
        b[u] = sB[k][tx + 16 * u];
      }
#pragma unroll
      for (int u = 0; u < 4; u++)
#pragma unroll
        for (int v = 0; v < 4; v++) acc[u][v] += a[u] * b[v];
    }
    __syncthreads();
  }
#pragma unroll
  for (int u = 0; u < 4; u++)
#pragma unroll
    for (int v = 0; v < 4; v++) {
      const int i = i0 + ty + 16 * u, j = j0 + tx + 16 * v;
      if (i < M && j < N) C[(long)i * N + j] = accumulate ? C[(long)i * N + j] + acc[u][v] : acc[u][v];
    }
}

#ifdef DISTILLERY_HAVE_CUBLAS
cublasHandle_t blas() {
  static cublasHandle_t h = nullptr;
  if (!h && cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) throw CudaError("cublasCreate failed");
  return h;
}
#endif

// ---- element-wise ---------------------------------------------------------------------------
__global__ void bias_add_k(float* y, const float* b, long N, long OC) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < N * OC) y[i] += b[i % OC];
}
__global__ void bias_grad_k(float* db, const float* dy, long N, long OC, bool acc) {
  long o = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (o >= OC) return;
  float s = acc ? db[o] : 0.0f;
  for (long n = 0; n < N; n++) s += dy[n * OC + o];
  db[o] = s;
}
__global__ void relu_k(float* out, const float* x, long n) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < n) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
__global__ void relu_backward_k(float* dx, const float* dy, const float* x, long n) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < n) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}
// Beyond ±kGeluLimit gelu and gelu' are their limits (x or −0; 1 or 0): GELU_LIMIT of
// src/kernels/signatures.ts, where the approximation already rounds to them in float32 (and
// before v³ overflows: (1 − th²)·du would be 0·inf = NaN). NaN compares false: it stays NaN.
constexpr float kS2P = 0.7978845608028654f, kCoef = 0.044715f, kGeluLimit = 11.0f;
__global__ void gelu_k(float* out, const float* x, long n) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < n) {
    const float v = x[i];
    if (v > kGeluLimit) out[i] = v;
    else if (v < -kGeluLimit) out[i] = -0.0f;
    else out[i] = 0.5f * v * (1.0f + tanhf(kS2P * (v + kCoef * v * v * v)));
  }
}
__global__ void gelu_backward_k(float* dx, const float* dy, const float* x, long n) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < n) {
    const float v = x[i];
    if (v > kGeluLimit) { dx[i] = dy[i]; return; }
    if (v < -kGeluLimit) { dx[i] = dy[i] * 0.0f; return; }
    const float th = tanhf(kS2P * (v + kCoef * v * v * v));
    const float du = kS2P * (1.0f + 3.0f * kCoef * v * v);
    dx[i] = dy[i] * (0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * du);
  }
}

// ---- row-wise (K classes per row, one thread per row, f64 as in the reference) ----------------
__device__ double row_lse(const float* z, long K, double invT) {
  double mx = -INFINITY;
  for (long k = 0; k < K; k++) mx = fmax(mx, z[k] * invT);
  double s = 0.0;
  for (long k = 0; k < K; k++) s += exp(z[k] * invT - mx);
  return mx + log(s);
}
__global__ void softmax_t_k(float* out, const float* z, long N, long K, double invT, bool logOut) {
  long n = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (n >= N) return;
  const float* r = z + n * K;
  const double lse = row_lse(r, K, invT);
  for (long k = 0; k < K; k++) {
    const double l = r[k] * invT - lse;
    out[n * K + k] = static_cast<float>(logOut ? l : exp(l));
  }
}
__global__ void kd_loss_k(float* dS, const float* s, const float* t, double* rowLoss, long N, long K, double invT,
                          double gradScale, bool acc) {
  long n = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (n >= N) return;
  const float* sn = s + n * K;
  const float* tn = t + n * K;
  const double lseS = row_lse(sn, K, invT), lseT = row_lse(tn, K, invT);
  double total = 0.0;
  for (long k = 0; k < K; k++) {
    const double lpt = tn[k] * invT - lseT, lps = sn[k] * invT - lseS;
    const double pt = exp(lpt), ps = exp(lps);
    if (pt > 0) total += pt * (lpt - lps);
    const double g = gradScale * (ps - pt);
    dS[n * K + k] = static_cast<float>(acc ? dS[n * K + k] + g : g);
  }
  rowLoss[n] = total;
}
__global__ void cross_entropy_k(float* d, const float* z, const int* y, double* rowLoss, long N, long K, double scale, bool acc) {
  long n = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (n >= N) return;
  const float* r = z + n * K;
  const double lse = row_lse(r, K, 1.0);
  rowLoss[n] = lse - r[y[n]];
  for (long k = 0; k < K; k++) {
    const double g = scale * (exp(r[k] - lse) - (k == y[n] ? 1.0 : 0.0));
    d[n * K + k] = static_cast<float>(acc ? d[n * K + k] + g : g);
  }
}
__global__ void mse_k(float* d, const float* p, const float* t, double* partial, long n, float g, bool acc) {
  __shared__ double sh[256];
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  double v = 0.0;
  if (i < n) {
    const float e = p[i] - t[i];
    v = static_cast<double>(e) * e;
    d[i] = acc ? d[i] + g * e : g * e;
  }
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

// ---- optimizers -----------------------------------------------------------------------------
__global__ void sgd_step_k(float* p, const float* g, float* b, long n, float lr, float mu, float wd, bool nesterov) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= n) return;
  float gi = g[i] + wd * p[i];
  if (mu != 0.0f) {
    const float bi = mu * b[i] + gi;
    b[i] = bi;
    gi = nesterov ? gi + mu * bi : bi;
  }
  p[i] -= lr * gi;
}
__global__ void adamw_step_k(float* p, const float* g, float* m, float* v, long n, float decay, float b1, float b2, float c1,
                        float c2, float stepSize, float invBc2, float eps) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float gi = g[i];
  const float pi = p[i] - decay * p[i];
  const float mi = b1 * m[i] + c1 * gi, vi = b2 * v[i] + c2 * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = pi - stepSize * mi / (sqrtf(vi * invBc2) + eps);
}


// ---- convolution, pooling, batch norm: direct kernels, one thread per output element ---------
// (gathers, so every output is written by one thread: deterministic, no atomics). Per-channel and
// per-weight reductions are one 256-thread block each, summed in f64 in a fixed tree order.
struct ConvDims {
  long N, C, H, W, OC, k, s, pad, OH, OW, Cg, OCg;
};
struct PoolDims {
  long N, C, H, W, kh, kw, s, pad, OH, OW;
};

// The sum of v over the block's 256 threads (every thread gets it). Needs blockDim.x == 256.
__device__ double block_sum256(double v) {
  __shared__ double sh[256];
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = 128; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  const double r = sh[0];
  __syncthreads();  // sh may be reused by the next call
  return r;
}

// The output rows i (or columns) whose window [i·s − pad, i·s − pad + k) covers input row h: [*lo, *hi].
__device__ void covering(long h, long s, long pad, long k, long out, long* lo, long* hi) {
  const long num = h + pad - k + 1;
  *lo = num <= 0 ? 0 : (num + s - 1) / s;
  const long top = (h + pad) / s;
  *hi = top < out - 1 ? top : out - 1;
}

// y (N,OC,OH,OW) = bias + Σ w·x (the reference's order: c, a, b).
__global__ void conv2d_k(float* y, const float* x, const float* w, const float* bias, ConvDims d) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= d.N * d.OC * d.OH * d.OW) return;
  const long j = t % d.OW, i = (t / d.OW) % d.OH, o = (t / (d.OW * d.OH)) % d.OC, n = t / (d.OW * d.OH * d.OC);
  const long c0 = (o / d.OCg) * d.Cg;
  float acc = bias[o];
  for (long c = 0; c < d.Cg; c++)
    for (long a = 0; a < d.k; a++) {
      const long h = i * d.s - d.pad + a;
      if (h < 0 || h >= d.H) continue;
      for (long b = 0; b < d.k; b++) {
        const long ww = j * d.s - d.pad + b;
        if (ww < 0 || ww >= d.W) continue;
        acc += w[((o * d.Cg + c) * d.k + a) * d.k + b] * x[((n * d.C + c0 + c) * d.H + h) * d.W + ww];
      }
    }
  y[t] = acc;
}

// dx (N,C,H,W): gathers Σ w·dy over the outputs whose window covers (h, w).
__global__ void conv2d_backward_data_k(float* dx, const float* dy, const float* w, ConvDims d) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= d.N * d.C * d.H * d.W) return;
  const long ww = t % d.W, h = (t / d.W) % d.H, c = (t / (d.W * d.H)) % d.C, n = t / (d.W * d.H * d.C);
  const long g = c / d.Cg, cl = c - g * d.Cg;
  float acc = 0.0f;
  for (long a = 0; a < d.k; a++) {
    const long ti = h + d.pad - a;
    if (ti < 0 || ti % d.s != 0 || ti / d.s >= d.OH) continue;
    const long i = ti / d.s;
    for (long b = 0; b < d.k; b++) {
      const long tj = ww + d.pad - b;
      if (tj < 0 || tj % d.s != 0 || tj / d.s >= d.OW) continue;
      const long j = tj / d.s;
      for (long o = g * d.OCg; o < (g + 1) * d.OCg; o++)
        acc += w[((o * d.Cg + cl) * d.k + a) * d.k + b] * dy[((n * d.OC + o) * d.OH + i) * d.OW + j];
    }
  }
  dx[t] = acc;
}

// One block per weight (o, c, a, b): Σ over n, i, j of dy·x (+ dw when accumulate).
__global__ void conv2d_backward_weight_k(float* dw, const float* dy, const float* x, ConvDims d, bool accumulate) {
  const long wi = blockIdx.x;
  const long b = wi % d.k, a = (wi / d.k) % d.k, c = (wi / (d.k * d.k)) % d.Cg, o = wi / (d.k * d.k * d.Cg);
  const long cin = (o / d.OCg) * d.Cg + c;
  const long P = d.OH * d.OW;
  double acc = 0.0;
  for (long e = threadIdx.x; e < d.N * P; e += blockDim.x) {
    const long n = e / P, q = e % P, i = q / d.OW, j = q % d.OW;
    const long h = i * d.s - d.pad + a, ww = j * d.s - d.pad + b;
    if (h < 0 || h >= d.H || ww < 0 || ww >= d.W) continue;
    acc += static_cast<double>(dy[(n * d.OC + o) * P + q]) * x[((n * d.C + cin) * d.H + h) * d.W + ww];
  }
  const double total = block_sum256(acc);
  if (threadIdx.x == 0) dw[wi] = static_cast<float>(accumulate ? dw[wi] + total : total);
}

// One block per output channel: dbias[o] (+)= Σ dy[n, o, ...].
__global__ void conv2d_backward_weight_bias_k(float* dbias, const float* dy, ConvDims d, bool accumulate) {
  const long o = blockIdx.x, P = d.OH * d.OW;
  double acc = 0.0;
  for (long e = threadIdx.x; e < d.N * P; e += blockDim.x) acc += dy[((e / P) * d.OC + o) * P + e % P];
  const double total = block_sum256(acc);
  if (threadIdx.x == 0) dbias[o] = static_cast<float>(accumulate ? dbias[o] + total : total);
}

// y, idx (N,C,OH,OW): the window max (first on ties, NaN wins) and its index h·W + w.
__global__ void maxpool2d_k(float* y, int* idx, const float* x, PoolDims d) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= d.N * d.C * d.OH * d.OW) return;
  const long j = t % d.OW, i = (t / d.OW) % d.OH, nc = t / (d.OW * d.OH);
  const float* xp = x + nc * d.H * d.W;
  float best = 0.0f;
  long at = -1;
  for (long a = 0; a < d.kh; a++) {
    const long h = i * d.s - d.pad + a;
    if (h < 0 || h >= d.H) continue;
    for (long b = 0; b < d.kw; b++) {
      const long ww = j * d.s - d.pad + b;
      if (ww < 0 || ww >= d.W) continue;
      const float v = xp[h * d.W + ww];
      if (at < 0 || v > best || (isnan(v) && !isnan(best))) {
        best = v;
        at = h * d.W + ww;
      }
    }
  }
  y[t] = best;
  idx[t] = static_cast<int>(at);
}

// dx (N,C,H,W): Σ dy over the outputs (row-major order) whose idx is this cell.
__global__ void maxpool2d_backward_k(float* dx, const float* dy, const int* idx, PoolDims d) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= d.N * d.C * d.H * d.W) return;
  const long ww = t % d.W, h = (t / d.W) % d.H, nc = t / (d.W * d.H);
  long i0, i1, j0, j1;
  covering(h, d.s, d.pad, d.kh, d.OH, &i0, &i1);
  covering(ww, d.s, d.pad, d.kw, d.OW, &j0, &j1);
  const long self = h * d.W + ww, base = nc * d.OH * d.OW;
  float acc = 0.0f;
  for (long i = i0; i <= i1; i++)
    for (long j = j0; j <= j1; j++)
      if (idx[base + i * d.OW + j] == self) acc += dy[base + i * d.OW + j];
  dx[t] = acc;
}

// y (N,C,OH,OW) = window sum / (kh·kw), padding counted as zeros.
__global__ void avgpool2d_k(float* y, const float* x, PoolDims d) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= d.N * d.C * d.OH * d.OW) return;
  const long j = t % d.OW, i = (t / d.OW) % d.OH, nc = t / (d.OW * d.OH);
  const float* xp = x + nc * d.H * d.W;
  double acc = 0.0;
  for (long a = 0; a < d.kh; a++) {
    const long h = i * d.s - d.pad + a;
    if (h < 0 || h >= d.H) continue;
    for (long b = 0; b < d.kw; b++) {
      const long ww = j * d.s - d.pad + b;
      if (ww >= 0 && ww < d.W) acc += xp[h * d.W + ww];
    }
  }
  y[t] = static_cast<float>(acc / (d.kh * d.kw));
}

// dx (N,C,H,W) = Σ dy over the windows covering the cell, / (kh·kw).
__global__ void avgpool2d_backward_k(float* dx, const float* dy, PoolDims d) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= d.N * d.C * d.H * d.W) return;
  const long ww = t % d.W, h = (t / d.W) % d.H, nc = t / (d.W * d.H);
  long i0, i1, j0, j1;
  covering(h, d.s, d.pad, d.kh, d.OH, &i0, &i1);
  covering(ww, d.s, d.pad, d.kw, d.OW, &j0, &j1);
  const long base = nc * d.OH * d.OW;
  double acc = 0.0;
  for (long i = i0; i <= i1; i++)
    for (long j = j0; j <= j1; j++) acc += dy[base + i * d.OW + j];
  dx[t] = static_cast<float>(acc / (d.kh * d.kw));
}

// One block per channel: mean and m2 = Σ (x − mean)², two passes in f64.
__global__ void batchnorm_stats_k(float* mean, float* m2, const float* x, long N, long C, long HW) {
  const long c = blockIdx.x, cnt = N * HW;
  double s = 0.0;
  for (long e = threadIdx.x; e < cnt; e += blockDim.x) s += x[((e / HW) * C + c) * HW + e % HW];
  const double total = block_sum256(s);  // every thread calls it (it synchronizes the block)
  const double mu = cnt > 0 ? total / cnt : 0.0;
  double v = 0.0;
  for (long e = threadIdx.x; e < cnt; e += blockDim.x) {
    const double dd = x[((e / HW) * C + c) * HW + e % HW] - mu;
    v += dd * dd;
  }
  const double m = block_sum256(v);
  if (threadIdx.x == 0) {
    mean[c] = static_cast<float>(mu);
    m2[c] = static_cast<float>(m);
  }
}

// y = (x − mean)·invstd·gamma + beta per channel (y may be x).
__global__ void batchnorm_k(float* y, const float* x, const float* mean, const float* invstd, const float* gamma, const float* beta,
                            long N, long C, long HW) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= N * C * HW) return;
  const long c = (t / HW) % C;
  y[t] = static_cast<float>((x[t] - mean[c]) * (static_cast<double>(invstd[c]) * gamma[c]) + beta[c]);
}

// One block per channel: Σ dy and Σ dy·(x − mean)·invstd, in f64.
__global__ void batchnorm_backward_reduce_k(float* sumDy, float* sumDyXhat, const float* dy, const float* x, const float* mean,
                                            const float* invstd, long N, long C, long HW) {
  const long c = blockIdx.x, cnt = N * HW;
  const double mu = mean[c], is = invstd[c];
  double s = 0.0, sx = 0.0;
  for (long e = threadIdx.x; e < cnt; e += blockDim.x) {
    const long i = ((e / HW) * C + c) * HW + e % HW;
    s += dy[i];
    sx += dy[i] * (x[i] - mu) * is;
  }
  const double ts = block_sum256(s);
  const double tsx = block_sum256(sx);
  if (threadIdx.x == 0) {
    sumDy[c] = static_cast<float>(ts);
    sumDyXhat[c] = static_cast<float>(tsx);
  }
}

// dx = gamma·invstd·(dy − sumDy/count − xhat·sumDyXhat/count) (dx may be dy).
__global__ void batchnorm_backward_k(float* dx, const float* dy, const float* x, const float* mean, const float* invstd,
                                     const float* gamma, const float* sumDy, const float* sumDyXhat, double count, long N,
                                     long C, long HW) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= N * C * HW) return;
  const long c = (t / HW) % C;
  const double is = invstd[c], mdy = count > 0 ? sumDy[c] / count : 0.0, mdx = count > 0 ? sumDyXhat[c] / count : 0.0;
  dx[t] = static_cast<float>(gamma[c] * is * (dy[t] - mdy - (x[t] - mean[c]) * is * mdx));
}

ConvDims conv_dims(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
  ConvDims d;
  d.N = N, d.C = C, d.H = H, d.W = W, d.OC = OC, d.k = k, d.s = stride, d.pad = pad;
  d.OH = (H + 2 * pad - k) / stride + 1;
  d.OW = (W + 2 * pad - k) / stride + 1;
  d.Cg = C / groups;
  d.OCg = OC / groups;
  return d;
}
PoolDims pool_dims(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  PoolDims d;
  d.N = N, d.C = C, d.H = H, d.W = W, d.kh = kh, d.kw = kw, d.s = stride, d.pad = pad;
  d.OH = (H + 2 * pad - kh) / stride + 1;
  d.OW = (W + 2 * pad - kw) / stride + 1;
  return d;
}
// A grid of one block per item: at most 2^31 − 1 blocks.
unsigned grid_of(int64_t items) {
  if (items > 2147483647) throw CudaError("too many blocks for one launch: " + std::to_string(items));
  return static_cast<unsigned>(items);
}

// ---- int8 -------------------------------------------------------------------------------------
// Exact integer products with dp4a (sm_61+): the mixed-sign PTX form dp4a.u32.s32 adds the four
// products of uint8 activation bytes and int8 weight bytes to an int32 (no offset of the
// activations by −128 and 128·wsum correction needed), every sum exact for K <= 32768.
__device__ __forceinline__ int dp4a_us(unsigned a, int b, int c) {
  int d;
  asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

// q (n) = clamp(round_half_even(f32(x·s)) + zp, 0, 255): NaN -> 0, clamp in float first.
__global__ void quantize_int8_k(uint8_t* q, const float* x, long n, float s, int zp) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= n) return;
  float v = __fmul_rn(x[t], s);
  if (v != v) v = 0.0f;
  v = fminf(fmaxf(v, -512.0f), 512.0f);
  const int z = __float2int_rn(v) + zp;
  q[t] = static_cast<uint8_t>(z < 0 ? 0 : z > 255 ? 255 : z);
}

// acc (M,N) = a (M,K) uint8 · w (N,K) int8 transposed: 64x64 tiles, k in steps of 64 bytes (16
// words of 4 bytes in shared memory, zero past K), 4x4 outputs per thread.
constexpr int QT = 64, QKW = 16;
__global__ void matmul_int8_tiled_k(int32_t* acc, const uint8_t* a, const int8_t* w, int M, int N, int K) {
  __shared__ unsigned sA[QKW][QT + 1];
  __shared__ int sW[QKW][QT + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const long i0 = blockIdx.y * (long)QT, j0 = blockIdx.x * (long)QT;
  int s[4][4] = {};
  for (long k0 = 0; k0 < K; k0 += 4 * QKW) {
    for (int e = threadIdx.x; e < QT * QKW; e += 256) {
      const int r = e / QKW, kw = e % QKW;
      const long kk = k0 + 4 * kw, i = i0 + r, j = j0 + r;
      unsigned va = 0, vw = 0;
#pragma unroll
      for (int b = 0; b < 4; b++) {
        if (kk + b < K) {
          if (i < M) va |= static_cast<unsigned>(a[i * K + kk + b]) << (8 * b);
          if (j < N) vw |= static_cast<unsigned>(static_cast<uint8_t>(w[j * K + kk + b])) << (8 * b);
        }
      }
      sA[kw][r] = va;
      sW[kw][r] = static_cast<int>(vw);
    }
    __syncthreads();
#pragma unroll
    for (int kw = 0; kw < QKW; kw++) {
      unsigned av[4];
      int bv[4];
#pragma unroll
      for (int u = 0; u < 4; u++) {
        av[u] = sA[kw][ty + 16 * u];
        bv[u] = sW[kw][tx + 16 * u];
      }
#pragma unroll
      for (int u = 0; u < 4; u++)
#pragma unroll
        for (int v = 0; v < 4; v++) s[u][v] = dp4a_us(av[u], bv[v], s[u][v]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int u = 0; u < 4; u++)
#pragma unroll
    for (int v = 0; v < 4; v++) {
      const long i = i0 + ty + 16 * u, j = j0 + tx + 16 * v;
      if (i < M && j < N) acc[i * N + j] = s[u][v];
    }
}

// acc (N,OC,OH,OW): one thread per output; the window's bytes (xZero outside the image) and the
// weights are packed 4 at a time (the weights' c, a, b order) into dp4a.
__global__ void conv2d_int8_k(int32_t* acc, const uint8_t* x, const int8_t* w, ConvDims d, int xZero) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= d.N * d.OC * d.OH * d.OW) return;
  const long j = t % d.OW, i = (t / d.OW) % d.OH, o = (t / (d.OW * d.OH)) % d.OC, n = t / (d.OW * d.OH * d.OC);
  const long c0 = (o / d.OCg) * d.Cg;
  const int8_t* wo = w + o * d.Cg * d.k * d.k;
  int s = 0, fill = 0;
  unsigned xa = 0, wa = 0;
  long e = 0;
  for (long c = 0; c < d.Cg; c++)
    for (long a = 0; a < d.k; a++) {
      const long h = i * d.s - d.pad + a;
      for (long b = 0; b < d.k; b++, e++) {
        const long ww = j * d.s - d.pad + b;
        const unsigned xv = (h >= 0 && h < d.H && ww >= 0 && ww < d.W) ? x[((n * d.C + c0 + c) * d.H + h) * d.W + ww] : static_cast<unsigned>(xZero);
        xa |= xv << (8 * fill);
        wa |= static_cast<unsigned>(static_cast<uint8_t>(wo[e])) << (8 * fill);
        if (++fill == 4) {
          s = dp4a_us(xa, static_cast<int>(wa), s);
          xa = wa = 0;
          fill = 0;
        }
      }
    }
  if (fill) s = dp4a_us(xa, static_cast<int>(wa), s);
  acc[t] = s;
}

// y (N,C,HW) = f32(f32(acc − zero·wsum[c])·scale[c]) + bias[c]: the difference exact in int64,
// one rounding to float, then a multiply and an add rounded separately (no FMA contraction).
__global__ void dequantize_int32_k(float* y, const int32_t* acc, const int32_t* wsum, const float* scale, const float* bias, int zero, long C, long HW, long n) {
  const long t = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (t >= n) return;
  const long c = (t / HW) % C;
  const long long diff = static_cast<long long>(acc[t]) - static_cast<long long>(zero) * wsum[c];
  y[t] = __fadd_rn(__fmul_rn(__ll2float_rn(diff), scale[c]), bias[c]);
}

}  // namespace

int device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string("no CUDA device (cudaGetDeviceCount: ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) + ")";
    cudaGetLastError();
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device (cudaGetDeviceCount returned 0)";
  return n;
}

std::string device_name() {
  cudaDeviceProp p;
  KDC_CHECK(cudaGetDeviceProperties(&p, 0));
  return std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.totalGlobalMem >> 30) + " GiB)";
}

void* managed_alloc(size_t bytes) {
  void* p = nullptr;
  KDC_CHECK(cudaMallocManaged(&p, bytes == 0 ? 4 : bytes, cudaMemAttachGlobal));
  KDC_CHECK(cudaMemset(p, 0, bytes == 0 ? 4 : bytes));  // zero-filled, like every backend's alloc
  KDC_CHECK(cudaDeviceSynchronize());
  std::lock_guard<std::mutex> g(managed().mu);
  managed().ranges[reinterpret_cast<uintptr_t>(p)] = bytes == 0 ? 4 : bytes;
  return p;
}

void managed_free(void* p) {
  {
    std::lock_guard<std::mutex> g(managed().mu);
    if (managed().ranges.erase(reinterpret_cast<uintptr_t>(p)) == 0) return;
  }
  cudaDeviceSynchronize();
  cudaFree(p);
}

bool managed_zero(void* p, size_t bytes) {
  if (!is_managed(p)) return false;
  if (bytes > 0) {
    KDC_CHECK(cudaMemset(p, 0, bytes));
    KDC_CHECK(cudaDeviceSynchronize());
  }
  return true;
}

bool uses_cublas() {
#ifdef DISTILLERY_HAVE_CUBLAS
  return true;
#else
  return false;
#endif
}

}  // namespace kdc

using namespace kdc;

void kdc_matmul(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool transA, bool transB, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  float* dC = accumulate ? upload(0, C, M * N) : output(0, C, M * N);
  if (K <= 0) {
    if (!accumulate) KDC_CHECK(cudaMemset(dC, 0, sizeof(float) * M * N));
    download(C, dC, M * N);
    return;
  }
  const float* dA = upload(1, A, M * K);
  const float* dB = upload(2, B, K * N);
#ifdef DISTILLERY_HAVE_CUBLAS
  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ.
  const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const cublasStatus_t st = cublasSgemm(blas(), transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N,
                                        (int)N, (int)M, (int)K, &one, dB, transB ? (int)K : (int)N, dA,
                                        transA ? (int)M : (int)K, &beta, dC, (int)N);
  if (st != CUBLAS_STATUS_SUCCESS) throw CudaError("cublasSgemm failed with status " + std::to_string((int)st));
#else
  const long ars = transA ? 1 : K, aks = transA ? M : 1, bks = transB ? 1 : N, bjs = transB ? K : 1;
  dim3 grid((unsigned)((N + TN - 1) / TN), (unsigned)((M + TM - 1) / TM));
  matmul_tiled_k<<<grid, 256>>>(dC, dA, dB, (int)M, (int)N, (int)K, ars, aks, bks, bjs, accumulate);
#endif
  download(C, dC, M * N);
}

void kdc_bias_add(float* y, const float* bias, int64_t N, int64_t OC) {
  if (N * OC == 0) return;
  float* dy = upload(0, y, N * OC);
  bias_add_k<<<blocks(N * OC), 256>>>(dy, upload(1, bias, OC), N, OC);
  download(y, dy, N * OC);
}

void kdc_bias_grad(float* dbias, const float* dy, int64_t N, int64_t OC, bool accumulate) {
  if (OC == 0) return;
  float* db = upload(0, dbias, OC);
  bias_grad_k<<<blocks(OC), 256>>>(db, upload(1, dy, N * OC), N, OC, accumulate);
  download(dbias, db, OC);
}

void kdc_relu(float* out, const float* inp, int64_t n) {
  if (n == 0) return;
  float* d = output(0, out, n);
  relu_k<<<blocks(n), 256>>>(d, upload(1, inp, n), n);
  download(out, d, n);
}

void kdc_relu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  if (n == 0) return;
  float* d = output(0, dinp, n);
  relu_backward_k<<<blocks(n), 256>>>(d, upload(1, dout, n), upload(2, inp, n), n);
  download(dinp, d, n);
}

void kdc_gelu(float* out, const float* inp, int64_t n) {
  if (n == 0) return;
  float* d = output(0, out, n);
  gelu_k<<<blocks(n), 256>>>(d, upload(1, inp, n), n);
  download(out, d, n);
}

void kdc_gelu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  if (n == 0) return;
  float* d = output(0, dinp, n);
  gelu_backward_k<<<blocks(n), 256>>>(d, upload(1, dout, n), upload(2, inp, n), n);
  download(dinp, d, n);
}

void kdc_softmax_t(float* out, const float* logits, int64_t N, int64_t K, double T) {
  if (N * K == 0) return;
  float* d = output(0, out, N * K);
  softmax_t_k<<<blocks(N, 128), 128>>>(d, upload(1, logits, N * K), N, K, 1.0 / T, false);
  download(out, d, N * K);
}

void kdc_log_softmax_t(float* out, const float* logits, int64_t N, int64_t K, double T) {
  if (N * K == 0) return;
  float* d = output(0, out, N * K);
  softmax_t_k<<<blocks(N, 128), 128>>>(d, upload(1, logits, N * K), N, K, 1.0 / T, true);
  download(out, d, N * K);
}

double kdc_kd_loss(float* dS, const float* s, const float* t, int64_t N, int64_t K, double T, double alpha, bool scaleT2, bool accumulate) {
  if (N <= 0) return 0.0;
  const double lossScale = alpha * (scaleT2 ? T * T : 1.0) / N, gradScale = alpha * (scaleT2 ? T : 1.0 / T) / N;
  float* d = accumulate ? upload(0, dS, N * K) : output(0, dS, N * K);
  double* rows = scratch<double>(3, N);
  kd_loss_k<<<blocks(N, 128), 128>>>(d, upload(1, s, N * K), upload(2, t, N * K), rows, N, K, 1.0 / T, gradScale, accumulate);
  std::vector<double> h(N);
  download(h.data(), rows, N);
  download(dS, d, N * K);
  double total = 0.0;
  for (double v : h) total += v;
  return total * lossScale;
}

double kdc_cross_entropy(float* dlogits, const float* logits, const int32_t* labels, int64_t N, int64_t K, double weight, bool accumulate) {
  if (N <= 0) return 0.0;
  const double scale = weight / N;
  float* d = accumulate ? upload(0, dlogits, N * K) : output(0, dlogits, N * K);
  double* rows = scratch<double>(3, N);
  cross_entropy_k<<<blocks(N, 128), 128>>>(d, upload(1, logits, N * K), upload(2, labels, N), rows, N, K, scale, accumulate);
  std::vector<double> h(N);
  download(h.data(), rows, N);
  download(dlogits, d, N * K);
  double total = 0.0;
  for (double v : h) total += v;
  return total * scale;
}

double kdc_mse(float* dpred, const float* pred, const float* target, int64_t n, double weight, bool accumulate) {
  if (n <= 0) return 0.0;
  const unsigned nb = blocks(n);
  float* d = accumulate ? upload(0, dpred, n) : output(0, dpred, n);
  double* partial = scratch<double>(3, nb);
  mse_k<<<nb, 256>>>(d, upload(1, pred, n), upload(2, target, n), partial, n, static_cast<float>(weight * 2.0 / n), accumulate);
  std::vector<double> h(nb);
  download(h.data(), partial, nb);
  download(dpred, d, n);
  double total = 0.0;
  for (double v : h) total += v;
  return weight * total / n;
}

void kdc_sgd_step(float* params, const float* grads, float* momentumBuf, int64_t n, double lr, double momentum, double weightDecay, bool nesterov) {
  if (n == 0) return;
  float* p = upload(0, params, n);
  float* b = momentum != 0.0 ? upload(2, momentumBuf, n) : scratch<float>(2, 1);
  sgd_step_k<<<blocks(n), 256>>>(p, upload(1, grads, n), b, n, (float)lr, (float)momentum, (float)weightDecay, nesterov);
  download(params, p, n);
  if (momentum != 0.0) download(momentumBuf, b, n);
}

void kdc_adamw_step(float* params, const float* grads, float* m, float* v, int64_t n, double lr, double beta1, double beta2, double eps, double weightDecay, double step) {
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(beta1, step), bc2 = 1.0 - std::pow(beta2, step);
  float* p = upload(0, params, n);
  float* dm = upload(2, m, n);
  float* dv = upload(3, v, n);
  adamw_step_k<<<blocks(n), 256>>>(p, upload(1, grads, n), dm, dv, n, (float)(lr * weightDecay), (float)beta1, (float)beta2,
                              (float)(1.0 - beta1), (float)(1.0 - beta2), (float)(lr / bc1), (float)(1.0 / bc2), (float)eps);
  download(params, p, n);
  download(m, dm, n);
  download(v, dv, n);
}

void kdc_conv2d(float* y, const float* x, const float* w, const float* bias, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
  const ConvDims d = conv_dims(N, C, H, W, OC, k, stride, pad, groups);
  const int64_t ys = N * OC * d.OH * d.OW;
  if (ys == 0) return;
  float* dY = output(0, y, ys);
  conv2d_k<<<blocks(ys), 256>>>(dY, upload(1, x, N * C * H * W), upload(2, w, OC * d.Cg * k * k), upload(3, bias, OC), d);
  download(y, dY, ys);
}

void kdc_conv2d_backward_data(float* dx, const float* dy, const float* w, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
  const ConvDims d = conv_dims(N, C, H, W, OC, k, stride, pad, groups);
  const int64_t xs = N * C * H * W;
  if (xs == 0) return;
  float* dX = output(0, dx, xs);
  conv2d_backward_data_k<<<blocks(xs), 256>>>(dX, upload(1, dy, N * OC * d.OH * d.OW), upload(2, w, OC * d.Cg * k * k), d);
  download(dx, dX, xs);
}

void kdc_conv2d_backward_weight(float* dw, float* dbias, const float* dy, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, bool accumulate) {
  const ConvDims d = conv_dims(N, C, H, W, OC, k, stride, pad, groups);
  const int64_t ws = OC * d.Cg * k * k;
  if (OC == 0) return;
  float* dW = accumulate ? upload(0, dw, ws) : output(0, dw, ws);
  float* dB = accumulate ? upload(1, dbias, OC) : output(1, dbias, OC);
  const float* dY = upload(2, dy, N * OC * d.OH * d.OW);
  const float* dXin = upload(3, x, N * C * H * W);
  if (ws > 0) conv2d_backward_weight_k<<<grid_of(ws), 256>>>(dW, dY, dXin, d, accumulate);
  KDC_CHECK(cudaGetLastError());
  conv2d_backward_weight_bias_k<<<grid_of(OC), 256>>>(dB, dY, d, accumulate);
  download(dw, dW, ws);
  download(dbias, dB, OC);
}

void kdc_maxpool2d(float* y, int32_t* idx, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  const PoolDims d = pool_dims(N, C, H, W, kh, kw, stride, pad);
  const int64_t ys = N * C * d.OH * d.OW;
  if (ys == 0) return;
  float* dY = output(0, y, ys);
  int32_t* dI = output(1, idx, ys);
  maxpool2d_k<<<blocks(ys), 256>>>(dY, dI, upload(2, x, N * C * H * W), d);
  download(y, dY, ys);
  download(idx, dI, ys);
}

void kdc_maxpool2d_backward(float* dx, const float* dy, const int32_t* idx, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  const PoolDims d = pool_dims(N, C, H, W, kh, kw, stride, pad);
  const int64_t xs = N * C * H * W, ys = N * C * d.OH * d.OW;
  if (xs == 0) return;
  float* dX = output(0, dx, xs);
  maxpool2d_backward_k<<<blocks(xs), 256>>>(dX, upload(1, dy, ys), upload(2, idx, ys), d);
  download(dx, dX, xs);
}

void kdc_avgpool2d(float* y, const float* x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  const PoolDims d = pool_dims(N, C, H, W, kh, kw, stride, pad);
  const int64_t ys = N * C * d.OH * d.OW;
  if (ys == 0) return;
  float* dY = output(0, y, ys);
  avgpool2d_k<<<blocks(ys), 256>>>(dY, upload(1, x, N * C * H * W), d);
  download(y, dY, ys);
}

void kdc_avgpool2d_backward(float* dx, const float* dy, int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pad) {
  const PoolDims d = pool_dims(N, C, H, W, kh, kw, stride, pad);
  const int64_t xs = N * C * H * W;
  if (xs == 0) return;
  float* dX = output(0, dx, xs);
  avgpool2d_backward_k<<<blocks(xs), 256>>>(dX, upload(1, dy, N * C * d.OH * d.OW), d);
  download(dx, dX, xs);
}

void kdc_batchnorm_stats(float* mean, float* m2, const float* x, int64_t N, int64_t C, int64_t HW) {
  if (C == 0) return;
  float* dM = output(0, mean, C);
  float* dM2 = output(1, m2, C);
  batchnorm_stats_k<<<grid_of(C), 256>>>(dM, dM2, upload(2, x, N * C * HW), N, C, HW);
  download(mean, dM, C);
  download(m2, dM2, C);
}

void kdc_batchnorm(float* y, const float* x, const float* mean, const float* invstd, const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW) {
  const int64_t n = N * C * HW;
  if (n == 0) return;
  // y may be x: in managed memory they are the same device array (element-wise, in place);
  // otherwise x is copied in first (slot 1) and y is a separate output (slot 0).
  const float* dX = upload(1, x, n);
  float* dY = output(0, y, n);
  batchnorm_k<<<blocks(n), 256>>>(dY, dX, upload(2, mean, C), upload(3, invstd, C), upload(4, gamma, C), upload(5, beta, C), N, C, HW);
  download(y, dY, n);
}

void kdc_batchnorm_backward_reduce(float* sumDy, float* sumDyXhat, const float* dy, const float* x, const float* mean, const float* invstd, int64_t N, int64_t C, int64_t HW) {
  if (C == 0) return;
  const int64_t n = N * C * HW;
  float* dS = output(0, sumDy, C);
  float* dSX = output(1, sumDyXhat, C);
  batchnorm_backward_reduce_k<<<grid_of(C), 256>>>(dS, dSX, upload(2, dy, n), upload(3, x, n), upload(4, mean, C), upload(5, invstd, C), N, C, HW);
  download(sumDy, dS, C);
  download(sumDyXhat, dSX, C);
}

void kdc_batchnorm_backward(float* dx, const float* dy, const float* x, const float* mean, const float* invstd, const float* gamma, const float* sumDy, const float* sumDyXhat, double count, int64_t N, int64_t C, int64_t HW) {
  const int64_t n = N * C * HW;
  if (n == 0) return;
  // dx may be dy: uploaded first (slot 1), as in kdc_batchnorm.
  const float* dDY = upload(1, dy, n);
  float* dDX = output(0, dx, n);
  batchnorm_backward_k<<<blocks(n), 256>>>(dDX, dDY, upload(2, x, n), upload(3, mean, C), upload(4, invstd, C), upload(5, gamma, C),
                                           upload(6, sumDy, C), upload(7, sumDyXhat, C), count, N, C, HW);
  download(dx, dDX, n);
}

void kdc_quantize_int8(uint8_t* q, const float* x, int64_t n, float invScale, int32_t zeroPoint) {
  if (n <= 0) return;
  uint8_t* dQ = output(0, q, n);
  quantize_int8_k<<<blocks(n), 256>>>(dQ, upload(1, x, n), n, invScale, zeroPoint);
  download(q, dQ, n);
}

void kdc_matmul_int8(int32_t* acc, const uint8_t* a, const int8_t* w, int64_t M, int64_t N, int64_t K) {
  if (M <= 0 || N <= 0) return;
  int32_t* dC = output(0, acc, M * N);
  dim3 grid((unsigned)((N + QT - 1) / QT), (unsigned)((M + QT - 1) / QT));
  matmul_int8_tiled_k<<<grid, 256>>>(dC, upload(1, a, M * K), upload(2, w, N * K), (int)M, (int)N, (int)K);
  download(acc, dC, M * N);
}

void kdc_conv2d_int8(int32_t* acc, const uint8_t* x, const int8_t* w, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride, int64_t pad, int64_t groups, int32_t xZero) {
  const ConvDims d = conv_dims(N, C, H, W, OC, k, stride, pad, groups);
  const int64_t ys = N * OC * d.OH * d.OW;
  if (ys == 0) return;
  int32_t* dY = output(0, acc, ys);
  conv2d_int8_k<<<blocks(ys), 256>>>(dY, upload(1, x, N * C * H * W), upload(2, w, OC * d.Cg * k * k), d, xZero);
  download(acc, dY, ys);
}

void kdc_dequantize_int32(float* y, const int32_t* acc, const int32_t* wsum, const float* scale, const float* bias, int32_t zero, int64_t N, int64_t C, int64_t HW) {
  const int64_t n = N * C * HW;
  if (n == 0) return;
  const int32_t* dA = upload(1, acc, n);  // before y's slot: y may be acc's memory
  float* dY = output(0, y, n);
  dequantize_int32_k<<<blocks(n), 256>>>(dY, dA, upload(2, wsum, C), upload(3, scale, C), upload(4, bias, C), zero, C, HW, n);
  download(y, dY, n);
}
