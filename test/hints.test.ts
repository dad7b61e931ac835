// Hint (FitNets) losses: finite-difference gradient checks of CE + hint (MSE and cosine) through
// the adapter into the student, on every backend; and training with hints (pre-training stage,
// resume equivalence, adapters not exported, clear errors).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import type { Dataset } from '../src/data/dataset.js';
import { HintAdapters, cosineLoss } from '../src/distill/hints.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { ceObjective } from '../src/distill/objectives.js';
import { hintLossAndGrads } from '../src/step/step.js';
import { Rng } from '../src/nn/rng.js';
import { Sequential } from '../src/nn/sequential.js';
import { saveModel, readModel } from '../src/io/model-file.js';
import { backendsUnderTest, randArray, randLabels, fd } from './util.js';

const { backends } = await backendsUnderTest();
const dir = mkdtempSync(join(tmpdir(), 'distillery-hints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const close = (a: number, n: number, what: string) => expect(Math.abs(a - n), `${what}: analytic ${a} vs numeric ${n}`).toBeLessThanOrEqual(3e-3 + 3e-2 * Math.abs(n));

describe.each(backends.map((b) => [b.name, b]))('hint loss gradients on %s', (_n, be) => {
  for (const loss of ['mse', 'cosine'] as const) {
    it(`CE + ${loss} hint: student and adapter gradients match finite differences`, () => {
      const N = 4;
      const student = new Sequential(be, { layers: [5, 6, 4, 3], activation: 'gelu' }, 3);
      const teacher = new Sequential(be, { layers: [5, 7, 8, 3], activation: 'gelu' }, 4).eval();
      const hints = new HintAdapters(be, student, teacher, { pairs: [{ student: 0, teacher: 1 }, { student: 1, teacher: 1 }], weight: 0.7, loss }, { kind: 'sgd', lr: 0.1 }, 1, N);
      const x = be.alloc(N * 5);
      x.set(randArray(N * 5, 21));
      const y = be.allocInt32(N);
      y.set(randLabels(N, 3, 22));
      const d = be.alloc(N * 3);
      const total = () => {
        teacher.forward(x, N);
        const z = student.forward(x, N);
        return ceObjective(be, d, z, y, N, 3).loss + hintLossAndGrads(hints, student, teacher, N);
      };
      total();
      student.backward(d, false, hints.inputGrads);
      const gs = student.store.grads.slice(), ga = hints.store.grads.slice();
      for (const spec of student.store.specs) for (let j = 0; j < spec.size; j += 3) close(gs[spec.offset + j], fd(total, student.store.params, spec.offset + j, 1e-2), `student ${spec.name}[${j}]`);
      for (const spec of hints.store.specs) for (let j = 0; j < spec.size; j += 5) close(ga[spec.offset + j], fd(total, hints.store.params, spec.offset + j, 1e-2), `adapter ${spec.name}[${j}]`);
    });
  }
});

describe('hints in the trainer (js)', () => {
  const r = new Rng(8);
  const n = 96, F = 8, K = 3;
  const x = new Float32Array(n * F), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r.int(K);
    for (let f = 0; f < F; f++) x[i * F + f] = r.normal() + (f % K === y[i] ? 1 : 0);
  }
  const data: Dataset = { name: 'h', x, y, n, features: F, classes: K };
  const cfg = (o: Partial<TrainConfig> = {}): TrainConfig => ({
    epochs: 3, batchSize: 16, seed: 2, optimizer: { kind: 'adamw', lr: 0.01 }, schedule: { kind: 'constant' }, kd: { T: 2, alpha: 0.5 },
    hints: { pairs: [{ student: 0, teacher: 1 }], weight: 0.5, preTrainEpochs: 1 }, ...o,
  });

  it('pre-training epoch is hint-only; resume is bit-exact (adapters in the checkpoint); the export has no adapters', async () => {
    const be = await loadBackend('js');
    const teacher = new Sequential(be, { layers: [F, 12, 10, K] }, 1);
    const full = new Sequential(be, { layers: [F, 6, K] }, 3);
    const res = await train(full, data, null, cfg(), {}, [{ model: teacher }]);
    expect(res.history[0]).toMatchObject({ train_kd: 0, train_ce: 0 });
    expect(res.history[0].train_hint).toBeGreaterThan(0);
    expect(res.history[1].train_kd).toBeGreaterThan(0);
    const path = join(dir, 'h.safetensors');
    const a = new Sequential(be, { layers: [F, 6, K] }, 3);
    await train(a, data, null, cfg({ checkpointPath: path }), { stopAfterSteps: 9 }, [{ model: teacher }]);
    const b = new Sequential(be, { layers: [F, 6, K] }, 77);
    await train(b, data, null, cfg({ checkpointPath: path, resume: true }), {}, [{ model: teacher }]);
    expect(Buffer.from(b.store.params.buffer).equals(Buffer.from(full.store.params.buffer))).toBe(true);
    const m = join(dir, 'student.safetensors');
    await saveModel(m, b);
    expect((await readModel(m, be)).model.store.specs.map((s) => s.name).some((s) => s.startsWith('hint'))).toBe(false);
  });

  it('names the layer that does not exist, and refuses precomputed logits as the hint teacher', async () => {
    const be = await loadBackend('js');
    const teacher = new Sequential(be, { layers: [F, 12, K] }, 1);
    await expect(train(new Sequential(be, { layers: [F, 6, K] }, 3), data, null, cfg({ hints: { pairs: [{ student: 0, teacher: 2 }] } }), {}, [{ model: teacher }])).rejects.toThrow(/teacher layer 2 does not exist \(the teacher has hidden blocks 0..0\)/);
    await expect(train(new Sequential(be, { layers: [F, 6, K] }, 3), data, null, cfg({ hints: { pairs: [{ student: 0, teacher: 0 }] } }), {}, [{ logits: new Float32Array(n * K) }])).rejects.toThrow(/hints need a teacher model/);
  });

  it('cosine hint loss is 0 for parallel rows and its gradient is orthogonal to the row', () => {
    const a = new Float32Array([1, 2, 3, 0, 1, 0]), t = new Float32Array([2, 4, 6, 1, 0, 0]), d = new Float32Array(6);
    const l = cosineLoss(d, a, t, 2, 3, 1);
    expect(l).toBeCloseTo(0.5, 6); // row 0: cos 1 → 0; row 1: cos 0 → 1; mean 0.5
    expect(Math.abs(d[0] * 1 + d[1] * 2 + d[2] * 3)).toBeLessThan(1e-6);
  });
});
