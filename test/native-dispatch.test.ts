// Runtime dispatch of the native addon: which ISA clone and sgemm kernel run here, that they
// match the CPU's flags, and that the capped paths (DISTILLERY_GEMM_ISA=avx2|baseline, the 4x24
// tile) compute the same products, each checked in a child process against the TS reference; the
// convolution, pooling and batch-norm conformance cases (the convolutions run on the sgemm) on the
// capped paths too, on native and native-mt (the compiled dist/, so `npm run build:ts` first); the
// int8 kernels' exact conformance cases on the VNNI, AVX2 and scalar matmul_int8 paths.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addonPath } from '../src/backends/native/loader.js';
import * as ref from '../src/kernels/reference.js';
import { normErr } from './util.js';

const file = addonPath('native');
const built = existsSync(file);

function probe(env: Record<string, string> = {}): { isa: string; matmul: string; matmul_int8: string } {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(file)}).probe()))`], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

// Every transpose/accumulate variant of a few shapes, seeded, with the TS reference's C (made once).
const matmulCases = (() => {
  let cases: { M: number; N: number; K: number; tA: boolean; tB: boolean; acc: boolean; A: Float32Array; B: Float32Array; C: Float32Array; want: Float32Array }[] | undefined;
  return () => {
    if (cases) return cases;
    let seed = 7;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 4294967296) - 0.5;
    cases = [];
    for (const [M, N, K] of [[1, 1, 1], [5, 17, 3], [128, 40, 300], [151, 53, 811], [300, 41, 80], [200, 7, 50], [64, 1, 9]]) {
      for (let v = 0; v < 8; v++) {
        const tA = !!(v & 1), tB = !!(v & 2), acc = !!(v & 4);
        const A = Float32Array.from({ length: M * K }, rnd), B = Float32Array.from({ length: K * N }, rnd), C = Float32Array.from({ length: M * N }, rnd);
        const want = C.slice();
        ref.matmul(want, A, B, M, N, K, tA, tB, acc);
        cases.push({ M, N, K, tA, tB, acc, A, B, C, want });
      }
    }
    return cases;
  };
})();

// Runs the addon's matmul on matmulCases() in a child process with `env` (inputs in on stdin, C
// out on stdout), returning the largest normalized error against the TS reference.
function childMatmulError(env: Record<string, string>): number {
  const cases = matmulCases();
  const script = `
    const a = require(${JSON.stringify(file)});
    const f = new Float32Array(new Uint8Array(require('node:fs').readFileSync(0)).buffer);
    let at = 0;
    const take = (n) => f.subarray(at, (at += n));
    const out = [];
    for (const [M, N, K, tA, tB, acc] of ${JSON.stringify(cases.map((c) => [c.M, c.N, c.K, c.tA, c.tB, c.acc]))}) {
      const A = take(M * K), B = take(K * N), C = take(M * N);
      a.matmul(C, A, B, M, N, K, tA, tB, acc);
      out.push(Buffer.from(C.buffer, C.byteOffset, C.byteLength));
    }
    process.stdout.write(Buffer.concat(out));`;
  const input = Buffer.concat(cases.flatMap((c) => [c.A, c.B, c.C].map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength))));
  const r = spawnSync(process.execPath, ['-e', script], { input, maxBuffer: 1 << 26, env: { ...process.env, ...env } });
  expect(r.status, String(r.stderr)).toBe(0);
  const got = new Float32Array(new Uint8Array(r.stdout).buffer);
  expect(got.length).toBe(cases.reduce((n, c) => n + c.M * c.N, 0));
  let worst = 0, at = 0;
  for (const c of cases) worst = Math.max(worst, normErr(got.subarray(at, (at += c.M * c.N)), c.want));
  return worst;
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

  const envs: Record<string, string>[] = [{}, { DISTILLERY_GEMM_ISA: 'avx2' }, { DISTILLERY_GEMM_TILE: '4x24' }, { DISTILLERY_GEMM_ISA: 'baseline' }];
  for (const env of envs) {
    it(`matmul agrees with the TS reference on every variant (${JSON.stringify(env)})`, () => {
      expect(childMatmulError(env)).toBeLessThan(1e-5 * 30);
    });
  }
  // The conformance cases of the kernels that sit on the sgemm (and their neighbours), in a child
  // process with the sgemm capped: native and native-mt, backend and plain buffers.
  const dist = join(import.meta.dirname, '..', 'dist');
  const convKernels = ['conv2d', 'conv2d_backward_data', 'conv2d_backward_weight', 'maxpool2d', 'maxpool2d_backward', 'avgpool2d', 'avgpool2d_backward', 'batchnorm_stats', 'batchnorm', 'batchnorm_backward_reduce', 'batchnorm_backward'];
  function childConvFailures(env: Record<string, string>, kernels = convKernels): { matmul: string; matmul_int8: string; failures: string[] } {
    const script = `
      const { conformanceCases, check, placeOn, plainPlace } = await import(${JSON.stringify(join(dist, 'kernels', 'cases.js'))});
      const { createNativeBackend, createNativeMtBackend } = await import(${JSON.stringify(join(dist, 'backends', 'native', 'native-backend.js'))});
      const bes = [createNativeBackend(${JSON.stringify(file)}), createNativeMtBackend(2, ${JSON.stringify(file)})];
      const failures = [];
      for (const be of bes) for (const k of ${JSON.stringify(kernels)}) for (const c of conformanceCases(k))
        for (const place of [placeOn(be), plainPlace]) { const e = check(c, be, place); if (e) failures.push(be.name + ' ' + k + ' ' + c.what + ': ' + e); }
      const p = require(${JSON.stringify(file)}).probe();
      process.stdout.write(JSON.stringify({ matmul: p.matmul, matmul_int8: p.matmul_int8, failures }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);\n${script}`], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: { ...process.env, ...env },
    });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  }
  for (const env of [{ DISTILLERY_GEMM_ISA: 'avx2' }, { DISTILLERY_GEMM_ISA: 'baseline' }]) {
    it.skipIf(!existsSync(join(dist, 'kernels', 'cases.js')))(`conv/pool/batch-norm conformance cases on native and native-mt (${JSON.stringify(env)})`, () => {
      const { matmul, failures } = childConvFailures(env);
      if (env.DISTILLERY_GEMM_ISA === 'baseline') expect(matmul).toBe('baseline 4x8');
      else if (probe().matmul !== 'baseline 4x8') expect(matmul).toBe('avx2 6x16');
      expect(failures).toEqual([]);
    }, 120_000);
  }
  // int8: the matmul_int8 kernel follows the same cap (avx512-vnni, else avx2 widened to int16 +
  // vpmaddwd, else scalar); every path must give exact sums, the saturating conformance cases
  // (all pairs 255·(−128) and 255·127, K = 32768) included, on native and native-mt.
  it('reports the matmul_int8 kernel the CPU flags and DISTILLERY_GEMM_ISA call for', () => {
    const flags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
    const has = (f: string) => new RegExp(`\\b${f}\\b`).test(flags);
    const p = probe();
    expect(p.matmul_int8).not.toMatch(/failed/);
    if (has('avx512_vnni') && has('avx512bw') && has('avx512vl')) expect(p.matmul_int8).toBe('avx512-vnni 4x4');
    else if (has('avx2')) expect(p.matmul_int8).toBe('avx2 2x4');
    if (has('avx2')) expect(probe({ DISTILLERY_GEMM_ISA: 'avx2' }).matmul_int8).toBe('avx2 2x4');
    expect(probe({ DISTILLERY_GEMM_ISA: 'baseline' }).matmul_int8).toBe('scalar');
  });
  const int8Kernels = ['quantize_int8', 'matmul_int8', 'conv2d_int8', 'dequantize_int32'];
  for (const env of [{}, { DISTILLERY_GEMM_ISA: 'avx2' }, { DISTILLERY_GEMM_ISA: 'baseline' }] as Record<string, string>[]) {
    it.skipIf(!existsSync(join(dist, 'kernels', 'cases.js')))(`int8 conformance cases, exact, on native and native-mt (${JSON.stringify(env)})`, () => {
      const { matmul_int8, failures } = childConvFailures(env, int8Kernels);
      if (env.DISTILLERY_GEMM_ISA === 'baseline') expect(matmul_int8).toBe('scalar');
      else if (env.DISTILLERY_GEMM_ISA === 'avx2' && probe().matmul_int8 !== 'scalar') expect(matmul_int8).toBe('avx2 2x4');
      expect(failures).toEqual([]);
    }, 120_000);
  }
});
