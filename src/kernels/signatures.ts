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
/** uint8 tensors: quantized activations (with a zero point). */
export type U8 = Uint8Array;
/** int8 tensors: quantized weights (symmetric, zero point 0). */
export type I8 = Int8Array;

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
  {
    name: 'conv2d',
    args: ['y: (N,OC,OH,OW)', 'x: (N,C,H,W)', 'w: (OC,C/groups,k,k)', 'bias: (OC)', 'p: ConvParams'],
    doc: 'y = conv(x, w) + bias, NCHW, square k×k kernel, stride, zero padding, groups (1, depthwise = C, or any divisor)',
    builds: ALL,
    variants: { wasm: ['conv2d_workspace'], node: ['conv2d_threads'], cpp: ['kd_conv2d_mt'] },
  },
  {
    name: 'conv2d_backward_data',
    args: ['dx: (N,C,H,W)', 'dy: (N,OC,OH,OW)', 'w: (OC,C/groups,k,k)', 'p: ConvParams'],
    doc: 'dx = gradient of conv2d w.r.t. x (overwritten)',
    builds: ALL,
    variants: { node: ['conv2d_backward_data_threads'], cpp: ['kd_conv2d_backward_data_mt'] },
  },
  {
    name: 'conv2d_backward_weight',
    args: ['dw: (OC,C/groups,k,k)', 'dbias: (OC)', 'dy: (N,OC,OH,OW)', 'x: (N,C,H,W)', 'p: ConvParams', 'accumulate'],
    doc: 'dw, dbias = gradients of conv2d w.r.t. w and bias (+ dw, dbias when accumulate)',
    builds: ALL,
    variants: { wasm: ['conv2d_backward_weight_rows'], node: ['conv2d_backward_weight_threads'], cpp: ['kd_conv2d_backward_weight_mt'] },
  },
  {
    name: 'maxpool2d',
    args: ['y: (N,C,OH,OW)', 'idx: (N,C,OH,OW) int32', 'x: (N,C,H,W)', 'p: PoolParams'],
    doc: 'max over each kh×kw window (padding is −∞); idx = h·W + w of the max in its input plane (the first one; NaN wins)',
    builds: ALL,
  },
  {
    name: 'maxpool2d_backward',
    args: ['dx: (N,C,H,W)', 'dy: (N,C,OH,OW)', 'idx: (N,C,OH,OW) int32', 'p: PoolParams'],
    doc: 'dx = 0, then dx[idx] += dy (overwritten)',
    builds: ALL,
  },
  {
    name: 'avgpool2d',
    args: ['y: (N,C,OH,OW)', 'x: (N,C,H,W)', 'p: PoolParams'],
    doc: 'mean over each kh×kw window, padding counted as zeros (divisor kh·kw, PyTorch count_include_pad)',
    builds: ALL,
  },
  {
    name: 'avgpool2d_backward',
    args: ['dx: (N,C,H,W)', 'dy: (N,C,OH,OW)', 'p: PoolParams'],
    doc: 'dx = gradient of avgpool2d (overwritten)',
    builds: ALL,
  },
  {
    name: 'batchnorm_stats',
    args: ['mean: (C)', 'm2: (C)', 'x: (N,C,HW)', 'N', 'C', 'HW'],
    doc: "per channel: the mean over N·HW values and m2 = Σ (x − mean)² (Chan's parallel combination merges shards)",
    builds: ALL,
  },
  {
    name: 'batchnorm',
    args: ['y: (N,C,HW)', 'x: (N,C,HW)', 'mean: (C)', 'invstd: (C)', 'gamma: (C)', 'beta: (C)', 'N', 'C', 'HW'],
    doc: 'y = (x − mean)·invstd·gamma + beta per channel (train: batch statistics; eval: running ones); y may alias x',
    builds: ALL,
  },
  {
    name: 'batchnorm_backward_reduce',
    args: ['sumDy: (C)', 'sumDyXhat: (C)', 'dy: (N,C,HW)', 'x: (N,C,HW)', 'mean: (C)', 'invstd: (C)', 'N', 'C', 'HW'],
    doc: 'per channel Σ dy and Σ dy·xhat, xhat = (x − mean)·invstd (= dbeta and dgamma; summed over shards)',
    builds: ALL,
  },
  {
    name: 'batchnorm_backward',
    args: ['dx: (N,C,HW)', 'dy: (N,C,HW)', 'x: (N,C,HW)', 'mean: (C)', 'invstd: (C)', 'gamma: (C)', 'sumDy: (C)', 'sumDyXhat: (C)', 'count', 'N', 'C', 'HW'],
    doc: 'training-mode dx = gamma·invstd·(dy − sumDy/count − xhat·sumDyXhat/count), count = rows·HW of the whole batch; dx may alias dy',
    builds: ALL,
  },
  {
    name: 'quantize_int8',
    args: ['q: (n) uint8', 'x: (n)', 'n', 'invScale', 'zeroPoint'],
    doc: 'q = clamp(round_half_even(f32(x·invScale)) + zeroPoint, 0, 255): float32 activations to uint8',
    builds: ['ts', 'wasm', 'native', 'cuda'],
  },
  {
    name: 'matmul_int8',
    args: ['acc: (M,N) int32', 'a: (M,K) uint8', 'w: (N,K) int8', 'M', 'N', 'K'],
    doc: 'acc = a·wᵀ exactly in int32 (uint8 activations times int8 weight rows; K ≤ 32768)',
    builds: ['ts', 'wasm', 'native', 'cuda'],
    variants: { wasm: ['matmul_int8_cols', 'matmul_int8_workspace'], node: ['matmul_int8_threads'], cpp: ['kd_matmul_int8_mt'] },
  },
  {
    name: 'conv2d_int8',
    args: ['acc: (N,OC,OH,OW) int32', 'x: (N,C,H,W) uint8', 'w: (OC,C/groups,k,k) int8', 'p: ConvParams', 'xZero'],
    doc: 'conv2d of uint8 x with int8 w, exact int32, no bias; cells outside the image count as xZero (the input zero point)',
    builds: ['ts', 'wasm', 'native', 'cuda'],
    variants: { wasm: ['conv2d_int8_workspace'], node: ['conv2d_int8_threads'], cpp: ['kd_conv2d_int8_mt'] },
  },
  {
    name: 'dequantize_int32',
    args: ['y: (N,C,HW)', 'acc: (N,C,HW) int32', 'wsum: (C) int32', 'scale: (C)', 'bias: (C)', 'zero', 'N', 'C', 'HW'],
    doc: 'y = f32(f32(acc − zero·wsum[c])·scale[c]) + bias[c] per channel c (Dense: HW = 1)',
    builds: ['ts', 'wasm', 'native', 'cuda'],
  },
] as const satisfies readonly KernelSpec[];

export type KernelName = (typeof KERNELS)[number]['name'];

/** The kernel names, in table order. */
export const KERNEL_NAMES: readonly KernelName[] = KERNELS.map((k) => k.name);

/**
 * One 2-D convolution over NCHW tensors: N images of C channels, H×W; OC output channels; a
 * square k×k kernel (dilation 1), `stride` and zero padding `pad` on each side, `groups`
 * dividing C and OC (1: dense; C: depthwise). Output OH = ⌊(H + 2·pad − k)/stride⌋ + 1, likewise OW.
 */
export interface ConvParams {
  N: number;
  C: number;
  H: number;
  W: number;
  OC: number;
  k: number;
  stride: number;
  pad: number;
  groups: number;
}

/**
 * One 2-D pooling over NCHW tensors: a kh×kw window, `stride` and padding `pad` on each side
 * (max: −∞, avg: zeros that count). Output OH = ⌊(H + 2·pad − kh)/stride⌋ + 1, likewise OW.
 * Global average pooling is kh = H, kw = W, stride 1, pad 0.
 */
export interface PoolParams {
  N: number;
  C: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
}

/** Output height and width of a convolution. */
export function convOut(p: ConvParams): [number, number] {
  return [Math.floor((p.H + 2 * p.pad - p.k) / p.stride) + 1, Math.floor((p.W + 2 * p.pad - p.k) / p.stride) + 1];
}

/** Output height and width of a pooling. */
export function poolOut(p: PoolParams): [number, number] {
  return [Math.floor((p.H + 2 * p.pad - p.kh) / p.stride) + 1, Math.floor((p.W + 2 * p.pad - p.kw) / p.stride) + 1];
}

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
  /**
   * 2-D convolution, NCHW (see ConvParams). y is (N,OC,OH,OW), overwritten; x is (N,C,H,W);
   * w is (OC, C/groups, k, k) as in PyTorch; bias is (OC).
   * y[n,o,i,j] = bias[o] + Σ_{c in o's group, a, b} w[o, c − g·C/groups, a, b] · x[n, c, i·stride − pad + a, j·stride − pad + b]
   * (x is 0 outside the image), with g = ⌊o / (OC/groups)⌋.
   */
  conv2d(y: F32, x: F32, w: F32, bias: F32, p: ConvParams): void;
  /** dx (N,C,H,W), overwritten, = d(Σ dy·y)/dx of conv2d; dy is (N,OC,OH,OW), w is (OC,C/groups,k,k). */
  conv2d_backward_data(dx: F32, dy: F32, w: F32, p: ConvParams): void;
  /**
   * dw (OC,C/groups,k,k) and dbias (OC): the gradients of Σ dy·y of conv2d w.r.t. w and bias,
   * added to dw and dbias when accumulate, else written over them. dy is (N,OC,OH,OW), x is (N,C,H,W).
   */
  conv2d_backward_weight(dw: F32, dbias: F32, dy: F32, x: F32, p: ConvParams, accumulate: boolean): void;

  /**
   * Max pooling (see PoolParams). y and idx are (N,C,OH,OW), x is (N,C,H,W). y is the largest x in
   * each window (padding never wins); idx is its index h·W + w inside its (H,W) plane: the first
   * in row-major window order on ties, and a NaN wins over any number (PyTorch's rule). A window
   * wholly in the padding is impossible (pad < kh and pad < kw are required).
   */
  maxpool2d(y: F32, idx: I32, x: F32, p: PoolParams): void;
  /** dx (N,C,H,W), overwritten: 0, then dx[n,c,idx] += dy[n,c,i,j] for every output. */
  maxpool2d_backward(dx: F32, dy: F32, idx: I32, p: PoolParams): void;
  /** Average pooling (see PoolParams): y (N,C,OH,OW) = window sum / (kh·kw), padding counting as zeros. */
  avgpool2d(y: F32, x: F32, p: PoolParams): void;
  /** dx (N,C,H,W), overwritten: each dy spread evenly (1/(kh·kw)) over its window's in-image cells. */
  avgpool2d_backward(dx: F32, dy: F32, p: PoolParams): void;

  /**
   * Batch-norm statistics of x (N,C,HW): per channel c, over its N·HW values, mean[c] and
   * m2[c] = Σ (x − mean[c])² (the biased variance is m2/(N·HW)). Shards combine by Chan's formula.
   * N·HW = 0 gives mean 0 and m2 0.
   */
  batchnorm_stats(mean: F32, m2: F32, x: F32, N: number, C: number, HW: number): void;
  /** y (N,C,HW) = (x − mean[c])·invstd[c]·gamma[c] + beta[c]. y may alias x. */
  batchnorm(y: F32, x: F32, mean: F32, invstd: F32, gamma: F32, beta: F32, N: number, C: number, HW: number): void;
  /**
   * Per channel, over this shard: sumDy[c] = Σ dy and sumDyXhat[c] = Σ dy·(x − mean[c])·invstd[c]
   * (overwritten). Summed over the shards they are dbeta and dgamma, and what batchnorm_backward needs.
   */
  batchnorm_backward_reduce(sumDy: F32, sumDyXhat: F32, dy: F32, x: F32, mean: F32, invstd: F32, N: number, C: number, HW: number): void;
  /**
   * Training-mode input gradient, overwritten: dx = gamma·invstd·(dy − sumDy/count − xhat·sumDyXhat/count)
   * with xhat = (x − mean)·invstd; sumDy, sumDyXhat are the whole batch's (all shards) and count its
   * rows·HW. dx may alias dy.
   */
  batchnorm_backward(dx: F32, dy: F32, x: F32, mean: F32, invstd: F32, gamma: F32, sumDy: F32, sumDyXhat: F32, count: number, N: number, C: number, HW: number): void;

  // ---- int8 (src/compress: post-training quantization, QAT models, int8 inference) -------------
  // Activations are uint8 with a per-tensor zero point; weights int8, symmetric (zero point 0),
  // per output channel. An int8 layer is: quantize_int8 its input, matmul_int8 / conv2d_int8
  // (exact int32), dequantize_int32 with wsum = per-channel weight sums (the zero-point correction
  // Σ(x − zero)·w = Σx·w − zero·Σw) and scale = input scale · weight scale[c].

  /**
   * q (n) uint8 = clamp(round_half_even(v) + zeroPoint, 0, 255), v = f32(x·invScale) (one float32
   * multiply: every build rounds the same way). ±Infinity clamp to 0 / 255; NaN gives an
   * unspecified value in [0,255] (callers reject non-finite inputs first). zeroPoint in [0,255].
   */
  quantize_int8(q: U8, x: F32, n: number, invScale: number, zeroPoint: number): void;
  /**
   * acc (M,N) int32 = Σ_k a[m,k]·w[n,k], exact: a (M,K) uint8 activations, w (N,K) int8 (a Dense
   * layer's weight, row per output). |acc| ≤ 255·128·K < 2³¹ for K ≤ 32768 (the limit). Builds whose
   * instructions pair u8×s8 products in saturating int16 (AVX2 vpmaddubsw) must not use that path
   * on full-range operands: every result is exact.
   */
  matmul_int8(acc: I32, a: U8, w: I8, M: number, N: number, K: number): void;
  /**
   * conv2d (same geometry as conv2d, see ConvParams) of uint8 x with int8 w, exact int32 sums, no
   * bias: acc[n,o,i,j] = Σ_{c in o's group, a, b} w[o, c − g·C/groups, a, b] · x̃[n, c, i·stride − pad + a, j·stride − pad + b],
   * x̃ = x inside the image and xZero outside (padding is the quantized 0). (C/groups)·k·k ≤ 32768.
   */
  conv2d_int8(acc: I32, x: U8, w: I8, p: ConvParams, xZero: number): void;
  /**
   * y (N,C,HW) = f32(f32(acc − zero·wsum[c]) · scale[c]) + bias[c], per channel c, acc (N,C,HW)
   * int32; wsum, scale, bias are (C). Dense layers use HW = 1 (C = outputs, N = rows). The integer
   * acc − zero·wsum is exact; its conversion to float32 rounds to nearest even.
   */
  dequantize_int32(y: F32, acc: I32, wsum: I32, scale: F32, bias: F32, zero: number, N: number, C: number, HW: number): void;
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
