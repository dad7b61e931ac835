// Workload Q for `distill bench --ops infer`: inference only, float32 and int8, as defined by
// ../anchors/torch/int8_infer.py. x ~ N(0,1) [B,784], B = 1 and 128; models mlp800
// (784-800-800-10) and mlp64 (784-64-10), ReLU between layers. int8 is our post-training
// quantization of the same float model (per-channel int8 weights, uint8 activations calibrated
// on 8 batches of 128 other N(0,1) rows, as the anchor's static variant), timed end to end:
// the float input quantized, the logits dequantized. Each (backend, model, batch) measures its
// float32 and int8 forms in alternation, so their ratio holds on a drifting machine.

import type { Backend } from '../backends/backend.js';
import { calibrate, quantizeModel } from '../compress/quantize.js';
import { Rng } from '../nn/rng.js';
import { argmaxRow, Sequential } from '../nn/sequential.js';
import { summarize } from '../step/kd-step.js';

/** Workload Q's models (layer widths; ReLU between layers, none after the last). */
export const Q_MODELS: Record<string, number[]> = { mlp800: [784, 800, 800, 10], mlp64: [784, 64, 10] };
/** Workload Q's batches when --batch is not given. */
export const Q_BATCHES = [1, 128];
export const Q_DTYPES = ['f32', 'int8'] as const;
export type QDtype = (typeof Q_DTYPES)[number];

/** Floating-point (f32) or integer (int8) operations per sample: 2·in·out per layer, as int8_infer.py counts. */
export function qFlopsPerSample(dims: number[]): number {
  let f = 0;
  for (let i = 1; i < dims.length; i++) f += 2 * dims[i - 1] * dims[i];
  return f;
}

/** n values ~ N(0,1), seeded. */
export function normalRows(n: number, seed: number): Float32Array {
  const r = new Rng(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.normal();
  return out;
}

export interface InferTiming {
  dtype: QDtype;
  median: number;
  min: number;
  max: number;
  reps: number;
  /** int8 only: the fraction of rows whose top-1 class equals the float model's. */
  top1?: number;
}

/**
 * Times the float32 and int8 forward of `model` at batch B on `be`, in alternation. Each sample
 * is the mean of `inner` back-to-back calls (about sampleMs long); samples continue until minReps
 * and budgetMs are reached (or maxReps).
 */
export function measureInfer(be: Backend, model: string, B: number, o: { minReps: number; maxReps: number; budgetMs: number; sampleMs: number; warmMs: number }): InferTiming[] {
  const dims = Q_MODELS[model];
  const f32 = new Sequential(be, { layers: dims, activation: 'relu' }, 0).eval();
  const calibN = 8 * 128, calib = normalRows(calibN * dims[0], 2);
  const int8 = quantizeModel(f32, calibrate(f32, calib, calibN, { method: 'minmax' }));
  const x = be.alloc(B * dims[0]);
  x.set(normalRows(B * dims[0], 1));
  try {
    const K = dims[dims.length - 1];
    const ref = f32.forward(x, B).slice(0, B * K);
    const got = int8.forward(x, B);
    let same = 0;
    for (let i = 0; i < B; i++) if (argmaxRow(ref, i, K) === argmaxRow(got, i, K)) same++;
    const runs = [
      { dtype: 'f32' as const, fn: () => f32.forward(x, B), samples: [] as number[], inner: 1 },
      { dtype: 'int8' as const, fn: () => int8.forward(x, B), samples: [] as number[], inner: 1 },
    ];
    for (const r of runs) {
      const w0 = performance.now();
      for (let i = 0; i < 2 || performance.now() - w0 < o.warmMs; i++) r.fn();
      const t0 = performance.now();
      r.fn();
      r.inner = Math.max(1, Math.min(10000, Math.round(o.sampleMs / Math.max(performance.now() - t0, 1e-4))));
    }
    const start = performance.now();
    while (runs[0].samples.length < o.maxReps && (runs[0].samples.length < o.minReps || performance.now() - start < o.budgetMs)) {
      for (const r of runs) {
        const t0 = performance.now();
        for (let i = 0; i < r.inner; i++) r.fn();
        r.samples.push((performance.now() - t0) / r.inner);
      }
    }
    return runs.map((r) => {
      const t = summarize(r.samples);
      return { dtype: r.dtype, median: t.median, min: t.min, max: t.max, reps: r.samples.length * r.inner, ...(r.dtype === 'int8' ? { top1: same / B } : {}) };
    });
  } finally {
    be.free(x);
    int8.release();
    f32.release();
  }
}
