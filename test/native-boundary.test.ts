// The native addon's boundary: wrong lengths, types and sizes throw TypeError/RangeError naming
// the argument (never a crash or an out-of-bounds access); ArrayBuffer and SharedArrayBuffer
// inputs both work, in place, without copies.

import { describe, expect, it } from 'vitest';
import { loadBackend, type Backend } from '../src/backends/index.js';
import * as ref from '../src/kernels/reference.js';
import { normErr, randArray } from './util.js';

const required = (process.env.DISTILLERY_REQUIRE_BACKENDS ?? '').split(',').includes('native');
let be: Backend | null = null;
let why = '';
try {
  be = await loadBackend('native');
} catch (e) {
  why = (e as Error).message;
}

it('native loads when required', () => {
  if (required) expect(why).toBe('');
});

const f32 = (n: number) => new Float32Array(n);

describe.skipIf(!be)('native boundary', () => {
  const n = be!;

  it('matmul: short arrays throw RangeError naming the argument', () => {
    expect(() => n.matmul(f32(5), f32(6), f32(6), 2, 3, 3, false, false, false)).toThrow(/matmul: C has 5 elements, needs at least 6/);
    expect(() => n.matmul(f32(6), f32(5), f32(9), 2, 3, 3, false, false, false)).toThrow(RangeError);
    expect(() => n.matmul(f32(6), f32(6), f32(8), 2, 3, 3, false, true, false)).toThrow(/B has 8 elements/);
  });

  it('matmul: wrong types throw TypeError naming the argument', () => {
    expect(() => n.matmul(new Float64Array(6) as unknown as Float32Array, f32(6), f32(9), 2, 3, 3, false, false, false)).toThrow(/C must be a Float32Array/);
    expect(() => n.matmul(f32(6), [1, 2] as unknown as Float32Array, f32(9), 2, 3, 3, false, false, false)).toThrow(TypeError);
    expect(() => n.matmul(f32(6), f32(6), f32(9), '2' as unknown as number, 3, 3, false, false, false)).toThrow(/M must be a number/);
    expect(() => n.matmul(f32(6), f32(6), f32(9), 2, 3, 3, 0 as unknown as boolean, false, false)).toThrow(/transA must be a boolean/);
    expect(() => (n.matmul as unknown as (...a: unknown[]) => void)(f32(6), f32(6))).toThrow(/expected 9 arguments/);
  });

  it('sizes must be integers in [0, 2^31): non-integer, NaN, negative, huge, Infinity', () => {
    for (const bad of [1.5, NaN, -1, 2 ** 31, Infinity]) {
      expect(() => n.relu(f32(4), f32(4), bad), String(bad)).toThrow(RangeError);
      expect(() => n.relu(f32(4), f32(4), bad), String(bad)).toThrow(/relu: n must be an integer/);
    }
    expect(() => n.matmul(f32(4), f32(4), f32(4), 2 ** 30, 2 ** 30, 1, false, false, false)).toThrow(/C has 4 elements/);
  });

  it('every kernel checks its arrays', () => {
    expect(() => n.bias_add(f32(5), f32(3), 2, 3)).toThrow(/bias_add: y has 5/);
    expect(() => n.bias_add(f32(6), f32(2), 2, 3)).toThrow(/bias_add: bias has 2/);
    expect(() => n.bias_grad(f32(3), f32(5), 2, 3, false)).toThrow(/bias_grad: dy has 5/);
    expect(() => n.relu_backward(f32(4), f32(3), f32(4), 4)).toThrow(/relu_backward: dout has 3/);
    expect(() => n.gelu(f32(4), f32(3), 4)).toThrow(/gelu: inp has 3/);
    expect(() => n.gelu_backward(f32(4), f32(4), f32(2), 4)).toThrow(/gelu_backward: inp has 2/);
    expect(() => n.softmax_t(f32(6), f32(5), 2, 3, 1)).toThrow(/softmax_t: logits has 5/);
    expect(() => n.log_softmax_t(f32(6), f32(6), 2, 3, 0)).toThrow(/log_softmax_t: T must be a finite number > 0/);
    expect(() => n.kd_loss(f32(6), f32(6), f32(5), 2, 3, 4, 0.9, true, false)).toThrow(/kd_loss: t has 5/);
    expect(() => n.cross_entropy(f32(6), f32(6), new Int32Array(1), 2, 3, 1, false)).toThrow(/cross_entropy: labels has 1/);
    expect(() => n.cross_entropy(f32(6), f32(6), new Float32Array(2) as unknown as Int32Array, 2, 3, 1, false)).toThrow(/labels must be a Int32Array/);
    expect(() => n.cross_entropy(f32(6), f32(6), Int32Array.from([0, 3]), 2, 3, 1, false)).toThrow(/labels\[1\] = 3 is outside \[0, K=3\)/);
    expect(() => n.cross_entropy(f32(6), f32(6), Int32Array.from([-1, 0]), 2, 3, 1, false)).toThrow(RangeError);
    expect(() => n.mse(f32(4), f32(4), f32(3), 4, 1, false)).toThrow(/mse: target has 3/);
    expect(() => n.sgd_step(f32(4), f32(4), f32(3), 4, { lr: 0.1, momentum: 0.9, weightDecay: 0, nesterov: false })).toThrow(/sgd_step: momentumBuf has 3/);
    expect(() => n.sgd_step(f32(4), f32(4), f32(4), 4, { lr: 0.1, momentum: 0.9, weightDecay: 0, nesterov: 1 as unknown as boolean })).toThrow(/nesterov must be a boolean/);
    expect(() => n.adamw_step(f32(4), f32(4), f32(4), f32(3), 4, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 })).toThrow(/adamw_step: v has 3/);
    expect(() => n.adamw_step(f32(4), f32(4), f32(4), f32(4), 4, { lr: NaN, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 })).toThrow(/lr must be finite/);
  });

  it('overlapping outputs are refused (in-place element-wise is allowed)', () => {
    const buf = f32(16);
    expect(() => n.matmul(buf.subarray(0, 4), buf.subarray(2, 6), f32(4), 2, 2, 2, false, false, false)).toThrow(/C overlaps A/);
    expect(() => n.relu(buf.subarray(1, 9), buf.subarray(0, 8), 8)).toThrow(/partly overlap/);
    const x = Float32Array.from([-1, 2, -3, 4]);
    n.relu(x, x, 4);
    expect([...x]).toEqual([0, 2, 0, 4]);
  });

  it('longer arrays and subarray views are fine; only the first elements are touched', () => {
    const C = f32(10).fill(7);
    n.matmul(C.subarray(2), Float32Array.from([1, 2]), Float32Array.from([3, 4]), 1, 1, 2, false, false, false);
    expect([...C]).toEqual([7, 7, 11, 7, 7, 7, 7, 7, 7, 7]);
  });

  it('Float32Arrays on ArrayBuffer and SharedArrayBuffer work in place (no copies)', () => {
    const M = 37, N = 29, K = 41;
    const A = randArray(M * K, 1), B = randArray(K * N, 2);
    const want = f32(M * N);
    ref.matmul(want, A, B, M, N, K, false, true, false);
    for (const shared of [false, true]) {
      const mk = (src: Float32Array, off: number) => {
        const buf = shared ? new SharedArrayBuffer((src.length + off) * 4) : new ArrayBuffer((src.length + off) * 4);
        const v = new Float32Array(buf, off * 4, src.length);
        v.set(src);
        return v;
      };
      const C = mk(f32(M * N), 3);
      n.matmul(C, mk(A, 1), mk(B, 5), M, N, K, false, true, false);
      expect(normErr(C, want), `shared=${shared}`).toBeLessThan(1e-5);
      const y = mk(Float32Array.from([-1, 2]), 1);
      n.relu(y, y, 2);
      expect([...y]).toEqual([0, 2]);
    }
  });

  it('alloc: 64-byte aligned views on SharedArrayBuffers, zero-filled', () => {
    for (const len of [0, 1, 5, 1000]) {
      const a = n.alloc(len);
      expect(a.length).toBe(len);
      expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(a.every((v) => v === 0)).toBe(true);
      expect(n.allocInt32(len).buffer).toBeInstanceOf(SharedArrayBuffer);
    }
  });

  it('a detached ArrayBuffer is refused, not read', () => {
    const a = f32(8);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    expect(() => n.relu(f32(8), a, 8)).toThrow(/inp has 0 elements/);
  });
});

describe.skipIf(!be)('native zero', () => {
  it('zero(buf) clears exactly the view, on SAB and AB', () => {
    const n = be!;
    for (const shared of [false, true]) {
      const buf = shared ? new SharedArrayBuffer(40) : new ArrayBuffer(40);
      const all = new Float32Array(buf).fill(5);
      n.zero!(all.subarray(2, 7));
      expect([...all]).toEqual([5, 5, 0, 0, 0, 0, 0, 5, 5, 5]);
    }
    expect(() => n.zero!(new Int32Array(4) as unknown as Float32Array)).toThrow(/zero: buf must be a Float32Array/);
  });
});

// native-mt: the same kernels with matmul split over threads inside the addon.
describe.skipIf(!be)('native matmul_threads (the native-mt backend)', () => {
  it('checks its threads argument and its arrays like matmul', async () => {
    const { loadAddon, addonPath } = await import('../src/backends/native/loader.js');
    const { addon: a } = loadAddon<{ matmul_threads: (...x: unknown[]) => void }>('native', addonPath('native'));
    expect(() => a.matmul_threads(f32(6), f32(6), f32(9), 2, 3, 3, false, false, false, 0)).toThrow(/threads must be in \[1, 64\], got 0/);
    expect(() => a.matmul_threads(f32(6), f32(6), f32(9), 2, 3, 3, false, false, false, 65)).toThrow(RangeError);
    expect(() => a.matmul_threads(f32(6), f32(6), f32(9), 2, 3, 3, false, false, false, '2')).toThrow(/threads must be a number/);
    expect(() => a.matmul_threads(f32(5), f32(6), f32(9), 2, 3, 3, false, false, false, 2)).toThrow(/matmul_threads: C has 5 elements/);
    expect(() => a.matmul_threads(f32(6), f32(6), f32(9), 2, 3, 3, false, false, false)).toThrow(/expected 10 arguments/);
  });

  it('gives bitwise the same C as the one-thread matmul, every transpose, 1..4 threads', async () => {
    const { loadAddon, addonPath } = await import('../src/backends/native/loader.js');
    const { addon: a } = loadAddon<{ matmul_threads: (...x: unknown[]) => void }>('native', addonPath('native'));
    let seed = 7;
    for (const [M, N, K] of [[128, 800, 784], [800, 784, 128], [300, 1200, 97], [1000, 130, 64], [37, 2000, 33]]) {
      for (const tA of [false, true]) for (const tB of [false, true]) for (const acc of [false, true]) {
        const A = randArray(M * K, seed++), B = randArray(K * N, seed++), C0 = randArray(M * N, seed++);
        const one = C0.slice();
        be!.matmul(one, A, B, M, N, K, tA, tB, acc);
        for (const threads of [1, 2, 3, 4]) {
          const many = C0.slice();
          a.matmul_threads(many, A, B, M, N, K, tA, tB, acc, threads);
          expect(Buffer.from(many.buffer).equals(Buffer.from(one.buffer)), `${M}x${N}x${K} tA=${tA} tB=${tB} acc=${acc} threads=${threads}`).toBe(true);
        }
        if (M === 128 && !tA && tB && !acc) {
          const want = C0.slice();
          ref.matmul(want, A, B, M, N, K, tA, tB, acc);
          expect(normErr(one, want)).toBeLessThan(1e-4);
        }
      }
    }
  });

  it('sgd_step_threads and adamw_step_threads: bitwise the same as one thread, and checked like the one-thread steps', async () => {
    const { loadAddon, addonPath } = await import('../src/backends/native/loader.js');
    type Fn = (...x: unknown[]) => void;
    const { addon: a } = loadAddon<{ sgd_step_threads: Fn; adamw_step_threads: Fn; sgd_step: Fn; adamw_step: Fn }>('native', addonPath('native'));
    const n = 300_001; // large enough to be split (64k elements per thread at least), odd to leave a tail
    const p0 = randArray(n, 1), g = randArray(n, 2), m0 = randArray(n, 3), v0 = randArray(n, 4).map(Math.abs);
    for (const [mu, nesterov, wd] of [[0.9, false, 0], [0.9, true, 1e-3], [0, false, 5e-4]] as const) {
      const p1 = p0.slice(), b1 = m0.slice(), p2 = p0.slice(), b2 = m0.slice();
      a.sgd_step(p1, g, b1, n, 0.05, mu, wd, nesterov);
      a.sgd_step_threads(p2, g, b2, n, 0.05, mu, wd, nesterov, 3);
      expect(Buffer.from(p2.buffer).equals(Buffer.from(p1.buffer)) && Buffer.from(b2.buffer).equals(Buffer.from(b1.buffer)), `mu=${mu} nesterov=${nesterov}`).toBe(true);
    }
    const [p1, m1, v1, p2, m2, v2] = [p0.slice(), m0.slice(), v0.slice(), p0.slice(), m0.slice(), v0.slice()];
    a.adamw_step(p1, g, m1, v1, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3);
    a.adamw_step_threads(p2, g, m2, v2, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3, 2);
    expect([p2, m2, v2].every((x, i) => Buffer.from(x.buffer).equals(Buffer.from([p1, m1, v1][i].buffer)))).toBe(true);
    expect(() => a.sgd_step_threads(f32(4), f32(4), f32(4), 4, 0.1, 0.9, 0, false, 0)).toThrow(/sgd_step_threads: threads must be in \[1, 64\]/);
    expect(() => a.sgd_step_threads(f32(4), f32(3), f32(4), 4, 0.1, 0.9, 0, false, 2)).toThrow(/sgd_step_threads: grads has 3 elements/);
    expect(() => a.adamw_step_threads(f32(4), f32(4), f32(4), f32(4), 4, 0.1, 0.9, 0.99, 1e-8, 0, 1)).toThrow(/expected 12 arguments/);
  });
});

describe.skipIf(!be)('native convolution, pooling and batch-norm boundary', () => {
  const n = be!;
  const p = { N: 2, C: 4, H: 5, W: 5, OC: 6, k: 3, stride: 1, pad: 1, groups: 2 };
  const pp = { N: 2, C: 3, H: 4, W: 4, kh: 2, kw: 2, stride: 2, pad: 0 };

  it('conv2d*: short arrays, bad groups, an empty window and overlaps throw RangeError naming the argument', () => {
    expect(() => n.conv2d(f32(299), f32(200), f32(108), f32(6), p)).toThrow(/conv2d: y has 299 elements, needs at least 300/);
    expect(() => n.conv2d(f32(300), f32(199), f32(108), f32(6), p)).toThrow(/conv2d: x has 199/);
    expect(() => n.conv2d(f32(300), f32(200), f32(107), f32(6), p)).toThrow(/conv2d: w has 107/);
    expect(() => n.conv2d(f32(300), f32(200), f32(108), f32(5), p)).toThrow(/conv2d: bias has 5/);
    expect(() => n.conv2d(f32(600), f32(200), f32(216), f32(6), { ...p, groups: 3 })).toThrow(/groups must be >= 1 and divide C and OC/);
    expect(() => n.conv2d(f32(600), f32(200), f32(216), f32(6), { ...p, groups: 0 })).toThrow(RangeError);
    expect(() => n.conv2d(f32(600), f32(200), f32(216), f32(6), { ...p, stride: 0 })).toThrow(/stride must be >= 1/);
    expect(() => n.conv2d(f32(600), f32(200), f32(216), f32(6), { ...p, k: 8, pad: 1 })).toThrow(/smaller than the 8x8 kernel/);
    expect(() => n.conv2d(f32(4), f32(4), f32(4), f32(4), { ...p, N: 2 ** 30, C: 2 ** 30 })).toThrow(/conv2d: y has 4 elements/);
    const buf = f32(1000);
    expect(() => n.conv2d(buf.subarray(0, 300), buf.subarray(200, 400), f32(108), f32(6), p)).toThrow(/y overlaps x, w or bias/);
    expect(() => n.conv2d_backward_data(f32(199), f32(300), f32(108), p)).toThrow(/conv2d_backward_data: dx has 199/);
    expect(() => n.conv2d_backward_weight(f32(108), f32(6), f32(299), f32(200), p, false)).toThrow(/conv2d_backward_weight: dy has 299/);
    expect(() => n.conv2d_backward_weight(buf.subarray(0, 108), buf.subarray(100, 106), f32(300), f32(200), p, false)).toThrow(/must not overlap/);
  });

  it('pooling: short arrays, pad >= window, out-of-plane indices throw', () => {
    expect(() => n.maxpool2d(f32(23), new Int32Array(24), f32(96), pp)).toThrow(/maxpool2d: y has 23/);
    expect(() => n.maxpool2d(f32(24), new Int32Array(23), f32(96), pp)).toThrow(/maxpool2d: idx has 23/);
    expect(() => n.maxpool2d(f32(96), new Int32Array(96), f32(96), { ...pp, pad: 2 })).toThrow(/pad must be < kh and < kw/);
    expect(() => n.maxpool2d_backward(f32(96), f32(24), new Int32Array(24).fill(16), pp)).toThrow(/idx\[0\] = 16 is outside \[0, H\*W=16\)/);
    expect(() => n.maxpool2d_backward(f32(96), f32(24), new Int32Array(24).fill(-1), pp)).toThrow(RangeError);
    expect(() => n.avgpool2d(f32(24), f32(95), pp)).toThrow(/avgpool2d: x has 95/);
    expect(() => n.avgpool2d_backward(f32(95), f32(24), pp)).toThrow(/avgpool2d_backward: dx has 95/);
  });

  it('batch norm: short arrays, partial overlaps, a non-finite count throw; in place is fine', () => {
    expect(() => n.batchnorm_stats(f32(3), f32(2), f32(24), 2, 3, 4)).toThrow(/batchnorm_stats: m2 has 2/);
    expect(() => n.batchnorm(f32(24), f32(24), f32(3), f32(2), f32(3), f32(3), 2, 3, 4)).toThrow(/batchnorm: invstd has 2/);
    const x = f32(30);
    expect(() => n.batchnorm(x.subarray(1, 25), x.subarray(0, 24), f32(3), f32(3), f32(3), f32(3), 2, 3, 4)).toThrow(/partly overlap/);
    expect(() => n.batchnorm(x, x, f32(3), f32(3), f32(3), f32(3), 2, 3, 4)).not.toThrow();
    expect(() => n.batchnorm_backward_reduce(f32(3), f32(3), f32(23), f32(24), f32(3), f32(3), 2, 3, 4)).toThrow(/batchnorm_backward_reduce: dy has 23/);
    expect(() => n.batchnorm_backward(f32(24), f32(24), f32(24), f32(3), f32(3), f32(3), f32(3), f32(3), NaN, 2, 3, 4)).toThrow(/count must be finite/);
  });
});

describe.skipIf(!be)('native conv2d*_threads (the native-mt backend)', () => {
  it('forward and backward data: bitwise the same as one thread; backward weight: bitwise the same run to run for a thread count, close to one thread', async () => {
    const { loadAddon, addonPath } = await import('../src/backends/native/loader.js');
    type Fn = (...x: unknown[]) => void;
    const { addon: a } = loadAddon<Record<string, Fn>>('native', addonPath('native'));
    const same = (x: Float32Array, y: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    for (const [N, C, H, OC, k, s, pad, g] of [[7, 16, 14, 32, 3, 1, 1, 1], [5, 8, 9, 8, 3, 2, 1, 8], [6, 1, 28, 16, 3, 1, 1, 1], [9, 12, 7, 6, 1, 1, 0, 3]]) {
      const [OH, OW] = [Math.floor((H + 2 * pad - k) / s) + 1, Math.floor((H + 2 * pad - k) / s) + 1];
      const p = [N, C, H, H, OC, k, s, pad, g];
      const x = randArray(N * C * H * H, 1), w = randArray(OC * (C / g) * k * k, 2), b = randArray(OC, 3), dy = randArray(N * OC * OH * OW, 4);
      const y1 = f32(dy.length), dx1 = f32(x.length), dw1 = randArray(w.length, 5), db1 = randArray(OC, 6);
      a.conv2d(y1, x, w, b, ...p);
      a.conv2d_backward_data(dx1, dy, w, ...p);
      a.conv2d_backward_weight(dw1, db1, dy, x, ...p, true);
      for (const threads of [2, 3]) {
        const y = f32(dy.length), dx = f32(x.length);
        a.conv2d_threads(y, x, w, b, ...p, threads);
        a.conv2d_backward_data_threads(dx, dy, w, ...p, threads);
        expect(same(y, y1) && same(dx, dx1), `${p} threads=${threads}`).toBe(true);
        const runs = [0, 1].map(() => {
          const dw = randArray(w.length, 5), db = randArray(OC, 6);
          a.conv2d_backward_weight_threads(dw, db, dy, x, ...p, true, threads);
          return [dw, db];
        });
        expect(same(runs[0][0], runs[1][0]) && same(runs[0][1], runs[1][1]), `${p} threads=${threads} run to run`).toBe(true);
        expect(normErr(runs[0][0], dw1) + normErr(runs[0][1], db1)).toBeLessThan(1e-4);
      }
    }
  });
});

// int8 kernels: Uint8Array activations, Int8Array weights, Int32Array sums (any byte offset for
// the 1-byte arrays), K and (C/groups)·k·k at most 32768, integer zero points in [0, 255].
describe.skipIf(!be)('native int8 boundary', () => {
  const n = be!;
  const u8 = (k: number) => new Uint8Array(k), i8 = (k: number) => new Int8Array(k), i32 = (k: number) => new Int32Array(k);
  const conv = { N: 1, C: 2, H: 4, W: 4, OC: 3, k: 3, stride: 1, pad: 1, groups: 1 };

  it('short arrays and wrong typed-array kinds throw naming the argument', () => {
    expect(() => n.matmul_int8(i32(5), u8(6), i8(9), 2, 3, 3)).toThrow(/matmul_int8: acc has 5 elements, needs at least 6/);
    expect(() => n.matmul_int8(i32(6), u8(5), i8(9), 2, 3, 3)).toThrow(/matmul_int8: a has 5 elements/);
    expect(() => n.matmul_int8(i32(6), u8(6), i8(8), 2, 3, 3)).toThrow(/matmul_int8: w has 8 elements/);
    expect(() => n.matmul_int8(i32(6), i8(6) as unknown as Uint8Array, i8(9), 2, 3, 3)).toThrow(/matmul_int8: a must be a Uint8Array/);
    expect(() => n.matmul_int8(i32(6), u8(6), u8(9) as unknown as Int8Array, 2, 3, 3)).toThrow(/matmul_int8: w must be a Int8Array/);
    expect(() => n.matmul_int8(f32(6) as unknown as Int32Array, u8(6), i8(9), 2, 3, 3)).toThrow(/matmul_int8: acc must be a Int32Array/);
    expect(() => n.quantize_int8(u8(3), f32(4), 4, 1, 0)).toThrow(/quantize_int8: q has 3 elements/);
    expect(() => n.quantize_int8(u8(4), new Float64Array(4) as unknown as Float32Array, 4, 1, 0)).toThrow(/quantize_int8: x must be a Float32Array/);
    expect(() => n.conv2d_int8(i32(47), u8(32), i8(54), conv, 0)).toThrow(/conv2d_int8: acc has 47 elements, needs at least 48/);
    expect(() => n.conv2d_int8(i32(48), u8(31), i8(54), conv, 0)).toThrow(/conv2d_int8: x has 31/);
    expect(() => n.conv2d_int8(i32(48), u8(32), i8(53), conv, 0)).toThrow(/conv2d_int8: w has 53/);
    expect(() => n.conv2d_int8(i32(48), u8(32), i8(54), { ...conv, groups: 4 }, 0)).toThrow(/conv2d_int8: groups must be >= 1 and divide C and OC/);
    expect(() => n.dequantize_int32(f32(6), i32(6), i32(2), f32(3), f32(3), 0, 2, 3, 1)).toThrow(/dequantize_int32: wsum has 2/);
    expect(() => n.dequantize_int32(f32(6), i32(5), i32(3), f32(3), f32(3), 0, 2, 3, 1)).toThrow(/dequantize_int32: acc has 5/);
    expect(() => n.dequantize_int32(f32(6), i32(6), i32(3), f32(3), f32(2), 0, 2, 3, 1)).toThrow(/dequantize_int32: bias has 2/);
  });

  it('K, (C/groups)·k·k, zero points and invScale are checked', () => {
    expect(() => n.matmul_int8(i32(1), u8(32769), i8(32769), 1, 1, 32769)).toThrow(/matmul_int8: K must be <= 32768/);
    expect(() => n.conv2d_int8(i32(1), u8(3700 * 9), i8(3700 * 9), { N: 1, C: 3700, H: 3, W: 3, OC: 1, k: 3, stride: 1, pad: 0, groups: 1 }, 0)).toThrow(/conv2d_int8: \(C\/groups\)·k·k must be <= 32768 \(int32 sums stay exact\), got 33300/);
    for (const bad of [-1, 256, 1.5, NaN]) {
      expect(() => n.quantize_int8(u8(4), f32(4), 4, 1, bad), String(bad)).toThrow(/quantize_int8: zeroPoint must be an integer in \[0, 255\]/);
      expect(() => n.conv2d_int8(i32(48), u8(32), i8(54), conv, bad), String(bad)).toThrow(/conv2d_int8: xZero must be an integer in \[0, 255\]/);
      expect(() => n.dequantize_int32(f32(6), i32(6), i32(3), f32(3), f32(3), bad, 2, 3, 1), String(bad)).toThrow(/dequantize_int32: zero must be an integer in \[0, 255\]/);
    }
    expect(() => n.quantize_int8(u8(4), f32(4), 4, Infinity, 0)).toThrow(/quantize_int8: invScale must be finite/);
  });

  it('overlaps are refused; dequantize_int32 may write y over acc in place', () => {
    const buf = new ArrayBuffer(64);
    expect(() => n.matmul_int8(new Int32Array(buf, 0, 4), new Uint8Array(buf, 8, 8), i8(8), 2, 2, 4)).toThrow(/matmul_int8: acc overlaps a or w/);
    expect(() => n.quantize_int8(new Uint8Array(buf, 4, 4), new Float32Array(buf, 0, 4), 4, 1, 0)).toThrow(/quantize_int8: q overlaps x/);
    expect(() => n.dequantize_int32(new Float32Array(buf, 4, 4), new Int32Array(buf, 0, 4), i32(2), f32(2), f32(2), 0, 2, 2, 1)).toThrow(/y and acc partly overlap/);
    const acc = Int32Array.from([3, -7, 1 << 30, -5]), wsum = Int32Array.from([2, -1]), scale = Float32Array.from([0.5, 0.25]), bias = Float32Array.from([1, -1]);
    const want = f32(4);
    ref.dequantize_int32(want, acc, wsum, scale, bias, 9, 2, 2, 1);
    const y = new Float32Array(acc.buffer);
    n.dequantize_int32(y, acc, wsum, scale, bias, 9, 2, 2, 1);
    expect([...y]).toEqual([...want]);
  });

  it('dequantize_int32 rounds the product before adding the bias (no FMA contraction), vector and scalar tails', () => {
    // 4097 · (4097/2^24) = (2^24 + 8193)/2^24 is a tie between two floats: it rounds (to even) to
    // 8392704·2^-23, which the bias cancels exactly (y = 0); a fused multiply-add would leave 2^-24.
    const scale = Math.fround(4097 / 2 ** 24), bias = -8392704 / 2 ** 23;
    for (const [N, C, HW] of [[67, 1, 1], [1, 1, 67], [3, 2, 35]]) {
      const len = N * C * HW, acc = new Int32Array(len).fill(4097), y = f32(len).fill(7), want = f32(len);
      const sc = new Float32Array(C).fill(scale), b = new Float32Array(C).fill(bias), wsum = i32(C);
      ref.dequantize_int32(want, acc, wsum, sc, b, 0, N, C, HW);
      expect(want.every((v) => v === 0)).toBe(true);
      n.dequantize_int32(y, acc, wsum, sc, b, 0, N, C, HW);
      expect([...y], `${N}x${C}x${HW}`).toEqual([...want]);
    }
  });

  it('uint8/int8 arrays at odd byte offsets, on ArrayBuffer and SharedArrayBuffer, are used in place', () => {
    for (const Buf of [ArrayBuffer, SharedArrayBuffer]) {
      const M = 3, N = 5, K = 77;
      const a = new Uint8Array(new Buf(M * K + 3), 3, M * K), w = new Int8Array(new Buf(N * K + 1), 1, N * K);
      for (let i = 0; i < a.length; i++) a[i] = (i * 37) & 255;
      for (let i = 0; i < w.length; i++) w[i] = ((i * 91) & 255) - 128;
      const want = i32(M * N), got = new Int32Array(new Buf(4 * M * N));
      ref.matmul_int8(want, a, w, M, N, K);
      n.matmul_int8(got, a, w, M, N, K);
      expect([...got]).toEqual([...want]);
      const x = new Float32Array(new Buf(4 * 40)), q = new Uint8Array(new Buf(41), 1, 40), qr = u8(40);
      for (let i = 0; i < 40; i++) x[i] = (i - 20) * 1.37;
      n.quantize_int8(q, x, 40, 3, 128);
      ref.quantize_int8(qr, x, 40, 3, 128);
      expect([...q]).toEqual([...qr]);
    }
  });
});

describe.skipIf(!be)('native matmul_int8_threads and conv2d_int8_threads (the native-mt backend)', () => {
  it('the same sums as one thread (exact), 1..4 threads; threads checked', async () => {
    const { loadAddon, addonPath } = await import('../src/backends/native/loader.js');
    type Fn = (...x: unknown[]) => void;
    const { addon: a } = loadAddon<Record<string, Fn>>('native', addonPath('native'));
    const bytes = (k: number, seed: number, signed: boolean) => {
      const r = signed ? new Int8Array(k) : new Uint8Array(k);
      for (let i = 0; i < k; i++) r[i] = ((i * 2654435761 + seed * 97) >>> 13) & 255;
      return r;
    };
    expect(() => a.matmul_int8_threads(new Int32Array(6), new Uint8Array(6), new Int8Array(9), 2, 3, 3, 0)).toThrow(/matmul_int8_threads: threads must be in \[1, 64\], got 0/);
    expect(() => a.conv2d_int8_threads(new Int32Array(1), new Uint8Array(9), new Int8Array(9), 1, 1, 3, 3, 1, 3, 1, 0, 1, 0, 65)).toThrow(/conv2d_int8_threads: threads must be in \[1, 64\]/);
    for (const [M, N, K] of [[128, 800, 784], [1, 800, 784], [300, 10, 800], [37, 130, 129]]) {
      const A = bytes(M * K, 1, false), W = bytes(N * K, 2, true), one = new Int32Array(M * N);
      a.matmul_int8(one, A, W, M, N, K);
      for (const threads of [1, 2, 3, 4]) {
        const got = new Int32Array(M * N);
        a.matmul_int8_threads(got, A, W, M, N, K, threads);
        expect(Buffer.from(got.buffer).equals(Buffer.from(one.buffer)), `${M}x${N}x${K} threads=${threads}`).toBe(true);
      }
    }
    for (const [Nb, C, H, OC, k, s, pad, g] of [[7, 16, 14, 32, 3, 1, 1, 1], [5, 8, 9, 8, 3, 2, 1, 8], [6, 1, 28, 16, 3, 1, 1, 1]]) {
      const OH = Math.floor((H + 2 * pad - k) / s) + 1;
      const p = [Nb, C, H, H, OC, k, s, pad, g];
      const X = bytes(Nb * C * H * H, 3, false), W = bytes(OC * (C / g) * k * k, 4, true), one = new Int32Array(Nb * OC * OH * OH);
      a.conv2d_int8(one, X, W, ...p, 77);
      for (const threads of [2, 3]) {
        const got = new Int32Array(one.length);
        a.conv2d_int8_threads(got, X, W, ...p, 77, threads);
        expect(Buffer.from(got.buffer).equals(Buffer.from(one.buffer)), `${p} threads=${threads}`).toBe(true);
      }
    }
  });
});
