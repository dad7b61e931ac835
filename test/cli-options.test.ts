// Options people expect: --help of every command shows defaults and two examples; unknown
// commands, flags and config keys get a "did you mean"; CSV options (--label-column by name or
// index, --delimiter, --no-header, --test, --test-fraction); --hidden infers the input and class
// counts from the data.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closest } from '../src/cli/options.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { Rng } from '../src/nn/rng.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { cwd: dir, encoding: 'utf8', env: { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') } });

const COMMANDS = ['teach', 'student', 'logits', 'predict', 'export', 'eval', 'bench', 'demo', 'quantize', 'prune', 'sweep'];

describe('help and suggestions', () => {
  it.each(COMMANDS)('distill %s --help: options with defaults, and two examples', (cmd) => {
    const r = run(cmd, '--help');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: distill /);
    expect(r.stdout).toMatch(/\(default: /);
    const ex = r.stdout.split('\nexamples:\n')[1];
    expect(ex, 'an examples section').toBeDefined();
    expect(ex.trim().split('\n').filter((l) => l.trim().startsWith('distill ')).length).toBeGreaterThanOrEqual(2);
  });

  it('did you mean: commands, flags, config-file keys', () => {
    const c = run('studnet');
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/unknown command 'studnet'; did you mean 'student'\?/);
    const f = run('teach', '--epoch', '3');
    expect(f.status).toBe(2);
    expect(f.stderr).toMatch(/Unknown option '--epoch'; did you mean --epochs\?/);
    writeFileSync(join(dir, 'cfg.json'), JSON.stringify({ 'learning-rate': 0.1 }));
    const k = run('teach', '--config', 'cfg.json');
    expect(k.status).toBe(2);
    expect(k.stderr).toMatch(/unknown option 'learning-rate'/);
    expect(closest('weight-decy', ['weight-decay', 'warmup'])).toBe('weight-decay');
    expect(closest('zzzz', ['teach', 'student'])).toBeNull();
  });
});

describe('CSV options and --hidden', () => {
  const r = new Rng(2), names = ['red', 'green', 'blue'];
  const rows: string[][] = [];
  for (let i = 0; i < 120; i++) {
    const k = i % 3;
    rows.push([names[k], ...[0, 1, 2].map((f) => (r.normal() * 0.3 + (f === k ? 2 : 0)).toFixed(3))]);
  }
  // The label first, semicolons, no header.
  writeFileSync(join(dir, 'semi.csv'), rows.map((c) => c.join(';')).join('\n'));
  writeFileSync(join(dir, 'train.csv'), 'colour,a,b,c\n' + rows.slice(0, 90).map((c) => c.join(',')).join('\n'));
  writeFileSync(join(dir, 'test.csv'), 'colour,a,b,c\n' + rows.slice(90).map((c) => c.join(',')).join('\n'));
  const J = ['--backend', 'js', '--workers', '1', '--epochs', '20', '--batch', '16'];

  it('--delimiter, --no-header, --label-column by index, --test-fraction, --hidden', async () => {
    const t = run('teach', '--data', 'semi.csv', '--delimiter', ';', '--no-header', '--label-column', '0', '--test-fraction', '0.25', '--hidden', '8', ...J, '--out', 'a');
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/data: semi\.csv: 90 train \/ 30 test samples, 3 features, 3 classes \(blue, green, red\)/);
    expect(t.stderr).toMatch(/teacher: layers 3-8-3,/);
    expect(t.stdout).toMatch(/test accuracy (9\d|100)\.\d\d%/);
    const { metadata } = await readSafetensors(join(dir, 'a', 'model.safetensors'));
    expect(JSON.parse(metadata.class_names)).toEqual(['blue', 'green', 'red']);
  }, 60_000);

  it('--test FILE and --label-column by name', () => {
    const t = run('teach', '--data', 'train.csv', '--test', 'test.csv', '--label-column', 'colour', '--hidden', '8', ...J, '--out', 'b');
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/90 train \/ 30 test samples, 3 features, 3 classes/);
  }, 60_000);

  it('distill demo --epochs N sets both stages; --student-epochs wins over it', () => {
    const d = run('demo', '--data', 'train.csv', '--test', 'test.csv', '--label-column', 'colour', '--epochs', '2', '--student-epochs', '1', '--student-samples', '30', '--backend', 'js', '--workers', '1', '--out', 'demo');
    expect(d.status, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/teacher: layers 3-256-3 .*, 2 epochs on 90 samples/);
    expect(d.stderr).toMatch(/student-alone: layers 3-32-3, .*, 1 epochs on 30 samples/);
    expect(run('demo', '--epochs', '0').stderr).toMatch(/--epochs: expected an integer >= 1, got "0"/);
  }, 60_000);

  it('wrong uses say what is wrong', () => {
    const a = run('teach', '--label-column', 'x', '--hidden', '8', ...J, '--out', 'c');
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/--label-column apply to CSV data only/);
    const b = run('teach', '--data', 'train.csv', '--hidden', '8,zero', ...J, '--out', 'c');
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--hidden: expected positive integer widths/);
    const c = run('teach', '--data', 'train.csv', '--label-column', 'nope', '--hidden', '8', ...J, '--out', 'c');
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/train\.csv: no column named 'nope' in the header \(columns: colour, a, b, c\)/);
    const d = run('teach', '--data', 'train.csv', '--hidden', '8', '--layers', '3,8,3', ...J, '--out', 'c');
    expect(d.status).toBe(2);
    expect(d.stderr).toMatch(/give the model one way: --layers and --hidden were both given/);
  }, 60_000);
});
