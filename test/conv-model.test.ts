// Convolutional models (issue 17) as layer specs: conv/pool/gap/bn spec parsing, shape inference
// and its errors; parameter and buffer names; model files with batch-norm buffers; a CNN's
// checkpoint resume, bitwise; and the CLI (--model layer specs, --input-shape for CSV).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { ConfigError } from '../src/errors.js';
import { readModel, saveModel } from '../src/io/model-file.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { Sequential } from '../src/nn/sequential.js';
import { describeModel, hiddenWidths, layerShapes, parseLayerSpec, stateShapes, validateModelConfig, widthsForm } from '../src/nn/spec.js';
import { Rng } from '../src/nn/rng.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { saveOnnx } from '../src/io/onnx.js';
import { createRequire } from 'node:module';
import type { Dataset } from '../src/data/dataset.js';

const ROOT = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'distillery-conv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const js = await loadBackend('js');

describe('conv, pool and batchnorm layer specs', () => {
  it('parses conv (stride, pad, groups, depthwise), dwconv, maxpool/avgpool, gap and bn specs with their defaults (conv pool batchnorm)', () => {
    expect(parseLayerSpec('conv:16x3', 'w')).toEqual({ kind: 'conv', out: 16, k: 3, stride: 1, pad: 1, groups: 1 });
    expect(parseLayerSpec('conv:16x5/s2p0', 'w')).toEqual({ kind: 'conv', out: 16, k: 5, stride: 2, pad: 0, groups: 1 });
    expect(parseLayerSpec('conv:8x4', 'w')).toEqual({ kind: 'conv', out: 8, k: 4, stride: 1, pad: 1, groups: 1 });
    expect(parseLayerSpec('conv:32x3/dw', 'w')).toEqual({ kind: 'conv', out: 32, k: 3, stride: 1, pad: 1, groups: 'dw' });
    expect(parseLayerSpec('conv:32x3dw', 'w')).toEqual({ kind: 'conv', out: 32, k: 3, stride: 1, pad: 1, groups: 'dw' });
    expect(parseLayerSpec('conv:32x1/g4s2', 'w')).toEqual({ kind: 'conv', out: 32, k: 1, stride: 2, pad: 0, groups: 4 });
    expect(parseLayerSpec('dwconv:3/s2', 'w')).toEqual({ kind: 'conv', out: null, k: 3, stride: 2, pad: 1, groups: 'dw' });
    expect(parseLayerSpec('maxpool:2', 'w')).toEqual({ kind: 'maxpool', k: 2, stride: 2, pad: 0 });
    expect(parseLayerSpec('maxpool:3/s2p1', 'w')).toEqual({ kind: 'maxpool', k: 3, stride: 2, pad: 1 });
    expect(parseLayerSpec('avgpool:2/s1', 'w')).toEqual({ kind: 'avgpool', k: 2, stride: 1, pad: 0 });
    expect(parseLayerSpec('gap', 'w')).toEqual({ kind: 'gap' });
    expect(parseLayerSpec('bn', 'w')).toEqual({ kind: 'bn' });
  });

  it('shape inference through conv, pool, gap, bn and flatten; hidden widths of conv blocks (conv pool)', () => {
    const c = { input: [1, 28, 28], layers: ['conv:8x3', 'bn', 'relu', 'maxpool:2', 'conv:16x3/s2', 'relu', 'dwconv:3', 'avgpool:3/s2p1', 'flatten', 'dense:10'] };
    expect(layerShapes(c).shapes).toEqual([[8, 28, 28], [8, 28, 28], [8, 28, 28], [8, 14, 14], [16, 7, 7], [16, 7, 7], [16, 7, 7], [16, 4, 4], [256], [10]]);
    expect(hiddenWidths(c)).toEqual([8 * 28 * 28, 16 * 49]);
    expect(widthsForm(c)).toBeNull();
    expect(describeModel(c)).toBe('[1,28,28] conv:8x3 → bn → relu → maxpool:2 → conv:16x3/s2 → relu → dwconv:3 → avgpool:3/s2p1 → flatten → dense:10');
    expect(layerShapes({ input: [3, 8, 8], layers: ['conv:4x3', 'gap', 'dense:2'] }).shapes).toEqual([[4, 8, 8], [4], [2]]);
    // bn after a dense layer is BatchNorm1d.
    expect(layerShapes({ input: [20], layers: ['dense:16', 'bn', 'relu', 'dense:3'] }).shapes).toEqual([[16], [16], [16], [3]]);
  });

  it('bad conv/pool specs and shapes fail naming the layer index, the spec and the shapes (conv pool)', () => {
    const bad: [unknown, RegExp][] = [
      [{ input: [1, 28, 28], layers: ['conv:8x3', 'maxpool:2', 'maxpool:2', 'maxpool:2', 'maxpool:2', 'maxpool:2', 'flatten', 'dense:10'] }, /layers\[5\] 'maxpool:2' needs an input of at least 2x2, got 1x1 \(shape \[8,1,1\]\)/],
      [{ input: [1, 28, 28], layers: ['conv:8x3', 'relu', 'dense:10'] }, /layers\[2\] 'dense:10' needs a flat input, but gets shape \[8,28,28\]; put "flatten" before it \(or "gap" to average each channel\)/],
      [{ input: [784], layers: ['conv:8x3', 'flatten', 'dense:10'] }, /layers\[0\] 'conv:8x3' needs a \(C,H,W\) image input, but gets shape \[784\]; give the input shape of one sample \(e\.g\. --input-shape 1,28,28/],
      [{ input: [1, 8, 8], layers: ['flatten', 'maxpool:2', 'dense:10'] }, /layers\[1\] 'maxpool:2' needs a \(C,H,W\) image input, but gets shape \[64\] \(after flatten\/gap the input is flat\)/],
      [{ input: [3, 8, 8], layers: ['conv:8x3/dw', 'flatten', 'dense:10'] }, /layers\[0\] 'conv:8x3\/dw': groups 3 must divide the input channels 3 and the output channels 8 \(depthwise/],
      [{ input: [4, 8, 8], layers: ['conv:6x3/g4', 'flatten', 'dense:10'] }, /groups 4 must divide the input channels 4 and the output channels 6/],
      [{ input: [1, 4, 4], layers: ['conv:2x7/p1', 'flatten', 'dense:10'] }, /layers\[0\] 'conv:2x7\/p1' needs an input of at least 5x5 \(kernel 7, padding 1\), got 4x4/],
      [{ input: [1, 8, 8], layers: ['maxpool:2/p2', 'flatten', 'dense:10'] }, /'maxpool:2\/p2': padding 2 is more than half the window 2/],
      [{ input: [1, 8, 8], layers: ['conv:8', 'flatten', 'dense:10'] }, /'conv' needs OUTxK/],
      [{ input: [1, 8, 8], layers: ['conv:8x3/s0', 'flatten', 'dense:10'] }, /'conv' needs OUTxK/],
      [{ input: [1, 8, 8], layers: ['conv:8x3/q2', 'flatten', 'dense:10'] }, /'conv' needs OUTxK/],
      [{ input: [1, 8, 8], layers: ['conv:8x3/dwg2', 'flatten', 'dense:10'] }, /'conv' needs OUTxK/],
      [{ input: [1, 8, 8], layers: ['dwconv:3/g2', 'flatten', 'dense:10'] }, /'dwconv' needs a kernel size/],
      [{ input: [1, 8, 8], layers: ['maxpool', 'flatten', 'dense:10'] }, /'maxpool' needs a window size.*like maxpool:2 or maxpool:3\/s2p1; got "maxpool"/],
      [{ input: [1, 8, 8], layers: ['gap:2', 'dense:10'] }, /'gap' takes no argument/],
      [{ input: [1, 8, 8], layers: ['bn:1', 'flatten', 'dense:10'] }, /'bn' takes no argument/],
    ];
    for (const [raw, re] of bad) expect(() => validateModelConfig(raw), JSON.stringify(raw)).toThrow(re);
    expect(() => validateModelConfig({ input: [1, 8, 8], layers: ['conv:8', 'dense:2'] })).toThrow(ConfigError);
  });

  it('names: layers with state numbered in order (conv, bn, dense), bn buffers running_mean/var; MLP names unchanged (conv batchnorm)', () => {
    const c = validateModelConfig({ input: [1, 6, 6], layers: ['conv:4x3', 'bn', 'relu', 'maxpool:2', 'conv:8x3/g2', 'gap', 'dense:5', 'bn', 'relu', 'dense:3'] });
    const m = new Sequential(js, c, 1);
    const names = m.store.specs.map((s) => `${s.name}:${s.shape}`);
    expect(names).toEqual(['layers.0.weight:4,1,3,3', 'layers.0.bias:4', 'layers.1.weight:4', 'layers.1.bias:4', 'layers.2.weight:8,2,3,3', 'layers.2.bias:8',
      'layers.3.weight:5,8', 'layers.3.bias:5', 'layers.4.weight:5', 'layers.4.bias:5', 'layers.5.weight:3,5', 'layers.5.bias:3']);
    expect(m.buffers.specs.map((s) => s.name)).toEqual(['layers.1.running_mean', 'layers.1.running_var', 'layers.4.running_mean', 'layers.4.running_var']);
    const st = stateShapes(c);
    expect(st.params).toEqual(m.store.specs.map((s) => ({ name: s.name, shape: s.shape })));
    expect(st.buffers).toEqual(m.buffers.specs.map((s) => ({ name: s.name, shape: s.shape })));
    expect(m.parameterCount).toBe(4 * 9 + 4 + 8 + 8 * 2 * 9 + 8 + 5 * 8 + 5 + 10 + 15 + 3);
    expect(m.hiddenCount).toBe(2);
    m.release();
    const mlp = new Sequential(js, { layers: [10, 8, 3], activation: 'relu', dropout: 0.1 }, 1);
    expect(mlp.store.specs.map((s) => s.name)).toEqual(['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']);
    mlp.release();
  });

  it('init: He-normal for conv followed by relu through bn (std √(2/fanIn)), Xavier otherwise (conv)', () => {
    const m = new Sequential(js, { input: [16, 10, 10], layers: ['conv:64x3', 'bn', 'relu', 'conv:64x3', 'flatten', 'dense:2'] }, 3);
    const std = (name: string) => {
      const v = m.store.view(m.store.find(name)!);
      let s = 0;
      for (const x of v) s += x * x;
      return Math.sqrt(s / v.length);
    };
    expect(std('layers.0.weight')).toBeCloseTo(Math.sqrt(2 / (16 * 9)), 2);
    // Xavier-uniform: std = lim/√3 with lim = √(6/(fanIn+fanOut)), fanIn 64·9, fanOut 64·9.
    expect(std('layers.2.weight')).toBeCloseTo(Math.sqrt(6 / (2 * 64 * 9)) / Math.sqrt(3), 2);
    expect(Array.from(m.store.view(m.store.find('layers.0.bias')!)).every((v) => v === 0)).toBe(true);
    m.release();
  });
});

/** Small seeded "images": class k has a bright k-th quadrant. */
function images(n: number, seed: number, side = 6, C = 1): Dataset {
  const r = new Rng(seed), F = C * side * side;
  const x = new Float32Array(n * F), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = r.int(4);
    y[i] = k;
    for (let c = 0; c < C; c++) for (let h = 0; h < side; h++) for (let w = 0; w < side; w++) {
      const q = (h < side / 2 ? 0 : 2) + (w < side / 2 ? 0 : 1);
      x[i * F + (c * side + h) * side + w] = r.normal() * 0.5 + (q === k ? 1 : 0);
    }
  }
  return { name: `images-${seed}`, x, y, n, features: F, shape: [C, side, side], classes: 4 };
}

describe('CNN model files and checkpoints', () => {
  it('a model file holds the batchnorm buffers as state_dict tensors; they load back exactly (batchnorm conv)', async () => {
    const m = new Sequential(js, { input: [1, 6, 6], layers: ['conv:3x3', 'bn', 'relu', 'maxpool:2', 'flatten', 'dense:4'] }, 2);
    const x = js.alloc(5 * 36);
    x.set(images(5, 1).x);
    m.train().forward(x, 5); // running statistics move away from 0 / 1
    const rm = m.buffers.view(m.buffers.find('layers.1.running_mean')!).slice();
    expect(Array.from(rm).some((v) => v !== 0)).toBe(true);
    const file = join(dir, 'cnn.safetensors');
    await saveModel(file, m);
    const { tensors } = await readSafetensors(file);
    expect(Object.keys(tensors).sort()).toEqual(['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.running_mean', 'layers.1.running_var', 'layers.1.weight', 'layers.2.bias', 'layers.2.weight']);
    expect(Array.from(tensors['layers.1.running_mean'].data as Float32Array)).toEqual(Array.from(rm));
    const back = (await readModel(file, js)).model;
    expect(back.buffers.data).toEqual(m.buffers.data);
    expect(back.store.params).toEqual(m.store.params);
    const a = Array.from(m.eval().forward(x, 5)), b = Array.from(back.eval().forward(x, 5));
    expect(b).toEqual(a);
    // A file that lacks a buffer is refused, naming it.
    const { writeSafetensors } = await import('../src/io/safetensors.js');
    const { metadata } = await readSafetensors(file);
    const partial = Object.fromEntries(Object.entries(tensors).filter(([k]) => k !== 'layers.1.running_var'));
    await writeSafetensors(join(dir, 'cnn-bad.safetensors'), partial, metadata);
    await expect(readModel(join(dir, 'cnn-bad.safetensors'), js)).rejects.toThrow(/tensor 'layers\.1\.running_var' is missing/);
    m.release();
    back.release();
  });

  it('a CNN with batchnorm: interrupted + resumed == uninterrupted, bitwise (parameters and running statistics) (conv batchnorm)', async () => {
    const data = images(120, 3), test = images(40, 4);
    const model = { input: [1, 6, 6], layers: ['conv:4x3', 'bn', 'relu', 'maxpool:2', 'dropout:0.1', 'flatten', 'dense:4'] };
    const cfg = (name: string): TrainConfig => ({
      epochs: 2, batchSize: 16, seed: 7, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }, schedule: { kind: 'cosine', totalSteps: 16 },
      checkpointPath: join(dir, `${name}.safetensors`), metricsPath: join(dir, `${name}.jsonl`), checkpointEvery: 3,
    });
    const a = new Sequential(js, model, 3);
    const full = await train(a, data, test, cfg('full'));
    const b1 = new Sequential(js, model, 3);
    const part = await train(b1, data, test, cfg('part'), { stopAfterSteps: 5 });
    expect(part.stopped).toBe(true);
    const b2 = new Sequential(js, model, 999);
    const rest = await train(b2, data, test, { ...cfg('part'), resume: true });
    expect(rest.steps).toBe(full.steps);
    const bytes = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength);
    expect(bytes(b2.store.params).equals(bytes(a.store.params))).toBe(true);
    expect(bytes(b2.buffers.data).equals(bytes(a.buffers.data))).toBe(true);
    expect(Array.from(a.buffers.data.subarray(0, 4)).some((v) => v !== 0)).toBe(true);
    expect(rest.history.at(-1)).toEqual({ ...full.history.at(-1), seconds: rest.history.at(-1)!.seconds });
  }, 60_000);
});

let hasOrt = true;
try { createRequire(import.meta.url).resolve('onnxruntime-node'); } catch { hasOrt = false; }

describe.skipIf(!hasOrt)('ONNX export of a CNN (onnxruntime-node installed)', () => {
  it('conv (strided, grouped, depthwise), bn with trained running statistics, max/avg pooling, gap: onnxruntime gives our eval logits (conv pool batchnorm)', async () => {
    const m = new Sequential(js, { input: [2, 9, 9], layers: ['conv:4x3/s2p1', 'bn', 'relu', 'conv:4x3/g2', 'maxpool:3/s2p1', 'dwconv:3', 'gelu', 'avgpool:2/s1p1', 'conv:6x1', 'bn', 'gap', 'dense:5', 'bn', 'relu', 'dense:3'] }, 4);
    const r = new Rng(3), n = 6;
    const x = new Float32Array(n * m.inputs).map(() => r.normal());
    const xb = js.alloc(x.length);
    xb.set(x);
    m.train().forward(xb, n); // running statistics away from 0 / 1
    const p = join(dir, 'cnn.onnx');
    await saveOnnx(p, m.eval());
    const ort = createRequire(import.meta.url)('onnxruntime-node') as { InferenceSession: { create(p: string): Promise<{ inputNames: string[]; outputNames: string[]; run(f: Record<string, unknown>): Promise<Record<string, { data: Float32Array; dims: number[] }>> }> }; Tensor: new (t: string, d: Float32Array, dims: number[]) => unknown };
    const s = await ort.InferenceSession.create(p);
    const out = (await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', x, [n, 2, 9, 9]) }))[s.outputNames[0]];
    expect(out.dims).toEqual([n, 3]);
    const want = m.forward(xb, n);
    for (let i = 0; i < n * 3; i++) expect(out.data[i]).toBeCloseTo(want[i], 4);
    m.release();
  });
});

describe('a CNN in data-parallel workers', () => {
  it('2 workers build the CNN student (conv, bn, pool) from its config, train it deterministically, and shard 0 updates the saved running statistics (conv batchnorm)', async () => {
    const data = images(96, 6), test = images(32, 7);
    const model = { input: [1, 6, 6], layers: ['conv:4x3', 'bn', 'relu', 'maxpool:2', 'flatten', 'dense:4'] };
    const cfg: TrainConfig = { epochs: 2, batchSize: 16, seed: 3, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'constant' }, workers: 2 };
    const runOnce = async () => {
      const m = new Sequential(js, model, 5);
      const r = await train(m, data, test, cfg);
      return { m, r };
    };
    const a = await runOnce(), b = await runOnce();
    expect(a.r.history.at(-1)!.test_acc).toBeGreaterThan(0.5);
    expect(b.m.store.params).toEqual(a.m.store.params);
    expect(b.m.buffers.data).toEqual(a.m.buffers.data);
    // The running statistics moved from their init (mean 0, var 1): shard 0 wrote the shared ones.
    const rm = a.m.buffers.view(a.m.buffers.find('layers.1.running_mean')!), rv = a.m.buffers.view(a.m.buffers.find('layers.1.running_var')!);
    expect(Array.from(rm).every((v) => v !== 0)).toBe(true);
    expect(Array.from(rv).every((v) => v !== 1)).toBe(true);
  }, 120_000);
});

describe('a CNN teacher with batch norm in data-parallel workers', () => {
  it('online in 2 workers, it uses its trained running statistics: the same student as with its cached (main-thread, eval-mode) logits (conv batchnorm)', async () => {
    const data = images(64, 8), teacher = new Sequential(js, { input: [1, 6, 6], layers: ['conv:4x3', 'bn', 'relu', 'flatten', 'dense:4'] }, 9);
    // Running statistics far from the init (0, 1): a worker that ignored them would give other logits.
    teacher.buffers.view(teacher.buffers.find('layers.1.running_mean')!).set([0.5, -0.3, 0.2, 0.1]);
    teacher.buffers.view(teacher.buffers.find('layers.1.running_var')!).set([0.2, 3, 0.5, 2]);
    const run = async (teacherMode: 'online' | 'cached') => {
      const m = new Sequential(js, { input: [1, 6, 6], layers: ['conv:2x3', 'relu', 'flatten', 'dense:4'] }, 3);
      await train(m, data, null, { epochs: 1, batchSize: 16, seed: 2, optimizer: { kind: 'sgd', lr: 0.1 }, schedule: { kind: 'constant' }, kd: { T: 2, alpha: 1 }, teacherMode, workers: 2 }, {}, [{ model: teacher }]);
      return m.store.params.slice();
    };
    const online = await run('online'), cached = await run('cached');
    for (let i = 0; i < online.length; i++) expect(Math.abs(online[i] - cached[i])).toBeLessThan(1e-5);
  }, 120_000);
});

describe('the CLI with conv layer specs', () => {
  const bin = join(ROOT, 'bin', 'distill.js');
  const run = (...a: string[]) => spawnSync(process.execPath, [bin, ...a], { cwd: dir, encoding: 'utf8', env: { ...process.env, DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
  const csv = join(dir, 'img.csv');
  {
    const d = images(160, 5, 4);
    const lines = [[...Array.from({ length: 16 }, (_, i) => `p${i}`), 'label'].join(',')];
    for (let i = 0; i < d.n; i++) lines.push([...Array.from(d.x.subarray(i * 16, (i + 1) * 16), (v) => v.toFixed(3)), d.y[i]].join(','));
    writeFileSync(csv, lines.join('\n') + '\n');
  }

  it('CSV data: --model conv specs need --input-shape C,H,W, whose product must be the feature count (conv)', () => {
    const no = run('teach', '--data', csv, '--model', 'conv:4x3,relu,flatten,dense:4', '--epochs', '1', '--out', 'c0', '--backend', 'js', '--workers', '1');
    expect(no.status).toBe(2);
    expect(no.stderr).toMatch(/--model: the conv\/pooling layers need the \(C,H,W\) shape of one sample, and the data \(16 flat features\) does not say it; give --input-shape C,H,W/);
    const wrong = run('teach', '--data', csv, '--model', 'conv:4x3,relu,flatten,dense:4', '--input-shape', '1,4,5', '--epochs', '1', '--out', 'c0', '--backend', 'js', '--workers', '1');
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/--input-shape 1,4,5 holds 20 values per sample, but the data has 16 features/);
    const ok = run('teach', '--data', csv, '--model', 'conv:4x3,bn,relu,maxpool:2,flatten,dense:4', '--input-shape', '1,4,4', '--epochs', '3', '--batch', '16', '--out', 'c1', '--backend', 'js', '--workers', '1');
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/teacher: layers \[1,4,4\] conv:4x3 → bn → relu → maxpool:2 → flatten → dense:4, 116 parameters/);
    const bad = run('teach', '--data', csv, '--model', 'conv:4x3,relu,maxpool:2,maxpool:2,maxpool:2,flatten,dense:4', '--input-shape', '1,4,4', '--epochs', '1', '--out', 'c2', '--backend', 'js', '--workers', '1');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--model: layers\[4\] 'maxpool:2' needs an input of at least 2x2, got 1x1 \(shape \[4,1,1\]\)/);
  }, 120_000);

  it('--help of teach and student documents the conv/pool/bn specs and --input-shape (conv pool batchnorm)', () => {
    for (const c of ['teach', 'student']) {
      const h = run(c, '--help');
      expect(h.status).toBe(0);
      expect(h.stdout).toMatch(/conv:OCxK\[\/sSpPgG\|dw\]/);
      expect(h.stdout).toMatch(/maxpool:K\[\/sSpP\]/);
      expect(h.stdout).toMatch(/bn \(batch norm\)/);
      expect(h.stdout).toMatch(/--input-shape/);
    }
  });
});
