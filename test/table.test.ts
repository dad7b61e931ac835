// The CI-sized version of the Hinton-style table (npm run table): on the built-in MNIST digits,
// the few-labels rows — a 784-64-10 student alone on the first 1,000 labeled digits vs the same
// student distilled on all 8,000 training digits through two 784-1200-1200-10 teachers' soft
// targets, with hard labels for those 1,000 only. Seed 1, teachers 2 epochs, students 8.
// Measured when written (seeds 1-2, 3/10 epochs): alone 202-215 errors of 2,000, distilled 143-147.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'distillery-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Hinton-style table, CI-sized', () => {
  it('few labels: distilled on the unlabeled transfer set beats the student alone', () => {
    const script = join(import.meta.dirname, '..', 'bench', 'hinton-table.mjs');
    const out = join(dir, 't.md');
    const r = spawnSync(process.execPath, [script, '--data', 'mnist', '--rows', 'few', '--seeds', '1', '--teacher-epochs', '2', '--student-epochs', '8', '--few', '1000', '--out', out],
      { encoding: 'utf8', env: { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
    expect(r.status, r.stderr).toBe(0);
    const { results } = JSON.parse(readFileSync(join(dir, 't.json'), 'utf8'));
    const alone = results['few labels: 784-64-10 alone on 1000 labeled'][0].errors;
    const distilled = results['few labels: 784-64-10 distilled on all 8000, 1000 labeled'][0].errors;
    console.log(`few labels on MNIST: alone ${alone}, distilled ${distilled} errors of 2000`);
    expect(distilled).toBeLessThan(alone);
    expect(readFileSync(out, 'utf8')).toMatch(/\| few labels: 784-64-10 distilled on all 8000, 1000 labeled \| \d+ ± \d+ \|/);
  }, 300_000);
});
