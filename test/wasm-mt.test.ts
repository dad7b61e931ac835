// The threaded wasm backends (wasm-simd-mt, wasm-relaxed-mt): matmul split by columns, conv2d and
// its backward data pass split by images, its backward weight pass by columns of dw, and the
// optimizer steps split by range over helper threads give bitwise what the one-thread build
// gives (and the split really runs on the helpers); a training run is bit-identical; a helper
// that dies or a disposed backend fails the next call with a clear error; one core is refused.
// (The conformance suite runs them against the TS reference like every backend.)

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { createWasmMtBackend, type WasmBackend } from '../src/backends/wasm/index.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { BackendUnavailableError, WorkerFailure } from '../src/errors.js';
import { convOut, type ConvParams } from '../src/kernels/signatures.js';
import { Sequential } from '../src/nn/sequential.js';
import { blobs, put, randArray } from './util.js';

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const multi = availableParallelism() >= 2;

describe.skipIf(!multi).each([['simd'], ['relaxed']] as const)('wasm-%s-mt', (variant) => {
  it('matmul: bitwise the same C as the one-thread build, every transpose, split over the helpers', async () => {
    const mt = (await loadBackend(`wasm-${variant}-mt`)) as WasmBackend;
    const one = await loadBackend(`wasm-${variant}`);
    expect(mt.threads).toBe(availableParallelism());
    expect(mt.maxWorkers).toBe(1);
    const pool = mt.threadPool!;
    let seed = 3, splits = 0;
    for (const [M, N, K] of [[128, 800, 784], [800, 784, 128], [64, 1200, 97], [37, 2001, 33], [300, 41, 800], [128, 10, 800]]) {
      for (const tA of [false, true]) for (const tB of [false, true]) for (const acc of [false, true]) {
        const A = randArray(M * K, seed++), B = randArray(K * N, seed++), C0 = randArray(M * N, seed++);
        const want = put(one, C0, true);
        one.matmul(want, put(one, A, true), put(one, B, true), M, N, K, tA, tB, acc);
        for (const owned of [true, false]) {
          const before = pool.splits;
          const C = put(mt, C0, owned);
          mt.matmul(C, put(mt, A, owned), put(mt, B, owned), M, N, K, tA, tB, acc);
          expect(same(C, want), `${M}x${N}x${K} tA=${tA} tB=${tB} acc=${acc} owned=${owned}`).toBe(true);
          // (128,10,800) has 10 columns: too narrow to split, it runs on this thread
          expect(pool.splits - before, `${M}x${N}x${K} split`).toBe(N >= 16 ? 1 : 0);
          splits += pool.splits - before;
        }
      }
    }
    expect(splits).toBe(5 * 8 * 2);
    mt.dispose();
  });

  it('sgd_step and adamw_step: bitwise the same as one thread, split by range', async () => {
    const mt = (await loadBackend(`wasm-${variant}-mt`)) as WasmBackend;
    const one = await loadBackend(`wasm-${variant}`);
    const n = 300_001; // above the split threshold, odd to leave a tail
    const p0 = randArray(n, 1), g = randArray(n, 2), m0 = randArray(n, 3), v0 = randArray(n, 4).map(Math.abs);
    for (const hp of [{ lr: 0.05, momentum: 0.9, weightDecay: 0, nesterov: false }, { lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true }]) {
      const [p1, b1] = [put(one, p0, true), put(one, m0, true)];
      one.sgd_step(p1, put(one, g, true), b1, n, hp);
      const before = mt.threadPool!.splits;
      const [p2, b2] = [put(mt, p0, true), put(mt, m0, true)];
      mt.sgd_step(p2, put(mt, g, true), b2, n, hp);
      expect(mt.threadPool!.splits - before).toBe(1);
      expect(same(p2, p1) && same(b2, b1), JSON.stringify(hp)).toBe(true);
    }
    const hp = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 };
    const [p1, m1, v1] = [put(one, p0, true), put(one, m0, true), put(one, v0, true)];
    one.adamw_step(p1, put(one, g, true), m1, v1, n, hp);
    const [p2, m2, v2] = [put(mt, p0, false), put(mt, m0, false), put(mt, v0, false)];
    mt.adamw_step(p2, put(mt, g, false), m2, v2, n, hp);
    expect(same(p2, p1) && same(m2, m1) && same(v2, v1)).toBe(true);
    mt.dispose();
  });

  it('conv2d, backward data and backward weight: bitwise the same as one thread, split over the helpers', async () => {
    const mt = (await loadBackend(`wasm-${variant}-mt`)) as WasmBackend;
    const one = await loadBackend(`wasm-${variant}`);
    const pool = mt.threadPool!;
    let seed = 11;
    // workload C's student conv2; an odd batch (uneven image split) with stride 2 and 5×5; grouped;
    // a column count (C/groups·k·k = 27·9) that is not a multiple of 8 (uneven dw column split)
    const shapes: ConvParams[] = [
      { N: 8, C: 16, H: 14, W: 14, OC: 32, k: 3, stride: 1, pad: 1, groups: 1 },
      { N: 7, C: 12, H: 17, W: 15, OC: 20, k: 5, stride: 2, pad: 2, groups: 1 },
      { N: 5, C: 16, H: 12, W: 12, OC: 24, k: 3, stride: 1, pad: 1, groups: 2 },
      { N: 3, C: 27, H: 16, W: 16, OC: 36, k: 3, stride: 1, pad: 0, groups: 1 },
    ];
    for (const p of shapes) {
      const [OH, OW] = convOut(p);
      const nx = p.N * p.C * p.H * p.W, ny = p.N * p.OC * OH * OW, nw = (p.OC * p.C * p.k * p.k) / p.groups;
      const X = randArray(nx, seed++), Wt = randArray(nw, seed++), B = randArray(p.OC, seed++), DY = randArray(ny, seed++), DW0 = randArray(nw, seed++);
      const what = JSON.stringify(p);
      for (const owned of [true, false]) {
        const y1 = one.alloc(ny), y2 = put(mt, new Float32Array(ny), owned);
        one.conv2d(y1, put(one, X, true), put(one, Wt, true), put(one, B, true), p);
        let before = pool.splits;
        mt.conv2d(y2, put(mt, X, owned), put(mt, Wt, owned), put(mt, B, owned), p);
        expect(pool.splits - before, `conv2d split ${what}`).toBe(1);
        expect(same(y2, y1), `conv2d ${what} owned=${owned}`).toBe(true);

        const dx1 = one.alloc(nx), dx2 = put(mt, new Float32Array(nx), owned);
        one.conv2d_backward_data(dx1, put(one, DY, true), put(one, Wt, true), p);
        before = pool.splits;
        mt.conv2d_backward_data(dx2, put(mt, DY, owned), put(mt, Wt, owned), p);
        expect(pool.splits - before, `conv2d_backward_data split ${what}`).toBe(1);
        expect(same(dx2, dx1), `conv2d_backward_data ${what} owned=${owned}`).toBe(true);

        for (const acc of [false, true]) {
          const dw1 = put(one, DW0, true), db1 = put(one, B, true), dw2 = put(mt, DW0, owned), db2 = put(mt, B, owned);
          one.conv2d_backward_weight(dw1, db1, put(one, DY, true), put(one, X, true), p, acc);
          before = pool.splits;
          mt.conv2d_backward_weight(dw2, db2, put(mt, DY, owned), put(mt, X, owned), p, acc);
          expect(pool.splits - before, `conv2d_backward_weight split ${what}`).toBe(1);
          expect(same(dw2, dw1) && same(db2, db1), `conv2d_backward_weight ${what} acc=${acc} owned=${owned}`).toBe(true);
        }
      }
    }
    mt.dispose();
  });

  it('a training run gives bit-identical weights to the one-thread build', async () => {
    const data = blobs(300, 40, 5, 2);
    const cfg: TrainConfig = {
      epochs: 2, batchSize: 64, seed: 5, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'constant' },
      kd: { T: 3, alpha: 0.7 }, teacherMode: 'online', workers: 1,
    };
    const weights: Float32Array[] = [];
    for (const name of [`wasm-${variant}-mt`, `wasm-${variant}`]) {
      const be = await loadBackend(name);
      // wide enough layers that the matmuls are split: 64 x 256 x 512 multiply-adds and more
      const teacher = new Sequential(be, { layers: [40, 512, 5] }, 7);
      const m = new Sequential(be, { layers: [40, 256, 256, 5] }, 3);
      await train(m, data, null, cfg, {}, [{ model: teacher }]);
      weights.push(m.store.params.slice());
      if (name.endsWith('-mt')) expect((be as WasmBackend).threadPool!.splits).toBeGreaterThan(0);
      be.dispose?.();
    }
    expect(same(weights[0], weights[1])).toBe(true);
  });

  it('a helper that died fails the next call with a clear error; so does a disposed backend', async () => {
    const mt = await createWasmMtBackend(variant);
    const [M, N, K] = [64, 256, 256];
    const C = mt.alloc(M * N), A = mt.alloc(M * K), B = mt.alloc(K * N);
    mt.matmul(C, A, B, M, N, K, false, false, false);
    const helper = (mt.threadPool as unknown as { helpers: { worker: { terminate(): Promise<number> } }[] }).helpers[0].worker;
    await helper.terminate();
    await new Promise((r) => setTimeout(r, 50));
    expect(() => mt.matmul(C, A, B, M, N, K, false, false, false)).toThrow(WorkerFailure);
    expect(() => mt.matmul(C, A, B, M, N, K, false, false, false)).toThrow(/wasm-\w+-mt: helper thread 1 exited .*load the backend again/);
    // below the split threshold nothing is posted to the helpers: one thread still works
    const c = mt.alloc(4);
    mt.matmul(c, mt.alloc(4), mt.alloc(4), 2, 2, 2, false, false, false);
    mt.dispose();
    expect(() => mt.matmul(C, A, B, M, N, K, false, false, false)).toThrow(/after the backend was disposed/);
  });

  it('a helper that throws reports its message; the next calls still run', async () => {
    const mt = await createWasmMtBackend(variant);
    type Run = (T: number, op: number, what: string, post: () => void, mine: () => void) => void;
    const run = (mt.threadPool as unknown as { run: Run }).run.bind(mt.threadPool);
    expect(() => run(2, 77, 'a bogus operation', () => {}, () => {})).toThrow(WorkerFailure);
    expect(() => run(2, 77, 'a bogus operation', () => {}, () => {})).toThrow(/wasm-\w+-mt: helper thread 1 failed in a bogus operation: unknown operation 77/);
    const [M, N, K] = [64, 256, 256];
    const A = randArray(M * K, 1), B = randArray(K * N, 2);
    const C = mt.alloc(M * N);
    mt.matmul(C, put(mt, A, true), put(mt, B, true), M, N, K, false, false, false);
    const one = await loadBackend(`wasm-${variant}`);
    const want = one.alloc(M * N);
    one.matmul(want, put(one, A, true), put(one, B, true), M, N, K, false, false, false);
    expect(same(C, want)).toBe(true);
    mt.dispose();
  });

  it('refuses one thread', async () => {
    await expect(createWasmMtBackend(variant, 1)).rejects.toThrow(BackendUnavailableError);
    await expect(createWasmMtBackend(variant, 1)).rejects.toThrow(/needs 2 or more threads/);
  });
});
