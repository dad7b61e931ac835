// The conformance suite: every kernel on every registered backend against the TS reference, on the
// cases of the operator-case table (src/kernels/cases.ts), which `distill bench` also runs.
// Written once; a backend joins by registering in src/backends/index.ts.

import { describe, expect, it } from 'vitest';
import { check, conformanceCases, OP_CASES, placeOn, plainPlace } from '../src/kernels/cases.js';
import { KERNEL_NAMES } from '../src/kernels/signatures.js';
import { backendsUnderTest } from './util.js';

const { backends, missing } = await backendsUnderTest();

it('every required backend loads', () => {
  expect(missing).toEqual([]);
});

it('every backend implements every kernel', () => {
  for (const be of backends) for (const k of KERNEL_NAMES) expect(typeof be[k], `${be.name}.${k}`).toBe('function');
});

it('the case table keeps every case (1197 + 203 conv/pool/batch-norm + 82 int8 per backend and kind of buffer)', () => {
  const counts = Object.fromEntries(KERNEL_NAMES.map((k) => [k, conformanceCases(k).length]));
  expect(counts).toEqual({
    matmul: 104, bias_add: 5, bias_grad: 10, relu: 18, relu_backward: 18, gelu: 78, gelu_backward: 78,
    softmax_t: 128, log_softmax_t: 128, kd_loss: 512, cross_entropy: 64, mse: 18, sgd_step: 27, adamw_step: 9,
    conv2d: 22, conv2d_backward_data: 22, conv2d_backward_weight: 44, maxpool2d: 22, maxpool2d_backward: 11, avgpool2d: 11, avgpool2d_backward: 11,
    batchnorm_stats: 8, batchnorm: 16, batchnorm_backward_reduce: 8, batchnorm_backward: 16,
    quantize_int8: 36, matmul_int8: 17, conv2d_int8: 23, dequantize_int32: 6,
  });
  for (const k of KERNEL_NAMES) for (const c of conformanceCases(k)) expect(c.kernel).toBe(k);
});

/** bench's cases at a small batch: the shapes of workload W and the optimizer steps over W's student. */
const BENCH_N = 3;
const benchCases = KERNEL_NAMES.flatMap((k) => [...OP_CASES[k].bench(BENCH_N), ...(OP_CASES[k].benchOnce?.(true) ?? [])]);

describe.each(backends.map((b) => [b.name, b]))('%s', (_name, be) => {
  for (const owned of [true, false]) {
    const tag = owned ? 'backend buffers' : 'foreign buffers';
    const place = () => (owned ? placeOn(be) : plainPlace);

    for (const kernel of KERNEL_NAMES) {
      it(`${kernel} (${tag})`, () => {
        for (const c of conformanceCases(kernel)) expect(check(c, be, place()), `${kernel} ${c.what}`).toBeNull();
      });
    }

    it(`bench's cases at N=${BENCH_N} (${tag})`, () => {
      for (const c of benchCases) expect(check(c, be, place()), `${c.op} ${c.shape}`).toBeNull();
    });
  }
});
