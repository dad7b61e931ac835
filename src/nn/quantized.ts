// The int8 runtime model (inference only): a Sequential's layer stack where every dense and conv
// layer runs as int8 — quantize_int8 its float input (uint8, per tensor), matmul_int8 /
// conv2d_int8 with per-output-channel symmetric int8 weights (exact int32), dequantize_int32 with
// the weight sums (zero-point correction), scale = input scale · weight scale[c] and the float
// bias — while ReLU/GELU, pools, flatten and any batch norm that could not be folded run in
// float32 on the backend's float kernels. Dropout is the identity (eval). Built by
// src/compress/quantize.ts (PTQ, and QAT's conversion) or read from an int8 model file (src/io).

import type { Backend } from '../backends/backend.js';
import { NumericalError, ShapeError } from '../errors.js';
import type { F32, I32, I8, U8 } from '../kernels/signatures.js';
import { BN_EPS, Flatten, MaxPool2D, ReLU, Scratch, statelessLayer, type Layer } from './layers.js';
import type { ActQParams } from './qparams.js';
import { layerShapes, validateModelConfig, type ModelConfig } from './spec.js';

/** A quantized dense or conv layer's state: the weight in its float shape (OC, ...), int8. */
export interface QLayerState {
  kind: 'q';
  /** int8 weights, (OC, C) for dense or (OC, C/groups, k, k) for conv, in [−127, 127]. */
  weight: Int8Array;
  /** Per output channel: the float a weight step stands for (float weight ≈ q·weightScale[c]). */
  weightScale: Float32Array;
  /** Float bias (OC), added after dequantization (batch norm folded in where there was one). */
  bias: Float32Array;
  /** The uint8 quantization of this layer's float input (per tensor). */
  input: ActQParams;
}

/** A batch norm that was not folded (not directly after a dense or conv layer): eval-mode affine, float32. */
export interface BnState {
  kind: 'bn';
  weight: Float32Array;
  bias: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
}

/** Everything an int8 model is: its inference config (folded batch norms removed) and, per layer with state (layers.k), its state. */
export interface QuantizedState {
  config: ModelConfig;
  layers: (QLayerState | BnState)[];
}

/** What eval, predict and the logits cache need of a model, float32 or int8. */
export interface InferenceModel {
  readonly backend: Backend;
  readonly config: ModelConfig;
  readonly inputs: number;
  readonly classes: number;
  readonly inputShape: number[];
  training: boolean;
  eval(): this;
  forward(x: F32, N: number): F32;
  release(): void;
}

/** A growing backend buffer of uint8 / int32 values (the int8 layers' scratch). */
class TypedScratch<T extends U8 | I32> {
  private buf: T | null = null;
  constructor(private readonly backend: Backend, private readonly make: (n: number) => T) {}
  get(n: number): T {
    if (!this.buf || this.buf.length < n) {
      if (this.buf) this.backend.free(this.buf);
      this.buf = this.make(Math.max(n, 16));
    }
    return this.buf.subarray(0, n) as T;
  }
  release(): void {
    if (this.buf) this.backend.free(this.buf);
    this.buf = null;
  }
}

/** An int8 dense or conv layer (conv: `conv` set, NCHW, any stride/padding/groups). */
export class QuantizedLayer implements Layer {
  readonly kind: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The weights in backend storage, their per-channel sums and scale = input scale · weight scale[c]. */
  readonly weight: I8;
  readonly wsum: I32;
  readonly scale: F32;
  readonly bias: F32;
  private readonly xq: TypedScratch<U8>;
  private readonly acc: TypedScratch<I32>;
  private readonly out: Scratch;

  constructor(private readonly backend: Backend, readonly state: QLayerState, readonly OC: number, readonly fan: number, readonly conv: null | { C: number; H: number; W: number; k: number; stride: number; pad: number; groups: number; OH: number; OW: number }) {
    this.kind = conv ? 'qconv' : 'qdense';
    this.inFeatures = conv ? conv.C * conv.H * conv.W : fan;
    this.outFeatures = conv ? OC * conv.OH * conv.OW : OC;
    this.weight = backend.allocInt8(OC * fan);
    this.weight.set(state.weight);
    this.wsum = backend.allocInt32(OC);
    this.scale = backend.alloc(OC);
    this.bias = backend.alloc(OC);
    this.bias.set(state.bias);
    for (let c = 0; c < OC; c++) {
      let s = 0;
      for (let i = 0; i < fan; i++) s += state.weight[c * fan + i];
      this.wsum[c] = s;
      this.scale[c] = Math.fround(state.input.scale * state.weightScale[c]);
    }
    this.xq = new TypedScratch<U8>(backend, (n) => backend.allocUint8(n));
    this.acc = new TypedScratch<I32>(backend, (n) => backend.allocInt32(n));
    this.out = new Scratch(backend);
  }

  forward(x: F32, N: number): F32 {
    const be = this.backend, { OC, fan, conv } = this, { invScale, zeroPoint } = this.state.input;
    const xq = this.xq.get(N * this.inFeatures), acc = this.acc.get(N * this.outFeatures), y = this.out.get(N * this.outFeatures);
    be.quantize_int8(xq, x, N * this.inFeatures, invScale, zeroPoint);
    if (conv) {
      const { C, H, W, k, stride, pad, groups, OH, OW } = conv;
      be.conv2d_int8(acc, xq, this.weight, { N, C, H, W, OC, k, stride, pad, groups }, zeroPoint);
      be.dequantize_int32(y, acc, this.wsum, this.scale, this.bias, zeroPoint, N, OC, OH * OW);
    } else {
      be.matmul_int8(acc, xq, this.weight, N, OC, fan);
      be.dequantize_int32(y, acc, this.wsum, this.scale, this.bias, zeroPoint, N, OC, 1);
    }
    return y;
  }

  backward(): F32 | null {
    throw new Error('an int8 layer is inference only (train the float model, or use QAT, then quantize)');
  }

  release(): void {
    this.xq.release();
    this.acc.release();
    this.out.release();
    for (const b of [this.weight, this.wsum, this.scale, this.bias]) this.backend.free(b);
  }
}

/** A batch norm left in float32 (eval mode: running statistics). */
class FloatBatchNorm implements Layer {
  readonly kind = 'bn';
  readonly outFeatures: number;
  private readonly bufs: F32[];
  private readonly out: Scratch;
  constructor(private readonly backend: Backend, readonly state: BnState, readonly C: number, readonly HW: number) {
    this.outFeatures = C * HW;
    const mean = backend.alloc(C), invstd = backend.alloc(C), g = backend.alloc(C), b = backend.alloc(C);
    mean.set(state.runningMean);
    for (let c = 0; c < C; c++) invstd[c] = 1 / Math.sqrt(state.runningVar[c] + BN_EPS);
    g.set(state.weight);
    b.set(state.bias);
    this.bufs = [mean, invstd, g, b];
    this.out = new Scratch(backend);
  }
  get inFeatures(): number {
    return this.outFeatures;
  }
  forward(x: F32, N: number): F32 {
    const y = this.out.get(N * this.outFeatures), [mean, invstd, g, b] = this.bufs;
    this.backend.batchnorm(y, x, mean, invstd, g, b, N, this.C, this.HW);
    return y;
  }
  backward(): F32 | null {
    throw new Error('an int8 model is inference only');
  }
  release(): void {
    this.out.release();
    for (const b of this.bufs) this.backend.free(b);
  }
}

/** Dropout at inference: the identity. */
class Identity implements Layer {
  readonly kind = 'dropout';
  constructor(readonly inFeatures: number) {}
  get outFeatures(): number {
    return this.inFeatures;
  }
  forward(x: F32): F32 {
    return x;
  }
  backward(): F32 | null {
    throw new Error('an int8 model is inference only');
  }
  release(): void {}
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The int8 model: forward only, on `backend`'s kernels. */
export class QuantizedSequential implements InferenceModel {
  readonly dtype = 'int8';
  readonly config: ModelConfig;
  readonly layers: Layer[] = [];
  /** The int8 layers, in order (one per dense/conv layer of the config). */
  readonly quantized: QuantizedLayer[] = [];
  readonly outputShape: number[];
  /** Always false: an int8 model only runs in eval mode (kept for the InferenceModel shape). */
  training = false;
  /**
   * The layers forward runs: `layers` less each ReLU whose output reaches an int8 layer with input
   * zero point 0 through max-pools, flatten or dropout only. There quantize_int8's clamp at 0 is
   * that ReLU (x < 0 rounds to a code ≤ 0, clamped to 0 = the code of relu(x) = 0; a max commutes
   * with ReLU), so skipping it gives the same codes bit for bit and saves a pass over the tensor.
   */
  private readonly run: Layer[] = [];

  constructor(readonly backend: Backend, readonly state: QuantizedState) {
    this.config = validateModelConfig(state.config);
    const { parsed, shapes } = layerShapes(this.config);
    let shape = this.config.input, k = 0;
    const take = <K extends 'q' | 'bn'>(kind: K, i: number): Extract<QLayerState | BnState, { kind: K }> => {
      const s = state.layers[k];
      if (!s || s.kind !== kind) throw new ShapeError(`int8 model: layer ${i} (${this.config.layers[i]}) needs ${kind === 'q' ? 'int8 weights' : 'batch-norm state'} as layers.${k}, got ${s ? s.kind : 'nothing'}`);
      k++;
      return s as Extract<QLayerState | BnState, { kind: K }>;
    };
    const need = (name: string, got: number, want: number) => {
      if (got !== want) throw new ShapeError(`int8 model: layers.${k - 1}.${name} has ${got} values, expected ${want}`);
    };
    try {
      parsed.forEach((l, i) => {
        const inF = prod(shape);
        switch (l.kind) {
          case 'dense': {
            const s = take('q', i);
            need('weight', s.weight.length, l.units * inF);
            need('weight_scale', s.weightScale.length, l.units);
            need('bias', s.bias.length, l.units);
            const q = new QuantizedLayer(backend, s, l.units, inF, null);
            this.layers.push(q);
            this.quantized.push(q);
            break;
          }
          case 'conv': {
            const s = take('q', i);
            const [C, H, W] = shape, [OC, OH, OW] = shapes[i];
            const groups = l.groups === 'dw' ? C : l.groups, fan = (C / groups) * l.k * l.k;
            need('weight', s.weight.length, OC * fan);
            need('weight_scale', s.weightScale.length, OC);
            need('bias', s.bias.length, OC);
            const q = new QuantizedLayer(backend, s, OC, fan, { C, H, W, k: l.k, stride: l.stride, pad: l.pad, groups, OH, OW });
            this.layers.push(q);
            this.quantized.push(q);
            break;
          }
          case 'bn': {
            const s = take('bn', i), C = shape[0];
            for (const [n, a] of [['weight', s.weight], ['bias', s.bias], ['running_mean', s.runningMean], ['running_var', s.runningVar]] as const) need(n, a.length, C);
            this.layers.push(new FloatBatchNorm(backend, s, C, prod(shape.slice(1))));
            break;
          }
          case 'dropout':
            this.layers.push(new Identity(inF));
            break;
          default:
            // pools, activations, flatten: the float layers, as in Sequential
            this.layers.push(statelessLayer(backend, l, shape, inF)!);
        }
        shape = shapes[i];
      });
      if (k !== state.layers.length) throw new ShapeError(`int8 model: ${state.layers.length} layer states for a config with ${k} layers with state`);
    } catch (e) {
      this.release();
      throw e;
    }
    this.outputShape = shape;
    this.layers.forEach((l, i) => {
      if (l instanceof ReLU) {
        let j = i + 1;
        while (j < this.layers.length && (this.layers[j] instanceof MaxPool2D || this.layers[j] instanceof Flatten || this.layers[j] instanceof Identity)) j++;
        const next = this.layers[j];
        if (next instanceof QuantizedLayer && next.state.input.zeroPoint === 0) return;
      }
      this.run.push(l);
    });
  }

  get inputShape(): number[] {
    return this.config.input;
  }
  get inputs(): number {
    return prod(this.config.input);
  }
  get classes(): number {
    return this.outputShape[0];
  }
  /** Weights and biases (as the float model counts them; folded batch norms are gone). */
  get parameterCount(): number {
    return this.state.layers.reduce((a, s) => a + (s.kind === 'q' ? s.weight.length + s.bias.length : s.weight.length + s.bias.length), 0);
  }
  /** Bytes of the tensors an int8 model file holds (int8 weights, float scales, biases, activation parameters). */
  get tensorBytes(): number {
    return this.state.layers.reduce((a, s) => a + (s.kind === 'q' ? s.weight.length + 4 * (s.weightScale.length + s.bias.length) + 4 + 1 : 16 * s.weight.length), 0);
  }

  eval(): this {
    return this;
  }

  /**
   * Throws a NumericalError naming the first non-finite value of x (N rows): quantize_int8 leaves
   * NaN and ±Infinity unspecified, so an int8 model would answer garbage instead of NaN. Model.predict
   * (loadModel) runs it on every batch; datasets are checked when loaded.
   */
  checkInput(x: ArrayLike<number>, N: number): void {
    const n = N * this.inputs;
    for (let i = 0; i < n; i++) if (!Number.isFinite(x[i])) throw new NumericalError(`int8 model input: row ${Math.floor(i / this.inputs)}, feature ${i % this.inputs} is ${x[i]}`);
  }

  /**
   * x is (N, inputs) and must be finite (see checkInput; not checked here: a scan of every input
   * value in JS measured as long as the int8 layers themselves); returns logits (N, classes),
   * valid until the next forward.
   */
  forward(x: F32, N: number): F32 {
    if (x.length < N * this.inputs) throw new ShapeError(`int8 model input: got ${x.length} values, need N*inputs = ${N}*${this.inputs}`);
    let h = x;
    for (const l of this.run) h = l.forward(h, N, false);
    return h;
  }

  release(): void {
    for (const l of this.layers) l.release();
    this.layers.length = 0;
  }
}
