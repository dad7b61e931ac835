// The pruning tables of docs/pruning.md: per seed, a float model trained with cross-entropy, then
// (1) structured pruning at --sparsity with each criterion (l1, l2, io): accuracy right after
// pruning and after KD recovery from the float model, parameters, file bytes, eval-mode ms per
// batch of 1 and 128; (2) unstructured pruning at several sparsities, one-shot and cubic, after
// the same recovery. Same defaults as `distill teach` / `distill prune` (SGD momentum 0.9, cosine,
// batch 64; base lr 0.05, recovery lr 0.03; T = 4, alpha = 0.9).
// Usage: npm run build:ts && node bench/prune-table.mjs [--data mnist] [--arch dense:64,relu,dense:10]
//        [--seeds 1,2,3] [--base-epochs 10] [--recover-epochs 10] [--sparsity 0.5]
//        [--unstructured 0.5,0.8,0.9,0.95] [--backend wasm-simd] [--out prune-table.md]
// Prints the tables, writes them to --out and the raw rows to OUT.json. About 3 minutes for the
// defaults on one core (the digits MLP).
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../dist/data/builtin.js';
import { evaluate, train } from '../dist/train/trainer.js';
import { Sequential } from '../dist/nn/sequential.js';
import { validateModelConfig, describeModel } from '../dist/nn/spec.js';
import { loadBackend } from '../dist/backends/index.js';
import { saveModel } from '../dist/io/model-file.js';
import { PruneSchedule, magnitudeMask, sliceModel, structuredPlan, weightSparsity } from '../dist/compress/prune.js';

const { values: a } = parseArgs({ options: {
  data: { type: 'string', default: 'mnist' }, arch: { type: 'string', default: 'dense:64,relu,dense:10' },
  seeds: { type: 'string', default: '1,2,3' }, 'base-epochs': { type: 'string', default: '10' }, 'recover-epochs': { type: 'string', default: '10' },
  sparsity: { type: 'string', default: '0.5' }, unstructured: { type: 'string', default: '0.5,0.8,0.9,0.95' }, batch: { type: 'string', default: '64' },
  backend: { type: 'string', default: 'wasm-simd' }, out: { type: 'string', default: 'prune-table.md' },
} });
const seeds = a.seeds.split(',').map(Number), BE = Number(a['base-epochs']), RE = Number(a['recover-epochs']), S = Number(a.sparsity), B = Number(a.batch);
const sparsities = a.unstructured ? a.unstructured.split(',').map(Number) : [];
const be = await loadBackend(a.backend);
const log = (m) => process.stderr.write(`[prune-table] ${new Date().toISOString().slice(11, 19)} ${m}\n`);
const { train: tr, test } = await loadDataset(a.data);
const layers = a.arch.split(',').map((s) => s.trim());
const config = validateModelConfig({ input: layers.some((l) => /^(conv|dwconv|maxpool|avgpool|gap)/.test(l)) ? tr.shape ?? [tr.features] : [tr.features], layers });
const kd = { T: 4, alpha: 0.9, scaleT2: true };
const cfg = (seed, epochs, lr, extra = {}) => ({ epochs, batchSize: B, seed, optimizer: { kind: 'sgd', lr, momentum: 0.9 }, schedule: { kind: 'cosine', totalSteps: epochs * Math.ceil(tr.n / B) }, ...extra });
const copy = (m) => { const c = new Sequential(be, m.config, 0); c.store.params.set(m.store.params); c.buffers.data.set(m.buffers.data.subarray(0, c.buffers.data.length)); return c; };

async function bytesOf(m) {
  const dir = mkdtempSync(join(tmpdir(), 'prune-table-'));
  await saveModel(join(dir, 'm.safetensors'), m);
  const n = statSync(join(dir, 'm.safetensors')).size;
  rmSync(dir, { recursive: true, force: true });
  return n;
}
/** Eval-mode ms per forward of a batch of N, median of 15 timed blocks. */
function msPerBatch(m, N) {
  const x = be.alloc(N * m.inputs);
  x.set(test.x.subarray(0, N * m.inputs));
  m.eval();
  const reps = N === 1 ? 500 : 20, t = [];
  for (let i = 0; i < 3; i++) m.forward(x, N);
  for (let r = 0; r < 15; r++) { const t0 = performance.now(); for (let i = 0; i < reps; i++) m.forward(x, N); t.push((performance.now() - t0) / reps); }
  be.free(x);
  return t.sort((p, q) => p - q)[7];
}
const acc = (m) => evaluate(m, test).accuracy * 100;

const rows = [];
for (const seed of seeds) {
  const base = new Sequential(be, config, seed);
  await train(base, tr, null, cfg(seed, BE, 0.05));
  const float = { seed, kind: 'float', layers: describeModel(base.config), accuracy: acc(base), params: base.parameterCount, bytes: await bytesOf(base), ms1: msPerBatch(base, 1), ms128: msPerBatch(base, 128) };
  rows.push(float);
  log(`seed ${seed}: float ${float.accuracy.toFixed(2)}%`);
  const teacher = [{ model: base }];
  for (const criterion of ['l1', 'l2', 'io']) {
    const small = sliceModel(base, structuredPlan(base, S, criterion));
    const pruned = acc(small);
    await train(small, tr, null, cfg(seed, RE, 0.03, { kd }), {}, teacher);
    rows.push({ seed, kind: 'structured', criterion, sparsity: S, layers: describeModel(small.config), pruned, accuracy: acc(small), params: small.parameterCount, bytes: await bytesOf(small), ms1: msPerBatch(small, 1), ms128: msPerBatch(small, 128) });
    log(`seed ${seed}: structured ${criterion}: ${pruned.toFixed(2)}% → ${rows.at(-1).accuracy.toFixed(2)}%`);
    small.release();
  }
  for (const s of sparsities) {
    for (const schedule of ['oneshot', 'cubic']) {
      const m = copy(base);
      let pruned = null;
      if (schedule === 'oneshot') { const p = copy(base); magnitudeMask(p, s).apply(p.store.params); pruned = acc(p); p.release(); }
      const P = Math.max(1, Math.ceil(RE / 2));
      const prune = new PruneSchedule({ sparsity: s, structured: false, schedule, pruneSteps: schedule === 'cubic' ? P * Math.ceil(tr.n / B) : undefined });
      await train(m, tr, null, cfg(seed, RE, 0.03, { kd, prune }), {}, teacher);
      rows.push({ seed, kind: 'unstructured', schedule, sparsity: s, pruned, accuracy: acc(m), weightSparsity: weightSparsity(m).sparsity, params: m.parameterCount, bytes: await bytesOf(m) });
      log(`seed ${seed}: unstructured ${schedule} ${s}: ${rows.at(-1).accuracy.toFixed(2)}%`);
      m.release();
    }
  }
  base.release();
}

const mean = (v) => v.reduce((x, y) => x + y, 0) / v.length;
const f2 = (v) => v.toFixed(2);
const floats = rows.filter((r) => r.kind === 'float');
const out = [
  `Data ${tr.name} (${tr.n} train / ${test.n} test), model ${floats[0].layers}, seeds ${seeds.join(', ')}, backend ${be.name}; base ${BE} epochs, recovery ${RE} epochs of KD from the float model (T 4, alpha 0.9, lr 0.03).`,
  '',
  `| model | accuracy right after pruning | accuracy after recovery (per seed) | mean | vs float | parameters | file bytes | ms/batch of 1 | ms/batch of 128 |`,
  '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  `| float ${floats[0].layers} | - | ${floats.map((r) => f2(r.accuracy)).join(', ')} | ${f2(mean(floats.map((r) => r.accuracy)))} | - | ${floats[0].params} | ${floats[0].bytes} | ${mean(floats.map((r) => r.ms1)).toFixed(4)} | ${mean(floats.map((r) => r.ms128)).toFixed(4)} |`,
];
for (const c of ['l1', 'l2', 'io']) {
  const r = rows.filter((x) => x.kind === 'structured' && x.criterion === c);
  out.push(`| ${S * 100}% structured (${c}) → ${r[0].layers} | ${r.map((x) => f2(x.pruned)).join(', ')} | ${r.map((x) => f2(x.accuracy)).join(', ')} | ${f2(mean(r.map((x) => x.accuracy)))} | ${(mean(r.map((x) => x.accuracy)) - mean(floats.map((x) => x.accuracy))).toFixed(2)} pt | ${r[0].params} | ${r[0].bytes} | ${mean(r.map((x) => x.ms1)).toFixed(4)} | ${mean(r.map((x) => x.ms128)).toFixed(4)} |`);
}
if (sparsities.length) {
  out.push('', '| unstructured sparsity | one-shot: right after pruning | one-shot: after recovery | cubic: after recovery | weights zero |', '| ---: | --- | --- | --- | ---: |');
  for (const s of sparsities) {
    const o = rows.filter((x) => x.kind === 'unstructured' && x.sparsity === s && x.schedule === 'oneshot'), c = rows.filter((x) => x.kind === 'unstructured' && x.sparsity === s && x.schedule === 'cubic');
    out.push(`| ${s * 100}% | ${o.map((x) => f2(x.pruned)).join(', ')} | ${o.map((x) => f2(x.accuracy)).join(', ')} (mean ${f2(mean(o.map((x) => x.accuracy)))}) | ${c.map((x) => f2(x.accuracy)).join(', ')} (mean ${f2(mean(c.map((x) => x.accuracy)))}) | ${(o[0].weightSparsity * 100).toFixed(2)}% |`);
  }
}
const text = out.join('\n') + '\n';
process.stdout.write(text);
writeFileSync(a.out, text);
writeFileSync(a.out.replace(/\.md$/, '') + '.json', JSON.stringify({ args: a, rows }, null, 1));
