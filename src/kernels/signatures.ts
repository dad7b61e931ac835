// The kernel contract: names and typed signatures shared by every backend (js, wasm*, native, cuda).
//
// Conventions (see DESIGN.md, "The kernel contract"):
// - outputs first, inputs after, sizes last; a shape comment on every kernel;
// - dimension names: N rows (batch), C input features, OC output features, K classes;
//   T is a temperature and nothing else;
// - all tensors are row-major float32; labels are int32;
// - a size of 0 is legal everywhere (an empty batch does nothing and has loss 0);
// - loss kernels return the loss as a JS number and write (or add, when `accumulate`) the
//   gradient of that same returned loss.

export type F32 = Float32Array;
export type I32 = Int32Array;

/** Where a kernel is implemented: the TS reference (the `js` backend), AssemblyScript (`wasm*`), C++ (`native*`), CUDA (`cuda`). */
export type Build = 'ts' | 'wasm' | 'native' | 'cuda';
const ALL: readonly Build[] = ['ts', 'wasm', 'native', 'cuda'];

/** One row of the kernel table. */
export interface KernelSpec {
  /**
   * The one name. It is the Backend method and the TS reference function (src/kernels/), the
   * AssemblyScript export (assembly/), the Node-API export (native/bindings.cc); the C++ kernel
   * is kd_<name> (native/*.h), the CUDA host function kdc_<name> (native/cuda/kernels.h), the
   * CUDA __global__ kernels <name>_k or <name>_<variant>_k (native/cuda/kernels.cu).
   */
  readonly name: string;
  /** The Backend method's arguments in order (outputs first, inputs after, sizes last), with shapes. */
  readonly args: readonly string[];
  /** What it returns, when it returns something. */
  readonly returns?: string;
  /** What it computes, in one line (the Kernels interface below has the full definition). */
  readonly doc: string;
  /** The builds that implement it. */
  readonly builds: readonly Build[];
  /**
   * Exports that belong to this kernel besides its name: its split forms for the -mt backends
   * and their helpers. wasm: AssemblyScript exports; node: Node-API exports of the CPU addon;
   * cpp: C++ functions (kd_<name>_mt).
   */
  readonly variants?: { readonly wasm?: readonly string[]; readonly node?: readonly string[]; readonly cpp?: readonly string[] };
}

/**
 * The kernel table: every kernel once, in the order the conformance suite and `distill bench`
 * list them. test/kernel-names.test.ts checks every build against it.
 */
export const KERNELS = [
  {
    name: 'matmul',
    args: ['C: (M,N)', 'A: (M,K), or (K,M) when transA', 'B: (K,N), or (N,K) when transB', 'M', 'N', 'K', 'transA', 'transB', 'accumulate'],
    doc: 'C = op(A)·op(B) (+ C when accumulate), op = identity or transpose: Dense forward, dW and dX',
    builds: ALL,
    variants: { wasm: ['matmul_cols', 'matmul_workspace'], node: ['matmul_threads'], cpp: ['kd_matmul_mt'] },
  },
  { name: 'bias_add', args: ['y: (N,OC)', 'bias: (OC)', 'N', 'OC'], doc: 'y[n,o] += bias[o]', builds: ALL },
  { name: 'bias_grad', args: ['dbias: (OC)', 'dy: (N,OC)', 'N', 'OC', 'accumulate'], doc: 'dbias[o] = (dbias[o] when accumulate) + column sum of dy', builds: ALL },
  { name: 'relu', args: ['out: (n)', 'inp: (n)', 'n'], doc: 'out = max(inp, 0); out may alias inp', builds: ALL },
  { name: 'relu_backward', args: ['dinp: (n)', 'dout: (n)', 'inp: (n)', 'n'], doc: 'dinp = dout where inp > 0, else 0; dinp may alias dout', builds: ALL },
  { name: 'gelu', args: ['out: (n)', 'inp: (n)', 'n'], doc: 'GELU, tanh approximation; out may alias inp', builds: ALL },
  { name: 'gelu_backward', args: ['dinp: (n)', 'dout: (n)', 'inp: (n)', 'n'], doc: "dinp = dout · GELU'(inp); dinp may alias dout", builds: ALL },
  { name: 'softmax_t', args: ['out: (N,K)', 'logits: (N,K)', 'N', 'K', 'T'], doc: 'softmax(logits/T) per row, max-subtracted', builds: ALL },
  { name: 'log_softmax_t', args: ['out: (N,K)', 'logits: (N,K)', 'N', 'K', 'T'], doc: 'log_softmax(logits/T) per row, max-subtracted', builds: ALL },
  {
    name: 'kd_loss',
    args: ['dS: (N,K)', 's: (N,K) student logits', 't: (N,K) teacher logits', 'N', 'K', 'T', 'alpha', 'scaleT2', 'accumulate'],
    returns: 'loss',
    doc: 'fused: alpha·(T² when scaleT2)·mean KL(softmax(t/T) ‖ softmax(s/T)), and its gradient in dS',
    builds: ALL,
  },
  {
    name: 'cross_entropy',
    args: ['dlogits: (N,K)', 'logits: (N,K)', 'labels: (N) int32 in [0,K)', 'N', 'K', 'weight', 'accumulate'],
    returns: 'loss',
    doc: 'fused: weight·mean cross-entropy of logits against labels, and its gradient in dlogits',
    builds: ALL,
  },
  {
    name: 'mse',
    args: ['dpred: (n)', 'pred: (n)', 'target: (n)', 'n', 'weight', 'accumulate'],
    returns: 'loss',
    doc: 'fused: weight·mean squared error, and its gradient in dpred (hint/feature losses)',
    builds: ALL,
  },
  {
    name: 'sgd_step',
    args: ['params: (n)', 'grads: (n)', 'momentumBuf: (n)', 'n', 'hp: SgdParams'],
    doc: 'one SGD step in place (momentum, Nesterov, weight decay)',
    builds: ALL,
    variants: { node: ['sgd_step_threads'], cpp: ['kd_sgd_step_mt'] },
  },
  {
    name: 'adamw_step',
    args: ['params: (n)', 'grads: (n)', 'm: (n)', 'v: (n)', 'n', 'hp: AdamWParams'],
    doc: 'one AdamW step in place (decoupled weight decay, bias-corrected moments)',
    builds: ALL,
    variants: { node: ['adamw_step_threads'], cpp: ['kd_adamw_step_mt'] },
  },
] as const satisfies readonly KernelSpec[];

export type KernelName = (typeof KERNELS)[number]['name'];

/** The kernel names, in table order. */
export const KERNEL_NAMES: readonly KernelName[] = KERNELS.map((k) => k.name);

/** Hyper-parameters of one SGD step (PyTorch semantics, dampening 0). */
export interface SgdParams {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

/** Hyper-parameters of one AdamW step (decoupled weight decay, bias-corrected moments). */
export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step number, used for bias correction. */
  step: number;
}

/** The kernel set. Every backend implements all of it with these exact semantics. */
export interface Kernels {
  /**
   * C = op(A)·op(B) (+ C when accumulate).
   * C is (M,N). op(A) is (M,K): A is stored (M,K), or (K,M) when transA.
   * op(B) is (K,N): B is stored (K,N), or (N,K) when transB.
   * Dense forward Y = X·Wᵀ is (transB); dW = dYᵀ·X is (transA); dX = dY·W is plain.
   */
  matmul(C: F32, A: F32, B: F32, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void;

  /** y is (N,OC), bias is (OC): y[n,o] += bias[o]. */
  bias_add(y: F32, bias: F32, N: number, OC: number): void;
  /** dbias is (OC), dy is (N,OC): dbias[o] = (dbias[o] if accumulate) + Σ_n dy[n,o]. */
  bias_grad(dbias: F32, dy: F32, N: number, OC: number, accumulate: boolean): void;

  /** out, inp are (n): out = max(inp, 0). out may alias inp. */
  relu(out: F32, inp: F32, n: number): void;
  /** dinp, dout, inp are (n): dinp = dout where inp > 0, else 0. dinp may alias dout. */
  relu_backward(dinp: F32, dout: F32, inp: F32, n: number): void;
  /** out, inp are (n): GELU, tanh approximation. out may alias inp. */
  gelu(out: F32, inp: F32, n: number): void;
  /** dinp, dout, inp are (n): dinp = dout · GELU'(inp). dinp may alias dout. */
  gelu_backward(dinp: F32, dout: F32, inp: F32, n: number): void;

  /** out, logits are (N,K): out = softmax(logits/T) per row, max-subtracted. */
  softmax_t(out: F32, logits: F32, N: number, K: number, T: number): void;
  /** out, logits are (N,K): out = log_softmax(logits/T) per row, max-subtracted. */
  log_softmax_t(out: F32, logits: F32, N: number, K: number, T: number): void;

  /**
   * Knowledge-distillation loss, fused with its gradient.
   * dS, s (student logits), t (teacher logits) are (N,K).
   * loss = alpha · (T² if scaleT2 else 1) · (1/N) Σ_n KL(softmax(t_n/T) ‖ softmax(s_n/T)).
   * dS = (dS if accumulate) + d loss / d s = alpha · (T if scaleT2 else 1/T) · (p_s − p_t) / N.
   * Returns the loss (0 when N = 0).
   */
  kd_loss(dS: F32, s: F32, t: F32, N: number, K: number, T: number, alpha: number, scaleT2: boolean, accumulate: boolean): number;

  /**
   * Cross-entropy of logits against integer labels, fused with its gradient.
   * dlogits, logits are (N,K); labels is (N) with values in [0,K).
   * loss = weight · (1/N) Σ_n −log softmax(logits_n)[labels_n].
   * dlogits = (dlogits if accumulate) + weight · (softmax(logits) − onehot(labels)) / N.
   */
  cross_entropy(dlogits: F32, logits: F32, labels: I32, N: number, K: number, weight: number, accumulate: boolean): number;

  /**
   * Mean squared error, fused with its gradient. dpred, pred, target are (n).
   * loss = weight · (1/n) Σ (pred − target)²; dpred = (dpred if accumulate) + weight · 2(pred − target)/n.
   */
  mse(dpred: F32, pred: F32, target: F32, n: number, weight: number, accumulate: boolean): number;

  /**
   * One SGD step over a flat buffer, in place. params, grads, momentumBuf are (n).
   * g = grad + wd·p; buf = momentum·buf + g; g = nesterov ? g + momentum·buf : buf (when momentum > 0);
   * p -= lr·g. With momentum = 0, momentumBuf is not touched.
   */
  sgd_step(params: F32, grads: F32, momentumBuf: F32, n: number, hp: SgdParams): void;

  /**
   * One AdamW step over a flat buffer, in place. params, grads, m, v are (n).
   * p -= lr·wd·p; m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²;
   * p -= lr · (m/(1−b1^step)) / (sqrt(v/(1−b2^step)) + eps).
   */
  adamw_step(params: F32, grads: F32, m: F32, v: F32, n: number, hp: AdamWParams): void;
}

/** GELU tanh-approximation constants, shared by every implementation. */
export const GELU_SQRT_2_OVER_PI = 0.7978845608028654;
export const GELU_COEF = 0.044715;
/**
 * Beyond |x| > GELU_LIMIT every implementation returns GELU's limits instead of evaluating the
 * formula: gelu(x) = x and gelu'(x) = 1 above it, gelu(x) = −0 and gelu'(x) = 0 below −GELU_LIMIT
 * (so ±Infinity give +Infinity / −0 and 1 / 0; NaN stays NaN). At 11 nothing is lost: the tanh
 * approximation itself, evaluated exactly and rounded to float32, already equals those limits for
 * every float32 with |x| >= 10.9 (the last one that differs is −10.8945 for gelu', −10.7709 for
 * gelu, +5.47 on the positive side; test/gelu-limits.test.ts checks this), while the float32 SIMD
 * paths would otherwise overflow x³ (NaN, ±Infinity) or keep tanh's last ulp (gelu(−1e20) = −3e12).
 */
export const GELU_LIMIT = 11;

// The table and the Kernels interface name the same kernels: this line fails to compile otherwise.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const tableMatchesInterface: Same<KernelName, keyof Kernels> = true;
void tableMatchesInterface;
