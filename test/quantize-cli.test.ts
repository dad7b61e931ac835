// `distill quantize` end to end on a CSV with string labels and unscaled features, and the int8
// file everywhere a model is used: --help (defaults, examples), the summary (accuracy float vs
// int8, agreement, sizes, speed), eval, predict (same classes as loadModel().predict()), logits
// (cached teacher logits from an int8 teacher), student --teacher INT8 (and its refusal of online
// mode), export (QDQ); bad input (an int8 file to quantize, a bad --method, a data file of the
// wrong width, an unwritable --out) leaves no output file behind.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/io/predictor.js';
import { Rng } from '../src/nn/rng.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-quantize-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') };
const run = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { cwd: dir, encoding: 'utf8', env });
const ok = (r: ReturnType<typeof run>) => expect(r.status, r.stderr).toBe(0);

const NAMES = ['setosa', 'versicolor', 'virginica'];
function csv(n: number, seed: number, features = 4): { text: string; rows: number[][] } {
  const r = new Rng(seed), rows: number[][] = [], lines = [[...Array.from({ length: features }, (_, f) => `f${f}`), 'species'].join(',')];
  for (let i = 0; i < n; i++) {
    const k = i % 3, row = Array.from({ length: features }, (_, f) => Math.round((100 + 40 * (f % 3 === k ? 1 : 0) + r.normal() * 12) * 10) / 10);
    rows.push(row);
    lines.push(`${row.join(',')},${NAMES[k]}`);
  }
  return { text: lines.join('\n') + '\n', rows };
}

describe('distill quantize and int8 model files in every command', () => {
  const data = csv(300, 1);
  beforeAll(() => {
    writeFileSync(join(dir, 'd.csv'), data.text);
    writeFileSync(join(dir, 'rows.csv'), data.text);
    writeFileSync(join(dir, 'wide.csv'), csv(60, 2, 5).text);
    ok(run('teach', '--data', 'd.csv', '--layers', '4,16,3', '--epochs', '8', '--batch', '16', '--out', 't', '--backend', 'js', '--workers', '1', '--quiet'));
  });

  it('--help shows the defaults and two examples', () => {
    const r = run('quantize', '--help');
    ok(r);
    for (const s of ['usage: distill quantize MODEL', '--calib VALUE', '(default: mnist)', '--method VALUE', '(default: minmax)', '--calib-samples VALUE', '(default: 1000)', '--percentile VALUE', '(default: 99.99)', 'examples:', 'distill quantize runs/student/model.safetensors --calib mnist', '--method percentile']) expect(r.stdout).toContain(s);
    expect(run('--help').stdout).toMatch(/quantize\s+post-training int8 quantization/);
    const bare = run('quantize');
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/distill quantize needs MODEL/);
  });

  it('quantize: the summary, then eval, predict, logits, student and export take the int8 file', async () => {
    const q = run('quantize', 't/model.safetensors', '--calib', 'd.csv', '--label-column', 'species', '--out', 'q.safetensors', '--backend', 'js');
    ok(q);
    expect(q.stdout).toMatch(/test accuracy float32 [\d.]+% → int8 [\d.]+% \([-+][\d.]+ pt\); top-1 agreement [\d.]+% on 60 rows/);
    expect(q.stdout).toMatch(/size [\d,]+ → [\d,]+ bytes \(\d+\.\d+×\)/); // a 4-16-3 model is mostly header; the 4× is checked on 784-64-10 (quantize.test.ts)
    expect(q.stdout).toMatch(/speed on js: batch of 128 [\d.]+ → [\d.]+ ms \(int8 [\d.]+× as fast\); batch of 1 [\d.]+ → [\d.]+ ms \([\d.]+×\)/);
    // The report beside the int8 file: the numbers of the summary, as a table and bar charts.
    expect(q.stdout).toContain(`quantize: report ${join(dir, 'q.report.html')}`);
    const html = readFileSync(join(dir, 'q.report.html'), 'utf8');
    expect(html).toContain('distill quantize: float32 → int8');
    expect(html.match(/<svg /g)?.length).toBe(4);
    const size = /size ([\d,]+) → ([\d,]+) bytes/.exec(q.stdout)!;
    expect(html).toContain(`${(Number(size[2].replace(/,/g, '')) / Number(size[1].replace(/,/g, ''))).toFixed(3)}× the file`);
    expect(html).toContain('distill quantize t/model.safetensors --calib d.csv');
    const j = run('quantize', 't/model.safetensors', '--calib', 'd.csv', '--label-column', 'species', '--out', 'q2.safetensors', '--backend', 'js', '--method', 'percentile', '--json');
    ok(j);
    const s = JSON.parse(j.stdout);
    expect(s.method).toBe('percentile');
    expect(s.int8_bytes).toBeGreaterThan(0);
    expect(s.agreement).toBeGreaterThanOrEqual(0.9);
    expect(s.report).toBe(join(dir, 'q2.report.html'));
    expect(existsSync(join(dir, 'q2.report.html'))).toBe(true);
    ok(run('quantize', 't/model.safetensors', '--calib', 'd.csv', '--label-column', 'species', '--out', 'q3.safetensors', '--backend', 'js', '--report', '-'));
    expect(existsSync(join(dir, 'q3.report.html'))).toBe(false);

    const ef = JSON.parse(run('eval', '--model', 't/model.safetensors', '--data', 'd.csv', '--label-column', 'species', '--json', '--backend', 'js').stdout);
    const e = run('eval', '--model', 'q.safetensors', '--data', 'd.csv', '--label-column', 'species', '--json', '--backend', 'js');
    ok(e);
    const eq = JSON.parse(e.stdout);
    expect(eq.dtype).toBe('int8');
    expect(ef.dtype).toBe('f32');
    expect(Math.abs(eq.accuracy - ef.accuracy)).toBeLessThanOrEqual(0.05);

    const p = run('predict', 'q.safetensors', 'rows.csv', '--label-column', 'species', '--backend', 'js');
    ok(p);
    const lm = await loadModel(join(dir, 'q.safetensors'), { backend: 'js' });
    expect(lm.dtype).toBe('int8');
    const want = lm.predict(data.rows);
    expect(p.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0])).toEqual(want.labels);
    lm.release();

    const l = run('logits', '--teacher', 'q.safetensors', '--data', 'd.csv', '--label-column', 'species', '--out', 'l.safetensors', '--backend', 'js');
    ok(l);
    ok(run('student', '--teacher-logits', 'l.safetensors', '--data', 'd.csv', '--label-column', 'species', '--layers', '4,4,3', '--epochs', '2', '--batch', '16', '--out', 's1', '--backend', 'js', '--workers', '1', '--quiet'));
    const st = run('student', '--teacher', 'q.safetensors', '--data', 'd.csv', '--label-column', 'species', '--layers', '4,4,3', '--epochs', '2', '--batch', '16', '--out', 's2', '--backend', 'js', '--workers', '1');
    ok(st);
    expect(st.stderr).toMatch(/teacher q\.safetensors: int8 model; logits of 240 samples computed once on the int8 kernels/);
    const on = run('student', '--teacher', 'q.safetensors', '--teacher-mode', 'online', '--data', 'd.csv', '--label-column', 'species', '--layers', '4,4,3', '--epochs', '1', '--out', 's3', '--backend', 'js', '--workers', '1');
    expect(on.status).toBe(2);
    expect(on.stderr).toMatch(/--teacher q\.safetensors is an int8 model: .*cannot be used with --teacher-mode online/);

    const x = run('export', '--model', 'q.safetensors', '--out', 'q.onnx');
    ok(x);
    expect(x.stdout).toMatch(/int8: QDQ graph\) → .*q\.onnx/);
    expect(existsSync(join(dir, 'q.onnx'))).toBe(true);
  });

  it('bad input fails with a clear error and leaves no output file', () => {
    const leftovers = () => readdirSync(dir).filter((f) => f.includes('.tmp-'));
    const a = run('quantize', 'q.safetensors', '--calib', 'd.csv', '--label-column', 'species', '--out', 'qq.safetensors', '--backend', 'js');
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/q\.safetensors: is an int8 model \(from distill quantize\); this needs a float32 model file/);
    const b = run('quantize', 't/model.safetensors', '--calib', 'd.csv', '--method', 'kl', '--out', 'qq.safetensors');
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--method: expected minmax or percentile, got "kl"/);
    const c = run('quantize', 't/model.safetensors', '--calib', 'wide.csv', '--label-column', 'species', '--out', 'qq.safetensors', '--backend', 'js');
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/--calib wide\.csv: 5 features per sample, but t\/model\.safetensors takes 4 inputs/);
    const d = run('quantize', 't/model.safetensors', '--calib', 'd.csv', '--label-column', 'species', '--out', join('no-such-folder', 'x.safetensors'), '--backend', 'js');
    expect(d.status).toBe(6);
    expect(d.stderr).toMatch(/no-such-folder\/x\.safetensors: cannot write/);
    const e = run('quantize', 't/model.safetensors', '--calib', 'd.csv', '--out', 't/model.safetensors');
    expect(e.status).toBe(2);
    expect(e.stderr).toMatch(/would overwrite the float model/);
    expect(existsSync(join(dir, 'qq.safetensors'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});
