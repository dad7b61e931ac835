// FitNets hints between CNN blocks (issue 17): feature maps (C,H,W) with the same H,W get a
// learned 1×1 convolution adapter (also with equal channels), flat blocks the dense one, other
// pairs a ConfigError naming both blocks and shapes; finite-difference gradients through the conv
// adapter on every backend; and a CNN student distilled with --hints from a CNN teacher on the
// built-in MNIST through the CLI, its hint loss decreasing.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { HintAdapters } from '../src/distill/hints.js';
import { ConfigError } from '../src/errors.js';
import { Conv2D, Dense } from '../src/nn/layers.js';
import { ceObjective } from '../src/distill/objectives.js';
import { hintLossAndGrads } from '../src/step/step.js';
import { Sequential } from '../src/nn/sequential.js';
import { readModel } from '../src/io/model-file.js';
import { backendsUnderTest, fd, randArray, randLabels } from './util.js';

const { backends } = await backendsUnderTest();
const dir = mkdtempSync(join(tmpdir(), 'distillery-conv-hints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const close = (a: number, n: number, what: string) => expect(Math.abs(a - n), `${what}: analytic ${a} vs numeric ${n}`).toBeLessThanOrEqual(3e-3 + 3e-2 * Math.abs(n));

// Student blocks: 0 (4,4,4), 1 (3,4,4), 2 (5) flat. Teacher blocks: 0 (4,4,4), 1 (6,2,2) after a pool, 2 (7) flat.
const studentSpec = { input: [2, 4, 4], layers: ['conv:4x3', 'gelu', 'conv:3x3', 'gelu', 'flatten', 'dense:5', 'gelu', 'dense:3'] };
const teacherSpec = { input: [2, 4, 4], layers: ['conv:4x3', 'gelu', 'maxpool:2', 'conv:6x3', 'gelu', 'flatten', 'dense:7', 'gelu', 'dense:3'] };

describe.each(backends.map((b) => [b.name, b]))('conv hint adapters on %s', (_n, be) => {
  for (const loss of ['mse', 'cosine'] as const) {
    it(`CE + ${loss} hint between feature maps: 1×1 conv adapters (equal and different channels); student and adapter gradients match finite differences (conv)`, () => {
      const N = 3;
      const student = new Sequential(be, studentSpec, 3);
      const teacher = new Sequential(be, teacherSpec, 4).eval();
      const hints = new HintAdapters(be, student, teacher, { pairs: [{ student: 0, teacher: 0 }, { student: 1, teacher: 0 }, { student: 2, teacher: 2 }], weight: 0.7, loss }, { kind: 'sgd', lr: 0.1 }, 1, N);
      expect(hints.adapters[0]).toBeInstanceOf(Conv2D);
      expect(hints.adapters[1]).toBeInstanceOf(Conv2D);
      expect(hints.adapters[2]).toBeInstanceOf(Dense);
      expect(hints.store.specs.map((s) => [s.name, s.shape])).toEqual([
        ['hint.0.weight', [4, 4, 1, 1]], ['hint.0.bias', [4]], ['hint.1.weight', [4, 3, 1, 1]], ['hint.1.bias', [4]], ['hint.2.weight', [7, 5]], ['hint.2.bias', [7]],
      ]);
      const x = be.alloc(N * 32);
      x.set(randArray(N * 32, 31));
      const y = be.allocInt32(N);
      y.set(randLabels(N, 3, 32));
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
      for (const spec of hints.store.specs) for (let j = 0; j < spec.size; j += 2) close(ga[spec.offset + j], fd(total, hints.store.params, spec.offset + j, 1e-2), `adapter ${spec.name}[${j}]`);
      hints.release();
      student.release();
      teacher.release();
    });
  }
});

describe('conv hint pairs that do not fit', () => {
  it('different H×W, or a feature map and a flat block: a ConfigError naming both blocks and their shapes (conv pool)', async () => {
    const be = await loadBackend('js');
    const student = new Sequential(be, studentSpec, 3), teacher = new Sequential(be, teacherSpec, 4);
    const make = (s: number, t: number) => () => new HintAdapters(be, student, teacher, { pairs: [{ student: s, teacher: t }] }, null, 1, 4);
    expect(make(0, 1)).toThrow(ConfigError);
    expect(make(0, 1)).toThrow(/hints: student block 0 \(4,4,4\) and teacher block 1 \(6,2,2\) are incompatible: feature maps of different sizes H×W/);
    expect(make(1, 2)).toThrow(/hints: student block 1 \(3,4,4\) and teacher block 2 \(7\) are incompatible: a feature map \(C,H,W\) and a flat block cannot be paired/);
    expect(make(2, 0)).toThrow(/hints: student block 2 \(5\) and teacher block 0 \(4,4,4\) are incompatible/);
    // Flat blocks of an MLP keep their dense adapter.
    const mlp = new Sequential(be, { layers: [32, 6, 3] }, 1);
    expect(new HintAdapters(be, mlp, teacher, { pairs: [{ student: 0, teacher: 2 }] }, null, 1, 4).adapters[0]).toBeInstanceOf(Dense);
  });
});

describe('a CNN student distilled with --hints from a CNN teacher through the CLI', () => {
  let backend = 'js';
  for (const name of ['native', 'wasm-simd']) if (backends.some((b) => b.name === name)) { backend = name; break; }
  const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
  const distill = (...args: string[]) => spawnSync(process.execPath, [bin, ...args, '--backend', backend, '--workers', '1'], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });

  it(`mnist: --hints 0:0 between conv blocks trains a 1×1 conv adapter, the hint loss decreases, the export has no adapter; mismatched blocks exit 2 (conv pool batchnorm, ${backend})`, async () => {
    const t = distill('teach', '--data', 'mnist', '--model', 'conv:8x3/s2,relu,maxpool:2,flatten,dense:10', '--epochs', '1', '--batch', '64', '--lr', '0.05', '--out', 'teacher');
    expect(t.status, t.stderr).toBe(0);
    const s = distill('student', '--teacher', 'teacher/model.safetensors', '--data', 'mnist', '--model', 'conv:4x3/s2,bn,relu,maxpool:2,flatten,dense:10', '--hints', '0:0', '--epochs', '2', '--batch', '64', '--lr', '0.05', '--out', 'student');
    expect(s.status, s.stderr).toBe(0);
    const rows = readFileSync(join(dir, 'student', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.train_hint !== undefined);
    expect(rows.length).toBe(2);
    expect(rows[0].train_hint).toBeGreaterThan(0);
    expect(rows[1].train_hint).toBeLessThan(rows[0].train_hint);
    const m = await readModel(join(dir, 'student', 'model.safetensors'), await loadBackend('js'));
    expect(m.model.store.specs.some((p) => p.name.startsWith('hint'))).toBe(false);
    // A student block after its pool, (4,7,7), against the teacher block before its pool, (8,14,14).
    const bad = distill('student', '--teacher', 'teacher/model.safetensors', '--data', 'mnist', '--model', 'conv:4x3/s2,relu,maxpool:2,conv:4x3,relu,flatten,dense:10', '--hints', '1:0', '--epochs', '1', '--out', 'bad');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/student block 1 \(4,7,7\) and teacher block 0 \(8,14,14\) are incompatible/);
  }, 90_000);
});
