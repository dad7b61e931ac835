// The confusion matrix of a model on a dataset: eval mode (no dropout), batched like evaluate().

import type { Sequential } from '../nn/sequential.js';
import { gatherBatch } from '../data/batching.js';
import type { Dataset } from '../data/dataset.js';

export interface Confusion {
  /** Classes (the model's outputs). */
  K: number;
  /** counts[true * K + predicted]: rows are the true classes, columns the predicted ones. */
  counts: Uint32Array;
  /** Samples counted (ds.n). */
  n: number;
}

/** Counts (true class, predicted class) pairs of `model` on `ds`; the prediction is the arg max of the logits. */
export function confusionMatrix(model: Sequential, ds: Dataset, batchSize = 500): Confusion {
  if (ds.features !== model.inputs) throw new RangeError(`confusionMatrix: '${ds.name}' has ${ds.features} features per sample, the model takes ${model.inputs}`);
  const be = model.backend;
  const K = model.classes;
  const counts = new Uint32Array(K * K);
  const B = Math.max(1, Math.min(batchSize, ds.n));
  const x = be.alloc(B * ds.features), y = be.allocInt32(B);
  const wasTraining = model.training;
  model.eval();
  const order = Uint32Array.from({ length: ds.n }, (_, i) => i);
  try {
    for (let start = 0; start < ds.n; start += B) {
      const end = Math.min(ds.n, start + B), N = end - start;
      gatherBatch(ds, order, start, end, x, y);
      const logits = model.forward(x, N);
      for (let i = 0; i < N; i++) {
        let best = 0;
        for (let k = 1; k < K; k++) if (logits[i * K + k] > logits[i * K + best]) best = k;
        const t = y[i];
        if (t < 0 || t >= K) throw new RangeError(`confusionMatrix: '${ds.name}' sample ${start + i} has label ${t}, the model has ${K} classes`);
        counts[t * K + best]++;
      }
    }
  } finally {
    model.training = wasTraining;
    be.free(x); be.free(y);
  }
  return { K, counts, n: ds.n };
}
