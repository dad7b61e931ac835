// The wasm backends' public surface and their registry factories (wasm 10, wasm-simd 20, wasm-relaxed 30,
// and the threaded wasm-simd-mt 18, wasm-relaxed-mt 28).

import type { BackendFactory, WorkerShare } from '../backend.js';
import { attachWasmBackend, instantiateWasmBackend, type WasmBackend } from './wasm-backend.js';
import { WASM_BACKEND_NAME, type WasmVariant } from './loader.js';
import { WasmPool } from './pool.js';

export { Arena, ArenaError } from './arena.js';
export { WasmPool } from './pool.js';
export { WasmBackend, attachWasmBackend, createWasmBackend, instantiateWasmBackend, type WasmBackendOptions } from './wasm-backend.js';
export { compileWasm, compileWasmSync, createSharedMemory, probeWasm, wasmPath, WASM_BACKEND_NAME, WASM_MAX_PAGES, WASM_VARIANTS, type WasmVariant } from './loader.js';

const PRIORITY: Record<WasmVariant, number> = { scalar: 10, simd: 20, relaxed: 30 };

/**
 * A `-mt` backend (wasm-simd-mt, wasm-relaxed-mt): the build with its matmuls and optimizer steps
 * split over `threads` threads (this one and helper workers on the same memory), as native-mt
 * does in C++. It trains in one worker (maxWorkers 1): for small batches, splitting the weights
 * between the cores beats splitting the batch, whose every worker reads all the weights.
 */
export async function createWasmMtBackend(variant: 'simd' | 'relaxed', threads?: number): Promise<WasmBackend> {
  const name = `${WASM_BACKEND_NAME[variant]}-mt`;
  const be = await instantiateWasmBackend(variant, { name });
  be.attachPool(await WasmPool.start(be, variant, name, threads));
  return be;
}

/** Registry factories of the three builds and the two threaded ones; each fails with BackendUnavailableError saying why. */
export function wasmBackendFactories(): BackendFactory[] {
  const mt = (['relaxed', 'simd'] as const).map((v) => ({
    name: `${WASM_BACKEND_NAME[v]}-mt`,
    priority: PRIORITY[v] - 2,
    create: () => createWasmMtBackend(v),
  }));
  return [...mt, ...(['relaxed', 'simd', 'scalar'] as const).map((v) => ({
    name: WASM_BACKEND_NAME[v],
    priority: PRIORITY[v],
    create: () => instantiateWasmBackend(v),
    // A worker thread: the main thread's memory and module, and an arena slot of its own.
    attach: async (share: WorkerShare) => attachWasmBackend(v, share),
  }))];
}
