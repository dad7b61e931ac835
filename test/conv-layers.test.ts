// Image layers (issue 17): finite-difference gradient checks of Conv2D (dense, strided, padded,
// grouped, depthwise), MaxPool2D, AvgPool2D, GlobalAvgPool, BatchNorm (train mode, gamma/beta)
// and a whole CNN on every backend; batch norm's train/eval behaviour and running statistics
// against hand-computed values; its cross-shard hook (BatchNormSync) against the whole batch.

import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/index.js';
import { AvgPool2D, BatchNorm, Conv2D, GlobalAvgPool, MaxPool2D, type BatchNormSync, type Layer } from '../src/nn/layers.js';
import { BufferStore, ParamStore } from '../src/nn/params.js';
import { Sequential } from '../src/nn/sequential.js';
import { backendsUnderTest, randArray, randLabels, fd } from './util.js';

const { backends } = await backendsUnderTest();

function expectClose(analytic: number, numeric: number, what: string, rtol = 2e-2, atol = 2e-3): void {
  expect(Math.abs(analytic - numeric), `${what}: analytic ${analytic} vs numeric ${numeric}`).toBeLessThanOrEqual(atol + rtol * Math.abs(numeric));
}

/** Checks a layer in training mode: L = Σ y·r, so dL/dy = r; every input and parameter (or a spread of them). */
function checkLayer(be: Backend, layer: Layer, store: ParamStore | null, x: Float32Array, N: number, what: string, eps = 1e-2): void {
  const r = randArray(N * layer.outFeatures, 99);
  const loss = () => {
    const y = layer.forward(x, N, true);
    let s = 0;
    for (let i = 0; i < N * layer.outFeatures; i++) s += y[i] * r[i];
    return s;
  };
  loss();
  store?.zeroGrads();
  const dy = be.alloc(r.length);
  dy.set(r);
  const dx = layer.backward(dy, N, true)!.slice();
  const g = store ? store.grads.slice() : null;
  for (let i = 0; i < x.length; i += Math.max(1, Math.floor(x.length / 41))) expectClose(dx[i], fd(loss, x, i, eps), `${what} dx[${i}]`);
  if (store && g) for (const s of store.specs) for (let i = s.offset; i < s.offset + s.size; i += Math.max(1, Math.floor(s.size / 13))) expectClose(g[i], fd(loss, store.params, i, eps), `${what} d${s.name}[${i - s.offset}]`);
  be.free(dy);
}

function input(be: Backend, n: number, seed: number, spread = 1): Float32Array {
  const x = be.alloc(n);
  x.set(randArray(n, seed, spread));
  return x;
}

describe.each(backends.map((b) => [b.name, b]))('%s', (_n, be) => {
  const convCases: [string, number[], { outChannels: number; k: number; stride: number; pad: number; groups: number }][] = [
    ['dense 3x3, pad 1', [3, 6, 5], { outChannels: 4, k: 3, stride: 1, pad: 1, groups: 1 }],
    ['strided 3x3/s2, pad 0', [2, 7, 7], { outChannels: 3, k: 3, stride: 2, pad: 0, groups: 1 }],
    ['padded 2x2/p1 (more than same)', [2, 4, 5], { outChannels: 2, k: 2, stride: 1, pad: 1, groups: 1 }],
    ['grouped g2', [4, 5, 5], { outChannels: 6, k: 3, stride: 1, pad: 1, groups: 2 }],
    ['depthwise 3x3/s2', [3, 6, 6], { outChannels: 3, k: 3, stride: 2, pad: 1, groups: 3 }],
    ['depthwise multiplier 2, 1x1', [3, 4, 4], { outChannels: 6, k: 1, stride: 1, pad: 0, groups: 3 }],
  ];
  for (const [name, shape, opts] of convCases) {
    it(`Conv2D ${name}: backward (dW, db, dx) matches finite differences (conv)`, () => {
      const store = new ParamStore();
      const c = new Conv2D(be, store, shape, opts, 'c');
      store.allocate(be);
      store.params.set(randArray(store.length, 3));
      const N = 2, x = input(be, N * c.inFeatures, 4);
      checkLayer(be, c, store, x, N, `Conv2D ${name}`);
      expect(store.find('c.weight')!.shape).toEqual([opts.outChannels, shape[0] / opts.groups, opts.k, opts.k]);
      c.release();
    });
  }

  it('MaxPool2D backward matches finite differences (2x2, and 3x3/s2p1) (maxpool)', () => {
    for (const [shape, opts] of [[[2, 6, 6], { k: 2, stride: 2, pad: 0 }], [[3, 7, 5], { k: 3, stride: 2, pad: 1 }]] as const) {
      const p = new MaxPool2D(be, shape, opts);
      // Distinct values, far apart: no ties for the max, and a step of eps never changes the winner.
      const n = 2 * p.inFeatures, x = be.alloc(n);
      const perm = Array.from({ length: n }, (_, i) => i).sort((a, b) => Math.sin(a * 12.9898) - Math.sin(b * 12.9898));
      perm.forEach((v, i) => { x[i] = v * 0.1; });
      checkLayer(be, p, null, x, 2, `MaxPool2D k${opts.k}`);
      p.release();
    }
  });

  it('AvgPool2D and GlobalAvgPool backward match finite differences (avgpool, gap pool)', () => {
    const a = new AvgPool2D(be, [3, 6, 5], { k: 3, stride: 2, pad: 1 });
    checkLayer(be, a, null, input(be, 2 * a.inFeatures, 6), 2, 'AvgPool2D');
    const g = new GlobalAvgPool(be, [4, 3, 5]);
    expect(g.outShape).toEqual([4]);
    checkLayer(be, g, null, input(be, 3 * g.inFeatures, 7), 3, 'GlobalAvgPool');
    a.release();
    g.release();
  });

  for (const shape of [[3, 4, 5], [5]]) {
    it(`BatchNorm (train mode) on [${shape}]: dx, dgamma, dbeta match finite differences (batchnorm)`, () => {
      const store = new ParamStore(), buffers = new BufferStore();
      const bn = new BatchNorm(be, store, buffers, shape, 'bn');
      store.allocate(be);
      buffers.allocate(be);
      store.params.set(randArray(store.length, 8));
      const N = 4, x = input(be, N * bn.inFeatures, 9, 2);
      checkLayer(be, bn, store, x, N, `BatchNorm [${shape}]`, 3e-3);
      bn.release();
    });
  }

  it('a small CNN (conv, bn, relu, maxpool, depthwise conv, avgpool, flatten, dense) matches finite differences end to end (conv pool batchnorm)', () => {
    const m = new Sequential(be, { input: [2, 8, 8], layers: ['conv:4x3', 'bn', 'relu', 'maxpool:2', 'dwconv:3/s1', 'gelu', 'avgpool:2', 'flatten', 'dense:3'] }, 5).train();
    const N = 3, K = 3, x = input(be, N * m.inputs, 10);
    const labels = be.allocInt32(N);
    labels.set(randLabels(N, K, 11));
    const dz = be.alloc(N * K), scratch = be.alloc(N * K);
    const loss = () => be.cross_entropy(scratch, m.forward(x, N), labels, N, K, 1, false);
    be.cross_entropy(dz, m.forward(x, N), labels, N, K, 1, false);
    m.zeroGrads();
    m.backward(dz);
    const g = m.store.grads.slice();
    for (const s of m.store.specs) {
      for (let i = s.offset; i < s.offset + s.size; i += Math.max(1, Math.floor(s.size / 7))) expectClose(g[i], fd(loss, m.store.params, i, 5e-3), `CNN d${s.name}[${i - s.offset}]`, 3e-2, 3e-3);
    }
    m.release();
  });
});

describe('batchnorm semantics (js)', () => {
  const be = backends.find((b) => b.name === 'js') ?? backends[0];

  it('train mode: batch statistics, running mean/var updated with momentum 0.1 and the unbiased variance (batchnorm)', () => {
    const store = new ParamStore(), buffers = new BufferStore();
    const bn = new BatchNorm(be, store, buffers, [2, 1, 2], 'bn');
    store.allocate(be);
    buffers.allocate(be);
    store.view(bn.weight).set([2, 1]);
    store.view(bn.bias).set([0.5, 0]);
    // N=2, C=2, HW=2: channel 0 holds 1,2 (n0) and 3,6 (n1); channel 1 holds 0,0 and 4,4.
    const x = be.alloc(8);
    x.set([1, 2, 0, 0, 3, 6, 4, 4]);
    const y = bn.forward(x, 2, true).slice();
    // Channel 0: mean 3, biased var (4+1+0+9)/4 = 3.5, unbiased 14/3. Channel 1: mean 2, var 4, unbiased 16/3.
    const i0 = 1 / Math.sqrt(3.5 + 1e-5), i1 = 1 / Math.sqrt(4 + 1e-5);
    const want = [(1 - 3) * i0 * 2 + 0.5, (2 - 3) * i0 * 2 + 0.5, -2 * i1, -2 * i1, 0 * i0 * 2 + 0.5, 3 * i0 * 2 + 0.5, 2 * i1, 2 * i1];
    want.forEach((w, i) => expect(y[i]).toBeCloseTo(w, 5));
    expect(Array.from(buffers.view(bn.runningMean))).toEqual([0.1 * 3, 0.1 * 2].map(Math.fround));
    const rv = Array.from(buffers.view(bn.runningVar));
    expect(rv[0]).toBeCloseTo(0.9 + 0.1 * 14 / 3, 6);
    expect(rv[1]).toBeCloseTo(0.9 + 0.1 * 16 / 3, 6);
    // A second step compounds: rm = 0.9·rm + 0.1·mean.
    bn.forward(x, 2, true);
    expect(buffers.view(bn.runningMean)[0]).toBeCloseTo(0.9 * 0.3 + 0.3, 6);

    // Eval mode: the running statistics, and they do not change.
    const before = buffers.data.slice();
    const ye = bn.forward(x, 2, false).slice();
    const rm0 = buffers.view(bn.runningMean)[0], rv0 = buffers.view(bn.runningVar)[0];
    expect(ye[0]).toBeCloseTo((1 - rm0) / Math.sqrt(rv0 + 1e-5) * 2 + 0.5, 5);
    expect(buffers.data).toEqual(before);
    // Eval-mode backward: dx = dy·gamma·invstd (statistics constant).
    const dy = be.alloc(8).fill(1);
    const dx = bn.backward(dy, 2, true)!;
    expect(dx[0]).toBeCloseTo(2 / Math.sqrt(rv0 + 1e-5), 5);
    bn.release();
  });

  it('a Sequential with bn: init gamma 1 beta 0, running mean 0 var 1; eval() uses the running statistics (batchnorm)', () => {
    const m = new Sequential(be, { input: [1, 4, 4], layers: ['conv:2x3', 'bn', 'relu', 'flatten', 'dense:2'] }, 1);
    expect(m.buffers.specs.map((s) => s.name)).toEqual(['layers.1.running_mean', 'layers.1.running_var']);
    expect(Array.from(m.store.view(m.store.find('layers.1.weight')!))).toEqual([1, 1]);
    expect(Array.from(m.store.view(m.store.find('layers.1.bias')!))).toEqual([0, 0]);
    expect(Array.from(m.buffers.data.subarray(0, 2))).toEqual([0, 0]);
    expect(Array.from(m.buffers.view(m.buffers.find('layers.1.running_var')!))).toEqual([1, 1]);
    const x = input(be, 5 * 16, 3);
    // One sample in eval mode gives the same output alone or in a batch; in train mode it does not.
    const alone = m.eval().forward(x, 1).slice(0, 2);
    const batch = m.forward(x, 5).slice(0, 2);
    expect(Array.from(batch)).toEqual(Array.from(alone));
    const trained = m.train().forward(x, 5).slice(0, 2);
    expect(Array.from(trained)).not.toEqual(Array.from(alone));
    m.release();
  });

  it('BatchNormSync: two shards that combine statistics and gradient sums give the whole batch\'s output and dx within 1e-5 (batchnorm)', () => {
    const shape = [3, 2, 3], N = 6, half = 3, C = 3, HW = 6, F = 18;
    const mk = () => {
      const store = new ParamStore(), buffers = new BufferStore();
      const bn = new BatchNorm(be, store, buffers, shape, 'bn');
      store.allocate(be);
      buffers.allocate(be);
      store.params.set(randArray(store.length, 21));
      return { bn, store, buffers };
    };
    const x = input(be, N * F, 22, 2), dy = input(be, N * F, 23);
    const whole = mk();
    const yAll = whole.bn.forward(x, N, true).slice();
    const dxAll = whole.bn.backward(dy, N, true)!.slice();

    // Shard A = the first half; the hook brings in shard B (the second half) as another worker would.
    const xB = x.subarray(half * F), dyB = dy.subarray(half * F);
    const meanB = be.alloc(C), m2B = be.alloc(C);
    be.batchnorm_stats(meanB, m2B, xB, N - half, C, HW);
    let gMean = new Float32Array(C), gInv = new Float32Array(C);
    const sync: BatchNormSync = {
      stats(count, mean, m2) {
        const nB = (N - half) * HW, n = count + nB;
        for (let c = 0; c < C; c++) {
          const d = meanB[c] - mean[c];
          const mu = mean[c] + (d * nB) / n;
          m2[c] = m2[c] + m2B[c] + (d * d * count * nB) / n;
          mean[c] = mu;
        }
        gMean = Float32Array.from(mean);
        gInv = Float32Array.from(m2, (v) => 1 / Math.sqrt(v / n + 1e-5));
        return n;
      },
      grads(sumDy, sumDyXhat) {
        const sB = be.alloc(C), sxB = be.alloc(C), mu = be.alloc(C), inv = be.alloc(C);
        mu.set(gMean);
        inv.set(gInv);
        be.batchnorm_backward_reduce(sB, sxB, dyB, xB, mu, inv, N - half, C, HW);
        for (let c = 0; c < C; c++) { sumDy[c] += sB[c]; sumDyXhat[c] += sxB[c]; }
      },
    };
    const a = mk();
    a.bn.sync = sync;
    const yA = a.bn.forward(x.subarray(0, half * F), half, true);
    const dxA = a.bn.backward(dy.subarray(0, half * F), half, true)!;
    for (let i = 0; i < half * F; i++) {
      expect(Math.abs(yA[i] - yAll[i])).toBeLessThan(1e-5);
      expect(Math.abs(dxA[i] - dxAll[i])).toBeLessThan(1e-5);
    }
    // Running statistics: the whole batch's, also from the shard.
    for (let i = 0; i < 2 * C; i++) expect(Math.abs(a.buffers.data[i] - whole.buffers.data[i])).toBeLessThan(1e-5);
    // gamma/beta gradients are the shard's own sums (the trainer adds the shards' slots).
    const gB = whole.store.grads.slice();
    expect(Array.from(a.store.grads).some((v, i) => Math.abs(v - gB[i]) > 1e-4)).toBe(true);
  });
});
