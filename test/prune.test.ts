// Pruning (src/compress/prune.ts): structured pruning gives exactly the masked model's logits
// right after pruning (removing a channel = zeroing it) for an MLP and CNNs with batch norm,
// depthwise convs (also with a channel multiplier), flatten and gap; shapes and parameter counts
// shrink; unstructured masks hit the asked sparsity exactly and keep it through training (SGD
// with momentum and weight decay, AdamW, 2 workers) and a resume; the cubic schedule's values;
// clear errors for bad input.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend, type Backend } from '../src/backends/index.js';
import { Sequential } from '../src/nn/sequential.js';
import { stateShapes, type ModelConfig } from '../src/nn/spec.js';
import { Rng } from '../src/nn/rng.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/io/model-file.js';
import {
  ParamMask, PruneSchedule, channelGroups, channelMask, channelScores, cubicSparsity, keepIndices, magnitudeMask, sliceModel, structuredPlan, weightSparsity, weightTensors,
} from '../src/compress/prune.js';
import { ConfigError } from '../src/errors.js';
import { blobs, quadrantImages } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-prune-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const js = await loadBackend('js');

/** A model with random weights everywhere (biases, batch-norm gamma/beta/running statistics too). */
function randomModel(be: Backend, config: ModelConfig, seed: number): Sequential {
  const m = new Sequential(be, config, seed);
  const r = new Rng(seed + 100);
  for (const s of m.store.specs) {
    const v = m.store.view(s);
    if (!s.name.endsWith('.weight') || s.shape.length === 1) for (let i = 0; i < v.length; i++) v[i] = r.normal() * 0.5 + (s.shape.length === 1 && s.name.endsWith('.weight') ? 1 : 0);
  }
  for (const s of m.buffers.specs) {
    const v = m.buffers.view(s);
    for (let i = 0; i < v.length; i++) v[i] = s.name.endsWith('running_var') ? 0.5 + r.next() : r.normal() * 0.3;
  }
  return m;
}

function copyOf(m: Sequential): Sequential {
  const c = new Sequential(m.backend, m.config, 0);
  c.store.params.set(m.store.params);
  c.buffers.data.set(m.buffers.data.subarray(0, c.buffers.data.length));
  return c;
}

function logits(m: Sequential, x: Float32Array, N: number): number[] {
  return Array.from(m.eval().forward(x, N).subarray(0, N * m.classes));
}

function input(m: Sequential, N: number, seed: number): Float32Array {
  const r = new Rng(seed), x = new Float32Array(N * m.inputs);
  for (let i = 0; i < x.length; i++) x[i] = r.normal();
  return x;
}

/** Structured prune at `s`: the sliced model and the masked copy give identical logits. */
function checkStructured(config: ModelConfig, s: number, criterion: 'l1' | 'l2' | 'io', wantLayers: string[]) {
  const m = randomModel(js, config, 3);
  const plan = structuredPlan(m, s, criterion);
  const masked = copyOf(m);
  channelMask(m, plan).apply(masked.store.params);
  const small = sliceModel(m, plan);
  expect(small.config.layers).toEqual(wantLayers);
  // Parameter count = what the new specs need; every removed channel is gone.
  const want = stateShapes(small.config).params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  expect(small.parameterCount).toBe(want);
  expect(small.parameterCount).toBeLessThan(m.parameterCount);
  const N = 5, x = input(m, N, 9);
  const a = logits(masked, x, N), b = logits(small, x, N);
  expect(b.every((v, i) => v === a[i])).toBe(true);
  // and pruning changed the output (the check is not comparing the unpruned model with itself)
  const full = logits(m, x, N);
  expect(full.some((v, i) => v !== a[i])).toBe(true);
  return { m, small, plan };
}

describe('structured pruning', () => {
  it('which layers are prunable: every hidden dense / plain conv, never the classifier', () => {
    const g = channelGroups({ input: [2, 8, 8], layers: ['conv:6x3', 'bn', 'relu', 'conv:6x3/dw', 'relu', 'conv:4x3/g2', 'relu', 'flatten', 'dense:7', 'relu', 'dense:3'] });
    // conv:6x3 feeds (through bn and the depthwise conv) a grouped conv: skipped, with the reason.
    expect(g.groups.map((x) => x.layer)).toEqual([8]);
    expect(g.skipped.map((s) => s.layer)).toEqual([0, 3, 5, 10]);
    expect(g.skipped[0].reason).toMatch(/grouped conv/);
    expect(g.skipped.at(-1)!.reason).toMatch(/classifier/);
  });

  it('MLP: dense:16 → dense:8, dense:12 → dense:6, same logits as the masked model', () => {
    for (const c of ['l1', 'l2', 'io'] as const) checkStructured({ input: [20], layers: ['dense:16', 'relu', 'dropout:0.1', 'dense:12', 'gelu', 'dense:4'] }, 0.5, c, ['dense:8', 'relu', 'dropout:0.1', 'dense:6', 'gelu', 'dense:4']);
  });

  it('CNN: conv → bn → depthwise (×2 multiplier) → bn → pool → conv → flatten → dense, same logits', () => {
    const { small } = checkStructured({ input: [2, 8, 8], layers: ['conv:6x3', 'bn', 'relu', 'conv:12x3/dw', 'bn', 'relu', 'maxpool:2', 'conv:4x3', 'relu', 'flatten', 'dense:5', 'relu', 'dense:3'] }, 0.5, 'io',
      ['conv:3x3', 'bn', 'relu', 'conv:6x3/dw', 'bn', 'relu', 'maxpool:2', 'conv:2x3', 'relu', 'flatten', 'dense:2', 'relu', 'dense:3']);
    expect(small.layerShapes[9]).toEqual([2 * 4 * 4]);
  });

  it('CNN: dwconv, avgpool, gap into the classifier, same logits', () => {
    // No batch norm after the depthwise conv: its own filters and biases must be zeroed/removed.
    checkStructured({ input: [1, 6, 6], layers: ['conv:8x3', 'bn', 'relu', 'dwconv:3', 'relu', 'avgpool:2', 'gap', 'dense:4'] }, 0.25, 'l2', ['conv:6x3', 'bn', 'relu', 'dwconv:3', 'relu', 'avgpool:2', 'gap', 'dense:4']);
  });

  it('CNN: batch norm after flatten (one feature per channel position), same logits', () => {
    checkStructured({ input: [1, 5, 5], layers: ['conv:4x3', 'relu', 'flatten', 'bn', 'dense:6', 'bn', 'relu', 'dense:3'] }, 0.5, 'io', ['conv:2x3', 'relu', 'flatten', 'bn', 'dense:3', 'bn', 'relu', 'dense:3']);
  });

  it('the kept channels are those of highest score; scores follow the criterion', () => {
    const m = randomModel(js, { input: [4], layers: ['dense:4', 'relu', 'dense:2'] }, 1);
    const W = m.store.view(m.store.find('layers.0.weight')!);
    W.set([1, 1, 1, 1, /**/ 0, 0, 0, 0.1, /**/ 3, 0, 0, 0, /**/ 0.5, 0.5, 0.5, 0.5]);
    const g = channelGroups(m.config).groups[0];
    expect(Array.from(channelScores(m, g, 'l1'))).toEqual([4, 0.10000000149011612, 3, 2]);
    expect(Array.from(channelScores(m, g, 'l2')).map((v) => +v.toFixed(6))).toEqual([2, 0.1, 3, 1]);
    expect(structuredPlan(m, 0.5, 'l1').get(0)).toEqual([0, 2]);
    expect(structuredPlan(m, 0.5, 'l2').get(0)).toEqual([0, 2]);
    expect(keepIndices([1, 1, 1], 1)).toEqual([1, 2]); // ties: the lower index goes first
    expect(keepIndices([5, 1, 9], 1, new Set([2]))).toEqual([0, 1]); // already removed stays removed
  });

  it('the sliced model saves and loads like any model', async () => {
    const { small } = checkStructured({ input: [20], layers: ['dense:16', 'relu', 'dense:4'] }, 0.5, 'l2', ['dense:8', 'relu', 'dense:4']);
    const { saveModel, readModel } = await import('../src/io/model-file.js');
    const f = join(dir, 'small.safetensors');
    await saveModel(f, small);
    const back = (await readModel(f, js)).model;
    const x = input(small, 3, 4);
    expect(logits(back, x, 3)).toEqual(logits(small, x, 3));
  });

  it('bad input: sparsity outside [0, 1), a layer pruned to zero width', () => {
    const m = randomModel(js, { input: [6], layers: ['dense:2', 'relu', 'dense:3'] }, 1);
    expect(() => structuredPlan(m, 1)).toThrow(/\[0, 1\)/);
    expect(() => structuredPlan(m, -0.1)).toThrow(ConfigError);
    expect(() => magnitudeMask(m, 1.5)).toThrow(/\[0, 1\)/);
    expect(() => structuredPlan(m, 0.75)).toThrow(/layers\[0\] 'dense:2'.*remove all 2 .*zero width/);
    expect(structuredPlan(m, 0.25).get(0)).toHaveLength(1); // round(0.25·2) = 1 removed
    expect(structuredPlan(m, 0.2).get(0)).toEqual([0, 1]); // round(0.4) = 0 removed
  });
});

describe('unstructured pruning', () => {
  it('exactly round(s·size) zeros per weight tensor, the smallest magnitudes, biases untouched', () => {
    const m = randomModel(js, { input: [20], layers: ['dense:15', 'relu', 'dense:4'] }, 2);
    const before = m.store.params.slice();
    magnitudeMask(m, 0.3).apply(m.store.params);
    const sp = weightSparsity(m);
    expect(sp.perTensor.map((t) => t.zeros)).toEqual([Math.round(0.3 * 300), Math.round(0.3 * 60)]);
    for (const s of weightTensors(m)) {
      const old = Array.from(before.subarray(s.offset, s.offset + s.size)), now = m.store.view(s);
      const cut = Math.max(...old.filter((_, i) => now[i] === 0).map(Math.abs));
      expect(old.filter((_, i) => now[i] !== 0).every((v) => Math.abs(v) >= cut)).toBe(true);
    }
    for (const b of ['layers.0.bias', 'layers.1.bias']) {
      const s = m.store.find(b)!;
      expect(Array.from(m.store.view(s))).toEqual(Array.from(before.subarray(s.offset, s.offset + s.size)));
    }
  });

  const data = blobs(200, 12, 4, 1), test = blobs(80, 12, 4, 2);
  const mc = { input: [12], layers: ['dense:24', 'relu', 'dense:16', 'relu', 'dense:4'] };
  const cfg = (over: Partial<TrainConfig>): TrainConfig => ({ epochs: 3, batchSize: 32, seed: 5, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }, schedule: { kind: 'constant' }, kd: { T: 3, alpha: 0.7 }, ...over });
  const runs: [string, Partial<TrainConfig>][] = [
    ['SGD momentum + weight decay', {}],
    ['AdamW (decoupled weight decay)', { optimizer: { kind: 'adamw', lr: 3e-3, weightDecay: 0.05 } }],
    ['2 workers', { workers: 2 }],
  ];
  for (const [name, over] of runs) {
    it(`the mask is kept through training: ${name}`, async () => {
      const teacher = randomModel(js, { input: [12], layers: ['dense:32', 'relu', 'dense:4'] }, 8);
      const m = randomModel(js, mc, 4);
      const mask = magnitudeMask(m, 0.6);
      const sched = new PruneSchedule({ sparsity: 0.6, structured: false, schedule: 'oneshot' });
      const start = m.store.params.slice();
      await train(m, data, test, cfg({ ...over, prune: sched }), {}, [{ model: teacher }]);
      const want = new Set(Array.from(mask.zeros));
      // Exactly the mask's entries are 0, the others trained.
      for (const s of weightTensors(m)) for (let i = 0; i < s.size; i++) expect(m.store.params[s.offset + i] === 0).toBe(want.has(s.offset + i));
      expect(weightSparsity(m).perTensor.map((t) => t.zeros)).toEqual([Math.round(0.6 * 288), Math.round(0.6 * 384), Math.round(0.6 * 64)]);
      let moved = 0;
      for (let i = 0; i < start.length; i++) if (!want.has(i) && m.store.params[i] !== start[i]) moved++;
      expect(moved).toBeGreaterThan(start.length * 0.3);
    });
  }

  it('without the mask the same training fills the zeros back in (the check above can fail)', async () => {
    const m = randomModel(js, mc, 4);
    magnitudeMask(m, 0.6).apply(m.store.params);
    await train(m, data, test, cfg({}), {}, []);
    expect(weightSparsity(m).zeros).toBeLessThan(10);
  });

  it('cubic schedule: interrupted + resumed == uninterrupted (mask saved in the checkpoint), sparsity reached', async () => {
    const mk = () => new PruneSchedule({ sparsity: 0.5, structured: false, schedule: 'cubic', pruneSteps: 14, every: 3 });
    const c = (name: string) => cfg({ epochs: 4, checkpointPath: join(dir, `${name}.safetensors`), checkpointEvery: 2, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 } });
    const b = randomModel(js, mc, 4);
    const full = randomModel(js, mc, 4);
    await train(full, data, test, { ...c('full2'), prune: mk() }, {}, []);
    const part = await train(b, data, test, { ...c('part'), prune: mk() }, { stopAfterSteps: 9 }, []);
    expect(part.stopped).toBe(true);
    const ck = await loadCheckpoint(join(dir, 'part.safetensors'));
    expect(ck.extra?.['prune.mask']).toBeDefined();
    const b2 = randomModel(js, mc, 99); // other weights: everything must come from the checkpoint
    await train(b2, data, test, { ...c('part'), prune: mk(), resume: true }, {}, []);
    expect(Array.from(b2.store.params)).toEqual(Array.from(full.store.params));
    expect(weightSparsity(full).perTensor.map((t) => t.zeros)).toEqual([144, 192, 32]);
    // the schedule's settings are part of the fingerprint: another sparsity is refused on resume
    await expect(train(randomModel(js, mc, 4), data, test, { ...c('part'), prune: new PruneSchedule({ sparsity: 0.4, structured: false, schedule: 'cubic', pruneSteps: 14, every: 3 }), resume: true }, {}, [])).rejects.toThrow(/pruning settings/);
  });

  it('structured cubic: channels masked as they go, then sliced to the same logits', async () => {
    const sched = new PruneSchedule({ sparsity: 0.5, structured: true, schedule: 'cubic', pruneSteps: 10, every: 2, criterion: 'io' });
    const m = randomModel(js, mc, 4);
    await train(m, data, test, cfg({ epochs: 3, prune: sched }), {}, []);
    const plan = sched.finalPlan();
    expect(plan.get(0)).toHaveLength(12);
    expect(plan.get(2)).toHaveLength(8);
    const small = sliceModel(m, plan);
    expect(small.config.layers).toEqual(['dense:12', 'relu', 'dense:8', 'relu', 'dense:4']);
    const x = input(m, 7, 3);
    expect(logits(small, x, 7)).toEqual(logits(m, x, 7));
  });
});

describe('structured pruning during training: CNN with batch norm, 2 workers', () => {
  it('channels masked on the cubic schedule stay 0 with batch-norm sync across shards; sliced = masked', async () => {
    const imgs = quadrantImages(96, 3, 6, 1);
    const cnn = { input: [1, 6, 6], layers: ['conv:8x3', 'bn', 'relu', 'maxpool:2', 'conv:6x3', 'relu', 'flatten', 'dense:4'] };
    const m = new Sequential(js, cnn, 2);
    const sched = new PruneSchedule({ sparsity: 0.5, structured: true, schedule: 'cubic', pruneSteps: 6, every: 2, criterion: 'l1' });
    await train(m, imgs, null, { epochs: 3, batchSize: 32, seed: 1, workers: 2, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-3 }, schedule: { kind: 'constant' }, prune: sched }, {}, []);
    const plan = sched.finalPlan();
    expect(plan.get(0)).toHaveLength(4);
    expect(plan.get(4)).toHaveLength(3);
    // removed conv:8x3 channels: filters, biases, bn gamma and beta exactly 0 after training
    const gone = [0, 1, 2, 3, 4, 5, 6, 7].filter((j) => !plan.get(0)!.includes(j));
    const view = (n: string) => m.store.view(m.store.find(n)!);
    for (const j of gone) {
      expect(Array.from(view('layers.0.weight').subarray(j * 9, j * 9 + 9)).every((v) => v === 0)).toBe(true);
      expect([view('layers.0.bias')[j], view('layers.1.weight')[j], view('layers.1.bias')[j]]).toEqual([0, 0, 0]);
    }
    const small = sliceModel(m, plan);
    expect(small.config.layers).toEqual(['conv:4x3', 'bn', 'relu', 'maxpool:2', 'conv:3x3', 'relu', 'flatten', 'dense:4']);
    const x = input(m, 6, 5);
    expect(logits(small, x, 6)).toEqual(logits(m, x, 6));
  });
});

describe('cubic schedule (Zhu & Gupta 2017)', () => {
  it('s_t = s_f·(1 − (1 − t/T)³)', () => {
    expect(cubicSparsity(0.8, 0, 100)).toBe(0);
    expect(cubicSparsity(0.8, 50, 100)).toBeCloseTo(0.8 * (1 - 0.125), 12);
    expect(cubicSparsity(0.8, 25, 100)).toBeCloseTo(0.8 * (1 - 0.75 ** 3), 12);
    expect(cubicSparsity(0.8, 100, 100)).toBe(0.8);
    expect(cubicSparsity(0.8, 250, 100)).toBe(0.8);
    const s = new PruneSchedule({ sparsity: 0.5, structured: false, schedule: 'cubic', pruneSteps: 8 });
    const t = Array.from({ length: 10 }, (_, i) => s.target(i));
    expect(t.every((v, i) => i === 0 || v >= t[i - 1])).toBe(true);
    expect(new PruneSchedule({ sparsity: 0.5, structured: false, schedule: 'oneshot' }).target(0)).toBe(0.5);
    expect(() => new PruneSchedule({ sparsity: 0.5, structured: false, schedule: 'cubic' })).toThrow(/pruning steps/);
    expect(() => new PruneSchedule({ sparsity: 0.5, structured: false, schedule: 'linear' as 'cubic' })).toThrow(/oneshot or cubic/);
  });

  it('a mask on a buffer of the wrong size is refused', () => {
    expect(() => new ParamMask(10, Int32Array.from([1])).apply(new Float32Array(4))).toThrow(/10 values/);
  });
});
