// Post-training int8 quantization (src/compress/quantize.ts, src/nn/quantized.ts): the int8 model
// computes exactly what a plain TS re-computation of "quantize input, exact integer dot, dequantize
// with the zero-point correction, add bias" gives, on every backend that loads; batch norm after
// a conv/dense is folded (and elsewhere kept in float); min/max calibration observes the layers'
// inputs and the percentile method clips an outlier; the int8 file round-trips, is ≤ 0.3× the
// float file, and refuses float/int8 mix-ups, missing tensors, bad scales, NaN and −128 weights
// with errors naming the tensor; and PTQ of a 784-64-10 MLP trained on the built-in digits keeps
// its test accuracy within 0.5 pt.

import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend, type Backend } from '../src/backends/index.js';
import { calibrate, inferenceMs, quantizeModel, quantizedState, quantLayers, topAgreement } from '../src/compress/quantize.js';
import { loadDataset } from '../src/data/builtin.js';
import { encodeSafetensors, readSafetensors, type Tensor } from '../src/io/safetensors.js';
import { readAnyModel, readModel, readQuantizedModel, saveModel, saveQuantizedModel } from '../src/io/model-file.js';
import { loadModel } from '../src/io/predictor.js';
import { roundHalfEven } from '../src/kernels/reference.js';
import { QuantizedSequential, type QuantizedState } from '../src/nn/quantized.js';
import { Rng } from '../src/nn/rng.js';
import { Sequential } from '../src/nn/sequential.js';
import { evaluate, train } from '../src/train/trainer.js';
import { backendsUnderTest } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-quantize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const normal = (n: number, seed: number, scale = 1, shift = 0) => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.normal() * scale + shift);
};

/** Random weights and, for batch norm, non-trivial running statistics. */
function randomize(m: Sequential, seed: number): Sequential {
  const r = new Rng(seed);
  for (const b of m.batchNorms) {
    m.store.view(b.weight).forEach((_, i, a) => { a[i] = 0.5 + r.next(); });
    m.store.view(b.bias).forEach((_, i, a) => { a[i] = r.normal() * 0.3; });
    m.buffers.view(b.runningMean).forEach((_, i, a) => { a[i] = r.normal() * 0.5; });
    m.buffers.view(b.runningVar).forEach((_, i, a) => { a[i] = 0.3 + r.next(); });
  }
  for (const s of m.store.specs) if (s.name.endsWith('.bias') && !m.batchNorms.some((b) => b.bias === s)) m.store.view(s).forEach((_, i, a) => { a[i] = r.normal() * 0.1; });
  return m.eval();
}

/**
 * The int8 model's logits by plain loops from its state alone (no backend kernels): per int8
 * layer q = clamp(round_half_even(f32(x·invScale)) + z, 0, 255), acc = Σ (q − z)·w exactly (padding
 * cells are q = z), y = f32(f32(f32(acc)·f32(s_in·s_w[c])) + b[c]); ReLU, max pooling and flatten
 * in float. (Covers the layer kinds used in the exactness models below.)
 */
function plainInt8(state: QuantizedState, x: Float32Array, N: number): Float32Array {
  let shape = [...state.config.input], h = Float64Array.from(x) as unknown as Float32Array, k = 0;
  for (const spec of state.config.layers) {
    const [kind, arg] = spec.split(':');
    const per = shape.reduce((a, b) => a * b, 1);
    if (kind === 'dense' || kind === 'conv' || kind === 'dwconv') {
      const s = state.layers[k++];
      if (s.kind !== 'q') throw new Error('expected an int8 layer');
      const { invScale, zeroPoint: z, scale: sIn } = s.input;
      const q = Int32Array.from(h.subarray(0, N * per), (v) => Math.min(255, Math.max(0, roundHalfEven(Math.fround(v * invScale)) + z)) - z);
      const OC = s.bias.length;
      if (kind === 'dense') {
        const out = new Float32Array(N * OC);
        for (let n = 0; n < N; n++) for (let c = 0; c < OC; c++) {
          let acc = 0;
          for (let i = 0; i < per; i++) acc += q[n * per + i] * s.weight[c * per + i];
          out[n * OC + c] = Math.fround(Math.fround(Math.fround(acc) * Math.fround(sIn * s.weightScale[c])) + s.bias[c]);
        }
        h = out;
        shape = [OC];
      } else {
        // conv:OCxK/sSpP(gG|dw) as used below
        const m = /^(\d+)x(\d+)(?:\/(.*))?$/.exec(arg) ?? /^(\d+)(?:\/(.*))?$/.exec(arg)!;
        const K = kind === 'dwconv' ? Number(m[1]) : Number(m[2]);
        const mods = (kind === 'dwconv' ? m[2] : m[3]) ?? '';
        const stride = Number(/s(\d+)/.exec(mods)?.[1] ?? 1), pad = Number(/p(\d+)/.exec(mods)?.[1] ?? Math.floor((K - 1) / 2));
        const [C, H, W] = shape;
        const groups = kind === 'dwconv' || mods.includes('dw') ? C : Number(/g(\d+)/.exec(mods)?.[1] ?? 1);
        const OH = Math.floor((H + 2 * pad - K) / stride) + 1, OW = Math.floor((W + 2 * pad - K) / stride) + 1;
        const cg = C / groups, og = OC / groups, out = new Float32Array(N * OC * OH * OW);
        for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
          let acc = 0;
          const g = Math.floor(o / og);
          for (let c = 0; c < cg; c++) for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) {
            const hh = i * stride - pad + a, ww = j * stride - pad + b;
            if (hh < 0 || hh >= H || ww < 0 || ww >= W) continue; // padding: q − z = 0
            acc += q[((n * C + g * cg + c) * H + hh) * W + ww] * s.weight[((o * cg + c) * K + a) * K + b];
          }
          out[((n * OC + o) * OH + i) * OW + j] = Math.fround(Math.fround(Math.fround(acc) * Math.fround(sIn * s.weightScale[o])) + s.bias[o]);
        }
        h = out;
        shape = [OC, OH, OW];
      }
    } else if (kind === 'relu') h = h.map((v) => (v > 0 ? v : 0));
    else if (kind === 'flatten') shape = [per];
    else if (kind === 'maxpool') {
      const K = Number(arg), [C, H, W] = shape, OH = Math.floor(H / K), OW = Math.floor(W / K), out = new Float32Array(N * C * OH * OW);
      for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
        let mx = -Infinity;
        for (let a = 0; a < K; a++) for (let b = 0; b < K; b++) mx = Math.max(mx, h[((n * C + c) * H + i * K + a) * W + j * K + b]);
        out[((n * C + c) * OH + i) * OW + j] = mx;
      }
      h = out;
      shape = [C, OH, OW];
    } else throw new Error(`plainInt8: ${spec} not covered`);
  }
  return Float32Array.from(h);
}

const EXACT_MODELS = [
  { name: 'MLP 12-16-9-5', config: { input: [12], layers: ['dense:16', 'relu', 'dense:9', 'relu', 'dense:5'] } },
  { name: 'CNN: conv+bn (folded), strided, grouped, depthwise, maxpool', config: { input: [2, 9, 9], layers: ['conv:6x3', 'bn', 'relu', 'conv:6x3/s2p1g2', 'relu', 'dwconv:3', 'relu', 'maxpool:2', 'flatten', 'dense:4'] } },
];

describe('QuantizedSequential: exact against a plain re-computation, on every backend', () => {
  let backends: Backend[] = [];
  beforeAll(async () => { backends = (await backendsUnderTest()).backends; });

  for (const { name, config } of EXACT_MODELS) {
    it(name, async () => {
      const js = await loadBackend('js');
      const m = randomize(new Sequential(js, config, 7), 8);
      const N = 6, x = normal(N * m.inputs, 9, 1.5);
      const ranges = calibrate(m, x, N, { method: 'minmax' });
      const state = quantizedState(m, ranges);
      expect(state.config.layers).not.toContain('bn'); // folded
      const want = plainInt8(state, x, N);
      expect(backends.length).toBeGreaterThan(0);
      for (const be of backends) {
        const q = new QuantizedSequential(be, state);
        const xb = be.alloc(N * m.inputs);
        xb.set(x);
        const got = Float32Array.from(q.forward(xb, N));
        expect(Array.from(got), `${be.name}`).toEqual(Array.from(want));
        be.free(xb);
        q.release();
      }
      // And close to the float model it stands for.
      const f = m.forward(x, N), K = m.classes;
      let maxAbs = 0, maxErr = 0;
      for (let i = 0; i < N * K; i++) { maxAbs = Math.max(maxAbs, Math.abs(f[i])); maxErr = Math.max(maxErr, Math.abs(f[i] - want[i])); }
      expect(maxErr).toBeLessThan(0.06 * maxAbs);
      m.release();
    });
  }
});

describe('calibration, folding, conversion', () => {
  it('quantLayers lists the dense and conv layers; minmax is the observed range of each one\'s input', async () => {
    const js = await loadBackend('js');
    const m = randomize(new Sequential(js, { input: [1, 6, 6], layers: ['conv:3x3', 'relu', 'maxpool:2', 'flatten', 'dense:5', 'gelu', 'dense:3'] }, 1), 2);
    expect(quantLayers(m)).toEqual([0, 4, 6]);
    const n = 11, x = normal(n * 36, 3, 2, 0.5);
    const r = calibrate(m, x, n, { method: 'minmax', batch: 4 });
    // Observed directly: the input, and the outputs of layers 3 (flatten) and 5 (gelu).
    const seen = [x, null, null] as (Float32Array | null)[];
    const outs: Float32Array[] = [];
    let h = x;
    for (const l of m.layers) { h = Float32Array.from(l.forward(h, n, false)); outs.push(h); }
    seen[1] = outs[3];
    seen[2] = outs[5];
    r.forEach((rr, j) => {
      expect(rr.min).toBe(Math.min(...seen[j]!));
      expect(rr.max).toBe(Math.max(...seen[j]!));
    });
    m.release();
  });

  it('percentile clips a rare outlier that min/max keeps', async () => {
    const js = await loadBackend('js');
    const m = new Sequential(js, { layers: [4, 3, 2] }, 1).eval();
    const n = 5000, x = normal(n * 4, 4);
    x[123] = 1000;
    const mm = calibrate(m, x, n, { method: 'minmax' })[0], pc = calibrate(m, x, n, { method: 'percentile', percentile: 99.9 })[0];
    expect(mm.max).toBe(1000);
    expect(pc.max).toBeLessThan(10);
    expect(pc.max).toBeGreaterThan(2.5); // the Gaussian's 99.9% point (3.1) survives, to a histogram bin
    expect(pc.min).toBeLessThan(-2.5);
    expect(() => calibrate(m, x, n, { method: 'percentile', percentile: 30 })).toThrow(/percentile must be in \(50, 100\]/);
    expect(() => calibrate(m, x, n, { method: 'entropy' as 'minmax' })).toThrow(/expected one of minmax, percentile/);
    const bad = x.slice(0, 8);
    bad[5] = NaN;
    expect(() => calibrate(m, bad, 2, { method: 'minmax' })).toThrow(/row 1, feature 1 is NaN/);
    m.release();
  });

  it('batch norm after a dense layer is folded; a batch norm elsewhere stays float (eval: running statistics)', async () => {
    const js = await loadBackend('js');
    const m = randomize(new Sequential(js, { input: [2, 5, 5], layers: ['bn', 'conv:4x3', 'relu', 'maxpool:2', 'bn', 'flatten', 'dense:8', 'bn', 'relu', 'dense:3'] }, 5), 6);
    const n = 40, x = normal(n * 50, 7);
    const q = quantizeModel(m, calibrate(m, x, n, { method: 'minmax' }));
    expect(q.config.layers).toEqual(['bn', 'conv:4x3', 'relu', 'maxpool:2', 'bn', 'flatten', 'dense:8', 'relu', 'dense:3']);
    expect(q.state.layers.map((s) => s.kind)).toEqual(['bn', 'q', 'bn', 'q', 'q']);
    const f = Float32Array.from(m.forward(x, n)), g = q.forward(x, n);
    const { agreement } = topAgreement(m, q, x, n);
    expect(agreement).toBeGreaterThanOrEqual(0.9);
    let maxAbs = 0, maxErr = 0;
    for (let i = 0; i < f.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(f[i])); maxErr = Math.max(maxErr, Math.abs(f[i] - g[i])); }
    expect(maxErr).toBeLessThan(0.08 * maxAbs);
    expect(() => quantizeModel(m, [])).toThrow(/0 activation ranges for 3 quantized layers \(layers 1, 6, 9\)/);
    expect(() => q.checkInput(Float32Array.of(...new Float32Array(50), ...new Float32Array(3), -Infinity), 2)).toThrow(/row 1, feature 3 is -Infinity/);
    expect(() => q.checkInput(new Float32Array(100), 2)).not.toThrow();
    expect(inferenceMs(q, 2, 3)).toBeGreaterThan(0);
    q.release();
    m.release();
  });
});

describe('int8 model files', () => {
  let m: Sequential, q: QuantizedSequential, fp: string, qp: string;
  const x = normal(20 * 784, 11, 1, 0.3);
  beforeAll(async () => {
    const js = await loadBackend('js');
    m = new Sequential(js, { layers: [784, 64, 10] }, 3).eval();
    q = quantizeModel(m, calibrate(m, x, 20, { method: 'minmax' }));
    fp = join(dir, 'f32.safetensors');
    qp = join(dir, 'int8.safetensors');
    await saveModel(fp, m);
    await saveQuantizedModel(qp, q, {}, { classNames: 'abcdefghij'.split('') });
  });

  it('round-trip: the same logits; ≤ 0.3× the float file; readAnyModel and loadModel take both kinds', async () => {
    const js = await loadBackend('js');
    const { model, info, meta } = await readQuantizedModel(qp, js);
    expect(meta.dtype).toBe('int8');
    expect(info.classNames).toEqual('abcdefghij'.split(''));
    expect(Array.from(model.forward(x, 20))).toEqual(Array.from(q.forward(x, 20)));
    expect(statSync(qp).size / statSync(fp).size).toBeLessThanOrEqual(0.3);
    expect((await readAnyModel(qp, js)).model).toBeInstanceOf(QuantizedSequential);
    expect((await readAnyModel(fp, js)).model).toBeInstanceOf(Sequential);
    const lm = await loadModel(qp, { backend: 'js' });
    expect(lm.dtype).toBe('int8');
    const p = lm.predict(x);
    expect(Array.from(p.logits)).toEqual(Array.from(q.forward(x, 20)));
    expect(p.labels[0]).toMatch(/^[a-j]$/);
    // Raw rows with NaN: a clear error from predict (quantize_int8 would give unspecified codes).
    const bad = Float32Array.from(x.subarray(0, 2 * q.inputs));
    bad[q.inputs + 4] = NaN;
    expect(() => lm.predict(bad)).toThrow(/int8 model input: row 1, feature 4 is NaN/);
    expect((await loadModel(fp, { backend: 'js' })).dtype).toBe('f32');
    model.release();
  });

  it('a float file where int8 is needed, and an int8 file where float is needed, are refused by name', async () => {
    const js = await loadBackend('js');
    await expect(readQuantizedModel(fp, js)).rejects.toThrow(/f32\.safetensors: is a float32 model; this needs an int8 model file \(make one with distill quantize/);
    await expect(readModel(qp, js)).rejects.toThrow(/int8\.safetensors: is an int8 model \(from distill quantize\); this needs a float32 model file/);
  });

  /** Rewrites the int8 file with one tensor changed (or removed), and reads it back. */
  async function corrupt(name: string, change: (t: Tensor) => Tensor | null): Promise<unknown> {
    const { tensors, metadata } = await readSafetensors(qp);
    const t = change(tensors[name]);
    if (t) tensors[name] = t;
    else delete tensors[name];
    const p = join(dir, `bad-${name}.safetensors`);
    writeFileSync(p, Buffer.concat(encodeSafetensors(tensors, metadata)));
    return readQuantizedModel(p, await loadBackend('js'));
  }

  it('missing tensors, wrong dtypes or shapes, bad scales, NaN and −128 are errors naming the tensor', async () => {
    await expect(corrupt('layers.1.weight_scale', () => null)).rejects.toThrow(/tensor 'layers\.1\.weight_scale' is missing/);
    await expect(corrupt('layers.0.weight', (t) => ({ ...t, dtype: 'U8', data: new Uint8Array(t.data.buffer) }))).rejects.toThrow(/tensor 'layers\.0\.weight' is U8\[64,784\], expected I8\[64,784\]/);
    await expect(corrupt('layers.0.bias', () => ({ dtype: 'F32', shape: [63], data: new Float32Array(63) }))).rejects.toThrow(/'layers\.0\.bias' is F32\[63\], expected F32\[64\]/);
    await expect(corrupt('layers.1.weight_scale', (t) => ({ ...t, data: Float32Array.from(t.data as Float32Array, (v, i) => (i === 3 ? -v : v)) }))).rejects.toThrow(/'layers\.1\.weight_scale' holds -[\d.e-]+ at element 3; scales must be positive/);
    await expect(corrupt('layers.0.input_scale', () => ({ dtype: 'F32', shape: [1], data: Float32Array.of(0) }))).rejects.toThrow(/'layers\.0\.input_scale' holds 0 at element 0/);
    await expect(corrupt('layers.0.bias', (t) => ({ ...t, data: Float32Array.from(t.data as Float32Array, (v, i) => (i === 5 ? NaN : v)) }))).rejects.toThrow(/tensor 'layers\.0\.bias' holds NaN at element 5/);
    await expect(corrupt('layers.0.weight', (t) => ({ ...t, data: Int8Array.from(t.data as Int8Array, (v, i) => (i === 9 ? -128 : v)) }))).rejects.toThrow(/'layers\.0\.weight' holds -128 at element 9; int8 weights are symmetric/);
    await expect(corrupt('layers.0.input_zero_point', () => ({ dtype: 'F32', shape: [1], data: Float32Array.of(3) }))).rejects.toThrow(/'layers\.0\.input_zero_point' is F32\[1\], expected U8\[1\]/);
  });
});

describe('PTQ on the built-in digits (784-64-10, trained here)', () => {
  it('int8 test accuracy within 0.5 pt of float32, top-1 agreement ≥ 99%, minmax and percentile', async () => {
    let be: Backend;
    try { be = await loadBackend('native'); } catch { be = await loadBackend('js'); }
    const d = await loadDataset('mnist');
    const m = new Sequential(be, { layers: [784, 64, 10] }, 1);
    await train(m, d.train, null, { epochs: 3, batchSize: 64, seed: 1, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'cosine', totalSteps: 3 * Math.ceil(d.train.n / 64) } });
    const f = evaluate(m, d.test);
    expect(f.accuracy).toBeGreaterThan(0.9);
    for (const method of ['minmax', 'percentile'] as const) {
      const q = quantizeModel(m, calibrate(m, d.train.x, 1000, { method }));
      const e = evaluate(q, d.test);
      const { agreement } = topAgreement(m, q, d.test.x, d.test.n);
      console.log(`[quantize] digits 784-64-10 on ${be.name}, ${method}: float ${(f.accuracy * 100).toFixed(2)}%, int8 ${(e.accuracy * 100).toFixed(2)}%, agreement ${(agreement * 100).toFixed(2)}%`);
      expect(Math.abs(e.accuracy - f.accuracy)).toBeLessThanOrEqual(0.005);
      expect(agreement).toBeGreaterThanOrEqual(0.99);
      q.release();
    }
    m.release();
  });
});
