// Calibration methods of post-training int8 quantization, side by side on saved float models: for
// each MODEL:DATA pair, minmax and the percentile method at several percentiles, each with its
// int8 test accuracy (vs float32), top-1 agreement with float32, and the mean squared logit error
// against float32 on the test split. The numbers behind distill quantize's default
// (docs/quantization.md). Single process, one backend; reruns with one command.
// Usage: npm run build:ts && node bench/quantize-calibration.mjs MODEL.safetensors:DATA [...]
//        [--samples 1000] [--percentiles 99.9,99.99,99.999] [--backend native] [--seeds 1]
// DATA is a --data spec (mnist, fashion-mnist, a CSV); --seeds N repeats the calibration on N
// different sets of --samples training rows (rows [s·samples, (s+1)·samples)) and reports the mean.
import { parseArgs } from 'node:util';
import { loadBackend } from '../dist/backends/index.js';
import { loadDataset } from '../dist/data/builtin.js';
import { readModel } from '../dist/io/model-file.js';
import { evaluate } from '../dist/train/trainer.js';
import { calibrate, quantizeModel, topAgreement } from '../dist/compress/quantize.js';

const { values: a, positionals } = parseArgs({ allowPositionals: true, options: {
  samples: { type: 'string', default: '1000' }, percentiles: { type: 'string', default: '99.9,99.99,99.999' },
  backend: { type: 'string', default: 'native' }, seeds: { type: 'string', default: '1' },
} });
if (!positionals.length) { console.error('usage: node bench/quantize-calibration.mjs MODEL.safetensors:DATA [...] [--samples N] [--percentiles P,P] [--backend NAME] [--seeds N]'); process.exit(2); }
const be = await loadBackend(a.backend);
const samples = Number(a.samples), seeds = Number(a.seeds);
const methods = [{ method: 'minmax' }, ...a.percentiles.split(',').map((p) => ({ method: 'percentile', percentile: Number(p) }))];
const rows = [['model', 'data', 'method', 'float32 acc', 'int8 acc', 'Δ pt', 'agreement', 'logit MSE']];
for (const spec of positionals) {
  const i = spec.lastIndexOf(':');
  const [file, data] = [spec.slice(0, i), spec.slice(i + 1)];
  const { model } = await readModel(file, be);
  const d = await loadDataset(data);
  const f = evaluate(model, d.test);
  const K = model.classes, n = d.test.n;
  const ref = new Float32Array(n * K);
  for (let s = 0; s < n; s += 500) { const N = Math.min(500, n - s), xb = be.alloc(N * model.inputs); xb.set(d.test.x.subarray(s * model.inputs, (s + N) * model.inputs)); ref.set(model.eval().forward(xb, N).subarray(0, N * K), s * K); be.free(xb); }
  for (const m of methods) {
    let acc = 0, agree = 0, mse = 0;
    for (let seed = 0; seed < seeds; seed++) {
      const x = d.train.x.subarray(seed * samples * model.inputs);
      const q = quantizeModel(model, calibrate(model, x, Math.min(samples, d.train.n - seed * samples), m));
      acc += evaluate(q, d.test).accuracy / seeds;
      agree += topAgreement(model, q, d.test.x, n).agreement / seeds;
      let e = 0;
      for (let s = 0; s < n; s += 500) {
        const N = Math.min(500, n - s), xb = be.alloc(N * model.inputs);
        xb.set(d.test.x.subarray(s * model.inputs, (s + N) * model.inputs));
        const z = q.forward(xb, N);
        for (let j = 0; j < N * K; j++) e += (z[j] - ref[s * K + j]) ** 2;
        be.free(xb);
      }
      mse += e / (n * K) / seeds;
      q.release();
    }
    rows.push([file.split('/').slice(-2).join('/'), d.train.name, m.method + (m.percentile ? ` ${m.percentile}` : ''), (f.accuracy * 100).toFixed(2), (acc * 100).toFixed(2), ((acc - f.accuracy) * 100).toFixed(2), (agree * 100).toFixed(2), mse.toExponential(2)]);
  }
  model.release();
}
const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
console.log(`calibration on ${samples} training rows × ${seeds} set(s), backend ${be.name}`);
for (const [i, r] of rows.entries()) {
  console.log('| ' + r.map((c, j) => c.padEnd(w[j])).join(' | ') + ' |');
  if (i === 0) console.log('| ' + w.map((n) => '-'.repeat(n)).join(' | ') + ' |');
}
