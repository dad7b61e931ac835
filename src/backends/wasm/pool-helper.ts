// One helper thread of a `-mt` wasm backend (see pool.ts): an instance of the build on the main
// thread's shared memory, with an arena slot of its own for matmul's packing buffers, running
// the parts it is posted through its control block until told to quit.

import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerShare } from '../backend.js';
import { createWasmBackend } from './wasm-backend.js';
import type { WasmVariant } from './loader.js';
import { CTL, OP_ADAMW, OP_MATMUL, OP_QUIT, OP_SGD, SPIN } from './pool.js';

const { share, variant, sab } = workerData as { share: WorkerShare; variant: WasmVariant; sab: SharedArrayBuffer };
const a = share.arenas!;
const slot = Atomics.add(a.claim, 0, 1);
if (slot >= a.bases.length) throw new Error(`all ${a.bases.length} arena slots are taken`);
const be = createWasmBackend(variant, { module: share.module as WebAssembly.Module, memory: share.memory as WebAssembly.Memory, base: a.bases[slot], limit: a.bases[slot] + a.size });
const x = be.raw;
const ctl = new Int32Array(sab, 0, 16), f = new Float64Array(sab, CTL.F64_OFFSET, 8), err = new Uint8Array(sab, CTL.ERR_OFFSET, CTL.ERR_BYTES);
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
      x.matmulCols(arg(0), arg(1), arg(2), M, arg(4), K, arg(6), arg(7), arg(8), be.scratch(x.matmulWorkspace(M, j1 - j0, K)), j0, j1);
    } else if (op === OP_SGD) {
      x.sgdStep(arg(0), arg(1), arg(2), arg(3), f[0], f[1], f[2], arg(4));
    } else if (op === OP_ADAMW) {
      x.adamwStep(arg(0), arg(1), arg(2), arg(3), arg(4), f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
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
