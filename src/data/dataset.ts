// In-memory classification datasets: N samples of C float features (row-major) and int labels.

import { ConfigError, InputFileError } from '../errors.js';
import { Rng } from '../nn/rng.js';
import type { InputTransform } from './transforms.js';

export interface Dataset {
  /** Where it came from, for messages and checkpoint fingerprints. */
  name: string;
  /** Features, row-major (n, features). */
  x: Float32Array;
  /** Class indices in [0, classes). */
  y: Int32Array;
  n: number;
  features: number;
  /**
   * The shape of one sample when it is an image, (C,H,W) in NCHW order (IDX images: [1,H,W]);
   * its product is `features` and `x` holds the samples in that order. Absent: flat features.
   */
  shape?: number[];
  classes: number;
  /** Optional names of the classes, by index. */
  classNames?: string[];
  /**
   * How the raw values of the source became `x` (CSV: standardized with the train split's mean
   * and std; IDX: u8 pixels / 255). A model trained on this data stores it, so that predict and
   * the exported ONNX take raw inputs. Absent: `x` holds the raw values.
   */
  transform?: InputTransform;
  /**
   * Which samples have a known label (1) and which do not (0), for a transfer set that is only
   * partly labeled: the trainer applies the hard-label loss to the labeled rows only. Absent:
   * every label is known. Unlabeled samples still hold a label in range (ignored).
   */
  labeled?: Uint8Array;
}

/** Checks a dataset's sizes, labels and values; errors name the source and the offending sample. */
export function checkDataset(ds: Dataset, source = ds.name): Dataset {
  if (ds.x.length !== ds.n * ds.features) throw new InputFileError(source, `features hold ${ds.x.length} values, expected n*features = ${ds.n}*${ds.features}`);
  if (ds.shape && ds.shape.reduce((a, b) => a * b, 1) !== ds.features) throw new InputFileError(source, `sample shape [${ds.shape}] does not hold ${ds.features} features`);
  if (ds.y.length !== ds.n) throw new InputFileError(source, `labels hold ${ds.y.length} values, expected n = ${ds.n}`);
  if (!(ds.classes >= 1)) throw new InputFileError(source, `needs at least one class, got ${ds.classes}`);
  if (ds.labeled && ds.labeled.length !== ds.n) throw new InputFileError(source, `labeled mask holds ${ds.labeled.length} values, expected n = ${ds.n}`);
  for (let i = 0; i < ds.n; i++) {
    const l = ds.y[i];
    if (l < 0 || l >= ds.classes) throw new InputFileError(source, `sample ${i}: label ${l} outside [0, ${ds.classes})`);
  }
  for (let i = 0; i < ds.x.length; i++) {
    if (!Number.isFinite(ds.x[i])) throw new InputFileError(source, `sample ${Math.floor(i / ds.features)}, feature ${i % ds.features}: value ${ds.x[i]} is not finite`);
  }
  return ds;
}

/** The samples at `indices`, in that order, as a new dataset. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const n = indices.length, F = ds.features;
  const x = new Float32Array(n * F), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    x.set(ds.x.subarray(j * F, (j + 1) * F), i * F);
    y[i] = ds.y[j];
  }
  const labeled = ds.labeled ? Uint8Array.from(indices as ArrayLike<number>, (j) => ds.labeled![j]) : undefined;
  return { name, x, y, n, features: F, shape: ds.shape, classes: ds.classes, classNames: ds.classNames, labeled, transform: ds.transform };
}

/**
 * Validation split: a seeded shuffle of the training set's indices, the first `fraction` held out
 * (distill sweep, and --val-fraction of distill student / distill prune for model selection).
 */
export function validationSplit(n: number, fraction: number, seed: number): { train: Uint32Array; val: Uint32Array } {
  const order = new Rng(seed ^ 0x7a11d).shuffle(Uint32Array.from({ length: n }, (_, i) => i));
  const nVal = Math.max(1, Math.round(n * fraction));
  if (nVal >= n) throw new ConfigError(`--val-fraction ${fraction} leaves no training samples of ${n}`);
  return { val: order.slice(0, nVal), train: order.slice(nVal) };
}
