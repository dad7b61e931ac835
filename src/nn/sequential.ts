// A sequential model built from layer specs (spec.ts): each layer knows its input and output
// shape per sample. Parameters live in one flat ParamStore, batch-norm running statistics in a
// BufferStore beside it (names: spec.ts; an MLP's dense layer i has layers.i.weight and
// layers.i.bias, as in PyTorch); init is seeded (He-normal for a dense or conv layer followed by
// ReLU, directly or through batch norm; Xavier-uniform otherwise; batch norm gamma 1, beta 0,
// running mean 0, running var 1); forward caches activations, and the output of any hidden block
// (an activation layer, also in conv blocks) can be read (hint losses).

import type { Backend } from '../backends/backend.js';
import { ShapeError } from '../errors.js';
import type { F32 } from '../kernels/signatures.js';
import { BatchNorm, Conv2D, Dense, Dropout, statelessLayer, type Layer } from './layers.js';
import { layerShapes, validateModelConfig, widthsForm, type ModelConfig, type ModelSpec } from './spec.js';
import { BufferStore, ParamStore } from './params.js';
import { Rng } from './rng.js';

export class Sequential {
  /** The spec form of the config this model was built from. */
  readonly config: ModelConfig;
  readonly store = new ParamStore();
  /** Non-trained state (batch-norm running statistics): saved, never optimized. */
  readonly buffers = new BufferStore();
  readonly layers: Layer[] = [];
  readonly dense: Dense[] = [];
  /** The layers with weights (dense and conv), in order: the ones int8 quantizes. */
  readonly weighted: (Dense | Conv2D)[] = [];
  /** The batch-norm layers, in order (e.g. to give them a cross-worker BatchNormSync). */
  readonly batchNorms: BatchNorm[] = [];
  /** Index into `layers` of the output of each hidden block (after activation, before dropout). */
  private readonly hiddenIdx: number[] = [];
  private outputs: F32[] = [];
  private lastN = 0;
  training = true;
  /** Drives dropout masks; its state is checkpointed. */
  readonly rng: Rng;

  /** True when params/grads are views on storage owned elsewhere (not freed by release()). */
  private readonly bound: boolean;

  /**
   * Builds the model on `backend`. With `bindTo`, the parameters (and gradients) are views on
   * storage owned elsewhere, e.g. a data-parallel worker's shared buffers, and are not
   * initialized; a model without gradient storage can only run forward.
   */
  constructor(readonly backend: Backend, config: ModelSpec, seed: number, bindTo?: { params: F32; grads?: F32 }) {
    this.config = validateModelConfig(config);
    this.rng = new Rng(seed ^ 0x5eed);
    const { parsed, shapes } = layerShapes(this.config);
    let shape = this.config.input;
    let k = 0; // layers with state, numbered in order: layers.k.*
    // He init when ReLU follows, directly or through batch norm / dropout.
    const reluNext = (i: number) => {
      let j = i + 1;
      while (parsed[j]?.kind === 'bn' || parsed[j]?.kind === 'dropout') j++;
      return parsed[j]?.kind === 'relu';
    };
    parsed.forEach((l, i) => {
      const inF = shape.reduce((a, b) => a * b, 1);
      switch (l.kind) {
        case 'dense': {
          const d = new Dense(backend, this.store, inF, l.units, `layers.${k++}`);
          this.layers.push(d);
          this.dense.push(d);
          this.weighted.push(d);
          this.heInit.push(this.hasImageLayers ? reluNext(i) : parsed[i + 1]?.kind === 'relu');
          break;
        }
        case 'conv': {
          const groups = l.groups === 'dw' ? shape[0] : l.groups;
          const c = new Conv2D(backend, this.store, shape, { outChannels: shapes[i][0], k: l.k, stride: l.stride, pad: l.pad, groups }, `layers.${k++}`);
          this.layers.push(c);
          this.weighted.push(c);
          this.heInit.push(reluNext(i));
          break;
        }
        case 'bn': {
          const b = new BatchNorm(backend, this.store, this.buffers, shape, `layers.${k++}`);
          this.layers.push(b);
          this.batchNorms.push(b);
          break;
        }
        case 'dropout':
          this.layers.push(new Dropout(backend, inF, l.p, this.rng));
          break;
        default:
          // pools, activations, flatten (shared with the int8 model)
          this.layers.push(statelessLayer(backend, l, shape, inF)!);
          if (l.kind === 'relu' || l.kind === 'gelu') this.hiddenIdx.push(this.layers.length - 1);
      }
      shape = shapes[i];
    });
    this.outputShape = shape;
    this.bound = !!bindTo;
    // Buffers are this instance's own also when the parameters are bound (a data-parallel
    // worker's batch-norm running statistics are its own copy; the main thread's are saved).
    this.buffers.allocate(backend);
    if (bindTo) this.store.bind(bindTo.params, bindTo.grads ?? new Float32Array(this.store.length));
    else {
      this.store.allocate(backend);
      this.init(new Rng(seed));
    }
  }

  /** True when the model has conv, pooling or batch-norm layers (else an MLP, initialized as before). */
  private get hasImageLayers(): boolean {
    return this.config.layers.some((s) => /^(conv|dwconv|maxpool|avgpool|gap|bn)\b/.test(s));
  }

  /** Output shape per sample of the last layer: [classes]. */
  readonly outputShape: number[];
  /** Per dense or conv layer: He-normal init (followed by ReLU) or Xavier-uniform. */
  private readonly heInit: boolean[] = [];

  /** Input shape of one sample. */
  get inputShape(): number[] {
    return this.config.input;
  }
  /** Widths: inputs, then each dense layer's outputs (an MLP's 784-128-10). */
  get widths(): number[] {
    return [this.inputs, ...this.dense.map((d) => d.outFeatures)];
  }
  /**
   * Floats per sample of the activations a forward keeps (to size worker arenas): the widths'
   * sum for an MLP; for image models the input and every layer's output.
   */
  get activationWidth(): number {
    if (!this.hasImageLayers) return this.widths.reduce((a, b) => a + b, 0);
    return this.layers.reduce((a, l) => a + l.outFeatures, this.inputs);
  }
  /** Width of hidden block i (the output of its activation layer). */
  hiddenWidth(i: number): number {
    return this.layers[this.hiddenIdx[i]].outFeatures;
  }
  /** Per-sample shape of hidden block i's output: (C,H,W) for a feature map, (width) when flat. */
  hiddenShape(i: number): number[] {
    if (i < 0 || i >= this.hiddenIdx.length) throw new RangeError(`hidden layer ${i} does not exist (model has ${this.hiddenIdx.length})`);
    return [...this.layerShapes[this.hiddenIdx[i]]];
  }
  /** The older widths form of the config when it has one (see spec.ts widthsForm). */
  get widthsConfig() {
    return widthsForm(this.config);
  }

  get inputs(): number {
    return this.config.input.reduce((a, b) => a * b, 1);
  }
  get classes(): number {
    return this.outputShape[0];
  }
  /** Number of trainable parameters (buffers not counted, as in PyTorch's parameters()). */
  get parameterCount(): number {
    return this.store.count;
  }

  /** Per-sample output shape of each layer, e.g. [8,28,28] after conv:8x3 on [1,28,28]. */
  get layerShapes(): number[][] {
    return layerShapes(this.config).shapes;
  }

  /**
   * He-normal init for dense and conv layers followed by ReLU (directly, or through batch norm),
   * Xavier-uniform otherwise (and for the logits layer); zero biases; batch norm gamma 1, beta 0
   * and running statistics 0 (mean) and 1 (var).
   */
  init(rng: Rng): void {
    const p = this.store.params;
    p.fill(0);
    for (const b of this.batchNorms) this.store.view(b.weight).fill(1);
    this.buffers.reset();
    this.weighted.forEach((d, i) => {
      const [fanIn, fanOut] = d instanceof Conv2D ? d.fans : [d.inFeatures, d.outFeatures];
      const { offset, size } = d.weight;
      if (this.heInit[i]) {
        const std = Math.sqrt(2 / fanIn);
        for (let j = 0; j < size; j++) p[offset + j] = rng.normal() * std;
      } else {
        const lim = Math.sqrt(6 / (fanIn + fanOut));
        for (let j = 0; j < size; j++) p[offset + j] = (rng.next() * 2 - 1) * lim;
      }
    });
  }

  train(): this {
    this.training = true;
    return this;
  }
  eval(): this {
    this.training = false;
    return this;
  }

  /** x is (N, inputs); returns logits (N, classes), valid until the next forward. */
  forward(x: F32, N: number): F32 {
    if (x.length < N * this.inputs) throw new ShapeError(`model input: got ${x.length} values, need N*inputs = ${N}*${this.inputs}`);
    this.outputs = [];
    let h = x;
    for (const l of this.layers) {
      h = l.forward(h, N, this.training);
      this.outputs.push(h);
    }
    this.lastN = N;
    return h;
  }

  /** Output of hidden block i (0-based, after its activation) from the last forward: (N, width). */
  hidden(i: number): F32 {
    if (i < 0 || i >= this.hiddenIdx.length) throw new RangeError(`hidden layer ${i} does not exist (model has ${this.hiddenIdx.length})`);
    if (this.outputs.length === 0) throw new Error('hidden(): call forward first');
    return this.outputs[this.hiddenIdx[i]];
  }

  get hiddenCount(): number {
    return this.hiddenIdx.length;
  }

  /**
   * dlogits is (N, classes) for the last forward; adds into store.grads (zero them first), or
   * with accumulate = false overwrites them (every parameter gets exactly one write, no zeroing).
   */
  backward(dlogits: F32, accumulate = true, hiddenGrads?: Map<number, F32>): void {
    // hiddenGrads: extra gradients (N, width) w.r.t. hidden block outputs, e.g. from hint losses.
    const N = this.lastN;
    let g: F32 | null = dlogits;
    for (let i = this.layers.length - 1; i >= 0 && g; i--) {
      const block = hiddenGrads?.size ? this.hiddenIdx.indexOf(i) : -1;
      const extra = block >= 0 ? hiddenGrads!.get(block) : undefined;
      if (extra) {
        if (g === dlogits) g = g.slice(0, N * this.layers[i].outFeatures); // never write the caller's buffer
        for (let q = 0; q < N * this.layers[i].outFeatures; q++) g[q] += extra[q];
      }
      // The first layer with parameters needs no input gradient (nothing below it trains).
      const needInput = this.layers.slice(0, i).some((l) => l.kind === 'dense' || l.kind === 'conv' || l.kind === 'bn');
      g = this.layers[i].backward(g, N, needInput, accumulate);
    }
  }

  zeroGrads(): void {
    this.store.zeroGrads();
  }

  release(): void {
    for (const l of this.layers) l.release();
    this.buffers.release();
    if (this.bound) return;
    this.backend.free(this.store.params);
    this.backend.free(this.store.grads);
  }
}

/** The predicted class of row `i` of logits (N, K): the first index of the largest value. */
export function argmaxRow(logits: ArrayLike<number>, i: number, K: number): number {
  let best = 0;
  for (let k = 1; k < K; k++) if (logits[i * K + k] > logits[i * K + best]) best = k;
  return best;
}
