// int8 ONNX export (QDQ graph, src/io/onnx.ts encodeQdqOnnx) checked in onnxruntime: a 784-64-10
// MLP trained on the built-in digits (with its input transform in the graph) and a small CNN with
// a folded batch norm, both quantized by PTQ, agree with our int8 predict on ≥ 99.5% of the 2,000
// test digits, with close logits; the graph holds QuantizeLinear/DequantizeLinear and int8
// weights (a file ~4× smaller than the float export). Skipped, with the reason, when the optional
// onnxruntime-node is absent.

import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadBackend, type Backend } from '../src/backends/index.js';
import { calibrate, quantizeModel } from '../src/compress/quantize.js';
import { loadDataset } from '../src/data/builtin.js';
import { subset } from '../src/data/dataset.js';
import { encodeOnnx, encodeQdqOnnx } from '../src/io/onnx.js';
import { argmaxRow, Sequential } from '../src/nn/sequential.js';
import { train } from '../src/train/trainer.js';

interface Ort {
  InferenceSession: { create(b: Uint8Array): Promise<{ run(f: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> }> };
  Tensor: new (t: 'float32', d: Float32Array, dims: number[]) => unknown;
}
let ort: Ort | null = null;
try { ort = createRequire(import.meta.url)('onnxruntime-node') as Ort; } catch { ort = null; }

async function backend(): Promise<Backend> {
  try { return await loadBackend('native'); } catch { return loadBackend('js'); }
}

describe.skipIf(!ort)('int8 QDQ ONNX in onnxruntime (onnxruntime-node installed)', () => {
  const cases = [
    { name: 'MLP 784-64-10 on digits (an input transform, 0..255 pixels, in the graph)', config: { layers: [784, 64, 10] }, epochs: 3, rows: 8000, transform: true },
    { name: 'CNN conv+bn+relu+maxpool ×2 on digits', config: { input: [1, 28, 28], layers: ['conv:8x3', 'bn', 'relu', 'maxpool:2', 'conv:16x3/s1p0', 'relu', 'maxpool:2', 'flatten', 'dense:10'] }, epochs: 1, rows: 3000, transform: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const be = await backend();
      const d = await loadDataset('mnist');
      const m = new Sequential(be, c.config, 1);
      const tr = subset(d.train, Array.from({ length: c.rows }, (_, i) => i));
      await train(m, tr, null, { epochs: c.epochs, batchSize: 64, seed: 1, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'cosine', totalSteps: c.epochs * Math.ceil(c.rows / 64) } });
      const q = quantizeModel(m, calibrate(m, d.train.x, 1000, { method: 'minmax' }));
      // The built-in digits are already in [0, 1]; the MLP's graph takes 0..255 pixels (transform 'scale').
      const t = c.transform ? { kind: 'scale' as const, offset: [0], scale: [255] } : null;
      const bytes = encodeQdqOnnx(q, { transform: t });
      const text = Buffer.from(bytes).toString('latin1');
      for (const op of ['QuantizeLinear', 'DequantizeLinear', 'input' in c.config ? 'Conv' : 'Gemm']) expect(text).toContain(op);
      expect(bytes.length / encodeOnnx(m).length).toBeLessThan(0.35);
      // Raw inputs for the graph (it applies the transform itself); transformed ones for ours.
      const n = d.test.n, F = m.inputs, K = m.classes, x = d.test.x;
      const raw = Float32Array.from(x);
      if (t) for (let i = 0; i < raw.length; i++) { const f = t.offset.length > 1 ? i % F : 0; raw[i] = raw[i] * t.scale[f] + t.offset[f]; }
      const s = await ort!.InferenceSession.create(bytes);
      const got = (await s.run({ input: new ort!.Tensor('float32', raw, [n, ...m.inputShape]) })).logits;
      expect(got.dims).toEqual([n, K]);
      const ours = Float32Array.from(q.forward(x, n));
      let agree = 0, maxAbs = 0, maxErr = 0;
      for (let i = 0; i < n; i++) if (argmaxRow(got.data, i, K) === argmaxRow(ours, i, K)) agree++;
      for (let i = 0; i < n * K; i++) { maxAbs = Math.max(maxAbs, Math.abs(ours[i])); maxErr = Math.max(maxErr, Math.abs(ours[i] - got.data[i])); }
      console.log(`[quantize-onnx] ${c.name}: top-1 agreement ${(agree / n * 100).toFixed(2)}% of ${n}, max |Δlogit| ${maxErr.toFixed(4)} (max |logit| ${maxAbs.toFixed(2)})`);
      expect(agree / n).toBeGreaterThanOrEqual(0.995);
      expect(maxErr).toBeLessThan(0.02 * maxAbs);
      q.release();
      m.release();
    });
  }
});
