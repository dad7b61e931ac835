// The operator-case table: per kernel, the shapes and arguments it is run on and the tolerance it
// must meet against the TS reference, written once. The conformance suite runs every kernel's
// `conformance` cases (and its `bench` cases at a small batch) on every backend; `distill bench`
// validates its `bench` and `benchOnce` cases the same way, then times them.

import { referenceKernels } from './reference.js';
import { convOut, poolOut, type AdamWParams, type ConvParams, type F32, type I32, type I8, type U8, type KernelName, type Kernels, type PoolParams, type SgdParams } from './signatures.js';

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
  /** int8 kernels: copies of uint8 / int8 inputs, or zeros of that length. */
  u8(src: U8 | number): U8;
  i8(src: I8): I8;
  /** Gives back what f32/i32/u8/i8 handed out. */
  release(): void;
}

/** A case set up on one set of kernels: its outputs, and run() = one kernel call (the optimizer cases: `steps` calls). */
export interface Call {
  /** The returned loss for the loss kernels. */
  run(): number | void;
  readonly outputs: Readonly<Record<string, F32 | I32 | U8>>;
}

export interface Result {
  outputs: Readonly<Record<string, F32 | I32 | U8>>;
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
  /** Every output must equal the reference's exactly (the integer kernels); tol is then unused. */
  readonly exact?: boolean;
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
  u8: (src) => (typeof src === 'number' ? new Uint8Array(src) : src.slice()),
  i8: (src) => src.slice(),
  release: () => {},
};

/** Buffers from a backend's alloc/allocInt32, given back with free on release(). */
export function placeOn(be: { alloc(n: number): F32; allocInt32(n: number): I32; allocUint8(n: number): U8; allocInt8(n: number): I8; free(buf: F32 | I32 | U8 | I8): void }): Place {
  const bufs: (F32 | I32 | U8 | I8)[] = [];
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
    u8(src) {
      const b = be.allocUint8(typeof src === 'number' ? src : src.length);
      if (typeof src !== 'number') b.set(src);
      bufs.push(b);
      return b;
    },
    i8(src) {
      const b = be.allocInt8(src.length);
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
    if (c.exact) {
      const w = want.outputs[name];
      if (out.length !== w.length) return `${name} has length ${out.length}, the reference ${w.length}`;
      for (let i = 0; i < w.length; i++) if (!Object.is(out[i], w[i])) return `${name}[${i}] = ${out[i]}, the reference ${w[i]} (must be exact)`;
      continue;
    }
    const err = (c.elementwise ? elementErr : normErr)(out, want.outputs[name]);
    if (!(err < c.tol)) return `${name} differs from the reference: normalized error ${err.toExponential(2)} >= ${c.tol.toExponential(1)}`;
  }
  if (c.lossTol !== undefined) {
    const l = Number(got.loss), w = Number(want.loss);
    if (!(Math.abs(l - w) <= c.lossTol * Math.max(1, Math.abs(w)))) return `loss ${l} differs from the reference ${w}`;
  }
  if (c.finite) {
    for (const [name, out] of Object.entries(got.outputs)) if (!(out as F32).every(Number.isFinite)) return `${name} has a value that is not finite`;
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

const convWhat = (p: ConvParams) => `N=${p.N} C=${p.C} ${p.H}x${p.W} OC=${p.OC} k=${p.k} s=${p.stride} p=${p.pad} g=${p.groups}`;
const poolWhat = (p: PoolParams) => `N=${p.N} C=${p.C} ${p.H}x${p.W} ${p.kh}x${p.kw} s=${p.stride} p=${p.pad}`;
const convSizes = (p: ConvParams) => {
  const [OH, OW] = convOut(p);
  return { x: p.N * p.C * p.H * p.W, w: p.OC * (p.C / p.groups) * p.k * p.k, y: p.N * p.OC * OH * OW, red: (p.C / p.groups) * p.k * p.k };
};
/** Conv tolerance: grows with the reduction length like matmul's (and the batch·output plane for dW). */
const TOL_CONV = (len: number) => 1e-5 * Math.max(1, Math.sqrt(len));

// y is (N,OC,OH,OW); x is (N,C,H,W); w is (OC,C/groups,k,k); bias is (OC).
function conv2dCase(p: ConvParams, seed: number, what = convWhat(p)): OpCase {
  const z = convSizes(p), X = rand(z.x, seed), Wt = rand(z.w, seed + 1, 0.5), B = rand(p.OC, seed + 2), y0 = rand(z.y, seed + 3);
  return {
    kernel: 'conv2d', what, tol: TOL_CONV(z.red),
    setup(k, pl) {
      const y = pl.f32(y0()), x = pl.f32(X()), w = pl.f32(Wt()), b = pl.f32(B());
      return { run: () => k.conv2d(y, x, w, b, p), outputs: { y } };
    },
  };
}

// dx is (N,C,H,W); dy is (N,OC,OH,OW); w is (OC,C/groups,k,k).
function conv2dBackwardDataCase(p: ConvParams, seed: number, what = convWhat(p)): OpCase {
  const z = convSizes(p), DY = rand(z.y, seed), Wt = rand(z.w, seed + 1, 0.5), dx0 = rand(z.x, seed + 2);
  return {
    kernel: 'conv2d_backward_data', what, tol: TOL_CONV((p.OC / p.groups) * p.k * p.k),
    setup(k, pl) {
      const dx = pl.f32(dx0()), dy = pl.f32(DY()), w = pl.f32(Wt());
      return { run: () => k.conv2d_backward_data(dx, dy, w, p), outputs: { dx } };
    },
  };
}

// dw is (OC,C/groups,k,k); dbias is (OC); dy is (N,OC,OH,OW); x is (N,C,H,W).
function conv2dBackwardWeightCase(p: ConvParams, acc: boolean, seed: number, what = `${convWhat(p)} acc=${acc}`): OpCase {
  const z = convSizes(p), [OH, OW] = convOut(p), DY = rand(z.y, seed), X = rand(z.x, seed + 1), dw0 = rand(z.w, seed + 2), db0 = rand(p.OC, seed + 3);
  return {
    kernel: 'conv2d_backward_weight', what, tol: TOL_CONV(p.N * OH * OW),
    setup(k, pl) {
      const dw = pl.f32(dw0()), dbias = pl.f32(db0()), dy = pl.f32(DY()), x = pl.f32(X());
      return { run: () => k.conv2d_backward_weight(dw, dbias, dy, x, p, acc), outputs: { dw, dbias } };
    },
  };
}

/** x for pooling: seeded values with ties (rounded to 1/4) and, when `nan`, a few NaNs. */
const poolX = (n: number, seed: number, nan: boolean): Data<F32> => once(() => {
  const a = randArray(n, seed, 2);
  for (let i = 0; i < n; i++) a[i] = Math.round(a[i] * 4) / 4;
  if (nan) for (let i = 5; i < n; i += 37) a[i] = NaN;
  return a;
});

// y, idx are (N,C,OH,OW); x is (N,C,H,W). idx is compared as numbers.
function maxpoolCase(p: PoolParams, seed: number, nan = false): OpCase {
  const [OH, OW] = poolOut(p), X = poolX(p.N * p.C * p.H * p.W, seed, nan), no = p.N * p.C * OH * OW;
  return {
    kernel: 'maxpool2d', what: `${poolWhat(p)}${nan ? ' NaN' : ''}`, tol: 1e-7, elementwise: true,
    setup(k, pl) {
      const y = pl.f32(no), idx = pl.i32(new Int32Array(no).fill(-7)), x = pl.f32(X());
      return { run: () => k.maxpool2d(y, idx, x, p), outputs: { y, get idx() { return Float32Array.from(idx); } } };
    },
  };
}

// dx is (N,C,H,W); dy, idx are (N,C,OH,OW); idx from the reference maxpool2d.
function maxpoolBackwardCase(p: PoolParams, seed: number): OpCase {
  const [OH, OW] = poolOut(p), no = p.N * p.C * OH * OW, X = poolX(p.N * p.C * p.H * p.W, seed, false), DY = rand(no, seed + 1);
  const IDX = once(() => { const y = new Float32Array(no), idx = new Int32Array(no); referenceKernels.maxpool2d(y, idx, X(), p); return idx; });
  return {
    kernel: 'maxpool2d_backward', what: poolWhat(p), tol: 1e-6,
    setup(k, pl) {
      const dx = pl.f32(rand(p.N * p.C * p.H * p.W, seed + 2)()), dy = pl.f32(DY()), idx = pl.i32(IDX());
      return { run: () => k.maxpool2d_backward(dx, dy, idx, p), outputs: { dx } };
    },
  };
}

// y is (N,C,OH,OW); x is (N,C,H,W).
function avgpoolCase(p: PoolParams, seed: number): OpCase {
  const [OH, OW] = poolOut(p), X = rand(p.N * p.C * p.H * p.W, seed);
  return {
    kernel: 'avgpool2d', what: poolWhat(p), tol: TOL,
    setup(k, pl) {
      const y = pl.f32(rand(p.N * p.C * OH * OW, seed + 1)()), x = pl.f32(X());
      return { run: () => k.avgpool2d(y, x, p), outputs: { y } };
    },
  };
}

// dx is (N,C,H,W); dy is (N,C,OH,OW).
function avgpoolBackwardCase(p: PoolParams, seed: number): OpCase {
  const [OH, OW] = poolOut(p), DY = rand(p.N * p.C * OH * OW, seed);
  return {
    kernel: 'avgpool2d_backward', what: poolWhat(p), tol: TOL,
    setup(k, pl) {
      const dx = pl.f32(rand(p.N * p.C * p.H * p.W, seed + 1)()), dy = pl.f32(DY());
      return { run: () => k.avgpool2d_backward(dx, dy, p), outputs: { dx } };
    },
  };
}

type BnShape = [N: number, C: number, HW: number];
const bnWhat = ([N, C, HW]: BnShape) => `N=${N} C=${C} HW=${HW}`;
/** Batch-norm inputs: an offset per channel (up to ±50) so that the two-pass variance matters. */
const bnX = ([N, C, HW]: BnShape, seed: number): Data<F32> => once(() => {
  const a = randArray(N * C * HW, seed, 2);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let q = 0; q < HW; q++) a[(n * C + c) * HW + q] += ((c * 37) % 11 - 5) * 10;
  return a;
});
/** Positive per-channel values (invstd, gamma). */
const positive = (n: number, seed: number): Data<F32> => once(() => randArray(n, seed, 0.5).map((v) => 1 + v));
/** The per-channel batch mean of bnX (what callers pass as `mean`). */
const bnMean = (s: BnShape, x: Data<F32>): Data<F32> => once(() => {
  const mean = new Float32Array(s[1]), m2 = new Float32Array(s[1]);
  referenceKernels.batchnorm_stats(mean, m2, x(), ...s);
  return mean;
});

// mean, m2 are (C); x is (N,C,HW).
function bnStatsCase(s: BnShape, seed: number): OpCase {
  const X = bnX(s, seed);
  return {
    kernel: 'batchnorm_stats', what: bnWhat(s), tol: 1e-5 * Math.max(1, Math.sqrt(s[0] * s[2])),
    setup(k, pl) {
      const mean = pl.f32(rand(s[1], seed + 1)()), m2 = pl.f32(rand(s[1], seed + 2)()), x = pl.f32(X());
      return { run: () => k.batchnorm_stats(mean, m2, x, ...s), outputs: { mean, m2 } };
    },
  };
}

// y, x are (N,C,HW); mean, invstd, gamma, beta are (C); with inPlace, y is x.
function bnCase(s: BnShape, inPlace: boolean, seed: number): OpCase {
  const C = s[1], X = bnX(s, seed), M = bnMean(s, X), IS = positive(C, seed + 1), G = positive(C, seed + 2), B = rand(C, seed + 3);
  return {
    kernel: 'batchnorm', what: `${bnWhat(s)}${inPlace ? ' in place' : ''}`, tol: TOL,
    setup(k, pl) {
      const x = pl.f32(X()), y = inPlace ? x : pl.f32(x.length), mean = pl.f32(M()), invstd = pl.f32(IS()), gamma = pl.f32(G()), beta = pl.f32(B());
      return { run: () => k.batchnorm(y, x, mean, invstd, gamma, beta, ...s), outputs: { y } };
    },
  };
}

// sumDy, sumDyXhat, mean, invstd are (C); dy, x are (N,C,HW).
function bnBackwardReduceCase(s: BnShape, seed: number): OpCase {
  const C = s[1], X = bnX(s, seed), M = bnMean(s, X), IS = positive(C, seed + 1), DY = rand(s[0] * C * s[2], seed + 2);
  return {
    kernel: 'batchnorm_backward_reduce', what: bnWhat(s), tol: 1e-5 * Math.max(1, Math.sqrt(s[0] * s[2])),
    setup(k, pl) {
      const sumDy = pl.f32(rand(C, seed + 3)()), sumDyXhat = pl.f32(rand(C, seed + 4)()), dy = pl.f32(DY()), x = pl.f32(X()), mean = pl.f32(M()), invstd = pl.f32(IS());
      return { run: () => k.batchnorm_backward_reduce(sumDy, sumDyXhat, dy, x, mean, invstd, ...s), outputs: { sumDy, sumDyXhat } };
    },
  };
}

// dx, dy, x are (N,C,HW); mean, invstd, gamma, sumDy, sumDyXhat are (C); with inPlace, dx is dy.
function bnBackwardCase(s: BnShape, inPlace: boolean, seed: number): OpCase {
  const [N, C, HW] = s, X = bnX(s, seed), M = bnMean(s, X), IS = positive(C, seed + 1), G = positive(C, seed + 2), DY = rand(N * C * HW, seed + 3);
  const SD = rand(C, seed + 4, 5), SDX = rand(C, seed + 5, 5), count = 2 * N * HW + 1;
  return {
    kernel: 'batchnorm_backward', what: `${bnWhat(s)}${inPlace ? ' in place' : ''}`, tol: TOL,
    setup(k, pl) {
      const dy = pl.f32(DY()), dx = inPlace ? dy : pl.f32(dy.length), x = pl.f32(X()), mean = pl.f32(M()), invstd = pl.f32(IS()), gamma = pl.f32(G());
      const sumDy = pl.f32(SD()), sumDyXhat = pl.f32(SDX());
      return { run: () => k.batchnorm_backward(dx, dy, x, mean, invstd, gamma, sumDy, sumDyXhat, count, ...s), outputs: { dx } };
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

// ---- int8 ------------------------------------------------------------------------------------

/** n seeded uint8 values over the full range, 255 and 0 pinned at the ends. */
const randU8 = (n: number, seed: number, fill?: number): Data<U8> => once(() => {
  const r = rng(seed), a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = fill ?? Math.floor(r() * 256) & 255;
  if (fill === undefined && n > 0) a[0] = 255;
  if (fill === undefined && n > 2) a[n - 1] = 0;
  return a;
});
/** n seeded int8 values over the full range, −128 and 127 pinned at the start. */
const randI8 = (n: number, seed: number, fill?: number): Data<I8> => once(() => {
  const r = rng(seed), a = new Int8Array(n);
  for (let i = 0; i < n; i++) a[i] = fill ?? (Math.floor(r() * 256) & 255) - 128;
  if (fill === undefined && n > 0) a[0] = -128;
  if (fill === undefined && n > 1) a[1] = 127;
  return a;
});
/** Values to quantize: ordinary ones over the range and beyond, exact ties (v = k + 0.5 when 1/invScale is a power of 2), the extremes and NaN (→ zeroPoint, either sign). */
function quantInput(n: number, invScale: number, seed: number): Data<F32> {
  return once(() => {
    const r = rng(seed), a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = i % 3 === 0 ? (Math.floor(r() * 700) - 350 + 0.5) / invScale : ((r() * 2 - 1) * 400) / invScale;
    const special = [Infinity, -Infinity, 3e38, -3e38, -0, 1e-40, 0.5 / invScale, -0.5 / invScale, 1.5 / invScale, -2.5 / invScale, NaN, -NaN, 511.5 / invScale, -512.5 / invScale];
    for (let i = 0; i < special.length && 2 * i + 1 < n; i++) a[2 * i + 1] = special[i];
    return a;
  });
}

// q, x are (n).
function quantizeCase(n: number, invScale: number, zp: number, seed: number): OpCase {
  const X = quantInput(n, invScale, seed), q0 = randU8(n, seed + 1);
  return {
    kernel: 'quantize_int8', what: `n=${n} invScale=${invScale} zeroPoint=${zp}`, tol: 0, exact: true,
    setup(k, pl) {
      const q = pl.u8(q0()), x = pl.f32(X());
      return { run: () => k.quantize_int8(q, x, n, invScale, zp), outputs: { q } };
    },
  };
}

// acc is (M,N) int32; a is (M,K) uint8; w is (N,K) int8.
function matmulInt8Case(M: number, N: number, K: number, A: Data<U8>, Wt: Data<I8>, what = `M=${M} N=${N} K=${K}`): OpCase {
  const acc0 = once(() => Int32Array.from({ length: M * N }, (_, i) => i * 7919 - 3));
  return {
    kernel: 'matmul_int8', what, tol: 0, exact: true,
    setup(k, pl) {
      const acc = pl.i32(acc0()), a = pl.u8(A()), w = pl.i8(Wt());
      return { run: () => k.matmul_int8(acc, a, w, M, N, K), outputs: { acc } };
    },
  };
}

// acc is (N,OC,OH,OW) int32; x is (N,C,H,W) uint8; w is (OC,C/groups,k,k) int8.
function conv2dInt8Case(p: ConvParams, xZero: number, X: Data<U8>, Wt: Data<I8>, what = `${convWhat(p)} xZero=${xZero}`): OpCase {
  const z = convSizes(p), acc0 = once(() => Int32Array.from({ length: z.y }, (_, i) => 5 - i));
  return {
    kernel: 'conv2d_int8', what, tol: 0, exact: true,
    setup(k, pl) {
      const acc = pl.i32(acc0()), x = pl.u8(X()), w = pl.i8(Wt());
      return { run: () => k.conv2d_int8(acc, x, w, p, xZero), outputs: { acc } };
    },
  };
}

// y, acc are (N,C,HW); wsum, scale, bias are (C).
function dequantizeCase(N: number, C: number, HW: number, zero: number, seed: number): OpCase {
  const n = N * C * HW;
  const acc0 = once(() => { const r = rng(seed); return Int32Array.from({ length: n }, (_, i) => Math.floor((r() * 2 - 1) * (i % 2 ? 2 ** 30 : 2 ** 16))); });
  const ws = once(() => { const r = rng(seed + 1); return Int32Array.from({ length: C }, () => Math.floor((r() * 2 - 1) * 2 ** 20)); });
  const sc = once(() => { const r = rng(seed + 2); return Float32Array.from({ length: C }, () => 1e-5 + r() * 1e-3); });
  const B = rand(C, seed + 3), y0 = rand(n, seed + 4);
  return {
    kernel: 'dequantize_int32', what: `N=${N} C=${C} HW=${HW} zero=${zero}`, tol: 1e-6,
    setup(k, pl) {
      const y = pl.f32(y0()), acc = pl.i32(acc0()), wsum = pl.i32(ws()), scale = pl.f32(sc()), bias = pl.f32(B());
      return { run: () => k.dequantize_int32(y, acc, wsum, scale, bias, zero, N, C, HW), outputs: { y } };
    },
  };
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

const conv = (N: number, C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number): ConvParams => ({ N, C, H, W, OC, k, stride, pad, groups });
/** Conformance convolutions: odd sizes, 1×1/3×3/5×5, strides 1–3, padding 0–2, dense, grouped and depthwise (multiplier 1 and 2), empty batches. */
const CONV_SHAPES: ConvParams[] = [
  conv(1, 1, 5, 5, 1, 3, 1, 0, 1), conv(2, 3, 7, 6, 4, 3, 1, 1, 1), conv(3, 4, 9, 9, 5, 3, 2, 1, 1),
  conv(2, 2, 8, 7, 3, 5, 1, 2, 1), conv(1, 5, 6, 6, 7, 1, 1, 0, 1), conv(2, 3, 10, 11, 2, 3, 3, 2, 1),
  conv(0, 3, 5, 5, 4, 3, 1, 1, 1), conv(2, 4, 7, 7, 6, 3, 1, 1, 2), conv(3, 6, 8, 8, 6, 3, 1, 1, 6),
  conv(2, 4, 9, 7, 8, 3, 2, 1, 4), conv(2, 8, 5, 5, 8, 5, 1, 2, 8), conv(1, 16, 14, 14, 32, 3, 1, 1, 1),
  conv(4, 17, 12, 12, 33, 3, 1, 1, 1), conv(3, 1, 28, 28, 8, 3, 1, 1, 1), conv(2, 32, 7, 7, 32, 3, 1, 1, 32),
  conv(2, 3, 4, 4, 2, 4, 1, 0, 1),
  // the wasm builds' column blocks (C/groups·k·k × pixels ≤ 2^18 floats): images large enough for
  // 2 blocks that start mid-row (stride 1 and stride 2 with 5×5); 7×7 with a kernel wider than the image
  conv(1, 16, 45, 45, 4, 3, 1, 1, 1), conv(1, 8, 100, 90, 2, 5, 2, 2, 1), conv(2, 3, 9, 9, 4, 7, 1, 3, 1), conv(1, 2, 3, 4, 3, 7, 1, 3, 1),
  // groups of ≥ 8 input channels, stride 1 (the wasm builds' backward data as a forward convolution
  // of dy with the flipped kernel), one with a single output channel per group
  conv(2, 16, 6, 6, 8, 3, 1, 1, 2), conv(1, 16, 5, 5, 2, 3, 1, 1, 2),
];
const pool = (N: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number): PoolParams => ({ N, C, H, W, kh, kw, stride, pad });
/** Conformance poolings: 2×2/2, 3×3/2 with padding, odd sizes (the last row/column dropped), overlapping windows, global. */
const POOL_SHAPES: PoolParams[] = [
  pool(1, 1, 4, 4, 2, 2, 2, 0), pool(2, 3, 7, 7, 2, 2, 2, 0), pool(2, 3, 9, 8, 3, 3, 2, 1), pool(3, 2, 6, 6, 3, 3, 1, 1),
  pool(0, 3, 4, 4, 2, 2, 2, 0), pool(2, 4, 5, 7, 5, 7, 1, 0), pool(2, 16, 28, 28, 2, 2, 2, 0), pool(1, 5, 13, 13, 3, 3, 3, 1),
  // 2×2/2 with 4–7, exactly 8 and 9 outputs per row (the native SSE, AVX2 and overlapping-tail paths).
  pool(2, 3, 12, 13, 2, 2, 2, 0), pool(1, 2, 16, 16, 2, 2, 2, 0), pool(2, 2, 18, 19, 2, 2, 2, 0),
];
/** Conformance batch norms (N, C, HW): empty, one value per channel, BatchNorm1d-like (HW = 1), feature maps. */
const BN_SHAPES: BnShape[] = [[0, 3, 4], [1, 2, 1], [5, 3, 1], [4, 7, 1], [2, 3, 25], [3, 16, 49], [8, 5, 196], [1, 4, 33]];

/** int8 quantization parameters (invScale, zeroPoint): powers of two (exact ties) and not, zero points at both ends. */
const QUANT_PARAMS: [number, number][] = [[1, 0], [0.5, 128], [37.3, 3], [42.5, 255]];
/** Dequantization shapes (N, C, HW) and zero points. */
const DEQUANT_SHAPES: [number, number, number, number][] = [[0, 3, 4, 7], [1, 1, 1, 0], [5, 10, 1, 128], [128, 10, 1, 255], [3, 16, 49, 3], [2, 33, 7, 200]];

// Workload C (bench): the CNN KD step's convolutions at batch N (student conv2 16→32 and teacher conv2 32→64, 14×14, 3×3 pad 1).
const C_CONVS: [string, ConvParams][] = [['student conv2 16→32 14×14', conv(0, 16, 14, 14, 32, 3, 1, 1, 1)], ['teacher conv2 32→64 14×14', conv(0, 32, 14, 14, 64, 3, 1, 1, 1)]];
const convFlops = (p: ConvParams) => { const [OH, OW] = convOut(p); return 2 * p.N * p.OC * OH * OW * (p.C / p.groups) * p.k * p.k; };

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
  conv2d: {
    conformance: () => CONV_SHAPES.map((p, i) => conv2dCase(p, 100 + 10 * i)),
    bench: (N) => C_CONVS.map(([label, c]) => { const p = { ...c, N }; return { ...conv2dCase(p, 7), op: 'conv2d', shape: convWhat(p), case: label, batch: N, flops: convFlops(p) }; }),
  },
  conv2d_backward_data: {
    conformance: () => CONV_SHAPES.map((p, i) => conv2dBackwardDataCase(p, 300 + 10 * i)),
    bench: (N) => C_CONVS.slice(0, 1).map(([label, c]) => { const p = { ...c, N }; return { ...conv2dBackwardDataCase(p, 8), op: 'conv2d_backward_data', shape: convWhat(p), case: label, batch: N, flops: convFlops(p) }; }),
  },
  conv2d_backward_weight: {
    conformance: () => CONV_SHAPES.flatMap((p, i) => BOOLS.map((acc) => conv2dBackwardWeightCase(p, acc, 500 + 10 * i))),
    bench: (N) => C_CONVS.slice(0, 1).map(([label, c]) => { const p = { ...c, N }; return { ...conv2dBackwardWeightCase(p, false, 9), op: 'conv2d_backward_weight', shape: convWhat(p), case: label, batch: N, flops: convFlops(p) }; }),
  },
  maxpool2d: {
    conformance: () => POOL_SHAPES.flatMap((p, i) => [maxpoolCase(p, 700 + i), maxpoolCase(p, 720 + i, true)]),
    bench: (N) => { const p = pool(N, 32, 28, 28, 2, 2, 2, 0); return [{ ...maxpoolCase(p, 10), op: 'maxpool2d', shape: poolWhat(p), case: 'student pool1', batch: N, bytes: 4 * N * 32 * (28 * 28 + 2 * 14 * 14) }]; },
  },
  maxpool2d_backward: {
    conformance: () => POOL_SHAPES.map((p, i) => maxpoolBackwardCase(p, 740 + i)),
    bench: () => [],
  },
  avgpool2d: {
    conformance: () => POOL_SHAPES.map((p, i) => avgpoolCase(p, 760 + i)),
    bench: () => [],
  },
  avgpool2d_backward: {
    conformance: () => POOL_SHAPES.map((p, i) => avgpoolBackwardCase(p, 780 + i)),
    bench: () => [],
  },
  batchnorm_stats: {
    conformance: () => BN_SHAPES.map((s, i) => bnStatsCase(s, 800 + 10 * i)),
    bench: () => [],
  },
  batchnorm: {
    conformance: () => BN_SHAPES.flatMap((s, i) => BOOLS.map((inPlace) => bnCase(s, inPlace, 900 + 10 * i))),
    bench: () => [],
  },
  batchnorm_backward_reduce: {
    conformance: () => BN_SHAPES.map((s, i) => bnBackwardReduceCase(s, 1000 + 10 * i)),
    bench: () => [],
  },
  batchnorm_backward: {
    conformance: () => BN_SHAPES.flatMap((s, i) => BOOLS.map((inPlace) => bnBackwardCase(s, inPlace, 1100 + 10 * i))),
    bench: () => [],
  },
  quantize_int8: {
    conformance: () => SIZES.flatMap((n) => QUANT_PARAMS.map(([inv, zp], i) => quantizeCase(n, inv, zp, 1200 + 10 * i + n))),
    bench: (N) => {
      const n = N * INPUTS;
      return [{ ...quantizeCase(n, 40, 128, 17), op: 'quantize_int8', shape: `n=${n} (${N}x${INPUTS})`, case: 'layer-1 input to uint8', batch: N, bytes: 5 * n }];
    },
  },
  matmul_int8: {
    conformance: () => [
      ...MATMUL_SHAPES.map(([M, N, K], i) => matmulInt8Case(M, N, K, randU8(M * K, 1300 + i), randI8(N * K, 1320 + i))),
      // the extremes: every pair 255·(−128) or 255·127 (int16 pair sums would saturate), and the longest K
      matmulInt8Case(4, 3, 1000, randU8(4000, 0, 255), randI8(3000, 0, -128), 'M=4 N=3 K=1000 all 255 × −128'),
      matmulInt8Case(3, 17, 515, randU8(3 * 515, 0, 255), randI8(17 * 515, 0, 127), 'M=3 N=17 K=515 all 255 × 127'),
      matmulInt8Case(20, 35, 1001, randU8(20 * 1001, 0, 255), randI8(35 * 1001, 0, -128), 'M=20 N=35 K=1001 all 255 × −128 (native: the packed broadcast form)'),
      matmulInt8Case(2, 5, 32768, randU8(2 * 32768, 1350, 255), randI8(5 * 32768, 1351, -128), 'M=2 N=5 K=32768 (the limit) all 255 × −128'),
    ],
    bench: (N) => [{ ...matmulInt8Case(N, HIDDEN, INPUTS, randU8(N * INPUTS, 1), randI8(HIDDEN * INPUTS, 2)), op: 'matmul_int8', shape: `${N}x${HIDDEN}x${INPUTS}`, case: "W's Dense 1 in int8", batch: N, flops: 2 * N * HIDDEN * INPUTS }],
  },
  conv2d_int8: {
    conformance: () => [
      ...CONV_SHAPES.map((p, i) => { const z = convSizes(p); return conv2dInt8Case(p, [0, 37, 255][i % 3], randU8(z.x, 1400 + 10 * i), randI8(z.w, 1401 + 10 * i)); }),
      ((p) => { const z = convSizes(p); return conv2dInt8Case(p, 255, randU8(z.x, 0, 255), randI8(z.w, 0, -128), `${convWhat(p)} all 255 × −128, padding 255`); })(conv(2, 16, 6, 6, 8, 3, 1, 1, 1)),
    ],
    bench: (N) => C_CONVS.slice(0, 1).map(([label, c]) => { const p = { ...c, N }, z = convSizes(p); return { ...conv2dInt8Case(p, 128, randU8(z.x, 3), randI8(z.w, 4)), op: 'conv2d_int8', shape: convWhat(p), case: label, batch: N, flops: convFlops(p) }; }),
  },
  dequantize_int32: {
    conformance: () => DEQUANT_SHAPES.map(([N, C, HW, zero], i) => dequantizeCase(N, C, HW, zero, 1500 + 10 * i)),
    bench: () => [],
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
