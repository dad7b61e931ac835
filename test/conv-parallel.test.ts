// Batch norm across data-parallel shards (issue 17): the shards of a step reduce their batch
// statistics and gradient sums through a shared exchange and an Atomics barrier, so a CNN with
// batchnorm trained with 2 workers matches 1 worker (parameters and running statistics); a
// missing or failing shard ends the barrier cleanly (timeout, or at once), and the retried step
// starts clean.

import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/index.js';
import { WorkerFailure } from '../src/errors.js';
import { Sequential } from '../src/nn/sequential.js';
import { train, type TrainConfig, type TrainHooks } from '../src/train/trainer.js';
import { backendsUnderTest, quadrantImages } from './util.js';

const { backends } = await backendsUnderTest();
const data = quadrantImages(95, 8);
// Two batch norms: BatchNorm2d after a conv (its backward needs the input gradient) and BatchNorm1d after a dense layer.
const model = { input: [1, 6, 6], layers: ['conv:4x3', 'bn', 'relu', 'maxpool:2', 'flatten', 'dense:8', 'bn', 'relu', 'dense:4'] };
// 95 rows, batch 19: shards of 9 and 10 rows.
const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  epochs: 2, batchSize: 19, seed: 4, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'constant' }, ...over,
});

async function run(be: Backend, c: TrainConfig, hooks: TrainHooks = {}): Promise<{ params: Float32Array; buffers: Float32Array }> {
  const m = new Sequential(be, model, 7);
  await train(m, data, null, c, hooks);
  const out = { params: m.store.params.slice(), buffers: m.buffers.data.slice(0, m.buffers.length) };
  m.release();
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const wanted = ['js', 'native', 'wasm-simd'];
describe.each(backends.filter((b) => wanted.includes(b.name)).map((b) => [b.name, b]))('batchnorm across data-parallel shards on %s', (name, be) => {
  it('a CNN with conv, pool and batchnorm: 2 workers match 1 worker within 1e-5 (parameters and running statistics); 2 workers twice are bitwise equal (conv pool batchnorm)', async () => {
    const one = await run(be, cfg({ workers: 1 }));
    const two = await run(be, cfg({ workers: 2 }));
    const again = await run(be, cfg({ workers: 2 }));
    const dp = maxDiff(one.params, two.params), db = maxDiff(one.buffers, two.buffers);
    console.log(`[conv-parallel] ${name}: 1 vs 2 workers, max |Δparam| ${dp.toExponential(2)}, max |Δrunning stat| ${db.toExponential(2)}`);
    expect(dp).toBeLessThan(1e-5);
    expect(db).toBeLessThan(1e-5);
    // The running statistics moved from their init (mean 0, var 1).
    expect(Array.from(two.buffers).some((v) => v !== 0 && v !== 1)).toBe(true);
    expect(Buffer.from(again.params.buffer).equals(Buffer.from(two.params.buffer))).toBe(true);
    expect(Buffer.from(again.buffers.buffer).equals(Buffer.from(two.buffers.buffer))).toBe(true);
  }, 60_000);
});

describe('the batchnorm barrier of the data-parallel shards (js)', () => {
  const js = backends.find((b) => b.name === 'js')!;

  it('a shard that never arrives: the barrier times out with a clear error, the step is retried clean and the result is unchanged (batchnorm)', async () => {
    const logs: string[] = [];
    const clean = await run(js, cfg({ workers: 2 }));
    const t0 = Date.now();
    const faulty = await run(js, cfg({ workers: 2 }), { faultAt: { call: 2, shard: 1, kind: 'missing' }, barrierTimeoutMs: 300, log: (m) => logs.push(m) });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(logs.some((l) => /step 3 failed in a worker: batch-norm barrier timed out after 0\.3 s: shard 0 waited .* for 2 shards, 1 arrived; retrying/.test(l))).toBe(true);
    expect(Buffer.from(faulty.params.buffer).equals(Buffer.from(clean.params.buffer))).toBe(true);
    expect(Buffer.from(faulty.buffers.buffer).equals(Buffer.from(clean.buffers.buffer))).toBe(true);
  }, 60_000);

  it('a shard missing twice stops the run with WorkerFailure naming the batchnorm barrier, without hanging', async () => {
    const t0 = Date.now();
    const err = await run(js, cfg({ workers: 2 }), { faultAt: { call: 1, shard: 0, kind: 'missing', times: 2 }, barrierTimeoutMs: 300 }).catch((e) => e);
    expect(err).toBeInstanceOf(WorkerFailure);
    expect(err.message).toMatch(/step 2 \(retry\) failed in a worker: batch-norm barrier timed out after 0\.3 s: shard 1/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 60_000);

  for (const kind of ['throw', 'exit'] as const) {
    it(`a shard that ${kind === 'throw' ? 'throws' : 'dies'}: the other is released from the batchnorm barrier at once (no 60 s timeout), the retried step gives the same result`, async () => {
      const clean = await run(js, cfg({ workers: 2 }));
      const t0 = Date.now();
      const logs: string[] = [];
      const faulty = await run(js, cfg({ workers: 2 }), { faultAt: { call: 3, shard: 1, kind }, log: (m) => logs.push(m) });
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(logs.some((l) => /step 4 failed in a worker.*retrying/.test(l))).toBe(true);
      expect(Buffer.from(faulty.params.buffer).equals(Buffer.from(clean.params.buffer))).toBe(true);
      expect(Buffer.from(faulty.buffers.buffer).equals(Buffer.from(clean.buffers.buffer))).toBe(true);
    }, 60_000);
  }
});
