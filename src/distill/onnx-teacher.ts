// ONNX teachers: any ONNX classifier (input (N, C) float, output (N, K) logits) run through the
// optional package onnxruntime-node, once over the training set; the logits then serve as a
// precomputed teacher (cached), like a file from `distill logits`.

import { gatherBatch } from '../data/batching.js';
import type { Dataset } from '../data/dataset.js';
import { BackendUnavailableError, InputFileError, ShapeError } from '../errors.js';

const HOW = 'ONNX teachers need the optional package onnxruntime-node: run `npm install onnxruntime-node` (its CPU runtime comes in the npm package; ONNXRUNTIME_NODE_INSTALL=skip, or `npm deny-scripts onnxruntime-node` on npm 11, keeps its postinstall from downloading the CUDA provider)';

interface Ort {
  InferenceSession: { create(path: string): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}
interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>;
  release?(): Promise<void>;
}

async function ort(): Promise<Ort> {
  try {
    const m = (await import('onnxruntime-node' as string)) as Ort & { default?: Ort };
    return m.InferenceSession ? m : m.default!;
  } catch (e) {
    throw new BackendUnavailableError('onnxruntime-node', `${HOW} (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Runs the ONNX model over every sample of `ds` (in order) and returns its logits (n, K). */
export async function onnxTeacherLogits(path: string, ds: Dataset, K: number, batch = 256): Promise<Float32Array> {
  const o = await ort();
  let s: OrtSession;
  try {
    s = await o.InferenceSession.create(path);
  } catch (e) {
    throw new InputFileError(path, `onnxruntime cannot load it: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    const out = new Float32Array(ds.n * K);
    const x = new Float32Array(batch * ds.features);
    const order = Uint32Array.from({ length: ds.n }, (_, i) => i);
    for (let start = 0; start < ds.n; start += batch) {
      const end = Math.min(ds.n, start + batch), N = end - start;
      gatherBatch(ds, order, start, end, x);
      const feeds = { [s.inputNames[0]]: new o.Tensor('float32', x.slice(0, N * ds.features), [N, ds.features]) };
      let r;
      try {
        r = (await s.run(feeds))[s.outputNames[0]];
      } catch (e) {
        throw new ShapeError(`${path}: running it on (${N}, ${ds.features}) inputs failed: ${(e as Error).message.split('\n')[0]}`);
      }
      if (r.dims.length !== 2 || r.dims[0] !== N || r.dims[1] !== K) throw new ShapeError(`${path}: output '${s.outputNames[0]}' is (${r.dims.join(', ')}), expected (${N}, ${K}) logits`);
      // Non-finite logits would only surface later as a NaN loss; name the model instead.
      const bad = r.data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new InputFileError(path, `output '${s.outputNames[0]}' holds ${r.data[bad]} for sample ${start + Math.floor(bad / K)} (logit ${bad % K}); the model's weights are corrupt or overflow on this data`);
      out.set(r.data, start * K);
    }
    return out;
  } finally {
    await s.release?.();
  }
}
