// The wasm backends (`wasm`, `wasm-simd`, `wasm-relaxed`): the AssemblyScript kernels of one
// build, instantiated on a shared WebAssembly.Memory. Buffers from alloc are Float32Array views
// into that memory (used in place); arrays from elsewhere are copied through arena scratch.
// Several instances (threads) can share one memory with disjoint arenas [base, limit).

import type { Backend, WorkerShare } from '../backend.js';
import { convOut, poolOut, type AdamWParams, type ConvParams, type F32, type I32, type I8, type PoolParams, type U8, type SgdParams } from '../../kernels/signatures.js';
import { BackendUnavailableError, ShapeError } from '../../errors.js';
import { Arena } from './arena.js';
import type { WasmPool } from './pool.js';
import { compileWasm, compileWasmSync, createSharedMemory, WASM_BACKEND_NAME, type WasmVariant } from './loader.js';

type Arr = F32 | I32 | U8 | I8;
type Ptr = number;

/** The raw exports of assembly/index.ts (pointers are byte offsets, bools are 0/1). */
export interface WasmExports {
  heap_base(): number;
  matmul_workspace(M: number, N: number, K: number): number;
  matmul(C: Ptr, A: Ptr, B: Ptr, M: number, N: number, K: number, tA: number, tB: number, acc: number, work: Ptr): void;
  matmul_cols(C: Ptr, A: Ptr, B: Ptr, M: number, N: number, K: number, tA: number, tB: number, acc: number, work: Ptr, j0: number, j1: number): void;
  bias_add(y: Ptr, b: Ptr, N: number, OC: number): void;
  bias_grad(db: Ptr, dy: Ptr, N: number, OC: number, acc: number): void;
  relu(o: Ptr, x: Ptr, n: number): void;
  relu_backward(dx: Ptr, dy: Ptr, x: Ptr, n: number): void;
  gelu(o: Ptr, x: Ptr, n: number): void;
  gelu_backward(dx: Ptr, dy: Ptr, x: Ptr, n: number): void;
  softmax_t(o: Ptr, z: Ptr, N: number, K: number, T: number): void;
  log_softmax_t(o: Ptr, z: Ptr, N: number, K: number, T: number): void;
  kd_loss(d: Ptr, s: Ptr, t: Ptr, N: number, K: number, T: number, alpha: number, t2: number, acc: number): number;
  cross_entropy(d: Ptr, z: Ptr, y: Ptr, N: number, K: number, w: number, acc: number): number;
  mse(d: Ptr, p: Ptr, t: Ptr, n: number, w: number, acc: number): number;
  sgd_step(p: Ptr, g: Ptr, b: Ptr, n: number, lr: number, mom: number, wd: number, nesterov: number): void;
  adamw_step(p: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number): void;
  // Convolutions: ConvParams as (N, C, H, W, OC, k, stride, pad, groups); work: conv2d_workspace(C, H, W, OC, k, stride, pad, groups) bytes.
  conv2d_workspace(C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number): number;
  conv2d(y: Ptr, x: Ptr, w: Ptr, b: Ptr, N: number, C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number, work: Ptr): void;
  conv2d_backward_data(dx: Ptr, dy: Ptr, w: Ptr, N: number, C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number, work: Ptr): void;
  conv2d_backward_weight(dw: Ptr, db: Ptr, dy: Ptr, x: Ptr, N: number, C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number, acc: number, work: Ptr): void;
  conv2d_backward_weight_rows(dw: Ptr, db: Ptr, dy: Ptr, x: Ptr, N: number, C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number, acc: number, work: Ptr, r0: number, r1: number): void;
  // Poolings: PoolParams as (N, C, H, W, kh, kw, stride, pad).
  maxpool2d(y: Ptr, idx: Ptr, x: Ptr, N: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number): void;
  maxpool2d_backward(dx: Ptr, dy: Ptr, idx: Ptr, N: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number): void;
  avgpool2d(y: Ptr, x: Ptr, N: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number): void;
  avgpool2d_backward(dx: Ptr, dy: Ptr, N: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number): void;
  batchnorm_stats(mean: Ptr, m2: Ptr, x: Ptr, N: number, C: number, HW: number): void;
  batchnorm(y: Ptr, x: Ptr, mean: Ptr, invstd: Ptr, gamma: Ptr, beta: Ptr, N: number, C: number, HW: number): void;
  batchnorm_backward_reduce(sumDy: Ptr, sumDyXhat: Ptr, dy: Ptr, x: Ptr, mean: Ptr, invstd: Ptr, N: number, C: number, HW: number): void;
  batchnorm_backward(dx: Ptr, dy: Ptr, x: Ptr, mean: Ptr, invstd: Ptr, gamma: Ptr, sumDy: Ptr, sumDyXhat: Ptr, count: number, N: number, C: number, HW: number): void;
  // int8 (assembly/quant.ts): uint8 activations, int8 weights, exact int32 sums.
  quantize_int8(q: Ptr, x: Ptr, n: number, invScale: number, zeroPoint: number): void;
  matmul_int8_workspace(M: number, N: number, K: number): number;
  matmul_int8(acc: Ptr, a: Ptr, w: Ptr, M: number, N: number, K: number, work: Ptr): void;
  matmul_int8_cols(acc: Ptr, a: Ptr, w: Ptr, M: number, N: number, K: number, work: Ptr, j0: number, j1: number): void;
  conv2d_int8_workspace(C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number): number;
  conv2d_int8(acc: Ptr, x: Ptr, w: Ptr, N: number, C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number, xZero: number, work: Ptr): void;
  dequantize_int32(y: Ptr, acc: Ptr, wsum: Ptr, scale: Ptr, bias: Ptr, zero: number, N: number, C: number, HW: number): void;
}

/** ConvParams as the wasm exports take them: N, C, H, W, OC, k, stride, pad, groups. */
export type ConvArgs = [N: number, C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number];
/** PoolParams as the wasm exports take them: N, C, H, W, kh, kw, stride, pad. */
type PoolArgs = [N: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number];

const isDim = (v: number, min: number) => Number.isInteger(v) && v >= min && v < 2 ** 31;

/** The ConvParams checked (integers, groups dividing C and OC, enough room in every tensor) and as export arguments. */
function convArgs(what: string, p: ConvParams, sizes: [name: string, arr: Arr, need: 'x' | 'y' | 'w' | 'oc'][]): ConvArgs {
  const { N, C, H, W, OC, k, stride, pad, groups } = p;
  if (![N, H, W, pad].every((v) => isDim(v, 0)) || ![C, OC, k, stride, groups].every((v) => isDim(v, 1)) || C % groups || OC % groups) {
    throw new ShapeError(`${what}: bad ConvParams ${JSON.stringify(p)} (integers; C, OC, k, stride, groups >= 1; groups dividing C and OC)`);
  }
  const [OH, OW] = convOut(p);
  const n = { x: N * C * H * W, y: N * OC * Math.max(OH, 0) * Math.max(OW, 0), w: OC * (C / groups) * k * k, oc: OC };
  for (const [name, arr, need] of sizes) if (arr.length < n[need]) throw new ShapeError(`${what}: ${name} has ${arr.length} elements, needs ${n[need]}`);
  return [N, C, H, W, OC, k, stride, pad, groups];
}

/** The PoolParams checked (integers, enough room in every tensor) and as export arguments. */
function poolArgs(what: string, p: PoolParams, sizes: [name: string, arr: Arr, need: 'x' | 'y'][]): PoolArgs {
  const { N, C, H, W, kh, kw, stride, pad } = p;
  if (![N, C, H, W, pad].every((v) => isDim(v, 0)) || ![kh, kw, stride].every((v) => isDim(v, 1))) {
    throw new ShapeError(`${what}: bad PoolParams ${JSON.stringify(p)} (integers; kh, kw, stride >= 1)`);
  }
  const [OH, OW] = poolOut(p);
  const n = { x: N * C * H * W, y: N * C * Math.max(OH, 0) * Math.max(OW, 0) };
  for (const [name, arr, need] of sizes) if (arr.length < n[need]) throw new ShapeError(`${what}: ${name} has ${arr.length} elements, needs ${n[need]}`);
  return [N, C, H, W, kh, kw, stride, pad];
}

/** The batch-norm sizes checked and every tensor's room: (N,C,HW) ones and (C) ones. */
function bnCheck(what: string, N: number, C: number, HW: number, big: Arr[], per: Arr[]): void {
  if (![N, C, HW].every((v) => isDim(v, 0))) throw new ShapeError(`${what}: bad sizes N=${N} C=${C} HW=${HW}`);
  for (const a of big) if (a.length < N * C * HW) throw new ShapeError(`${what}: a (N,C,HW) tensor has ${a.length} elements, needs ${N * C * HW}`);
  for (const a of per) if (a.length < C) throw new ShapeError(`${what}: a (C) tensor has ${a.length} elements, needs ${C}`);
}

export interface WasmBackendOptions {
  /** Compiled build (default: compiled from build/wasm/<variant>.wasm). */
  module?: WebAssembly.Module;
  /** Shared memory to run on (default: a new one). Several instances may share one. */
  memory?: WebAssembly.Memory;
  /** First byte of this instance's arena (default: just above the module's static data). */
  base?: number;
  /** One past the last byte of this instance's arena (default: 4 GiB). */
  limit?: number;
  /** Registry name (default: the build's, e.g. wasm-simd; wasm-simd-mt for the threaded one). */
  name?: string;
}

/** Lowest arena base: above the builds' static data (math tables at 1 KiB..8 KiB). */
const MIN_BASE = 64 * 1024;

export class WasmBackend implements Backend {
  readonly name: string;
  description: string;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly arena: Arena;
  /** The build's exports (byte offsets into the memory); used directly by helper threads (pool-helper.ts). */
  readonly raw: WasmExports;
  /** Helper threads of a `-mt` backend (wasm-simd-mt, wasm-relaxed-mt): see attachPool. */
  private pool: WasmPool | null = null;
  /** `-mt` backends: 1 (they already split their matmuls over the cores). */
  maxWorkers?: number;
  /** `-mt` backends: the threads one matmul or optimizer step runs on. */
  threads?: number;
  /** ArrayBuffers of this memory seen by this thread (one per size the memory has had). */
  private readonly mine = new WeakSet<ArrayBufferLike>();
  private buf: ArrayBufferLike;
  private ws = 0;
  private wsBytes = 0;

  constructor(readonly variant: WasmVariant, module: WebAssembly.Module, opts: WasmBackendOptions = {}) {
    this.name = opts.name ?? WASM_BACKEND_NAME[variant];
    this.module = module;
    this.memory = opts.memory ?? createSharedMemory();
    const inst = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.raw = inst.exports as unknown as WasmExports;
    const base = Math.max(opts.base ?? 0, this.raw.heap_base(), MIN_BASE);
    this.arena = new Arena(this.memory, base, opts.limit);
    this.buf = this.memory.buffer;
    this.mine.add(this.buf);
    const what = { scalar: 'scalar', simd: 'SIMD (f32x4)', relaxed: 'relaxed SIMD (f32x4.relaxed_madd)' }[variant];
    this.description = `AssemblyScript → WebAssembly, ${what}, shared memory`;
  }

  /** The memory's current ArrayBuffer (re-fetched after a grow, by this or any instance). */
  buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.mine.add(b);
    }
    return b;
  }

  /** A float32 view of n elements at byte offset `offset` of this memory (e.g. shared by offset from another thread). */
  viewF32(offset: number, n: number): F32 {
    return new Float32Array(this.buffer(), offset, n);
  }

  viewI32(offset: number, n: number): I32 {
    return new Int32Array(this.buffer(), offset, n);
  }

  /** Byte offset of an array in this memory, or -1 when it lives elsewhere. */
  offsetOf(a: Arr): number {
    return this.owns(a) ? a.byteOffset : -1;
  }

  /** True for views on this backend's memory (kernels then run on them in place). */
  owns(a: Arr): boolean {
    const b = a.buffer;
    if (this.mine.has(b)) return true;
    return this.buffer() === b;
  }

  alloc(n: number): F32 {
    const off = this.arena.alloc(n * 4);
    return new Float32Array(this.buffer(), off, n);
  }

  allocInt32(n: number): I32 {
    const off = this.arena.alloc(n * 4);
    return new Int32Array(this.buffer(), off, n);
  }

  allocUint8(n: number): U8 {
    const off = this.arena.alloc(Math.ceil(n / 4) * 4);
    return new Uint8Array(this.buffer(), off, n);
  }

  allocInt8(n: number): I8 {
    const off = this.arena.alloc(Math.ceil(n / 4) * 4);
    return new Int8Array(this.buffer(), off, n);
  }

  free(buf: Arr): void {
    if (!this.owns(buf)) throw new RangeError(`${this.name}.free: buffer was not allocated by this backend`);
    this.arena.free(buf.byteOffset);
  }

  /**
   * For data-parallel workers: the memory, the compiled module and `workers` + 2 arena slots of
   * `arenaBytes` each (two spares for workers that replace dead ones), carved from this arena.
   */
  share(workers: number, arenaBytes = 64 * 1024 * 1024): WorkerShare {
    const size = Math.ceil(arenaBytes / 16) * 16;
    const bases = Array.from({ length: workers + 2 }, () => this.arena.alloc(size, false));
    return { name: this.name, memory: this.memory, module: this.module, arenas: { bases, size, claim: new Int32Array(new SharedArrayBuffer(4)) } };
  }

  /** The `-mt` backends' helper pool (null for the one-thread builds). */
  get threadPool(): WasmPool | null {
    return this.pool;
  }

  /**
   * Makes this a `-mt` backend: matmuls (split by columns of C) and optimizer steps (split by
   * range) run on this thread and the pool's helpers. Results stay bitwise those of one thread.
   */
  attachPool(pool: WasmPool): void {
    this.pool = pool;
    this.threads = pool.threads;
    this.maxWorkers = 1;
    this.description += `; matmul, convolutions and optimizer steps on ${pool.threads} threads`;
  }

  /**
   * A `-mt` backend whose helper thread died (WorkerFailure): stops the old helpers and starts
   * new ones over the same memory. The trainer calls this once before retrying a failed step.
   */
  async recover(): Promise<void> {
    const old = this.pool;
    if (!old) return;
    old.close();
    const { WasmPool } = await import('./pool.js');
    this.pool = await WasmPool.start(this, old.variant, old.name, old.threads);
  }

  dispose(): void {
    this.pool?.close(); // kept: a split call after this fails with a clear error
    if (this.ws) this.arena.free(this.ws);
    this.ws = 0;
    this.wsBytes = 0;
  }

  /** Runs fn on pointers for arrays, copying the foreign ones in (and the `outs` bitmask ones back out). */
  private slow<R>(arrs: Arr[], outs: number, fn: (p: Ptr[]) => R): R {
    const ptrs: Ptr[] = [];
    const temps = new Map<Arr, Ptr>();
    try {
      for (const a of arrs) {
        if (this.owns(a)) { ptrs.push(a.byteOffset); continue; }
        let p = temps.get(a);
        if (p === undefined) {
          p = this.arena.alloc(a.byteLength, false);
          temps.set(a, p);
          new Uint8Array(this.buffer(), p, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
        }
        ptrs.push(p);
      }
      const r = fn(ptrs);
      arrs.forEach((a, i) => {
        if (outs & (1 << i) && !this.owns(a)) new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(new Uint8Array(this.buffer(), ptrs[i], a.byteLength));
      });
      return r;
    } finally {
      for (const p of temps.values()) this.arena.free(p);
    }
  }

  /** Scratch of at least `bytes` in this instance's arena, kept for the next call (matmul's packing buffers). */
  scratch(bytes: number): Ptr {
    if (bytes > this.wsBytes) {
      if (this.ws) this.arena.free(this.ws);
      this.ws = 0;
      this.ws = this.arena.alloc(bytes, false);
      this.wsBytes = bytes;
    }
    return this.ws;
  }

  // C is (M,N); A is (M,K) or (K,M) if transA; B is (K,N) or (N,K) if transB.
  matmul(C: F32, A: F32, B: F32, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void {
    if (C.length < M * N || A.length < M * K || B.length < K * N) {
      throw new ShapeError(`matmul: C has ${C.length} (need M*N = ${M}*${N}), A ${A.length} (need ${M}*${K}), B ${B.length} (need ${K}*${N})`);
    }
    if (M === 0 || N === 0) return;
    const tA = transA ? 1 : 0, tB = transB ? 1 : 0, acc = accumulate ? 1 : 0;
    if (this.owns(C) && this.owns(A) && this.owns(B)) return this.matmulAt(C.byteOffset, A.byteOffset, B.byteOffset, M, N, K, tA, tB, acc);
    this.slow([C, A, B], 0b1, (p) => this.matmulAt(p[0], p[1], p[2], M, N, K, tA, tB, acc));
  }

  /** matmul on byte offsets: over the helper threads when this is a `-mt` backend and the product is large enough, else here. */
  private matmulAt(c: Ptr, a: Ptr, b: Ptr, M: number, N: number, K: number, tA: number, tB: number, acc: number): void {
    if (this.pool?.matmul(this, c, a, b, M, N, K, tA, tB, acc)) return;
    this.raw.matmul(c, a, b, M, N, K, tA, tB, acc, this.scratch(this.raw.matmul_workspace(M, N, K)));
  }

  // y is (N,OC), bias is (OC).
  bias_add(y: F32, bias: F32, N: number, OC: number): void {
    if (this.owns(y) && this.owns(bias)) return this.raw.bias_add(y.byteOffset, bias.byteOffset, N, OC);
    this.slow([y, bias], 0b1, (p) => this.raw.bias_add(p[0], p[1], N, OC));
  }

  // dbias is (OC), dy is (N,OC).
  bias_grad(dbias: F32, dy: F32, N: number, OC: number, accumulate: boolean): void {
    const acc = accumulate ? 1 : 0;
    if (this.owns(dbias) && this.owns(dy)) return this.raw.bias_grad(dbias.byteOffset, dy.byteOffset, N, OC, acc);
    this.slow([dbias, dy], 0b1, (p) => this.raw.bias_grad(p[0], p[1], N, OC, acc));
  }

  // out, inp are (n).
  relu(out: F32, inp: F32, n: number): void {
    if (this.owns(out) && this.owns(inp)) return this.raw.relu(out.byteOffset, inp.byteOffset, n);
    this.slow([out, inp], 0b1, (p) => this.raw.relu(p[0], p[1], n));
  }

  // dinp, dout, inp are (n).
  relu_backward(dinp: F32, dout: F32, inp: F32, n: number): void {
    if (this.owns(dinp) && this.owns(dout) && this.owns(inp)) return this.raw.relu_backward(dinp.byteOffset, dout.byteOffset, inp.byteOffset, n);
    this.slow([dinp, dout, inp], 0b1, (p) => this.raw.relu_backward(p[0], p[1], p[2], n));
  }

  // out, inp are (n).
  gelu(out: F32, inp: F32, n: number): void {
    if (this.owns(out) && this.owns(inp)) return this.raw.gelu(out.byteOffset, inp.byteOffset, n);
    this.slow([out, inp], 0b1, (p) => this.raw.gelu(p[0], p[1], n));
  }

  // dinp, dout, inp are (n).
  gelu_backward(dinp: F32, dout: F32, inp: F32, n: number): void {
    if (this.owns(dinp) && this.owns(dout) && this.owns(inp)) return this.raw.gelu_backward(dinp.byteOffset, dout.byteOffset, inp.byteOffset, n);
    this.slow([dinp, dout, inp], 0b1, (p) => this.raw.gelu_backward(p[0], p[1], p[2], n));
  }

  // out, logits are (N,K).
  softmax_t(out: F32, logits: F32, N: number, K: number, T: number): void {
    if (this.owns(out) && this.owns(logits)) return this.raw.softmax_t(out.byteOffset, logits.byteOffset, N, K, T);
    this.slow([out, logits], 0b1, (p) => this.raw.softmax_t(p[0], p[1], N, K, T));
  }

  // out, logits are (N,K).
  log_softmax_t(out: F32, logits: F32, N: number, K: number, T: number): void {
    if (this.owns(out) && this.owns(logits)) return this.raw.log_softmax_t(out.byteOffset, logits.byteOffset, N, K, T);
    this.slow([out, logits], 0b1, (p) => this.raw.log_softmax_t(p[0], p[1], N, K, T));
  }

  // dS, s, t are (N,K).
  kd_loss(dS: F32, s: F32, t: F32, N: number, K: number, T: number, alpha: number, scaleT2: boolean, accumulate: boolean): number {
    const t2 = scaleT2 ? 1 : 0, acc = accumulate ? 1 : 0;
    if (this.owns(dS) && this.owns(s) && this.owns(t)) return this.raw.kd_loss(dS.byteOffset, s.byteOffset, t.byteOffset, N, K, T, alpha, t2, acc);
    return this.slow([dS, s, t], 0b1, (p) => this.raw.kd_loss(p[0], p[1], p[2], N, K, T, alpha, t2, acc));
  }

  // dlogits, logits are (N,K); labels is (N).
  cross_entropy(dlogits: F32, logits: F32, labels: I32, N: number, K: number, weight: number, accumulate: boolean): number {
    for (let n = 0; n < N; n++) {
      const y = labels[n];
      if (!(y >= 0 && y < K)) throw new RangeError(`cross_entropy: labels[${n}] = ${y}, expected an integer in [0, ${K})`);
    }
    const acc = accumulate ? 1 : 0;
    if (this.owns(dlogits) && this.owns(logits) && this.owns(labels)) return this.raw.cross_entropy(dlogits.byteOffset, logits.byteOffset, labels.byteOffset, N, K, weight, acc);
    return this.slow([dlogits, logits, labels], 0b1, (p) => this.raw.cross_entropy(p[0], p[1], p[2], N, K, weight, acc));
  }

  // dpred, pred, target are (n).
  mse(dpred: F32, pred: F32, target: F32, n: number, weight: number, accumulate: boolean): number {
    const acc = accumulate ? 1 : 0;
    if (this.owns(dpred) && this.owns(pred) && this.owns(target)) return this.raw.mse(dpred.byteOffset, pred.byteOffset, target.byteOffset, n, weight, acc);
    return this.slow([dpred, pred, target], 0b1, (p) => this.raw.mse(p[0], p[1], p[2], n, weight, acc));
  }

  // params, grads, momentumBuf are (n).
  sgd_step(params: F32, grads: F32, momentumBuf: F32, n: number, hp: SgdParams): void {
    const { lr, momentum, weightDecay } = hp;
    const nest = hp.nesterov ? 1 : 0;
    const update = (p: Ptr, g: Ptr, b: Ptr) => {
      if (!this.pool?.sgd_step(this, p, g, b, n, lr, momentum, weightDecay, nest)) this.raw.sgd_step(p, g, b, n, lr, momentum, weightDecay, nest);
    };
    if (this.owns(params) && this.owns(grads) && this.owns(momentumBuf)) return update(params.byteOffset, grads.byteOffset, momentumBuf.byteOffset);
    this.slow([params, grads, momentumBuf], 0b101, (p) => update(p[0], p[1], p[2]));
  }

  // params, grads, m, v are (n).
  adamw_step(params: F32, grads: F32, m: F32, v: F32, n: number, hp: AdamWParams): void {
    const { lr, beta1, beta2, eps, weightDecay, step } = hp;
    const bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
    const update = (p: Ptr, g: Ptr, mp: Ptr, vp: Ptr) => {
      if (!this.pool?.adamw_step(this, p, g, mp, vp, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2)) this.raw.adamw_step(p, g, mp, vp, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2);
    };
    if (this.owns(params) && this.owns(grads) && this.owns(m) && this.owns(v)) return update(params.byteOffset, grads.byteOffset, m.byteOffset, v.byteOffset);
    this.slow([params, grads, m, v], 0b1101, (p) => update(p[0], p[1], p[2], p[3]));
  }

  /** fn on the arrays' offsets: in place when all live in this memory, else through arena copies (`outs`: bitmask of outputs to copy back). */
  private on<R>(arrs: Arr[], outs: number, fn: (p: Ptr[]) => R): R {
    if (arrs.every((a) => this.owns(a))) return fn(arrs.map((a) => a.byteOffset));
    return this.slow(arrs, outs, fn);
  }

  /** Scratch for the convolutions' GEMM paths (a column block and matmul's packing buffers). */
  convScratch(a: ConvArgs): Ptr {
    return this.scratch(this.raw.conv2d_workspace(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]));
  }

  // y is (N,OC,OH,OW); x is (N,C,H,W); w is (OC,C/groups,k,k); bias is (OC).
  conv2d(y: F32, x: F32, w: F32, bias: F32, p: ConvParams): void {
    const a = convArgs('conv2d', p, [['y', y, 'y'], ['x', x, 'x'], ['w', w, 'w'], ['bias', bias, 'oc']]);
    this.on([y, x, w, bias], 0b1, (q) => {
      if (!this.pool?.conv2d(this, q[0], q[1], q[2], q[3], a)) this.raw.conv2d(q[0], q[1], q[2], q[3], ...a, this.convScratch(a));
    });
  }

  // dx is (N,C,H,W); dy is (N,OC,OH,OW); w is (OC,C/groups,k,k).
  conv2d_backward_data(dx: F32, dy: F32, w: F32, p: ConvParams): void {
    const a = convArgs('conv2d_backward_data', p, [['dx', dx, 'x'], ['dy', dy, 'y'], ['w', w, 'w']]);
    this.on([dx, dy, w], 0b1, (q) => {
      if (!this.pool?.conv2d_backward_data(this, q[0], q[1], q[2], a)) this.raw.conv2d_backward_data(q[0], q[1], q[2], ...a, this.convScratch(a));
    });
  }

  // dw is (OC,C/groups,k,k); dbias is (OC); dy is (N,OC,OH,OW); x is (N,C,H,W).
  conv2d_backward_weight(dw: F32, dbias: F32, dy: F32, x: F32, p: ConvParams, accumulate: boolean): void {
    const a = convArgs('conv2d_backward_weight', p, [['dw', dw, 'w'], ['dbias', dbias, 'oc'], ['dy', dy, 'y'], ['x', x, 'x']]);
    const acc = accumulate ? 1 : 0;
    this.on([dw, dbias, dy, x], 0b11, (q) => {
      if (!this.pool?.conv2d_backward_weight(this, q[0], q[1], q[2], q[3], a, acc)) this.raw.conv2d_backward_weight(q[0], q[1], q[2], q[3], ...a, acc, this.convScratch(a));
    });
  }

  // y, idx are (N,C,OH,OW); x is (N,C,H,W).
  maxpool2d(y: F32, idx: I32, x: F32, p: PoolParams): void {
    const a = poolArgs('maxpool2d', p, [['y', y, 'y'], ['idx', idx, 'y'], ['x', x, 'x']]);
    this.on([y, idx, x], 0b11, (q) => this.raw.maxpool2d(q[0], q[1], q[2], ...a));
  }

  // dx is (N,C,H,W); dy, idx are (N,C,OH,OW).
  maxpool2d_backward(dx: F32, dy: F32, idx: I32, p: PoolParams): void {
    const a = poolArgs('maxpool2d_backward', p, [['dx', dx, 'x'], ['dy', dy, 'y'], ['idx', idx, 'y']]);
    this.on([dx, dy, idx], 0b1, (q) => this.raw.maxpool2d_backward(q[0], q[1], q[2], ...a));
  }

  // y is (N,C,OH,OW); x is (N,C,H,W).
  avgpool2d(y: F32, x: F32, p: PoolParams): void {
    const a = poolArgs('avgpool2d', p, [['y', y, 'y'], ['x', x, 'x']]);
    this.on([y, x], 0b1, (q) => this.raw.avgpool2d(q[0], q[1], ...a));
  }

  // dx is (N,C,H,W); dy is (N,C,OH,OW).
  avgpool2d_backward(dx: F32, dy: F32, p: PoolParams): void {
    const a = poolArgs('avgpool2d_backward', p, [['dx', dx, 'x'], ['dy', dy, 'y']]);
    this.on([dx, dy], 0b1, (q) => this.raw.avgpool2d_backward(q[0], q[1], ...a));
  }

  // mean, m2 are (C); x is (N,C,HW).
  batchnorm_stats(mean: F32, m2: F32, x: F32, N: number, C: number, HW: number): void {
    bnCheck('batchnorm_stats', N, C, HW, [x], [mean, m2]);
    this.on([mean, m2, x], 0b11, (q) => this.raw.batchnorm_stats(q[0], q[1], q[2], N, C, HW));
  }

  // y, x are (N,C,HW); mean, invstd, gamma, beta are (C).
  batchnorm(y: F32, x: F32, mean: F32, invstd: F32, gamma: F32, beta: F32, N: number, C: number, HW: number): void {
    bnCheck('batchnorm', N, C, HW, [y, x], [mean, invstd, gamma, beta]);
    this.on([y, x, mean, invstd, gamma, beta], 0b1, (q) => this.raw.batchnorm(q[0], q[1], q[2], q[3], q[4], q[5], N, C, HW));
  }

  // sumDy, sumDyXhat, mean, invstd are (C); dy, x are (N,C,HW).
  batchnorm_backward_reduce(sumDy: F32, sumDyXhat: F32, dy: F32, x: F32, mean: F32, invstd: F32, N: number, C: number, HW: number): void {
    bnCheck('batchnorm_backward_reduce', N, C, HW, [dy, x], [sumDy, sumDyXhat, mean, invstd]);
    this.on([sumDy, sumDyXhat, dy, x, mean, invstd], 0b11, (q) => this.raw.batchnorm_backward_reduce(q[0], q[1], q[2], q[3], q[4], q[5], N, C, HW));
  }

  // dx, dy, x are (N,C,HW); mean, invstd, gamma, sumDy, sumDyXhat are (C).
  batchnorm_backward(dx: F32, dy: F32, x: F32, mean: F32, invstd: F32, gamma: F32, sumDy: F32, sumDyXhat: F32, count: number, N: number, C: number, HW: number): void {
    bnCheck('batchnorm_backward', N, C, HW, [dx, dy, x], [mean, invstd, gamma, sumDy, sumDyXhat]);
    this.on([dx, dy, x, mean, invstd, gamma, sumDy, sumDyXhat], 0b1, (q) => this.raw.batchnorm_backward(q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], count, N, C, HW));
  }

  // q is (n) uint8; x is (n).
  quantize_int8(q: U8, x: F32, n: number, invScale: number, zeroPoint: number): void {
    if (!isDim(n, 0) || q.length < n || x.length < n) throw new ShapeError(`quantize_int8: n=${n}, q has ${q.length} elements, x ${x.length} (both need n)`);
    if (!(Number.isInteger(zeroPoint) && zeroPoint >= 0 && zeroPoint <= 255)) throw new RangeError(`quantize_int8: zeroPoint ${zeroPoint}, expected an integer in [0, 255]`);
    if (n === 0) return;
    this.on([q, x], 0b1, (p) => this.raw.quantize_int8(p[0], p[1], n, invScale, zeroPoint));
  }

  // acc is (M,N) int32; a is (M,K) uint8; w is (N,K) int8.
  matmul_int8(acc: I32, a: U8, w: I8, M: number, N: number, K: number): void {
    if (![M, N, K].every((v) => isDim(v, 0)) || K > 32768) throw new ShapeError(`matmul_int8: bad sizes M=${M} N=${N} K=${K} (integers >= 0, K <= 32768)`);
    if (acc.length < M * N || a.length < M * K || w.length < N * K) {
      throw new ShapeError(`matmul_int8: acc has ${acc.length} (need M*N = ${M}*${N}), a ${a.length} (need ${M}*${K}), w ${w.length} (need ${N}*${K})`);
    }
    if (M === 0 || N === 0) return;
    this.on([acc, a, w], 0b1, (p) => {
      if (!this.pool?.matmul_int8(this, p[0], p[1], p[2], M, N, K)) this.raw.matmul_int8(p[0], p[1], p[2], M, N, K, this.scratch(this.raw.matmul_int8_workspace(M, N, K)));
    });
  }

  /** Scratch for conv2d_int8's uint8 column block and its GEMM's int16 blocks. */
  convInt8Scratch(a: ConvArgs): Ptr {
    return this.scratch(this.raw.conv2d_int8_workspace(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]));
  }

  // acc is (N,OC,OH,OW) int32; x is (N,C,H,W) uint8; w is (OC,C/groups,k,k) int8.
  conv2d_int8(acc: I32, x: U8, w: I8, p: ConvParams, xZero: number): void {
    const a = convArgs('conv2d_int8', p, [['acc', acc, 'y'], ['x', x, 'x'], ['w', w, 'w']]);
    if ((p.C / p.groups) * p.k * p.k > 32768) throw new ShapeError(`conv2d_int8: (C/groups)·k·k = ${(p.C / p.groups) * p.k * p.k} exceeds the int32-exact limit 32768`);
    if (!(Number.isInteger(xZero) && xZero >= 0 && xZero <= 255)) throw new RangeError(`conv2d_int8: xZero ${xZero}, expected an integer in [0, 255]`);
    this.on([acc, x, w], 0b1, (q) => {
      if (!this.pool?.conv2d_int8(this, q[0], q[1], q[2], a, xZero)) this.raw.conv2d_int8(q[0], q[1], q[2], ...a, xZero, this.convInt8Scratch(a));
    });
  }

  // y, acc are (N,C,HW); wsum, scale, bias are (C).
  dequantize_int32(y: F32, acc: I32, wsum: I32, scale: F32, bias: F32, zero: number, N: number, C: number, HW: number): void {
    bnCheck('dequantize_int32', N, C, HW, [y, acc], [wsum, scale, bias]);
    if (!Number.isInteger(zero)) throw new RangeError(`dequantize_int32: zero ${zero}, expected an integer`);
    this.on([y, acc, wsum, scale, bias], 0b1, (q) => this.raw.dequantize_int32(q[0], q[1], q[2], q[3], q[4], zero, N, C, HW));
  }
}

/**
 * In another thread (a data-parallel worker, a `-mt` helper): an instance on the memory and
 * module of `share`, in the next free arena slot of it.
 */
export function attachWasmBackend(variant: WasmVariant, share: WorkerShare): WasmBackend {
  const a = share.arenas;
  if (!share.memory || !share.module || !a) throw new BackendUnavailableError(share.name, 'attach needs the shared memory, module and arena slots from share()');
  const slot = Atomics.add(a.claim, 0, 1);
  if (slot >= a.bases.length) throw new BackendUnavailableError(share.name, `all ${a.bases.length} worker arena slots are taken (too many worker restarts)`);
  return createWasmBackend(variant, { module: share.module as WebAssembly.Module, memory: share.memory as WebAssembly.Memory, base: a.bases[slot], limit: a.bases[slot] + a.size });
}

/** A wasm backend from a compiled module (synchronous; compiles the build when `module` is absent). */
export function createWasmBackend(variant: WasmVariant, opts: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackend(variant, opts.module ?? compileWasmSync(variant), opts);
}

/** A wasm backend, compiling the build asynchronously when `module` is absent. */
export async function instantiateWasmBackend(variant: WasmVariant, opts: WasmBackendOptions = {}): Promise<WasmBackend> {
  return new WasmBackend(variant, opts.module ?? (await compileWasm(variant)), opts);
}
