// Layers: Dense, ReLU, GELU, Dropout, Flatten, and the image layers Conv2D, MaxPool2D,
// AvgPool2D, GlobalAvgPool and BatchNorm (NCHW, per-sample shapes). Each layer's backward sits
// beside its forward; forward caches what backward needs; backward ADDS parameter gradients into
// the store's grads (the caller zeroes them) and returns the input gradient when asked for it.

import type { Backend } from '../backends/backend.js';
import { convOut, poolOut, type ConvParams, type F32, type I32, type PoolParams } from '../kernels/signatures.js';
import type { BufferSpec, BufferStore, ParamSpec, ParamStore } from './params.js';
import type { ParsedLayer } from './spec.js';
import type { Rng } from './rng.js';

/** A reusable activation buffer that grows with the batch and frees what it replaces. */
export class Scratch {
  private buf: F32 | null = null;
  constructor(private readonly backend: Backend) {}
  get(n: number): F32 {
    if (!this.buf || this.buf.length < n) {
      if (this.buf) this.backend.free(this.buf);
      this.buf = this.backend.alloc(Math.max(n, 4));
    }
    return this.buf.subarray(0, n);
  }
  release(): void {
    if (this.buf) this.backend.free(this.buf);
    this.buf = null;
  }
}

export interface Layer {
  readonly kind: string;
  /** Values per sample in and out (the products of inShape and outShape when the layer has them). */
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Per-sample shapes, e.g. [C,H,W] → [OC,OH,OW]; layers that only see features leave them out. */
  readonly inShape?: readonly number[];
  readonly outShape?: readonly number[];
  /** x is (N,inFeatures); returns (N,outFeatures), valid until the next forward. */
  forward(x: F32, N: number, training: boolean): F32;
  /** dy is (N,outFeatures); adds parameter grads; returns dx (N,inFeatures) when needInputGrad. */
  /** Adds into the parameter gradients, or overwrites them when `accumulate` is false. */
  backward(dy: F32, N: number, needInputGrad: boolean, accumulate?: boolean): F32 | null;
  release(): void;
}

/**
 * Quantization-aware training's view of one Dense or Conv2D layer (set by src/compress/qat.ts;
 * nn only defines the shape of it). With a hook, forward and backward use `weights(w)` (the
 * fake-quantized copy of the float weights; their gradient goes to the float weights unchanged:
 * the straight-through estimator) and `input(x)` (the fake-quantized input); the input gradient
 * then passes through `inputGrad`, which zeroes it where the input was clamped.
 */
export interface QuantHook {
  /** The weights (OC rows of fan values) that forward and backward use this step. */
  weights(w: F32): F32;
  /** The input (n values) that forward uses; `training`: the forward of a training step. */
  input(x: F32, n: number, training: boolean): F32;
  /** dx (n values) of the last forward's input, masked in place by the straight-through estimator. */
  inputGrad(dx: F32, n: number): void;
}

/** y = x·Wᵀ + b. W is (OC,C) as in PyTorch, b is (OC). */
export class Dense implements Layer {
  readonly kind = 'dense';
  readonly weight: ParamSpec;
  readonly bias: ParamSpec;
  private x: F32 | null = null;
  private readonly out: Scratch;
  private readonly dx: Scratch;
  /** Quantization-aware training (fake-quant with the straight-through estimator), when set. */
  quant?: QuantHook;
  /** The weights the last forward used (the float ones, or the hook's fake-quantized copy). */
  private w: F32 | null = null;

  constructor(private readonly backend: Backend, private readonly store: ParamStore, readonly inFeatures: number, readonly outFeatures: number, name: string) {
    this.weight = store.add(`${name}.weight`, [outFeatures, inFeatures]);
    this.bias = store.add(`${name}.bias`, [outFeatures]);
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
  }

  forward(x: F32, N: number, training = false): F32 {
    const { inFeatures: C, outFeatures: OC, backend: be } = this;
    const w = this.store.view(this.weight);
    this.w = this.quant ? this.quant.weights(w) : w;
    if (this.quant) x = this.quant.input(x, N * C, training);
    this.x = x;
    const y = this.out.get(N * OC);
    be.matmul(y, x, this.w, N, OC, C, false, true, false);
    be.bias_add(y, this.store.view(this.bias), N, OC);
    return y;
  }

  backward(dy: F32, N: number, needInputGrad: boolean, accumulate = true): F32 | null {
    const { inFeatures: C, outFeatures: OC, backend: be } = this;
    if (!this.x) throw new Error('Dense.backward called before forward');
    // dW (OC,C) += dyᵀ (OC,N) · x (N,C)   (= when not accumulating)
    be.matmul(this.store.gradView(this.weight), dy, this.x, OC, C, N, true, false, accumulate);
    be.bias_grad(this.store.gradView(this.bias), dy, N, OC, accumulate);
    if (!needInputGrad) return null;
    // dx (N,C) = dy (N,OC) · W (OC,C)
    const dx = this.dx.get(N * C);
    be.matmul(dx, dy, this.w ?? this.store.view(this.weight), N, C, OC, false, false, false);
    this.quant?.inputGrad(dx, N * C);
    return dx;
  }

  release(): void {
    this.out.release();
    this.dx.release();
  }
}

abstract class Activation implements Layer {
  abstract readonly kind: string;
  protected x: F32 | null = null;
  protected readonly out: Scratch;
  protected readonly dx: Scratch;
  constructor(protected readonly backend: Backend, readonly inFeatures: number) {
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
  }
  get outFeatures(): number {
    return this.inFeatures;
  }
  protected abstract fwd(out: F32, x: F32, n: number): void;
  protected abstract bwd(dx: F32, dy: F32, x: F32, n: number): void;
  forward(x: F32, N: number): F32 {
    this.x = x;
    const y = this.out.get(N * this.inFeatures);
    this.fwd(y, x, N * this.inFeatures);
    return y;
  }
  backward(dy: F32, N: number, needInputGrad: boolean): F32 | null {
    if (!needInputGrad) return null;
    if (!this.x) throw new Error(`${this.kind}.backward called before forward`);
    const dx = this.dx.get(N * this.inFeatures);
    this.bwd(dx, dy, this.x, N * this.inFeatures);
    return dx;
  }
  release(): void {
    this.out.release();
    this.dx.release();
  }
}

/** An integer scratch buffer (max-pool indices), like Scratch. */
class ScratchI32 {
  private buf: I32 | null = null;
  constructor(private readonly backend: Backend) {}
  get(n: number): I32 {
    if (!this.buf || this.buf.length < n) {
      if (this.buf) this.backend.free(this.buf);
      this.buf = this.backend.allocInt32(Math.max(n, 4));
    }
    return this.buf.subarray(0, n);
  }
  release(): void {
    if (this.buf) this.backend.free(this.buf);
    this.buf = null;
  }
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Conv2D hyper-parameters: OC output channels, a k×k kernel, stride, zero padding, groups. */
export interface ConvOptions {
  outChannels: number;
  k: number;
  stride: number;
  pad: number;
  groups: number;
}

/**
 * 2-D convolution, NCHW: x (N,C,H,W) → y (N,OC,OH,OW). weight is (OC, C/groups, k, k) and bias
 * (OC), as in PyTorch's Conv2d (groups = C is depthwise).
 */
export class Conv2D implements Layer {
  readonly kind = 'conv';
  readonly weight: ParamSpec;
  readonly bias: ParamSpec;
  readonly inShape: readonly number[];
  readonly outShape: readonly number[];
  readonly inFeatures: number;
  readonly outFeatures: number;
  private x: F32 | null = null;
  private readonly out: Scratch;
  private readonly dx: Scratch;
  /** Quantization-aware training (fake-quant with the straight-through estimator), when set. */
  quant?: QuantHook;
  /** The weights the last forward used (the float ones, or the hook's fake-quantized copy). */
  private w: F32 | null = null;

  constructor(private readonly backend: Backend, private readonly store: ParamStore, inShape: readonly number[], readonly opts: ConvOptions, name: string) {
    const [C, H, W] = inShape;
    const { outChannels: OC, k, groups } = opts;
    if (inShape.length !== 3) throw new RangeError(`Conv2D needs a (C,H,W) input, got [${inShape}]`);
    if (C % groups !== 0 || OC % groups !== 0) throw new RangeError(`Conv2D: groups ${groups} must divide the input channels ${C} and the output channels ${OC}`);
    const [OH, OW] = convOut(this.params(1, C, H, W));
    if (!(OH >= 1 && OW >= 1)) throw new RangeError(`Conv2D: input [${inShape}] is too small for a ${k}x${k} kernel (stride ${opts.stride}, pad ${opts.pad})`);
    this.inShape = [C, H, W];
    this.outShape = [OC, OH, OW];
    this.inFeatures = C * H * W;
    this.outFeatures = OC * OH * OW;
    this.weight = store.add(`${name}.weight`, [OC, C / groups, k, k]);
    this.bias = store.add(`${name}.bias`, [OC]);
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
  }

  private params(N: number, C = this.inShape[0], H = this.inShape[1], W = this.inShape[2]): ConvParams {
    const { outChannels: OC, k, stride, pad, groups } = this.opts;
    return { N, C, H, W, OC, k, stride, pad, groups };
  }

  /** Fan-in and fan-out of one output / input unit (for init): C/groups·k² and OC·k² (PyTorch's). */
  get fans(): [number, number] {
    const { k, groups, outChannels } = this.opts;
    return [(this.inShape[0] / groups) * k * k, outChannels * k * k];
  }

  forward(x: F32, N: number, training = false): F32 {
    const w = this.store.view(this.weight);
    this.w = this.quant ? this.quant.weights(w) : w;
    if (this.quant) x = this.quant.input(x, N * this.inFeatures, training);
    this.x = x;
    const y = this.out.get(N * this.outFeatures);
    this.backend.conv2d(y, x, this.w, this.store.view(this.bias), this.params(N));
    return y;
  }

  backward(dy: F32, N: number, needInputGrad: boolean, accumulate = true): F32 | null {
    if (!this.x) throw new Error('Conv2D.backward called before forward');
    const p = this.params(N);
    this.backend.conv2d_backward_weight(this.store.gradView(this.weight), this.store.gradView(this.bias), dy, this.x, p, accumulate);
    if (!needInputGrad) return null;
    const dx = this.dx.get(N * this.inFeatures);
    this.backend.conv2d_backward_data(dx, dy, this.w ?? this.store.view(this.weight), p);
    this.quant?.inputGrad(dx, N * this.inFeatures);
    return dx;
  }

  release(): void {
    this.out.release();
    this.dx.release();
  }
}

/** Pooling hyper-parameters: a k×k window, stride, padding (max: −∞; avg: zeros that count). */
export interface PoolOptions {
  k: number;
  stride: number;
  pad: number;
}

abstract class Pool2D implements Layer {
  abstract readonly kind: string;
  readonly inShape: readonly number[];
  readonly outShape: readonly number[];
  readonly inFeatures: number;
  readonly outFeatures: number;
  protected readonly out: Scratch;
  protected readonly dx: Scratch;
  protected readonly kh: number;
  protected readonly kw: number;

  /** opts null: global pooling (the whole H×W plane; the output is (C), flat). */
  constructor(protected readonly backend: Backend, inShape: readonly number[], readonly opts: PoolOptions | null) {
    if (inShape.length !== 3) throw new RangeError(`pooling needs a (C,H,W) input, got [${inShape}]`);
    const [C, H, W] = inShape;
    this.kh = opts ? opts.k : H;
    this.kw = opts ? opts.k : W;
    const [OH, OW] = poolOut(this.params(1, [C, H, W]));
    if (!(OH >= 1 && OW >= 1)) throw new RangeError(`pooling: input [${inShape}] is too small for a ${this.kh}x${this.kw} window`);
    this.inShape = [C, H, W];
    this.outShape = opts ? [C, OH, OW] : [C];
    this.inFeatures = C * H * W;
    this.outFeatures = prod(this.outShape);
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
  }

  protected params(N: number, s: readonly number[] = this.inShape): PoolParams {
    const [C, H, W] = s;
    return { N, C, H, W, kh: this.kh, kw: this.kw, stride: this.opts?.stride ?? 1, pad: this.opts?.pad ?? 0 };
  }

  abstract forward(x: F32, N: number): F32;
  abstract backward(dy: F32, N: number, needInputGrad: boolean): F32 | null;
  release(): void {
    this.out.release();
    this.dx.release();
  }
}

/** Max pooling (PyTorch's MaxPool2d, dilation 1, floor mode). */
export class MaxPool2D extends Pool2D {
  readonly kind = 'maxpool';
  private readonly idx: ScratchI32;
  private n = 0;
  constructor(backend: Backend, inShape: readonly number[], opts: PoolOptions) {
    super(backend, inShape, opts);
    this.idx = new ScratchI32(backend);
  }
  forward(x: F32, N: number): F32 {
    const y = this.out.get(N * this.outFeatures);
    this.backend.maxpool2d(y, this.idx.get(N * this.outFeatures), x, this.params(N));
    this.n = N;
    return y;
  }
  backward(dy: F32, N: number, needInputGrad: boolean): F32 | null {
    if (!needInputGrad) return null;
    if (this.n !== N) throw new Error('MaxPool2D.backward called before forward');
    const dx = this.dx.get(N * this.inFeatures);
    this.backend.maxpool2d_backward(dx, dy, this.idx.get(N * this.outFeatures), this.params(N));
    return dx;
  }
  override release(): void {
    super.release();
    this.idx.release();
  }
}

/** Average pooling (PyTorch's AvgPool2d, count_include_pad); opts null is global average pooling. */
export class AvgPool2D extends Pool2D {
  readonly kind: string;
  constructor(backend: Backend, inShape: readonly number[], opts: PoolOptions | null) {
    super(backend, inShape, opts);
    this.kind = opts ? 'avgpool' : 'gap';
  }
  forward(x: F32, N: number): F32 {
    const y = this.out.get(N * this.outFeatures);
    this.backend.avgpool2d(y, x, this.params(N));
    return y;
  }
  backward(dy: F32, N: number, needInputGrad: boolean): F32 | null {
    if (!needInputGrad) return null;
    const dx = this.dx.get(N * this.inFeatures);
    this.backend.avgpool2d_backward(dx, dy, this.params(N));
    return dx;
  }
}

/** Global average pooling: (C,H,W) → (C), the mean of each channel's plane. */
export class GlobalAvgPool extends AvgPool2D {
  constructor(backend: Backend, inShape: readonly number[]) {
    super(backend, inShape, null);
  }
}

/**
 * How a batch-norm layer combines its statistics with other shards of the same batch (data-parallel
 * workers). Both calls are collective: every shard makes them in the same order, and they return
 * when the whole batch's values are known. Without a sync the shard is the whole batch.
 */
export interface BatchNormSync {
  /**
   * Per channel, this shard's `count` (rows·HW, the same for every channel), `mean` and
   * `m2` = Σ (x − mean)². Overwrites mean and m2 with the whole batch's (Chan's combination)
   * and returns the whole batch's count.
   */
  stats(count: number, mean: F32, m2: F32): number;
  /** Per channel Σ dy and Σ dy·xhat of this shard; overwrites both with the sums over all shards. */
  grads(sumDy: F32, sumDyXhat: F32): void;
}

/** Batch norm, PyTorch defaults. */
export const BN_MOMENTUM = 0.1;
export const BN_EPS = 1e-5;

/**
 * Batch normalization over (N, C, HW): BatchNorm2d for a (C,H,W) input, BatchNorm1d for (C) or
 * (C,L). weight (gamma) and bias (beta) are trained; running_mean and running_var are buffers
 * (saved, not trained), updated in training with momentum 0.1 (running_var with the unbiased
 * batch variance). Training uses the batch's statistics, eval the running ones.
 */
export class BatchNorm implements Layer {
  readonly kind = 'bn';
  readonly weight: ParamSpec;
  readonly bias: ParamSpec;
  readonly runningMean: BufferSpec;
  readonly runningVar: BufferSpec;
  readonly inShape: readonly number[];
  readonly outShape: readonly number[];
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly C: number;
  readonly HW: number;
  /** Combines statistics and gradient sums across data-parallel shards; none: this shard is the batch. */
  sync?: BatchNormSync;
  private x: F32 | null = null;
  private readonly out: Scratch;
  private readonly dx: Scratch;
  /** (C) each: the mean and invstd the last forward used, m2, and the backward's sums. */
  private readonly mean: F32;
  private readonly m2: F32;
  private readonly invstd: F32;
  private readonly sumDy: F32;
  private readonly sumDyXhat: F32;
  private readonly zeros: F32;
  /** The last forward's mode and whole-batch count (rows·HW over all shards). */
  private trained = false;
  private count = 0;

  constructor(private readonly backend: Backend, private readonly store: ParamStore, private readonly buffers: BufferStore, inShape: readonly number[], name: string, readonly momentum = BN_MOMENTUM, readonly eps = BN_EPS) {
    this.inShape = [...inShape];
    this.outShape = [...inShape];
    this.C = inShape[0];
    this.HW = prod(inShape.slice(1));
    this.inFeatures = this.outFeatures = prod(inShape);
    this.weight = store.add(`${name}.weight`, [this.C]);
    this.bias = store.add(`${name}.bias`, [this.C]);
    this.runningMean = buffers.add(`${name}.running_mean`, [this.C], 0);
    this.runningVar = buffers.add(`${name}.running_var`, [this.C], 1);
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
    const C = this.C;
    [this.mean, this.m2, this.invstd, this.sumDy, this.sumDyXhat, this.zeros] = Array.from({ length: 6 }, () => backend.alloc(C).fill(0));
  }

  forward(x: F32, N: number, training: boolean): F32 {
    const { C, HW, backend: be } = this;
    this.x = x;
    this.trained = training;
    const y = this.out.get(N * this.inFeatures);
    if (training) {
      be.batchnorm_stats(this.mean, this.m2, x, N, C, HW);
      const count = this.sync ? this.sync.stats(N * HW, this.mean, this.m2) : N * HW;
      this.count = count;
      const rm = this.buffers.view(this.runningMean), rv = this.buffers.view(this.runningVar), m = this.momentum;
      for (let c = 0; c < C; c++) {
        const v = count > 0 ? this.m2[c] / count : 0;
        this.invstd[c] = 1 / Math.sqrt(v + this.eps);
        rm[c] = (1 - m) * rm[c] + m * this.mean[c];
        rv[c] = (1 - m) * rv[c] + m * (count > 1 ? this.m2[c] / (count - 1) : v);
      }
    } else {
      const rm = this.buffers.view(this.runningMean), rv = this.buffers.view(this.runningVar);
      for (let c = 0; c < C; c++) {
        this.mean[c] = rm[c];
        this.invstd[c] = 1 / Math.sqrt(rv[c] + this.eps);
      }
    }
    be.batchnorm(y, x, this.mean, this.invstd, this.store.view(this.weight), this.store.view(this.bias), N, C, HW);
    return y;
  }

  backward(dy: F32, N: number, needInputGrad: boolean, accumulate = true): F32 | null {
    const { C, HW, backend: be } = this;
    if (!this.x) throw new Error('BatchNorm.backward called before forward');
    be.batchnorm_backward_reduce(this.sumDy, this.sumDyXhat, dy, this.x, this.mean, this.invstd, N, C, HW);
    // dgamma, dbeta: this shard's sums (the trainer adds the shards' gradient slots).
    const dg = this.store.gradView(this.weight), db = this.store.gradView(this.bias);
    for (let c = 0; c < C; c++) {
      dg[c] = accumulate ? dg[c] + this.sumDyXhat[c] : this.sumDyXhat[c];
      db[c] = accumulate ? db[c] + this.sumDy[c] : this.sumDy[c];
    }
    if (!needInputGrad) return null;
    const dx = this.dx.get(N * this.inFeatures);
    if (this.trained) {
      this.sync?.grads(this.sumDy, this.sumDyXhat);
      be.batchnorm_backward(dx, dy, this.x, this.mean, this.invstd, this.store.view(this.weight), this.sumDy, this.sumDyXhat, this.count, N, C, HW);
    } else {
      // Eval mode: the statistics are constants, dx = dy·invstd·gamma.
      be.batchnorm(dx, dy, this.zeros, this.invstd, this.store.view(this.weight), this.zeros, N, C, HW);
    }
    return dx;
  }

  release(): void {
    this.out.release();
    this.dx.release();
    for (const b of [this.mean, this.m2, this.invstd, this.sumDy, this.sumDyXhat, this.zeros]) this.backend.free(b);
  }
}

export class ReLU extends Activation {
  readonly kind = 'relu';
  protected fwd(out: F32, x: F32, n: number): void {
    this.backend.relu(out, x, n);
  }
  protected bwd(dx: F32, dy: F32, x: F32, n: number): void {
    this.backend.relu_backward(dx, dy, x, n);
  }
}

export class GELU extends Activation {
  readonly kind = 'gelu';
  protected fwd(out: F32, x: F32, n: number): void {
    this.backend.gelu(out, x, n);
  }
  protected bwd(dx: F32, dy: F32, x: F32, n: number): void {
    this.backend.gelu_backward(dx, dy, x, n);
  }
}

/** Inverted dropout: in training, zeroes each unit with probability p and scales the rest by 1/(1−p). */
export class Dropout implements Layer {
  readonly kind = 'dropout';
  private mask: Float32Array = new Float32Array(0);
  private readonly out: Scratch;
  private readonly dx: Scratch;
  private active = false;

  constructor(backend: Backend, readonly inFeatures: number, readonly p: number, private readonly rng: Rng) {
    if (!(p >= 0 && p < 1)) throw new RangeError(`dropout must be in [0,1), got ${p}`);
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
  }
  get outFeatures(): number {
    return this.inFeatures;
  }
  forward(x: F32, N: number, training: boolean): F32 {
    this.active = training && this.p > 0;
    if (!this.active) return x;
    const n = N * this.inFeatures;
    if (this.mask.length < n) this.mask = new Float32Array(n);
    const keep = 1 / (1 - this.p);
    const y = this.out.get(n);
    for (let i = 0; i < n; i++) {
      const m = this.rng.next() >= this.p ? keep : 0;
      this.mask[i] = m;
      y[i] = x[i] * m;
    }
    return y;
  }
  backward(dy: F32, N: number, needInputGrad: boolean): F32 | null {
    if (!needInputGrad) return null;
    if (!this.active) return dy;
    const n = N * this.inFeatures;
    const dx = this.dx.get(n);
    for (let i = 0; i < n; i++) dx[i] = dy[i] * this.mask[i];
    return dx;
  }
  release(): void {
    this.out.release();
    this.dx.release();
  }
}

/** Flatten: (N, C, H, W) → (N, C·H·W). The storage is already row-major per sample, so a no-op. */
export class Flatten implements Layer {
  readonly kind = 'flatten';
  constructor(readonly inFeatures: number) {}
  get outFeatures(): number {
    return this.inFeatures;
  }
  forward(x: F32): F32 {
    return x;
  }
  backward(dy: F32, _N: number, needInputGrad: boolean): F32 | null {
    return needInputGrad ? dy : null;
  }
  release(): void {}
}

/**
 * The layer of a spec that holds no parameters and behaves the same in every model (max/avg/global
 * pooling, ReLU, GELU, flatten), for input `shape` (inF values per sample); null for the others
 * (dense, conv, bn, dropout), which each model builds its own way.
 */
export function statelessLayer(backend: Backend, l: ParsedLayer, shape: number[], inF: number): Layer | null {
  switch (l.kind) {
    case 'maxpool':
      return new MaxPool2D(backend, shape, l);
    case 'avgpool':
      return new AvgPool2D(backend, shape, l);
    case 'gap':
      return new GlobalAvgPool(backend, shape);
    case 'relu':
      return new ReLU(backend, inF);
    case 'gelu':
      return new GELU(backend, inF);
    case 'flatten':
      return new Flatten(inF);
    default:
      return null;
  }
}
