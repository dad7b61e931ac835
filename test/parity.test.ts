// Parity with PyTorch, per element. Each fixture (test/fixtures/parity/, written by
// scripts/parity/make-fixtures.py) holds float32 inputs — teacher and student weights, two
// batches, T, alpha, optimizer settings — and PyTorch's float64 results of two KD training steps:
// teacher and student logits, the loss, every gradient, the optimizer state and the weights after
// each step. Every backend that loads here runs each case on every path that trains:
//   - bench x1: the step `distill bench` times (KdStepRunner, one worker),
//   - bench x2: the same step data-parallel over 2 workers (KdStepRunner → DataParallel); the
//     teacher runs online, in the workers on x2,
//   - train x1 / train x2: the public train(), with the teacher logits cached up front;
// and each tensor (logits and optimizer state on the bench paths, which hold them; loss,
// gradients and weights on all four) is compared per element: max |a − ref| / max |ref| must stay
// within `factor` × PyTorch's own float32 error on that tensor (cases.json: tolerance, and each
// case's torch_f32_error; the loss, one number, may also use its float32 rounding bound f32_bound).
// Weights are also compared as updates (after − before step k), where an optimizer's per-element
// error is not hidden under the weights' own rounding.
// Negative controls: the same outputs against deliberately wrong references from the same script
// (no T², reversed KL, another momentum, AdamW's 1 − β2 rounded as the WASM builds once did) must
// fail. A direct AdamW check: one step with p = 0, g = 1e-3, m = v = 0, lr = 1, wd = 0, eps = 0
// gives exactly −1; every backend must be within 2e-7.

import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { allowsWorkers, type Backend } from '../src/backends/index.js';
import { epochOrder } from '../src/data/batching.js';
import type { Dataset } from '../src/data/dataset.js';
import { decodeSafetensors, type Tensor } from '../src/io/safetensors.js';
import type { KdConfig } from '../src/distill/objectives.js';
import { Sequential } from '../src/nn/sequential.js';
import type { ModelConfig } from '../src/nn/spec.js';
import type { Optimizer, OptimizerConfig } from '../src/optim/optimizer.js';
import { KdStepRunner } from '../src/step/kd-step.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { backendsUnderTest } from './util.js';

// ----------------------------------------------------------------------------------------------
// Fixtures

interface CaseMeta {
  name: string;
  file: string;
  teacher: ModelConfig;
  student: ModelConfig;
  N: number;
  kd: KdConfig;
  optimizer: OptimizerConfig;
  largeLogits: boolean;
  controls: Record<string, unknown>;
  /** PyTorch float32 vs float64, per fixture tensor: max |f32 − f64| / max |f64| (the worst of its float32 runs). */
  torch_f32_error: Record<string, number>;
  /** The loss's float32 rounding bound (a scalar has one sample of float32 error; this is its worst case). */
  f32_bound: Record<string, number>;
}

interface Manifest {
  tolerance: { factor: number; floor: number };
  cases: CaseMeta[];
}

interface Fixture {
  meta: CaseMeta;
  t: Record<string, Tensor>;
  /** Student parameter names (ParamStore order). */
  params: string[];
}

const DIR = new URL('./fixtures/parity/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('cases.json', DIR), 'utf8')) as Manifest;
const fixtures: Fixture[] = manifest.cases.map((meta) => {
  const { tensors } = decodeSafetensors(meta.file, readFileSync(new URL(meta.file, DIR)));
  const params = Object.keys(tensors).filter((k) => k.startsWith('student.')).map((k) => k.slice('student.'.length));
  return { meta, t: tensors, params };
});

const f32 = (fx: Fixture, name: string): Float32Array => {
  const t = fx.t[name];
  if (!t) throw new Error(`${fx.meta.name}: fixture has no tensor '${name}'`);
  return t.data as Float32Array;
};
const ref = (fx: Fixture, name: string): ArrayLike<number> | undefined => fx.t[name]?.data as Float64Array | undefined;

/** Writes the fixture's weights of `who` into a model's parameters (by ParamStore name). */
function setWeights(m: Sequential, fx: Fixture, who: 'teacher' | 'student'): void {
  for (const spec of m.store.specs) m.store.view(spec).set(f32(fx, `${who}.${spec.name}`));
}

// ----------------------------------------------------------------------------------------------
// What a path produces per step (every array a copy, taken right after the step)

interface StepOut {
  teacherLogits?: Float32Array;
  studentLogits?: Float32Array;
  loss: number;
  /** By fixture name: grad.<param>, param.<param>, state.<buf>.<param>. */
  tensors: Map<string, Float32Array>;
}

function snapshot(m: Sequential, opt: Optimizer | null, into: Map<string, Float32Array>): void {
  for (const spec of m.store.specs) {
    into.set(`grad.${spec.name}`, m.store.gradView(spec).slice());
    into.set(`param.${spec.name}`, m.store.view(spec).slice());
    if (opt) for (const [buf, flat] of Object.entries(opt.state())) into.set(`state.${buf}.${spec.name}`, flat.slice(spec.offset, spec.offset + spec.size));
  }
}

/** KdStepRunner's own models and buffers, which the bench never needs to expose. */
interface RunnerInside {
  teachers: { model: Sequential }[];
  student: Sequential;
  opt: Optimizer;
  x: Float32Array;
  y: Int32Array;
  t: Float32Array;
}

/** The step `distill bench` runs (KdStepRunner), on 1 or 2 workers, with the fixture's weights and batches. */
async function benchPath(be: Backend, fx: Fixture, workers: number): Promise<StepOut[]> {
  const { meta } = fx;
  const r = await KdStepRunner.create(be, workers, { teachers: [meta.teacher], student: meta.student, N: meta.N, kd: meta.kd, optimizer: meta.optimizer });
  try {
    const inside = r as unknown as RunnerInside;
    for (const k of ['teachers', 'student', 'opt', 'x', 'y', 't'] as const) if (!inside[k]) throw new Error(`KdStepRunner has no '${k}' any more: update RunnerInside in this test`);
    setWeights(inside.teachers[0].model, fx, 'teacher');
    setWeights(inside.student, fx, 'student');
    const out: StepOut[] = [];
    const K = inside.student.classes;
    for (const k of [1, 2]) {
      inside.x.set(f32(fx, `batch${k}.x`));
      inside.y.set(fx.t[`batch${k}.y`].data as Int32Array);
      // The student's logits with the weights this step starts from (forward only; step() runs its own).
      const studentLogits = inside.student.forward(inside.x, meta.N).slice(0, meta.N * K);
      await r.step();
      const tensors = new Map<string, Float32Array>();
      snapshot(inside.student, inside.opt, tensors);
      out.push({ teacherLogits: inside.t.slice(0, meta.N * K), studentLogits, loss: r.loss, tensors });
    }
    return out;
  } finally {
    await r.close();
  }
}

/** The public train(): one epoch of exactly the fixture's two batches, in order. */
async function trainPath(be: Backend, fx: Fixture, workers: number): Promise<StepOut[]> {
  const { meta } = fx;
  const teacher = new Sequential(be, meta.teacher, 0).eval();
  const student = new Sequential(be, meta.student, 0);
  setWeights(teacher, fx, 'teacher');
  setWeights(student, fx, 'student');
  const N = meta.N, C = student.inputs, K = student.classes;
  const seed = 7;
  // Place the fixture's rows where epoch 0's seeded order will read them: row i at order[i].
  const order = epochOrder(2 * N, seed, 0);
  const x = new Float32Array(2 * N * C), y = new Int32Array(2 * N);
  for (let i = 0; i < 2 * N; i++) {
    const k = i < N ? 1 : 2, r = i % N;
    x.set(f32(fx, `batch${k}.x`).subarray(r * C, r * C + C), order[i] * C);
    y[order[i]] = (fx.t[`batch${k}.y`].data as Int32Array)[r];
  }
  const data: Dataset = { name: `parity-${meta.name}`, x, y, n: 2 * N, features: C, classes: K };
  const cfg: TrainConfig = {
    epochs: 1, batchSize: N, seed, optimizer: meta.optimizer, schedule: { kind: 'constant' }, kd: meta.kd,
    teacherMode: 'cached', workers,
  };
  const out: StepOut[] = [];
  try {
    await train(student, data, null, cfg, {
      onStep: (p) => {
        const tensors = new Map<string, Float32Array>();
        snapshot(student, null, tensors);
        out.push({ loss: p.loss, tensors });
      },
    }, [{ model: teacher }]);
  } finally {
    student.release();
    teacher.release();
  }
  return out;
}

interface Path {
  name: string;
  workers: number;
  run: (be: Backend, fx: Fixture) => Promise<StepOut[]>;
}

const PATHS: Path[] = [
  { name: 'bench x1', workers: 1, run: (be, fx) => benchPath(be, fx, 1) },
  { name: 'bench x2', workers: 2, run: (be, fx) => benchPath(be, fx, 2) },
  { name: 'train x1', workers: 1, run: (be, fx) => trainPath(be, fx, 1) },
  { name: 'train x2', workers: 2, run: (be, fx) => trainPath(be, fx, 2) },
];

// ----------------------------------------------------------------------------------------------
// Comparison

/** max |a − ref| / max |ref| (NaN anywhere → Infinity). */
function relErr(a: ArrayLike<number>, r: ArrayLike<number>): number {
  if (a.length !== r.length) throw new Error(`length ${a.length} vs ${r.length}`);
  let d = 0, mag = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - r[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
    mag = Math.max(mag, Math.abs(r[i]));
  }
  return mag > 0 ? d / mag : d;
}

const KINDS = ['teacher_logits', 'student_logits', 'loss', 'grad', 'state', 'param', 'update'] as const;
type Kind = (typeof KINDS)[number];

interface Check {
  /** Fixture name of the reference, e.g. step2.grad.layers.0.weight. */
  name: string;
  kind: Kind;
  step: number;
  err: number;
  tol: number;
}

/**
 * Every tensor the path produced against the fixture's references under `prefix` ('' for the
 * real ones, 'control.<name>.' for a control), with the tolerance of the real case's tensor.
 */
function compare(fx: Fixture, out: StepOut[], prefix = ''): Check[] {
  const { factor, floor } = manifest.tolerance;
  const checks: Check[] = [];
  const add = (name: string, kind: Kind, step: number, a: ArrayLike<number>, r: ArrayLike<number> | undefined) => {
    if (!r) return;
    const e32 = fx.meta.torch_f32_error[name];
    if (e32 === undefined) throw new Error(`${fx.meta.name}: cases.json has no torch_f32_error for '${name}'`);
    checks.push({ name, kind, step, err: relErr(a, r), tol: Math.max(factor * Math.max(e32, floor), fx.meta.f32_bound[name] ?? 0) });
  };
  out.forEach((o, i) => {
    const k = i + 1, s = `step${k}`;
    if (o.teacherLogits) add(`${s}.teacher_logits`, 'teacher_logits', k, o.teacherLogits, ref(fx, `${prefix}${s}.teacher_logits`));
    if (o.studentLogits) add(`${s}.student_logits`, 'student_logits', k, o.studentLogits, ref(fx, `${prefix}${s}.student_logits`));
    add(`${s}.loss`, 'loss', k, [o.loss], ref(fx, `${prefix}${s}.loss`));
    for (const [name, a] of o.tensors) {
      const kind = name.split('.')[0] as Kind;
      add(`${s}.${name}`, kind, k, a, ref(fx, `${prefix}${s}.${name}`));
    }
    // Updates: weights after step k minus before it, against the reference's.
    for (const p of fx.params) {
      const before = i === 0 ? f32(fx, `student.${p}`) : out[i - 1].tensors.get(`param.${p}`)!;
      const rBefore = i === 0 ? f32(fx, `student.${p}`) : ref(fx, `${prefix}step${k - 1}.param.${p}`);
      const after = o.tensors.get(`param.${p}`)!, rAfter = ref(fx, `${prefix}${s}.param.${p}`);
      if (!rBefore || !rAfter) continue;
      add(`${s}.update.${p}`, 'update', k, Float64Array.from(after, (v, j) => v - before[j]), Float64Array.from(rAfter, (v, j) => v - rBefore[j]));
    }
  });
  return checks;
}

const fmt = (c: Check) => `${c.name}: ${c.err.toExponential(2)} > tol ${c.tol.toExponential(2)}`;

// ----------------------------------------------------------------------------------------------
// The figures: worst error per backend and tensor kind, printed at the end.

const worst = new Map<string, Map<Kind, { err: number; ratio: number }>>();
/** PARITY_DUMP=file.jsonl: every check of every backend, case and path, one JSON line each. */
const dump: string[] = [];
function record(be: string, checks: Check[], where = ''): void {
  if (process.env.PARITY_DUMP) for (const c of checks) dump.push(JSON.stringify({ backend: be, where, ...c }));
  const row = worst.get(be) ?? new Map();
  worst.set(be, row);
  for (const c of checks) {
    const w = row.get(c.kind) ?? { err: 0, ratio: 0 };
    row.set(c.kind, { err: Math.max(w.err, c.err), ratio: Math.max(w.ratio, c.err / c.tol) });
  }
}
/** Per control: the smallest, over backends, paths and cases, of its worst error/tolerance (> 1: told apart everywhere). */
const controls = new Map<string, Check>();
function recordControl(name: string, top: Check): void {
  const c = controls.get(name);
  if (!c || top.err / top.tol < c.err / c.tol) controls.set(name, top);
}
afterAll(() => {
  if (process.env.PARITY_DUMP) writeFileSync(process.env.PARITY_DUMP, dump.join('\n') + '\n');
  if (!worst.size) return;
  const lines = [`worst max|a-ref|/max|ref| per backend and tensor kind (in brackets: worst error/tolerance), ${fixtures.length} cases, paths ${PATHS.map((p) => p.name).join(', ')}:`];
  lines.push(['backend'.padEnd(16), ...KINDS.map((k) => k.padStart(20))].join(''));
  for (const [be, row] of worst) {
    lines.push([be.padEnd(16), ...KINDS.map((k) => {
      const w = row.get(k);
      return (w ? `${w.err.toExponential(1)} (${w.ratio.toFixed(2)})` : '-').padStart(20);
    })].join(''));
  }
  for (const [name, c] of controls) lines.push(`control ${name}: worst tensor at least ${(c.err / c.tol).toFixed(1)}x its tolerance on every backend and path (least: ${c.name}, ${c.err.toExponential(2)} vs ${c.tol.toExponential(2)})`);
  console.log(lines.join('\n'));
});

// ----------------------------------------------------------------------------------------------

const { backends } = await backendsUnderTest();

describe('parity fixtures', () => {
  it('are what the test expects (every case has both steps, every tolerance, and its controls)', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(12);
    for (const fx of fixtures) {
      for (const k of [1, 2]) for (const p of fx.params) expect(ref(fx, `step${k}.param.${p}`), `${fx.meta.name} step${k} ${p}`).toBeDefined();
      for (const c of Object.keys(fx.meta.controls)) expect(ref(fx, `control.${c}.step2.loss`), `${fx.meta.name} control ${c}`).toBeDefined();
    }
    const controls = new Set(fixtures.flatMap((fx) => Object.keys(fx.meta.controls)));
    expect([...controls].sort()).toEqual(['adamw_f32_complement', 'no_t2', 'other_momentum', 'reversed_kl']);
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('parity with PyTorch on %s', (_n, be) => {
  for (const path of PATHS) {
    it.skipIf(!allowsWorkers(be, path.workers))(`${path.name}: every case, every tensor within tolerance; every control fails`, async () => {
      const failures: string[] = [];
      for (const fx of fixtures) {
        const out = await path.run(be, fx);
        expect(out.length, `${fx.meta.name}: steps taken`).toBe(2);
        const checks = compare(fx, out);
        record(be.name, checks, `${fx.meta.name} ${path.name}`);
        for (const c of checks) if (!(c.err <= c.tol)) failures.push(`${fx.meta.name} ${path.name}: ${fmt(c)}`);
        // Negative controls: a deliberately different reference must be told apart.
        for (const control of Object.keys(fx.meta.controls)) {
          const cc = compare(fx, out, `control.${control}.`);
          const top = cc.reduce((a, b) => (b.err / b.tol > a.err / a.tol ? b : a));
          recordControl(control, top);
          if (top.err <= top.tol) failures.push(`${fx.meta.name} ${path.name}: control '${control}' was not told apart (its worst tensor ${top.name}: ${top.err.toExponential(2)} <= tol ${top.tol.toExponential(2)})`);
        }
      }
      expect(failures, failures.join('\n')).toEqual([]);
    });
  }

  it('AdamW, one step from p = 0, g = 1e-3, m = v = 0 (lr 1, wd 0, eps 0): p = -1 within 2e-7, on one element and split over threads', () => {
    for (const n of [1, 7, 1 << 18]) {
      const p = be.alloc(n), g = be.alloc(n), m = be.alloc(n), v = be.alloc(n);
      try {
        p.fill(0); g.fill(1e-3); m.fill(0); v.fill(0);
        be.adamw_step(p, g, m, v, n, { lr: 1, beta1: 0.9, beta2: 0.999, eps: 0, weightDecay: 0, step: 1 });
        let w = 0;
        for (let i = 0; i < n; i++) w = Math.max(w, Math.abs(p[i] + 1));
        expect(w, `n = ${n}: worst |p + 1|`).toBeLessThanOrEqual(2e-7);
      } finally {
        for (const b of [p, g, m, v]) be.free(b);
      }
    }
  });
});
