// Quantization-aware training (reference TS passes over backend buffers): fake-quant hooks on
// every Dense and Conv2D layer of a student, and the observers of their input ranges. The
// fake-quant uses the one definition in nn/qparams.ts, so the trained model converted to int8
// computes what its training forward computed (within float rounding).
//
// - Weights: per output channel, symmetric int8 (quantizeWeights then dequantizeWeights) into a
//   scratch copy that forward and backward use; the gradient goes to the float master weights
//   unchanged (straight-through estimator).
// - Inputs: per tensor, uint8 (fakeQuantActivations) with the layer's current range; the input
//   gradient passes where the value was inside the quantization range and is zero where it was
//   clamped (STE with clamp masking).
// - Ranges: an EMA of the whole batch's min/max (PyTorch's MovingAverageMinMaxObserver, averaging
//   constant 0.01), started from one calibration forward on the first QAT batch. Each shard of a
//   data-parallel step writes its own batch min/max into its stats slot; the main thread combines
//   the slots (min of mins, max of maxes: exactly the whole batch's) and updates the EMA between
//   steps, so the ranges do not depend on the worker count. The ranges used during a step are
//   the ones from before it (the same on every shard). Ranges and stats live in a
//   SharedArrayBuffer that the workers view.

import type { Backend } from '../backends/backend.js';
import { roundHalfEven } from '../kernels/reference.js';
import type { F32 } from '../kernels/signatures.js';
import { Conv2D, Scratch, type Dense, type QuantHook } from '../nn/layers.js';
import { activationQParams, dequantizeWeights, fakeQuantActivations, quantizeWeights, type ActQParams, type ActRange } from '../nn/qparams.js';
import type { Sequential } from '../nn/sequential.js';
import { ConfigError, ShapeError } from '../errors.js';

/** PyTorch's MovingAverageMinMaxObserver default averaging constant. */
export const QAT_AVERAGING = 0.01;

export interface QatConfig {
  /** First epoch (0-based) trained with fake-quant; the epochs before it train the float student. Default 0. */
  startEpoch?: number;
  /** From this epoch (0-based) on the activation ranges are frozen; default: never. */
  freezeEpoch?: number;
  /** EMA averaging constant of the range observers, in (0, 1]. Default 0.01. */
  averaging?: number;
  /**
   * The activation ranges to start from, one per dense/conv layer (e.g. the PTQ calibration's,
   * quantize.ts calibrate): with the float weights, the first fake-quant forward then computes
   * what the PTQ int8 model computes. Default: one calibration forward on the first QAT batch.
   */
  initRanges?: ActRange[];
}

export function validateQat(c: QatConfig, epochs: number): Required<Omit<QatConfig, 'freezeEpoch' | 'initRanges'>> & { freezeEpoch: number | null; initRanges: ActRange[] | null } {
  const startEpoch = c.startEpoch ?? 0, averaging = c.averaging ?? QAT_AVERAGING, freezeEpoch = c.freezeEpoch ?? null;
  if (!Number.isInteger(startEpoch) || startEpoch < 0 || startEpoch >= epochs) throw new ConfigError(`qat start epoch must be an integer in [0, ${epochs - 1}] (epochs ${epochs}), got ${startEpoch}`);
  if (freezeEpoch !== null && (!Number.isInteger(freezeEpoch) || freezeEpoch <= startEpoch)) throw new ConfigError(`qat freeze epoch must be an integer after the start epoch ${startEpoch}, got ${freezeEpoch}`);
  if (!(averaging > 0 && averaging <= 1)) throw new ConfigError(`qat averaging constant must be in (0, 1], got ${averaging}`);
  const initRanges = c.initRanges ?? null;
  if (initRanges) checkRanges(initRanges, initRanges.length, 'qat initial ranges');
  return { startEpoch, freezeEpoch, averaging, initRanges };
}

/** One layer's fake-quant: the QuantHook that Dense/Conv2D call. */
export class FakeQuant implements QuantHook {
  /** Fake-quantize (QAT active); off: the layer computes in float. */
  enabled = false;
  /** Calibration forward: this forward's own input range becomes the layer's range at once. */
  adopt = false;
  private readonly wq: Scratch;
  private readonly xq: Scratch;
  private x: F32 | null = null;
  private p: ActQParams | null = null;
  /** The weights quantized by the last forward (int8, scales, sums). */
  lastWeights: ReturnType<typeof quantizeWeights> | null = null;

  constructor(be: Backend, readonly OC: number, readonly fan: number, private readonly ranges: Float32Array, readonly index: number, private stat: Float32Array) {
    this.wq = new Scratch(be);
    this.xq = new Scratch(be);
  }

  /** This layer's [min, max] slot of a shard's stats. */
  bindStat(stat: Float32Array): void {
    this.stat = stat;
  }

  get range(): ActRange {
    return { min: this.ranges[2 * this.index], max: this.ranges[2 * this.index + 1] };
  }

  weights(w: F32): F32 {
    if (!this.enabled) return w;
    const { OC, fan } = this;
    const out = this.wq.get(OC * fan);
    this.lastWeights = quantizeWeights(w, OC, fan);
    dequantizeWeights(out, this.lastWeights, OC, fan);
    return out;
  }

  input(x: F32, n: number, training: boolean): F32 {
    this.p = null;
    if (!this.enabled) return x;
    if (training || this.adopt) {
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = x[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      this.stat[0] = lo;
      this.stat[1] = hi;
      if (this.adopt) {
        this.ranges[2 * this.index] = lo;
        this.ranges[2 * this.index + 1] = hi;
      }
    }
    const L = (this.ranges.length - 1) / 2;
    if (!this.ranges[2 * L] && !this.adopt) throw new Error('QAT: the activation ranges are not initialized (calibrate on a first batch before the first fake-quant forward)');
    this.p = activationQParams(this.range);
    this.x = x;
    const out = this.xq.get(n);
    fakeQuantActivations(out, x, n, this.p);
    return out;
  }

  inputGrad(dx: F32, n: number): void {
    const p = this.p, x = this.x;
    if (!p || !x) return;
    // Inside the range: q = round(x/scale) + zp in [0, 255] before the clamp (the same float32
    // steps as fakeQuantActivations); outside, the clamp's gradient is 0.
    for (let i = 0; i < n; i++) {
      const v = Math.fround(x[i] * p.invScale);
      const r = Number.isNaN(v) ? 0 : v > 512 ? 512 : v < -512 ? -512 : roundHalfEven(v);
      const q = r + p.zeroPoint;
      if (q < 0 || q > 255) dx[i] = 0;
    }
  }

  release(): void {
    this.wq.release();
    this.xq.release();
  }
}

/** Floats of the shared QAT area: ranges (2 per layer) + the initialized flag, then `shards` stats slots of 2 per layer. */
export const qatAreaLength = (layers: number, shards: number) => 2 * layers + 1 + shards * 2 * layers;

/**
 * The fake-quant hooks of a model's Dense and Conv2D layers and their range observers. The main
 * thread's instance owns the area (ranges + stats); a data-parallel worker's instance views the
 * same area (pass `area`).
 */
export class Qat {
  readonly hooks: FakeQuant[];
  readonly layers: (Dense | Conv2D)[];
  /** [min0, max0, min1, max1, ..., initialized]: the ranges every shard quantizes with. */
  readonly ranges: Float32Array;
  /** Per shard, [min, max] per layer of its last training forward's inputs. */
  readonly stats: Float32Array;

  constructor(readonly model: Sequential, readonly shards = 1, area?: Float32Array) {
    this.layers = model.weighted;
    const L = this.layers.length;
    if (L === 0) throw new ConfigError('QAT needs a model with at least one dense or conv layer');
    const n = qatAreaLength(L, shards);
    if (area && area.length !== n) throw new ShapeError(`QAT area has ${area.length} values, expected ${n} for ${L} layers and ${shards} shards`);
    const buf = area ?? new Float32Array(new SharedArrayBuffer(n * 4));
    this.ranges = buf.subarray(0, 2 * L + 1);
    this.stats = buf.subarray(2 * L + 1);
    this.hooks = this.layers.map((l, i) => {
      const OC = l instanceof Conv2D ? l.opts.outChannels : l.outFeatures;
      const fan = l instanceof Conv2D ? l.fans[0] : l.inFeatures;
      const h = new FakeQuant(model.backend, OC, fan, this.ranges, i, this.stats.subarray(2 * i, 2 * i + 2));
      l.quant = h;
      return h;
    });
  }

  /** The whole shared area (ranges then stats), for the workers. */
  get area(): Float32Array {
    return new Float32Array(this.ranges.buffer, this.ranges.byteOffset, qatAreaLength(this.layers.length, this.shards));
  }

  get initialized(): boolean {
    return this.ranges[2 * this.layers.length] === 1;
  }

  get enabled(): boolean {
    return this.hooks[0].enabled;
  }
  setEnabled(on: boolean): void {
    for (const h of this.hooks) h.enabled = on;
  }

  /** Points the hooks at shard `s`'s stats slot (a data-parallel worker, per task). */
  bindShard(s: number): void {
    if (s < 0 || s >= this.shards) throw new RangeError(`QAT: shard ${s} of ${this.shards}`);
    const L = this.layers.length;
    this.hooks.forEach((h, i) => h.bindStat(this.stats.subarray(s * 2 * L + 2 * i, s * 2 * L + 2 * i + 2)));
  }

  /**
   * Initializes the ranges from one forward over x (N rows) in eval mode, layer by layer: each
   * layer's input range is its observed one, then its input is fake-quantized with it (the first
   * step of PyTorch's observers). Changes nothing else (no running statistics, no dropout draws).
   */
  calibrate(x: F32, N: number): void {
    const m = this.model, was = m.training, on = this.enabled;
    this.setEnabled(true);
    for (const h of this.hooks) h.adopt = true;
    try {
      m.eval().forward(x, N);
      this.ranges[2 * this.layers.length] = 1;
    } finally {
      for (const h of this.hooks) h.adopt = false;
      m.training = was;
      this.setEnabled(on);
      this.bindShard(0);
    }
  }

  /** EMA update from the first `shards` stats slots (the last step's shards): range += c·(batch − range). */
  update(shards: number, averaging = QAT_AVERAGING): void {
    const L = this.layers.length;
    for (let i = 0; i < L; i++) {
      let lo = Infinity, hi = -Infinity;
      for (let s = 0; s < shards; s++) {
        lo = Math.min(lo, this.stats[s * 2 * L + 2 * i]);
        hi = Math.max(hi, this.stats[s * 2 * L + 2 * i + 1]);
      }
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) continue; // a non-finite batch: the trainer stops on its loss
      const a = this.ranges[2 * i], b = this.ranges[2 * i + 1];
      this.ranges[2 * i] = a + averaging * (lo - a);
      this.ranges[2 * i + 1] = b + averaging * (hi - b);
    }
  }

  /** One ActRange per quantized layer (the input range of each Dense/Conv2D, in order). */
  actRanges(): ActRange[] {
    if (!this.initialized) throw new Error('QAT: no activation ranges yet (QAT has not started)');
    return this.hooks.map((h) => h.range);
  }

  /** Sets every layer's range (e.g. from PTQ calibration) and marks the ranges initialized. */
  setRanges(r: ActRange[], what = 'qat initial ranges'): void {
    checkRanges(r, this.layers.length, what);
    r.forEach((x, i) => { this.ranges[2 * i] = x.min; this.ranges[2 * i + 1] = x.max; });
    this.ranges[2 * this.layers.length] = 1;
  }

  /** Checkpoint state: the ranges and the initialized flag. */
  state(): Float32Array {
    return this.ranges;
  }
  load(saved: Float32Array, what: string): void {
    if (saved.length !== this.ranges.length) throw new ShapeError(`${what}: QAT ranges have ${saved.length} values, the model needs ${this.ranges.length} (2 per dense/conv layer + 1)`);
    this.ranges.set(saved);
  }

  /** Removes the hooks: the model computes in float again. */
  detach(): void {
    for (const l of this.layers) l.quant = undefined;
    for (const h of this.hooks) h.release();
  }
}

/** QAT ranges as saved in a model file's metadata (`qat_ranges`): one [min, max] per dense/conv layer. */
export function rangesToMeta(r: ActRange[]): string {
  return JSON.stringify(r.map((x) => [x.min, x.max]));
}
export function rangesFromMeta(s: string, layers: number, what: string): ActRange[] {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new ShapeError(`${what}: qat_ranges is not JSON`);
  }
  if (!Array.isArray(v) || v.length !== layers || !v.every((p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite) && p[0] <= p[1])) {
    throw new ShapeError(`${what}: qat_ranges must be ${layers} [min, max] pairs (one per dense/conv layer)`);
  }
  return (v as [number, number][]).map(([min, max]) => ({ min, max }));
}

/** Checks `r` is `layers` finite [min, max] ranges with min ≤ max. */
function checkRanges(r: ActRange[], layers: number, what: string): void {
  if (!Array.isArray(r) || r.length !== layers) throw new ShapeError(`${what}: ${Array.isArray(r) ? r.length : 'no'} ranges, the model needs ${layers} (one per dense/conv layer)`);
  r.forEach((x, i) => {
    if (!x || !Number.isFinite(x.min) || !Number.isFinite(x.max) || x.min > x.max) throw new ShapeError(`${what}: range ${i} is ${JSON.stringify(x)}; need finite min ≤ max`);
  });
}
