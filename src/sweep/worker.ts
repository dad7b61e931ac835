// A sweep worker thread (piscina, through dist/sweep/worker-entry.cjs): trains whole candidates
// on one thread each, so several train at once. The training and validation sets and the teacher
// logits arrive once, in shared memory (workerData), never per task. Also times concurrent
// training steps for the sweep's parallelism measurement.

import { workerData } from 'node:worker_threads';
import { loadBackend } from '../backends/index.js';
import type { Backend } from '../backends/backend.js';
import { KdStepRunner, type StepShapes } from '../step/kd-step.js';
import { trainCandidate, type CandidateData, type CandidateJob, type CandidateResult } from './candidate.js';

export type SweepTask =
  | { kind: 'train'; backend: string; job: CandidateJob }
  | { kind: 'steps'; backend: string; shapes: StepShapes; ms: number };

const data = workerData as CandidateData;
const backends = new Map<string, Promise<Backend>>();
const backend = (name: string) => {
  if (!backends.has(name)) backends.set(name, loadBackend(name));
  return backends.get(name)!;
};

/** 'train': one candidate job on one thread. 'steps': training steps for `ms` (after one warm-up), returns how many and how long. */
export default async function run(task: SweepTask): Promise<CandidateResult | { steps: number; ms: number } | null> {
  const be = await backend(task.backend);
  if (task.kind === 'train') return trainCandidate(be, 1, task.job, data);
  const r = await KdStepRunner.create(be, 1, task.shapes);
  try {
    await r.step();
    const t0 = performance.now();
    let steps = 0;
    while (performance.now() - t0 < task.ms || steps < 3) {
      await r.step();
      steps++;
    }
    return { steps, ms: performance.now() - t0 };
  } finally {
    await r.close();
  }
}
