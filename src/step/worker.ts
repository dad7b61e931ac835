// A data-parallel worker (run by piscina through dist/parallel/worker-entry.cjs): one backend instance per
// thread, the student (and teachers) as views on the main thread's shared parameters, and one
// gradient slot per shard. Tasks carry row ranges and offsets only.

import { workerData } from 'node:worker_threads';
import { attachBackend } from '../backends/index.js';
import type { Backend } from '../backends/backend.js';
import { Sequential } from '../nn/sequential.js';
import { Rng } from '../nn/rng.js';
import { applyUpdate } from '../optim/optimizer.js';
import { distillStep } from './step.js';
import { HintAdapters } from '../distill/hints.js';
import { Qat } from '../compress/qat.js';
import { BnSyncSkipped, SharedBnSync } from './bn-sync.js';
import { f32View, i32View, type BufDesc, type StepResult, type StepTask, type Task, type WorkerInit } from './shared.js';

interface State {
  be: Backend;
  student: Sequential;
  teachers: { model: Sequential; weight: number; temperature?: number }[];
  params: Float32Array;
  /** The main thread's student buffers (shard 0 updates them) and this worker's own copy (the other shards'). */
  buffers: { shared: Float32Array; own: Float32Array } | null;
  slots: Float32Array[];
  x: Float32Array;
  y: Int32Array;
  t: Float32Array;
  mask: Int32Array;
  dS: Float32Array;
  optState: Record<string, Float32Array>;
  /** Hint adapters over the shared adapter parameters, with their slots and optimizer state. */
  hints: { adapters: HintAdapters; params: Float32Array; slots: Float32Array[]; optState: Record<string, Float32Array> } | null;
  /** The student's batch-norm layers' view of the shards' exchange area and barrier. */
  bnSync: SharedBnSync | null;
  /** Fake-quant hooks over the main thread's shared QAT ranges and stats. */
  qat: Qat | null;
}

const init = workerData as WorkerInit;
let state: Promise<State> | null = null;

async function setup(): Promise<State> {
  const be = await attachBackend(init.share);
  const params = f32View(init.params, init.share);
  const slots = init.gradSlots.map((d) => f32View(d, init.share));
  // Kernels must run on the shared buffers in place: a backend that would copy them is a bug here.
  if (init.share.memory && be.owns && !be.owns(params)) throw new Error(`${be.name} worker: the shared parameters are not in this instance's memory`);
  const student = new Sequential(be, init.student, 0, { params, grads: slots[0] });
  const teachers = init.teachers.map((t) => {
    const model = new Sequential(be, t.config, 0, { params: f32View(t.params, init.share) }).eval();
    if (t.buffers) model.buffers.bind(f32View(t.buffers, init.share)); // the trained running statistics (eval mode only reads them)
    return { model, weight: t.weight, temperature: t.temperature };
  });
  const x = f32View(init.x, init.share);
  const K = student.classes;
  const views = (r: Record<string, BufDesc>) => Object.fromEntries(Object.entries(r).map(([k, d]) => [k, f32View(d, init.share)]));
  const optState = views(init.optState);
  const maxRows = x.length / student.inputs;
  let hints: State['hints'] = null;
  if (init.hints) {
    const h = init.hints;
    const hp = f32View(h.params, init.share), hs = h.gradSlots.map((d) => f32View(d, init.share));
    const adapters = new HintAdapters(be, student, teachers[0].model, h.cfg, null, 0, maxRows, { params: hp, grads: hs[0] });
    hints = { adapters, params: hp, slots: hs, optState: views(h.optState) };
  }
  const buffers = init.buffers ? { shared: f32View(init.buffers, init.share), own: student.buffers.data } : null;
  const bnSync = init.bnSync && student.batchNorms.length ? new SharedBnSync(init.bnSync) : null;
  const qat = init.qat ? new Qat(student, init.qat.shards, f32View(init.qat.area, init.share)) : null;
  return { qat, be, student, teachers, params, buffers, slots, x, y: i32View(init.y, init.share), t: f32View(init.t, init.share), mask: i32View(init.mask, init.share), dS: be.alloc(maxRows * K), optState, hints, bnSync };
}

function step(s: State, task: StepTask): StepResult {
  const { student } = s;
  const n = task.r1 - task.r0;
  student.store.bind(s.params, s.slots[task.shard]);
  // Batch norm: with several shards, the layers combine their statistics and gradient sums with
  // the other shards' (bn-sync.ts), so every shard normalizes with the whole batch's; the
  // running statistics are then the same on every shard, and shard 0 writes the saved ones.
  if (s.buffers) student.buffers.bind(task.shard === 0 ? s.buffers.shared : s.buffers.own);
  const sync = s.bnSync && task.shards > 1 ? s.bnSync : null;
  sync?.begin(task.gen, task.shard, task.shards);
  for (const b of student.batchNorms) b.sync = sync ?? undefined;
  student.rng.setState(new Rng(task.dropoutSeed).getState());
  if (task.training) student.train(); else student.eval();
  if (s.qat) {
    s.qat.bindShard(task.shard);
    s.qat.setEnabled(!!task.qat);
  } else if (task.qat) throw new Error('a QAT step, but this worker has no QAT hooks');
  const h = s.hints;
  if (h) h.adapters.store.bind(h.params, h.slots[task.shard]);
  // The backward overwrites this shard's slot: no zeroing pass.
  let parts: StepResult;
  try {
    parts = runStep(s, task, n);
  } catch (e) {
    // Another shard's loss was not finite: it skipped the backward, the trainer stops on its loss.
    if (e instanceof BnSyncSkipped) return { loss: NaN, kd: NaN, ce: NaN };
    sync?.abort('failed'); // the other shards stop waiting now
    throw e;
  }
  // A non-finite loss skips the backward here (distillStep): release the shards waiting in theirs.
  if (sync && !Number.isFinite(parts.loss)) sync.abort('skipped');
  return parts;
}

function runStep(s: State, task: StepTask, n: number): StepResult {
  const { student, be } = s;
  const C = student.inputs, K = student.classes;
  const h = s.hints;
  return distillStep(
    { be, student, online: s.teachers, fusion: init.fusion, hints: h?.adapters ?? null, hintTeacher: s.teachers[0]?.model ?? null },
    {
      x: s.x.subarray(task.r0 * C, task.r1 * C), y: s.y.subarray(task.r0, task.r1), t: s.t.subarray(task.r0 * K, task.r1 * K),
      mask: s.mask.subarray(task.r0, task.r1), dS: s.dS, n, kd: task.kd, teacherOnline: task.teacherOnline,
      hintOnly: task.hintOnly, labeled: task.labeled, scale: n / task.N, // this shard's share of the batch mean
    },
  );
}

export default async function run(task: Task): Promise<StepResult | null> {
  state ??= setup();
  const s = await state;
  switch (task.op) {
    case 'step':
      if (task.fault === 'throw') throw new Error(`injected fault in shard ${task.shard}`);
      if (task.fault === 'exit') process.exit(70);
      return step(s, task);
    case 'update': {
      const g = task.group === 'hints' ? s.hints : s;
      if (!g) throw new Error('update of the hint adapters, but this worker has none');
      const g0 = g.slots[0], n = task.to - task.from;
      // g0 += g_k as a one-row bias_add: the backend's vectorized kernel (a JS loop over shared
      // memory took ~1.6 ms per 640k floats, most of the update's time).
      for (let k = 1; k < task.slots && n > 0; k++) s.be.bias_add(g0.subarray(task.from, task.to), g.slots[k].subarray(task.from, task.to), 1, n);
      if (task.plan) applyUpdate(s.be, task.plan, g.params, g0, g.optState, task.from, task.to);
      return null;
    }
  }
}
