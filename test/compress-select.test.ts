// Compression with model selection (issue 18): the parameter-budgeted global structured
// allocation (src/compress/prune.ts globalStructuredPlan: the removed parameters reach the target
// and overshoot by less than one channel, the classifier is never pruned, no layer goes to zero
// channels, the plan's parameter count is what sliceModel builds); QAT started from the PTQ
// calibration ranges (its start point is exactly the PTQ model); the trainer's selectBy (the best
// point on held-out data, the start included, never the test set; checkpointed, so a resume
// keeps the same choice); the CLI options --allocation, --val-fraction and --qat-calib.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { PruneSchedule, allocatedPlan, channelGroups, globalStructuredPlan, prunedLayerSpecs, prunedParameterCount, sliceModel } from '../src/compress/prune.js';
import { calibrate, quantizedState } from '../src/compress/quantize.js';
import { subset, validationSplit } from '../src/data/dataset.js';
import { ConfigError } from '../src/errors.js';
import { QuantizedSequential } from '../src/nn/quantized.js';
import { Rng } from '../src/nn/rng.js';
import { Sequential } from '../src/nn/sequential.js';
import type { ModelConfig } from '../src/nn/spec.js';
import { evaluate, train, type TrainConfig } from '../src/train/trainer.js';
import { blobs, quadrantImages } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-compress-select-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const js = await loadBackend('js');

/** Random weights everywhere, so every channel has its own score. */
function randomModel(config: ModelConfig, seed: number): Sequential {
  const m = new Sequential(js, config, seed);
  const r = new Rng(seed + 100);
  for (const s of m.store.specs) {
    const v = m.store.view(s);
    for (let i = 0; i < v.length; i++) v[i] = r.normal() * 0.5 + (s.shape.length === 1 && s.name.endsWith('.weight') ? 1 : 0);
  }
  for (const s of m.buffers.specs) {
    const v = m.buffers.view(s);
    for (let i = 0; i < v.length; i++) v[i] = s.name.endsWith('running_var') ? 0.5 + r.next() : r.normal() * 0.3;
  }
  return m;
}

const CNN: ModelConfig = { input: [1, 28, 28], layers: ['conv:8x3', 'relu', 'maxpool:2', 'conv:16x3', 'relu', 'maxpool:2', 'flatten', 'dense:10'] };
const BN_DW: ModelConfig = { input: [2, 8, 8], layers: ['conv:6x3', 'bn', 'relu', 'conv:12x3/dw', 'relu', 'conv:8x1', 'bn', 'relu', 'gap', 'dense:12', 'relu', 'dense:3'] };

describe('global structured allocation (a parameter budget)', () => {
  it.each([[CNN, 'the issue-18 CNN'], [BN_DW, 'a CNN with batch norm, a depthwise conv and gap'], [{ input: [20], layers: ['dense:32', 'relu', 'dense:16', 'relu', 'dense:5'] } as ModelConfig, 'an MLP']])('%#: removes at least the target and less than one channel more, keeps the classifier and a channel per layer (%s)', (config, _what) => {
    const m = randomModel(config, 3);
    const total = m.parameterCount;
    const { groups } = channelGroups(m.config);
    // The most one channel's removal can save: any layer's channel at full widths.
    const full = new Map(groups.map((g) => [g.layer, g.width]));
    const maxChannel = Math.max(...groups.map((g) => total - prunedParameterCount(m.config, new Map(full).set(g.layer, g.width - 1))));
    for (const f of [0.1, 0.3, 0.5, 0.7]) {
      const plan = globalStructuredPlan(m, f, 'io');
      const small = sliceModel(m, plan);
      const removed = total - small.parameterCount, target = Math.round(f * total);
      expect(removed).toBeGreaterThanOrEqual(target);
      expect(removed - target).toBeLessThan(maxChannel);
      // The classifier keeps its outputs; every prunable layer keeps at least one channel.
      expect(small.classes).toBe(m.classes);
      for (const g of groups) expect(plan.get(g.layer)!.length).toBeGreaterThanOrEqual(1);
      // The plan's parameter count without weights is the sliced model's.
      const counts = new Map([...plan].map(([l, k]) => [l, k.length]));
      expect(prunedLayerSpecs(m.config, counts)).toEqual(small.config.layers);
      expect(prunedParameterCount(m.config, counts)).toBe(small.parameterCount);
      small.release();
    }
    m.release();
  });

  it('on the issue-18 CNN, 50% of the parameters come out of conv2 and its dense head, not by halving conv1', () => {
    const m = randomModel(CNN, 1);
    const small = sliceModel(m, globalStructuredPlan(m, 0.5, 'io'));
    const uniform = sliceModel(m, allocatedPlan(m, 0.5, 'io', 'uniform'));
    expect(uniform.config.layers[0]).toBe('conv:4x3');
    expect(Number(/conv:(\d+)x/.exec(String(small.config.layers[0]))![1])).toBeGreaterThanOrEqual(6);
    expect(m.parameterCount - small.parameterCount).toBeGreaterThanOrEqual(Math.round(0.5 * m.parameterCount));
    small.release(); uniform.release(); m.release();
  });

  it('intermediate budgets of a gradual schedule (finish = false) follow one order: each plan removes what the smaller budgets removed', () => {
    const m = randomModel(CNN, 4);
    let prev: Set<string> | null = null;
    for (let f = 0.05; f < 0.9; f += 0.05) {
      const plan = globalStructuredPlan(m, f, 'io', undefined, false);
      expect(m.parameterCount - prunedParameterCount(m.config, new Map([...plan].map(([l, k]) => [l, k.length])))).toBeGreaterThanOrEqual(Math.round(f * m.parameterCount));
      const gone = new Set(channelGroups(m.config).groups.flatMap((g) => Array.from({ length: g.width }, (_, j) => j).filter((j) => !plan.get(g.layer)!.includes(j)).map((j) => `${g.layer}:${j}`)));
      if (prev) for (const c of prev) expect(gone.has(c)).toBe(true);
      prev = gone;
    }
    m.release();
  });

  it('a fraction the layers at one channel each cannot reach is an error naming the layers; bad allocations are refused', () => {
    const m = randomModel(CNN, 2);
    // One channel per conv leaves 10 + 10 + 49·10 + 10 = 520 of 9,098 parameters: at most 94.3% can go.
    const near = sliceModel(m, globalStructuredPlan(m, 0.94, 'io'));
    const widths = near.config.layers.flatMap((l) => /^conv:(\d+)x/.exec(String(l))?.slice(1).map(Number) ?? []);
    expect(widths).toHaveLength(2);
    expect(Math.min(...widths)).toBe(1);
    expect(m.parameterCount - near.parameterCount).toBeGreaterThanOrEqual(Math.round(0.94 * m.parameterCount));
    near.release();
    expect(() => globalStructuredPlan(m, 0.95, 'io')).toThrow(/layers\[0\] 'conv:8x3', layers\[3\] 'conv:16x3'\) only 8578 can be/);
    expect(() => allocatedPlan(m, 0.5, 'io', 'greedy' as never)).toThrow(ConfigError);
    expect(() => new PruneSchedule({ sparsity: 0.5, structured: true, schedule: 'oneshot', allocation: 'greedy' as never })).toThrow(/allocation must be one of uniform, global/);
    m.release();
  });

  it('the cubic schedule with global allocation ends on the parameter budget; uniform stays out of the checkpoint key', async () => {
    const data = quadrantImages(96, 5, 8, 1);
    const m = new Sequential(js, { input: [1, 8, 8], layers: ['conv:6x3', 'relu', 'conv:8x3', 'relu', 'maxpool:2', 'flatten', 'dense:4'] }, 2);
    const total = m.parameterCount;
    const sched = new PruneSchedule({ sparsity: 0.5, structured: true, schedule: 'cubic', pruneSteps: 6, every: 2, criterion: 'io', allocation: 'global' });
    await train(m, data, null, { epochs: 2, batchSize: 32, seed: 1, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'constant' }, prune: sched });
    const small = sliceModel(m, sched.finalPlan());
    expect(total - small.parameterCount).toBeGreaterThanOrEqual(Math.round(0.5 * total));
    expect(sched.key.allocation).toBe('global');
    expect('allocation' in new PruneSchedule({ sparsity: 0.5, structured: true, schedule: 'oneshot', allocation: 'uniform' }).key).toBe(false);
    small.release(); m.release();
  });
});

const cfg = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  epochs: 3, batchSize: 32, seed: 4, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'constant' }, ...over,
});
const data = blobs(400, 12, 4, 7);
const split = validationSplit(data.n, 0.25, 1);
const tr = subset(data, split.train, 'blobs[train]'), val = subset(data, split.val, 'blobs[validation]');

/** A float student trained with cross-entropy on the training split. */
async function floatStudent(): Promise<Sequential> {
  const m = new Sequential(js, { layers: [12, 16, 4] }, 3);
  await train(m, tr, null, cfg({ epochs: 4 }));
  return m;
}

describe('QAT from the PTQ ranges, and selection on held-out data', () => {
  it('the QAT start point is exactly the PTQ model: when no epoch beats it on validation, the run ends with the PTQ weights and ranges', async () => {
    const float = await floatStudent();
    const ptqRanges = calibrate(float, tr.x, 100, { method: 'minmax' });
    const ptq = quantizedState(float, ptqRanges);
    // A teacher of random logits, alpha 1 and a large lr: every epoch is worse than the start.
    const r = new Rng(9), bad = Float32Array.from({ length: tr.n * 4 }, () => r.normal() * 5);
    const qm = new Sequential(js, float.config, 0);
    qm.store.params.set(float.store.params);
    const res = await train(qm, tr, null, cfg({ epochs: 2, optimizer: { kind: 'sgd', lr: 0.5, momentum: 0.9 }, kd: { T: 2, alpha: 1 }, qat: { startEpoch: 0, initRanges: ptqRanges }, selectBy: val }), {}, [{ logits: bad }]);
    // The start's score is the PTQ int8 model's validation accuracy.
    const int8 = new QuantizedSequential(js, ptq);
    expect(res.selected!.scores[0]).toBe(evaluate(int8, val).accuracy);
    int8.release();
    expect(res.selected!.epoch).toBe(0);
    expect(res.selected!.scores.slice(1).every((s) => s! < res.selected!.scores[0]!)).toBe(true);
    expect(Array.from(qm.store.params)).toEqual(Array.from(float.store.params));
    const ranges = res.qat!.actRanges();
    expect(ranges).toEqual(ptqRanges.map((x) => ({ min: Math.fround(x.min), max: Math.fround(x.max) })));
    res.qat!.detach();
    expect(quantizedState(qm, ranges)).toEqual(quantizedState(float, ranges));
    qm.release(); float.release();
  });

  it('initRanges of the wrong count or order are refused, naming the field', async () => {
    const m = new Sequential(js, { layers: [12, 16, 4] }, 3);
    await expect(train(m, tr, null, cfg({ qat: { initRanges: [{ min: 0, max: 1 }] } }))).rejects.toThrow(/qat initial ranges: 1 ranges, the model needs 2/);
    await expect(train(m, tr, null, cfg({ qat: { initRanges: [{ min: 0, max: 1 }, { min: 2, max: 1 }] } }))).rejects.toThrow(/qat initial ranges: range 1/);
    m.release();
  });

  it('selection scores the validation set, not the test set, and keeps the best point (ties: the earliest)', async () => {
    // A "test" set whose labels are shifted: its accuracy moves against the validation one.
    const test = { ...val, name: 'shifted', y: Int32Array.from(val.y, (y) => (y + 1) % 4) };
    const m = new Sequential(js, { layers: [12, 16, 4] }, 5);
    const tests: number[] = [];
    const keep: Float32Array[] = [m.store.params.slice()];
    const res = await train(m, tr, test, cfg({ epochs: 4, optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9 }, selectBy: val }), { onEpoch: (e) => { tests.push(e.test_acc!); keep.push(m.store.params.slice()); } });
    const s = res.selected!;
    // Each score is the validation accuracy of that point's weights.
    for (let p = 0; p < keep.length; p++) {
      const probe = new Sequential(js, m.config, 0);
      probe.store.params.set(keep[p]);
      expect(s.scores[p]).toBe(evaluate(probe, val).accuracy);
      probe.release();
    }
    const best = Math.max(...s.scores.map((x) => x!));
    expect(s.epoch).toBe(s.scores.findIndex((x) => x === best));
    expect(s.accuracy).toBe(best);
    expect(Array.from(m.store.params)).toEqual(Array.from(keep[s.epoch]));
    expect(tests.length).toBe(4);
    // The test set is refused as the selection set, and so is the training set.
    await expect(train(m, tr, test, cfg({ selectBy: test }))).rejects.toThrow(/must be held out/);
    await expect(train(m, tr, null, cfg({ selectBy: tr }))).rejects.toThrow(/must be held out/);
    m.release();
  });

  it('a resumed run keeps the same selection (the best point is in the checkpoint)', async () => {
    const path = join(dir, 'sel-ck.safetensors');
    const c = (over: Partial<TrainConfig> = {}) => cfg({ epochs: 4, selectBy: val, qat: { startEpoch: 1, freezeEpoch: 2 }, kd: { T: 2, alpha: 0.5 }, ...over });
    const teacher = new Sequential(js, { layers: [12, 24, 4] }, 8);
    await train(teacher, tr, null, cfg({ epochs: 3 }));
    const a = new Sequential(js, { layers: [12, 16, 4] }, 3);
    const ra = await train(a, tr, null, c(), {}, [{ model: teacher }]);
    const b = new Sequential(js, { layers: [12, 16, 4] }, 3);
    const part = await train(b, tr, null, c({ checkpointPath: path, checkpointEvery: 4 }), { stopAfterSteps: 25 }, [{ model: teacher }]);
    expect(part.stopped).toBe(true);
    part.qat!.detach();
    const b2 = new Sequential(js, { layers: [12, 16, 4] }, 3);
    const rb = await train(b2, tr, null, c({ checkpointPath: path, resume: true }), {}, [{ model: teacher }]);
    expect(rb.selected).toEqual(ra.selected);
    // QAT from epoch 2: the start and epoch 1 (float) do not count.
    expect(ra.selected!.scores.slice(0, 2)).toEqual([null, null]);
    expect(Array.from(b2.store.params)).toEqual(Array.from(a.store.params));
    expect(Array.from(rb.qat!.ranges)).toEqual(Array.from(ra.qat!.ranges));
    ra.qat!.detach(); rb.qat!.detach();
    for (const x of [a, b, b2, teacher]) x.release();
  });
});

describe('CLI: --allocation, --val-fraction, --qat-calib', () => {
  const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
  const distill = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const RT = ['--backend', 'wasm-simd', '--workers', '1'];

  it('--help documents them with their defaults and examples', () => {
    const p = distill('prune', '--help');
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/--allocation.*'uniform'.*'global'.*\(default: uniform\)/);
    expect(p.out).toMatch(/--sparsity.*--allocation global: of the model's parameters/);
    expect(p.out).toMatch(/--val-fraction.*test set is never used to choose.*\(default: 0\)/);
    expect(p.out).toContain('--allocation global --sparsity 0.5');
    const s = distill('student', '--help');
    expect(s.out).toMatch(/--qat-calib.*PTQ int8 model.*\(default: 0\)/);
    expect(s.out).toMatch(/--val-fraction.*\(default: 0\)/);
    expect(s.out).toContain('--qat-calib 1000');
  });

  it('distill prune --structured --allocation global --val-fraction: half the parameters, the recovery point chosen on held-out rows', () => {
    const base = join(dir, 'base');
    expect(distill('teach', '--data', 'mnist', '--hidden', '32', '--epochs', '2', '--out', base, '--quiet', ...RT).code).toBe(0);
    const out = join(dir, 'half');
    const r = distill('prune', join(base, 'model.safetensors'), '--structured', '--allocation', 'global', '--sparsity', '0.5', '--recover-epochs', '2', '--val-fraction', '0.1', '--out', out, ...RT);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/800 of the 8000 training samples held out for selection/);
    expect(r.err).toMatch(/prune: recovery kept the (start point|model after epoch \d)/);
    const j = JSON.parse(readFileSync(join(out, 'prune.json'), 'utf8'));
    expect(j.settings).toMatchObject({ allocation: 'global', valFraction: 0.1 });
    const before = j.rows[0].parameters, after = j.rows.at(-1).parameters;
    expect(before - after).toBeGreaterThanOrEqual(Math.round(0.5 * before));
    expect(distill('prune', join(base, 'model.safetensors'), '--allocation', 'global', '--out', join(dir, 'x')).err).toMatch(/--allocation needs --structured/);
    expect(distill('prune', join(base, 'model.safetensors'), '--structured', '--allocation', 'even', '--out', join(dir, 'x')).err).toMatch(/--allocation: expected uniform or global, got "even"/);
  }, 120_000);

  it('distill student --qat --qat-calib --val-fraction starts from the PTQ ranges and keeps the best validation point', () => {
    const base = join(dir, 'base');
    const out = join(dir, 'qat');
    const r = distill('student', '--teacher', join(base, 'model.safetensors'), '--init', join(base, 'model.safetensors'), '--qat', '--qat-calib', '500', '--qat-freeze-epoch', '2', '--epochs', '2', '--lr', '0.002', '--val-fraction', '0.1', '--out', out, ...RT);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/QAT ranges start from min\/max calibration over the first 500 training rows/);
    expect(r.err).toMatch(/student: kept the (start point|model after epoch \d): validation accuracy [\d.]+% on 800 held-out training rows/);
    expect(distill('student', '--teacher', join(base, 'model.safetensors'), '--hidden', '8', '--qat-calib', '10', '--out', join(dir, 'y')).err).toMatch(/--qat-calib needs --qat/);
  }, 120_000);
});
