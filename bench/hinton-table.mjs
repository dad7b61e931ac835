// The Hinton-style table on Fashion-MNIST (60k/10k, Debian's dataset-fashion-mnist): test errors
// out of 10,000 over several seeds (mean ± spread) and wall time for the teachers (and their
// ensemble), a 784-800-800-10 student alone and distilled, a 784-64-10 student alone,
// distilled, hint-distilled and distilled from two teachers, and the few-labels rows (the small
// student alone on the first 1,000 labeled images vs distilled on all 60,000 through the
// teachers' soft targets with hard labels for those 1,000 only).
// Usage: npm run table -- [--seeds 1,2,3] [--teacher-epochs 20] [--student-epochs 20]
//        [--T 4] [--alpha 0.9] [--few-T 4] [--few-alpha 0.9] [--teacher-dropout 0.2] [--train N] [--test N] [--backend NAME] [--workers N] [--out table.md]
// --train/--test take the first N samples (the CI-sized run); the table goes to stdout and --out,
// the raw rows to OUT.json. --sweep T:A,T:A,... (e.g. 2:0.5,4:0.9,20:0.9) instead trains the
// teachers of the first seed once and distills the 784-64-10 student at each (T, alpha), also
// reporting the mean |KD gradient| of the first batch (its scale at high T).
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { loadDataset } from '../dist/data/builtin.js';
import { subset } from '../dist/data/dataset.js';
import { evaluate, train } from '../dist/train/trainer.js';
import { Sequential } from '../dist/nn/sequential.js';
import { chooseRuntime } from '../dist/step/calibrate.js';

const { values: a } = parseArgs({ options: {
  data: { type: 'string', default: 'fashion-mnist' }, seeds: { type: 'string', default: '1,2,3' },
  'teacher-epochs': { type: 'string', default: '20' }, 'student-epochs': { type: 'string', default: '20' },
  T: { type: 'string', default: '4' }, alpha: { type: 'string', default: '0.9' }, few: { type: 'string', default: '1000' },
  train: { type: 'string' }, test: { type: 'string' }, backend: { type: 'string' }, workers: { type: 'string' },
  rows: { type: 'string' }, out: { type: 'string', default: 'hinton-table.md' }, json: { type: 'boolean', default: false },
  sweep: { type: 'string' }, 'teacher-dropout': { type: 'string', default: '0.2' },
  'few-T': { type: 'string', default: '4' }, 'few-alpha': { type: 'string', default: '0.9' },
} });
const seeds = a.seeds.split(',').map(Number);
const allSeeds = [...seeds];
const TE = Number(a['teacher-epochs']), SE = Number(a['student-epochs']), few = Number(a.few);
const kd = { T: Number(a.T), alpha: Number(a.alpha), scaleT2: true };
// The few-labels rows keep their own (T, alpha): with 59,000 unlabeled images the soft targets
// carry nearly all the signal there (the reference run's setting was T=4, alpha=0.9).
const kdFew = { T: Number(a['few-T']), alpha: Number(a['few-alpha']), scaleT2: true };
const log = (m) => process.stderr.write(`[table] ${m}\n`);

let { train: tr, test } = await loadDataset(a.data);
if (a.train) tr = subset(tr, Array.from({ length: Math.min(tr.n, Number(a.train)) }, (_, i) => i), tr.name);
if (a.test) test = subset(test, Array.from({ length: Math.min(test.n, Number(a.test)) }, (_, i) => i), test.name);
log(`${tr.name}: ${tr.n} train / ${test.n} test; seeds ${seeds}; teacher ${TE} epochs, students ${SE}; T=${kd.T} alpha=${kd.alpha}; few-labels T=${kdFew.T} alpha=${kdFew.alpha}`);

const TEACHER = { layers: [784, 1200, 1200, 10], dropout: Number(a['teacher-dropout']) };
const BIG = { layers: [784, 800, 800, 10] }, SMALL = { layers: [784, 64, 10] };
const opt = (lr, wd = 0) => ({ kind: 'sgd', lr, momentum: 0.9, weightDecay: wd });
const cfg = (epochs, seed, n, o = {}) => ({ epochs, batchSize: 128, seed, optimizer: opt(0.05, 5e-4), schedule: { kind: 'cosine', totalSteps: epochs * Math.ceil(n / 128) }, ...o });

const runtimes = new Map();
async function runtime(shapes) {
  const key = JSON.stringify(shapes.student.layers);
  if (!runtimes.has(key)) {
    const c = await chooseRuntime({ teachers: [], student: shapes.student, N: 128, kd, optimizer: opt(0.05) }, { backend: a.backend, workers: a.workers ? Number(a.workers) : undefined, log });
    log(`${key}: ${c.line}`);
    runtimes.set(key, c);
  }
  return runtimes.get(key);
}

const results = {}; // row -> [{seed, errors, seconds}]
const record = (row, seed, errors, seconds) => (results[row] ??= []).push({ seed, errors, seconds });
async function fit(row, mc, seed, data, epochs, teachers = [], o = {}) {
  const { backend: be, workers } = await runtime({ student: mc });
  const t0 = performance.now();
  const m = new Sequential(be, mc, seed);
  const ts = teachers.map((t) => ({ ...t, model: t.model.backend === be ? t.model : copyTo(t.model, be) }));
  await train(m, data, null, cfg(epochs, seed, data.n, { workers, kd: teachers.length ? (data.labeled ? kdFew : kd) : undefined, ...o }), {}, ts);
  const ev = evaluate(m, test);
  const s = (performance.now() - t0) / 1000;
  if (row) record(row, seed, ev.errors, s);
  log(`seed ${seed} ${row ?? ''}: ${ev.errors} errors, ${s.toFixed(0)} s`);
  return m;
}
function copyTo(m, be) {
  const c = new Sequential(be, m.config, 0);
  c.store.params.set(m.store.params);
  return c;
}
function ensembleErrors(models) {
  const K = 10, B = 500, logits = new Float32Array(test.n * K);
  for (const m of models) {
    m.eval();
    const x = m.backend.alloc(B * 784);
    for (let s = 0; s < test.n; s += B) {
      const e = Math.min(test.n, s + B);
      x.set(test.x.subarray(s * 784, e * 784));
      const z = m.forward(x, e - s);
      for (let i = 0; i < (e - s) * K; i++) logits[s * K + i] += z[i] / models.length;
    }
  }
  let errors = 0;
  for (let i = 0; i < test.n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (logits[i * K + k] > logits[i * K + best]) best = k;
    if (best !== test.y[i]) errors++;
  }
  return errors;
}

const labeledFew = { ...tr, labeled: Uint8Array.from({ length: tr.n }, (_, i) => (i < few ? 1 : 0)), name: `${tr.name} (${few} labeled)` };
const firstFew = subset(tr, Array.from({ length: Math.min(few, tr.n) }, (_, i) => i), `${tr.name}[:${few}]`);
const want = a.rows ? new Set(a.rows.split(',')) : null;
const on = (r) => !want || want.has(r);

if (a.sweep) {
  const seed = seeds[0];
  const tA = await fit('teacher A 784-1200-1200-10', TEACHER, seed, tr, TE);
  const tB = await fit('teacher B 784-1200-1200-10', TEACHER, seed + 100, tr, TE);
  const both = [{ model: tA, weight: 1 }, { model: tB, weight: 1 }];
  const { kdObjective } = await import('../dist/distill/objectives.js');
  for (const pair of a.sweep.split(',')) {
    const [T, alpha] = pair.split(':').map(Number);
    kd.T = T; kd.alpha = alpha;
    // Gradient scale: mean |d loss / d logits| of the KD term on the first 128 samples, fresh student.
    const { backend: be } = await runtime({ student: SMALL });
    const m = new Sequential(be, SMALL, seed), N = 128, x = be.alloc(N * 784), t = be.alloc(N * 10), d = be.alloc(N * 10), y = be.allocInt32(N);
    x.set(tr.x.subarray(0, N * 784)); y.set(tr.y.subarray(0, N));
    t.set(copyTo(tA, be).eval().forward(x, N));
    kdObjective(be, d, m.forward(x, N), t, y, N, 10, { T, alpha: 1, scaleT2: true });
    const g = d.reduce((acc, v) => acc + Math.abs(v), 0) / d.length;
    await fit(`sweep T=${T} alpha=${alpha}: 784-64-10 distilled (two teachers); mean abs dKD/dz ${g.toExponential(2)}`, SMALL, seed, tr, SE, both);
  }
  seeds.length = 0; // the sweep replaces the table
}
for (const seed of seeds) {
  const t0 = performance.now();
  const tA = await fit('teacher A 784-1200-1200-10', TEACHER, seed, tr, TE);
  const tB = await fit('teacher B 784-1200-1200-10', TEACHER, seed + 100, tr, TE);
  record('teacher ensemble (A+B)', seed, ensembleErrors([tA, tB]), (performance.now() - t0) / 1000);
  const both = [{ model: tA, weight: 1 }, { model: tB, weight: 1 }];
  if (on('big')) {
    await fit('student 784-800-800-10 alone', BIG, seed, tr, SE);
    await fit('student 784-800-800-10 distilled (ensemble)', BIG, seed, tr, SE, both);
  }
  if (on('small')) {
    await fit('student 784-64-10 alone', SMALL, seed, tr, SE);
    await fit('student 784-64-10 distilled (teacher A)', SMALL, seed, tr, SE, [both[0]]);
    await fit('student 784-64-10 hint-distilled (teacher A, 0:1)', SMALL, seed, tr, SE, [both[0]], { hints: { pairs: [{ student: 0, teacher: 1 }], weight: 0.5 } });
    await fit('student 784-64-10 distilled (two teachers)', SMALL, seed, tr, SE, both);
  }
  if (on('few')) {
    await fit(`few labels: 784-64-10 alone on ${few} labeled`, SMALL, seed, firstFew, Math.max(SE, 50));
    await fit(`few labels: 784-64-10 distilled on all ${tr.n}, ${few} labeled`, SMALL, seed, labeledFew, SE, both);
  }
}

const fmt = (v) => { const e = v.map((r) => r.errors), m = e.reduce((x, y) => x + y, 0) / e.length; return `${m.toFixed(0)} ± ${((Math.max(...e) - Math.min(...e)) / 2).toFixed(0)}`; };
const lines = [`| model | test errors (of ${test.n}), mean ± half-range over seeds ${(a.sweep ? allSeeds.slice(0, 1) : allSeeds).join(',')} | per seed | wall time per run |`, '| --- | ---: | --- | ---: |'];
for (const [row, v] of Object.entries(results)) lines.push(`| ${row} | ${fmt(v)} | ${v.map((r) => r.errors).join(', ')} | ${(v.reduce((x, r) => x + r.seconds, 0) / v.length).toFixed(0)} s |`);
const md = lines.join('\n');
console.log(md);
if (a.out) {
  writeFileSync(a.out, `${md}\n\nSetting: ${tr.name}, ${tr.n} train / ${test.n} test; teacher ${TE} epochs (dropout ${TEACHER.dropout}), students ${SE}; T=${kd.T}, alpha=${kd.alpha}; few-labels T=${kdFew.T}, alpha=${kdFew.alpha}; SGD momentum 0.9, lr 0.05 cosine, weight decay 5e-4, batch 128.\n`);
  writeFileSync(a.out.replace(/\.md$/, '') + '.json', JSON.stringify({ setting: { data: tr.name, train: tr.n, test: test.n, seeds, TE, SE, kd, kdFew, few, teacherDropout: TEACHER.dropout }, results }, null, 1));
}
if (a.json) console.log(JSON.stringify(results));
