// CLI end to end on a tiny CSV dataset: teach → student → eval through the real `distill`
// binary, plus the failure paths (one clear line, non-zero exit, existing files untouched).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/nn/rng.js';

const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function distill(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// 3 separable classes in 6 features; string labels to exercise the label mapping.
const csv = join(dir, 'tiny.csv');
{
  const r = new Rng(4);
  const names = ['alpha', 'beta', 'gamma'];
  const lines = ['f0,f1,f2,f3,f4,f5,species'];
  for (let i = 0; i < 300; i++) {
    const c = i % 3;
    const f = Array.from({ length: 6 }, (_, j) => (r.normal() * 0.4 + (j % 3 === c ? 1 : 0)).toFixed(4));
    lines.push([...f, names[c]].join(','));
  }
  writeFileSync(csv, lines.join('\n') + '\n');
}

describe('distill CLI', () => {
  it('--help for every command', () => {
    const top = distill('--help');
    expect(top.code).toBe(0);
    for (const c of ['teach', 'student', 'logits', 'eval', 'demo']) {
      expect(top.out).toContain(c);
      const h = distill(c, '--help');
      expect(h.code, c).toBe(0);
      expect(h.out).toMatch(/usage: distill/);
      expect(h.out).toContain('--backend');
    }
  });

  it('teach → student → eval on a CSV file', () => {
    const t = distill('teach', '--data', csv, '--layers', '6,24,24,3', '--epochs', '4', '--batch', '16', '--lr', '0.05', '--out', 'teacher', '--backend', 'js');
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/teacher: test accuracy \d+\.\d+%/);
    expect(t.err).toMatch(/runtime: picked js ×[12] workers?.*runner-up js/); // calibrated over worker counts
    for (const f of ['model.safetensors', 'checkpoint.safetensors', 'metrics.jsonl', 'report.html']) expect(existsSync(join(dir, 'teacher', f)), f).toBe(true);
    expect(readFileSync(join(dir, 'teacher', 'report.html'), 'utf8')).toMatch(/<svg[^>]*class="chart"[^]*class="curve"/);
    const metrics = readFileSync(join(dir, 'teacher', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics.map((m) => m.epoch)).toEqual([1, 2, 3, 4]);

    writeFileSync(join(dir, 'student.json'), JSON.stringify({ layers: '6,4,3', epochs: 3, temperature: 2, alpha: 0.8, batch: 16 }));
    const s = distill('student', '--config', 'student.json', '--teacher', 'teacher/model.safetensors', '--data', csv, '--out', 'student', '--backend', 'js', '--workers', '2');
    expect(s.code, s.err).toBe(0);
    expect(s.out).toMatch(/student: test accuracy/);
    expect(s.err).toMatch(/runtime: backend js ×2 workers \(as asked\)/);

    // Two teachers fused by probabilities at their own temperatures, a T schedule, KD from epoch 2.
    const two = distill('student', '--teacher', 'teacher/model.safetensors,teacher/model.safetensors', '--teacher-weights', '2,1', '--teacher-fusion', 'probs',
      '--teacher-temperatures', '2,3', '--t-schedule', 'linear:1', '--kd-start-epoch', '2', '--layers', '6,4,3', '--epochs', '3', '--batch', '16',
      '--data', csv, '--out', 'student2', '--backend', 'js', '--workers', '1');
    expect(two.code, two.err).toBe(0);
    const m2 = readFileSync(join(dir, 'student2', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(m2[0].train_kd).toBe(0);
    expect(m2[1].train_kd).toBeGreaterThan(0);
    // FitNets hints from the teacher's second hidden layer into the student's first.
    const hinted = distill('student', '--teacher', 'teacher/model.safetensors', '--hints', '0:1', '--hint-pretrain-epochs', '1', '--layers', '6,5,3', '--epochs', '2', '--batch', '16', '--data', csv, '--out', 'student6', '--backend', 'js');
    expect(hinted.code, hinted.err).toBe(0);
    expect(readFileSync(join(dir, 'student6', 'metrics.jsonl'), 'utf8')).toMatch(/"train_hint":[1-9]|"train_hint":0\.\d*[1-9]/);

    // Logits computed once, then a student from the file; a file made on other data is refused.
    const lg = distill('logits', '--teacher', 'teacher/model.safetensors', '--data', csv, '--out', 'tl.safetensors', '--backend', 'js');
    expect(lg.code, lg.err).toBe(0);
    const fromFile = distill('student', '--teacher-logits', 'tl.safetensors', '--layers', '6,4,3', '--epochs', '2', '--batch', '16', '--data', csv, '--out', 'student4', '--backend', 'js', '--workers', '2');
    expect(fromFile.code, fromFile.err).toBe(0);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    writeFileSync(join(dir, 'other.csv'), [rows[0], ...rows.slice(1).reverse()].join('\n')); // same samples, other order
    const other = distill('student', '--teacher-logits', 'tl.safetensors', '--layers', '6,4,3', '--data', join(dir, 'other.csv'), '--out', 'student5', '--backend', 'js', '--workers', '1');
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/tl\.safetensors: was made on other samples or another order/);

    const bad = distill('student', '--teacher', 'teacher/model.safetensors', '--t-schedule', 'linear', '--layers', '6,4,3', '--data', csv, '--out', 'student3', '--backend', 'js', '--workers', '1');
    expect(bad.code).toBe(2);
    expect(bad.err.trim()).toBe('error: --t-schedule: expected constant, linear:TO or cosine:TO, got "linear"');

    const e = distill('eval', '--model', 'student/model.safetensors', '--data', csv, '--json', '--backend', 'js');
    expect(e.code, e.err).toBe(0);
    const res = JSON.parse(e.out);
    expect(res.parameters).toBe(6 * 4 + 4 + 4 * 3 + 3);
    expect(res.accuracy).toBeGreaterThan(0.8);
  });

  it('bad input: one line naming the fault, exit code 2, files untouched', () => {
    const model = join(dir, 'teacher', 'model.safetensors');
    const before = existsSync(model) ? readFileSync(model) : null;
    const cases: [string[], RegExp][] = [
      [['teach', '--data', join(dir, 'missing.csv'), '--layers', '6,3', '--out', 'teacher'], /missing\.csv/],
      [['teach', '--data', csv, '--layers', '6,x,3', '--out', 'teacher'], /--layers.*layers/],
      [['teach', '--data', csv, '--layers', '5,8,3', '--out', 'teacher'], /6 features.*5 inputs/],
      [['teach', '--data', csv, '--layers', '6,3', '--epochs', '-1', '--out', 'teacher'], /--epochs/],
      [['teach', '--data', csv, '--layers', '6,3', '--bogus', '1'], /bogus/],
      [['student', '--teacher', 'tiny.csv', '--data', csv, '--layers', '6,3', '--out', 'teacher'], /tiny\.csv/],
      [['eval', '--model', 'nope.safetensors', '--data', csv], /nope\.safetensors/],
      [['teach', '--config', 'nope.json'], /nope\.json/],
      [['frobnicate'], /unknown command/],
      [['teach', '--data', csv, '--layers', '6,3', '--batch', '-4'], /--batch.*--batch=-XYZ/],
    ];
    for (const [args, msg] of cases) {
      const r = distill(...args, '--backend', 'js');
      expect(r.code, args.join(' ') + '\n' + r.err).toBe(2);
      const lines = r.err.trim().split('\n').filter((l) => l.startsWith('error:'));
      expect(lines.length, r.err).toBe(1);
      expect(lines[0]).toMatch(msg);
      expect(r.err.trim().endsWith(lines[0]), r.err).toBe(true); // nothing after the one error line
      expect(r.err).not.toMatch(/at .*\.js:\d+/); // no stack trace
    }
    if (before) expect(readFileSync(model).equals(before)).toBe(true);
  });

  it('a corrupt checkpoint is reported, not overwritten, on --resume', () => {
    const ck = join(dir, 'teacher', 'checkpoint.safetensors');
    writeFileSync(ck, Buffer.from('garbage, not a safetensors file'));
    const before = readFileSync(ck);
    const r = distill('teach', '--data', csv, '--layers', '6,24,24,3', '--epochs', '4', '--batch', '16', '--out', 'teacher', '--resume', '--backend', 'js');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/checkpoint\.safetensors/);
    expect(readFileSync(ck).equals(before)).toBe(true);
  });
});
