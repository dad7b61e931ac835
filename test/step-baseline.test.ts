// Same seed, same weights as before the one-step refactor: the runs of
// scripts/make-step-baseline.sh (teacher 784-128-10 with dropout 0.1, then student 784-32-10
// distilled from it, built-in digits, seed 1, 2 epochs each) are trained again with today's code
// through the CLI and compared per tensor with the files that script wrote at commit e8adff6
// (test/fixtures/e8adff6/): max |new - old| ≤ 1e-6 on js, ≤ 1e-5 on the others. The old files
// are also the model files written by e8adff6-era code, so loading them checks that old files
// still load.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../src/io/safetensors.js';
import { backendsUnderTest } from './util.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'distill.js');
const FIX = join(ROOT, 'test', 'fixtures', 'e8adff6');
const dir = mkdtempSync(join(tmpdir(), 'distillery-baseline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { backends, missing } = await backendsUnderTest();
const have = new Set(backends.map((b) => b.name));
for (const b of backends) b.dispose?.();

function distill(args: string[]): void {
  const r = spawnSync(process.execPath, [BIN, ...args, '--quiet'], { encoding: 'utf8', env: { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
  if (r.status !== 0) throw new Error(`distill ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
}

/** Largest |a - b| over each tensor of two model files, by tensor name. */
async function maxDiffs(file: string, ref: string): Promise<Record<string, number>> {
  const [a, b] = [await readSafetensors(file), await readSafetensors(ref)];
  expect(Object.keys(a.tensors).sort()).toEqual(Object.keys(b.tensors).sort());
  const out: Record<string, number> = {};
  for (const [name, t] of Object.entries(b.tensors)) {
    const x = a.tensors[name].data as Float32Array, y = t.data as Float32Array;
    expect(a.tensors[name].shape, name).toEqual(t.shape);
    let d = 0;
    for (let i = 0; i < y.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]) || (x[i] === y[i] ? 0 : Infinity));
    out[name] = d;
  }
  return out;
}

const RUNS: [string, number, number][] = [['js', 1, 1e-6], ['native', 1, 1e-5], ['native', 2, 1e-5], ['wasm-simd', 1, 1e-5], ['wasm-simd', 2, 1e-5]];

describe('same weights as e8adff6 from the same seed', () => {
  it('the backends these runs need are here (or not required)', () => {
    expect(missing).toEqual([]);
  });
  for (const [be, workers, tol] of RUNS) {
    it.skipIf(!have.has(be))(`${be} x${workers}: teacher then student, every tensor within ${tol}`, { timeout: 120_000 }, async () => {
      const out = join(dir, `${be}-x${workers}`), ref = join(FIX, `${be}-x${workers}`);
      const common = ['--epochs', '2', '--seed', '1', '--backend', be, '--workers', String(workers)];
      distill(['teach', '--layers', '784,128,10', '--dropout', '0.1', ...common, '--out', join(out, 't')]);
      // The student learns from the reference teacher, so its check does not inherit the teacher's.
      distill(['student', '--teacher', join(ref, 'teacher.safetensors'), '--layers', '784,32,10', ...common, '--out', join(out, 's')]);
      const t = await maxDiffs(join(out, 't', 'model.safetensors'), join(ref, 'teacher.safetensors'));
      const s = await maxDiffs(join(out, 's', 'model.safetensors'), join(ref, 'student.safetensors'));
      for (const [name, d] of Object.entries(t)) expect(d, `teacher ${name}`).toBeLessThanOrEqual(tol);
      for (const [name, d] of Object.entries(s)) expect(d, `student ${name}`).toBeLessThanOrEqual(tol);
    });
  }
});
