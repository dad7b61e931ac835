// Seeded shuffling and batching. The sample order of an epoch depends only on (n, seed, epoch),
// so a resumed run sees exactly the batches an uninterrupted one would.

import { Rng } from '../nn/rng.js';
import type { Dataset } from './dataset.js';

/** The permutation of [0, n) used in `epoch` of a run seeded with `seed`. */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0).shuffle(order);
}

/** Copies samples order[start..end) into xOut (rows) and yOut (labels). */
export function gatherBatch(ds: Dataset, order: ArrayLike<number>, start: number, end: number, xOut: Float32Array, yOut?: Int32Array): void {
  const F = ds.features;
  for (let i = start; i < end; i++) {
    const j = order[i];
    xOut.set(ds.x.subarray(j * F, (j + 1) * F), (i - start) * F);
    if (yOut) yOut[i - start] = ds.y[j];
  }
}
