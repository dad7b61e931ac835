// Inference with a trained model file: `const m = await loadModel(path); m.predict(rows)`. The
// model's stored input transform is applied to the raw rows, so a model trained on standardized
// CSV features or scaled pixels takes the values as they are in the file; predictions carry the
// stored class names. Inference only: no optimizer state, no teacher; batched, on the first
// backend that loads (native, then the WASM builds, then js) unless one is named.

import { defaultBackend, loadBackend, type Backend } from '../backends/index.js';
import { ShapeError } from '../errors.js';
import { argmaxRow, type Sequential } from '../nn/sequential.js';
import type { QuantizedSequential } from '../nn/quantized.js';
import { applyInputTransform } from '../data/transforms.js';
import { readAnyModel, type ModelInfo } from './model-file.js';

export interface Prediction {
  /** Rows predicted. */
  n: number;
  /** Classes, in logit order. */
  classNames: string[];
  /** The most likely class of each row (index). */
  classes: Int32Array;
  /** The most likely class of each row, by name. */
  labels: string[];
  /** Softmax probabilities (n, K). */
  probs: Float32Array;
  /** Logits (n, K). */
  logits: Float32Array;
}

export interface LoadModelOptions {
  /** Backend name (default: the first that loads here, fastest first). */
  backend?: string;
  /** Rows per forward pass (default 512). */
  batchSize?: number;
}

/** A model ready for inference: float32 (Sequential) or int8 (QuantizedSequential, from distill quantize). */
export class Model {
  constructor(readonly model: Sequential | QuantizedSequential, readonly info: ModelInfo, readonly file: string, private readonly batchSize = 512) {}

  /** 'int8' for an int8 model file, else 'f32'. */
  get dtype(): 'f32' | 'int8' {
    return 'dtype' in this.model ? 'int8' : 'f32';
  }
  get backend(): Backend {
    return this.model.backend;
  }
  /** Raw values per input row. */
  get inputs(): number {
    return this.model.inputs;
  }
  get classes(): number {
    return this.model.classes;
  }
  /** The stored class names, or "0".."K-1". */
  get classNames(): string[] {
    return this.info.classNames ?? Array.from({ length: this.classes }, (_, k) => String(k));
  }

  /**
   * Predicts raw input rows: a flat Float32Array / number array of n × inputs values, or an
   * array of rows. The stored input transform is applied first (the caller's array is not changed).
   */
  predict(rows: ArrayLike<number> | ArrayLike<number>[]): Prediction {
    const F = this.inputs, K = this.classes;
    const x = toFlat(rows, F, this.file);
    applyInputTransform(x, F, this.info.transform);
    const n = x.length / F;
    if ('dtype' in this.model) this.model.checkInput(x, n);
    const logits = new Float32Array(n * K), probs = new Float32Array(n * K);
    const be = this.backend, B = Math.max(1, Math.min(this.batchSize, n));
    const xb = be.alloc(B * F), pb = be.alloc(B * K);
    this.model.eval();
    try {
      for (let s = 0; s < n; s += B) {
        const N = Math.min(B, n - s);
        xb.set(x.subarray(s * F, (s + N) * F));
        const z = this.model.forward(xb, N);
        logits.set(z.subarray(0, N * K), s * K);
        be.softmax_t(pb, z, N, K, 1);
        probs.set(pb.subarray(0, N * K), s * K);
      }
    } finally {
      be.free(xb);
      be.free(pb);
    }
    const classes = new Int32Array(n);
    for (let i = 0; i < n; i++) classes[i] = argmaxRow(logits, i, K);
    const names = this.classNames;
    return { n, classNames: names, classes, labels: Array.from(classes, (c) => names[c]), probs, logits };
  }

  /** Frees the model's buffers (the backend stays loaded). */
  release(): void {
    this.model.release();
  }
}

/** Copies rows into one flat array, checking the width. */
function toFlat(rows: ArrayLike<number> | ArrayLike<number>[], F: number, file: string): Float32Array {
  const nested = rows.length > 0 && typeof (rows as ArrayLike<unknown>)[0] === 'object';
  if (nested) {
    const r = rows as ArrayLike<number>[], x = new Float32Array(r.length * F);
    for (let i = 0; i < r.length; i++) {
      if (r[i].length !== F) throw new ShapeError(`predict (${file}): row ${i} has ${r[i].length} values, the model takes ${F}`);
      x.set(r[i], i * F);
    }
    return x;
  }
  if (rows.length % F !== 0) throw new ShapeError(`predict (${file}): ${rows.length} values are not whole rows of ${F} inputs`);
  return Float32Array.from(rows as ArrayLike<number>);
}

/** Loads a model file (float32 from distill teach/student, or int8 from distill quantize) for inference. */
export async function loadModel(path: string, opts: LoadModelOptions = {}): Promise<Model> {
  const be = opts.backend ? await loadBackend(opts.backend) : await defaultBackend();
  const { model, info } = await readAnyModel(path, be);
  return new Model(model, info, path, opts.batchSize);
}
