// Data-parallel training over the piscina pool: bitwise determinism for a fixed worker count,
// agreement between 1 and 2 workers, recovery from a worker that throws or dies, a clean stop
// (checkpoint intact) when it keeps failing, and bit-exact resume with workers.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/index.js';
import { train, type TrainConfig, type TrainHooks } from '../src/train/trainer.js';
import { WorkerFailure } from '../src/errors.js';
import { Sequential } from '../src/nn/sequential.js';
import type { ModelSpec } from '../src/nn/spec.js';
import { backendsUnderTest, blobs } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-par-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


const data = blobs(203, 20, 5, 1);
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  epochs: 2, batchSize: 37, seed: 11, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'constant' },
  kd: { T: 3, alpha: 0.7 }, teacherMode: 'online', ...over,
});

async function run(be: Backend, mc: ModelSpec, c: TrainConfig, hooks: TrainHooks = {}): Promise<Float32Array> {
  const teacher = new Sequential(be, { layers: [20, 24, 5] }, 5);
  const m = new Sequential(be, mc, 3);
  await train(m, data, null, c, hooks, [{ model: teacher }]);
  return m.store.params.slice();
}

const { backends } = await backendsUnderTest();

// Backends that parallelize inside their kernels (native-mt) or keep buffers on a device (cuda)
// train in one worker (maxWorkers 1) and are not data-parallel candidates.
describe.each(backends.filter((b) => (b.maxWorkers ?? Infinity) >= 2).map((b) => [b.name, b]))('data-parallel on %s', (_n, be) => {
  it('same seed + 2 workers twice → bitwise-identical weights (dropout, online teacher)', async () => {
    const mc = { layers: [20, 16, 12, 5], dropout: 0.2 };
    const a = await run(be, mc, cfg({ workers: 2 }));
    const b = await run(be, mc, cfg({ workers: 2 }));
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });

  it('1 worker and 2 workers agree within float tolerance (cached teacher logits)', async () => {
    const mc = { layers: [20, 16, 5] };
    const one = await run(be, mc, cfg({ workers: 1, teacherMode: 'cached' }));
    const two = await run(be, mc, cfg({ workers: 2, teacherMode: 'cached' }));
    let maxDiff = 0, maxAbs = 0;
    for (let i = 0; i < one.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(one[i] - two[i]));
      maxAbs = Math.max(maxAbs, Math.abs(one[i]));
    }
    expect(maxDiff).toBeLessThan(1e-4 * Math.max(1, maxAbs));
  });
});

// FitNets hints in the workers: each shard's hint loss into the adapters' own gradient slots,
// the adapters' update by range like the student's.
describe.each(backends.filter((b) => (b.maxWorkers ?? Infinity) >= 2).map((b) => [b.name, b]))('data-parallel hints on %s', (_n, be) => {
  it.each(['mse', 'cosine'] as const)('%s hints, hint-only first epoch: 2 workers repeat bitwise and agree with 1 worker', async (loss) => {
    const mc = { layers: [20, 16, 5] };
    const go = async (workers: number) => {
      const teacher = new Sequential(be, { layers: [20, 24, 5] }, 5);
      const m = new Sequential(be, mc, 3);
      const res = await train(m, data, null, cfg({ workers, epochs: 3, hints: { pairs: [{ student: 0, teacher: 0 }], weight: 0.5, loss, preTrainEpochs: 1 } }), {}, [{ model: teacher }]);
      return { w: m.store.params.slice(), hint: res.history.map((h) => h.train_hint), kd: res.history.map((h) => h.train_kd) };
    };
    const one = await go(1), two = await go(2), again = await go(2);
    expect(Buffer.from(two.w.buffer).equals(Buffer.from(again.w.buffer))).toBe(true);
    expect(two.kd[0]).toBe(0); // the hint-only epoch
    two.hint.forEach((h, e) => expect(Math.abs(h - one.hint[e]), `epoch ${e} hint loss`).toBeLessThan(1e-4 * Math.max(1, Math.abs(one.hint[e]))));
    let maxDiff = 0, maxAbs = 0;
    for (let i = 0; i < one.w.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(one.w[i] - two.w[i]));
      maxAbs = Math.max(maxAbs, Math.abs(one.w[i]));
    }
    expect(maxDiff).toBeLessThan(1e-4 * Math.max(1, maxAbs));
  });

  it('hints with a second teacher given as precomputed logits (cached KD targets; the workers run only the hint teacher)', async () => {
    const mc = { layers: [20, 16, 5] };
    const other = new Sequential(be, { layers: [20, 8, 5] }, 9);
    const logits = new Float32Array(other.eval().forward(data.x, data.n).subarray(0, data.n * 5));
    const go = async (workers: number) => {
      const teacher = new Sequential(be, { layers: [20, 24, 5] }, 5);
      const m = new Sequential(be, mc, 3);
      const res = await train(m, data, null, cfg({ workers, hints: { pairs: [{ student: 0, teacher: 0 }], weight: 0.5 } }), {}, [{ model: teacher }, { logits }]);
      return { w: m.store.params.slice(), hint: res.history.map((h) => h.train_hint) };
    };
    const one = await go(1), two = await go(2);
    expect(two.hint[0]).toBeGreaterThan(0);
    two.hint.forEach((h, e) => expect(Math.abs(h - one.hint[e]), `epoch ${e} hint loss`).toBeLessThan(1e-4 * Math.max(1, Math.abs(one.hint[e]))));
    let maxDiff = 0;
    for (let i = 0; i < one.w.length; i++) maxDiff = Math.max(maxDiff, Math.abs(one.w[i] - two.w[i]));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('AdamW + hints with 2 workers: a resumed run ends bit-exact (adapter state and step count in the checkpoint)', async () => {
    const mc = { layers: [20, 16, 5] };
    const c = (o: Partial<TrainConfig> = {}) => cfg({ workers: 2, epochs: 2, optimizer: { kind: 'adamw', lr: 0.01 }, hints: { pairs: [{ student: 0, teacher: 0 }], weight: 0.5 }, ...o });
    const full = await run(be, mc, c());
    const path = join(dir, `hints-${be.name}.safetensors`);
    await run(be, mc, c({ checkpointPath: path }), { stopAfterSteps: 4 });
    const rest = await run(be, mc, c({ checkpointPath: path, resume: true }));
    expect(Buffer.from(rest.buffer).equals(Buffer.from(full.buffer))).toBe(true);
  });
});

describe('data-parallel faults (js)', () => {
  const mc = { layers: [20, 16, 5] };
  const js = backends.find((b) => b.name === 'js')!;

  for (const kind of ['throw', 'exit'] as const) {
    it(`a worker that ${kind === 'throw' ? 'throws' : 'dies'} mid-step: the step is retried and the result is unchanged`, async () => {
      const logs: string[] = [];
      const clean = await run(js, mc, cfg({ workers: 2 }));
      const faulty = await run(js, mc, cfg({ workers: 2 }), { faultAt: { call: 3, shard: 1, kind }, log: (m) => logs.push(m) });
      expect(logs.some((l) => /step 4 failed in a worker.*retrying/.test(l))).toBe(true);
      expect(Buffer.from(faulty.buffer).equals(Buffer.from(clean.buffer))).toBe(true);
    });
  }

  it('a step that fails twice stops the run with WorkerFailure and leaves the last checkpoint intact', async () => {
    const path = join(dir, 'fault.safetensors');
    await run(js, mc, cfg({ workers: 2, checkpointPath: path }), { stopAfterSteps: 2 });
    const before = readFileSync(path);
    const err = await run(js, mc, cfg({ workers: 2, checkpointPath: path, resume: true }), { faultAt: { call: 1, shard: 0, kind: 'exit', times: 2 } }).catch((e) => e);
    expect(err).toBeInstanceOf(WorkerFailure);
    expect(err.message).toMatch(/step 2 \(retry\) failed in a worker/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('resume with 2 workers ends bitwise equal to the uninterrupted run', async () => {
    const mcd = { layers: [20, 16, 5], dropout: 0.1 };
    const full = await run(js, mcd, cfg({ workers: 2 }));
    const path = join(dir, 'resume.safetensors');
    await run(js, mcd, cfg({ workers: 2, checkpointPath: path }), { stopAfterSteps: 5 });
    const rest = await run(js, mcd, cfg({ workers: 2, checkpointPath: path, resume: true }));
    expect(Buffer.from(rest.buffer).equals(Buffer.from(full.buffer))).toBe(true);
  });
});
