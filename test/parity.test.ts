// Parity with PyTorch, per element. Each fixture (test/fixtures/parity/, written by
// scripts/parity/make-fixtures.py) holds float32 inputs — teacher and student weights (and
// batch-norm running statistics), two batches, T, alpha, optimizer settings — and PyTorch's
// float64 results of two KD training steps: teacher and student logits, the loss, every gradient,
// the optimizer state, the weights and the batch-norm running statistics after each step. The
// MLP cases run together per path; each CNN case (conv incl. grouped/depthwise/strided/padded,
// max and average pooling, gap, batch norm in training and, in teachers, eval mode) has its own
// test per path. Every backend that loads here runs each case on every path that trains:
//   - bench x1: the step `distill bench` times (KdStepRunner, one worker),
//   - bench x2: the same step data-parallel over 2 workers (KdStepRunner → DataParallel); the
//     teacher runs online, in the workers on x2,
//   - train x1 / train x2: the public train(), with the teacher logits cached up front;
// (with 2 workers, batch norm's statistics are reduced across the shards, src/step/bn-sync.ts, so
// the x2 runs of the batch-norm cases hold to the same bounds);
// and each tensor (logits and optimizer state on the bench paths, which hold them; loss,
// gradients and weights on all four) is compared per element: max |a − ref| / max |ref| must stay
// within `factor` × PyTorch's own float32 error on that tensor (cases.json: tolerance, and each
// case's torch_f32_error; the loss, one number, may also use its float32 rounding bound f32_bound),
// and max |a − ref| must stay within tolerance.absolute (1e-4) on logits, loss, gradients,
// optimizer state, weights and running statistics (not in the largeLogits cases: logits of about
// 100, where float32's own spacing is about 1e-5). A tensor that is zero in exact arithmetic (a
// bias right before batch norm: case.zero_reference) is held to the absolute bound only.
// Weights are also compared as updates (after − before step k), where an optimizer's per-element
// error is not hidden under the weights' own rounding.
// Negative controls: the same outputs against deliberately wrong references from the same script
// (no T², reversed KL, another momentum, AdamW's 1 − β2 rounded as the WASM builds once did; for
// the CNNs a convolution with its kernel flipped, and batch norm normalizing by the unbiased
// variance) must fail. A direct AdamW check: one step with p = 0, g = 1e-3, m = v = 0, lr = 1, wd = 0, eps = 0
// gives exactly −1; every backend must be within 2e-7.

import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { allowsWorkers, type Backend } from '../src/backends/index.js';
import { epochOrder } from '../src/data/batching.js';
import type { Dataset } from '../src/data/dataset.js';
import { decodeSafetensors, type Tensor } from '../src/io/safetensors.js';
import type { KdConfig } from '../src/distill/objectives.js';
import { Sequential } from '../src/nn/sequential.js';
import { hasSpatialLayers, stateShapes, type ModelConfig } from '../src/nn/spec.js';
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
  /** Reference tensors that are zero in exact arithmetic (float64 rounding noise): the absolute bound only. */
  zero_reference?: string[];
}

interface Manifest {
  tolerance: { factor: number; floor: number; absolute: number };
  cases: CaseMeta[];
}

interface Fixture {
  meta: CaseMeta;
  t: Record<string, Tensor>;
  /** Student parameter names (ParamStore order). */
  params: string[];
  /** A CNN case (conv / pooling / batch norm layers), else an MLP. */
  cnn: boolean;
  /** The student has batch norm (its x2 runs wait for the cross-worker statistics). */
  bn: boolean;
  /** What the CNN case exercises, for the test titles: conv, depthwise conv, maxpool, batchnorm, ... */
  layers: string;
}


/** What a CNN case's layer specs exercise (student, and the teacher's eval-mode batch norm). */
function describeLayers(student: ModelConfig, teacher: ModelConfig): string {
  const has = (c: ModelConfig, re: RegExp) => c.layers.some((l) => re.test(l));
  const parts: [boolean, string][] = [
    [has(student, /^conv:/), 'conv'],
    [has(student, /^conv:\d+x\d+\/.*[sp]\d/), 'strided/padded conv'],
    [has(student, /^conv:.*\/.*g\d/), 'grouped conv'],
    [has(student, /^(dwconv:|conv:.*\/.*dw)/), 'depthwise conv'],
    [has(student, /^maxpool:/), 'maxpool'],
    [has(student, /^avgpool:/), 'avgpool'],
    [has(student, /^gap$/), 'gap'],
    [has(student, /^bn$/), 'batchnorm'],
    [has(student, /^gelu$/), 'gelu'],
    [has(teacher, /^bn$/), 'eval batchnorm (teacher)'],
  ];
  return parts.filter(([p]) => p).map(([, s]) => s).join(', ');
}

const DIR = new URL('./fixtures/parity/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('cases.json', DIR), 'utf8')) as Manifest;
const fixtures: Fixture[] = manifest.cases.map((meta) => {
  const { tensors } = decodeSafetensors(meta.file, readFileSync(new URL(meta.file, DIR)));
  const params = Object.keys(tensors).filter((k) => k.startsWith('student.')).map((k) => k.slice('student.'.length));
  const cnn = hasSpatialLayers(meta.student.layers) || hasSpatialLayers(meta.teacher.layers);
  const bn = meta.student.layers.includes('bn');
  return { meta, t: tensors, params, cnn, bn, layers: cnn ? describeLayers(meta.student, meta.teacher) : 'mlp' };
});
const mlpFixtures = fixtures.filter((fx) => !fx.cnn);
const cnnFixtures = fixtures.filter((fx) => fx.cnn);

const f32 = (fx: Fixture, name: string): Float32Array => {
  const t = fx.t[name];
  if (!t) throw new Error(`${fx.meta.name}: fixture has no tensor '${name}'`);
  return t.data as Float32Array;
};
const ref = (fx: Fixture, name: string): ArrayLike<number> | undefined => fx.t[name]?.data as Float64Array | undefined;

/** Writes the fixture's weights of `who` into a model's parameters, and its batch-norm running statistics into the buffers (by name). */
function setWeights(m: Sequential, fx: Fixture, who: 'teacher' | 'student'): void {
  for (const spec of m.store.specs) m.store.view(spec).set(f32(fx, `${who}.${spec.name}`));
  for (const spec of m.buffers.specs) m.buffers.view(spec).set(f32(fx, `${who}_buffers.${spec.name}`));
}

// ----------------------------------------------------------------------------------------------
// What a path produces per step (every array a copy, taken right after the step)

interface StepOut {
  teacherLogits?: Float32Array;
  studentLogits?: Float32Array;
  loss: number;
  /** By fixture name: grad.<param>, param.<param>, state.<buf>.<param>, buffer.<running stat>. */
  tensors: Map<string, Float32Array>;
}

function snapshot(m: Sequential, opt: Optimizer | null, into: Map<string, Float32Array>): void {
  for (const spec of m.store.specs) {
    into.set(`grad.${spec.name}`, m.store.gradView(spec).slice());
    into.set(`param.${spec.name}`, m.store.view(spec).slice());
    if (opt) for (const [buf, flat] of Object.entries(opt.state())) into.set(`state.${buf}.${spec.name}`, flat.slice(spec.offset, spec.offset + spec.size));
  }
  for (const spec of m.buffers.specs) into.set(`buffer.${spec.name}`, m.buffers.view(spec).slice());
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
      // The student's logits with the weights this step starts from (forward only; step() runs its
      // own). A training forward updates batch norm's running statistics: put them back.
      const running = inside.student.buffers.data.slice();
      const studentLogits = inside.student.forward(inside.x, meta.N).slice(0, meta.N * K);
      inside.student.buffers.data.set(running);
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
  const data: Dataset = { name: `parity-${meta.name}`, x, y, n: 2 * N, features: C, classes: K, ...(meta.student.input.length > 1 ? { shape: [...meta.student.input] } : {}) };
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

/** max |a − ref| (abs) and max |a − ref| / max |ref| (rel); NaN anywhere → Infinity. */
function errors(a: ArrayLike<number>, r: ArrayLike<number>): { abs: number; rel: number } {
  if (a.length !== r.length) throw new Error(`length ${a.length} vs ${r.length}`);
  let d = 0, mag = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - r[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
    mag = Math.max(mag, Math.abs(r[i]));
  }
  return { abs: d, rel: mag > 0 ? d / mag : d };
}

const KINDS = ['teacher_logits', 'student_logits', 'loss', 'grad', 'state', 'param', 'buffer', 'update'] as const;
type Kind = (typeof KINDS)[number];
/** The kinds held to the absolute bound (an update is a difference of two weights, each of which is). */
const ABSOLUTE_KINDS = new Set<Kind>(['teacher_logits', 'student_logits', 'loss', 'grad', 'state', 'param', 'buffer']);

interface Check {
  /** Fixture name of the reference, e.g. step2.grad.layers.0.weight. */
  name: string;
  kind: Kind;
  step: number;
  /** Relative error and its tolerance (Infinity for a zero reference: the absolute bound only). */
  err: number;
  tol: number;
  /** Absolute error and its bound (Infinity where not bounded). */
  abs: number;
  absTol: number;
}

const passes = (c: Check) => c.err <= c.tol && c.abs <= c.absTol;

/**
 * Every tensor the path produced against the fixture's references under `prefix` ('' for the
 * real ones, 'control.<name>.' for a control), with the tolerances of the real case's tensor.
 */
function compare(fx: Fixture, out: StepOut[], prefix = ''): Check[] {
  const { factor, floor, absolute } = manifest.tolerance;
  const zero = new Set(fx.meta.zero_reference ?? []);
  const checks: Check[] = [];
  const add = (name: string, kind: Kind, step: number, a: ArrayLike<number>, r: ArrayLike<number> | undefined) => {
    if (!r) return;
    const e32 = fx.meta.torch_f32_error[name];
    if (e32 === undefined) throw new Error(`${fx.meta.name}: cases.json has no torch_f32_error for '${name}'`);
    const { abs, rel } = errors(a, r);
    const tol = zero.has(name) ? Infinity : Math.max(factor * Math.max(e32, floor), fx.meta.f32_bound[name] ?? 0);
    checks.push({ name, kind, step, err: rel, tol, abs, absTol: ABSOLUTE_KINDS.has(kind) && !fx.meta.largeLogits ? absolute : Infinity });
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
  // Every loss, gradient, weight and running statistic the case holds was compared (one the path
  // no longer produces must not pass unseen; the logits and optimizer state only the bench paths hold).
  if (!prefix) {
    const seen = new Set(checks.map((c) => c.name));
    const missing = Object.keys(fx.t).filter((n) => /^step\d\.(loss$|grad\.|param\.|buffer\.)/.test(n) && !seen.has(n));
    if (missing.length) throw new Error(`${fx.meta.name}: the path produced nothing to compare with ${missing.join(', ')}`);
  }
  return checks;
}

const fmt = (c: Check) => c.err > c.tol
  ? `${c.name}: ${c.err.toExponential(2)} > tol ${c.tol.toExponential(2)} (relative)`
  : `${c.name}: ${c.abs.toExponential(2)} > ${c.absTol.toExponential(2)} (absolute)`;

// ----------------------------------------------------------------------------------------------
// The figures: worst error per case group (MLP, CNN), backend and tensor kind, printed at the end.

interface Worst { err: number; ratio: number; abs: number }
const worst = new Map<string, Map<string, Map<Kind, Worst>>>();
/** PARITY_DUMP=file.jsonl: every check of every backend, case and path, one JSON line each. */
const dump: string[] = [];
function record(group: string, be: string, checks: Check[], where = ''): void {
  if (process.env.PARITY_DUMP) for (const c of checks) dump.push(JSON.stringify({ backend: be, where, ...c }));
  const byBe = worst.get(group) ?? new Map<string, Map<Kind, Worst>>();
  worst.set(group, byBe);
  const row = byBe.get(be) ?? new Map<Kind, Worst>();
  byBe.set(be, row);
  for (const c of checks) {
    const w = row.get(c.kind) ?? { err: 0, ratio: 0, abs: 0 };
    // A zero reference has no relative error to speak of: its absolute one is counted.
    const rel = Number.isFinite(c.tol) ? c.err : 0;
    row.set(c.kind, { err: Math.max(w.err, rel), ratio: Math.max(w.ratio, rel / c.tol, c.abs / c.absTol), abs: Math.max(w.abs, c.abs) });
  }
}
/** Per control: the smallest, over backends, paths and cases, of its worst error/tolerance (> 1: told apart everywhere). */
const controls = new Map<string, Check>();
const ratio = (c: Check) => Math.max(c.err / c.tol, c.abs / c.absTol);
function recordControl(name: string, top: Check): void {
  const c = controls.get(name);
  if (!c || ratio(top) < ratio(c)) controls.set(name, top);
}
afterAll(() => {
  if (process.env.PARITY_DUMP) writeFileSync(process.env.PARITY_DUMP, dump.join('\n') + '\n');
  if (!worst.size) return;
  const lines: string[] = [];
  for (const [group, byBe] of worst) {
    const n = group === 'cnn' ? cnnFixtures.length : mlpFixtures.length;
    lines.push(`${group.toUpperCase()} cases (${n}): worst max|a-ref|/max|ref| and max|a-ref| per backend and tensor kind (in brackets: worst error/tolerance, either bound), paths ${PATHS.map((p) => p.name).join(', ')}:`);
    lines.push(['backend'.padEnd(16), ...KINDS.map((k) => k.padStart(26))].join(''));
    for (const [be, row] of byBe) {
      lines.push([be.padEnd(16), ...KINDS.map((k) => {
        const w = row.get(k);
        return (w ? `${w.err.toExponential(1)}/${w.abs.toExponential(1)} (${w.ratio.toFixed(2)})` : '-').padStart(26);
      })].join(''));
    }
  }
  for (const [name, c] of controls) lines.push(`control ${name}: worst tensor at least ${ratio(c).toFixed(1)}x its tolerance on every backend and path (least: ${c.name}, ${c.err.toExponential(2)} vs ${c.tol.toExponential(2)})`);
  console.log(lines.join('\n'));
});

// ----------------------------------------------------------------------------------------------

const { backends } = await backendsUnderTest();

describe('parity fixtures', () => {
  it('are what the test expects (every case has both steps, every tolerance, and its controls; the CNN cases cover conv, pooling and batchnorm)', () => {
    expect(mlpFixtures.length).toBeGreaterThanOrEqual(12);
    expect(cnnFixtures.length).toBeGreaterThanOrEqual(4);
    expect(manifest.tolerance.absolute).toBe(1e-4);
    for (const fx of fixtures) {
      for (const k of [1, 2]) for (const p of fx.params) expect(ref(fx, `step${k}.param.${p}`), `${fx.meta.name} step${k} ${p}`).toBeDefined();
      for (const c of Object.keys(fx.meta.controls)) expect(ref(fx, `control.${c}.step2.loss`), `${fx.meta.name} control ${c}`).toBeDefined();
      for (const m of ['teacher', 'student'] as const) {
        for (const b of stateNames(fx.meta[m])) {
          expect(fx.t[`${m}_buffers.${b}`], `${fx.meta.name} ${m} buffer ${b}`).toBeDefined();
          if (m === 'student') for (const k of [1, 2]) expect(ref(fx, `step${k}.buffer.${b}`), `${fx.meta.name} step${k} running statistic ${b}`).toBeDefined();
        }
      }
    }
    const controls = new Set(fixtures.flatMap((fx) => Object.keys(fx.meta.controls)));
    expect([...controls].sort()).toEqual(['adamw_f32_complement', 'bn_unbiased', 'conv_flipped', 'no_t2', 'other_momentum', 'reversed_kl']);
    const covered = cnnFixtures.map((fx) => fx.layers).join(', ');
    for (const l of ['conv', 'strided/padded conv', 'grouped conv', 'depthwise conv', 'maxpool', 'avgpool', 'gap', 'batchnorm', 'eval batchnorm (teacher)']) expect(covered.split(', '), l).toContain(l);
    expect(cnnFixtures.some((fx) => fx.meta.optimizer.kind === 'adamw' && fx.bn)).toBe(true);
  });
});

/** The buffer names a config's model has (batch norm's running statistics), without a backend. */
function stateNames(c: ModelConfig): string[] {
  return stateShapes(c).buffers.map((b) => b.name);
}

/** One path over some cases: every tensor within both bounds, every control told apart. */
async function checkPath(be: Backend, path: Path, cases: Fixture[]): Promise<void> {
  const failures: string[] = [];
  for (const fx of cases) {
    const out = await path.run(be, fx);
    expect(out.length, `${fx.meta.name}: steps taken`).toBe(2);
    const checks = compare(fx, out);
    record(fx.cnn ? 'cnn' : 'mlp', be.name, checks, `${fx.meta.name} ${path.name}`);
    for (const c of checks) if (!passes(c)) failures.push(`${fx.meta.name} ${path.name}: ${fmt(c)}`);
    // Negative controls: a deliberately different reference must be told apart.
    for (const control of Object.keys(fx.meta.controls)) {
      const cc = compare(fx, out, `control.${control}.`);
      const top = cc.reduce((a, b) => (ratio(b) > ratio(a) ? b : a));
      recordControl(control, top);
      if (passes(top)) failures.push(`${fx.meta.name} ${path.name}: control '${control}' was not told apart (its worst tensor ${top.name}: ${top.err.toExponential(2)} <= tol ${top.tol.toExponential(2)})`);
    }
  }
  expect(failures, failures.join('\n')).toEqual([]);
}

describe.each(backends.map((b) => [b.name, b] as const))('parity with PyTorch on %s', (_n, be) => {
  for (const path of PATHS) {
    it.skipIf(!allowsWorkers(be, path.workers))(`${path.name}: every MLP case, every tensor within tolerance; every control fails`, async () => {
      await checkPath(be, path, mlpFixtures);
    });
  }

  for (const fx of cnnFixtures) {
    for (const path of PATHS) {
      const title = `${path.name}: CNN ${fx.meta.name} (${fx.layers}): every tensor within 1e-4 and tolerance${Object.keys(fx.meta.controls).length ? '; its controls fail' : ''}`;
      it.skipIf(!allowsWorkers(be, path.workers))(title, () => checkPath(be, path, [fx]));
    }
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
