#!/usr/bin/env node
// The KD step on workload W (or the CNN KD step, workload C) next to the reference anchors (PyTorch CPU, TensorFlow.js WASM), in
// alternation: each round runs PyTorch, `distill bench`, TensorFlow.js, in turn (the order flips
// every round), and each ratio is taken within one round. On a shared machine whose speed drifts
// by ±25% over minutes, a ratio of two numbers measured minutes apart means little; the median
// of per-round ratios holds.
//
//   node bench/anchors.mjs --torch DIR --tfjs DIR [--workload W|C|Q] [--rounds 3] [--batch 128] [--steps 30]
//                          [--python python3] [--backends native,native-mt,wasm-simd,wasm-simd-mt,wasm-relaxed,wasm-relaxed-mt]
//
// --workload W (default): kd_step.py / kd_step.mjs against `distill bench --ops kd_step`.
// --workload C: the CNN KD step, cnn_step.py / cnn_step.mjs --xpose (stock tfjs-wasm cannot
// train a CNN: it has no Conv2DBackpropFilter) against `distill bench --ops kd_step_cnn`.
// --workload Q: int8 inference, int8_infer.py (PyTorch fp32, dynamic and static int8 on every
// quantized engine this torch has; the best int8 engine is the anchor) against `distill bench
// --ops infer` at batches 1 and 128 (--batch is ignored; --tfjs too: tfjs has no int8). Rows:
// our int8 / PyTorch's best int8 and our f32 / PyTorch fp32 at 1 thread (native, wasm) and 2
// threads (native-mt, wasm-*-mt), and our int8 / our f32 per backend (the speedup's inverse).
//
// DIR are the anchors' folders (each has its README: PyTorch needs Debian's python3-torch, the
// tfjs folder needs `npm install` in a writable copy). Either may be left out. Rows:
//   ours 1 thread / PyTorch 1 thread,  ours on 2 cores / PyTorch 2 threads  (native backends)
//   ours 1 thread / tfjs WASM,         ours on 2 cores / tfjs WASM 2 threads (wasm backends)
// where "on 2 cores" is 2 data-parallel workers, or one worker for the -mt backends (threads inside).
// Progress on stderr, the table on stdout; --json prints the rounds as JSON instead.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const opts = { workload: 'W', rounds: 3, batch: 128, steps: 30, python: 'python3', backends: 'native,native-mt,wasm-simd,wasm-simd-mt,wasm-relaxed,wasm-relaxed-mt', torch: '', tfjs: '', json: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => {
    if (i + 1 >= argv.length) fail(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--help' || a === '-h') {
    console.log(readHelp());
    process.exit(0);
  } else if (a === '--json') opts.json = true;
  else if (a.startsWith('--') && a.slice(2) in opts) {
    const k = a.slice(2);
    opts[k] = typeof opts[k] === 'number' ? Number(val()) : val();
    if (typeof opts[k] === 'number' && !(Number.isInteger(opts[k]) && opts[k] > 0)) fail(`${a} must be a positive integer`);
  } else fail(`unknown option ${a} (see --help)`);
}
if (!opts.torch && !opts.tfjs) fail('give --torch DIR and/or --tfjs DIR (the anchors\' folders)');
if (!['W', 'C', 'Q'].includes(opts.workload)) fail(`--workload must be W, C or Q, got ${opts.workload}`);
const CNN = opts.workload === 'C', Q = opts.workload === 'Q';
if (Q) opts.tfjs = '';
if (Q && !opts.torch) fail('--workload Q needs --torch DIR (int8_infer.py)');
const SCRIPT = { torch: Q ? 'int8_infer.py' : CNN ? 'cnn_step.py' : 'kd_step.py', tfjs: CNN ? 'cnn_step.mjs' : 'kd_step.mjs' };
const OP = Q ? 'infer' : CNN ? 'kd_step_cnn' : 'kd_step';
for (const [k, f] of Object.entries(SCRIPT)) {
  if (opts[k] && !existsSync(join(opts[k], f))) fail(`--${k} ${opts[k]}: no ${f} there`);
}
if (opts.tfjs && !existsSync(join(opts.tfjs, 'node_modules'))) fail(`--tfjs ${opts.tfjs}: run \`npm install\` there first (copy the folder somewhere writable)`);

function fail(msg) {
  console.error(`anchors: ${msg}`);
  process.exit(2);
}

function readHelp() {
  const src = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  return src.split('\n').slice(1).filter((l) => l.startsWith('//')).map((l) => l.replace(/^\/\/ ?/, '')).join('\n');
}

function run(cmd, args, cwd, what) {
  console.error(`  ${what} ...`);
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) fail(`${what}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} exited with ${r.status}:\n${(r.stderr || r.stdout).split('\n').slice(-15).join('\n')}`);
  return r.stdout;
}

/** `anchor=NAME threads=T batch=B ms_per_step_median=X ...` lines → { 'torch:1': ms, ... }. */
function parseAnchor(out, kind) {
  const res = {};
  for (const line of out.split('\n')) {
    if (!line.startsWith('anchor=')) continue;
    const kv = Object.fromEntries(line.split(/\s+/).map((p) => p.split('=')));
    if (Number(kv.batch) !== opts.batch) continue;
    res[`${kind}:${kv.threads}`] = Number(kv.ms_per_step_median);
  }
  return res;
}

/** int8_infer.py lines → { 'torch-mlp800-fp32:1:128': ms, 'torch-mlp800-int8:2:1': best int8 ms, ... } (and which engine won). */
function torchQ() {
  const out = run(opts.python, [SCRIPT.torch, '--threads', '1,2', '--batches', '1,128', '--time', '1.0', '--quiet-wait', '0'], opts.torch, 'PyTorch int8_infer 1 and 2 threads, batch 1 and 128');
  const res = {};
  for (const line of out.split('\n')) {
    if (!line.startsWith('anchor=q-')) continue;
    const kv = Object.fromEntries(line.split(/\s+/).map((p) => p.split('=')));
    const [, model, kind, , engine] = kv.anchor.split('-'); // q-<model>-fp32-torch-<ver> or q-<model>-<dyn|static>-int8-<engine>-torch-<ver>
    const ms = Number(kv.ms_per_batch_median);
    const key = `torch-${model}-${kind === 'fp32' ? 'fp32' : 'int8'}:${kv.threads}:${kv.batch}`;
    if (kind === 'fp32' || !(res[key] <= ms)) {
      res[key] = ms;
      if (kind !== 'fp32') res[`${key}:which`] = `${kind} ${engine}`;
    }
  }
  return res;
}

function oursQ() {
  const out = run(process.execPath, [join(root, 'bin/distill.js'), 'bench', '--json', '--quiet', '--html', '-', '--ops', 'infer', '--backend', opts.backends], root, `distill bench --ops infer (${opts.backends})`);
  const res = {};
  for (const row of JSON.parse(out)) if (row.op === 'infer' && Number.isFinite(row.ms_median)) res[`${row.backend}-${row.model}-${row.dtype}:${row.batch}`] = row.ms_median;
  return res;
}

function torch() {
  if (Q) return torchQ();
  const impls = CNN ? [] : ['--impls', 'torch'];
  const out = run(opts.python, [SCRIPT.torch, ...impls, '--threads', '1,2', '--batches', String(opts.batch), '--steps', String(opts.steps), '--quiet-wait', '0'], opts.torch, 'PyTorch 1 and 2 threads');
  return parseAnchor(out, 'torch');
}

function tfjs() {
  const common = ['--xpose', ...(CNN ? [] : ['--no-gemm']), '--batch', String(opts.batch), '--steps', String(opts.steps)];
  return {
    ...parseAnchor(run(process.execPath, [SCRIPT.tfjs, 'wasm', ...common], opts.tfjs, 'TensorFlow.js WASM 1 thread'), 'tfjs'),
    ...parseAnchor(run(process.execPath, [SCRIPT.tfjs, 'wasm-threads', '--threads', '2', ...common], opts.tfjs, 'TensorFlow.js WASM 2 threads'), 'tfjs'),
  };
}

function ours() {
  if (Q) return oursQ();
  const out = run(process.execPath, [join(root, 'bin/distill.js'), 'bench', '--json', '--quiet', '--html', '-', '--ops', OP, '--backend', opts.backends, '--batch', String(opts.batch), '--workers', '1,2', '--steps', String(opts.steps)], root, `distill bench (${opts.backends})`);
  const res = {};
  for (const row of JSON.parse(out)) if (row.op === OP && row.batch === opts.batch && Number.isFinite(row.ms_median)) res[`${row.backend}:${row.workers}`] = row.ms_median;
  return res;
}

const rounds = [];
for (let r = 0; r < opts.rounds; r++) {
  console.error(`round ${r + 1}/${opts.rounds}`);
  const steps = [opts.torch && torch, ours, opts.tfjs && tfjs].filter(Boolean);
  if (r % 2) steps.reverse();
  rounds.push(Object.assign({}, ...steps.map((f) => f())));
}

// Pairs: [ours, anchor]. "2 cores" for a -mt backend is its 1-worker row (two kernel threads).
const pairs = [];
if (Q) {
  for (const model of ['mlp800', 'mlp64']) {
    for (const B of [1, 128]) {
      for (const be of opts.backends.split(',')) {
        const t = be.endsWith('-mt') ? 2 : 1;
        pairs.push([`${be}-${model}-int8:${B}`, `torch-${model}-int8:${t}:${B}`], [`${be}-${model}-f32:${B}`, `torch-${model}-fp32:${t}:${B}`], [`${be}-${model}-int8:${B}`, `${be}-${model}-f32:${B}`]);
      }
    }
  }
}
for (const be of Q ? [] : opts.backends.split(',')) {
  const anchor = be.startsWith('wasm') ? 'tfjs' : 'torch';
  if (be.endsWith('-mt')) pairs.push([`${be}:1`, `${anchor}:2`]);
  else pairs.push([`${be}:1`, `${anchor}:1`], [`${be}:2`, `${anchor}:2`]);
}
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const table = [];
for (const [a, b] of pairs) {
  const ratios = rounds.filter((r) => r[a] && r[b]).map((r) => r[a] / r[b]);
  if (!ratios.length) continue;
  const which = rounds.map((r) => r[`${b}:which`]).filter(Boolean);
  table.push({ ours: a, anchor: which.length ? `${b} (${[...new Set(which)].join(', ')})` : b, ours_ms: rounds.map((r) => r[a]), anchor_ms: rounds.map((r) => r[b]), ratios, median_ratio: median(ratios) });
}
if (opts.json) {
  console.log(JSON.stringify({ workload: opts.workload, batch: opts.batch, rounds, pairs: table }, null, 1));
} else {
  const f = (x) => (x === undefined ? '-' : x < 1 ? x.toPrecision(3) : x.toFixed(1)); // Q's batch-1 rows are tens of µs
  console.log(Q ? `Inference on Q, ms per batch (median) in each of ${opts.rounds} rounds; ratio = first / second within a round (PyTorch int8: its best engine and variant per round)`
    : `${CNN ? 'CNN KD step on C' : 'KD step on W'}, N=${opts.batch}, ms per step (median of ${opts.steps} steps) in each of ${opts.rounds} rounds; ratio = ours / anchor within a round`);
  console.log(['ours (backend:workers)', 'anchor:threads', 'ours ms', 'anchor ms', 'ratios', 'median ratio'].join(' | '));
  for (const t of table) {
    console.log([t.ours, t.anchor, t.ours_ms.map(f).join(' / '), t.anchor_ms.map(f).join(' / '), t.ratios.map((x) => x.toFixed(2)).join(' / '), t.median_ratio.toFixed(2) + '×'].join(' | '));
  }
}
