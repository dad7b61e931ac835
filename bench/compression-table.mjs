// The compression table of docs/compression.md (issue 18). Per seed, --val-fraction of the training
// set is held out (a seeded split: validationSplit, as distill sweep and --val-fraction use) to select on; the students train
// on the rest, and the test set is only measured, never used to choose. For each setting, per seed,
// a student distilled in float32 from a teacher, then
//   PTQ int8          the float student quantized (distill quantize: min/max ranges over the first
//                     --calib rows of the student's training split, int8 weights per channel, uint8
//                     inputs per tensor);
//   QAT int8          the float student fine-tuned a few epochs with fake-quant int8 under KD from
//                     the teacher, starting from the PTQ ranges (so its start point is the PTQ
//                     model), observers frozen after the first epoch, cosine lr; the point (start
//                     included) with the best validation accuracy is kept (distill student --init
//                     FLOAT --qat --qat-calib 1000 --qat-freeze-epoch 2 --val-fraction F);
//   50% structured    the float student with 50% of its parameters removed as whole neurons/channels
//                     (global allocation, io criterion) and recovered by KD from the teacher, the
//                     recovery epoch kept by validation accuracy (distill prune --structured
//                     --allocation global --teacher T --val-fraction F); pruneEpochs > 0 prunes
//                     gradually instead (--schedule cubic --prune-epochs P);
//   pruned + int8     that pruned student through PTQ.
// Columns: file bytes, parameters, test accuracy (mean and per seed), ms per batch of 128 and of 1
// (eval-mode forward, median) on native and on WASM (the relaxed-SIMD build where it loads, else
// SIMD), single thread. Then the issue's targets, checked per seed.
// Settings: `digits` (784-64-10 on the built-in 8,000/2,000 digits, teacher 784-256-10) and `fashion`
// (the small CNN conv8-pool-conv16-pool-fc10 on Fashion-MNIST, teacher the CNN of docs/cnn.md).
// Usage: npm run build:ts && node bench/compression-table.mjs [--settings digits,fashion] [--seeds 1,2,3]
//        [--backend native] [--teacher-cache DIR] [--val-fraction 0.1] [--out compression-table.md]
//        [--set KEY=VALUE,...] [--no-speed]
// --val-fraction: the share of the training set held out per seed for the selections (default 0.1).
// --set: experiment overrides of the settings' recipe numbers (e.g. qatLr=0.005,recoverEpochs=15,
// allocation=uniform), applied to every --settings entry and shown in the table's text.
// --no-speed: skip the timing columns (accuracy experiments).
// --teacher-cache DIR keeps each seed's teacher logits (the Fashion-MNIST ones shared with
// bench/cnn-table.mjs --teacher-cache DIR). One command regenerates the table: `npm run
// table:compression` (about 50 minutes on 2 cores, most of it the Fashion-MNIST teachers;
// `--settings digits` alone takes about 3 minutes).
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '../dist/data/builtin.js';
import { evaluate, forEachEvalBatch, train } from '../dist/train/trainer.js';
import { Sequential } from '../dist/nn/sequential.js';
import { QuantizedSequential } from '../dist/nn/quantized.js';
import { describeModel, validateModelConfig } from '../dist/nn/spec.js';
import { loadBackend } from '../dist/backends/index.js';
import { saveModel, saveQuantizedModel } from '../dist/io/model-file.js';
import { calibrate, quantizedState } from '../dist/compress/quantize.js';
import { PruneSchedule, allocatedPlan, sliceModel } from '../dist/compress/prune.js';
import { subset, validationSplit } from '../dist/data/dataset.js';

const { values: a } = parseArgs({ options: {
  settings: { type: 'string', default: 'digits,fashion' }, seeds: { type: 'string', default: '1,2,3' },
  backend: { type: 'string', default: 'native' }, calib: { type: 'string', default: '1000' },
  'teacher-cache': { type: 'string' }, out: { type: 'string', default: 'compression-table.md' },
  'val-fraction': { type: 'string', default: '0.1' }, set: { type: 'string' }, 'no-speed': { type: 'boolean' },
} });
const seeds = a.seeds.split(',').map(Number), CALIB = Number(a.calib), VAL = Number(a['val-fraction']);
if (!(VAL > 0 && VAL < 0.5)) throw new Error(`--val-fraction must be in (0, 0.5), got ${a['val-fraction']}`);
const log = (m) => process.stderr.write(`[compression-table] ${new Date().toISOString().slice(11, 19)} ${m}\n`);
const trainBe = await loadBackend(a.backend);
const timers = [];
for (const [label, names] of [['native', ['native']], ['WASM', ['wasm-relaxed', 'wasm-simd']]]) {
  for (const n of names) {
    try { timers.push({ label, be: await loadBackend(n) }); break; } catch { /* next */ }
  }
}
log(`training on ${trainBe.name}; timing on ${timers.map((t) => t.be.name).join(', ')}`);

const SETTINGS = {
  digits: {
    data: 'mnist', cacheName: 'mnist-mlp256', title: 'MLP 784-64-10 on the built-in digits (8,000 train / 2,000 test)',
    teacher: { input: [784], layers: ['dense:256', 'relu', 'dropout:0.2', 'dense:10'] }, teacherEpochs: 8,
    student: { input: [784], layers: ['dense:64', 'relu', 'dense:10'] }, epochs: 8, recoverEpochs: 8, pruneEpochs: 0, qatEpochs: 4, qatLr: 0.01, qatFreeze: 1,
    batch: 64, lr: 0.05, recoverLr: 0.03, allocation: 'global', warmup: 0, kd: { T: 4, alpha: 0.9, scaleT2: true },
  },
  fashion: {
    data: 'fashion-mnist', cacheName: 'fashion-mnist', title: 'small CNN conv8-pool-conv16-pool-fc10 on Fashion-MNIST (60,000 / 10,000)',
    teacher: { input: [1, 28, 28], layers: ['conv:32x3', 'bn', 'relu', 'maxpool:2', 'conv:64x3', 'bn', 'relu', 'maxpool:2', 'flatten', 'dropout:0.3', 'dense:128', 'relu', 'dense:10'] }, teacherEpochs: 12,
    student: { input: [1, 28, 28], layers: ['conv:8x3', 'relu', 'maxpool:2', 'conv:16x3', 'relu', 'maxpool:2', 'flatten', 'dense:10'] }, epochs: 15, recoverEpochs: 45, pruneEpochs: 0, qatEpochs: 4, qatLr: 0.01, qatFreeze: 1,
    // The CNN table's recipe for this student (docs/cnn.md): T = 2, alpha = 0.5. The QAT recipe
    // was chosen on seed 1's validation split, the pruning recovery (45 epochs at lr 0.05) on the
    // mean validation accuracy over seeds 1-3 (docs/compression.md).
    batch: 128, lr: 0.05, recoverLr: 0.05, allocation: 'global', warmup: 1, kd: { T: 2, alpha: 0.5, scaleT2: true },
  },
};

const cfg = (s, n, epochs, seed, lr, over = {}) => {
  const steps = Math.ceil(n / s.batch);
  return { epochs, batchSize: s.batch, seed, optimizer: { kind: 'sgd', lr, momentum: 0.9, weightDecay: 5e-4 }, schedule: { kind: 'cosine', totalSteps: epochs * steps, warmupSteps: Math.round(s.warmup * steps) }, ...over };
};

/** The model's logits (n, K) on a dataset, eval mode, in batches (the trainer's evaluation loop). */
function logitsOf(m, data) {
  const K = m.classes, out = new Float32Array(data.n * K);
  forEachEvalBatch(m, data, 500, (z, _y, N, start) => out.set(z.subarray(0, N * K), start * K));
  return out;
}

/**
 * The seed's teacher logits on the training set: trained here, or read from --teacher-cache. The
 * Fashion-MNIST teacher is the one of bench/cnn-table.mjs (same model, seed and recipe), under the
 * same cache name and format, so one cache serves both tables.
 */
async function teacherLogits(key, s, tr, test, seed) {
  const tag = `teacher-${s.cacheName}-s${seed}-e${s.teacherEpochs}-lr${s.lr}-w${s.warmup}-n${tr.n}-t${test.n}`;
  const base = a['teacher-cache'] ? join(a['teacher-cache'], tag) : null;
  if (base && existsSync(`${base}.f32`) && existsSync(`${base}.json`)) {
    const buf = readFileSync(`${base}.f32`);
    const j = JSON.parse(readFileSync(`${base}.json`, 'utf8'));
    const accuracy = 100 * (1 - j.result.errors / test.n);
    log(`${key} seed ${seed}: teacher ${accuracy.toFixed(2)}% (cached in ${base}.json)`);
    return { logits: new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)), accuracy };
  }
  const t0 = performance.now();
  const t = new Sequential(trainBe, s.teacher, seed);
  await train(t, tr, null, cfg(s, tr.n, s.teacherEpochs, seed, s.lr));
  const ev = evaluate(t, test), accuracy = ev.accuracy * 100;
  const logits = logitsOf(t, tr);
  t.release();
  log(`${key} seed ${seed}: teacher ${accuracy.toFixed(2)}%`);
  if (base) {
    mkdirSync(a['teacher-cache'], { recursive: true });
    // Temporary names, then renamed: an interrupted run leaves no half-written cache entry.
    writeFileSync(`${base}.f32.tmp`, Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength));
    writeFileSync(`${base}.json.tmp`, JSON.stringify({ result: { seed, errors: ev.errors, seconds: (performance.now() - t0) / 1000 } }));
    renameSync(`${base}.f32.tmp`, `${base}.f32`);
    renameSync(`${base}.json.tmp`, `${base}.json`);
  }
  return { logits, accuracy };
}

async function fileBytes(save) {
  const dir = mkdtempSync(join(tmpdir(), 'compression-table-'));
  try {
    const p = join(dir, 'm.safetensors');
    await save(p);
    return statSync(p).size;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Eval-mode ms per forward of a batch of N on be (median of 15 timed blocks). */
function msPerBatch(model, be, x0, N) {
  const x = be.alloc(N * model.inputs);
  x.set(x0.subarray(0, N * model.inputs));
  model.eval();
  const reps = N === 1 ? 200 : 10, t = [];
  for (let i = 0; i < 3; i++) model.forward(x, N);
  for (let r = 0; r < 15; r++) { const t0 = performance.now(); for (let i = 0; i < reps; i++) model.forward(x, N); t.push((performance.now() - t0) / reps); }
  be.free(x);
  return t.sort((p, q) => p - q)[7];
}

/** The float model (or the int8 state) rebuilt on each timing backend, timed at batch 128 and 1. */
function speeds(float, qstate, x0) {
  const out = {};
  if (a['no-speed']) return null;
  for (const { label, be } of timers) {
    let m;
    if (qstate) m = new QuantizedSequential(be, qstate);
    else {
      m = new Sequential(be, float.config, 0);
      m.store.params.set(float.store.params);
      if (float.buffers.length) m.buffers.data.set(float.buffers.data.subarray(0, m.buffers.data.length));
    }
    out[label] = { ms128: msPerBatch(m, be, x0, 128), ms1: msPerBatch(m, be, x0, 1) };
    m.release();
  }
  return out;
}

const rows = [];
for (const key of a.settings.split(',')) {
  const s = SETTINGS[key];
  if (!s) throw new Error(`--settings: unknown setting '${key}' (known: ${Object.keys(SETTINGS).join(', ')})`);
  // --set k=v,...: experiment overrides of a setting's numbers/strings (e.g. qatLr=0.005), printed in the table.
  for (const kv of (a.set ?? '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (!(k in s) || v === undefined) throw new Error(`--set: '${kv}': expected KEY=VALUE with KEY one of ${Object.keys(s).filter((x) => typeof s[x] !== 'object').join(', ')}`);
    s[k] = typeof s[k] === 'number' ? Number(v) : v;
  }
  const { train: full, test } = await loadDataset(s.data);
  const acc = (m, d = test) => evaluate(m, d).accuracy * 100;
  for (const seed of seeds) {
    const { logits: fullLogits, accuracy: teacherAcc } = await teacherLogits(key, s, full, test, seed);
    // The seed's held-out validation split (never trained on by the students; the selections use it).
    const split = validationSplit(full.n, VAL, seed);
    const tr = subset(full, split.train, `${full.name}[train]`), val = subset(full, split.val, `${full.name}[validation]`);
    const K = 10, logits = new Float32Array(tr.n * K);
    split.train.forEach((j, i) => logits.set(fullLogits.subarray(j * K, (j + 1) * K), i * K));
    const calibX = tr.x.subarray(0, CALIB * tr.features);
    const teachers = [{ logits, weight: 1 }];
    const add = (kind, r) => { rows.push({ setting: key, seed, kind, ...r }); log(`${key} seed ${seed}: ${kind} ${r.accuracy.toFixed(2)}% (validation ${r.val.toFixed(2)}%)`); };
    // float32 student, distilled
    const float = new Sequential(trainBe, s.student, seed);
    await train(float, tr, null, cfg(s, tr.n, s.epochs, seed, s.lr, { kd: s.kd }), {}, teachers);
    add('float32', { trainN: tr.n, valN: val.n, accuracy: acc(float), val: acc(float, val), params: float.parameterCount, bytes: await fileBytes((p) => saveModel(p, float)), layers: describeModel(float.config), speed: speeds(float, null, test.x), teacher: teacherAcc });
    // PTQ int8 of it
    const ptqRanges = calibrate(float, calibX, CALIB, { method: 'minmax' });
    const ptqState = quantizedState(float, ptqRanges);
    const ptq = new QuantizedSequential(trainBe, ptqState);
    add('PTQ int8', { accuracy: acc(ptq), val: acc(ptq, val), params: float.parameterCount, bytes: await fileBytes((p) => saveQuantizedModel(p, ptq)), speed: speeds(null, ptqState, test.x) });
    ptq.release();
    // QAT int8: fine-tuned from the float student with fake-quant from the PTQ ranges, the best
    // validation point kept (the start, i.e. the PTQ model, included), converted with its ranges
    const qm = new Sequential(trainBe, s.student, seed);
    qm.store.params.set(float.store.params);
    const qat = { startEpoch: 0, initRanges: ptqRanges, ...(s.qatFreeze ? { freezeEpoch: s.qatFreeze } : {}) };
    const r = await train(qm, tr, null, cfg({ ...s, warmup: 0 }, tr.n, s.qatEpochs, seed, s.qatLr, { kd: s.kd, qat, selectBy: val }), {}, teachers);
    const ranges = r.qat.actRanges();
    r.qat.detach();
    const qatState = quantizedState(qm, ranges);
    const qq = new QuantizedSequential(trainBe, qatState);
    add('QAT int8', { accuracy: acc(qq), val: acc(qq, val), selected: r.selected.epoch, selectScores: r.selected.scores, params: qm.parameterCount, bytes: await fileBytes((p) => saveQuantizedModel(p, qq)), speed: speeds(null, qatState, test.x) });
    qq.release();
    qm.release();
    // 50% structured pruning (of the parameters, s.allocation) + KD recovery, the best validation
    // epoch kept: one-shot, or (pruneEpochs > 0) cubic over pruneEpochs of KD on the full-size
    // model with channels masked, sliced, then recoverEpochs − pruneEpochs of KD (each phase its own
    // cosine schedule, as distill prune --schedule cubic --prune-epochs P --recover-epochs E does)
    let small, right = null, rr;
    if (!s.pruneEpochs) {
      small = sliceModel(float, allocatedPlan(float, 0.5, 'io', s.allocation));
      right = acc(small);
      rr = await train(small, tr, null, cfg({ ...s, warmup: 0 }, tr.n, s.recoverEpochs, seed, s.recoverLr, { kd: s.kd, selectBy: val }), {}, teachers);
    } else {
      const m = new Sequential(trainBe, s.student, seed);
      m.store.params.set(float.store.params);
      const steps = Math.ceil(tr.n / s.batch);
      const sched = new PruneSchedule({ sparsity: 0.5, structured: true, schedule: 'cubic', pruneSteps: s.pruneEpochs * steps, criterion: 'io', allocation: s.allocation });
      await train(m, tr, null, cfg({ ...s, warmup: 0 }, tr.n, s.pruneEpochs, seed, s.recoverLr, { kd: s.kd, prune: sched }), {}, teachers);
      small = sliceModel(m, sched.finalPlan());
      m.release();
      rr = await train(small, tr, null, cfg({ ...s, warmup: 0 }, tr.n, s.recoverEpochs - s.pruneEpochs, seed, s.recoverLr, { kd: s.kd, selectBy: val }), {}, teachers);
    }
    add('50% structured + KD', { accuracy: acc(small), val: acc(small, val), selected: rr.selected.epoch, pruned: right, recoverSeconds: rr.history.reduce((t, h) => t + h.seconds, 0), params: small.parameterCount, bytes: await fileBytes((p) => saveModel(p, small)), layers: describeModel(small.config), speed: speeds(small, null, test.x) });
    // pruned + int8 (PTQ of the recovered pruned student)
    const pqState = quantizedState(small, calibrate(small, calibX, CALIB, { method: 'minmax' }));
    const pq = new QuantizedSequential(trainBe, pqState);
    add('pruned + int8', { accuracy: acc(pq), val: acc(pq, val), params: small.parameterCount, bytes: await fileBytes((p) => saveQuantizedModel(p, pq)), speed: speeds(null, pqState, test.x) });
    pq.release();
    small.release();
    float.release();
  }
}

const mean = (v) => v.reduce((x, y) => x + y, 0) / v.length;
const f2 = (v) => v.toFixed(2);
const out = [];
const checks = [];
for (const key of a.settings.split(',')) {
  const s = SETTINGS[key], R = rows.filter((r) => r.setting === key);
  const fl = R.filter((r) => r.kind === 'float32');
  const Q0 = R.filter((r) => r.kind === 'QAT int8'), S0 = R.filter((r) => r.kind === '50% structured + KD');
  const picked = (k) => k.map((r) => (r.selected === 0 ? 'start' : `epoch ${r.selected}`)).join(', ');
  out.push(`### ${s.title}`, '', `Teacher ${describeModel(validateModelConfig(s.teacher))}: ${fl.map((r) => f2(r.teacher)).join(', ')}% (seeds ${seeds.join(', ')}; trained on all ${fl[0].trainN + fl[0].valN} training rows). Students train on ${fl[0].trainN} of them; the other ${fl[0].valN} (a seeded split per seed) are the validation set the selections below use. Student ${fl[0].layers}; KD T=${s.kd.T}, alpha=${s.kd.alpha}, ${s.epochs} epochs, SGD lr ${s.lr} momentum 0.9, batch ${s.batch}, cosine${s.warmup ? ` with ${s.warmup} warm-up epoch` : ''}. QAT: the float student fine-tuned up to ${s.qatEpochs} epochs with fake-quant int8 from the PTQ ranges (KD from the teacher, lr ${s.qatLr} cosine${s.qatFreeze ? `, observers frozen after epoch ${s.qatFreeze}` : ''}), the best validation point kept (per seed: ${picked(Q0)}), converted with its ranges. Pruning: 50% of the parameters removed (${s.allocation} allocation, io criterion), ${s.pruneEpochs ? `gradually (cubic) over ${s.pruneEpochs} epochs of KD, then up to ${s.recoverEpochs - s.pruneEpochs} recovery epochs` : `at once, then up to ${s.recoverEpochs} recovery epochs`} of KD from the teacher (lr ${s.recoverLr}), the best validation point of the recovery kept (per seed: ${picked(S0)}).`, '');
  const heads = timers.map((t) => `${t.label} ms/128 | ${t.label} ms/1`).join(' | ');
  out.push(`| model | file bytes | vs float | parameters | test accuracy % (mean) | per seed | vs float | validation % (mean) | ${heads} |`, `| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ${timers.map(() => '---: | ---:').join(' | ')} |`);
  const fAcc = mean(fl.map((r) => r.accuracy)), fBytes = fl[0].bytes;
  for (const kind of ['float32', 'PTQ int8', 'QAT int8', '50% structured + KD', 'pruned + int8']) {
    const k = R.filter((r) => r.kind === kind), m = mean(k.map((r) => r.accuracy));
    const sp = timers.map((t) => (k[0].speed ? `${mean(k.map((r) => r.speed[t.label].ms128)).toFixed(3)} | ${mean(k.map((r) => r.speed[t.label].ms1)).toFixed(4)}` : '- | -')).join(' | ');
    // Layers per seed where they differ (a global allocation may differ by seed).
    const lay = [...new Set(k.map((r) => r.layers))];
    const prm = [...new Set(k.map((r) => r.params))];
    out.push(`| ${kind}${k[0].layers && kind !== 'float32' ? ` (${lay.join('; ')})` : ''} | ${k[0].bytes.toLocaleString('en-US')} | ${(k[0].bytes / fBytes).toFixed(3)}× | ${prm.map((p) => p.toLocaleString('en-US')).join('; ')} | ${f2(m)} | ${k.map((r) => f2(r.accuracy)).join(', ')} | ${kind === 'float32' ? '-' : `${(m - fAcc >= 0 ? '+' : '') + f2(m - fAcc)} pt`} | ${f2(mean(k.map((r) => r.val)))} | ${sp} |`);
  }
  // The issue's targets, per seed where it says "never".
  const by = (kind) => new Map(R.filter((r) => r.kind === kind).map((r) => [r.seed, r]));
  const F = by('float32'), P = by('PTQ int8'), Q = by('QAT int8'), S = by('50% structured + KD');
  const within = (M, pt) => seeds.every((sd) => F.get(sd).accuracy - M.get(sd).accuracy <= pt + 1e-9);
  const meanGap = (M) => fAcc - mean([...M.values()].map((r) => r.accuracy));
  checks.push(
    `- ${key}: PTQ within 0.5 pt of float32: ${within(P, 0.5) ? 'yes, on every seed' : 'NO, not on every seed'} (mean gap ${f2(meanGap(P))} pt)`,
    `- ${key}: QAT within 0.2 pt of float32: ${within(Q, 0.2) ? 'yes, on every seed' : 'NO, not on every seed'} (mean gap ${f2(meanGap(Q))} pt); never worse than PTQ: ${seeds.every((sd) => Q.get(sd).accuracy >= P.get(sd).accuracy) ? 'yes' : 'NO, worse on some seed'} (per seed QAT − PTQ: ${seeds.map((sd) => f2(Q.get(sd).accuracy - P.get(sd).accuracy)).join(', ')} pt)`,
    `- ${key}: 50% structured within 0.5 pt after recovery: ${within(S, 0.5) ? 'yes, on every seed' : 'NO, not on every seed'} (mean gap ${f2(meanGap(S))} pt)`,
    `- ${key}: int8 file ≤ 0.3× float32: ${P.get(seeds[0]).bytes / fBytes <= 0.3 ? 'yes' : 'NO'} (${(P.get(seeds[0]).bytes / fBytes).toFixed(3)}×)`,
  );
  out.push('');
}
const text = `${out.join('\n')}\nTargets (issue 18):\n\n${checks.join('\n')}\n\nCommand: node bench/compression-table.mjs ${process.argv.slice(2).join(' ')}\n`;
process.stdout.write(text);
writeFileSync(a.out, text);
writeFileSync(a.out.replace(/\.md$/, '') + '.json', JSON.stringify({ args: a, rows }, null, 1));
