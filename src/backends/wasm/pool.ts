// Helper threads for the `-mt` wasm backends (wasm-simd-mt, wasm-relaxed-mt): intra-op
// parallelism like native-mt. Each helper is a worker thread with its own instance of the same
// compiled build on the same shared memory (and an arena slot of its own for scratch). A call
// writes its pointers and sizes into the helper's control block (a SharedArrayBuffer), bumps a
// generation counter and notifies; this thread computes its own part meanwhile, then waits for
// every helper's answer. Matmuls split C by columns (whole 8-column register tiles, so every C
// element sums the same products in the same order as one thread: results are bitwise equal),
// conv2d and its backward data pass by images, its backward weight pass by columns of dw (bitwise
// equal likewise), optimizer steps by element ranges; the int8 matmul by columns and the int8
// convolution by images (integer sums: equal to one thread whatever the split). Nothing is copied: only offsets cross threads.

import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BackendUnavailableError, WorkerFailure } from '../../errors.js';
import type { ConvArgs, WasmBackend } from './wasm-backend.js';
import type { WasmVariant } from './loader.js';

/** The helper's script (compiled; resolves from src/ under vitest and from dist/). */
const HELPER = fileURLToPath(new URL('../../../dist/backends/wasm/pool-helper.js', import.meta.url));

/** Control block layout, per helper: Int32 words, then float64 parameters, then an error text. */
export const CTL = {
  /** Int32 index: generation posted by the caller. */
  GEN: 0,
  /** Int32 index: generation the helper finished. */
  DONE: 1,
  /** Int32 index: what to run (OP_*). */
  OP: 2,
  /** Int32 index: 0 = done, 1 = threw (text at ERR_OFFSET). */
  STATUS: 3,
  /** Int32 index of the first integer argument (28 at most). */
  ARGS: 4,
  /** Byte offset of the float64 arguments (8 at most). */
  F64_OFFSET: 128,
  /** Byte offset and size of the UTF-8 error text. */
  ERR_OFFSET: 192,
  ERR_BYTES: 320,
  BYTES: 512,
} as const;
export const OP_MATMUL = 1, OP_SGD = 2, OP_ADAMW = 3, OP_CONV = 4, OP_CONV_DATA = 5, OP_CONV_WEIGHT = 6, OP_MATMUL_INT8 = 7, OP_CONV_INT8 = 8, OP_QUIT = 9;

/** Matmuls below this many multiply-adds run on one thread (the hand-off costs ~10-50 µs). */
const MIN_MATMUL_MACS = 1 << 20;
/** Convolutions (and their backward passes) below this many multiply-adds run on one thread. */
const MIN_CONV_MACS = 1 << 20;
/** Optimizer steps below this many elements run on one thread. */
const MIN_STEP_ELEMENTS = 1 << 16;
/** Busy-wait iterations before sleeping on the futex (both sides): the calls of a step come close together. */
export const SPIN = 1 << 14;
/** A helper that has not answered after this long is taken for dead. */
const TIMEOUT_MS = 120_000;
/**
 * Scratch per helper: a matmul part needs ≤ (128·512 + 512·2048 + 32)·4 bytes of packing buffers,
 * a convolution's part that plus a column block of ≤ 1 MiB (conv2d_workspace).
 */
const HELPER_ARENA_BYTES = 8 * 1024 * 1024;

/** The views of one control block (both sides of it use these). */
export interface Control {
  ctl: Int32Array;
  f64: Float64Array;
  err: Uint8Array;
}

export function controlViews(sab: SharedArrayBuffer): Control {
  return { ctl: new Int32Array(sab, 0, CTL.F64_OFFSET / 4), f64: new Float64Array(sab, CTL.F64_OFFSET, 8), err: new Uint8Array(sab, CTL.ERR_OFFSET, CTL.ERR_BYTES) };
}

interface Helper extends Control {
  worker: Worker;
}

/** Start of part t of n items split into `parts`, at a multiple of `align` (the last part ends at n). */
function splitPoint(n: number, parts: number, t: number, align: number): number {
  return t >= parts ? n : Math.round((n * t) / parts / align) * align;
}

export class WasmPool {
  private gen = 0;
  /** Calls that were split over the threads (the others ran on one thread, too small to split). */
  splits = 0;
  private broken: string | null = null;
  private closed = false;

  private constructor(readonly name: string, readonly threads: number, private readonly helpers: Helper[], readonly variant: WasmVariant) {
    // A helper that dies between calls makes the next call fail at once (one that dies during
    // a call is found by its silence: this thread is blocked in wait then and sees no events).
    helpers.forEach((h, i) => h.worker.on('exit', (code) => {
      if (!this.closed) this.broken ??= `${name}: helper thread ${i + 1} exited (code ${code}); load the backend again`;
    }));
  }

  /** Starts threads - 1 helpers over `be`'s memory and module; BackendUnavailableError if they cannot start. */
  static async start(be: WasmBackend, variant: WasmVariant, name: string, threads = availableParallelism()): Promise<WasmPool> {
    if (!Number.isInteger(threads) || threads < 2) throw new BackendUnavailableError(name, `needs 2 or more threads (this machine has ${threads} core${threads === 1 ? '' : 's'})`);
    const share = be.share(threads - 1, HELPER_ARENA_BYTES);
    const helpers: Helper[] = [];
    try {
      for (let h = 1; h < threads; h++) {
        const sab = new SharedArrayBuffer(CTL.BYTES);
        const worker = new Worker(HELPER, { workerData: { share, variant, sab } });
        helpers.push({ worker, ...controlViews(sab) });
        await new Promise<void>((resolve, reject) => {
          const fail = (why: string) => reject(new BackendUnavailableError(name, `helper thread ${h} did not start: ${why}`));
          worker.once('message', (m) => (m === 'ready' ? resolve() : fail(String(m))));
          worker.once('error', (e) => fail(e.message));
          worker.once('exit', (code) => fail(`exited with code ${code}`));
        });
        worker.removeAllListeners();
        // A helper that dies later is found by its silence (see wait); the error event must not
        // become an uncaught exception of the process meanwhile.
        worker.on('error', () => {});
        worker.unref();
      }
    } catch (e) {
      for (const x of helpers) void x.worker.terminate();
      throw e;
    }
    return new WasmPool(name, threads, helpers, variant);
  }

  /**
   * C (M,N) (+)= op(A)·op(B) over all threads, by byte offsets; false when the product is too
   * small to split (the caller then runs it on one thread).
   */
  matmul(be: WasmBackend, c: number, a: number, b: number, M: number, N: number, K: number, tA: number, tB: number, acc: number): boolean {
    if (M * N * K < MIN_MATMUL_MACS || N < 16 || K <= 0) return false;
    const T = Math.min(this.threads, N >> 3);
    const cut = (t: number) => splitPoint(N, T, t, 8);
    this.run(T, OP_MATMUL, 'matmul', (h, ctl) => {
      ctl.set([c, a, b, M, N, K, tA, tB, acc, cut(h), cut(h + 1)], CTL.ARGS);
    }, () => {
      const j1 = cut(1);
      be.raw.matmul_cols(c, a, b, M, N, K, tA, tB, acc, be.scratch(be.raw.matmul_workspace(M, j1, K)), 0, j1);
    });
    return true;
  }

  /**
   * matmul_int8 acc (M,N) = a·wᵀ over all threads, split by columns of acc (rows of w); false
   * when too small to split. Exact int32 sums: any split equals one thread.
   */
  matmul_int8(be: WasmBackend, acc: number, a: number, w: number, M: number, N: number, K: number): boolean {
    if (M * N * K < MIN_MATMUL_MACS * 2 || N < 8 || K <= 0) return false;
    const T = Math.min(this.threads, N >> 2);
    const cut = (t: number) => splitPoint(N, T, t, 4);
    this.run(T, OP_MATMUL_INT8, 'matmul_int8', (h, ctl) => {
      ctl.set([acc, a, w, M, N, K, cut(h), cut(h + 1)], CTL.ARGS);
    }, () => be.raw.matmul_int8_cols(acc, a, w, M, N, K, be.scratch(be.raw.matmul_int8_workspace(M, N, K)), 0, cut(1)));
    return true;
  }

  /**
   * conv2d_int8 over all threads, split by images of the batch; false when too small to split
   * (or its column block does not fit a helper's arena).
   */
  conv2d_int8(be: WasmBackend, acc: number, x: number, w: number, a: ConvArgs, xZero: number): boolean {
    const [N, C, H, W, OC] = a;
    if (N < 2 || WasmPool.convMacs(a) < MIN_CONV_MACS * 2) return false;
    if (be.raw.conv2d_int8_workspace(C, H, W, OC, a[5], a[6], a[7], a[8]) > HELPER_ARENA_BYTES - (1 << 20)) return false;
    const T = Math.min(this.threads, N), xs = C * H * W, ys = 4 * OC * WasmPool.outPlane(a);
    const cut = (t: number) => splitPoint(N, T, t, 1);
    const rest = a.slice(1) as number[];
    this.run(T, OP_CONV_INT8, 'conv2d_int8', (h, ctl) => {
      const n0 = cut(h), n1 = cut(h + 1);
      ctl.set([acc + ys * n0, x + xs * n0, w, n1 - n0, ...rest, xZero], CTL.ARGS);
    }, () => be.raw.conv2d_int8(acc, x, w, cut(1), C, H, W, OC, a[5], a[6], a[7], a[8], xZero, be.convInt8Scratch(a)));
    return true;
  }

  /** Output pixels per channel of a convolution (OH·OW). */
  private static outPlane(a: ConvArgs): number {
    const [, , H, W, , k, stride, pad] = a;
    return Math.max(0, Math.floor((H + 2 * pad - k) / stride) + 1) * Math.max(0, Math.floor((W + 2 * pad - k) / stride) + 1);
  }

  /** Multiply-adds of a convolution (or of either of its backward passes). */
  private static convMacs(a: ConvArgs): number {
    const [N, C, , , OC, k, , , groups] = a;
    return N * OC * WasmPool.outPlane(a) * (C / groups) * k * k;
  }

  /**
   * Whether a convolution is split: not depthwise ones (one input channel per group: their direct
   * kernel runs on one thread), not small ones, and only when its scratch fits a helper's arena.
   */
  private static convSplits(be: WasmBackend, a: ConvArgs): boolean {
    if ((a[1] === a[8] && a[8] > 1) || WasmPool.convMacs(a) < MIN_CONV_MACS) return false;
    return be.raw.conv2d_workspace(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]) <= HELPER_ARENA_BYTES - (1 << 20);
  }

  /**
   * conv2d over all threads, split by images of the batch (each image is computed as on one
   * thread: bitwise the same y); false when too small to split.
   */
  conv2d(be: WasmBackend, y: number, x: number, w: number, b: number, a: ConvArgs): boolean {
    const [N, C, H, W, OC] = a;
    if (N < 2 || !WasmPool.convSplits(be, a)) return false;
    const T = Math.min(this.threads, N), xs = 4 * C * H * W, ys = 4 * OC * WasmPool.outPlane(a);
    const cut = (t: number) => splitPoint(N, T, t, 1);
    const rest = a.slice(1) as number[];
    this.run(T, OP_CONV, 'conv2d', (h, ctl) => {
      const n0 = cut(h), n1 = cut(h + 1);
      ctl.set([y + ys * n0, x + xs * n0, w, b, n1 - n0, ...rest], CTL.ARGS);
    }, () => be.raw.conv2d(y, x, w, b, cut(1), C, H, W, OC, a[5], a[6], a[7], a[8], be.convScratch(a)));
    return true;
  }

  /** conv2d_backward_data over all threads, split by images (bitwise the same dx); false when too small to split. */
  conv2d_backward_data(be: WasmBackend, dx: number, dy: number, w: number, a: ConvArgs): boolean {
    const [N, C, H, W, OC] = a;
    if (N < 2 || !WasmPool.convSplits(be, a)) return false;
    const T = Math.min(this.threads, N), xs = 4 * C * H * W, ys = 4 * OC * WasmPool.outPlane(a);
    const cut = (t: number) => splitPoint(N, T, t, 1);
    const rest = a.slice(1) as number[];
    this.run(T, OP_CONV_DATA, 'conv2d_backward_data', (h, ctl) => {
      const n0 = cut(h), n1 = cut(h + 1);
      ctl.set([dx + xs * n0, dy + ys * n0, w, n1 - n0, ...rest], CTL.ARGS);
    }, () => be.raw.conv2d_backward_data(dx, dy, w, cut(1), C, H, W, OC, a[5], a[6], a[7], a[8], be.convScratch(a)));
    return true;
  }

  /**
   * conv2d_backward_weight over all threads, split by columns of dw (C/groups·k·k, whole 8-column
   * register tiles; each thread builds only its rows of the column matrix). Every dw element sums
   * the same products in the same order as one thread: bitwise the same dw and dbias (dbias is
   * this thread's). False when too small to split.
   */
  conv2d_backward_weight(be: WasmBackend, dw: number, db: number, dy: number, x: number, a: ConvArgs, acc: number): boolean {
    const Kc = (a[1] / a[8]) * a[5] * a[5];
    if (Kc < 16 || !WasmPool.convSplits(be, a)) return false;
    const T = Math.min(this.threads, Kc >> 3);
    const cut = (t: number) => splitPoint(Kc, T, t, 8);
    this.run(T, OP_CONV_WEIGHT, 'conv2d_backward_weight', (h, ctl) => {
      ctl.set([dw, db, dy, x, ...a, acc, cut(h), cut(h + 1)], CTL.ARGS);
    }, () => be.raw.conv2d_backward_weight_rows(dw, db, dy, x, ...a, acc, be.convScratch(a), 0, cut(1)));
    return true;
  }

  /** SGD step over n elements (byte offsets), split by range; false when too small to split. */
  sgd_step(be: WasmBackend, p: number, g: number, m: number, n: number, lr: number, momentum: number, wd: number, nesterov: number): boolean {
    if (n < MIN_STEP_ELEMENTS) return false;
    const cut = (t: number) => splitPoint(n, this.threads, t, 4);
    this.run(this.threads, OP_SGD, 'sgd_step', (h, ctl, f64) => {
      const i0 = cut(h), i1 = cut(h + 1);
      ctl.set([p + 4 * i0, g + 4 * i0, m + 4 * i0, i1 - i0, nesterov], CTL.ARGS);
      f64.set([lr, momentum, wd]);
    }, () => be.raw.sgd_step(p, g, m, cut(1), lr, momentum, wd, nesterov));
    return true;
  }

  /** AdamW step over n elements (byte offsets), split by range; false when too small to split. */
  adamw_step(be: WasmBackend, p: number, g: number, m: number, v: number, n: number, lr: number, b1: number, b2: number, eps: number, wd: number, bc1: number, bc2: number): boolean {
    if (n < MIN_STEP_ELEMENTS) return false;
    const cut = (t: number) => splitPoint(n, this.threads, t, 4);
    this.run(this.threads, OP_ADAMW, 'adamw_step', (h, ctl, f64) => {
      const i0 = cut(h), i1 = cut(h + 1);
      ctl.set([p + 4 * i0, g + 4 * i0, m + 4 * i0, v + 4 * i0, i1 - i0], CTL.ARGS);
      f64.set([lr, b1, b2, eps, wd, bc1, bc2]);
    }, () => be.raw.adamw_step(p, g, m, v, cut(1), lr, b1, b2, eps, wd, bc1, bc2));
    return true;
  }

  /** Stops the helpers (after their current call). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.helpers) {
      Atomics.store(h.ctl, CTL.OP, OP_QUIT);
      Atomics.add(h.ctl, CTL.GEN, 1);
      Atomics.notify(h.ctl, CTL.GEN);
      void h.worker.terminate();
    }
  }

  /** Parts 1..T-1 to helpers 0..T-2 (post), part 0 here (mine), then every helper's answer. */
  private run(T: number, op: number, what: string, post: (part: number, ctl: Int32Array, f64: Float64Array) => void, mine: () => void): void {
    if (this.closed) throw new WorkerFailure(`${this.name}: ${what} after the backend was disposed`);
    if (this.broken) throw new WorkerFailure(this.broken);
    const gen = ++this.gen;
    this.splits++;
    const used = this.helpers.slice(0, T - 1);
    used.forEach((h, i) => {
      post(i + 1, h.ctl, h.f64);
      h.ctl[CTL.OP] = op;
      Atomics.store(h.ctl, CTL.GEN, gen);
      Atomics.notify(h.ctl, CTL.GEN);
    });
    let err: unknown = null;
    try {
      mine();
    } catch (e) {
      err = e;
    }
    // Every posted part is awaited before anything is thrown: no helper may still be writing.
    used.forEach((h, i) => {
      const e = this.wait(h, gen, i + 1, what);
      err ??= e;
    });
    if (err) throw err;
  }

  private wait(h: Helper, gen: number, part: number, what: string): Error | null {
    for (let s = 0; s < SPIN && Atomics.load(h.ctl, CTL.DONE) !== gen; s++);
    const deadline = Date.now() + TIMEOUT_MS;
    for (let seen = Atomics.load(h.ctl, CTL.DONE); seen !== gen; seen = Atomics.load(h.ctl, CTL.DONE)) {
      Atomics.wait(h.ctl, CTL.DONE, seen, 100);
      if (Date.now() > deadline && Atomics.load(h.ctl, CTL.DONE) !== gen) {
        this.broken = `${this.name}: helper thread ${part} did not finish its part of ${what} within ${TIMEOUT_MS / 1000} s (it died or hangs); load the backend again`;
        return new WorkerFailure(this.broken);
      }
    }
    if (h.ctl[CTL.STATUS] === 0) return null;
    const text = new TextDecoder().decode(h.err.slice(0, h.err.indexOf(0) < 0 ? h.err.length : h.err.indexOf(0)));
    return new WorkerFailure(`${this.name}: helper thread ${part} failed in ${what}: ${text}`);
  }
}
