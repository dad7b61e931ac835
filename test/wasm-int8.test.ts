// The wasm int8 kernels (assembly/quant.ts) on the paths the conformance cases do not reach:
// every register tile and tail of the u8×s8 GEMM (M mod 4, odd N, K around the 8/16-byte steps),
// saturation-prone operands (all 255 × −128 and × 127), column blocks of w and pixel blocks of
// the int8 im2col, quantize's 16-wide path with its tails, ties and non-finite inputs, and the
// -mt splits (which must really run on the helpers and give exactly the one-thread result).
// Ground truth is the TS reference (integers: compared exactly).

import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import type { Backend } from '../src/backends/backend.js';
import type { WasmBackend } from '../src/backends/wasm/index.js';
import { conv2d_int8, dequantize_int32, matmul_int8, quantize_int8 } from '../src/kernels/reference.js';
import { convOut, type ConvParams } from '../src/kernels/signatures.js';

/** Seeded integers in [lo, hi]. */
function ints(n: number, seed: number, lo: number, hi: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  });
}
const u8 = (n: number, seed: number, fill?: number) => Uint8Array.from(fill === undefined ? ints(n, seed, 0, 255) : new Array(n).fill(fill));
const i8 = (n: number, seed: number, fill?: number) => Int8Array.from(fill === undefined ? ints(n, seed, -128, 127) : new Array(n).fill(fill));

/** A copy of src on the backend (owned) or a plain array (foreign). */
function onU8(be: Backend, src: Uint8Array, owned: boolean): Uint8Array {
  if (!owned) return src.slice();
  const b = be.allocUint8(src.length);
  b.set(src);
  return b;
}
function onI8(be: Backend, src: Int8Array, owned: boolean): Int8Array {
  if (!owned) return src.slice();
  const b = be.allocInt8(src.length);
  b.set(src);
  return b;
}
function outI32(be: Backend, n: number, owned: boolean): Int32Array {
  const b = owned ? be.allocInt32(n) : new Int32Array(n);
  b.fill(0x5a5a5a5a); // garbage: every element must be written
  return b;
}
const firstDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `[${i}]: ${a[i]} != ${b[i]}`;
  return a.length === b.length ? null : `lengths ${a.length} != ${b.length}`;
};

const VARIANTS = ['wasm', 'wasm-simd', 'wasm-relaxed'] as const;

describe.each(VARIANTS.map((v) => [v]))('%s int8 kernels', (name) => {
  it('matmul_int8: every tile and tail shape, full-range and saturating operands, exact', async () => {
    const be = await loadBackend(name);
    const shapes: [number, number, number][] = [];
    for (const M of [1, 2, 3, 4, 5, 7, 8]) for (const N of [1, 2, 3, 5, 6]) for (const K of [1, 7, 8, 9, 15, 16, 17, 31, 33]) shapes.push([M, N, K]);
    shapes.push([9, 13, 200], [4, 2, 32768], [5, 3, 32768], [6, 300, 784], [13, 41, 1000]);
    let seed = 10;
    for (const [M, N, K] of shapes) {
      for (const kind of ['random', '255x-128', '255x127'] as const) {
        if (kind !== 'random' && K < 16 && M * N > 20) continue;
        const a = kind === 'random' ? u8(M * K, seed++) : u8(M * K, 0, 255);
        const w = kind === 'random' ? i8(N * K, seed++) : i8(N * K, 0, kind === '255x-128' ? -128 : 127);
        const want = new Int32Array(M * N);
        matmul_int8(want, a, w, M, N, K);
        for (const owned of [true, false]) {
          const acc = outI32(be, M * N, owned);
          be.matmul_int8(acc, onU8(be, a, owned), onI8(be, w, owned), M, N, K);
          expect(firstDiff(acc, want), `${name} M=${M} N=${N} K=${K} ${kind} owned=${owned}`).toBeNull();
        }
      }
    }
  });

  it('conv2d_int8: padding with xZero, strides, groups, depthwise, pixel blocks of the column buffer, exact', async () => {
    const be = await loadBackend(name);
    const cases: ConvParams[] = [
      { N: 2, C: 3, H: 7, W: 5, OC: 5, k: 3, stride: 1, pad: 1, groups: 1 },
      { N: 1, C: 4, H: 9, W: 9, OC: 6, k: 3, stride: 2, pad: 2, groups: 2 },
      { N: 2, C: 6, H: 8, W: 7, OC: 6, k: 3, stride: 1, pad: 1, groups: 6 },
      { N: 1, C: 1, H: 28, W: 28, OC: 7, k: 5, stride: 1, pad: 2, groups: 1 },
      // (C/groups)·k·k = 144 bytes × 4096 pixels > the 512 KiB column block: several pixel blocks
      { N: 1, C: 16, H: 64, W: 64, OC: 9, k: 3, stride: 1, pad: 1, groups: 1 },
    ];
    let seed = 500;
    for (const p of cases) for (const xZero of [0, 101, 255]) {
      const [OH, OW] = convOut(p);
      const nx = p.N * p.C * p.H * p.W, nw = (p.OC * p.C * p.k * p.k) / p.groups, ny = p.N * p.OC * OH * OW;
      const x = xZero === 255 ? u8(nx, 0, 255) : u8(nx, seed++);
      const w = xZero === 255 ? i8(nw, 0, -128) : i8(nw, seed++);
      const want = new Int32Array(ny);
      conv2d_int8(want, x, w, p, xZero);
      for (const owned of [true, false]) {
        const acc = outI32(be, ny, owned);
        be.conv2d_int8(acc, onU8(be, x, owned), onI8(be, w, owned), p, xZero);
        expect(firstDiff(acc, want), `${name} ${JSON.stringify(p)} xZero=${xZero} owned=${owned}`).toBeNull();
      }
    }
  });

  it('quantize_int8: the 16-wide path and its tails, ties to even, ±Infinity and huge values clamp, bitwise the reference', async () => {
    const be = await loadBackend(name);
    for (const n of [1, 15, 16, 17, 33, 100]) {
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = [0.5, 1.5, 2.5, -0.5, -1.5, 1e30, -1e30, Infinity, -Infinity, 127.5, -128.5, 3.25][i % 12] * (i % 24 < 12 ? 1 : -1) + (i % 5 === 0 ? 0 : 0.125 * (i % 7));
      for (const [inv, zp] of [[1, 0], [1, 128], [1, 255], [0.7, 37], [3, 200]] as const) {
        const want = new Uint8Array(n);
        quantize_int8(want, x, n, inv, zp);
        const q = be.allocUint8(n);
        const xb = be.alloc(n);
        xb.set(x);
        be.quantize_int8(q, xb, n, inv, zp);
        expect(firstDiff(q, want), `${name} n=${n} invScale=${inv} zeroPoint=${zp}`).toBeNull();
      }
    }
  });

  it('dequantize_int32: Dense (HW = 1, channel vectors and tails) and conv layouts, bitwise the reference', async () => {
    const be = await loadBackend(name);
    for (const [N, C, HW] of [[3, 1, 1], [2, 7, 1], [5, 800, 1], [2, 3, 3], [2, 5, 9], [1, 4, 784]]) {
      const acc = Int32Array.from(ints(N * C * HW, N * C + HW, -2_000_000, 2_000_000));
      const wsum = Int32Array.from(ints(C, C, -4000, 4000));
      const scale = Float32Array.from(ints(C, C + 1, 1, 1000), (v) => v * 1.37e-5);
      const bias = Float32Array.from(ints(C, C + 2, -1000, 1000), (v) => v * 1e-3);
      for (const zero of [0, 3, 255]) {
        const want = new Float32Array(N * C * HW);
        dequantize_int32(want, acc, wsum, scale, bias, zero, N, C, HW);
        const y = new Float32Array(N * C * HW);
        be.dequantize_int32(y, acc, wsum, scale, bias, zero, N, C, HW);
        expect(Buffer.from(y.buffer).equals(Buffer.from(want.buffer)), `${name} N=${N} C=${C} HW=${HW} zero=${zero}`).toBe(true);
      }
    }
  });

  it('bad sizes are refused with the shape named', async () => {
    const be = await loadBackend(name);
    expect(() => be.matmul_int8(new Int32Array(4), new Uint8Array(4), new Int8Array(3), 2, 2, 2)).toThrow(/w 3 \(need 2\*2\)/);
    expect(() => be.matmul_int8(new Int32Array(1), new Uint8Array(32769), new Int8Array(32769), 1, 1, 32769)).toThrow(/K <= 32768/);
    expect(() => be.quantize_int8(new Uint8Array(3), new Float32Array(4), 4, 1, 0)).toThrow(/q has 3/);
    expect(() => be.quantize_int8(new Uint8Array(4), new Float32Array(4), 4, 1, 256)).toThrow(/zeroPoint 256/);
    expect(() => be.conv2d_int8(new Int32Array(8), new Uint8Array(9), new Int8Array(8), { N: 1, C: 1, H: 3, W: 3, OC: 1, k: 3, stride: 1, pad: 0, groups: 1 }, 0)).toThrow(/w has 8 elements, needs 9/);
  });
});

describe.skipIf(availableParallelism() < 2).each([['simd'], ['relaxed']] as const)('wasm-%s-mt int8 splits', (variant) => {
  it('matmul_int8 split by columns and conv2d_int8 by images: exactly the one-thread result, run on the helpers', async () => {
    const mt = (await loadBackend(`wasm-${variant}-mt`)) as WasmBackend;
    const one = await loadBackend(`wasm-${variant}`);
    const pool = mt.threadPool!;
    let seed = 900;
    for (const [M, N, K] of [[128, 800, 784], [128, 64, 784], [33, 801, 97], [128, 10, 800]]) {
      const a = u8(M * K, seed++), w = i8(N * K, seed++);
      const want = new Int32Array(M * N);
      one.matmul_int8(want, a, w, M, N, K);
      for (const owned of [true, false]) {
        const before = pool.splits;
        const acc = outI32(mt, M * N, owned);
        mt.matmul_int8(acc, onU8(mt, a, owned), onI8(mt, w, owned), M, N, K);
        expect(firstDiff(acc, want), `${M}x${N}x${K} owned=${owned}`).toBeNull();
        // (128,10,800): 1.0M multiply-adds, below the split threshold (2M): it runs on this thread
        expect(pool.splits - before, `${M}x${N}x${K} split`).toBe(M * N * K >= 2 ** 21 ? 1 : 0);
      }
      if (M === 128 && N === 800) {
        const ref = new Int32Array(M * N);
        matmul_int8(ref, a, w, M, N, K);
        expect(firstDiff(want, ref)).toBeNull();
      }
    }
    for (const p of [{ N: 8, C: 16, H: 14, W: 14, OC: 32, k: 3, stride: 1, pad: 1, groups: 1 }, { N: 4, C: 16, H: 32, W: 32, OC: 32, k: 3, stride: 2, pad: 1, groups: 2 }]) {
      const [OH, OW] = convOut(p);
      const x = u8(p.N * p.C * p.H * p.W, seed++), w = i8((p.OC * p.C * 9) / p.groups, seed++), ny = p.N * p.OC * OH * OW;
      const want = new Int32Array(ny);
      conv2d_int8(want, x, w, p, 77);
      for (const owned of [true, false]) {
        const before = pool.splits;
        const acc = outI32(mt, ny, owned);
        mt.conv2d_int8(acc, onU8(mt, x, owned), onI8(mt, w, owned), p, 77);
        expect(firstDiff(acc, want), `${JSON.stringify(p)} owned=${owned}`).toBeNull();
        expect(pool.splits - before, `${JSON.stringify(p)} split`).toBe(1);
      }
    }
    mt.dispose();
  });
});
