// Post-training quantization (reference, plain loops): a float Sequential plus one observed input
// range per dense/conv layer becomes a QuantizedSequential (src/nn/quantized.ts). Batch norm
// directly after a dense or conv layer (eval mode: running statistics) is folded into that
// layer's weights and bias first; the weights are then quantized per output channel (symmetric
// int8, src/nn/qparams.ts) and each layer's input per tensor (uint8, from its calibrated range).
// QAT converts its trained model with the same quantizeModel, so both give one kind of int8 model.

import { ConfigError, ShapeError } from '../errors.js';
import type { F32 } from '../kernels/signatures.js';
import { BatchNorm, Conv2D, Dense, type Layer } from '../nn/layers.js';
import { activationQParams, quantizeWeights, type ActRange } from '../nn/qparams.js';
import { QuantizedSequential, type BnState, type InferenceModel, type QLayerState, type QuantizedState } from '../nn/quantized.js';
import { argmaxRow, type Sequential } from '../nn/sequential.js';

export type { ActRange };

/** Calibration methods: the observed min/max, or a percentile of each tail (clips rare outliers). */
export const CALIBRATION_METHODS = ['minmax', 'percentile'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export interface CalibrateOptions {
  method: CalibrationMethod;
  /** percentile: the kept share of each tail, in percent (default 99.99: [0.01%, 99.99%] of the values). */
  percentile?: number;
  /** Rows per forward pass (default 256). */
  batch?: number;
}

/** Histogram bins of the percentile method (over each layer's observed [min, max]). */
export const HISTOGRAM_BINS = 4096;
export const DEFAULT_PERCENTILE = 99.99;

const isQuant = (l: Layer) => l instanceof Dense || l instanceof Conv2D;

/** Indices into m.layers of the layers that get quantized (every dense and conv layer), in order. */
export function quantLayers(m: Sequential): number[] {
  return m.layers.flatMap((l, i) => (isQuant(l) ? [i] : []));
}

/**
 * One float input range per quantized layer (quantLayers order), observed over the first n rows
 * of x (n, inputs) in eval mode: min/max, or the given percentile of each tail (a histogram of
 * HISTOGRAM_BINS bins over the min/max range: a second pass over the rows).
 */
export function calibrate(m: Sequential, x: Float32Array, n: number, opts: CalibrateOptions): ActRange[] {
  const F = m.inputs;
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`calibration needs at least one row, got ${n}`);
  if (x.length < n * F) throw new ShapeError(`calibration data: ${x.length} values, need n*inputs = ${n}*${F}`);
  if (!(CALIBRATION_METHODS as readonly string[]).includes(opts.method)) throw new ConfigError(`calibration method: expected one of ${CALIBRATION_METHODS.join(', ')}, got ${JSON.stringify(opts.method)}`);
  const p = opts.percentile ?? DEFAULT_PERCENTILE;
  if (opts.method === 'percentile' && !(p > 50 && p <= 100)) throw new ConfigError(`calibration percentile must be in (50, 100], got ${p}`);
  for (let i = 0; i < n * F; i++) if (!Number.isFinite(x[i])) throw new ShapeError(`calibration data: row ${Math.floor(i / F)}, feature ${i % F} is ${x[i]}`);
  const B = Math.max(1, Math.min(opts.batch ?? 256, n));
  const idx = quantLayers(m);
  const be = m.backend, xb = be.alloc(B * F);
  const wasTraining = m.training;
  m.eval();
  /** Runs the rows through the model, calling see(j, values) with quantized layer j's input. */
  const pass = (see: (j: number, v: F32) => void) => {
    for (let s = 0; s < n; s += B) {
      const N = Math.min(B, n - s);
      xb.set(x.subarray(s * F, (s + N) * F));
      let h: F32 = xb, j = 0;
      m.layers.forEach((l, i) => {
        if (idx[j] === i) see(j++, h.subarray(0, N * l.inFeatures));
        h = l.forward(h, N, false);
      });
    }
  };
  try {
    const ranges = idx.map(() => ({ min: Infinity, max: -Infinity }));
    pass((j, v) => {
      const r = ranges[j];
      for (let i = 0; i < v.length; i++) {
        const a = v[i];
        if (a < r.min) r.min = a;
        if (a > r.max) r.max = a;
      }
    });
    for (const [j, r] of ranges.entries()) if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new ShapeError(`calibration: the input of layer ${idx[j]} (${m.config.layers[idx[j]]}) holds non-finite values`);
    if (opts.method === 'minmax' || p === 100) return ranges;
    const hist = ranges.map(() => new Float64Array(HISTOGRAM_BINS));
    pass((j, v) => {
      const { min, max } = ranges[j], h = hist[j], w = (max - min) / HISTOGRAM_BINS;
      if (!(w > 0)) return;
      for (let i = 0; i < v.length; i++) h[Math.min(HISTOGRAM_BINS - 1, Math.floor((v[i] - min) / w))]++;
    });
    return ranges.map((r, j) => {
      const h = hist[j], w = (r.max - r.min) / HISTOGRAM_BINS;
      if (!(w > 0)) return r;
      const total = h.reduce((a, b) => a + b, 0), tail = total * (1 - p / 100);
      // The lowest bin edge below which at most `tail` values lie, and the highest above which at most `tail` lie.
      let lo = 0, acc = 0;
      while (lo < HISTOGRAM_BINS - 1 && acc + h[lo] <= tail) acc += h[lo++];
      let hi = HISTOGRAM_BINS - 1;
      acc = 0;
      while (hi > lo && acc + h[hi] <= tail) acc += h[hi--];
      return { min: r.min + lo * w, max: r.min + (hi + 1) * w };
    });
  } finally {
    m.training = wasTraining;
    be.free(xb);
  }
}

/**
 * The int8 model of `m` with these input ranges (one per quantLayers entry), on m's backend:
 * batch norm after a dense/conv layer folded in (w·γ/σ, (b − μ)·γ/σ + β, σ = √(var + eps)), then
 * per-channel symmetric int8 weights and per-tensor uint8 inputs (activationQParams of each range).
 */
export function quantizeModel(m: Sequential, ranges: ActRange[]): QuantizedSequential {
  return new QuantizedSequential(m.backend, quantizedState(m, ranges));
}

/** The state quantizeModel builds (the int8 model file holds exactly this). */
export function quantizedState(m: Sequential, ranges: ActRange[]): QuantizedState {
  const idx = quantLayers(m);
  if (ranges.length !== idx.length) throw new ShapeError(`quantizeModel: ${ranges.length} activation ranges for ${idx.length} quantized layers (layers ${idx.join(', ')})`);
  const specs: string[] = [], states: (QLayerState | BnState)[] = [];
  const layers = m.layers;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    if (l instanceof Dense || l instanceof Conv2D) {
      const OC = l instanceof Dense ? l.outFeatures : l.opts.outChannels;
      const fan = l instanceof Dense ? l.inFeatures : l.fans[0];
      const w = Float32Array.from(m.store.view(l.weight)), b = Float32Array.from(m.store.view(l.bias));
      const next = layers[i + 1];
      if (next instanceof BatchNorm) {
        const bn = next;
        const g = m.store.view(bn.weight), beta = m.store.view(bn.bias), mu = m.buffers.view(bn.runningMean), v = m.buffers.view(bn.runningVar);
        for (let c = 0; c < OC; c++) {
          const f = g[c] / Math.sqrt(v[c] + bn.eps);
          for (let q = 0; q < fan; q++) w[c * fan + q] = Math.fround(w[c * fan + q] * f);
          b[c] = Math.fround((b[c] - mu[c]) * f + beta[c]);
        }
      }
      const qw = quantizeWeights(w, OC, fan);
      const j = idx.indexOf(i);
      states.push({ kind: 'q', weight: qw.q, weightScale: qw.scale, bias: b, input: activationQParams(ranges[j]) });
      specs.push(m.config.layers[i]);
      if (next instanceof BatchNorm) i++; // folded
      continue;
    }
    if (l instanceof BatchNorm) {
      const bn = l;
      states.push({ kind: 'bn', weight: m.store.view(bn.weight).slice(), bias: m.store.view(bn.bias).slice(), runningMean: m.buffers.view(bn.runningMean).slice(), runningVar: m.buffers.view(bn.runningVar).slice() });
    }
    specs.push(m.config.layers[i]);
  }
  return { config: { input: [...m.config.input], layers: specs }, layers: states };
}

/** Median milliseconds of one forward pass of N rows (x ~ N(0,1)-like fixed values) over `reps` timed runs after 2 warm-ups. */
export function inferenceMs(model: InferenceModel, N: number, reps = 20): number {
  const be = model.backend, F = model.inputs, x = be.alloc(N * F);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 12.9898) * 0.5 + 0.5; // deterministic, in [0, 1] like pixels
  model.eval();
  const times: number[] = [];
  try {
    for (let r = 0; r < reps + 2; r++) {
      const t0 = performance.now();
      model.forward(x, N);
      if (r >= 2) times.push(performance.now() - t0);
    }
  } finally {
    be.free(x);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Share of the first n rows of x on which two models' top-1 classes agree (and each model's predictions). */
export function topAgreement(a: InferenceModel, b: InferenceModel, x: Float32Array, n: number, batch = 500): { agreement: number; a: Int32Array; b: Int32Array } {
  const F = a.inputs, K = a.classes;
  if (b.inputs !== F || b.classes !== K) throw new ShapeError(`the two models differ: ${F}→${K} and ${b.inputs}→${b.classes}`);
  const pa = new Int32Array(n), pb = new Int32Array(n);
  for (const [m, out] of [[a, pa], [b, pb]] as const) {
    const B = Math.max(1, Math.min(batch, n)), xb = m.backend.alloc(B * F);
    m.eval();
    try {
      for (let s = 0; s < n; s += B) {
        const N = Math.min(B, n - s);
        xb.set(x.subarray(s * F, (s + N) * F));
        const z = m.forward(xb, N);
        for (let r = 0; r < N; r++) out[s + r] = argmaxRow(z, r, K);
      }
    } finally {
      m.backend.free(xb);
    }
  }
  let same = 0;
  for (let i = 0; i < n; i++) if (pa[i] === pb[i]) same++;
  return { agreement: n ? same / n : 1, a: pa, b: pb };
}
