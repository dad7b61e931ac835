// Deployable students: a CSV with string labels and unscaled features goes through teach →
// student → predict → export; the model file carries the input transform and class names, so
// `distill predict`, the library's loadModel().predict() and onnxruntime on the exported graph all
// take the raw rows and agree. Also predict on NPY and IDX inputs, --probs/--top/--out, and a
// 200k-row CSV end to end.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/io/predictor.js';
import { readModel } from '../src/io/model-file.js';
import { loadBackend } from '../src/backends/index.js';
import { parseNpy } from '../src/data/npy.js';
import { Rng } from '../src/nn/rng.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-predict-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') };
const run = (...a: string[]) => spawnSync(process.execPath, [BIN, ...a], { cwd: dir, encoding: 'utf8', env, maxBuffer: 256 * 1024 * 1024 });
const ok = (r: ReturnType<typeof run>) => expect(r.status, r.stderr).toBe(0);

const SPECIES = ['setosa', 'versicolor', 'virginica'];
/** An iris-like CSV: 4 features in the hundreds (unscaled), string labels, a header. */
function irisLike(n: number, seed: number): { text: string; x: number[][]; labels: string[] } {
  const r = new Rng(seed), x: number[][] = [], labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    x.push([5 + k * 0.8 + r.normal() * 0.4, 3.4 - k * 0.3 + r.normal() * 0.3, 1.5 + k * 2 + r.normal() * 0.4, 0.2 + k * 0.9 + r.normal() * 0.2].map((v) => Math.round(v * 1000) / 10));
    labels.push(SPECIES[k]);
  }
  return { text: 'sepal_length,sepal_width,petal_length,petal_width,species\n' + x.map((row, i) => `${row.join(',')},${labels[i]}`).join('\n') + '\n', x, labels };
}

let hasOrt = true;
try { createRequire(import.meta.url).resolve('onnxruntime-node'); } catch { hasOrt = false; }
type Ort = { InferenceSession: { create(p: string): Promise<{ inputNames: string[]; outputNames: string[]; run(f: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: number[] }>> }> }; Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown };

async function ortLogits(file: string, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const ort = createRequire(import.meta.url)('onnxruntime-node') as Ort;
  const s = await ort.InferenceSession.create(file);
  return (await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, dims) }))[s.outputNames[0]].data;
}

describe('a CSV with string labels and unscaled features, end to end', () => {
  const iris = irisLike(150, 11);
  writeFileSync(join(dir, 'iris.csv'), iris.text);
  const common = ['--data', 'iris.csv', '--epochs', '30', '--batch', '16', '--backend', 'js', '--workers', '1', '--quiet'];

  it('teach → student: the model files carry the standardization and the class names', async () => {
    ok(run('teach', ...common, '--layers', '4,32,3', '--out', 't'));
    ok(run('student', ...common, '--teacher', 't/model.safetensors', '--layers', '4,8,3', '--out', 's'));
    const { info } = await readModel(join(dir, 's', 'model.safetensors'), await loadBackend('js'));
    expect(info.classNames).toEqual(SPECIES);
    expect(info.transform?.kind).toBe('standardize');
    expect(info.transform!.offset[2]).toBeGreaterThan(100); // the petal length mean, in the file's units
  }, 60_000);

  it('distill predict on the raw rows names the classes; the library agrees; --probs, --top and --out', async () => {
    const r = run('predict', 's/model.safetensors', 'iris.csv', '--top', '2', '--probs');
    ok(r);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('prediction,label,top1,p1,top2,p2,p(setosa),p(versicolor),p(virginica)');
    expect(lines).toHaveLength(151);
    const pred = lines.slice(1).map((l) => l.split(',')[0]);
    const right = pred.filter((p, i) => p === iris.labels[i]).length;
    expect(right / 150).toBeGreaterThan(0.9); // the raw rows get the transform: not chance (1/3)
    expect(r.stderr).toMatch(/predict: 150 rows of iris\.csv .* (\d+) of 150 match the label column/);
    const m = await loadModel(join(dir, 's', 'model.safetensors'), { backend: 'js' });
    expect(m.predict(iris.x).labels).toEqual(pred);
    m.release();
    ok(run('predict', 's/model.safetensors', 'iris.csv', '--out', 'pred.csv', '--quiet'));
    expect(readFileSync(join(dir, 'pred.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0])).toEqual(pred);
  }, 60_000);

  it.skipIf(!hasOrt)('the exported ONNX, on the raw rows, gives predict\'s classes (≥ 99.9%) and logits (within 1e-4), with the class names in its metadata', async () => {
    ok(run('export', '--model', 's/model.safetensors', '--out', 's.onnx'));
    const x = Float32Array.from(iris.x.flat());
    const got = await ortLogits(join(dir, 's.onnx'), x, [150, 4]);
    const m = await loadModel(join(dir, 's', 'model.safetensors'), { backend: 'js' });
    const want = m.predict(x);
    let agree = 0, worst = 0;
    for (let i = 0; i < 150; i++) {
      let best = 0;
      for (let k = 1; k < 3; k++) if (got[i * 3 + k] > got[i * 3 + best]) best = k;
      if (best === want.classes[i]) agree++;
      for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(got[i * 3 + k] - want.logits[i * 3 + k]));
    }
    m.release();
    expect(agree / 150).toBeGreaterThanOrEqual(0.999);
    expect(worst).toBeLessThanOrEqual(1e-4);
    const bytes = readFileSync(join(dir, 's.onnx'));
    expect(bytes.includes(Buffer.from('class_names'))).toBe(true);
    expect(bytes.includes(Buffer.from(JSON.stringify(SPECIES)))).toBe(true);
  }, 60_000);

  it('bad predict input: wrong width, unknown file type, missing arguments, exit 2 with one line', () => {
    writeFileSync(join(dir, 'wide.csv'), 'a,b,c,d,e,f\n1,2,3,4,5,6\n');
    const w = run('predict', 's/model.safetensors', 'wide.csv');
    expect(w.status).toBe(2);
    expect(w.stderr).toMatch(/wide\.csv: line 1: 6 columns, but the model takes 4 inputs/);
    writeFileSync(join(dir, 'junk.bin'), 'hello');
    const j = run('predict', 's/model.safetensors', 'junk.bin');
    expect(j.status).toBe(2);
    expect(j.stderr).toMatch(/junk\.bin: not an IDX file/);
    const none = run('predict', 's/model.safetensors');
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/needs MODEL and DATA/);
    expect(run('predict', '--help').stdout).toMatch(/examples:/);
  });
});

/** An NPY (v1.0) file of float32 values. */
function npy(shape: number[], data: Float32Array): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const h = Buffer.alloc(10);
  h.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  h.writeUInt16LE(header.length, 8);
  return Buffer.concat([h, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

describe('predict on images: NPY and IDX of raw pixels', () => {
  it('a model trained on IDX u8 images stores pixels/255, and predicts raw u8 IDX and NPY rows alike', async () => {
    // 3 classes of 4x4 images: a bright row 0, 1 or 2.
    const r = new Rng(3), n = 240, px = new Uint8Array(n * 16), lab = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      lab[i] = i % 3;
      for (let p = 0; p < 16; p++) px[i * 16 + p] = Math.floor(r.next() * 60) + (Math.floor(p / 4) === lab[i] ? 180 : 0);
    }
    const idx = (dims: number[], data: Uint8Array) => {
      const h = Buffer.alloc(4 + 4 * dims.length);
      h.set([0, 0, 0x08, dims.length]);
      dims.forEach((d, k) => h.writeUInt32BE(d, 4 + 4 * k));
      return Buffer.concat([h, Buffer.from(data)]);
    };
    writeFileSync(join(dir, 'img.idx'), idx([n, 4, 4], px));
    writeFileSync(join(dir, 'lab.idx'), idx([n], lab));
    writeFileSync(join(dir, 'img.idx.gz'), gzipSync(idx([n, 4, 4], px)));
    ok(run('teach', '--data', 'idx:img.idx,lab.idx,img.idx,lab.idx', '--layers', '16,12,3', '--epochs', '10', '--batch', '16', '--backend', 'js', '--workers', '1', '--out', 'img', '--quiet'));
    const { info } = await readModel(join(dir, 'img', 'model.safetensors'), await loadBackend('js'));
    expect(info.transform).toEqual({ kind: 'scale', offset: [0], scale: [255] });
    const a = run('predict', 'img/model.safetensors', 'img.idx.gz');
    ok(a);
    const x = Float32Array.from(px);
    writeFileSync(join(dir, 'img.npy'), npy([n, 4, 4], x));
    expect(parseNpy(readFileSync(join(dir, 'img.npy')), 'img.npy').shape).toEqual([n, 4, 4]);
    const b = run('predict', 'img/model.safetensors', 'img.npy');
    ok(b);
    expect(b.stdout).toBe(a.stdout);
    const pred = a.stdout.trim().split('\n').slice(1).map(Number);
    expect(pred.filter((p, i) => p === lab[i]).length / n).toBeGreaterThan(0.9);
    writeFileSync(join(dir, 'bad.npy'), npy([n, 5], new Float32Array(n * 5)));
    const bad = run('predict', 'img/model.safetensors', 'bad.npy');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/bad\.npy: array of shape \[240,5\], but the model takes rows of 16 values/);
  }, 60_000);
});

describe('a 200k-row CSV', () => {
  it('trains (teach → student), predicts and exports', async () => {
    const r = new Rng(9), n = 200_000, F = 6; // numeric labels: their class count once overflowed the stack (Math.max(...y))
    const lines = ['f0,f1,f2,f3,f4,f5,target'];
    for (let i = 0; i < n; i++) {
      const k = i % 3, row: string[] = [];
      for (let f = 0; f < F; f++) row.push((1000 * (r.normal() * 0.6 + (f % 3 === k ? 1 : 0)) + 5000).toFixed(1));
      lines.push(`${row.join(',')},${k}`);
    }
    writeFileSync(join(dir, 'big.csv'), lines.join('\n'));
    const common = ['--data', 'big.csv', '--epochs', '1', '--batch', '256', '--backend', 'native', '--workers', '1', '--quiet'];
    const be = (await import('../src/backends/index.js')).loadBackend;
    const native = await be('native').then(() => true, () => false);
    if (!native) common[7] = 'wasm-simd';
    ok(run('teach', ...common, '--layers', '6,64,3', '--out', 'bt'));
    ok(run('student', ...common, '--teacher', 'bt/model.safetensors', '--layers', '6,8,3', '--out', 'bs'));
    const p = run('predict', 'bs/model.safetensors', 'big.csv', '--out', 'big-pred.csv');
    ok(p);
    const m = /(\d+) of 200000 match the label column/.exec(p.stderr);
    expect(Number(m?.[1])).toBeGreaterThan(0.8 * n);
    ok(run('export', '--model', 'bs/model.safetensors', '--out', 'big.onnx'));
  }, 180_000);
});
