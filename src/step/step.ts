// ONE training step on a batch shard: teacher logits (given, or computed here from the online
// teachers), student forward, the output objective (KD + CE, CE, partly labeled, or nothing in
// the hint-only stage), hint losses through their adapters, and backward into the gradient
// buffers. The trainer's one-thread path, the data-parallel workers, the -mt backends (one
// thread, split kernels) and `distill bench`'s KD-step row all run this function; the optimizer
// update, batching, schedules and checkpoints stay with their callers. This is the only place in
// src/ outside src/nn that calls a backward pass.

import type { Backend } from '../backends/backend.js';
import type { F32, I32 } from '../kernels/signatures.js';
import type { Sequential } from '../nn/sequential.js';
import { batchObjective, teacherLogits, type KdConfig, type LossParts, type TeacherFusion, type TeacherSpec } from '../distill/objectives.js';
import { cosineLoss, type HintAdapters } from '../distill/hints.js';

/** The models of one step: what stays the same from batch to batch. */
export interface StepModels {
  be: Backend;
  student: Sequential;
  /** Teachers run on the batch when `teacherOnline` (eval mode), fused into `t`. */
  online: (TeacherSpec & { model: Sequential })[];
  fusion: TeacherFusion;
  /** FitNets hint adapters against `hintTeacher` (the first teacher), or null. */
  hints: HintAdapters | null;
  hintTeacher: Sequential | null;
}

/** One batch, or one shard of one (rows of a larger batch of `scale`⁻¹ × n rows). */
export interface StepBatch {
  /** Inputs (n, C), labels (n), teacher logits (n, K): filled by the caller unless `teacherOnline`. */
  x: F32;
  y: I32;
  t: F32;
  /** Labeled-row mask (n) of a partly labeled batch (read when `labeled` is given). */
  mask: ArrayLike<number>;
  /** Gradient of the loss w.r.t. the student's logits (n, K): scratch, overwritten. */
  dS: F32;
  n: number;
  /** KD settings of this epoch, or null for plain CE. */
  kd: KdConfig | null;
  /** Run the online teachers on x into t (else t already holds the fused teacher logits). */
  teacherOnline: boolean;
  /** FitNets stage 1: the hint loss alone. */
  hintOnly?: boolean;
  /** A partly labeled batch: how many of the whole batch's rows are labeled. */
  labeled?: number;
  /** This shard's share of the batch mean (rows / batch rows); 1 for a whole batch. */
  scale?: number;
}

/**
 * Forward, loss and backward of one batch shard. The student's gradients (and the hint
 * adapters') are overwritten, not accumulated: every parameter gets exactly one write. When the
 * loss is not finite the backward pass is skipped and the caller decides what to do.
 */
export function distillStep(m: StepModels, b: StepBatch): LossParts {
  const { be, student } = m;
  const { n, kd } = b;
  const K = student.classes;
  const scale = b.scale ?? 1;
  // Teachers first: their forward passes may grow a backend's memory, which must not happen
  // between the student's forward and its use.
  if (kd && b.teacherOnline) teacherLogits(m.online, b.x, n, b.t, kd.T, m.fusion);
  else if (m.hints) m.hintTeacher!.eval().forward(b.x, n); // the hint targets: the first teacher's hidden layers
  const z = student.forward(b.x, n);
  const dS = b.dS.subarray(0, n * K);
  const parts = batchObjective(be, dS, z, b.t.subarray(0, n * K), b.y, b.mask, n, K, { kd, hintOnly: b.hintOnly, labeled: b.labeled, scale });
  if (m.hints) {
    parts.hint = hintLossAndGrads(m.hints, student, m.hintTeacher!, n, scale);
    parts.loss += parts.hint;
  }
  if (Number.isFinite(parts.loss)) student.backward(dS, false, m.hints?.inputGrads);
  return parts;
}

/**
 * After the student's and the teacher's forward passes on the same n rows: the hint loss, the
 * adapters' gradients (overwritten), and in `hints.inputGrads` the gradient for each student
 * hidden block. `scale`: this shard's share of the batch, so shards sum to the batch's value.
 */
export function hintLossAndGrads(hints: HintAdapters, student: Sequential, teacher: Sequential, n: number, scale = 1): number {
  const weight = hints.weight * scale;
  let total = 0;
  hints.inputGrads.clear();
  hints.cfg.pairs.forEach(({ student: i, teacher: j }, k) => {
    const a = hints.adapters[k], W = a.outFeatures;
    const h = student.hidden(i), tgt = teacher.hidden(j);
    const out = a.forward(h, n);
    const d = hints.gradScratch(k, n);
    total += hints.kind === 'mse' ? hints.be.mse(d, out, tgt, n * W, weight, false) : cosineLoss(d, out, tgt, n, W, weight);
    const dh = a.backward(d, n, true, false)!;
    const prev = hints.inputGrads.get(i);
    if (prev) for (let q = 0; q < prev.length; q++) prev[q] += dh[q];
    else hints.inputGrads.set(i, dh.slice()); // a copy: the adapter reuses its dx scratch
  });
  return total;
}
