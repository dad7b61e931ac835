// How a sweep uses the cores: several candidates at once, one worker thread each (a piscina pool
// of sweep workers sharing the data), or one candidate at a time with the trainer's own measured
// choice of backend × data-parallel workers. Both are measured here, on the sweep's own shapes,
// and the faster (in training samples per second of the whole machine) is used.

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Backend } from '../backends/backend.js';
import type { Dataset } from '../data/dataset.js';
import { KdStepRunner, type StepShapes } from '../step/kd-step.js';
import type { CandidateData, CandidateJob, CandidateResult } from './candidate.js';
import type { SweepTask } from './worker.js';

/** The compiled worker entry (also when this module runs from src/ under vitest). */
const WORKER = fileURLToPath(new URL('../../dist/sweep/worker-entry.cjs', import.meta.url));

function shareF32(a: Float32Array): Float32Array {
  const s = new Float32Array(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
}
function shareI32(a: Int32Array): Int32Array {
  const s = new Int32Array(new SharedArrayBuffer(a.byteLength));
  s.set(a);
  return s;
}
const shareSet = (d: Dataset): Dataset => ({ ...d, x: shareF32(d.x), y: shareI32(d.y), labeled: undefined });

/** A pool of `threads` sweep workers; the data is copied once into shared memory. */
export class SweepPool {
  private readonly pool: Piscina;
  constructor(readonly threads: number, data: CandidateData) {
    const shared: CandidateData = { train: shareSet(data.train), val: shareSet(data.val), logits: shareF32(data.logits) };
    this.pool = new Piscina({ filename: WORKER, minThreads: threads, maxThreads: threads, idleTimeout: 60_000, concurrentTasksPerWorker: 1, workerData: shared });
  }

  /** One candidate job on one worker thread; null when `signal` aborted it (the thread is replaced). */
  async train(backend: string, job: CandidateJob, signal?: AbortSignal): Promise<CandidateResult | null> {
    try {
      return (await this.pool.run({ kind: 'train', backend, job } satisfies SweepTask, { signal })) as CandidateResult | null;
    } catch (e) {
      if (signal?.aborted) return null;
      throw e;
    }
  }

  steps(backend: string, shapes: StepShapes, ms: number): Promise<{ steps: number; ms: number }> {
    return this.pool.run({ kind: 'steps', backend, shapes, ms } satisfies SweepTask) as Promise<{ steps: number; ms: number }>;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** The backend for one thread of a parallel sweep: the -mt backends' helper threads would compete with the other candidates. */
export const singleThreadBackend = (name: string) => name.replace(/-mt$/, '');

export interface ParallelChoice {
  mode: 'parallel' | 'one-at-a-time';
  /** Candidates at once (1 when one at a time). */
  concurrency: number;
  /** The backend and data-parallel workers of each candidate. */
  backend: string;
  workers: number;
  /** Measured training samples per second of the whole machine, each way (null: not measured, with the reason). */
  measured: { parallel: number | null; oneAtATime: number | null };
  /** Samples per second of one candidate's training in the chosen mode (for the time estimates). */
  perJob: number;
  line: string;
}

/**
 * Measures `threads` candidates at once (one thread each, on `be`'s single-thread form) against
 * one at a time on (be, workers), the trainer's choice, for about `ms` each, and picks the faster.
 * With one core, or one candidate to train, only the one-at-a-time way is measured.
 */
export async function chooseParallelism(o: { shapes: StepShapes; be: Backend; workers: number; pool: SweepPool | null; candidates: number; ms?: number; force?: 'parallel' | 'one-at-a-time' }): Promise<ParallelChoice> {
  const ms = o.ms ?? 800, N = o.shapes.N;
  // One at a time: the trainer's backend and worker count, timed in this thread.
  const r = await KdStepRunner.create(o.be, o.workers, o.shapes);
  let seq: number;
  try {
    await r.step();
    const t0 = performance.now();
    let steps = 0;
    while (performance.now() - t0 < ms || steps < 3) { await r.step(); steps++; }
    seq = (steps * N) / ((performance.now() - t0) / 1000);
  } finally {
    await r.close();
  }
  const threads = o.pool?.threads ?? 1;
  const fmt = (x: number) => `${Math.round(x).toLocaleString('en-US')} samples/s`;
  const oneLine = `${o.be.name} ×${o.workers} worker${o.workers > 1 ? 's' : ''}`;
  if (!o.pool || threads < 2 || o.candidates < 2 || o.force === 'one-at-a-time') {
    const why = o.force === 'one-at-a-time' ? 'as asked (--parallel off)' : threads < 2 ? `${availableParallelism()} core` : 'one candidate to train';
    return { mode: 'one-at-a-time', concurrency: 1, backend: o.be.name, workers: o.workers, measured: { parallel: null, oneAtATime: seq }, perJob: seq, line: `one candidate at a time on ${oneLine} (${fmt(seq)}; ${why})` };
  }
  const pb = singleThreadBackend(o.be.name);
  const runs = await Promise.all(Array.from({ length: threads }, () => o.pool!.steps(pb, o.shapes, ms)));
  const par = runs.reduce((a, x) => a + (x.steps * N) / (x.ms / 1000), 0);
  const parallel = o.force === 'parallel' || (o.force === undefined && par > seq);
  const measuredLine = `measured: ${threads} candidates at once on ${pb} ×1 each ${fmt(par)}, one at a time on ${oneLine} ${fmt(seq)}`;
  return parallel
    ? { mode: 'parallel', concurrency: threads, backend: pb, workers: 1, measured: { parallel: par, oneAtATime: seq }, perJob: par / threads, line: `${threads} candidates at once (${measuredLine}${o.force ? '; --parallel on' : ''})` }
    : { mode: 'one-at-a-time', concurrency: 1, backend: o.be.name, workers: o.workers, measured: { parallel: par, oneAtATime: seq }, perJob: seq, line: `one candidate at a time (${measuredLine})` };
}
