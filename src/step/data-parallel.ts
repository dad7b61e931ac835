// Data-parallel training steps over a piscina pool (DESIGN.md, "Parallel training"). The main
// thread owns the parameters in shared memory; each worker runs forward + backward on its shard
// of the batch into its own gradient slot; slots are summed in a fixed order (so results do not
// depend on timing) and the main thread steps the optimizer. Same seed + backend + worker
// count gives bitwise-identical weights.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { allowsWorkers, type Backend, type WorkerShare } from '../backends/backend.js';
import { BackendUnavailableError, WorkerFailure } from '../errors.js';
import type { Sequential } from '../nn/sequential.js';
import type { KdConfig, LossParts, TeacherFusion } from '../distill/objectives.js';
import type { Optimizer, UpdatePlan } from '../optim/optimizer.js';
import type { HintAdapters } from '../distill/hints.js';
import { abortBnExchange, createBnExchange, resetBnExchange, BARRIER_TIMEOUT_MS, type BnExchange } from './bn-sync.js';
import { describeBuf, type StepResult, type StepTask, type Task, type UpdateTask, type WorkerInit } from './shared.js';

/**
 * The compiled worker's CommonJS entry (piscina cannot load .ts on Node 20, and requiring the ES
 * module directly can abort the process on Node 20.19+; see worker-entry.cts).
 */
const WORKER = fileURLToPath(new URL('../../dist/step/worker-entry.cjs', import.meta.url));

export interface ParallelOptions {
  workers: number;
  /** The optimizer whose (shared) state the workers update; its step is planned here. */
  optimizer: Optimizer;
  /** Largest batch the buffers must hold. */
  maxBatch: number;
  /** How several teachers are combined (default 'logits'). */
  fusion?: TeacherFusion;
  /** FitNets hint adapters against the first teacher (the main thread's: parameters, gradients and optimizer state are shared with the workers). */
  hints?: HintAdapters;
  /** Quantization-aware training: the main thread's Qat area (ranges + one stats slot per worker), viewed by the workers. */
  qat?: Float32Array;
  /** Tests only: inject a fault into the step task of this shard at the given call ('missing': the task is never run). */
  faultAt?: { call: number; shard: number; kind: 'throw' | 'exit' | 'missing'; times?: number };
  /** How long a shard waits for the others at a batch-norm barrier before its step fails (default 60 s). */
  barrierTimeoutMs?: number;
  log?: (msg: string) => void;
}

/** Contiguous near-equal shards of [0, N): at most `workers`, none empty. */
export function shardRanges(N: number, workers: number): [number, number][] {
  const S = Math.max(1, Math.min(workers, N));
  const out: [number, number][] = [];
  for (let i = 0; i < S; i++) out.push([Math.floor((i * N) / S), Math.floor(((i + 1) * N) / S)]);
  return out;
}

export class DataParallel {
  /** Inputs (maxBatch, C), labels (maxBatch), teacher logits (maxBatch, K): fill, then step(). */
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly t: Float32Array;
  /** The labeled-row mask of a partly labeled batch (1 = labeled), filled by the caller before step(). */
  readonly mask: Int32Array;
  private readonly slots: Float32Array[];
  /** The hint adapters' gradient slots (slot 0 is theirs), when hints are used. */
  private readonly hintSlots: Float32Array[] = [];
  private readonly pool: Piscina;
  private calls = 0;
  private faultsLeft: number;
  private closed = false;
  private lastShards = 1;
  private readonly share: WorkerShare;
  /** The batch-norm exchange and barrier (a student with batch norm and several workers), and the step attempt it belongs to. */
  private readonly bnEx: BnExchange | null = null;
  private gen = 0;

  constructor(readonly backend: Backend, readonly student: Sequential, teachers: { model: Sequential; weight: number; temperature?: number }[], readonly opts: ParallelOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`workers must be an integer >= 1, got ${opts.workers}`);
    if (!allowsWorkers(backend, opts.workers)) throw new RangeError(`backend ${backend.name} runs at most ${backend.maxWorkers} worker(s), got ${opts.workers}`);
    if (!existsSync(WORKER)) throw new BackendUnavailableError(backend.name, `${WORKER} is missing; build first (npm run build:ts)`);
    const be = backend, W = opts.workers, B = opts.maxBatch;
    // Worker scratch (activations, gradients, matmul packing) for a shard of the largest batch.
    const rows = Math.ceil(B / W);
    const hints = opts.hints;
    if (hints && !teachers[0]) throw new RangeError('hints need the first teacher in the data-parallel workers');
    // Per-row activations the workers keep (their arenas are sized from it): every layer of every
    // model, and the hint adapters' outputs and gradients.
    const hintWidths = hints ? hints.cfg.pairs.reduce((a, p) => a + 2 * teachers[0].model.hiddenWidth(p.teacher) + student.hiddenWidth(p.student), 0) : 0;
    const widths = [student, ...teachers.map((t) => t.model)].reduce((a, m) => a + m.activationWidth, 0) + hintWidths;
    const share: WorkerShare = be.share ? be.share(W, 32 * 1024 * 1024 + 16 * rows * widths) : { name: be.name };
    const describe = (buf: Float32Array | Int32Array, what: string) => describeBuf(buf, share, what, be.owns?.(buf) ?? false);
    const describeState = (o: Optimizer, what: string) => Object.fromEntries(Object.entries(o.state()).map(([k, b]) => [k, describe(b, `${what} '${k}'`)]));
    this.x = be.alloc(B * student.inputs);
    this.y = be.allocInt32(B);
    this.t = be.alloc(B * student.classes);
    this.mask = be.allocInt32(B);
    // Slot 0 is the student's own gradient buffer: after the reduction it holds the batch gradient.
    this.slots = [student.store.grads];
    for (let i = 1; i < W; i++) this.slots.push(be.alloc(student.store.length));
    if (hints) {
      this.hintSlots.push(hints.store.grads);
      for (let i = 1; i < W; i++) this.hintSlots.push(be.alloc(hints.store.length));
    }
    this.share = share;
    if (W > 1 && student.batchNorms.length) this.bnEx = createBnExchange(W, Math.max(...student.batchNorms.map((b) => b.C)), opts.barrierTimeoutMs ?? BARRIER_TIMEOUT_MS);
    const init: WorkerInit = {
      share,
      student: student.config,
      params: describe(student.store.params, 'student parameters'),
      ...(student.buffers.length ? { buffers: describe(student.buffers.data, 'student buffers') } : {}),
      ...(this.bnEx ? { bnSync: this.bnEx } : {}),
      gradSlots: this.slots.map((g, i) => describe(g, `gradient slot ${i}`)),
      teachers: teachers.map((t, i) => ({ config: t.model.config, params: describe(t.model.store.params, `teacher ${i} parameters`), ...(t.model.buffers.length ? { buffers: describe(t.model.buffers.data, `teacher ${i} buffers`) } : {}), weight: t.weight, temperature: t.temperature })),
      fusion: opts.fusion ?? 'logits',
      optState: describeState(opts.optimizer, 'optimizer state'),
      x: describe(this.x, 'batch inputs'),
      y: describe(this.y, 'batch labels'),
      t: describe(this.t, 'teacher logits'),
      mask: describe(this.mask, 'labeled-row mask'),
      ...(opts.qat ? { qat: { area: describe(opts.qat, 'QAT ranges and stats'), shards: W } } : {}),
      ...(hints ? {
        hints: {
          cfg: hints.cfg,
          params: describe(hints.store.params, 'hint adapter parameters'),
          gradSlots: this.hintSlots.map((g, i) => describe(g, `hint gradient slot ${i}`)),
          optState: describeState(hints.optimizer, 'hint optimizer state'),
        },
      } : {}),
    };
    this.faultsLeft = opts.faultAt?.times ?? 1;
    this.pool = new Piscina({ filename: WORKER, minThreads: W, maxThreads: W, idleTimeout: 60_000, concurrentTasksPerWorker: 1, workerData: init });
    this.pool.on('error', (e: Error) => opts.log?.(`worker error: ${e.message}`));
  }

  /** The number of shards of the last step (its stats slots hold QAT's batch ranges). */
  get shardsUsed(): number {
    return this.lastShards;
  }

  get workers(): number {
    return this.opts.workers;
  }

  private async runAll(tasks: Task[], what: string): Promise<(StepResult | null)[]> {
    if (this.closed) throw new WorkerFailure(`data-parallel pool is closed`);
    const settled = await Promise.allSettled(tasks.map((t) => {
      if (t.op === 'step' && t.fault === 'missing') return Promise.resolve(null); // tests: a shard that never arrives
      const p = this.pool.run(t) as Promise<StepResult | null>;
      // A failed (or killed) shard releases the others from the batch-norm barrier at once.
      if (t.op === 'step' && this.bnEx) p.catch(() => abortBnExchange(this.bnEx!, t.gen));
      return p;
    }));
    const bad = settled.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (bad) throw new WorkerFailure(`${what} failed in a worker: ${(bad.reason as Error)?.message ?? bad.reason}`);
    return settled.map((r) => (r as PromiseFulfilledResult<StepResult | null>).value);
  }

  /** Starts the workers and builds their models (otherwise the first step pays for it). */
  async warmup(): Promise<void> {
    await this.runAll(Array.from({ length: this.workers }, () => ({ op: 'update', from: 0, to: 0, slots: 1, plan: null }) as Task), 'warm-up');
  }

  /**
   * Forward + loss + backward for the first N rows of x/y (and t when the teachers are not run
   * online) into the gradient slots; then update() sums them and steps. A failed step is
   * retried once (it has changed nothing the retry depends on); a second failure throws.
   */
  async step(N: number, o: { kd: KdConfig | null; teacherOnline: boolean; training: boolean; dropoutSeed: number; labeled?: number; hintOnly?: boolean; qat?: boolean }): Promise<LossParts> {
    const call = this.calls++;
    const shards = shardRanges(N, this.workers);
    const tasks: StepTask[] = shards.map(([r0, r1], shard) => ({
      op: 'step', shard, shards: shards.length, gen: 0, r0, r1, N, kd: o.kd, teacherOnline: o.teacherOnline, training: o.training, labeled: o.labeled, hintOnly: o.hintOnly, qat: o.qat,
      dropoutSeed: (Math.imul(o.dropoutSeed >>> 0, 0x9e3779b1) ^ Math.imul(shard + 1, 0x85ebca6b)) >>> 0,
    }));
    // The running statistics before the step: a failed attempt may have updated some of them.
    const buffers = this.student.buffers.length ? this.student.buffers.data : null;
    const saved = buffers?.slice();
    let results: (StepResult | null)[];
    try {
      results = await this.runAll(this.attempt(tasks, call), `step ${call + 1}`);
    } catch (e) {
      this.opts.log?.(`${(e as Error).message}; retrying the step once`);
      if (buffers) buffers.set(saved!);
      results = await this.runAll(this.attempt(tasks, call), `step ${call + 1} (retry)`);
    }
    this.lastShards = shards.length;
    const out: LossParts = { loss: 0, kd: 0, ce: 0 };
    if (results.some((r) => !r)) throw new WorkerFailure(`step ${call + 1}: a shard returned no result`);
    for (const r of results) {
      out.loss += r!.loss; out.kd += r!.kd; out.ce += r!.ce;
      if (r!.hint !== undefined) out.hint = (out.hint ?? 0) + r!.hint;
    }
    return out;
  }

  /**
   * A new attempt of a step: a fresh generation of the batch-norm exchange (no task of an earlier
   * attempt runs any more: runAll waited for all of them), and, in tests, the configured shard's
   * task of this call marked as faulty, `times` attempts in all.
   */
  private attempt(tasks: StepTask[], call: number): StepTask[] {
    const gen = ++this.gen;
    if (this.bnEx) resetBnExchange(this.bnEx, gen);
    for (const t of tasks) {
      delete t.fault;
      t.gen = gen;
    }
    const f = this.opts.faultAt;
    if (f && f.call === call && this.faultsLeft > 0 && tasks[f.shard]) {
      tasks[f.shard].fault = f.kind;
      this.faultsLeft--;
    }
    return tasks;
  }

  /**
   * Sums the last step's gradient slots into the student's gradient buffer and applies the
   * optimizer's next update, each worker over its own range of the parameters. Not retried: a
   * half-applied update cannot be repeated, so a failure here stops the run (WorkerFailure) and
   * the last checkpoint stays as it was.
   */
  async update(lr: number): Promise<void> {
    // One range of the parameters per worker; the hint adapters' update in the same round trip.
    const ranges = (group: UpdateTask['group'], length: number, plan: UpdatePlan): Task[] => {
      const chunk = Math.ceil(length / this.workers / 4) * 4, out: Task[] = [];
      for (let from = 0; from < length; from += chunk) out.push({ op: 'update', group, from, to: Math.min(length, from + chunk), slots: this.lastShards, plan });
      return out;
    };
    const hints = this.opts.hints;
    const tasks = ranges('student', this.student.store.length, this.opts.optimizer.planStep(lr));
    if (hints) tasks.push(...ranges('hints', hints.store.length, hints.optimizer.planStep(lr)));
    await this.runAll(tasks, 'gradient reduction and update');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
    for (let i = 1; i < this.slots.length; i++) this.backend.free(this.slots[i]);
    for (let i = 1; i < this.hintSlots.length; i++) this.backend.free(this.hintSlots[i]);
    this.backend.free(this.x);
    this.backend.free(this.y);
    this.backend.free(this.t);
    this.backend.free(this.mask);
    // Worker arena slots carved from a shared-memory backend's arena (see Backend.share).
    const m = this.share.memory;
    if (m) for (const b of this.share.arenas?.bases ?? []) this.backend.free(new Float32Array(m.buffer, b, 0));
  }
}
