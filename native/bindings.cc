// native/bindings.cc: Node-API bindings, shared by the CPU and CUDA addons (kernels come from a
// KernelTable). Every binding checks its argument count and types,
// that each size is an integer in [0, 2^31), that every array holds at least the elements the
// sizes imply (and is aligned for its element type), then calls the kernel on the caller's
// memory in place (Float32Array/Int32Array, and Uint8Array/Int8Array for the int8 kernels, over
// ArrayBuffer or SharedArrayBuffer, no copies).
// Bad arguments throw TypeError/RangeError naming the argument; nothing is read or written
// out of bounds.
#include "bindings.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>


namespace kd {
namespace {

const KernelTable& table(const Napi::CallbackInfo& info) { return *static_cast<const KernelTable*>(info.Data()); }

constexpr double kMaxSize = 2147483647.0;  // 2^31 - 1

[[noreturn]] void type_error(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] void range_error(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

void need_args(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n)
    type_error(info.Env(), std::string(fn) + ": expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
}

double number_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  napi_env env = info.Env();
  napi_valuetype t;
  napi_typeof(env, info[i], &t);
  if (t != napi_number) type_error(info.Env(), std::string(fn) + ": " + name + " must be a number");
  double v;
  napi_get_value_double(env, info[i], &v);
  return v;
}

// A non-negative integer size below 2^31.
int64_t size_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  const double v = number_arg(info, i, fn, name);
  if (!(v >= 0 && v <= kMaxSize) || std::floor(v) != v)
    range_error(info.Env(), std::string(fn) + ": " + name + " must be an integer in [0, 2^31), got " + info[i].ToString().Utf8Value());
  return static_cast<int64_t>(v);
}

double finite_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  const double v = number_arg(info, i, fn, name);
  if (!std::isfinite(v)) range_error(info.Env(), std::string(fn) + ": " + name + " must be finite, got " + std::to_string(v));
  return v;
}

bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  napi_env env = info.Env();
  napi_valuetype t;
  napi_typeof(env, info[i], &t);
  if (t != napi_boolean) type_error(info.Env(), std::string(fn) + ": " + name + " must be a boolean");
  bool v;
  napi_get_value_bool(env, info[i], &v);
  return v;
}

struct View {
  void* data;
  size_t length;  // elements
};

// The element type, length and data of argument i; false when it is not a typed array.
bool typed_info(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type* type, size_t* length, void** data) {
  napi_env env = info.Env();
  bool is = false;
  napi_is_typedarray(env, info[i], &is);
  size_t offset = 0;
  napi_value ab;
  return is && napi_get_typedarray_info(env, info[i], type, length, data, &ab, &offset) == napi_ok;
}

View typed_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, napi_typedarray_type want,
               const char* wantName, int64_t need, uintptr_t align = 4) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (!typed_info(info, i, &type, &length, &data) || type != want) type_error(info.Env(), std::string(fn) + ": " + name + " must be a " + wantName);
  if (static_cast<int64_t>(length) < need)
    range_error(info.Env(), std::string(fn) + ": " + name + " has " + std::to_string(length) + " elements, needs at least " + std::to_string(need));
  if (need > 0 && (data == nullptr || reinterpret_cast<uintptr_t>(data) % align != 0))
    range_error(info.Env(), std::string(fn) + ": " + name + (align > 1 ? " is detached or not 4-byte aligned" : " is detached"));
  return {data, length};
}

float* f32(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t need) {
  return static_cast<float*>(typed_arg(info, i, fn, name, napi_float32_array, "Float32Array", need).data);
}
int32_t* i32(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t need) {
  return static_cast<int32_t*>(typed_arg(info, i, fn, name, napi_int32_array, "Int32Array", need).data);
}

uint8_t* u8(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t need) {
  return static_cast<uint8_t*>(typed_arg(info, i, fn, name, napi_uint8_array, "Uint8Array", need, 1).data);
}
int8_t* i8(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t need) {
  return static_cast<int8_t*>(typed_arg(info, i, fn, name, napi_int8_array, "Int8Array", need, 1).data);
}

// True when the byte ranges [a, a+na) and [b, b+nb) overlap.
bool overlaps_bytes(const void* a, int64_t na, const void* b, int64_t nb) {
  if (na == 0 || nb == 0) return false;
  const uintptr_t a0 = reinterpret_cast<uintptr_t>(a), a1 = a0 + na;
  const uintptr_t b0 = reinterpret_cast<uintptr_t>(b), b1 = b0 + nb;
  return a0 < b1 && b0 < a1;
}

// True when [a, a+na) and [b, b+nb) (floats) overlap.
bool overlaps(const float* a, int64_t na, const float* b, int64_t nb) {
  if (na == 0 || nb == 0) return false;
  const uintptr_t a0 = reinterpret_cast<uintptr_t>(a), a1 = a0 + 4 * na;
  const uintptr_t b0 = reinterpret_cast<uintptr_t>(b), b1 = b0 + 4 * nb;
  return a0 < b1 && b0 < a1;
}

// Element-wise kernels may run in place (same start) but must not be shifted against each other.
void same_or_disjoint(Napi::Env env, const char* fn, const char* an, const float* a, const char* bn, const float* b, int64_t n) {
  if (a != b && overlaps(a, n, b, n)) range_error(env, std::string(fn) + ": " + an + " and " + bn + " partly overlap (only full aliasing is allowed)");
}

// A thread count in [1, 64].
int64_t threads_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  const int64_t t = size_arg(info, i, fn, "threads");
  if (t < 1 || t > 64) range_error(info.Env(), std::string(fn) + ": threads must be in [1, 64], got " + std::to_string(t));
  return t;
}

// matmul(C, A, B, M, N, K, transA, transB, accumulate)
// matmul_threads(..., threads): the same on up to `threads` threads, bitwise-identical results
// (CPU addon only).
template <bool Threads>
Napi::Value MatmulT(const Napi::CallbackInfo& info) {
  const char* fn = Threads ? "matmul_threads" : "matmul";
  need_args(info, Threads ? 10 : 9, fn);
  const int64_t M = size_arg(info, 3, fn, "M"), N = size_arg(info, 4, fn, "N"), K = size_arg(info, 5, fn, "K");
  const bool tA = bool_arg(info, 6, fn, "transA"), tB = bool_arg(info, 7, fn, "transB"), acc = bool_arg(info, 8, fn, "accumulate");
  const int64_t threads = Threads ? threads_arg(info, 9, fn) : 1;
  float* C = f32(info, 0, fn, "C", M * N);
  const float* A = f32(info, 1, fn, "A", M * K);
  const float* B = f32(info, 2, fn, "B", K * N);
  if (overlaps(C, M * N, A, M * K)) range_error(info.Env(), std::string(fn) + ": C overlaps A");
  if (overlaps(C, M * N, B, K * N)) range_error(info.Env(), std::string(fn) + ": C overlaps B");
  if (Threads) table(info).matmul_mt(C, A, B, M, N, K, tA, tB, acc, threads);
  else table(info).matmul(C, A, B, M, N, K, tA, tB, acc);
  return info.Env().Undefined();
}
Napi::Value Matmul(const Napi::CallbackInfo& info) { return MatmulT<false>(info); }
Napi::Value MatmulThreads(const Napi::CallbackInfo& info) { return MatmulT<true>(info); }

// bias_add(y, bias, N, OC)
Napi::Value BiasAdd(const Napi::CallbackInfo& info) {
  const char* fn = "bias_add";
  need_args(info, 4, fn);
  const int64_t N = size_arg(info, 2, fn, "N"), OC = size_arg(info, 3, fn, "OC");
  float* y = f32(info, 0, fn, "y", N * OC);
  const float* b = f32(info, 1, fn, "bias", OC);
  if (N > 0 && overlaps(y, N * OC, b, OC)) range_error(info.Env(), "bias_add: y overlaps bias");
  table(info).bias_add(y, b, N, OC);
  return info.Env().Undefined();
}

// bias_grad(dbias, dy, N, OC, accumulate)
Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
  const char* fn = "bias_grad";
  need_args(info, 5, fn);
  const int64_t N = size_arg(info, 2, fn, "N"), OC = size_arg(info, 3, fn, "OC");
  const bool acc = bool_arg(info, 4, fn, "accumulate");
  float* db = f32(info, 0, fn, "dbias", OC);
  const float* dy = f32(info, 1, fn, "dy", N * OC);
  if (overlaps(db, OC, dy, N * OC)) range_error(info.Env(), "bias_grad: dbias overlaps dy");
  table(info).bias_grad(db, dy, N, OC, acc);
  return info.Env().Undefined();
}

// relu/gelu(out, inp, n)
using UnaryFn = void (*KernelTable::*)(float*, const float*, int64_t);
template <UnaryFn Kernel>
Napi::Value Unary(const Napi::CallbackInfo& info, const char* fn) {
  need_args(info, 3, fn);
  const int64_t n = size_arg(info, 2, fn, "n");
  float* out = f32(info, 0, fn, "out", n);
  const float* inp = f32(info, 1, fn, "inp", n);
  same_or_disjoint(info.Env(), fn, "out", out, "inp", inp, n);
  (table(info).*Kernel)(out, inp, n);
  return info.Env().Undefined();
}
Napi::Value Relu(const Napi::CallbackInfo& info) { return Unary<&KernelTable::relu>(info, "relu"); }
Napi::Value Gelu(const Napi::CallbackInfo& info) { return Unary<&KernelTable::gelu>(info, "gelu"); }

// relu_backward/gelu_backward(dinp, dout, inp, n)
using UnaryBackwardFn = void (*KernelTable::*)(float*, const float*, const float*, int64_t);
template <UnaryBackwardFn Kernel>
Napi::Value UnaryBackward(const Napi::CallbackInfo& info, const char* fn) {
  need_args(info, 4, fn);
  const int64_t n = size_arg(info, 3, fn, "n");
  float* dinp = f32(info, 0, fn, "dinp", n);
  const float* dout = f32(info, 1, fn, "dout", n);
  const float* inp = f32(info, 2, fn, "inp", n);
  same_or_disjoint(info.Env(), fn, "dinp", dinp, "dout", dout, n);
  same_or_disjoint(info.Env(), fn, "dinp", dinp, "inp", inp, n);
  (table(info).*Kernel)(dinp, dout, inp, n);
  return info.Env().Undefined();
}
Napi::Value ReluBackward(const Napi::CallbackInfo& info) { return UnaryBackward<&KernelTable::relu_backward>(info, "relu_backward"); }
Napi::Value GeluBackward(const Napi::CallbackInfo& info) { return UnaryBackward<&KernelTable::gelu_backward>(info, "gelu_backward"); }

double temperature_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  const double T = number_arg(info, i, fn, "T");
  if (!(T > 0 && std::isfinite(T))) range_error(info.Env(), std::string(fn) + ": T must be a finite number > 0, got " + std::to_string(T));
  return T;
}

// softmax_t/log_softmax_t(out, logits, N, K, T)
using SoftmaxFn = void (*KernelTable::*)(float*, const float*, int64_t, int64_t, double);
template <SoftmaxFn Kernel>
Napi::Value Softmax(const Napi::CallbackInfo& info, const char* fn) {
  need_args(info, 5, fn);
  const int64_t N = size_arg(info, 2, fn, "N"), K = size_arg(info, 3, fn, "K");
  const double T = temperature_arg(info, 4, fn);
  float* out = f32(info, 0, fn, "out", N * K);
  const float* z = f32(info, 1, fn, "logits", N * K);
  same_or_disjoint(info.Env(), fn, "out", out, "logits", z, N * K);
  (table(info).*Kernel)(out, z, N, K, T);
  return info.Env().Undefined();
}
Napi::Value SoftmaxT(const Napi::CallbackInfo& info) { return Softmax<&KernelTable::softmax_t>(info, "softmax_t"); }
Napi::Value LogSoftmaxT(const Napi::CallbackInfo& info) { return Softmax<&KernelTable::log_softmax_t>(info, "log_softmax_t"); }

// kd_loss(dS, s, t, N, K, T, alpha, scaleT2, accumulate) -> loss
Napi::Value KdLoss(const Napi::CallbackInfo& info) {
  const char* fn = "kd_loss";
  need_args(info, 9, fn);
  const int64_t N = size_arg(info, 3, fn, "N"), K = size_arg(info, 4, fn, "K");
  const double T = temperature_arg(info, 5, fn);
  const double alpha = finite_arg(info, 6, fn, "alpha");
  const bool t2 = bool_arg(info, 7, fn, "scaleT2"), acc = bool_arg(info, 8, fn, "accumulate");
  float* dS = f32(info, 0, fn, "dS", N * K);
  const float* s = f32(info, 1, fn, "s", N * K);
  const float* t = f32(info, 2, fn, "t", N * K);
  if (N > 0 && K == 0) range_error(info.Env(), "kd_loss: K must be > 0 when N > 0");
  if (overlaps(dS, N * K, s, N * K) || overlaps(dS, N * K, t, N * K)) range_error(info.Env(), "kd_loss: dS overlaps s or t");
  return Napi::Number::New(info.Env(), table(info).kd_loss(dS, s, t, N, K, T, alpha, t2, acc));
}

// cross_entropy(dlogits, logits, labels, N, K, weight, accumulate) -> loss
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const char* fn = "cross_entropy";
  need_args(info, 7, fn);
  const int64_t N = size_arg(info, 3, fn, "N"), K = size_arg(info, 4, fn, "K");
  const double w = finite_arg(info, 5, fn, "weight");
  const bool acc = bool_arg(info, 6, fn, "accumulate");
  float* d = f32(info, 0, fn, "dlogits", N * K);
  const float* z = f32(info, 1, fn, "logits", N * K);
  const int32_t* y = i32(info, 2, fn, "labels", N);
  if (overlaps(d, N * K, z, N * K)) range_error(info.Env(), "cross_entropy: dlogits overlaps logits");
  for (int64_t n = 0; n < N; n++)
    if (y[n] < 0 || y[n] >= K)
      range_error(info.Env(), "cross_entropy: labels[" + std::to_string(n) + "] = " + std::to_string(y[n]) + " is outside [0, K=" + std::to_string(K) + ")");
  return Napi::Number::New(info.Env(), table(info).cross_entropy(d, z, y, N, K, w, acc));
}

// mse(dpred, pred, target, n, weight, accumulate) -> loss
Napi::Value Mse(const Napi::CallbackInfo& info) {
  const char* fn = "mse";
  need_args(info, 6, fn);
  const int64_t n = size_arg(info, 3, fn, "n");
  const double w = finite_arg(info, 4, fn, "weight");
  const bool acc = bool_arg(info, 5, fn, "accumulate");
  float* d = f32(info, 0, fn, "dpred", n);
  const float* p = f32(info, 1, fn, "pred", n);
  const float* t = f32(info, 2, fn, "target", n);
  same_or_disjoint(info.Env(), fn, "dpred", d, "pred", p, n);
  same_or_disjoint(info.Env(), fn, "dpred", d, "target", t, n);
  return Napi::Number::New(info.Env(), table(info).mse(d, p, t, n, w, acc));
}

// sgd_step(params, grads, momentumBuf, n, lr, momentum, weightDecay, nesterov)
// sgd_step_threads(..., threads): the same on up to `threads` threads (CPU addon only).
template <bool Threads>
Napi::Value SgdStepT(const Napi::CallbackInfo& info) {
  const char* fn = Threads ? "sgd_step_threads" : "sgd_step";
  need_args(info, Threads ? 9 : 8, fn);
  const int64_t n = size_arg(info, 3, fn, "n");
  const double lr = finite_arg(info, 4, fn, "lr"), mu = finite_arg(info, 5, fn, "momentum"), wd = finite_arg(info, 6, fn, "weightDecay");
  const bool nesterov = bool_arg(info, 7, fn, "nesterov");
  const int64_t threads = Threads ? threads_arg(info, 8, fn) : 1;
  float* p = f32(info, 0, fn, "params", n);
  const float* g = f32(info, 1, fn, "grads", n);
  float* b = f32(info, 2, fn, "momentumBuf", mu != 0.0 ? n : 0);
  if (overlaps(p, n, g, n)) range_error(info.Env(), std::string(fn) + ": params overlaps grads");
  if (mu != 0.0 && (overlaps(p, n, b, n) || overlaps(g, n, b, n))) range_error(info.Env(), std::string(fn) + ": momentumBuf overlaps params or grads");
  if (Threads) table(info).sgd_step_mt(p, g, b, n, lr, mu, wd, nesterov, threads);
  else table(info).sgd_step(p, g, b, n, lr, mu, wd, nesterov);
  return info.Env().Undefined();
}
Napi::Value SgdStep(const Napi::CallbackInfo& info) { return SgdStepT<false>(info); }
Napi::Value SgdStepThreads(const Napi::CallbackInfo& info) { return SgdStepT<true>(info); }

// adamw_step(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, step)
// adamw_step_threads(..., threads): the same on up to `threads` threads (CPU addon only).
template <bool Threads>
Napi::Value AdamwStepT(const Napi::CallbackInfo& info) {
  const char* fn = Threads ? "adamw_step_threads" : "adamw_step";
  need_args(info, Threads ? 12 : 11, fn);
  const int64_t n = size_arg(info, 4, fn, "n");
  const double lr = finite_arg(info, 5, fn, "lr"), b1 = finite_arg(info, 6, fn, "beta1"), b2 = finite_arg(info, 7, fn, "beta2");
  const double eps = finite_arg(info, 8, fn, "eps"), wd = finite_arg(info, 9, fn, "weightDecay"), step = finite_arg(info, 10, fn, "step");
  const int64_t threads = Threads ? threads_arg(info, 11, fn) : 1;
  float* p = f32(info, 0, fn, "params", n);
  const float* g = f32(info, 1, fn, "grads", n);
  float* m = f32(info, 2, fn, "m", n);
  float* v = f32(info, 3, fn, "v", n);
  if (overlaps(p, n, g, n) || overlaps(p, n, m, n) || overlaps(p, n, v, n) || overlaps(g, n, m, n) || overlaps(g, n, v, n) || overlaps(m, n, v, n))
    range_error(info.Env(), std::string(fn) + ": params, grads, m and v must not overlap");
  if (Threads) table(info).adamw_step_mt(p, g, m, v, n, lr, b1, b2, eps, wd, step, threads);
  else table(info).adamw_step(p, g, m, v, n, lr, b1, b2, eps, wd, step);
  return info.Env().Undefined();
}
Napi::Value AdamwStep(const Napi::CallbackInfo& info) { return AdamwStepT<false>(info); }
Napi::Value AdamwStepThreads(const Napi::CallbackInfo& info) { return AdamwStepT<true>(info); }

// ---- convolution, pooling, batch norm ---------------------------------------------------------

// a·b for tensor sizes, saturating at 2^53 (beyond any array's length, so the array check that
// follows refuses it) instead of overflowing.
int64_t mul(int64_t a, int64_t b) {
  constexpr int64_t kHuge = int64_t{1} << 53;
  if (a == 0 || b == 0) return 0;
  if (a > kHuge / b) return kHuge;
  return a * b;
}
int64_t mul(int64_t a, int64_t b, int64_t c, int64_t d) { return mul(mul(a, b), mul(c, d)); }

bool overlaps_i(const float* a, int64_t na, const int32_t* b, int64_t nb) { return overlaps(a, na, reinterpret_cast<const float*>(b), nb); }

// ConvParams as 9 sizes from argument `at` on (N, C, H, W, OC, k, stride, pad, groups), checked.
struct ConvArgs {
  int64_t N, C, H, W, OC, k, stride, pad, groups;
  int64_t xs, ws, ys;  // element counts of x, w, y
};
ConvArgs conv_args(const Napi::CallbackInfo& info, size_t at, const char* fn) {
  ConvArgs a{};
  a.N = size_arg(info, at, fn, "N"), a.C = size_arg(info, at + 1, fn, "C"), a.H = size_arg(info, at + 2, fn, "H");
  a.W = size_arg(info, at + 3, fn, "W"), a.OC = size_arg(info, at + 4, fn, "OC"), a.k = size_arg(info, at + 5, fn, "k");
  a.stride = size_arg(info, at + 6, fn, "stride"), a.pad = size_arg(info, at + 7, fn, "pad"), a.groups = size_arg(info, at + 8, fn, "groups");
  const std::string f(fn);
  if (a.k < 1) range_error(info.Env(), f + ": k must be >= 1");
  if (a.stride < 1) range_error(info.Env(), f + ": stride must be >= 1");
  if (a.groups < 1 || a.C % a.groups != 0 || a.OC % a.groups != 0)
    range_error(info.Env(), f + ": groups must be >= 1 and divide C and OC, got groups=" + std::to_string(a.groups) + " C=" + std::to_string(a.C) + " OC=" + std::to_string(a.OC));
  if (a.H + 2 * a.pad < a.k || a.W + 2 * a.pad < a.k)
    range_error(info.Env(), f + ": the padded input (" + std::to_string(a.H) + "+2*" + std::to_string(a.pad) + " x " + std::to_string(a.W) + "+2*" + std::to_string(a.pad) + ") is smaller than the " + std::to_string(a.k) + "x" + std::to_string(a.k) + " kernel");
  const int64_t OH = (a.H + 2 * a.pad - a.k) / a.stride + 1, OW = (a.W + 2 * a.pad - a.k) / a.stride + 1;
  a.xs = mul(a.N, a.C, a.H, a.W);
  a.ws = mul(a.OC, a.C / a.groups, a.k, a.k);
  a.ys = mul(a.N, a.OC, OH, OW);
  return a;
}

// conv2d(y, x, w, bias, N, C, H, W, OC, k, stride, pad, groups); conv2d_threads(..., threads) (CPU addon only).
template <bool Threads>
Napi::Value Conv2dT(const Napi::CallbackInfo& info) {
  const char* fn = Threads ? "conv2d_threads" : "conv2d";
  need_args(info, Threads ? 14 : 13, fn);
  const ConvArgs a = conv_args(info, 4, fn);
  const int64_t threads = Threads ? threads_arg(info, 13, fn) : 1;
  float* y = f32(info, 0, fn, "y", a.ys);
  const float* x = f32(info, 1, fn, "x", a.xs);
  const float* w = f32(info, 2, fn, "w", a.ws);
  const float* b = f32(info, 3, fn, "bias", a.OC);
  if (overlaps(y, a.ys, x, a.xs) || overlaps(y, a.ys, w, a.ws) || overlaps(y, a.ys, b, a.OC)) range_error(info.Env(), std::string(fn) + ": y overlaps x, w or bias");
  if (Threads) table(info).conv2d_mt(y, x, w, b, a.N, a.C, a.H, a.W, a.OC, a.k, a.stride, a.pad, a.groups, threads);
  else table(info).conv2d(y, x, w, b, a.N, a.C, a.H, a.W, a.OC, a.k, a.stride, a.pad, a.groups);
  return info.Env().Undefined();
}
Napi::Value Conv2d(const Napi::CallbackInfo& info) { return Conv2dT<false>(info); }
Napi::Value Conv2dThreads(const Napi::CallbackInfo& info) { return Conv2dT<true>(info); }

// conv2d_backward_data(dx, dy, w, N, C, H, W, OC, k, stride, pad, groups); _threads(..., threads).
template <bool Threads>
Napi::Value Conv2dBackwardDataT(const Napi::CallbackInfo& info) {
  const char* fn = Threads ? "conv2d_backward_data_threads" : "conv2d_backward_data";
  need_args(info, Threads ? 13 : 12, fn);
  const ConvArgs a = conv_args(info, 3, fn);
  const int64_t threads = Threads ? threads_arg(info, 12, fn) : 1;
  float* dx = f32(info, 0, fn, "dx", a.xs);
  const float* dy = f32(info, 1, fn, "dy", a.ys);
  const float* w = f32(info, 2, fn, "w", a.ws);
  if (overlaps(dx, a.xs, dy, a.ys) || overlaps(dx, a.xs, w, a.ws)) range_error(info.Env(), std::string(fn) + ": dx overlaps dy or w");
  if (Threads) table(info).conv2d_backward_data_mt(dx, dy, w, a.N, a.C, a.H, a.W, a.OC, a.k, a.stride, a.pad, a.groups, threads);
  else table(info).conv2d_backward_data(dx, dy, w, a.N, a.C, a.H, a.W, a.OC, a.k, a.stride, a.pad, a.groups);
  return info.Env().Undefined();
}
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) { return Conv2dBackwardDataT<false>(info); }
Napi::Value Conv2dBackwardDataThreads(const Napi::CallbackInfo& info) { return Conv2dBackwardDataT<true>(info); }

// conv2d_backward_weight(dw, dbias, dy, x, N, C, H, W, OC, k, stride, pad, groups, accumulate); _threads(..., threads).
template <bool Threads>
Napi::Value Conv2dBackwardWeightT(const Napi::CallbackInfo& info) {
  const char* fn = Threads ? "conv2d_backward_weight_threads" : "conv2d_backward_weight";
  need_args(info, Threads ? 15 : 14, fn);
  const ConvArgs a = conv_args(info, 4, fn);
  const bool acc = bool_arg(info, 13, fn, "accumulate");
  const int64_t threads = Threads ? threads_arg(info, 14, fn) : 1;
  float* dw = f32(info, 0, fn, "dw", a.ws);
  float* db = f32(info, 1, fn, "dbias", a.OC);
  const float* dy = f32(info, 2, fn, "dy", a.ys);
  const float* x = f32(info, 3, fn, "x", a.xs);
  if (overlaps(dw, a.ws, db, a.OC) || overlaps(dw, a.ws, dy, a.ys) || overlaps(dw, a.ws, x, a.xs) || overlaps(db, a.OC, dy, a.ys) || overlaps(db, a.OC, x, a.xs))
    range_error(info.Env(), std::string(fn) + ": dw, dbias, dy and x must not overlap");
  if (Threads) table(info).conv2d_backward_weight_mt(dw, db, dy, x, a.N, a.C, a.H, a.W, a.OC, a.k, a.stride, a.pad, a.groups, acc, threads);
  else table(info).conv2d_backward_weight(dw, db, dy, x, a.N, a.C, a.H, a.W, a.OC, a.k, a.stride, a.pad, a.groups, acc);
  return info.Env().Undefined();
}
Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info) { return Conv2dBackwardWeightT<false>(info); }
Napi::Value Conv2dBackwardWeightThreads(const Napi::CallbackInfo& info) { return Conv2dBackwardWeightT<true>(info); }

// PoolParams as 8 sizes from argument `at` on (N, C, H, W, kh, kw, stride, pad), checked.
struct PoolArgs {
  int64_t N, C, H, W, kh, kw, stride, pad;
  int64_t xs, ys;
};
PoolArgs pool_args(const Napi::CallbackInfo& info, size_t at, const char* fn, bool isMax) {
  PoolArgs a{};
  a.N = size_arg(info, at, fn, "N"), a.C = size_arg(info, at + 1, fn, "C"), a.H = size_arg(info, at + 2, fn, "H"), a.W = size_arg(info, at + 3, fn, "W");
  a.kh = size_arg(info, at + 4, fn, "kh"), a.kw = size_arg(info, at + 5, fn, "kw"), a.stride = size_arg(info, at + 6, fn, "stride"), a.pad = size_arg(info, at + 7, fn, "pad");
  const std::string f(fn);
  if (a.kh < 1 || a.kw < 1) range_error(info.Env(), f + ": kh and kw must be >= 1");
  if (a.stride < 1) range_error(info.Env(), f + ": stride must be >= 1");
  if (isMax && (a.pad >= a.kh || a.pad >= a.kw)) range_error(info.Env(), f + ": pad must be < kh and < kw, got pad=" + std::to_string(a.pad));
  if (a.H + 2 * a.pad < a.kh || a.W + 2 * a.pad < a.kw) range_error(info.Env(), f + ": the padded input is smaller than the window");
  if (a.H * a.W > 2147483647) range_error(info.Env(), f + ": H·W must be below 2^31 (int32 indices)");
  const int64_t OH = (a.H + 2 * a.pad - a.kh) / a.stride + 1, OW = (a.W + 2 * a.pad - a.kw) / a.stride + 1;
  a.xs = mul(a.N, a.C, a.H, a.W);
  a.ys = mul(a.N, a.C, OH, OW);
  return a;
}

// maxpool2d(y, idx, x, N, C, H, W, kh, kw, stride, pad)
Napi::Value Maxpool2d(const Napi::CallbackInfo& info) {
  const char* fn = "maxpool2d";
  need_args(info, 11, fn);
  const PoolArgs a = pool_args(info, 3, fn, true);
  float* y = f32(info, 0, fn, "y", a.ys);
  int32_t* idx = i32(info, 1, fn, "idx", a.ys);
  const float* x = f32(info, 2, fn, "x", a.xs);
  if (overlaps(y, a.ys, x, a.xs) || overlaps_i(y, a.ys, idx, a.ys) || overlaps_i(x, a.xs, idx, a.ys)) range_error(info.Env(), "maxpool2d: y, idx and x must not overlap");
  table(info).maxpool2d(y, idx, x, a.N, a.C, a.H, a.W, a.kh, a.kw, a.stride, a.pad);
  return info.Env().Undefined();
}

// maxpool2d_backward(dx, dy, idx, N, C, H, W, kh, kw, stride, pad): every idx must be in [0, H·W).
Napi::Value Maxpool2dBackward(const Napi::CallbackInfo& info) {
  const char* fn = "maxpool2d_backward";
  need_args(info, 11, fn);
  const PoolArgs a = pool_args(info, 3, fn, true);
  float* dx = f32(info, 0, fn, "dx", a.xs);
  const float* dy = f32(info, 1, fn, "dy", a.ys);
  const int32_t* idx = i32(info, 2, fn, "idx", a.ys);
  if (overlaps(dx, a.xs, dy, a.ys) || overlaps_i(dx, a.xs, idx, a.ys)) range_error(info.Env(), "maxpool2d_backward: dx overlaps dy or idx");
  const int64_t plane = a.H * a.W;
  for (int64_t i = 0; i < a.ys; i++)
    if (idx[i] < 0 || idx[i] >= plane)
      range_error(info.Env(), "maxpool2d_backward: idx[" + std::to_string(i) + "] = " + std::to_string(idx[i]) + " is outside [0, H*W=" + std::to_string(plane) + ")");
  table(info).maxpool2d_backward(dx, dy, idx, a.N, a.C, a.H, a.W, a.kh, a.kw, a.stride, a.pad);
  return info.Env().Undefined();
}

// avgpool2d(y, x, N, C, H, W, kh, kw, stride, pad)
Napi::Value Avgpool2d(const Napi::CallbackInfo& info) {
  const char* fn = "avgpool2d";
  need_args(info, 10, fn);
  const PoolArgs a = pool_args(info, 2, fn, false);
  float* y = f32(info, 0, fn, "y", a.ys);
  const float* x = f32(info, 1, fn, "x", a.xs);
  if (overlaps(y, a.ys, x, a.xs)) range_error(info.Env(), "avgpool2d: y overlaps x");
  table(info).avgpool2d(y, x, a.N, a.C, a.H, a.W, a.kh, a.kw, a.stride, a.pad);
  return info.Env().Undefined();
}

// avgpool2d_backward(dx, dy, N, C, H, W, kh, kw, stride, pad)
Napi::Value Avgpool2dBackward(const Napi::CallbackInfo& info) {
  const char* fn = "avgpool2d_backward";
  need_args(info, 10, fn);
  const PoolArgs a = pool_args(info, 2, fn, false);
  float* dx = f32(info, 0, fn, "dx", a.xs);
  const float* dy = f32(info, 1, fn, "dy", a.ys);
  if (overlaps(dx, a.xs, dy, a.ys)) range_error(info.Env(), "avgpool2d_backward: dx overlaps dy");
  table(info).avgpool2d_backward(dx, dy, a.N, a.C, a.H, a.W, a.kh, a.kw, a.stride, a.pad);
  return info.Env().Undefined();
}

// batchnorm_stats(mean, m2, x, N, C, HW)
Napi::Value BatchnormStats(const Napi::CallbackInfo& info) {
  const char* fn = "batchnorm_stats";
  need_args(info, 6, fn);
  const int64_t N = size_arg(info, 3, fn, "N"), C = size_arg(info, 4, fn, "C"), HW = size_arg(info, 5, fn, "HW");
  const int64_t n = mul(mul(N, C), HW);
  float* mean = f32(info, 0, fn, "mean", C);
  float* m2 = f32(info, 1, fn, "m2", C);
  const float* x = f32(info, 2, fn, "x", n);
  if (overlaps(mean, C, m2, C) || overlaps(mean, C, x, n) || overlaps(m2, C, x, n)) range_error(info.Env(), "batchnorm_stats: mean, m2 and x must not overlap");
  table(info).batchnorm_stats(mean, m2, x, N, C, HW);
  return info.Env().Undefined();
}

// batchnorm(y, x, mean, invstd, gamma, beta, N, C, HW): y may be x.
Napi::Value Batchnorm(const Napi::CallbackInfo& info) {
  const char* fn = "batchnorm";
  need_args(info, 9, fn);
  const int64_t N = size_arg(info, 6, fn, "N"), C = size_arg(info, 7, fn, "C"), HW = size_arg(info, 8, fn, "HW");
  const int64_t n = mul(mul(N, C), HW);
  float* y = f32(info, 0, fn, "y", n);
  const float* x = f32(info, 1, fn, "x", n);
  const float* p[4] = {f32(info, 2, fn, "mean", C), f32(info, 3, fn, "invstd", C), f32(info, 4, fn, "gamma", C), f32(info, 5, fn, "beta", C)};
  same_or_disjoint(info.Env(), fn, "y", y, "x", x, n);
  for (const float* q : p)
    if (overlaps(y, n, q, C)) range_error(info.Env(), "batchnorm: y overlaps mean, invstd, gamma or beta");
  table(info).batchnorm(y, x, p[0], p[1], p[2], p[3], N, C, HW);
  return info.Env().Undefined();
}

// batchnorm_backward_reduce(sumDy, sumDyXhat, dy, x, mean, invstd, N, C, HW)
Napi::Value BatchnormBackwardReduce(const Napi::CallbackInfo& info) {
  const char* fn = "batchnorm_backward_reduce";
  need_args(info, 9, fn);
  const int64_t N = size_arg(info, 6, fn, "N"), C = size_arg(info, 7, fn, "C"), HW = size_arg(info, 8, fn, "HW");
  const int64_t n = mul(mul(N, C), HW);
  float* sd = f32(info, 0, fn, "sumDy", C);
  float* sdx = f32(info, 1, fn, "sumDyXhat", C);
  const float* dy = f32(info, 2, fn, "dy", n);
  const float* x = f32(info, 3, fn, "x", n);
  const float* mean = f32(info, 4, fn, "mean", C);
  const float* invstd = f32(info, 5, fn, "invstd", C);
  for (float* o : {sd, sdx})
    if (overlaps(o, C, dy, n) || overlaps(o, C, x, n) || overlaps(o, C, mean, C) || overlaps(o, C, invstd, C))
      range_error(info.Env(), "batchnorm_backward_reduce: sumDy and sumDyXhat must not overlap the inputs");
  if (overlaps(sd, C, sdx, C)) range_error(info.Env(), "batchnorm_backward_reduce: sumDy overlaps sumDyXhat");
  table(info).batchnorm_backward_reduce(sd, sdx, dy, x, mean, invstd, N, C, HW);
  return info.Env().Undefined();
}

// batchnorm_backward(dx, dy, x, mean, invstd, gamma, sumDy, sumDyXhat, count, N, C, HW): dx may be dy.
Napi::Value BatchnormBackward(const Napi::CallbackInfo& info) {
  const char* fn = "batchnorm_backward";
  need_args(info, 12, fn);
  const double count = finite_arg(info, 8, fn, "count");
  const int64_t N = size_arg(info, 9, fn, "N"), C = size_arg(info, 10, fn, "C"), HW = size_arg(info, 11, fn, "HW");
  const int64_t n = mul(mul(N, C), HW);
  float* dx = f32(info, 0, fn, "dx", n);
  const float* dy = f32(info, 1, fn, "dy", n);
  const float* x = f32(info, 2, fn, "x", n);
  const float* p[5] = {f32(info, 3, fn, "mean", C), f32(info, 4, fn, "invstd", C), f32(info, 5, fn, "gamma", C), f32(info, 6, fn, "sumDy", C), f32(info, 7, fn, "sumDyXhat", C)};
  same_or_disjoint(info.Env(), fn, "dx", dx, "dy", dy, n);
  if (overlaps(dx, n, x, n)) range_error(info.Env(), "batchnorm_backward: dx overlaps x");
  for (const float* q : p)
    if (overlaps(dx, n, q, C)) range_error(info.Env(), "batchnorm_backward: dx overlaps a per-channel input");
  table(info).batchnorm_backward(dx, dy, x, p[0], p[1], p[2], p[3], p[4], count, N, C, HW);
  return info.Env().Undefined();
}

// ---- int8 -------------------------------------------------------------------------------------

constexpr int64_t kMaxInt8K = 32768;  // |acc| <= 255·128·K < 2^31

// An integer zero point in [0, 255].
int32_t zero_point_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  const double v = number_arg(info, i, fn, name);
  if (!(v >= 0 && v <= 255) || std::floor(v) != v)
    range_error(info.Env(), std::string(fn) + ": " + name + " must be an integer in [0, 255], got " + info[i].ToString().Utf8Value());
  return static_cast<int32_t>(v);
}

// quantize_int8(q, x, n, invScale, zeroPoint)
Napi::Value QuantizeInt8(const Napi::CallbackInfo& info) {
  const char* fn = "quantize_int8";
  need_args(info, 5, fn);
  const int64_t n = size_arg(info, 2, fn, "n");
  const double invScale = finite_arg(info, 3, fn, "invScale");
  const int32_t zp = zero_point_arg(info, 4, fn, "zeroPoint");
  uint8_t* q = u8(info, 0, fn, "q", n);
  const float* x = f32(info, 1, fn, "x", n);
  if (overlaps_bytes(q, n, x, 4 * n)) range_error(info.Env(), "quantize_int8: q overlaps x");
  table(info).quantize_int8(q, x, n, static_cast<float>(invScale), zp);
  return info.Env().Undefined();
}

// matmul_int8(acc, a, w, M, N, K); matmul_int8_threads(..., threads) (CPU addon only).
template <bool Threads>
Napi::Value MatmulInt8T(const Napi::CallbackInfo& info) {
  const char* fn = Threads ? "matmul_int8_threads" : "matmul_int8";
  need_args(info, Threads ? 7 : 6, fn);
  const int64_t M = size_arg(info, 3, fn, "M"), N = size_arg(info, 4, fn, "N"), K = size_arg(info, 5, fn, "K");
  if (K > kMaxInt8K) range_error(info.Env(), std::string(fn) + ": K must be <= 32768 (int32 sums stay exact), got " + std::to_string(K));
  const int64_t threads = Threads ? threads_arg(info, 6, fn) : 1;
  int32_t* acc = i32(info, 0, fn, "acc", mul(M, N));
  const uint8_t* a = u8(info, 1, fn, "a", mul(M, K));
  const int8_t* w = i8(info, 2, fn, "w", mul(N, K));
  if (overlaps_bytes(acc, 4 * M * N, a, M * K) || overlaps_bytes(acc, 4 * M * N, w, N * K)) range_error(info.Env(), std::string(fn) + ": acc overlaps a or w");
  if (Threads) table(info).matmul_int8_mt(acc, a, w, M, N, K, threads);
  else table(info).matmul_int8(acc, a, w, M, N, K);
  return info.Env().Undefined();
}
Napi::Value MatmulInt8(const Napi::CallbackInfo& info) { return MatmulInt8T<false>(info); }
Napi::Value MatmulInt8Threads(const Napi::CallbackInfo& info) { return MatmulInt8T<true>(info); }

// conv2d_int8(acc, x, w, N, C, H, W, OC, k, stride, pad, groups, xZero); conv2d_int8_threads(..., threads) (CPU addon only).
template <bool Threads>
Napi::Value Conv2dInt8T(const Napi::CallbackInfo& info) {
  const char* fn = Threads ? "conv2d_int8_threads" : "conv2d_int8";
  need_args(info, Threads ? 14 : 13, fn);
  const ConvArgs a = conv_args(info, 3, fn);
  const int32_t xZero = zero_point_arg(info, 12, fn, "xZero");
  const int64_t threads = Threads ? threads_arg(info, 13, fn) : 1;
  const int64_t ckk = mul(a.C / a.groups, a.k, a.k, 1);
  if (ckk > kMaxInt8K)
    range_error(info.Env(), std::string(fn) + ": (C/groups)·k·k must be <= 32768 (int32 sums stay exact), got " + std::to_string(ckk));
  int32_t* acc = i32(info, 0, fn, "acc", a.ys);
  const uint8_t* x = u8(info, 1, fn, "x", a.xs);
  const int8_t* w = i8(info, 2, fn, "w", a.ws);
  if (overlaps_bytes(acc, 4 * a.ys, x, a.xs) || overlaps_bytes(acc, 4 * a.ys, w, a.ws)) range_error(info.Env(), std::string(fn) + ": acc overlaps x or w");
  if (Threads) table(info).conv2d_int8_mt(acc, x, w, a.N, a.C, a.H, a.W, a.OC, a.k, a.stride, a.pad, a.groups, xZero, threads);
  else table(info).conv2d_int8(acc, x, w, a.N, a.C, a.H, a.W, a.OC, a.k, a.stride, a.pad, a.groups, xZero);
  return info.Env().Undefined();
}
Napi::Value Conv2dInt8(const Napi::CallbackInfo& info) { return Conv2dInt8T<false>(info); }
Napi::Value Conv2dInt8Threads(const Napi::CallbackInfo& info) { return Conv2dInt8T<true>(info); }

// dequantize_int32(y, acc, wsum, scale, bias, zero, N, C, HW): y may be acc's memory (same start).
Napi::Value DequantizeInt32(const Napi::CallbackInfo& info) {
  const char* fn = "dequantize_int32";
  need_args(info, 9, fn);
  const int32_t zero = zero_point_arg(info, 5, fn, "zero");
  const int64_t N = size_arg(info, 6, fn, "N"), C = size_arg(info, 7, fn, "C"), HW = size_arg(info, 8, fn, "HW");
  const int64_t n = mul(mul(N, C), HW);
  float* y = f32(info, 0, fn, "y", n);
  const int32_t* acc = i32(info, 1, fn, "acc", n);
  const int32_t* wsum = i32(info, 2, fn, "wsum", C);
  const float* scale = f32(info, 3, fn, "scale", C);
  const float* bias = f32(info, 4, fn, "bias", C);
  if (static_cast<const void*>(y) != static_cast<const void*>(acc) && overlaps_bytes(y, 4 * n, acc, 4 * n))
    range_error(info.Env(), "dequantize_int32: y and acc partly overlap (only full aliasing is allowed)");
  if (n > 0 && (overlaps_bytes(y, 4 * n, wsum, 4 * C) || overlaps_bytes(y, 4 * n, scale, 4 * C) || overlaps_bytes(y, 4 * n, bias, 4 * C)))
    range_error(info.Env(), "dequantize_int32: y overlaps wsum, scale or bias");
  table(info).dequantize_int32(y, acc, wsum, scale, bias, zero, N, C, HW);
  return info.Env().Undefined();
}

// addressMod(array, m) -> (address of array's first element) mod m, for aligned allocation.
Napi::Value AddressMod(const Napi::CallbackInfo& info) {
  const char* fn = "addressMod";
  need_args(info, 2, fn);
  const int64_t m = size_arg(info, 1, fn, "m");
  if (m == 0) range_error(info.Env(), "addressMod: m must be > 0");
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (!typed_info(info, 0, &type, &length, &data)) type_error(info.Env(), "addressMod: array must be a typed array");
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(data) % static_cast<uintptr_t>(m)));
}

// zero(buf): buf.fill(0) as a memset. TypedArray.fill on SharedArrayBuffer memory stores element
// by element (0.6-1.6 ms for W's 1.28M gradients vs ~0.1 ms here).
Napi::Value Zero(const Napi::CallbackInfo& info) {
  const char* fn = "zero";
  need_args(info, 1, fn);
  const View v = typed_arg(info, 0, fn, "buf", napi_float32_array, "Float32Array", 0);
  if (v.length > 0) std::memset(v.data, 0, v.length * sizeof(float));
  return info.Env().Undefined();
}

}  // namespace

void RegisterKernels(Napi::Env env, Napi::Object exports, const KernelTable* kernels) {
  void* data = const_cast<KernelTable*>(kernels);
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul", data));
  if (kernels->matmul_mt) exports.Set("matmul_threads", Napi::Function::New(env, MatmulThreads, "matmul_threads", data));
  if (kernels->sgd_step_mt) exports.Set("sgd_step_threads", Napi::Function::New(env, SgdStepThreads, "sgd_step_threads", data));
  if (kernels->adamw_step_mt) exports.Set("adamw_step_threads", Napi::Function::New(env, AdamwStepThreads, "adamw_step_threads", data));
  exports.Set("bias_add", Napi::Function::New(env, BiasAdd, "bias_add", data));
  exports.Set("bias_grad", Napi::Function::New(env, BiasGrad, "bias_grad", data));
  exports.Set("relu", Napi::Function::New(env, Relu, "relu", data));
  exports.Set("relu_backward", Napi::Function::New(env, ReluBackward, "relu_backward", data));
  exports.Set("gelu", Napi::Function::New(env, Gelu, "gelu", data));
  exports.Set("gelu_backward", Napi::Function::New(env, GeluBackward, "gelu_backward", data));
  exports.Set("softmax_t", Napi::Function::New(env, SoftmaxT, "softmax_t", data));
  exports.Set("log_softmax_t", Napi::Function::New(env, LogSoftmaxT, "log_softmax_t", data));
  exports.Set("kd_loss", Napi::Function::New(env, KdLoss, "kd_loss", data));
  exports.Set("cross_entropy", Napi::Function::New(env, CrossEntropy, "cross_entropy", data));
  exports.Set("mse", Napi::Function::New(env, Mse, "mse", data));
  exports.Set("sgd_step", Napi::Function::New(env, SgdStep, "sgd_step", data));
  exports.Set("adamw_step", Napi::Function::New(env, AdamwStep, "adamw_step", data));
  exports.Set("conv2d", Napi::Function::New(env, Conv2d, "conv2d", data));
  exports.Set("conv2d_backward_data", Napi::Function::New(env, Conv2dBackwardData, "conv2d_backward_data", data));
  exports.Set("conv2d_backward_weight", Napi::Function::New(env, Conv2dBackwardWeight, "conv2d_backward_weight", data));
  if (kernels->conv2d_mt) exports.Set("conv2d_threads", Napi::Function::New(env, Conv2dThreads, "conv2d_threads", data));
  if (kernels->conv2d_backward_data_mt)
    exports.Set("conv2d_backward_data_threads", Napi::Function::New(env, Conv2dBackwardDataThreads, "conv2d_backward_data_threads", data));
  if (kernels->conv2d_backward_weight_mt)
    exports.Set("conv2d_backward_weight_threads", Napi::Function::New(env, Conv2dBackwardWeightThreads, "conv2d_backward_weight_threads", data));
  exports.Set("maxpool2d", Napi::Function::New(env, Maxpool2d, "maxpool2d", data));
  exports.Set("maxpool2d_backward", Napi::Function::New(env, Maxpool2dBackward, "maxpool2d_backward", data));
  exports.Set("avgpool2d", Napi::Function::New(env, Avgpool2d, "avgpool2d", data));
  exports.Set("avgpool2d_backward", Napi::Function::New(env, Avgpool2dBackward, "avgpool2d_backward", data));
  exports.Set("batchnorm_stats", Napi::Function::New(env, BatchnormStats, "batchnorm_stats", data));
  exports.Set("batchnorm", Napi::Function::New(env, Batchnorm, "batchnorm", data));
  exports.Set("batchnorm_backward_reduce", Napi::Function::New(env, BatchnormBackwardReduce, "batchnorm_backward_reduce", data));
  exports.Set("batchnorm_backward", Napi::Function::New(env, BatchnormBackward, "batchnorm_backward", data));
  exports.Set("quantize_int8", Napi::Function::New(env, QuantizeInt8, "quantize_int8", data));
  exports.Set("matmul_int8", Napi::Function::New(env, MatmulInt8, "matmul_int8", data));
  if (kernels->matmul_int8_mt) exports.Set("matmul_int8_threads", Napi::Function::New(env, MatmulInt8Threads, "matmul_int8_threads", data));
  exports.Set("conv2d_int8", Napi::Function::New(env, Conv2dInt8, "conv2d_int8", data));
  if (kernels->conv2d_int8_mt) exports.Set("conv2d_int8_threads", Napi::Function::New(env, Conv2dInt8Threads, "conv2d_int8_threads", data));
  exports.Set("dequantize_int32", Napi::Function::New(env, DequantizeInt32, "dequantize_int32", data));
  exports.Set("addressMod", Napi::Function::New(env, AddressMod, "addressMod"));
  exports.Set("zero", Napi::Function::New(env, Zero, "zero"));
}

}  // namespace kd
