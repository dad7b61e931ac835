// Resume equivalence: a run interrupted mid-epoch and resumed from its checkpoint ends with
// exactly the same weights (bitwise) as the same run uninterrupted (same seed, same backend).

import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { blobs } from './util.js';
import { Sequential } from '../src/nn/sequential.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('resume', () => {
  const data = blobs(300, 12, 4, 1);
  const test = blobs(100, 12, 4, 2);
  const model = { layers: [12, 16, 4], activation: 'relu' as const, dropout: 0.1 };

  for (const opt of ['sgd', 'adamw'] as const) {
    it(`interrupted + resumed == uninterrupted, bitwise (${opt}, dropout, teacher KD)`, async () => {
      const be = await loadBackend('js');
      const teacher = new Sequential(be, { layers: [12, 20, 4] }, 9);
      const cfg = (name: string): TrainConfig => ({
        epochs: 3, batchSize: 32, seed: 7,
        optimizer: opt === 'sgd' ? { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4 } : { kind: 'adamw', lr: 1e-3 },
        schedule: { kind: 'cosine', totalSteps: 30, warmupSteps: 3 },
        kd: { T: 3, alpha: 0.8 },
        checkpointPath: join(dir, `${name}-${opt}.safetensors`), metricsPath: join(dir, `${name}-${opt}.jsonl`), checkpointEvery: 4,
      });
      const a = new Sequential(be, model, 3);
      const full = await train(a, data, test, cfg('full'), {}, [{ model: teacher }]);
      expect(full.stopped).toBe(false);

      const b1 = new Sequential(be, model, 3);
      const part = await train(b1, data, test, cfg('part'), { stopAfterSteps: 13 }, [{ model: teacher }]);
      expect(part.stopped).toBe(true);
      expect(part.steps).toBe(13);
      // A fresh process would start from a new model: the checkpoint must carry everything.
      const b2 = new Sequential(be, model, 12345);
      const rest = await train(b2, data, test, { ...cfg('part'), resume: true }, {}, [{ model: teacher }]);
      expect(rest.steps).toBe(full.steps);
      expect(Buffer.from(b2.store.params.buffer, b2.store.params.byteOffset, b2.store.params.byteLength)
        .equals(Buffer.from(a.store.params.buffer, a.store.params.byteOffset, a.store.params.byteLength))).toBe(true);
      const strip = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => { const m = JSON.parse(l); delete m.seconds; return m; });
      expect(strip(join(dir, `part-${opt}.jsonl`))).toEqual(strip(join(dir, `full-${opt}.jsonl`)));
    });
  }

  it('refuses data with a NaN feature before training, naming the sample', async () => {
    const be = await loadBackend('js');
    const bad = { ...data, x: data.x.slice() };
    bad.x[37 * 12 + 5] = NaN;
    const base: TrainConfig = { epochs: 1, batchSize: 50, seed: 1, optimizer: { kind: 'sgd', lr: 0.1 }, schedule: { kind: 'constant' } };
    await expect(train(new Sequential(be, model, 1), bad, null, base)).rejects.toThrow(/sample 37, feature 5: value NaN/);
  });

  it('refuses to resume with different settings and leaves the checkpoint intact', async () => {
    const be = await loadBackend('js');
    const path = join(dir, 'guard.safetensors');
    const base: TrainConfig = { epochs: 2, batchSize: 50, seed: 1, optimizer: { kind: 'sgd', lr: 0.1 }, schedule: { kind: 'constant' }, checkpointPath: path };
    await train(new Sequential(be, model, 1), data, null, base, { stopAfterSteps: 3 });
    const before = readFileSync(path);
    await expect(train(new Sequential(be, model, 1), data, null, { ...base, batchSize: 40, resume: true })).rejects.toThrow(/other settings: the batch size \(50 → 40\); resume needs the same ones/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('a NaN loss stops with a NumericalError and keeps the last checkpoint', async () => {
    const be = await loadBackend('js');
    const path = join(dir, 'nan.safetensors');
    const base: TrainConfig = { epochs: 1, batchSize: 50, seed: 1, optimizer: { kind: 'sgd', lr: 0.1 }, schedule: { kind: 'constant' }, checkpointPath: path, checkpointEvery: 2 };
    const m = new Sequential(be, model, 1);
    // Poison the output bias after step 3: step 4's loss is NaN; the checkpoint of step 2 exists.
    const outBias = m.store.specs[m.store.specs.length - 1];
    expect(outBias.name).toMatch(/bias$/);
    const poison = (p: { step: number }) => { if (p.step === 3) m.store.view(outBias)[0] = NaN; };
    await expect(train(m, data, null, base, { onStep: poison })).rejects.toThrow(/loss is NaN at epoch 1, batch 4 \(step 4/);
    const { loadCheckpoint } = await import('../src/io/model-file.js');
    const ck = await loadCheckpoint(path);
    expect(ck.position.step).toBe(2);
    for (const v of ck.params) expect(Number.isFinite(v)).toBe(true);
  });
});
