// The confusion matrix of a model on a dataset: eval mode (no dropout), batched like evaluate() (forEachEvalBatch).

import { argmaxRow, type Sequential } from '../nn/sequential.js';
import { forEachEvalBatch } from './trainer.js';
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
  const K = model.classes;
  const counts = new Uint32Array(K * K);
  forEachEvalBatch(model, ds, batchSize, (logits, y, N, start) => {
    for (let i = 0; i < N; i++) {
      const t = y[i];
      if (t < 0 || t >= K) throw new RangeError(`confusionMatrix: '${ds.name}' sample ${start + i} has label ${t}, the model has ${K} classes`);
      counts[t * K + argmaxRow(logits, i, K)]++;
    }
  });
  return { K, counts, n: ds.n };
}
