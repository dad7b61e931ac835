// Feature normalization, fitted on the training set and applied to every split alike, and the
// input transform a model carries so that it can be given raw inputs (model files, predict, ONNX).

import type { Dataset } from './dataset.js';

/**
 * What was done to raw inputs before the first layer, per feature: x' = (x − offset) / scale.
 * 'standardize': offset = mean, scale = std (CSV features); 'scale': one offset and scale for
 * every feature (u8 pixels: offset 0, scale 255); 'minmax': offset = min, scale = max − min.
 */
export interface InputTransform {
  kind: 'standardize' | 'minmax' | 'scale';
  offset: number[];
  scale: number[];
}

/** Applies an input transform in place to `n` rows of `features` raw values. */
export function applyInputTransform(x: Float32Array, features: number, t: InputTransform | null | undefined): Float32Array {
  if (!t) return x;
  const per = t.offset.length > 1;
  for (let i = 0; i < x.length; i++) {
    const f = per ? i % features : 0;
    x[i] = (x[i] - t.offset[f]) / t.scale[f];
  }
  return x;
}

/** The input transform of a fitted normalization (null for none). */
export function normalizationTransform(norm: Normalization): InputTransform | null {
  if (norm.kind === 'none') return null;
  return { kind: norm.kind === 'global' ? 'scale' : 'standardize', offset: [...norm.mean], scale: [...norm.std] };
}

export interface Normalization {
  kind: 'none' | 'global' | 'per-feature';
  mean: number[];
  std: number[];
}

/** Mean/std over all values ('global', e.g. images) or per feature column ('per-feature', tabular). */
export function fitNormalization(ds: Dataset, kind: Normalization['kind']): Normalization {
  if (kind === 'none') return { kind, mean: [], std: [] };
  const F = ds.features, cols = kind === 'global' ? 1 : F;
  const sum = new Float64Array(cols), sq = new Float64Array(cols);
  for (let i = 0; i < ds.n; i++) {
    for (let f = 0; f < F; f++) {
      const v = ds.x[i * F + f], c = cols === 1 ? 0 : f;
      sum[c] += v;
      sq[c] += v * v;
    }
  }
  const per = cols === 1 ? ds.n * F : ds.n;
  const mean = Array.from(sum, (s) => (per ? s / per : 0));
  const std = Array.from(sq, (q, c) => {
    const s = Math.sqrt(Math.max(0, (per ? q / per : 0) - mean[c] ** 2));
    return s > 1e-8 ? s : 1; // constant columns stay centered, not blown up
  });
  return { kind, mean, std };
}

/** Applies a fitted normalization in place. */
export function applyNormalization(ds: Dataset, norm: Normalization): Dataset {
  if (norm.kind === 'none') return ds;
  const F = ds.features, g = norm.kind === 'global';
  for (let i = 0; i < ds.n; i++) {
    for (let f = 0; f < F; f++) {
      const c = g ? 0 : f;
      ds.x[i * F + f] = (ds.x[i * F + f] - norm.mean[c]) / norm.std[c];
    }
  }
  return ds;
}
