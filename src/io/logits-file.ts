// Teacher-logits files: each teacher's raw logits (n, K) over a training set, computed once by
// `distill logits` and reused by `distill student --teacher-logits`. The metadata records the
// dataset, its sample count and a hash of its samples in order, so a file is never applied to
// other data (or the same data in another order).

import { createHash } from 'node:crypto';
import type { Dataset } from '../data/dataset.js';
import { InputFileError } from '../errors.js';
import type { ModelConfig } from '../nn/spec.js';
import { assertFinite, readSafetensors, writeSafetensors, type Tensor } from './safetensors.js';

export const LOGITS_FORMAT = 'distillery-logits/1';

/** sha256 (first 16 hex) of a dataset's features and labels, in sample order. */
export function datasetHash(ds: Dataset): string {
  const h = createHash('sha256');
  h.update(new Uint8Array(ds.x.buffer, ds.x.byteOffset, ds.x.byteLength));
  h.update(new Uint8Array(ds.y.buffer, ds.y.byteOffset, ds.y.byteLength));
  return h.digest('hex').slice(0, 16);
}

export interface TeacherLogitsFile {
  logits: Float32Array[];
  teachers: { file: string; config: ModelConfig }[];
}

export async function saveTeacherLogits(path: string, ds: Dataset, f: TeacherLogitsFile): Promise<void> {
  const tensors: Record<string, Tensor> = {};
  f.logits.forEach((l, i) => (tensors[`logits.${i}`] = { dtype: 'F32', shape: [ds.n, l.length / ds.n], data: l }));
  await writeSafetensors(path, tensors, {
    format: LOGITS_FORMAT, dataset: ds.name, count: String(ds.n), order_hash: datasetHash(ds), teachers: JSON.stringify(f.teachers),
  });
}

/** Reads a logits file and checks it matches `ds` (name aside): count, classes, order hash. */
export async function loadTeacherLogits(path: string, ds: Dataset, K: number): Promise<TeacherLogitsFile> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== LOGITS_FORMAT) throw new InputFileError(path, `metadata 'format' is ${JSON.stringify(metadata.format)}, expected "${LOGITS_FORMAT}" (make it with distill logits)`);
  if (Number(metadata.count) !== ds.n) throw new InputFileError(path, `holds logits for ${metadata.count} samples of '${metadata.dataset}', but '${ds.name}' has ${ds.n}`);
  const hash = datasetHash(ds);
  if (metadata.order_hash !== hash) throw new InputFileError(path, `was made on other samples or another order than '${ds.name}' (order hash ${metadata.order_hash}, data has ${hash})`);
  const logits: Float32Array[] = [];
  for (let i = 0; tensors[`logits.${i}`]; i++) {
    const t = tensors[`logits.${i}`];
    if (t.dtype !== 'F32' || t.shape.length !== 2 || t.shape[0] !== ds.n || t.shape[1] !== K) throw new InputFileError(path, `tensor 'logits.${i}' is ${t.dtype}[${t.shape}], expected F32[${ds.n},${K}]`);
    assertFinite(path, `logits.${i}`, t.data as Float32Array);
    logits.push(t.data as Float32Array);
  }
  if (!logits.length) throw new InputFileError(path, `no 'logits.0' tensor`);
  let teachers: TeacherLogitsFile['teachers'] = [];
  try { teachers = JSON.parse(metadata.teachers ?? '[]'); } catch { /* informational only */ }
  return { logits, teachers };
}
