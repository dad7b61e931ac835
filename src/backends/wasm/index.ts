// The wasm backends' public surface and their registry factories (wasm 10, wasm-simd 20, wasm-relaxed 30).

import type { BackendFactory } from '../backend.js';
import { instantiateWasmBackend } from './wasm-backend.js';
import { WASM_BACKEND_NAME, type WasmVariant } from './loader.js';

export { Arena, ArenaError } from './arena.js';
export { WasmBackend, createWasmBackend, instantiateWasmBackend, type WasmBackendOptions } from './wasm-backend.js';
export { compileWasm, compileWasmSync, createSharedMemory, probeWasm, wasmPath, WASM_BACKEND_NAME, WASM_MAX_PAGES, WASM_VARIANTS, type WasmVariant } from './loader.js';

const PRIORITY: Record<WasmVariant, number> = { scalar: 10, simd: 20, relaxed: 30 };

/** Registry factories of the three builds; each fails with BackendUnavailableError saying why. */
export function wasmBackendFactories(): BackendFactory[] {
  return (['relaxed', 'simd', 'scalar'] as const).map((v) => ({
    name: WASM_BACKEND_NAME[v],
    priority: PRIORITY[v],
    create: () => instantiateWasmBackend(v),
  }));
}
