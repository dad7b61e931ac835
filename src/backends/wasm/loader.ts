// Loading the three AssemblyScript builds (build/wasm/{scalar,simd,relaxed}.wasm): feature probes
// with WebAssembly.validate on tiny modules, relaxed SIMD enabled on Node 20 by a V8 flag (main
// thread only), compiled modules cached per build, shared memories created here.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';
import { BackendUnavailableError } from '../../errors.js';
import './webassembly-types.js';

export type WasmVariant = 'scalar' | 'simd' | 'relaxed';
export const WASM_VARIANTS: readonly WasmVariant[] = ['scalar', 'simd', 'relaxed'];
/** Registry name of each build. */
export const WASM_BACKEND_NAME: Record<WasmVariant, string> = { scalar: 'wasm', simd: 'wasm-simd', relaxed: 'wasm-relaxed' };
/** Pages (64 KiB) every memory may grow to: 65536 pages = the whole 4 GiB wasm32 space. */
export const WASM_MAX_PAGES = 65536;

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const V128_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];
/** (module (func (result v128) v128.const 0)) */
const PROBE_SIMD = new Uint8Array([...HEADER, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00, ...V128_ZERO, 0x0b]);
/** (module (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)))) */
const PROBE_RELAXED = new Uint8Array([...HEADER, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x3d, 0x01, 0x3b, 0x00, ...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0x85, 0x02, 0x0b]);
/** (module (memory 1 1 shared)) */
const PROBE_THREADS = new Uint8Array([...HEADER, 0x05, 0x04, 0x01, 0x03, 0x01, 0x01]);

let relaxedFlagTried = false;

/** Why this build cannot run here, or null when it can. Enables relaxed SIMD on Node 20 if needed. */
export function probeWasm(variant: WasmVariant): string | null {
  if (typeof WebAssembly !== 'object') return 'WebAssembly is not available in this runtime';
  if (!WebAssembly.validate(PROBE_THREADS)) return 'this engine does not validate shared memories (WebAssembly threads)';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    return `cannot create a shared WebAssembly.Memory: ${(e as Error).message}`;
  }
  if (variant === 'scalar') return null;
  if (!WebAssembly.validate(PROBE_SIMD)) return 'this engine does not validate WebAssembly SIMD (v128)';
  if (variant === 'simd') return null;
  if (WebAssembly.validate(PROBE_RELAXED)) return null;
  if (!isMainThread) return 'relaxed SIMD is not enabled in this worker (the V8 flag can only be set in the main thread before compiling)';
  if (!relaxedFlagTried) {
    relaxedFlagTried = true;
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // reported below by the probe
    }
  }
  if (WebAssembly.validate(PROBE_RELAXED)) return null;
  return `this engine does not validate relaxed SIMD (f32x4.relaxed_madd), even with --experimental-wasm-relaxed-simd (Node ${process.versions.node})`;
}

/**
 * Path of a build's .wasm: $DISTILLERY_WASM_DIR/<variant>.wasm when set, else build/wasm/ of this
 * package (src/backends/wasm and dist/backends/wasm are both 3 levels below the root).
 */
export function wasmPath(variant: WasmVariant): URL {
  const dir = process.env.DISTILLERY_WASM_DIR;
  if (dir) return pathToFileURL(join(resolve(dir), `${variant}.wasm`));
  return new URL(`../../../build/wasm/${variant}.wasm`, import.meta.url);
}

/** Compiled modules by file URL. */
const modules = new Map<string, WebAssembly.Module>();

function unavailable(variant: WasmVariant, reason: string): BackendUnavailableError {
  return new BackendUnavailableError(WASM_BACKEND_NAME[variant], reason);
}

function checkProbe(variant: WasmVariant): void {
  const why = probeWasm(variant);
  if (why) throw unavailable(variant, why);
}

function readBuild(variant: WasmVariant, url: URL, read: (u: URL) => Buffer): Buffer {
  try {
    return read(url);
  } catch (e) {
    throw unavailable(variant, `cannot read ${fileURLToPath(url)} (run \`npm run build:wasm\`): ${(e as Error).message}`);
  }
}

function cannotCompile(variant: WasmVariant, url: URL, e: unknown): BackendUnavailableError {
  return unavailable(variant, `cannot compile ${fileURLToPath(url)}: ${(e as Error).message}`);
}

/** A build's module when compiled before, else (once the probe passes) its file's bytes. */
function cachedOrBytes(variant: WasmVariant): { url: URL; module: WebAssembly.Module } | { url: URL; module?: undefined; bytes: Buffer } {
  const url = wasmPath(variant);
  const module = modules.get(url.href);
  if (module) return { url, module };
  checkProbe(variant);
  return { url, bytes: readBuild(variant, url, readFileSync) };
}

function remember(url: URL, m: WebAssembly.Module): WebAssembly.Module {
  modules.set(url.href, m);
  return m;
}

/** Compiles (once per process) a build; throws BackendUnavailableError with the reason. */
export async function compileWasm(variant: WasmVariant): Promise<WebAssembly.Module> {
  const b = cachedOrBytes(variant);
  if (b.module) return b.module;
  try {
    return remember(b.url, await WebAssembly.compile(b.bytes));
  } catch (e) {
    throw cannotCompile(variant, b.url, e);
  }
}

/** Synchronous compileWasm (for workers and simple callers). */
export function compileWasmSync(variant: WasmVariant): WebAssembly.Module {
  const b = cachedOrBytes(variant);
  if (b.module) return b.module;
  try {
    return remember(b.url, new WebAssembly.Module(b.bytes));
  } catch (e) {
    throw cannotCompile(variant, b.url, e);
  }
}

/** A shared memory every build can import (initial pages ≥ 1, maximum 4 GiB by default). */
export function createSharedMemory(initialPages = 16, maximumPages = WASM_MAX_PAGES): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: Math.max(1, initialPages), maximum: maximumPages, shared: true });
}
