// The KD training step on given shapes with random data, on one backend with 1..n workers: the
// one step of step.ts (teacher forward in eval mode, student forward, KD/CE loss, hints,
// backward) plus the optimizer update. Used by the backend calibration and by `distill bench`;
// workload W (the project's standard benchmark) is defined here once.

import type { Backend } from '../backends/backend.js';
import { Sequential } from '../nn/sequential.js';
import { hiddenWidths, layerShapes, validateModelConfig, type ModelSpec } from '../nn/spec.js';
import { Rng } from '../nn/rng.js';
import type { KdConfig } from '../distill/objectives.js';
import { createOptimizer, type Optimizer, type OptimizerConfig } from '../optim/optimizer.js';
import { DataParallel } from './data-parallel.js';
import { HintAdapters, type HintConfig } from '../distill/hints.js';
import { distillStep } from './step.js';

export interface StepShapes {
  teachers: ModelSpec[];
  student: ModelSpec;
  /** Batch size. */
  N: number;
  kd: KdConfig;
  optimizer: OptimizerConfig;
  /** FitNets hints against the first teacher (their adapters are part of the step). */
  hints?: HintConfig;
}

/**
 * Workload W: float32; teacher 784-1200-1200-10 ReLU (eval, forward only); student
 * 784-800-800-10 ReLU; loss 0.9·T²·KL + 0.1·CE at T=4; SGD lr 0.01 momentum 0.9.
 */
export function workloadW(N: number): StepShapes {
  return {
    teachers: [{ layers: [784, 1200, 1200, 10], activation: 'relu' }],
    student: { layers: [784, 800, 800, 10], activation: 'relu' },
    N,
    kd: { T: 4, alpha: 0.9, scaleT2: true },
    optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 },
  };
}

/**
 * Workload C, the CNN KD step (../shared/anchors/torch/cnn_step.py): float32, NCHW, input
 * [N,1,28,28]; teacher conv32-pool-conv64-pool-fc128-fc10 (3×3 convs with padding 1, ReLU, 2×2
 * max-pool; eval, forward only); student conv16-pool-conv32-pool-fc10 (trained); loss
 * 0.9·T²·KL + 0.1·CE at T=4; SGD lr 0.01 momentum 0.9.
 */
export function workloadC(N: number): StepShapes {
  const block = (c: number) => [`conv:${c}x3/p1`, 'relu', 'maxpool:2'];
  return {
    teachers: [{ input: [1, 28, 28], layers: [...block(32), ...block(64), 'flatten', 'dense:128', 'relu', 'dense:10'] }],
    student: { input: [1, 28, 28], layers: [...block(16), ...block(32), 'flatten', 'dense:10'] },
    N,
    kd: { T: 4, alpha: 0.9, scaleT2: true },
    optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 },
  };
}

/** The benchmark workloads by name: W (MLP KD step) and C (CNN KD step), and their `distill bench` ops. */
export const WORKLOADS = {
  kd_step: { name: 'W', shapes: workloadW },
  kd_step_cnn: { name: 'C', shapes: workloadC },
} as const;
export type StepOp = keyof typeof WORKLOADS;

/** Multiply-adds per sample of each dense and conv layer of a model, in order (pooling, bn and activations are not counted). */
function layerMacs(m: ModelSpec): number[] {
  const c = validateModelConfig(m);
  const { parsed, shapes } = layerShapes(c);
  const out: number[] = [];
  parsed.forEach((l, i) => {
    const inShape = i === 0 ? c.input : shapes[i - 1], o = shapes[i];
    if (l.kind === 'dense') out.push(inShape.reduce((a, b) => a * b, 1) * l.units);
    else if (l.kind === 'conv') {
      const groups = l.groups === 'dw' ? inShape[0] : l.groups;
      out.push(o[0] * o[1] * o[2] * (inShape[0] / groups) * l.k * l.k);
    }
  });
  return out;
}

/** Multiply-adds ×2 of one step: teacher forward, student forward, student backward (dW, and dX below the first layer). */
export function stepFlops(s: StepShapes): number {
  const fwd = (m: ModelSpec) => layerMacs(m).reduce((a, x) => a + 2 * s.N * x, 0);
  const bwd = layerMacs(s.student).reduce((a, x, i) => a + 2 * s.N * x * (i === 0 ? 1 : 2), 0);
  // Each hint adapter (student width → teacher width): forward, dW and dX.
  const sh = hiddenWidths(validateModelConfig(s.student)), th = s.teachers[0] ? hiddenWidths(validateModelConfig(s.teachers[0])) : [];
  const hints = s.hints && s.teachers[0] ? s.hints.pairs.reduce((a, p) => a + 6 * s.N * sh[p.student] * th[p.teacher], 0) : 0;
  return s.teachers.reduce((a, t) => a + fwd(t), 0) + fwd(s.student) + bwd + hints;
}

export class KdStepRunner {
  private constructor(
    readonly backend: Backend,
    readonly workers: number,
    readonly shapes: StepShapes,
    private readonly teachers: { model: Sequential; weight: number }[],
    private readonly student: Sequential,
    private readonly opt: Optimizer,
    private readonly dp: DataParallel | null,
    private readonly x: Float32Array,
    private readonly y: Int32Array,
    private readonly t: Float32Array,
    private readonly dS: Float32Array,
    private readonly hints: HintAdapters | null,
  ) {}

  /** Last step's loss (finite if the backend computes). */
  loss = NaN;

  static async create(be: Backend, workers: number, s: StepShapes): Promise<KdStepRunner> {
    const teachers = s.teachers.map((c, i) => ({ model: new Sequential(be, c, 100 + i).eval(), weight: 1 }));
    const student = new Sequential(be, s.student, 2).train();
    const opt = createOptimizer(be, student.store.length, s.optimizer);
    const hints = s.hints && teachers[0] ? new HintAdapters(be, student, teachers[0].model, s.hints, s.optimizer, 0, s.N) : null;
    const dp = workers > 1 ? new DataParallel(be, student, teachers, { workers, optimizer: opt, maxBatch: s.N, hints: hints ?? undefined }) : null;
    const C = student.inputs, K = student.classes;
    const x = dp ? dp.x : be.alloc(s.N * C), y = dp ? dp.y : be.allocInt32(s.N), t = dp ? dp.t : be.alloc(s.N * K);
    const rng = new Rng(0);
    for (let i = 0; i < s.N * C; i++) x[i] = rng.normal();
    for (let i = 0; i < s.N; i++) y[i] = rng.int(K);
    const r = new KdStepRunner(be, workers, s, teachers, student, opt, dp, x, y, t, be.alloc(s.N * K), hints);
    if (dp) await dp.warmup();
    return r;
  }

  async step(): Promise<void> {
    const { N, kd, optimizer } = this.shapes;
    const kdOrCe = this.teachers.length ? kd : null;
    if (this.dp) {
      this.loss = (await this.dp.step(N, { kd: kdOrCe, teacherOnline: true, training: true, dropoutSeed: 1 })).loss;
      await this.dp.update(optimizer.lr); // the hint adapters' update too
      return;
    }
    this.loss = distillStep(
      { be: this.backend, student: this.student, online: this.teachers, fusion: 'logits', hints: this.hints, hintTeacher: this.teachers[0]?.model ?? null },
      { x: this.x, y: this.y, t: this.t, mask: [], dS: this.dS, n: N, kd: kdOrCe, teacherOnline: true },
    ).loss;
    this.opt.step(this.student.store.params, this.student.store.grads, optimizer.lr);
    this.hints?.step(optimizer.lr);
  }

  async close(): Promise<void> {
    if (this.dp) await this.dp.close();
    else {
      this.backend.free(this.x);
      this.backend.free(this.y);
      this.backend.free(this.t);
    }
    this.backend.free(this.dS);
    this.hints?.release();
    this.opt.release();
    this.student.release();
    for (const t of this.teachers) t.model.release();
  }
}

export interface Timing {
  samples: number[];
  median: number;
  min: number;
  max: number;
}

export function summarize(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const m = s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
  return { samples, median: m, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN };
}
