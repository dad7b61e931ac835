// Test helpers: seeded data, tolerant comparison, and the backends under test.

import { loadAvailableBackends, type Backend } from '../src/backends/index.js';
import type { Dataset } from '../src/data/dataset.js';
import { Rng } from '../src/nn/rng.js';

// Seeded data and the normalized error: the operator-case table's own (src/kernels/cases.ts).
export { normErr, randArray, randLabels, rng } from '../src/kernels/cases.js';

/** Copies `src` into a buffer owned by `be` (or a plain copy when owned is false). */
export function put(be: Backend, src: Float32Array, owned: boolean): Float32Array {
  const dst = owned ? be.alloc(src.length) : new Float32Array(src.length);
  dst.set(src);
  return dst;
}

export function putInt(be: Backend, src: Int32Array, owned: boolean): Int32Array {
  const dst = owned ? be.allocInt32(src.length) : new Int32Array(src.length);
  dst.set(src);
  return dst;
}

/**
 * Every backend that loads here. DISTILLERY_REQUIRE_BACKENDS=a,b makes a missing backend a
 * failure instead of a logged skip (CI sets it for the backends its machine must build).
 */
export async function backendsUnderTest(): Promise<{ backends: Backend[]; missing: string[] }> {
  const { backends, skipped } = await loadAvailableBackends((m) => console.warn(`[conformance] ${m}`));
  const required = (process.env.DISTILLERY_REQUIRE_BACKENDS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const missing = required
    .filter((r) => !backends.some((b) => b.name === r))
    .map((r) => `${r}: ${skipped.find((s) => s.name === r)?.reason ?? 'not registered'}`);
  return { backends, missing };
}

/** Gaussian blobs: `classes` clusters in `features` dimensions, seeded. */
export function blobs(n: number, features: number, classes: number, seed: number): Dataset {
  const r = new Rng(seed);
  const x = new Float32Array(n * features), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = r.int(classes);
    for (let f = 0; f < features; f++) x[i * features + f] = r.normal() * 0.5 + (f % classes === y[i] ? 1.5 : 0);
  }
  return { name: `blobs-${seed}`, x, y, n, features, classes };
}

/** Central difference of f at x[i] (x modified in place and restored). */
export function fd(f: () => number, x: Float32Array, i: number, eps: number): number {
  const old = x[i];
  x[i] = old + eps;
  const up = f();
  x[i] = old - eps;
  const down = f();
  x[i] = old;
  return (up - down) / (2 * eps);
}

/** Small seeded "images" (C, side, side) for CNN tests: class k (of 4) has a bright k-th quadrant. */
export function quadrantImages(n: number, seed: number, side = 6, C = 1): Dataset {
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
  return { name: `quadrants-${seed}`, x, y, n, features: F, shape: [C, side, side], classes: 4 };
}
