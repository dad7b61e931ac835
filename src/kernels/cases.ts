// The operator-case table: per kernel, the shapes and arguments it is run on and the tolerance it
// must meet against the TS reference, written once. The conformance suite runs every kernel's
// `conformance` cases (and its `bench` cases at a small batch) on every backend; `distill bench`
// validates its `bench` and `benchOnce` cases the same way, then times them.

import { referenceKernels } from './reference.js';
import type { AdamWParams, F32, I32, KernelName, Kernels, SgdParams } from './signatures.js';

// ---- data, comparison ------------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG for case data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-scale, scale), seeded. */
export function randArray(n: number, seed: number, scale = 1): F32 {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r() * 2 - 1) * scale;
  return a;
}

/** n labels uniform in [0, K), seeded. */
export function randLabels(n: number, K: number, seed: number): I32 {
  const r = rng(seed);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.floor(r() * K) % K;
  return a;
}

/** Largest |a-b| divided by max(1, largest |b|), Infinity on NaN: a normalized error like ggml's test-backend-ops. */
export function normErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let mag = 1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return diff / mag;
}

// ---- cases -----------------------------------------------------------------------------------

/** Where a case's arrays go: copies of the inputs (or zeros) in some backend's buffers, or plain arrays. */
export interface Place {
  f32(src: F32 | number): F32;
  i32(src: I32): I32;
  /** Gives back what f32/i32 handed out. */
  release(): void;
}

/** A case set up on one set of kernels: its outputs, and run() = one kernel call (the optimizer cases: `steps` calls). */
export interface Call {
  /** The returned loss for the loss kernels. */
  run(): number | void;
  readonly outputs: Readonly<Record<string, F32>>;
}

export interface Result {
  outputs: Readonly<Record<string, F32>>;
  loss: number | void;
}

export interface OpCase {
  readonly kernel: KernelName;
  /** What sets this case apart (shape, flags), for messages. */
  readonly what: string;
  /** Largest normalized error (normErr) allowed on every output. */
  readonly tol: number;
  /** Loss kernels: largest error of the loss relative to max(1, |reference loss|). */
  readonly lossTol?: number;
  /** Every output value (and the loss) must also be finite. */
  readonly finite?: boolean;
  /** Compare each output element on its own scale (elementErr) instead of by normErr. */
  readonly elementwise?: boolean;
  /** Places the inputs (copies of the case's data) and the outputs' initial contents with `place`. */
  setup(k: Kernels, place: Place): Call;
}

/** A case `distill bench` times: the row's op, shape, case and batch, and the work per call. */
export interface BenchCase extends OpCase {
  readonly op: string;
  readonly shape: string;
  readonly case: string;
  /** Batch N the case comes from; null for the optimizer steps. */
  readonly batch: number | null;
  /** Floating-point operations per call (matmul): the row's GFLOP/s. */
  readonly flops?: number;
  /** Bytes read + written per call (memory-bound kernels): the row's GB/s. */
  readonly bytes?: number;
}

/** Plain arrays (no backend): the reference's place, and the conformance suite's "foreign buffers". */
export const plainPlace: Place = {
  f32: (src) => (typeof src === 'number' ? new Float32Array(src) : src.slice()),
  i32: (src) => src.slice(),
  release: () => {},
};

/** Buffers from a backend's alloc/allocInt32, given back with free on release(). */
export function placeOn(be: { alloc(n: number): F32; allocInt32(n: number): I32; free(buf: F32 | I32): void }): Place {
  const bufs: (F32 | I32)[] = [];
  return {
    f32(src) {
      const b = be.alloc(typeof src === 'number' ? src : src.length);
      if (typeof src !== 'number') b.set(src);
      bufs.push(b);
      return b;
    },
    i32(src) {
      const b = be.allocInt32(src.length);
      b.set(src);
      bufs.push(b);
      return b;
    },
    release: () => {
      for (const b of bufs.splice(0)) be.free(b);
    },
  };
}

const expectedResults = new WeakMap<OpCase, Result>();

/** The TS reference's result of a case (computed once per case, on plain arrays). */
export function expected(c: OpCase): Result {
  let r = expectedResults.get(c);
  if (!r) {
    const call = c.setup(referenceKernels, plainPlace);
    r = { loss: call.run(), outputs: call.outputs };
    expectedResults.set(c, r);
  }
  return r;
}

/**
 * Largest |a-b| / max(1, |b|) over the elements, each on its own scale: equal values (NaN and NaN,
 * ±Infinity and itself, 0 and −0) count 0, any other NaN or infinity Infinity. For cases whose
 * inputs span many magnitudes (GELU at 1e20 next to 1e-30), where normErr would hide the small ones.
 */
export function elementErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    const e = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(e <= err)) err = Number.isNaN(e) ? Infinity : e;
  }
  return err;
}

/** Why `got` is not the reference's result of case c within its tolerances, or null when it is. */
export function compare(c: OpCase, got: Result): string | null {
  const want = expected(c);
  for (const [name, out] of Object.entries(got.outputs)) {
    const err = (c.elementwise ? elementErr : normErr)(out, want.outputs[name]);
    if (!(err < c.tol)) return `${name} differs from the reference: normalized error ${err.toExponential(2)} >= ${c.tol.toExponential(1)}`;
  }
  if (c.lossTol !== undefined) {
    const l = Number(got.loss), w = Number(want.loss);
    if (!(Math.abs(l - w) <= c.lossTol * Math.max(1, Math.abs(w)))) return `loss ${l} differs from the reference ${w}`;
  }
  if (c.finite) {
    for (const [name, out] of Object.entries(got.outputs)) if (!out.every(Number.isFinite)) return `${name} has a value that is not finite`;
    if (c.lossTol !== undefined && !Number.isFinite(got.loss)) return `loss ${got.loss} is not finite`;
  }
  return null;
}

/** Runs case c once on `k` with its arrays placed by `place`; why it is wrong, or null. Releases the arrays. */
export function check(c: OpCase, k: Kernels, place: Place): string | null {
  try {
    const call = c.setup(k, place);
    return compare(c, { loss: call.run(), outputs: call.outputs });
  } finally {
    place.release();
  }
}

// ---- argument generators ---------------------------------------------------------------------

/** Lazily made case data (made on first use, then shared by every backend). */
type Data<T> = () => T;

function once<T>(f: () => T): Data<T> {
  let v: T | undefined, done = false;
  return () => (done ? (v as T) : ((done = true), (v = f())));
}

/** n seeded values in [-scale, scale). */
const rand = (n: number, seed: number, scale = 1): Data<F32> => once(() => randArray(n, seed, scale));
/** n zeros. */
const zeros = (n: number): Data<F32> => () => new Float32Array(n);

// Tolerances, one per kernel (normalized error of the outputs; the loss relative to max(1, |loss|)).
const TOL_MATMUL = (K: number) => 1e-5 * Math.max(1, Math.sqrt(K));
const TOL_BIAS_ADD = 1e-6;
const TOL = 1e-5; // bias_grad, the activations, softmax, the losses' gradients
const TOL_OPTIM = 1e-6;
const LOSS_TOL = 1e-4;

// C is (M,N); A is (M,K) or (K,M) if transA; B is (K,N) or (N,K) if transB. C starts as c0.
function matmul(M: number, N: number, K: number, tA: boolean, tB: boolean, acc: boolean, A: Data<F32>, B: Data<F32>, c0: Data<F32>): OpCase {
  return {
    kernel: 'matmul', what: `M=${M} N=${N} K=${K} tA=${tA} tB=${tB} acc=${acc}`, tol: TOL_MATMUL(K),
    setup(k, p) {
      const a = p.f32(A()), b = p.f32(B()), C = p.f32(c0());
      return { run: () => k.matmul(C, a, b, M, N, K, tA, tB, acc), outputs: { C } };
    },
  };
}

// y is (N,OC), bias is (OC).
function biasAdd(N: number, OC: number, y0: Data<F32>, bias: Data<F32>): OpCase {
  return {
    kernel: 'bias_add', what: `N=${N} OC=${OC}`, tol: TOL_BIAS_ADD,
    setup(k, p) {
      const y = p.f32(y0()), b = p.f32(bias());
      return { run: () => k.bias_add(y, b, N, OC), outputs: { y } };
    },
  };
}

// dbias is (OC), dy is (N,OC).
function biasGrad(N: number, OC: number, acc: boolean, db0: Data<F32>, dy: Data<F32>): OpCase {
  return {
    kernel: 'bias_grad', what: `N=${N} OC=${OC} acc=${acc}`, tol: TOL,
    setup(k, p) {
      const dbias = p.f32(db0()), d = p.f32(dy());
      return { run: () => k.bias_grad(dbias, d, N, OC, acc), outputs: { dbias } };
    },
  };
}

type Activation = 'relu' | 'gelu';
type ActivationBackward = 'relu_backward' | 'gelu_backward';

// out, inp are (n); with inPlace, out is inp.
function activation(kernel: Activation, n: number, inPlace: boolean, x: Data<F32>, what = '', elementwise = false): OpCase {
  return {
    kernel, what: `n=${n}${inPlace ? ' in place' : ''}${what}`, tol: TOL, elementwise,
    setup(k, p) {
      const inp = p.f32(x()), out = inPlace ? inp : p.f32(n);
      return { run: () => k[kernel](out, inp, n), outputs: { out } };
    },
  };
}

// dinp, dout, inp are (n); with inPlace, dinp is dout.
function activationBackward(kernel: ActivationBackward, n: number, inPlace: boolean, dy: Data<F32>, x: Data<F32>, what = '', elementwise = false): OpCase {
  return {
    kernel, what: `n=${n}${inPlace ? ' in place' : ''}${what}`, tol: TOL, elementwise,
    setup(k, p) {
      const dout = p.f32(dy()), inp = p.f32(x()), out = inPlace ? dout : p.f32(n);
      return { run: () => k[kernel](out, dout, inp, n), outputs: { out } };
    },
  };
}

// out, logits are (N,K).
function softmax(kernel: 'softmax_t' | 'log_softmax_t', N: number, K: number, T: number, z: Data<F32>, what = `N=${N} K=${K} T=${T}`): OpCase {
  return {
    kernel, what, tol: TOL, finite: true,
    setup(k, p) {
      const logits = p.f32(z()), out = p.f32(N * K);
      return { run: () => k[kernel](out, logits, N, K, T), outputs: { out } };
    },
  };
}

// dS, s, t are (N,K).
function kdLoss(N: number, K: number, T: number, alpha: number, scaleT2: boolean, acc: boolean, s: Data<F32>, t: Data<F32>, d0: Data<F32>, what: string): OpCase {
  return {
    kernel: 'kd_loss', what, tol: TOL, lossTol: LOSS_TOL, finite: true,
    setup(k, p) {
      const dS = p.f32(d0()), si = p.f32(s()), ti = p.f32(t());
      return { run: () => k.kd_loss(dS, si, ti, N, K, T, alpha, scaleT2, acc), outputs: { dS } };
    },
  };
}

// dlogits, logits are (N,K); labels is (N).
function crossEntropy(N: number, K: number, weight: number, acc: boolean, z: Data<F32>, y: Data<I32>, d0: Data<F32>, what: string): OpCase {
  return {
    kernel: 'cross_entropy', what, tol: TOL, lossTol: LOSS_TOL,
    setup(k, p) {
      const dlogits = p.f32(d0()), logits = p.f32(z()), labels = p.i32(y());
      return { run: () => k.cross_entropy(dlogits, logits, labels, N, K, weight, acc), outputs: { dlogits } };
    },
  };
}

// dpred, pred, target are (n).
function mse(n: number, weight: number, acc: boolean, pred: Data<F32>, target: Data<F32>, d0: Data<F32>): OpCase {
  return {
    kernel: 'mse', what: `n=${n} acc=${acc}`, tol: TOL, lossTol: LOSS_TOL,
    setup(k, p) {
      const dpred = p.f32(d0()), pr = p.f32(pred()), tg = p.f32(target());
      return { run: () => k.mse(dpred, pr, tg, n, weight, acc), outputs: { dpred } };
    },
  };
}

// params, grads, momentumBuf are (n); `steps` steps per run.
function sgdStep(n: number, hp: SgdParams, steps: number, p0: Data<F32>, g: Data<F32>, m0: Data<F32>): OpCase {
  return {
    kernel: 'sgd_step', what: `n=${n} ${JSON.stringify(hp)} steps=${steps}`, tol: TOL_OPTIM,
    setup(k, p) {
      const params = p.f32(p0()), grads = p.f32(g()), momentum = p.f32(m0());
      return { run: () => { for (let s = 0; s < steps; s++) k.sgd_step(params, grads, momentum, n, hp); }, outputs: { params, momentum } };
    },
  };
}

// params, grads, m, v are (n); m and v start at 0; steps 1..`steps` per run.
function adamwStep(n: number, hp: Omit<AdamWParams, 'step'>, steps: number, p0: Data<F32>, g: Data<F32>): OpCase {
  return {
    kernel: 'adamw_step', what: `n=${n} steps=${steps}`, tol: TOL_OPTIM,
    setup(k, p) {
      const params = p.f32(p0()), grads = p.f32(g()), m = p.f32(n), v = p.f32(n);
      return { run: () => { for (let step = 1; step <= steps; step++) k.adamw_step(params, grads, m, v, n, { ...hp, step }); }, outputs: { params, m, v } };
    },
  };
}

// ---- the table -------------------------------------------------------------------------------

/** A kernel's cases: the conformance grid, and what `distill bench` times. */
export interface KernelCases {
  /** The conformance suite's cases (every backend, backend buffers and plain arrays). */
  conformance(): OpCase[];
  /** bench's cases at batch N, on workload W's shapes (the conformance suite runs them at a small N too). */
  bench(N: number): BenchCase[];
  /** bench's cases measured once per run, not per batch (with quick: those a --quick run keeps). */
  benchOnce?(quick: boolean): BenchCase[];
}

// Conformance grids.
const MATMUL_SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 5, 7], [17, 13, 33], [0, 5, 3], [5, 0, 3], [4, 3, 0],
  [31, 45, 67], [64, 80, 100], [9, 10, 257], [130, 10, 129], [33, 129, 65],
  [300, 41, 800], [151, 530, 811],
];
const BIAS_SHAPES: [number, number][] = [[0, 4], [1, 1], [5, 7], [13, 33], [128, 10]];
const TEMPS = [0.5, 1, 4, 20];
const ROWS = [0, 1, 3, 13];
const CLASSES = [1, 3, 10, 17];
const SIZES = [0, 1, 3, 7, 15, 17, 33, 100, 1023];
const BOOLS = [false, true];
const SGD_HPS: SgdParams[] = [
  { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
  { lr: 0.01, momentum: 0.9, weightDecay: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true },
];
const ADAMW_HP = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** Logits of scale 1 or 100; at 100 the first and last are pinned to ±100. */
function logits(N: number, K: number, seed: number, scale: number): Data<F32> {
  return once(() => {
    const z = randArray(N * K, seed, scale);
    if (N * K > 0 && scale === 100) { z[0] = 100; z[N * K - 1] = -100; }
    return z;
  });
}

// Workload W (bench): Dense 784-800-800-10; activations (N,800), logits (N,10).
const HIDDEN = 800, INPUTS = 784, LABELS = 10;
/** The optimizer steps run over the flat parameter buffer of W's student. */
const STUDENT_PARAMS = HIDDEN * (INPUTS + 1) + HIDDEN * (HIDDEN + 1) + LABELS * (HIDDEN + 1);

function benchMatmul(label: string, batch: number, M: number, N: number, K: number, tA: boolean, tB: boolean): BenchCase {
  return {
    ...matmul(M, N, K, tA, tB, false, rand(M * K, 1), rand(K * N, 2), zeros(M * N)),
    op: 'matmul', shape: `${M}x${N}x${K} ${tA ? 't' : 'n'}${tB ? 't' : 'n'}`, case: label, batch, flops: 2 * M * N * K,
  };
}

/**
 * GELU's extreme points (signatures.ts GELU_LIMIT): around the limit 11, far beyond it up to
 * float32's largest, the infinities (gelu: +Infinity, −0; gelu': 1, 0) and NaN (stays NaN).
 */
export const GELU_EXTREMES: readonly number[] = [
  0, -0, 1e-30, -1e-30, 0.5, -0.5, 3, -3, 6, -6, 10.5, -10.5, 11, -11,
  Math.fround(11 + 2 ** -20), -Math.fround(11 + 2 ** -20), 12, -12, 1e3, -1e3, 1e20, -1e20,
  3.4e38, -3.4e38, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity, NaN,
];

/**
 * The extreme points where every build's vector body and its scalar (or padded) tail see them:
 * all of them in one array of a length that is no multiple of 4 or 8, and each alone in an array
 * of 11 (= 8 + 3 = 2·4 + 3) at index 1 (the first vector) and index 9 (the tail), ordinary values
 * elsewhere; in place and not. Compared element by element (elementErr).
 */
function extremeInputs(): { n: number; x: Data<F32>; what: string }[] {
  const all = GELU_EXTREMES.length % 4 === 0 ? [...GELU_EXTREMES, 0.25] : [...GELU_EXTREMES];
  const out: { n: number; x: Data<F32>; what: string }[] = [{ n: all.length, x: once((): F32 => Float32Array.from(all)), what: ' extremes: all' }];
  for (const p of GELU_EXTREMES) {
    out.push({ n: 11, x: once(() => { const a = randArray(11, 23, 4); a[1] = p; a[9] = p; return a; }), what: ` extremes: ${p} (body and tail)` });
  }
  return out;
}

function activationCases(kernel: Activation, x: (n: number) => Data<F32>, extremes = false): KernelCases {
  return {
    conformance: () => [
      ...SIZES.flatMap((n) => BOOLS.map((inPlace) => activation(kernel, n, inPlace, x(n)))),
      ...(extremes ? extremeInputs().flatMap((e) => BOOLS.map((inPlace) => activation(kernel, e.n, inPlace, e.x, e.what, true))) : []),
    ],
    bench: (N) => {
      const n = N * HIDDEN;
      return [{ ...activation(kernel, n, false, rand(n, 5, kernel === 'gelu' ? 3 : 1)), op: kernel, shape: `n=${n} (${N}x${HIDDEN})`, case: 'forward', batch: N, bytes: 8 * n }];
    },
  };
}

function activationBackwardCases(kernel: ActivationBackward, x: (n: number) => Data<F32>, extremes = false): KernelCases {
  return {
    conformance: () => [
      ...SIZES.flatMap((n) => BOOLS.map((inPlace) => activationBackward(kernel, n, inPlace, rand(n, 22), x(n)))),
      ...(extremes ? extremeInputs().flatMap((e) => BOOLS.map((inPlace) => activationBackward(kernel, e.n, inPlace, rand(e.n, 24), e.x, e.what, true))) : []),
    ],
    bench: (N) => {
      const n = N * HIDDEN;
      const c = activationBackward(kernel, n, false, rand(n, 6), rand(n, 5, kernel === 'gelu_backward' ? 3 : 1));
      return [{ ...c, op: kernel, shape: `n=${n} (${N}x${HIDDEN})`, case: 'backward', batch: N, bytes: 12 * n }];
    },
  };
}

function softmaxCases(kernel: 'softmax_t' | 'log_softmax_t'): KernelCases {
  return {
    conformance: () => ROWS.flatMap((N) => CLASSES.flatMap((K) => TEMPS.flatMap((T) => [1, 100].map((scale) =>
      softmax(kernel, N, K, T, logits(N, K, N * 31 + K, scale), `N=${N} K=${K} T=${T} scale=${scale}`))))),
    bench: (N) => [{ ...softmax(kernel, N, LABELS, 4, rand(N * LABELS, 7, 10)), op: kernel, shape: `${N}x${LABELS} T=4`, case: 'row-wise', batch: N, bytes: 8 * N * LABELS }],
  };
}

/** Conformance activations: inputs in [-4, 4). */
const actX = (n: number) => rand(n, 21, 4);

/** Every kernel's cases, in table order. */
export const OP_CASES: Record<KernelName, KernelCases> = {
  matmul: {
    conformance: () => {
      let seed = 1;
      const out: OpCase[] = [];
      for (const [M, N, K] of MATMUL_SHAPES) for (const tA of BOOLS) for (const tB of BOOLS) for (const acc of BOOLS) {
        out.push(matmul(M, N, K, tA, tB, acc, rand(M * K, seed++), rand(K * N, seed++), rand(M * N, seed++)));
      }
      return out;
    },
    bench: (N) => [
      benchMatmul('Dense forward Y = X·Wᵀ', N, N, HIDDEN, INPUTS, false, true),
      benchMatmul('Dense dW = dYᵀ·X', N, HIDDEN, INPUTS, N, true, false),
      benchMatmul('Dense dX = dY·W', N, N, INPUTS, HIDDEN, false, false),
    ],
    benchOnce: (quick) => (quick ? [] : [benchMatmul('square', 1024, 1024, 1024, 1024, false, false)]),
  },
  bias_add: {
    conformance: () => BIAS_SHAPES.map(([N, OC]) => biasAdd(N, OC, rand(N * OC, 11), rand(OC, 12))),
    bench: (N) => [{ ...biasAdd(N, HIDDEN, rand(N * HIDDEN, 3), rand(HIDDEN, 4)), op: 'bias_add', shape: `${N}x${HIDDEN}`, case: 'y += bias', batch: N, bytes: 8 * N * HIDDEN + 4 * HIDDEN }],
  },
  bias_grad: {
    conformance: () => BIAS_SHAPES.flatMap(([N, OC]) => BOOLS.map((acc) => biasGrad(N, OC, acc, rand(OC, 13), rand(N * OC, 11)))),
    bench: (N) => [{ ...biasGrad(N, HIDDEN, false, zeros(HIDDEN), rand(N * HIDDEN, 3)), op: 'bias_grad', shape: `${N}x${HIDDEN}`, case: 'column sums', batch: N, bytes: 4 * N * HIDDEN + 4 * HIDDEN }],
  },
  relu: activationCases('relu', actX),
  relu_backward: activationBackwardCases('relu_backward', actX),
  gelu: activationCases('gelu', actX, true),
  gelu_backward: activationBackwardCases('gelu_backward', actX, true),
  softmax_t: softmaxCases('softmax_t'),
  log_softmax_t: softmaxCases('log_softmax_t'),
  kd_loss: {
    conformance: () => ROWS.flatMap((N) => CLASSES.flatMap((K) => TEMPS.flatMap((T) => [1, 100].flatMap((scale) => BOOLS.flatMap((scaleT2) => BOOLS.map((acc) =>
      kdLoss(N, K, T, 0.9, scaleT2, acc, rand(N * K, 41 + N + K, scale), rand(N * K, 42 + N * K, scale), rand(N * K, 43),
        `N=${N} K=${K} T=${T} scale=${scale} t2=${scaleT2} acc=${acc}`))))))),
    bench: (N) => {
      const nk = N * LABELS;
      return [{ ...kdLoss(N, LABELS, 4, 0.9, true, false, rand(nk, 8, 10), rand(nk, 9, 10), zeros(nk), `N=${N} K=${LABELS} T=4`), op: 'kd_loss', shape: `${N}x${LABELS} T=4`, case: 'fused loss + dS', batch: N, bytes: 12 * nk }];
    },
  },
  cross_entropy: {
    conformance: () => ROWS.flatMap((N) => CLASSES.flatMap((K) => [1, 100].flatMap((scale) => BOOLS.map((acc) =>
      crossEntropy(N, K, 0.3, acc, rand(N * K, 51 + N + K, scale), once(() => randLabels(N, K, 52 + N)), rand(N * K, 53), `N=${N} K=${K} scale=${scale} acc=${acc}`))))),
    bench: (N) => {
      const nk = N * LABELS, y = once(() => Int32Array.from({ length: N }, (_, i) => (i * 7) % LABELS));
      return [{ ...crossEntropy(N, LABELS, 0.1, false, rand(nk, 10, 10), y, zeros(nk), `N=${N} K=${LABELS}`), op: 'cross_entropy', shape: `${N}x${LABELS}`, case: 'fused loss + dlogits', batch: N, bytes: 8 * nk + 4 * N }];
    },
  },
  mse: {
    conformance: () => SIZES.flatMap((n) => BOOLS.map((acc) => mse(n, 0.7, acc, rand(n, 61 + n, 3), rand(n, 62 + n, 3), rand(n, 63)))),
    bench: (N) => {
      const n = N * HIDDEN;
      return [{ ...mse(n, 1, false, rand(n, 11), rand(n, 12), zeros(n)), op: 'mse', shape: `n=${n} (${N}x${HIDDEN})`, case: 'fused loss + dpred', batch: N, bytes: 12 * n }];
    },
  },
  sgd_step: {
    conformance: () => SIZES.flatMap((n) => SGD_HPS.map((hp) => sgdStep(n, hp, 3, rand(n, 71 + n), rand(n, 72 + n), rand(n, 73 + n)))),
    bench: () => [],
    benchOnce: () => {
      const n = STUDENT_PARAMS, hp = { lr: 1e-3, momentum: 0.9, weightDecay: 1e-4, nesterov: false };
      return [{ ...sgdStep(n, hp, 1, rand(n, 13), rand(n, 14), rand(n, 15, 0.1)), op: 'sgd_step', shape: `n=${n} (W's student)`, case: 'momentum 0.9', batch: null, bytes: 20 * n }];
    },
  },
  adamw_step: {
    conformance: () => SIZES.map((n) => adamwStep(n, ADAMW_HP, 3, rand(n, 81 + n), rand(n, 82 + n))),
    bench: () => [],
    benchOnce: () => {
      const n = STUDENT_PARAMS;
      return [{ ...adamwStep(n, ADAMW_HP, 1, rand(n, 16), rand(n, 17)), op: 'adamw_step', shape: `n=${n} (W's student)`, case: 'decoupled wd', batch: null, bytes: 28 * n }];
    },
  },
};

/** bench's probe of the peak matmul GFLOP/s when matmul itself is not measured: W's Dense forward at batch N. */
export function peakProbeCase(N: number): BenchCase {
  return benchMatmul('peak probe', N, N, HIDDEN, INPUTS, false, true);
}

const conformanceCache = new Map<KernelName, OpCase[]>();

/** The conformance cases of one kernel (made once: their data and reference results are shared by every backend). */
export function conformanceCases(kernel: KernelName): OpCase[] {
  let cs = conformanceCache.get(kernel);
  if (!cs) conformanceCache.set(kernel, (cs = OP_CASES[kernel].conformance()));
  return cs;
}
