// Finite-difference gradient checks of every backward (Dense, ReLU, GELU, CE, KD, MSE, a whole
// model) on every backend, and the closed form d[T²·KL(p_t‖p_s)]/dz_s = T·(p_s − p_t).

import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backends/index.js';
import { Dense, GELU, ReLU, type Layer } from '../src/nn/layers.js';
import { ParamStore } from '../src/nn/params.js';
import { Sequential } from '../src/nn/sequential.js';
import { kdObjective } from '../src/distill/objectives.js';
import * as ref from '../src/kernels/reference.js';
import { backendsUnderTest, randArray, randLabels, fd } from './util.js';

const { backends } = await backendsUnderTest();


function expectClose(analytic: number, numeric: number, what: string, rtol = 2e-2, atol = 2e-3): void {
  expect(Math.abs(analytic - numeric), `${what}: analytic ${analytic} vs numeric ${numeric}`).toBeLessThanOrEqual(atol + rtol * Math.abs(numeric));
}

/** Checks a layer: L = Σ y·r, so dL/dy = r. */
function checkLayer(be: Backend, layer: Layer, store: ParamStore | null, x: Float32Array, N: number, what: string): void {
  const r = randArray(N * layer.outFeatures, 99);
  const loss = () => {
    const y = layer.forward(x, N, true);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * r[i];
    return s;
  };
  loss();
  store?.zeroGrads();
  const dy = be.alloc(r.length);
  dy.set(r);
  const dx = layer.backward(dy, N, true)!.slice();
  const g = store ? store.grads.slice() : null;
  for (let i = 0; i < x.length; i += Math.max(1, Math.floor(x.length / 17))) expectClose(dx[i], fd(loss, x, i, 1e-2), `${what} dx[${i}]`);
  if (store && g) for (let i = 0; i < store.count; i += Math.max(1, Math.floor(store.count / 23))) expectClose(g[i], fd(loss, store.params, i, 1e-2), `${what} dparam[${i}]`);
}

describe.each(backends.map((b) => [b.name, b]))('%s', (_n, be) => {
  it('Dense backward (dW, db, dx) matches finite differences', () => {
    const store = new ParamStore();
    const d = new Dense(be, store, 7, 5, 'd');
    store.allocate(be);
    store.params.set(randArray(store.length, 3));
    const x = be.alloc(3 * 7);
    x.set(randArray(21, 4));
    checkLayer(be, d, store, x, 3, 'Dense');
  });

  it('ReLU and GELU backward match finite differences', () => {
    for (const L of [ReLU, GELU]) {
      const layer = new L(be, 9);
      const x = be.alloc(4 * 9);
      const src = randArray(36, 5, 3);
      for (let i = 0; i < src.length; i++) if (Math.abs(src[i]) < 0.1) src[i] += 0.3; // away from ReLU's kink
      x.set(src);
      checkLayer(be, layer, null, x, 4, L.name);
    }
  });

  it('cross-entropy, KD and MSE gradients match finite differences', () => {
    const N = 4, K = 6;
    const s = be.alloc(N * K), t = be.alloc(N * K), d = be.alloc(N * K);
    s.set(randArray(N * K, 7, 3)); t.set(randArray(N * K, 8, 3));
    const y = be.allocInt32(N);
    y.set(randLabels(N, K, 9));
    const scratch = be.alloc(N * K);
    for (const T of [0.5, 1, 4, 20]) {
      const f = () => be.kd_loss(scratch, s, t, N, K, T, 0.9, true, false);
      be.kd_loss(d, s, t, N, K, T, 0.9, true, false);
      const g = d.slice();
      for (let i = 0; i < N * K; i++) expectClose(g[i], fd(f, s, i, 1e-2 * Math.min(1, T)), `kd_loss T=${T} ds[${i}]`);
    }
    const ce = () => be.cross_entropy(scratch, s, y, N, K, 1, false);
    be.cross_entropy(d, s, y, N, K, 1, false);
    const gce = d.slice();
    for (let i = 0; i < N * K; i++) expectClose(gce[i], fd(ce, s, i, 1e-2), `cross_entropy dz[${i}]`);
    const m = () => be.mse(scratch, s, t, N * K, 1, false);
    be.mse(d, s, t, N * K, 1, false);
    const gm = d.slice();
    for (let i = 0; i < N * K; i++) expectClose(gm[i], fd(m, s, i, 1e-2), `mse dpred[${i}]`);
  });

  it('KD gradient has the closed form T·(p_s − p_t) per sample (T² scaling, alpha 1)', () => {
    const N = 5, K = 10;
    const s = randArray(N * K, 11, 5), t = randArray(N * K, 12, 5);
    for (const T of [0.5, 1, 4, 20]) {
      const d = be.alloc(N * K);
      be.kd_loss(d, s, t, N, K, T, 1, true, false);
      const ps = new Float32Array(N * K), pt = new Float32Array(N * K);
      ref.softmax_t(ps, s, N, K, T);
      ref.softmax_t(pt, t, N, K, T);
      for (let i = 0; i < N * K; i++) expect(Math.abs(d[i] * N - T * (ps[i] - pt[i])), `T=${T} i=${i}`).toBeLessThan(1e-5 * Math.max(1, T));
    }
  });

  it('whole model (Dense-GELU-Dense-GELU-Dense) under the KD+CE objective matches finite differences', () => {
    const N = 3;
    const model = new Sequential(be, { layers: [6, 8, 7, 4], activation: 'gelu' }, 5);
    const x = be.alloc(N * 6);
    x.set(randArray(N * 6, 13));
    const t = be.alloc(N * 4);
    t.set(randArray(N * 4, 14, 3));
    const y = be.allocInt32(N);
    y.set(randLabels(N, 4, 15));
    const d = be.alloc(N * 4);
    const kd = { T: 2, alpha: 0.7, scaleT2: true };
    const loss = () => kdObjective(be, d, model.forward(x, N), t, y, N, 4, kd).loss;
    loss();
    model.zeroGrads();
    model.backward(d);
    const g = model.store.grads.slice();
    for (const spec of model.store.specs) {
      for (let j = 0; j < spec.size; j += Math.max(1, Math.floor(spec.size / 7))) {
        const i = spec.offset + j;
        expectClose(g[i], fd(loss, model.store.params, i, 1e-2), `${spec.name}[${j}]`);
      }
    }
    // backward(…, accumulate = false) overwrites stale gradients with the same values.
    loss();
    model.store.grads.fill(123);
    model.backward(d, false);
    for (const spec of model.store.specs) {
      for (let j = 0; j < spec.size; j++) expect(model.store.grads[spec.offset + j]).toBeCloseTo(g[spec.offset + j], 5);
    }
  });
});
