// `distill prune` end to end through the real binary: a 784-64-10 model trained on the built-in
// digits, pruned 50% structured (→ 784-32-10, half the file) and recovered by KD from itself;
// unstructured with the cubic schedule; the pruned file evaluates and exports like any model;
// --help; bad input gives one clear line and writes nothing.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-prune-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function distill(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// wasm-simd: built on every machine; one worker: the same numbers every run.
const RT = ['--backend', 'wasm-simd', '--workers', '1', '--quiet'];
const base = join(dir, 'base');
interface Row { stage: string; accuracy: number; parameters: number; bytes: number | null; layers: string; weightSparsity: number }

beforeAll(() => {
  const r = distill('teach', '--data', 'mnist', '--hidden', '64', '--epochs', '10', '--out', base, ...RT);
  expect(r.code, r.err).toBe(0);
}, 120_000);

describe('distill prune', () => {
  it('--help: defaults and examples', () => {
    const h = distill('prune', '--help');
    expect(h.code).toBe(0);
    for (const s of ['usage: distill prune MODEL', '--sparsity', '(default: 0.5)', '--structured', '--schedule', '(default: oneshot)', '--recover-epochs', '(default: 10)', '--teacher', '--criterion', '(default: io)', 'examples:', 'distill prune runs/student/model.safetensors']) expect(h.out).toContain(s);
    expect(distill('--help').out).toMatch(/prune\s+prune a saved model/);
  });

  it('50% structured on the digits: 784-64-10 → 784-32-10, half the file, recovered within 0.5 pt', () => {
    const out = join(dir, 'structured');
    const r = distill('prune', join(base, 'model.safetensors'), '--structured', '--sparsity', '0.5', '--out', out, ...RT);
    expect(r.code, r.err).toBe(0);
    const { rows } = JSON.parse(readFileSync(join(out, 'prune.json'), 'utf8')) as { rows: Row[] };
    const [before, pruned, after] = rows;
    expect(before.layers).toBe('784-64-10');
    expect(after.layers).toBe('784-32-10');
    expect(after.parameters).toBe(784 * 32 + 32 + 32 * 10 + 10);
    expect(after.bytes!).toBeLessThan(0.51 * before.bytes!);
    expect(after.bytes).toBe(statSync(join(out, 'model.safetensors')).size);
    expect(after.accuracy).toBeGreaterThan(pruned.accuracy + 0.01); // recovery does something
    expect(after.accuracy).toBeGreaterThan(before.accuracy - 0.005); // the target
    expect(r.out).toMatch(/prune: accuracy .* → .*parameters 50890 → 25450/);
    // speed before/after (prune.json, the summary) and the HTML report with the same numbers
    const { speed } = JSON.parse(readFileSync(join(out, 'prune.json'), 'utf8')) as { speed: { backend: string; before: { ms128: number; ms1: number }; after: { ms128: number; ms1: number } } };
    for (const k of ['before', 'after'] as const) for (const b of ['ms128', 'ms1'] as const) expect(speed[k][b]).toBeGreaterThan(0);
    expect(r.out).toMatch(new RegExp(`prune: speed on ${speed.backend}: batch of 128 ${speed.before.ms128.toFixed(3)} → ${speed.after.ms128.toFixed(3)} ms`));
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('distill prune: structured, sparsity 0.5');
    expect(html).toContain(`${((784 * 32 + 32 + 32 * 10 + 10) / 50890).toFixed(3)}× the parameters`);
    expect(html.match(/<svg /g)?.length).toBe(4);
    // the pruned file is a model like any other
    const ev = distill('eval', '--model', join(out, 'model.safetensors'), '--data', 'mnist', '--json');
    expect(ev.code, ev.err).toBe(0);
    expect(JSON.parse(ev.out).accuracy).toBeCloseTo(after.accuracy, 6);
    const ex = distill('export', '--model', join(out, 'model.safetensors'), '--out', join(out, 'model.onnx'));
    expect(ex.code, ex.err).toBe(0);
    expect(existsSync(join(out, 'model.onnx'))).toBe(true);
  }, 120_000);

  it('unstructured cubic, 2 workers: 70% of the weights exactly 0 in the saved file, accuracy kept', () => {
    const out = join(dir, 'cubic');
    const r = distill('prune', join(base, 'model.safetensors'), '--sparsity', '0.7', '--schedule', 'cubic', '--prune-epochs', '3', '--recover-epochs', '5', '--out', out, '--backend', 'wasm-simd', '--workers', '2', '--quiet');
    expect(r.code, r.err).toBe(0);
    const { rows } = JSON.parse(readFileSync(join(out, 'prune.json'), 'utf8')) as { rows: Row[] };
    const after = rows.at(-1)!;
    expect(after.weightSparsity).toBeCloseTo((Math.round(0.7 * 784 * 64) + Math.round(0.7 * 640)) / (784 * 64 + 640), 9);
    expect(after.parameters).toBe(rows[0].parameters); // dense file: the zeros are stored
    expect(after.accuracy).toBeGreaterThan(rows[0].accuracy - 0.01);
    expect(existsSync(join(out, 'metrics.jsonl'))).toBe(true);
  }, 120_000);

  it('structured cubic with --teacher: channels masked over 2 epochs, removed, then 1 epoch on the smaller model', () => {
    const out = join(dir, 'scubic');
    const r = distill('prune', join(base, 'model.safetensors'), '--structured', '--schedule', 'cubic', '--prune-epochs', '2', '--recover-epochs', '3', '--teacher', join(base, 'model.safetensors'), '--criterion', 'l1', '--out', out, ...RT);
    expect(r.code, r.err).toBe(0);
    const { rows, settings } = JSON.parse(readFileSync(join(out, 'prune.json'), 'utf8')) as { rows: Row[]; settings: Record<string, unknown> };
    expect(rows.map((x) => x.stage)).toEqual(['before', 'pruned (channels removed) after 2 epoch(s) of gradual pruning', 'after recovery']);
    expect(rows[2].layers).toBe('784-32-10');
    expect(settings).toMatchObject({ structured: true, schedule: 'cubic', pruneEpochs: 2, recoverEpochs: 3, criterion: 'l1' });
    for (const f of ['checkpoint-prune.safetensors', 'metrics-prune.jsonl', 'checkpoint.safetensors', 'metrics.jsonl']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'metrics-prune.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    expect(rows[2].accuracy).toBeGreaterThan(rows[0].accuracy - 0.02);
  }, 120_000);

  it('--no-kd recovers on the labels; --recover-epochs 0 only prunes', () => {
    const a = distill('prune', join(base, 'model.safetensors'), '--structured', '--no-kd', '--recover-epochs', '2', '--out', join(dir, 'nokd'), ...RT);
    expect(a.code, a.err).toBe(0);
    const rowsA = (JSON.parse(readFileSync(join(dir, 'nokd', 'prune.json'), 'utf8')) as { rows: Row[] }).rows;
    expect(rowsA[2].accuracy).toBeGreaterThan(rowsA[1].accuracy);
    const b = distill('prune', join(base, 'model.safetensors'), '--sparsity', '0.3', '--recover-epochs', '0', '--out', join(dir, 'only'), ...RT);
    expect(b.code, b.err).toBe(0);
    const rowsB = (JSON.parse(readFileSync(join(dir, 'only', 'prune.json'), 'utf8')) as { rows: Row[] }).rows;
    expect(rowsB.map((x) => x.stage)).toEqual(['before', 'pruned (masked)', 'after pruning']);
    expect(rowsB[2].accuracy).toBe(rowsB[1].accuracy);
    expect(rowsB[2].weightSparsity).toBeCloseTo((Math.round(0.3 * 784 * 64) + Math.round(0.3 * 640)) / (784 * 64 + 640), 9);
  }, 120_000);

  it('bad input: one clear line, exit 2, nothing written', () => {
    const m = join(base, 'model.safetensors');
    const cases: [string[], RegExp][] = [
      [['prune', join(dir, 'nope.safetensors')], /nope\.safetensors.*not found/],
      [['prune', '--sparsity', '0.5'], /needs MODEL first/],
      [['prune', '--structured', m], /needs MODEL first/],
      [['prune', m, '--sparsity', '1'], /--sparsity must be a fraction in \[0, 1\)/],
      [['prune', m, '--sparsity=-0.2'], /\[0, 1\)/],
      [['prune', m, '--schedule', 'linear'], /--schedule: expected oneshot or cubic/],
      [['prune', m, '--schedule', 'cubic', '--recover-epochs', '0'], /cubic prunes during recovery/],
      [['prune', m, '--criterion', 'l3'], /--criterion: expected l1, l2, io/],
      [['prune', m, '--teacher', join(dir, 'missing-teacher.safetensors')], /missing-teacher.*not found/],
      [['prune', m, '--structured', '--sparsity', '0.999'], /layers\[0\] 'dense:64'.*zero width/],
    ];
    for (const [args, re] of cases) {
      const out = join(dir, 'bad');
      const r = distill(...args, '--out', out, ...RT);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(re);
      expect(existsSync(out)).toBe(false); // checked before the --out folder is made
    }
  }, 120_000);
});
