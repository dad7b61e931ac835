// Runtime dispatch of the native addon: which ISA clone and sgemm kernel run here, that they
// match the CPU's flags, and that the capped paths (DISTILLERY_GEMM_ISA=avx2|baseline, the 4x24
// tile) compute the same products, each checked in a child process against the TS reference.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addonPath } from '../src/backends/native/loader.js';

const file = addonPath('native');
const built = existsSync(file);

function probe(env: Record<string, string> = {}): { isa: string; matmul: string } {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(file)}).probe()))`], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

// Runs matmul on every transpose/accumulate variant of a few shapes in a child process with
// `env`, returning the largest normalized error against a naive f64 loop.
function childMatmulError(env: Record<string, string>): number {
  const script = `
    const a = require(${JSON.stringify(file)});
    let seed = 7; const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296) - 0.5;
    let worst = 0;
    for (const [M, N, K] of [[1, 1, 1], [5, 17, 3], [128, 40, 300], [151, 53, 811], [300, 41, 80], [200, 7, 50], [64, 1, 9]]) {
      for (let v = 0; v < 8; v++) {
        const tA = !!(v & 1), tB = !!(v & 2), acc = !!(v & 4);
        const A = Float32Array.from({ length: M * K }, rnd), B = Float32Array.from({ length: K * N }, rnd);
        const C = Float32Array.from({ length: M * N }, rnd), R = C.slice();
        a.matmul(C, A, B, M, N, K, tA, tB, acc);
        let mag = 1, err = 0;
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
          let s = acc ? R[i * N + j] : 0;
          for (let k = 0; k < K; k++) s += (tA ? A[k * M + i] : A[i * K + k]) * (tB ? B[j * K + k] : B[k * N + j]);
          err = Math.max(err, Math.abs(C[i * N + j] - s)); mag = Math.max(mag, Math.abs(s));
        }
        worst = Math.max(worst, err / mag);
      }
    }
    process.stdout.write(String(worst));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout);
}

describe.skipIf(!built)('native dispatch', () => {
  it('reports the ISA clone and sgemm kernel the CPU flags call for', () => {
    const p = probe();
    const flags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    const has = (f: string) => new RegExp(`\\b${f}\\b`).test(flags);
    if (has('avx512f') && has('avx512vl') && has('avx512bw') && has('avx512dq')) {
      expect(p.isa).toBe('x86-64-v4');
      expect(p.matmul).toMatch(/avx512|avx2/);
    } else if (has('avx2') && has('fma')) {
      expect(p.isa).toBe('x86-64-v3');
      expect(p.matmul).toBe('avx2 6x16');
    }
    expect(p.matmul).not.toMatch(/failed/);
  });

  it('DISTILLERY_GEMM_ISA caps the sgemm kernel', () => {
    expect(probe({ DISTILLERY_GEMM_ISA: 'baseline' }).matmul).toBe('baseline 4x8');
  });

  for (const env of [{}, { DISTILLERY_GEMM_ISA: 'avx2' }, { DISTILLERY_GEMM_TILE: '4x24' }, { DISTILLERY_GEMM_ISA: 'baseline' }]) {
    it(`matmul agrees with a naive loop on every variant (${JSON.stringify(env)})`, () => {
      expect(childMatmulError(env)).toBeLessThan(1e-5 * 30);
    });
  }
});
