// Distillation methods: fusion of several teachers (mean of logits or of probabilities, weights,
// per-teacher temperatures) against hand-computed values; T/alpha schedules and the KD start
// epoch; and both running inside the trainer (locally and with workers).

import { describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import type { Dataset } from '../src/data/dataset.js';
import { kdForEpoch } from '../src/distill/schedules.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { fuseTeacherLogits } from '../src/distill/objectives.js';
import { Rng } from '../src/nn/rng.js';
import { Sequential } from '../src/nn/sequential.js';

const softmax = (z: number[], T: number) => {
  const e = z.map((v) => Math.exp(v / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('teacher fusion', () => {
  const z1 = new Float32Array([2, 0, -1]), z2 = new Float32Array([0, 1, 3]);
  it('mean of probabilities, weighted, per-teacher temperature: softmax(out/T) is the mixture', () => {
    const out = new Float32Array(3);
    fuseTeacherLogits([z1, z2], [{ weight: 3 }, { weight: 1, temperature: 2 }], 4, 'probs', 1, 3, out);
    // By hand: p = (3·softmax(z1/4) + 1·softmax(z2/2)) / 4.
    const p1 = softmax([2, 0, -1], 4), p2 = softmax([0, 1, 3], 2);
    const want = p1.map((v, j) => (3 * v + p2[j]) / 4);
    const got = softmax(Array.from(out), 4);
    got.forEach((v, j) => expect(v).toBeCloseTo(want[j], 6));
    expect(want[0]).toBeCloseTo(0.3958, 4); // (3·e^0.5/3.4275 + 1/7.1304) / 4, by hand: pins the formula itself
  });
  it('mean of logits rescales each teacher to T first; one teacher at T passes through', () => {
    const out = new Float32Array(3);
    fuseTeacherLogits([z1, z2], [{ weight: 1 }, { weight: 1, temperature: 2 }], 4, 'logits', 1, 3, out);
    // (1·z1 + 1·(4/2)·z2) / 2
    expect(Array.from(out)).toEqual([1, 1, 2.5]);
    fuseTeacherLogits([z1], [{ weight: 5 }], 4, 'probs', 1, 3, out);
    expect(Array.from(out)).toEqual([2, 0, -1]);
  });
});

describe('KD schedules', () => {
  const base = { T: 8, alpha: 0.9, scaleT2: true };
  it('linear and cosine T, linear alpha, over the KD epochs after the start epoch', () => {
    const s = { T: { kind: 'linear' as const, to: 2 }, alpha: { kind: 'cosine' as const, to: 0.5 }, startEpoch: 1 };
    expect(kdForEpoch(base, s, 0, 5)).toBeNull();
    expect(kdForEpoch(base, s, 1, 5)).toMatchObject({ T: 8, alpha: 0.9 });
    expect(kdForEpoch(base, s, 3, 5)!.T).toBeCloseTo(4, 10); // 2/3 of the way from 8 to 2
    expect(kdForEpoch(base, s, 3, 5)!.alpha).toBeCloseTo(0.5 + 0.4 * (1 + Math.cos((Math.PI * 2) / 3)) / 2, 10);
    expect(kdForEpoch(base, s, 4, 5)).toMatchObject({ T: 2, alpha: 0.5 });
    expect(kdForEpoch(base, undefined, 3, 5)).toEqual(base);
  });
  it('rejects schedules that leave the valid range', () => {
    expect(() => kdForEpoch(base, { T: { kind: 'linear', to: -1 } }, 4, 5)).toThrow(/temperature T must be/);
    expect(() => kdForEpoch(base, { T: { kind: 'linear' } }, 1, 5)).toThrow(/needs a finite 'to'/);
  });
});

describe('in the trainer', () => {
  const r = new Rng(3);
  const n = 120, F = 10, K = 3;
  const x = new Float32Array(n * F), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r.int(K);
    for (let f = 0; f < F; f++) x[i * F + f] = r.normal() + (f % K === y[i] ? 1 : 0);
  }
  const data: Dataset = { name: 'm', x, y, n, features: F, classes: K };
  const cfg = (o: Partial<TrainConfig>): TrainConfig => ({ epochs: 3, batchSize: 32, seed: 1, optimizer: { kind: 'sgd', lr: 0.05 }, schedule: { kind: 'constant' }, kd: { T: 4, alpha: 0.8 }, ...o });

  it('two teachers by probability mean, T schedule, KD from epoch 2: cached == online, and epoch 1 is CE only', async () => {
    const be = await loadBackend('js');
    const teachers = [
      { model: new Sequential(be, { layers: [F, 16, K] }, 1), weight: 2, temperature: 3 },
      { model: new Sequential(be, { layers: [F, 8, 8, K] }, 2), weight: 1 },
    ];
    const run = async (o: Partial<TrainConfig>) => {
      const m = new Sequential(be, { layers: [F, 6, K] }, 5);
      const res = await train(m, data, null, cfg({ teacherFusion: 'probs', kdSchedule: { T: { kind: 'linear', to: 2 }, startEpoch: 1 }, ...o }), {}, teachers);
      return { params: m.store.params.slice(), history: res.history };
    };
    const cached = await run({ teacherMode: 'cached' });
    const online = await run({ teacherMode: 'online' });
    const par = await run({ teacherMode: 'online', workers: 2 });
    expect(cached.history[0].train_kd).toBe(0);
    expect(cached.history[1].train_kd).toBeGreaterThan(0);
    expect(Buffer.from(cached.params.buffer).equals(Buffer.from(online.params.buffer))).toBe(true);
    for (let i = 0; i < par.params.length; i++) expect(par.params[i]).toBeCloseTo(online.params[i], 4);
  });

  it('augmented inputs: teachers run online, the run is deterministic; precomputed logits are refused', async () => {
    const be = await loadBackend('js');
    const img: Dataset = { ...data, features: 9, x: new Float32Array(n * 9).map((_, i) => x[i % x.length]) };
    const teacher = { model: new Sequential(be, { layers: [9, 8, K] }, 1) };
    const go = async () => {
      const m = new Sequential(be, { layers: [9, 6, K] }, 5);
      await train(m, img, null, cfg({ augment: { shift: 1 } }), {}, [teacher]);
      return m.store.params.slice();
    };
    expect(await go()).toEqual(await go());
    await expect(train(new Sequential(be, { layers: [9, 6, K] }, 5), img, null, cfg({ augment: { shift: 1 } }), {}, [{ logits: new Float32Array(n * K) }])).rejects.toThrow(/precomputed teacher logits cannot follow/);
    await expect(train(new Sequential(be, { layers: [10, 6, K] }, 5), data, null, cfg({ augment: { shift: 1 } }))).rejects.toThrow(/10 features is not a square/);
  });
});

describe('augmentation and logits files', () => {
  it('shiftImages moves each image by at most maxShift pixels, seeded, background-filled', async () => {
    const { shiftImages } = await import('../src/data/augment.js');
    const side = 6, N = 50;
    const x = new Float32Array(N * 36);
    for (let i = 0; i < N; i++) x[i * 36 + 2 * side + 3] = 1; // one lit pixel at (row 2, col 3)
    const a = x.slice(), b = x.slice();
    shiftImages(a, N, side, 2, 9);
    shiftImages(b, N, side, 2, 9);
    expect(a).toEqual(b);
    const moves = new Set<string>();
    for (let i = 0; i < N; i++) {
      const img = a.subarray(i * 36, i * 36 + 36);
      const at = img.findIndex((v) => v === 1);
      const r = Math.floor(at / side), c = at % side;
      expect(img.reduce((s, v) => s + v, 0)).toBe(1);
      expect(Math.abs(r - 2)).toBeLessThanOrEqual(2);
      expect(Math.abs(c - 3)).toBeLessThanOrEqual(2);
      moves.add(`${r - 2},${c - 3}`);
    }
    expect(moves.size).toBeGreaterThan(10); // many of the 25 shifts occur
  });

  it('a teacher-logits file round-trips and is refused for data of another size', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { saveTeacherLogits, loadTeacherLogits } = await import('../src/io/logits-file.js');
    const ds: Dataset = { name: 'd', x: new Float32Array([1, 2, 3, 4, 5, 6]), y: new Int32Array([0, 1, 0]), n: 3, features: 2, classes: 2 };
    const p = join(mkdtempSync(join(tmpdir(), 'distillery-lg-')), 'l.safetensors');
    const l = new Float32Array([1, -1, 0.5, 2, 3, 4]);
    await saveTeacherLogits(p, ds, { logits: [l], teachers: [{ file: 't.safetensors', config: { input: [2], layers: ['dense:2'] } }] });
    const back = await loadTeacherLogits(p, ds, 2);
    expect(back.logits[0]).toEqual(l);
    expect(back.teachers[0].file).toBe('t.safetensors');
    const fewer = { ...ds, n: 2, x: ds.x.slice(0, 4), y: ds.y.slice(0, 2) };
    await expect(loadTeacherLogits(p, fewer, 2)).rejects.toThrow(/holds logits for 3 samples of 'd', but 'd' has 2/);
    await expect(loadTeacherLogits(p, ds, 3)).rejects.toThrow(/expected F32\[3,3\]/);
  });
});

describe('partly labeled transfer sets', () => {
  const r = new Rng(12);
  const n = 90, F = 6, K = 3;
  const x = new Float32Array(n * F), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r.int(K);
    for (let f = 0; f < F; f++) x[i * F + f] = r.normal() + (f % K === y[i] ? 1 : 0);
  }
  const labeled = Uint8Array.from({ length: n }, (_, i) => (i < 15 ? 1 : 0));
  const cfg: TrainConfig = { epochs: 2, batchSize: 16, seed: 4, optimizer: { kind: 'sgd', lr: 0.1 }, schedule: { kind: 'constant' }, kd: { T: 2, alpha: 0.6 } };

  it('the labels of unlabeled samples are ignored; their soft targets are not', async () => {
    const be = await loadBackend('js');
    const other = y.map((l, i) => (labeled[i] ? l : (l + 1) % K));
    const run = async (labels: Int32Array, withTeacher: boolean, mask = labeled) => {
      const m = new Sequential(be, { layers: [F, 5, K] }, 2);
      const teachers = withTeacher ? [{ model: new Sequential(be, { layers: [F, 9, K] }, 8) }] : [];
      await train(m, { name: 'p', x, y: labels, n, features: F, classes: K, labeled: mask }, null, cfg, {}, teachers);
      return Buffer.from(m.store.params.slice().buffer);
    };
    expect((await run(y, false)).equals(await run(other, false))).toBe(true);
    expect((await run(y, true)).equals(await run(other, true))).toBe(true);
    expect((await run(y, true)).equals(await run(y, true, new Uint8Array(n).fill(1)))).toBe(false);
  });

  it('with 2 data-parallel workers: the same weights as 1 worker (within float tolerance), unlabeled labels still ignored', async () => {
    const be = await loadBackend('js');
    const other = y.map((l, i) => (labeled[i] ? l : (l + 1) % K));
    const run = async (labels: Int32Array, workers: number, teacherMode: 'cached' | 'online', withTeacher = true) => {
      const m = new Sequential(be, { layers: [F, 5, K] }, 2);
      const teachers = withTeacher ? [{ model: new Sequential(be, { layers: [F, 9, K] }, 8) }] : [];
      await train(m, { name: 'p', x, y: labels, n, features: F, classes: K, labeled }, null, { ...cfg, workers, teacherMode }, {}, teachers);
      return m.store.params.slice();
    };
    for (const mode of ['cached', 'online'] as const) {
      const one = await run(y, 1, mode), two = await run(y, 2, mode);
      let diff = 0;
      for (let i = 0; i < one.length; i++) diff = Math.max(diff, Math.abs(one[i] - two[i]));
      expect(diff, mode).toBeLessThan(1e-5);
      expect(Buffer.from((await run(other, 2, mode)).buffer).equals(Buffer.from(two.buffer)), mode).toBe(true);
    }
    const alone1 = await run(y, 1, 'cached', false), alone2 = await run(y, 2, 'cached', false);
    let diff = 0;
    for (let i = 0; i < alone1.length; i++) diff = Math.max(diff, Math.abs(alone1[i] - alone2[i]));
    expect(diff).toBeLessThan(1e-5);
  });
});
