// The wasm backends' memory model: two instances on one shared WebAssembly.Memory (disjoint
// arenas, interleaved kernels), views after memory.grow, foreign vs owned buffers, and an
// instance in a worker_thread running kernels over the main thread's buffers by offset.

import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import * as ref from '../src/kernels/reference.js';
import { compileWasm, createSharedMemory, instantiateWasmBackend, probeWasm, WASM_VARIANTS, type WasmVariant } from '../src/backends/wasm/index.js';
import { normErr, randArray } from './util.js';
import { BackendUnavailableError } from '../src/errors.js';
import { loadBackend } from '../src/backends/index.js';

const MiB = 1024 * 1024;
const available = WASM_VARIANTS.filter((v) => probeWasm(v) === null);
for (const v of WASM_VARIANTS) if (!available.includes(v)) console.warn(`[wasm-memory] skipping build ${v}: ${probeWasm(v)}`);

describe.each(available.map((v) => [v]))('wasm build %s', (variant: WasmVariant) => {
  it('two instances on one shared memory, disjoint arenas, interleaved kernels', async () => {
    const memory = createSharedMemory(4);
    const module = await compileWasm(variant);
    const a = await instantiateWasmBackend(variant, { module, memory, limit: 64 * MiB });
    const b = await instantiateWasmBackend(variant, { module, memory, base: 64 * MiB, limit: 128 * MiB });
    const [M, N, K] = [37, 45, 61];
    const A1 = randArray(M * K, 1), B1 = randArray(N * K, 2), A2 = randArray(K * M, 3), B2 = randArray(K * N, 4);
    const w1 = new Float32Array(M * N), w2 = new Float32Array(M * N);
    ref.matmul(w1, A1, B1, M, N, K, false, true, false);
    ref.matmul(w2, A2, B2, M, N, K, true, false, false);
    const put = (be: typeof a, x: Float32Array) => { const y = be.alloc(x.length); y.set(x); return y; };
    const a1 = put(a, A1), b1 = put(a, B1), c1 = a.alloc(M * N);
    const a2 = put(b, A2), b2 = put(b, B2), c2 = b.alloc(M * N);
    expect(a1.byteOffset).toBeLessThan(64 * MiB);
    expect(a2.byteOffset).toBeGreaterThanOrEqual(64 * MiB);
    for (let r = 0; r < 3; r++) {
      a.matmul(c1, a1, b1, M, N, K, false, true, false);
      b.matmul(c2, a2, b2, M, N, K, true, false, false);
      a.relu(c1, c1, M * N);
      b.softmax_t(c2, c2, M, N, 4);
    }
    const wr = w1.map((x) => (x > 0 ? x : 0));
    const ws = new Float32Array(M * N);
    ref.softmax_t(ws, w2, M, N, 4);
    expect(normErr(c1, wr)).toBeLessThan(1e-5);
    expect(normErr(c2, ws)).toBeLessThan(1e-5);
    // b's buffers are in a's memory: a uses them in place (no copy).
    expect(a.offsetOf(c2)).toBe(c2.byteOffset);
    const c3 = a.alloc(M * N);
    a.matmul(c3, a2, b2, M, N, K, true, false, false);
    expect(normErr(c3, w2)).toBeLessThan(1e-5);
  });

  it('views stay valid and are re-fetched after memory.grow', async () => {
    const be = await instantiateWasmBackend(variant);
    const x0 = randArray(1000, 7);
    const x = be.alloc(1000);
    x.set(x0);
    const bytesBefore = be.memory.buffer.byteLength;
    const big = be.alloc(24 * MiB / 4); // forces memory.grow
    expect(be.memory.buffer.byteLength).toBeGreaterThan(bytesBefore);
    big.fill(1);
    expect(normErr(x, x0)).toBe(0); // old view still reads the same memory
    expect(normErr(be.viewF32(x.byteOffset, 1000), x0)).toBe(0);
    const y = be.alloc(1000); // a view made after the grow
    be.relu(y, x, 1000);
    const want = new Float32Array(1000);
    ref.relu(want, x0, 1000);
    expect(normErr(y, want)).toBe(0);
    expect(be.offsetOf(y)).toBe(y.byteOffset);
    expect(be.offsetOf(new Float32Array(4))).toBe(-1);
    // A buffer past the old end, used with one from before the grow.
    const g = be.alloc(1000);
    be.relu_backward(g, x, x, 1000);
    expect(normErr(g, want)).toBe(0);
    be.free(big);
    be.free(y);
    const z = be.alloc(1000); // reuses freed space, zero-filled
    expect(z.every((v) => v === 0)).toBe(true);
  });

  it('alloc/free reuse space and matmul scratch does not leak', async () => {
    const be = await instantiateWasmBackend(variant);
    const bufs = Array.from({ length: 50 }, (_, i) => be.alloc(1000 + i));
    const end = be.arena.end;
    for (const b of bufs) be.free(b);
    for (let i = 0; i < 50; i++) be.free(be.alloc(1000 + i));
    expect(be.arena.end).toBeLessThanOrEqual(end);
    const A = randArray(64 * 80, 1), B = randArray(80 * 70, 2), C = new Float32Array(64 * 70);
    be.matmul(C, A, B, 64, 70, 80, false, false, false); // foreign: copied through scratch
    const used = be.arena.used; // the matmul workspace is kept, the copies are freed
    for (let i = 0; i < 5; i++) be.matmul(C, A, B, 64, 70, 80, false, false, false);
    expect(be.arena.used).toBe(used);
    const want = new Float32Array(64 * 70);
    ref.matmul(want, A, B, 64, 70, 80, false, false, false);
    expect(normErr(C, want)).toBeLessThan(1e-5);
  });
});

describe.runIf(available.includes('simd'))('wasm-simd in a worker_thread on the shared memory', () => {
  it('runs a kernel over the main thread\'s buffers by offset while the main thread computes', async () => {
    const memory = createSharedMemory(4);
    const module = await compileWasm('simd');
    const main = await instantiateWasmBackend('simd', { module, memory, limit: 64 * MiB });
    const [M, N, K] = [64, 96, 200];
    const A0 = randArray(M * K, 11), B0 = randArray(N * K, 12);
    const A = main.alloc(M * K), B = main.alloc(N * K), C = main.alloc(M * N);
    A.set(A0); B.set(B0);
    const url = pathToFileURL(resolve('dist/backends/wasm/index.js')).href;
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(url)}).then(({ createWasmBackend }) => {
        const { module, memory, a, b, c, M, N, K } = workerData;
        const be = createWasmBackend('simd', { module, memory, base: 64 * 1024 * 1024, limit: 128 * 1024 * 1024 });
        const C = be.viewF32(c, M * N);
        be.matmul(C, be.viewF32(a, M * K), be.viewF32(b, N * K), M, N, K, false, true, false);
        be.relu(C, C, M * N);
        parentPort.postMessage({ ok: true, base: be.arena.base });
      }).catch((e) => parentPort.postMessage({ ok: false, error: String(e && e.stack || e) }));`;
    const worker = new Worker(code, { eval: true, workerData: { module, memory, a: A.byteOffset, b: B.byteOffset, c: C.byteOffset, M, N, K } });
    // Main thread works in its own arena meanwhile.
    const D = main.alloc(M * N);
    main.matmul(D, A, B, M, N, K, false, true, false);
    const msg = await new Promise<{ ok: boolean; error?: string }>((res, rej) => { worker.once('message', res); worker.once('error', rej); });
    await worker.terminate();
    expect(msg.error).toBeUndefined();
    const want = new Float32Array(M * N);
    ref.matmul(want, A0, B0, M, N, K, false, true, false);
    expect(normErr(D, want)).toBeLessThan(1e-5);
    expect(normErr(C, want.map((x) => (x > 0 ? x : 0)))).toBeLessThan(1e-5);
  });
});

describe('a wasm build that cannot load', () => {
  it('is reported as BackendUnavailableError naming the file, and the registry skips it', async () => {
    const old = process.env.DISTILLERY_WASM_DIR;
    process.env.DISTILLERY_WASM_DIR = '/nonexistent-distillery-wasm';
    try {
      await expect(instantiateWasmBackend('scalar')).rejects.toThrow(BackendUnavailableError);
      await expect(loadBackend('wasm')).rejects.toThrow(/backend 'wasm' is unavailable: cannot read \/nonexistent-distillery-wasm\/scalar\.wasm/);
    } finally {
      if (old === undefined) delete process.env.DISTILLERY_WASM_DIR;
      else process.env.DISTILLERY_WASM_DIR = old;
    }
    expect((await loadBackend('wasm')).name).toBe('wasm');
  });
});
