// Sequential MLP built from a JSON config: Dense → activation (→ Dropout) per hidden layer,
// Dense to logits. Parameters live in one flat ParamStore; init is seeded (He for ReLU, Xavier
// otherwise); forward caches activations, and any hidden layer's output can be read (hint losses).

import type { Backend } from '../backends/backend.js';
import { ConfigError, ShapeError } from '../errors.js';
import type { F32 } from '../kernels/signatures.js';
import { Dense, Dropout, GELU, ReLU, type Layer } from './layers.js';
import { ParamStore } from './params.js';
import { Rng } from './rng.js';

export type ActivationName = 'relu' | 'gelu';

export interface ModelConfig {
  /** Widths from input to output, e.g. [784, 1200, 1200, 10]. */
  layers: number[];
  /** Hidden activation (default 'relu'). */
  activation?: ActivationName;
  /** Dropout probability after each hidden activation (default 0). */
  dropout?: number;
  /** Dropout probability on the input (default 0). */
  inputDropout?: number;
}

/** Checks a parsed JSON model config; errors name the field (`where` says which config). */
export function validateModelConfig(raw: unknown, where = 'model config'): Required<ModelConfig> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object like {"layers":[784,256,10]}`);
  const c = raw as Record<string, unknown>;
  const known = new Set(['layers', 'activation', 'dropout', 'inputDropout']);
  for (const k of Object.keys(c)) if (!known.has(k)) throw new ConfigError(`${where}: unknown field '${k}' (expected one of ${[...known].join(', ')})`);
  const layers = c.layers;
  if (!Array.isArray(layers) || layers.length < 2 || !layers.every((w) => Number.isInteger(w) && (w as number) > 0)) {
    throw new ConfigError(`${where}: field 'layers' must be an array of at least 2 positive integers (inputs, ..., classes), got ${JSON.stringify(layers)}`);
  }
  const activation = c.activation ?? 'relu';
  if (activation !== 'relu' && activation !== 'gelu') throw new ConfigError(`${where}: field 'activation' must be "relu" or "gelu", got ${JSON.stringify(activation)}`);
  const prob = (name: string): number => {
    const v = c[name] ?? 0;
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ConfigError(`${where}: field '${name}' must be a number in [0, 1), got ${JSON.stringify(v)}`);
    return v;
  };
  return { layers: layers as number[], activation, dropout: prob('dropout'), inputDropout: prob('inputDropout') };
}

export class Sequential {
  readonly config: Required<ModelConfig>;
  readonly store = new ParamStore();
  readonly layers: Layer[] = [];
  readonly dense: Dense[] = [];
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
  constructor(readonly backend: Backend, config: ModelConfig, seed: number, bindTo?: { params: F32; grads?: F32 }) {
    this.config = validateModelConfig(config);
    this.rng = new Rng(seed ^ 0x5eed);
    const { layers: w, activation, dropout, inputDropout } = this.config;
    if (inputDropout > 0) this.layers.push(new Dropout(backend, w[0], inputDropout, this.rng));
    for (let i = 0; i + 1 < w.length; i++) {
      const d = new Dense(backend, this.store, w[i], w[i + 1], `layers.${i}`);
      this.layers.push(d);
      this.dense.push(d);
      if (i + 2 < w.length) {
        this.layers.push(activation === 'relu' ? new ReLU(backend, w[i + 1]) : new GELU(backend, w[i + 1]));
        this.hiddenIdx.push(this.layers.length - 1);
        if (dropout > 0) this.layers.push(new Dropout(backend, w[i + 1], dropout, this.rng));
      }
    }
    this.bound = !!bindTo;
    if (bindTo) this.store.bind(bindTo.params, bindTo.grads ?? new Float32Array(this.store.length));
    else {
      this.store.allocate(backend);
      this.init(new Rng(seed));
    }
  }

  get inputs(): number {
    return this.config.layers[0];
  }
  get classes(): number {
    return this.config.layers[this.config.layers.length - 1];
  }
  /** Number of trainable parameters. */
  get parameterCount(): number {
    return this.store.count;
  }

  /** He-normal init for ReLU layers, Xavier-uniform otherwise (and for the logits layer); zero biases. */
  init(rng: Rng): void {
    const p = this.store.params;
    p.fill(0);
    this.dense.forEach((d, i) => {
      const fanIn = d.inFeatures;
      const fanOut = d.outFeatures;
      const last = i === this.dense.length - 1;
      const { offset, size } = d.weight;
      if (this.config.activation === 'relu' && !last) {
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
      // The first Dense needs no input gradient (nothing below it trains).
      const needInput = this.layers.slice(0, i).some((l) => l.kind === 'dense');
      g = this.layers[i].backward(g, N, needInput, accumulate);
    }
  }

  zeroGrads(): void {
    this.store.zeroGrads();
  }

  release(): void {
    for (const l of this.layers) l.release();
    if (this.bound) return;
    this.backend.free(this.store.params);
    this.backend.free(this.store.grads);
  }
}
