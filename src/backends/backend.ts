// The Backend interface: the kernel contract plus storage. Everything above src/backends
// talks to a Backend only through this interface.

import type { F32, I32, I8, Kernels, U8 } from '../kernels/signatures.js';

/**
 * A backend owns its storage: `alloc` hands out Float32Array views the kernels can use without
 * copies (WASM: views into its linear memory; native/js: views on a SharedArrayBuffer).
 * Kernels must also accept arrays allocated elsewhere (they may copy them, more slowly), so
 * the conformance suite and small callers can pass plain Float32Arrays.
 */
export interface Backend extends Kernels {
  /** Registry name: 'js', 'wasm', 'wasm-simd', 'wasm-relaxed', 'native', 'cuda'. */
  readonly name: string;
  /** One line for people: what it is and what it runs on. */
  readonly description: string;
  /** A zero-filled float32 buffer of n elements, 16-byte aligned, owned by this backend. */
  alloc(n: number): F32;
  /** A zero-filled int32 buffer of n elements, owned by this backend. */
  allocInt32(n: number): I32;
  /** A zero-filled uint8 buffer of n elements (quantized activations), 16-byte aligned, owned by this backend. */
  allocUint8(n: number): U8;
  /** A zero-filled int8 buffer of n elements (quantized weights), 16-byte aligned, owned by this backend. */
  allocInt8(n: number): I8;
  /** Give back a buffer from alloc/allocInt32/allocUint8/allocInt8. Using it afterwards is a bug. */
  free(buf: F32 | I32 | U8 | I8): void;
  /**
   * Fills buf with zeros. Optional: callers fall back to buf.fill(0), which V8 runs element by
   * element on SharedArrayBuffer memory (5-10x slower than a memset).
   */
  zero?(buf: F32): void;
  /**
   * Replaces helper threads that failed (the -mt wasm backends), so that a step that failed with
   * WorkerFailure can run again. Optional: backends without helper threads have nothing to replace.
   */
  recover?(): Promise<void>;
  /** Release everything this backend holds (worker pools, device memory). Optional. */
  dispose?(): void;
  /**
   * For data-parallel training: what `workers` worker threads need to make their own instances
   * over this backend's storage (see WorkerShare). Backends whose buffers are plain
   * SharedArrayBuffer views (js, native) need not implement it.
   */
  share?(workers: number, arenaBytes?: number): WorkerShare;
  /**
   * The most worker threads this backend can train with (default: no limit). cuda: 1, since its
   * buffers are device-resident memory that cannot be shared with other threads; native-mt: 1,
   * since it already splits its matmuls over the cores.
   */
  readonly maxWorkers?: number;
  /** Threads one kernel call may use (default 1; native-mt: the machine's cores). */
  readonly threads?: number;
  /** True when `buf` lies in this backend's own storage (backends with one shared memory). */
  owns?(buf: F32 | I32): boolean;
}

/** True when `be` can train with `workers` data-parallel workers (see Backend.maxWorkers). */
export function allowsWorkers(be: Backend, workers: number): boolean {
  return be.maxWorkers === undefined || workers <= be.maxWorkers;
}

/** Why `be` refuses more workers than its maxWorkers (for the errors that say so). */
export function workerLimit(be: Backend): string {
  return `backend ${be.name} trains with at most ${be.maxWorkers} worker${be.maxWorkers! > 1 ? 's' : ''} (it runs threads inside its kernels, or keeps its buffers on a device)`;
}

/**
 * Sent to worker threads (structured-clone safe): the backend's name and, for backends whose
 * storage is one shared WebAssembly.Memory, the memory, the compiled module and the arena
 * slots (in that memory) the workers claim for their own scratch space.
 */
export interface WorkerShare {
  name: string;
  /** A shared WebAssembly.Memory (typed structurally so this file needs no DOM/wasm lib). */
  memory?: { readonly buffer: ArrayBufferLike; grow(delta: number): number };
  /** A compiled WebAssembly.Module. */
  module?: object;
  /** Arena slots [base, base + size) in bytes; a worker claims one by Atomics.add on `claim[0]`. */
  arenas?: { bases: number[]; size: number; claim: Int32Array };
}

/** How a backend is registered: a name, a priority (higher is tried first) and an async factory. */
export interface BackendFactory {
  readonly name: string;
  readonly priority: number;
  /** Creates an instance, or throws BackendUnavailableError with the reason. */
  create(): Promise<Backend>;
  /** In a worker thread: an instance over the storage described by `share` (default: create()). */
  attach?(share: WorkerShare): Promise<Backend>;
}
