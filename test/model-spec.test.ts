// Shaped layers and models as layer specs: parsing and its errors, the widths form (--layers
// 784,128,10, and model files of format 1) becoming the same specs with the same parameters and
// init, flatten on a shaped input, model files with input transform and class names, files and a
// checkpoint written by e8adff6-era code still loading, and the ONNX export of a spec model.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { ConfigError, InputFileError } from '../src/errors.js';
import { readModel, saveModel, MODEL_FORMAT } from '../src/io/model-file.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { saveOnnx } from '../src/io/onnx.js';
import { Sequential } from '../src/nn/sequential.js';
import { denseWidths, describeModel, hiddenWidths, layerShapes, validateModelConfig, widthsForm } from '../src/nn/spec.js';
import { Rng } from '../src/nn/rng.js';

const ROOT = join(import.meta.dirname, '..');
const FIX = join(ROOT, 'test', 'fixtures', 'e8adff6');
const dir = mkdtempSync(join(tmpdir(), 'distillery-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const js = await loadBackend('js');

describe('layer specs', () => {
  it('the widths form becomes dense/activation/dropout specs, and back', () => {
    const c = validateModelConfig({ layers: [784, 128, 64, 10], activation: 'gelu', dropout: 0.1, inputDropout: 0.2 });
    expect(c).toEqual({ input: [784], layers: ['dropout:0.2', 'dense:128', 'gelu', 'dropout:0.1', 'dense:64', 'gelu', 'dropout:0.1', 'dense:10'] });
    expect(widthsForm(c)).toEqual({ layers: [784, 128, 64, 10], activation: 'gelu', dropout: 0.1, inputDropout: 0.2 });
    expect(validateModelConfig({ layers: [784, 32, 10] })).toEqual({ input: [784], layers: ['dense:32', 'relu', 'dense:10'] });
    expect(describeModel(c)).toBe('784-128-64-10 (gelu, dropout 0.1, input dropout 0.2)');
    expect(describeModel(validateModelConfig({ layers: [784, 32, 10] }))).toBe('784-32-10');
    expect(denseWidths(c)).toEqual([784, 128, 64, 10]);
    expect(hiddenWidths(c)).toEqual([128, 64]);
  });

  it('shapes per layer, flatten, and a description of what the widths form cannot say', () => {
    const c = validateModelConfig({ input: [1, 8, 8], layers: ['flatten', 'dense:16', 'relu', 'dense:16', 'gelu', 'dense:3'] });
    expect(layerShapes(c).shapes).toEqual([[64], [16], [16], [16], [16], [3]]);
    expect(widthsForm(c)).toBeNull();
    expect(describeModel(c)).toBe('[1,8,8] flatten → dense:16 → relu → dense:16 → gelu → dense:3');
  });

  it('bad specs fail with the index, the spec and what to do', () => {
    const bad: [unknown, RegExp][] = [
      [{ input: [784], layers: ['dense:0', 'dense:10'] }, /layers\[0\]: 'dense' needs a positive integer width, like dense:128; got "dense:0"/],
      [{ input: [784], layers: ['dense:10', 'pool:3'] }, /layers\[1\]: unknown layer "pool:3" \(known: dense:UNITS, relu, gelu, dropout:P, flatten, conv:OCxK/],
      [{ input: [784], layers: ['dense:10', 'conv:3'] }, /layers\[1\]: 'conv' needs OUTxK \(output channels x kernel size\).*like conv:16x3, conv:16x3\/s2p0 or conv:32x3\/dw; got "conv:3"/],
      [{ input: [784], layers: ['dropout:1.5', 'dense:10'] }, /layers\[0\]: 'dropout' needs a probability in \[0, 1\)/],
      [{ input: [784], layers: ['relu:2', 'dense:10'] }, /layers\[0\]: 'relu' takes no argument/],
      [{ input: [1, 28, 28], layers: ['dense:10'] }, /layers\[0\] 'dense:10' needs a flat input, but gets shape \[1,28,28\]; put "flatten" before it/],
      [{ input: [784], layers: ['dense:10', 'relu'] }, /the last layer must be dense \(the logits\), got "relu"/],
      [{ input: [784], layers: ['relu'] }, /at least one dense layer/],
      [{ input: [0], layers: ['dense:10'] }, /field 'input' must be the shape of one sample/],
      [{ input: [784], layers: ['dense:10'], activation: 'relu' }, /unknown field 'activation'.*write "relu" as a layer instead/],
      [{ input: [784], layers: [12, 'dense:10'] }, /layers\[0\] must be a layer spec string like "dense:128", got 12/],
      [{ layers: [null, 16, null] }, /field 'layers' must be an array of at least 2 positive integers \(inputs, \.\.\., classes\), got \[null,16,null\]/],
      [{ layers: 'dense:10' }, /field 'layers' must be an array of layer specs/],
    ];
    for (const [raw, re] of bad) expect(() => validateModelConfig(raw), JSON.stringify(raw)).toThrow(re);
    expect(() => validateModelConfig({ input: [784], layers: ['dense:0'] })).toThrow(ConfigError);
  });

  it('a model from widths and the same model from specs: same parameter names, same init, same forward', () => {
    const a = new Sequential(js, { layers: [12, 9, 7, 4], activation: 'relu', dropout: 0.25 }, 5);
    const b = new Sequential(js, { input: [12], layers: ['dense:9', 'relu', 'dropout:0.25', 'dense:7', 'relu', 'dropout:0.25', 'dense:4'] }, 5);
    expect(b.store.specs.map((s) => s.name)).toEqual(a.store.specs.map((s) => s.name));
    expect(b.store.specs.map((s) => s.name)).toEqual(['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'layers.2.weight', 'layers.2.bias']);
    expect(Array.from(b.store.params)).toEqual(Array.from(a.store.params));
    const x = new Float32Array(3 * 12).map((_, i) => Math.sin(i));
    expect(Array.from(b.train().forward(x, 3))).toEqual(Array.from(a.train().forward(x, 3))); // dropout draws the same masks
    // He-normal before ReLU, Xavier-uniform otherwise: a GELU model's first layer is bounded by the Xavier limit.
    const g = new Sequential(js, { input: [12], layers: ['dense:9', 'gelu', 'dense:4'] }, 5);
    const lim = Math.sqrt(6 / (12 + 9));
    expect(g.store.view(g.dense[0].weight).every((v) => Math.abs(v) <= lim)).toBe(true);
    expect(a.store.view(a.dense[0].weight).some((v) => Math.abs(v) > lim)).toBe(true);
  });

  it('flatten: a [1,4,4] input model computes what the [16] model with the same weights computes, and trains', () => {
    const shaped = new Sequential(js, { input: [1, 4, 4], layers: ['flatten', 'dense:8', 'relu', 'dense:3'] }, 2);
    const flat = new Sequential(js, { input: [16], layers: ['dense:8', 'relu', 'dense:3'] }, 2);
    expect(shaped.inputs).toBe(16);
    expect(shaped.inputShape).toEqual([1, 4, 4]);
    expect(Array.from(shaped.store.params)).toEqual(Array.from(flat.store.params));
    const x = new Float32Array(5 * 16).map((_, i) => Math.cos(i));
    expect(Array.from(shaped.forward(x, 5))).toEqual(Array.from(flat.forward(x, 5)));
  });
});

describe('model files', () => {
  it('a model file holds the spec config, input transform and class names; they load back', async () => {
    const m = new Sequential(js, { input: [4], layers: ['dense:6', 'gelu', 'dense:3'] }, 1);
    const p = join(dir, 'm.safetensors');
    const transform = { kind: 'standardize' as const, offset: [1, 2, 3, 4], scale: [0.5, 1, 2, 4] };
    await saveModel(p, m, { role: 'test' }, { transform, classNames: ['setosa', 'versicolor', 'virginica'] });
    const { metadata } = await readSafetensors(p);
    expect(metadata.format).toBe(MODEL_FORMAT);
    expect(JSON.parse(metadata.config)).toEqual({ input: [4], layers: ['dense:6', 'gelu', 'dense:3'] });
    const back = await readModel(p, js);
    expect(back.info).toEqual({ transform, classNames: ['setosa', 'versicolor', 'virginica'] });
    expect(back.model.config).toEqual(m.config);
    expect(Array.from(back.model.store.params)).toEqual(Array.from(m.store.params));
    // Without them, both are null.
    await saveModel(p, m);
    expect((await readModel(p, js)).info).toEqual({ transform: null, classNames: null });
  });

  it('wrong class names or transforms are refused, naming the file and the field', async () => {
    const m = new Sequential(js, { input: [4], layers: ['dense:3'] }, 1);
    const p = join(dir, 'bad.safetensors');
    await expect(saveModel(p, m, {}, { classNames: ['a', 'b'] })).rejects.toThrow(/class_names: expected 3 strings/);
    await expect(saveModel(p, m, {}, { transform: { kind: 'standardize', offset: [0], scale: [1] } })).rejects.toThrow(/input_transform\.offset: expected 4 finite numbers/);
    await expect(saveModel(p, m, {}, { transform: { kind: 'scale', offset: [0], scale: [0] } })).rejects.toThrow(/divide by zero/);
  });

  it('model files written by e8adff6 (format 1, widths config) still load, with the same tensors', async () => {
    for (const f of ['js-x1/teacher.safetensors', 'js-x1/student.safetensors']) {
      const file = join(FIX, f);
      const { metadata, tensors } = await readSafetensors(file);
      expect(metadata.format).toBe('distillery-model/1');
      const { model, info } = await readModel(file, js);
      expect(info).toEqual({ transform: null, classNames: null });
      expect(describeModel(model.config)).toBe(f.includes('teacher') ? '784-128-10 (dropout 0.1)' : '784-32-10');
      for (const s of model.store.specs) expect(Array.from(model.store.view(s)), s.name).toEqual(Array.from(tensors[s.name].data as Float32Array));
    }
  });

  it('a broken format-1 config is still an error that names the file', async () => {
    const { writeSafetensors } = await import('../src/io/safetensors.js');
    const p = join(dir, 'old-bad.safetensors');
    await writeSafetensors(p, {}, { format: 'distillery-model/1', config: JSON.stringify({ layers: [784, 'x', 10] }) });
    await expect(readModel(p, js)).rejects.toThrow(InputFileError);
    await expect(readModel(p, js)).rejects.toThrow(/old-bad\.safetensors.*field 'layers' must be an array of at least 2 positive integers/);
  });

  it('a checkpoint written by e8adff6 is accepted by --resume (same fingerprint) and gives the same model', async () => {
    const out = join(dir, 'resume');
    mkdirSync(out, { recursive: true });
    copyFileSync(join(FIX, 'js-x1', 'student-checkpoint.safetensors'), join(out, 'checkpoint.safetensors'));
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'distill.js'), 'student', '--teacher', join(FIX, 'js-x1', 'teacher.safetensors'), '--layers', '784,32,10', '--epochs', '2', '--seed', '1', '--backend', 'js', '--workers', '1', '--out', out, '--resume', '--quiet'], { encoding: 'utf8', env: { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
    expect(r.status, r.stderr).toBe(0);
    const got = await readSafetensors(join(out, 'model.safetensors')), want = await readSafetensors(join(FIX, 'js-x1', 'student.safetensors'));
    for (const [k, t] of Object.entries(want.tensors)) expect(Array.from(got.tensors[k].data as Float32Array), k).toEqual(Array.from(t.data as Float32Array));
  }, 60_000);
});

describe('the CLI with layer specs', () => {
  const bin = join(ROOT, 'bin', 'distill.js');
  const run = (...a: string[]) => spawnSync(process.execPath, [bin, ...a], { cwd: dir, encoding: 'utf8', env: { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
  it('--arch trains a model whose file holds the specs, the input size taken from the data', async () => {
    const r = new Rng(5), lines = ['a,b,c,d,label'];
    for (let i = 0; i < 60; i++) { const k = i % 3; lines.push([0, 1, 2, 3].map((f) => (r.normal() * 0.4 + (f % 3 === k ? 1.5 : 0)).toFixed(3)).join(',') + `,${k}`); }
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'd.csv'), lines.join('\n'));
    const t = run('teach', '--data', 'd.csv', '--arch', 'dense:8,gelu,dropout:0.1,dense:3', '--epochs', '2', '--batch', '16', '--out', 'arch', '--backend', 'js', '--workers', '1');
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/teacher: layers 4-8-3 \(gelu, dropout 0\.1\), 67 parameters/);
    const { metadata } = await readSafetensors(join(dir, 'arch', 'model.safetensors'));
    expect(JSON.parse(metadata.config)).toEqual({ input: [4], layers: ['dense:8', 'gelu', 'dropout:0.1', 'dense:3'] });
  }, 60_000);
  it('a bad spec, or two ways of giving the model, exit 2 naming what is wrong', () => {
    const bad = run('teach', '--arch', 'dense:8,relu,dense:x', '--epochs', '1', '--out', 'bad', '--backend', 'js', '--workers', '1');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--arch: layers\[2\]: 'dense' needs a positive integer width, like dense:128; got "dense:x"/);
    const two = run('teach', '--arch', 'dense:3', '--layers', '784,10', '--epochs', '1', '--out', 'bad', '--backend', 'js', '--workers', '1');
    expect(two.status).toBe(2);
    expect(two.stderr).toMatch(/give the model one way: --arch and --layers were both given/);
  });
});

let hasOrt = true;
try { createRequire(import.meta.url).resolve('onnxruntime-node'); } catch { hasOrt = false; }

describe.skipIf(!hasOrt)('ONNX export of a spec model (onnxruntime-node installed)', () => {
  it('input [1,4,4], flatten, dropout, gelu: onnxruntime on (N,1,4,4) gives our eval logits', async () => {
    const m = new Sequential(js, { input: [1, 4, 4], layers: ['flatten', 'dropout:0.3', 'dense:8', 'gelu', 'dropout:0.1', 'dense:5', 'relu', 'dense:3'] }, 4).eval();
    const p = join(dir, 'spec.onnx');
    await saveOnnx(p, m);
    const ort = createRequire(import.meta.url)('onnxruntime-node') as { InferenceSession: { create(p: string): Promise<{ inputNames: string[]; outputNames: string[]; run(f: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: number[] }>> }> }; Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown };
    const s = await ort.InferenceSession.create(p);
    const r = new Rng(3), n = 6;
    const x = new Float32Array(n * 16).map(() => r.normal());
    const out = (await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [n, 1, 4, 4]) }))[s.outputNames[0]];
    expect(out.dims).toEqual([n, 3]);
    const want = m.forward(x, n);
    for (let i = 0; i < n * 3; i++) expect(out.data[i]).toBeCloseTo(want[i], 4);
  });
});
