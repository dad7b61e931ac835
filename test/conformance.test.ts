// The conformance suite: every kernel on every registered backend against the TS reference.
// Written once; a backend joins by registering in src/backends/index.ts.

import { describe, expect, it } from 'vitest';
import * as ref from '../src/kernels/reference.js';
import { KERNEL_NAMES } from '../src/kernels/signatures.js';
import { backendsUnderTest, normErr, put, putInt, randArray, randLabels } from './util.js';

const { backends, missing } = await backendsUnderTest();

it('every required backend loads', () => {
  expect(missing).toEqual([]);
});

it('every backend implements every kernel', () => {
  for (const be of backends) for (const k of KERNEL_NAMES) expect(typeof be[k], `${be.name}.${k}`).toBe('function');
});

const MATMUL_SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 5, 7], [17, 13, 33], [0, 5, 3], [5, 0, 3], [4, 3, 0],
  [31, 45, 67], [64, 80, 100], [9, 10, 257], [130, 10, 129], [33, 129, 65],
  [300, 41, 800], [151, 530, 811],
];
const TEMPS = [0.5, 1, 4, 20];
const ROWS = [0, 1, 3, 13];
const CLASSES = [1, 3, 10, 17];
const SIZES = [0, 1, 3, 7, 15, 17, 33, 100, 1023];

describe.each(backends.map((b) => [b.name, b]))('%s', (_name, be) => {
  for (const owned of [true, false]) {
    const tag = owned ? 'backend buffers' : 'foreign buffers';

    it(`matmul, all transposes, accumulate (${tag})`, () => {
      let seed = 1;
      for (const [M, N, K] of MATMUL_SHAPES) {
        for (const transA of [false, true]) for (const transB of [false, true]) for (const acc of [false, true]) {
          const A = randArray(M * K, seed++);
          const B = randArray(K * N, seed++);
          const C0 = randArray(M * N, seed++);
          const want = C0.slice();
          ref.matmul(want, A, B, M, N, K, transA, transB, acc);
          const C = put(be, C0, owned);
          be.matmul(C, put(be, A, owned), put(be, B, owned), M, N, K, transA, transB, acc);
          expect(normErr(C, want), `M=${M} N=${N} K=${K} tA=${transA} tB=${transB} acc=${acc}`).toBeLessThan(1e-5 * Math.max(1, Math.sqrt(K)));
        }
      }
    });

    it(`bias_add and bias_grad (${tag})`, () => {
      for (const [N, OC] of [[0, 4], [1, 1], [5, 7], [13, 33], [128, 10]]) {
        const y0 = randArray(N * OC, 11), b = randArray(OC, 12);
        const want = y0.slice();
        ref.bias_add(want, b, N, OC);
        const y = put(be, y0, owned);
        be.bias_add(y, put(be, b, owned), N, OC);
        expect(normErr(y, want), `bias_add N=${N} OC=${OC}`).toBeLessThan(1e-6);
        for (const acc of [false, true]) {
          const db0 = randArray(OC, 13);
          const wantDb = db0.slice();
          ref.bias_grad(wantDb, y0, N, OC, acc);
          const db = put(be, db0, owned);
          be.bias_grad(db, put(be, y0, owned), N, OC, acc);
          expect(normErr(db, wantDb), `bias_grad N=${N} OC=${OC} acc=${acc}`).toBeLessThan(1e-5);
        }
      }
    });

    it(`relu, gelu and their backwards, including in place (${tag})`, () => {
      for (const n of SIZES) {
        const x = randArray(n, 21, 4), dy = randArray(n, 22);
        for (const [fwd, bwd] of [['relu', 'relu_backward'], ['gelu', 'gelu_backward']] as const) {
          const want = new Float32Array(n);
          ref[fwd](want, x, n);
          const out = put(be, new Float32Array(n), owned);
          be[fwd](out, put(be, x, owned), n);
          expect(normErr(out, want), `${fwd} n=${n}`).toBeLessThan(1e-5);
          const inplace = put(be, x, owned);
          be[fwd](inplace, inplace, n);
          expect(normErr(inplace, want), `${fwd} in place n=${n}`).toBeLessThan(1e-5);

          const wantD = new Float32Array(n);
          ref[bwd](wantD, dy, x, n);
          const d = put(be, new Float32Array(n), owned);
          be[bwd](d, put(be, dy, owned), put(be, x, owned), n);
          expect(normErr(d, wantD), `${bwd} n=${n}`).toBeLessThan(1e-5);
          const dIn = put(be, dy, owned);
          be[bwd](dIn, dIn, put(be, x, owned), n);
          expect(normErr(dIn, wantD), `${bwd} in place n=${n}`).toBeLessThan(1e-5);
        }
      }
    });

    it(`softmax_t and log_softmax_t with logits of ±100 (${tag})`, () => {
      for (const N of ROWS) for (const K of CLASSES) for (const T of TEMPS) for (const scale of [1, 100]) {
        const z = randArray(N * K, N * 31 + K, scale);
        if (N * K > 0 && scale === 100) { z[0] = 100; z[N * K - 1] = -100; }
        for (const k of ['softmax_t', 'log_softmax_t'] as const) {
          const want = new Float32Array(N * K);
          ref[k](want, z, N, K, T);
          const out = put(be, new Float32Array(N * K), owned);
          be[k](out, put(be, z, owned), N, K, T);
          expect(normErr(out, want), `${k} N=${N} K=${K} T=${T} scale=${scale}`).toBeLessThan(1e-5);
          for (const v of out) expect(Number.isFinite(v), `${k} finite`).toBe(true);
        }
      }
    });

    it(`kd_loss: loss and gradient, T in {0.5,1,4,20}, logits of ±100 (${tag})`, () => {
      for (const N of ROWS) for (const K of CLASSES) for (const T of TEMPS) for (const scale of [1, 100]) for (const scaleT2 of [true, false]) for (const acc of [false, true]) {
        const s = randArray(N * K, 41 + N + K, scale), t = randArray(N * K, 42 + N * K, scale);
        const d0 = randArray(N * K, 43);
        const want = d0.slice();
        const wantLoss = ref.kd_loss(want, s, t, N, K, T, 0.9, scaleT2, acc);
        const d = put(be, d0, owned);
        const loss = be.kd_loss(d, put(be, s, owned), put(be, t, owned), N, K, T, 0.9, scaleT2, acc);
        const what = `N=${N} K=${K} T=${T} scale=${scale} t2=${scaleT2} acc=${acc}`;
        expect(Number.isFinite(loss), `kd loss finite ${what}`).toBe(true);
        expect(Math.abs(loss - wantLoss) / Math.max(1, Math.abs(wantLoss)), `kd loss ${what}`).toBeLessThan(1e-4);
        expect(normErr(d, want), `kd grad ${what}`).toBeLessThan(1e-5);
      }
    });

    it(`cross_entropy: loss and gradient (${tag})`, () => {
      for (const N of ROWS) for (const K of CLASSES) for (const scale of [1, 100]) for (const acc of [false, true]) {
        const z = randArray(N * K, 51 + N + K, scale), y = randLabels(N, K, 52 + N);
        const d0 = randArray(N * K, 53);
        const want = d0.slice();
        const wantLoss = ref.cross_entropy(want, z, y, N, K, 0.3, acc);
        const d = put(be, d0, owned);
        const loss = be.cross_entropy(d, put(be, z, owned), putInt(be, y, owned), N, K, 0.3, acc);
        const what = `N=${N} K=${K} scale=${scale} acc=${acc}`;
        expect(Math.abs(loss - wantLoss) / Math.max(1, Math.abs(wantLoss)), `ce loss ${what}`).toBeLessThan(1e-4);
        expect(normErr(d, want), `ce grad ${what}`).toBeLessThan(1e-5);
      }
    });

    it(`mse: loss and gradient (${tag})`, () => {
      for (const n of SIZES) for (const acc of [false, true]) {
        const p = randArray(n, 61 + n, 3), t = randArray(n, 62 + n, 3), d0 = randArray(n, 63);
        const want = d0.slice();
        const wantLoss = ref.mse(want, p, t, n, 0.7, acc);
        const d = put(be, d0, owned);
        const loss = be.mse(d, put(be, p, owned), put(be, t, owned), n, 0.7, acc);
        expect(Math.abs(loss - wantLoss) / Math.max(1, Math.abs(wantLoss)), `mse loss n=${n}`).toBeLessThan(1e-4);
        expect(normErr(d, want), `mse grad n=${n} acc=${acc}`).toBeLessThan(1e-5);
      }
    });

    it(`sgd_step: plain, momentum, Nesterov, weight decay (${tag})`, () => {
      for (const n of SIZES) for (const hp of [
        { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
        { lr: 0.01, momentum: 0.9, weightDecay: 0, nesterov: false },
        { lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true },
      ]) {
        const p0 = randArray(n, 71 + n), g = randArray(n, 72 + n), m0 = randArray(n, 73 + n);
        const wp = p0.slice(), wm = m0.slice();
        const p = put(be, p0, owned), m = put(be, m0, owned), gb = put(be, g, owned);
        for (let step = 0; step < 3; step++) {
          ref.sgd_step(wp, g, wm, n, hp);
          be.sgd_step(p, gb, m, n, hp);
        }
        expect(normErr(p, wp), `sgd params n=${n} ${JSON.stringify(hp)}`).toBeLessThan(1e-6);
        expect(normErr(m, wm), `sgd momentum n=${n}`).toBeLessThan(1e-6);
      }
    });

    it(`adamw_step with bias correction and weight decay (${tag})`, () => {
      for (const n of SIZES) {
        const p0 = randArray(n, 81 + n), g = randArray(n, 82 + n);
        const wp = p0.slice(), wm = new Float32Array(n), wv = new Float32Array(n);
        const p = put(be, p0, owned), m = put(be, new Float32Array(n), owned), v = put(be, new Float32Array(n), owned), gb = put(be, g, owned);
        for (let step = 1; step <= 3; step++) {
          const hp = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step };
          ref.adamw_step(wp, g, wm, wv, n, hp);
          be.adamw_step(p, gb, m, v, n, hp);
        }
        expect(normErr(p, wp), `adamw params n=${n}`).toBeLessThan(1e-6);
        expect(normErr(m, wm), `adamw m n=${n}`).toBeLessThan(1e-6);
        expect(normErr(v, wv), `adamw v n=${n}`).toBeLessThan(1e-6);
      }
    });
  }
});
