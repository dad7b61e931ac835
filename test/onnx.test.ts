// ONNX: a model of ours exported by hand-written protobuf runs in onnxruntime-node with the same
// logits as our forward pass, and serves as a teacher end to end (distill export → distill
// student --teacher model.onnx). Skipped, with the reason, when the optional package is absent.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { onnxTeacherLogits } from '../src/distill/onnx-teacher.js';
import { saveOnnx } from '../src/io/onnx.js';
import { Rng } from '../src/nn/rng.js';
import { Sequential } from '../src/nn/sequential.js';

let hasOrt = true;
try { createRequire(import.meta.url).resolve('onnxruntime-node'); } catch { hasOrt = false; }
const dir = mkdtempSync(join(tmpdir(), 'distillery-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasOrt)('ONNX (onnxruntime-node installed)', () => {
  for (const activation of ['relu', 'gelu'] as const) {
    it(`an exported ${activation} model gives our logits in onnxruntime`, async () => {
      const be = await loadBackend('js');
      const m = new Sequential(be, { layers: [7, 9, 5, 4], activation }, 3).eval();
      const p = join(dir, `${activation}.onnx`);
      await saveOnnx(p, m);
      const r = new Rng(1);
      const n = 37, x = new Float32Array(n * 7).map(() => r.normal());
      const ds = { name: 't', x, y: new Int32Array(n), n, features: 7, classes: 4 };
      const got = await onnxTeacherLogits(p, ds, 4, 16);
      const want = m.forward(x, n);
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
      await expect(onnxTeacherLogits(p, ds, 3)).rejects.toThrow(/output .* is \(37, 4\), expected \(37, 3\) logits/);
    });
  }

  it('a broken ONNX file is named in the error', async () => {
    const p = join(dir, 'broken.onnx');
    writeFileSync(p, 'not a model');
    await expect(onnxTeacherLogits(p, { name: 't', x: new Float32Array(7), y: new Int32Array(1), n: 1, features: 7, classes: 2 }, 2)).rejects.toThrow(/broken\.onnx: onnxruntime cannot load it/);
  });

  it('distill export, then distill student --teacher model.onnx, end to end', () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
    const r = new Rng(5);
    const lines = ['a,b,c,d,label'];
    for (let i = 0; i < 90; i++) { const k = i % 3; lines.push([0, 1, 2, 3].map((f) => (r.normal() * 0.4 + (f % 3 === k ? 1.5 : 0)).toFixed(3)).join(',') + `,${k}`); }
    writeFileSync(join(dir, 'd.csv'), lines.join('\n'));
    const env = { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') };
    const run = (...a: string[]) => spawnSync(process.execPath, [bin, ...a], { cwd: dir, encoding: 'utf8', env });
    expect(run('teach', '--data', 'd.csv', '--layers', '4,16,3', '--epochs', '5', '--batch', '16', '--out', 't', '--backend', 'js', '--workers', '1').status).toBe(0);
    const e = run('export', '--model', 't/model.safetensors', '--out', 't.onnx');
    expect(e.status, e.stderr).toBe(0);
    expect(existsSync(join(dir, 't.onnx'))).toBe(true);
    const s = run('student', '--teacher', 't.onnx', '--layers', '4,4,3', '--epochs', '3', '--batch', '16', '--data', 'd.csv', '--out', 's', '--backend', 'js', '--workers', '1');
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/teacher t\.onnx: logits of \d+ samples computed with onnxruntime/);
  });
});
