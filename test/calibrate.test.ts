// The measured choice of backend and worker count: every candidate timed on the run's shapes,
// the fastest picked with its runner-up, the result cached per machine/version/shapes, and the
// --backend/--workers overrides and --recalibrate honored.

import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseRuntime } from '../src/step/calibrate.js';
import { KdStepRunner, type StepShapes } from '../src/step/kd-step.js';
import { loadBackend } from '../src/backends/index.js';
import { ConfigError } from '../src/errors.js';
import { backendsUnderTest } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-cal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shapes: StepShapes = {
  teachers: [{ layers: [30, 40, 5] }], student: { layers: [30, 12, 5] }, N: 32,
  kd: { T: 4, alpha: 0.9, scaleT2: true }, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 },
};
const { backends } = await backendsUnderTest();

describe('calibration', () => {
  it('times every backend x worker count, picks the fastest, names the runner-up, caches it', async () => {
    const cacheFile = join(dir, 'a.json');
    const c = await chooseRuntime(shapes, { cacheFile, budgetMs: 30 });
    expect(c.fromCache).toBe(false);
    // One row per backend x worker count, up to the backend's maxWorkers (native-mt, cuda: 1).
    expect(c.table.length).toBe(backends.reduce((n, b) => n + Math.min(b.maxWorkers ?? Infinity, availableParallelism()), 0));
    expect(c.table[0]).toMatchObject({ backend: c.backend.name, workers: c.workers });
    for (let i = 1; i < c.table.length; i++) expect(c.table[i].ms).toBeGreaterThanOrEqual(c.table[i - 1].ms);
    expect(c.line).toMatch(new RegExp(`^picked ${c.backend.name} ×${c.workers} worker.*; runner-up ${c.table[1].backend} ×${c.table[1].workers}`));
    const again = await chooseRuntime(shapes, { cacheFile, budgetMs: 30 });
    expect(again.fromCache).toBe(true);
    expect([again.backend.name, again.workers]).toEqual([c.backend.name, c.workers]);
    expect(again.line).toMatch(/cached calibration/);
    // Other shapes are another key; --recalibrate measures again.
    expect((await chooseRuntime({ ...shapes, N: 16 }, { cacheFile, budgetMs: 30 })).fromCache).toBe(false);
    expect((await chooseRuntime(shapes, { cacheFile, budgetMs: 30, recalibrate: true })).fromCache).toBe(false);
    expect(Object.keys(JSON.parse(readFileSync(cacheFile, 'utf8'))).length).toBe(2);
  });

  it('--backend narrows the search to worker counts; --backend + --workers measures nothing', async () => {
    const cacheFile = join(dir, 'b.json');
    const only = await chooseRuntime(shapes, { cacheFile, backend: 'js', budgetMs: 30 });
    expect(only.backend.name).toBe('js');
    expect(new Set(only.table.map((r) => r.backend))).toEqual(new Set(['js']));
    const fixed = await chooseRuntime(shapes, { cacheFile: join(dir, 'c.json'), backend: 'js', workers: 2 });
    expect([fixed.backend.name, fixed.workers, fixed.table.length]).toEqual(['js', 2, 0]);
    await expect(chooseRuntime(shapes, { backend: 'nope', workers: 1 })).rejects.toThrow(/unknown backend 'nope' \(backends: /);
  });

  it.skipIf(availableParallelism() < 2)('--backend of a one-worker backend with --workers 2 fails at once with a ConfigError', async () => {
    for (const name of ['wasm-simd-mt', 'native-mt'].filter((n) => backends.some((b) => b.name === n))) {
      const r = chooseRuntime(shapes, { backend: name, workers: 2 });
      await expect(r).rejects.toThrow(ConfigError);
      await expect(chooseRuntime(shapes, { backend: name, workers: 2 })).rejects.toThrow(new RegExp(`--workers 2: backend ${name} trains with at most 1 worker`));
    }
    expect(backends.some((b) => b.name === 'wasm-simd-mt')).toBe(true);
  });

  it('a corrupt cache file is measured over, not fatal', async () => {
    const cacheFile = join(dir, 'bad.json');
    writeFileSync(cacheFile, '{ not json');
    const c = await chooseRuntime(shapes, { cacheFile, backend: 'js', budgetMs: 20 });
    expect(c.fromCache).toBe(false);
    expect(() => JSON.parse(readFileSync(cacheFile, 'utf8'))).not.toThrow();
  });

  it('hints are part of the measured step (their own cache key); a bad hint layer fails at once, not as "no backend completed"', async () => {
    const withHints: StepShapes = { ...shapes, hints: { pairs: [{ student: 0, teacher: 0 }], weight: 0.5 } };
    const js = await loadBackend('js');
    const losses: number[] = [];
    for (const [s, w] of [[shapes, 1], [withHints, 1], [withHints, 2]] as const) {
      const r = await KdStepRunner.create(js, w, s);
      await r.step();
      losses.push(r.loss);
      await r.close();
    }
    expect(losses[1]).toBeGreaterThan(losses[0]); // the hint loss is in the step
    expect(Math.abs(losses[2] - losses[1])).toBeLessThan(1e-5 * losses[1]); // and in the workers' step
    const cacheFile = join(dir, 'h.json');
    await chooseRuntime(shapes, { cacheFile, backend: 'js', budgetMs: 20 });
    expect((await chooseRuntime(withHints, { cacheFile, backend: 'js', budgetMs: 20 })).fromCache).toBe(false);
    expect(Object.keys(JSON.parse(readFileSync(cacheFile, 'utf8'))).length).toBe(2);
    const bad: StepShapes = { ...shapes, hints: { pairs: [{ student: 3, teacher: 0 }] } };
    const err = await chooseRuntime(bad, { cacheFile, budgetMs: 20 }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^hints: student layer 3 does not exist/);
  });

  it('a cached table in which no candidate completed is measured again', async () => {
    const cacheFile = join(dir, 'failed.json');
    const first = await chooseRuntime(shapes, { cacheFile, backend: 'js', budgetMs: 20 });
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
    for (const k of Object.keys(cache)) for (const c of cache[k].table) c.ms = -1; // as a run where every candidate failed would have left it
    writeFileSync(cacheFile, JSON.stringify(cache));
    const again = await chooseRuntime(shapes, { cacheFile, backend: 'js', budgetMs: 20 });
    expect(again.fromCache).toBe(false);
    expect(again.backend.name).toBe(first.backend.name);
    expect(Number.isFinite(again.table[0].ms)).toBe(true);
  });
});
