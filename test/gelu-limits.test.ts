// GELU (tanh approximation) at extreme inputs: beyond ±GELU_LIMIT every backend returns the
// limits exactly (gelu: x above, −0 below; gelu': 1 above, 0 below), in its vector body and its
// tail, up to float32's largest value and the infinities; NaN stays NaN. And why 11: the
// approximation itself, evaluated without cancellation and rounded to float32, already equals
// those limits there, so the cut-off loses nothing.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GELU_EXTREMES } from '../src/kernels/cases.js';
import { GELU_COEF, GELU_LIMIT, GELU_SQRT_2_OVER_PI } from '../src/kernels/signatures.js';
import { backendsUnderTest } from './util.js';

const { backends } = await backendsUnderTest();

/** The tanh approximation and its derivative in f64 without cancellation (1 ± tanh(u) as sigmoids). */
function exact(x: number): { gelu: number; grad: number } {
  const u = GELU_SQRT_2_OVER_PI * (x + GELU_COEF * x * x * x);
  const du = GELU_SQRT_2_OVER_PI * (1 + 3 * GELU_COEF * x * x);
  const sp = 1 / (1 + Math.exp(-2 * u)); // (1 + tanh u) / 2
  const sm = 1 / (1 + Math.exp(2 * u)); //  (1 − tanh u) / 2
  // gelu = x·sp; gelu' = sp + 2x·sp·sm·du (with sp = 1 − sm on the positive side, exactly)
  return { gelu: x * sp, grad: (x > 0 ? 1 - sm : sp) + 2 * x * sp * sm * du };
}

const limit = (x: number) => ({ gelu: x > 0 ? x : -0, grad: x > 0 ? 1 : 0 });

describe('the threshold', () => {
  it('for every float32 with 11 <= |x| < 16 (and sampled up to 3.4e38) the approximation rounds to its limits', () => {
    const f = new Float32Array(1), bits = new Uint32Array(f.buffer);
    const check = (x: number) => {
      const e = exact(x), l = limit(x);
      // -0 and 0 both stand for the limit 0 here (the sign of a rounded-away value)
      if (Math.fround(e.gelu) !== l.gelu || Math.fround(e.grad) !== l.grad) throw new Error(`x=${x}: gelu ${e.gelu}, gelu' ${e.grad}`);
    };
    f[0] = GELU_LIMIT;
    const lo = bits[0];
    f[0] = 16;
    const hi = bits[0];
    for (let b = lo; b < hi; b++) {
      bits[0] = b;
      check(f[0]);
      check(-f[0]);
    }
    f[0] = 3.4028234663852886e38;
    for (let b = hi; b <= bits[0]; b += 4099) {
      const g = new Float32Array(new Uint32Array([b]).buffer)[0];
      check(g);
      check(-g);
    }
  });

  it('is not far above where the approximation reaches its limits (10.9)', () => {
    // Just below, the negative side still has representable float32 values, so a smaller
    // threshold would change results; 11 is the first round number past them.
    expect(Math.fround(exact(-10.75).gelu)).not.toBe(0);
    expect(Math.fround(exact(-10.85).grad)).not.toBe(0);
    expect(Math.fround(exact(10.9).gelu)).toBe(Math.fround(10.9));
  });

  it('every implementation uses the same threshold', () => {
    const v = GELU_LIMIT.toFixed(1);
    const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');
    expect(read('assembly/activations.ts')).toContain(`const LIM: f32 = ${v};`);
    expect(read('assembly/simd.ts')).toContain(`${v}, ${v}, ${v}, ${v}, // 18: GELU_LIM`);
    expect(read('native/activations.cc')).toContain(`constexpr float kLimit = ${v}f;`);
    expect(read('native/cuda/kernels.cu')).toContain(`kGeluLimit = ${v}f;`);
  });
});

const beyond = GELU_EXTREMES.filter((x) => Math.abs(x) > GELU_LIMIT);

describe.each(backends.map((b) => [b.name, b]))('%s', (_name, be) => {
  // Lengths 1..19: every position of the SIMD body (4 or 8 lanes) and of the tail.
  for (const owned of [true, false]) {
    const tag = owned ? 'backend buffers' : 'foreign buffers';
    const arr = (n: number) => (owned ? be.alloc(n) : new Float32Array(n));
    const done = (...a: Float32Array[]) => { if (owned) for (const b of a) be.free(b); };

    it(`gelu and gelu' are their limits beyond ±${GELU_LIMIT} at every position (${tag})`, () => {
      for (let n = 1; n <= 19; n++) {
        for (let at = 0; at < n; at++) {
          const x = arr(n), y = arr(n), dy = arr(n), dx = arr(n);
          for (const v of beyond) {
            x.fill(0.5);
            dy.fill(2.5);
            x[at] = v;
            be.gelu(y, x, n);
            be.gelu_backward(dx, dy, x, n);
            const l = limit(Math.fround(v));
            expect(y[at], `gelu(${v}) n=${n} at ${at}`).toBe(l.gelu);
            expect(dx[at], `gelu'(${v})·2.5 n=${n} at ${at}`).toBe(2.5 * l.grad);
          }
          done(x, y, dy, dx);
        }
      }
    });

    it(`NaN stays NaN in the body and the tail (${tag})`, () => {
      for (const n of [3, 11, 17]) {
        const x = arr(n), y = arr(n), dy = arr(n), dx = arr(n);
        x.fill(Number.NaN);
        dy.fill(1);
        be.gelu(y, x, n);
        be.gelu_backward(dx, dy, x, n);
        expect([...y].every(Number.isNaN), `gelu n=${n}`).toBe(true);
        expect([...dx].every(Number.isNaN), `gelu' n=${n}`).toBe(true);
        done(x, y, dy, dx);
      }
    });
  }
});
