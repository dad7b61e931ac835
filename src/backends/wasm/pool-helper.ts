// One helper thread of a `-mt` wasm backend (see pool.ts): an instance of the build on the main
// thread's shared memory, with an arena slot of its own for matmul's packing buffers, running
// the parts it is posted through its control block until told to quit.

import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerShare } from '../backend.js';
import { attachWasmBackend, type ConvArgs } from './wasm-backend.js';
import type { WasmVariant } from './loader.js';
import { controlViews, CTL, OP_ADAMW, OP_CONV, OP_CONV_DATA, OP_CONV_INT8, OP_CONV_WEIGHT, OP_MATMUL, OP_MATMUL_INT8, OP_QUIT, OP_SGD, SPIN } from './pool.js';

const { share, variant, sab } = workerData as { share: WorkerShare; variant: WasmVariant; sab: SharedArrayBuffer };
const be = attachWasmBackend(variant, share);
const x = be.raw;
const { ctl, f64: f, err } = controlViews(sab);
const arg = (i: number) => ctl[CTL.ARGS + i];
parentPort!.postMessage('ready');

let seen = 0;
for (;;) {
  let gen = Atomics.load(ctl, CTL.GEN);
  for (let s = 0; gen === seen && s < SPIN; s++) gen = Atomics.load(ctl, CTL.GEN);
  while (gen === seen) {
    Atomics.wait(ctl, CTL.GEN, seen);
    gen = Atomics.load(ctl, CTL.GEN);
  }
  seen = gen;
  const op = ctl[CTL.OP];
  if (op === OP_QUIT) break;
  try {
    if (op === OP_MATMUL) {
      const M = arg(3), K = arg(5), j0 = arg(9), j1 = arg(10);
      x.matmul_cols(arg(0), arg(1), arg(2), M, arg(4), K, arg(6), arg(7), arg(8), be.scratch(x.matmul_workspace(M, j1 - j0, K)), j0, j1);
    } else if (op === OP_SGD) {
      x.sgd_step(arg(0), arg(1), arg(2), arg(3), f[0], f[1], f[2], arg(4));
    } else if (op === OP_ADAMW) {
      x.adamw_step(arg(0), arg(1), arg(2), arg(3), arg(4), f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
    } else if (op === OP_CONV) {
      // y, x, w, bias, then N, C, H, W, OC, k, stride, pad, groups
      const p = Array.from({ length: 9 }, (_, i) => arg(4 + i)) as ConvArgs;
      x.conv2d(arg(0), arg(1), arg(2), arg(3), ...p, be.convScratch(p));
    } else if (op === OP_CONV_DATA) {
      // dx, dy, w, then N, C, H, W, OC, k, stride, pad, groups
      const p = Array.from({ length: 9 }, (_, i) => arg(3 + i)) as ConvArgs;
      x.conv2d_backward_data(arg(0), arg(1), arg(2), ...p, be.convScratch(p));
    } else if (op === OP_CONV_WEIGHT) {
      // dw, dbias, dy, x, then N, C, H, W, OC, k, stride, pad, groups, accumulate, r0, r1 (dbias only when r0 = 0)
      const p = Array.from({ length: 9 }, (_, i) => arg(4 + i)) as ConvArgs;
      x.conv2d_backward_weight_rows(arg(0), arg(1), arg(2), arg(3), ...p, arg(13), be.convScratch(p), arg(14), arg(15));
    } else if (op === OP_MATMUL_INT8) {
      // acc, a, w, M, N, K, j0, j1
      x.matmul_int8_cols(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), be.scratch(x.matmul_int8_workspace(arg(3), arg(4), arg(5))), arg(6), arg(7));
    } else if (op === OP_CONV_INT8) {
      // acc, x, w, then N, C, H, W, OC, k, stride, pad, groups, xZero
      const p = Array.from({ length: 9 }, (_, i) => arg(3 + i)) as ConvArgs;
      x.conv2d_int8(arg(0), arg(1), arg(2), ...p, arg(12), be.convInt8Scratch(p));
    } else {
      throw new Error(`unknown operation ${op}`);
    }
    ctl[CTL.STATUS] = 0;
  } catch (e) {
    const text = new TextEncoder().encode(String((e as Error)?.message ?? e).slice(0, CTL.ERR_BYTES - 1));
    err.fill(0);
    err.set(text.subarray(0, CTL.ERR_BYTES - 1));
    ctl[CTL.STATUS] = 1;
  }
  Atomics.store(ctl, CTL.DONE, gen);
  Atomics.notify(ctl, CTL.DONE);
}
