// The `native` backend (C++ kernels behind Node-API, build/native/Release/distillery.node) and the
// `cuda` backend (build/native/Release/distillery_cuda.node, when built and a device answers).
// native storage: 64-byte-aligned Float32Array views on SharedArrayBuffers (shareable with
// workers); kernels run in place on any Float32Array, over ArrayBuffer or SharedArrayBuffer.
// cuda storage: device-resident managed memory (the data stays on the GPU between kernels);
// other arrays passed to its kernels are copied to the device and back per call.

import type { Backend } from '../backend.js';
import type { AdamWParams, ConvParams, F32, I32, I8, Kernels, PoolParams, SgdParams, U8 } from '../../kernels/signatures.js';
import { availableParallelism } from 'node:os';
import { BackendUnavailableError } from '../../errors.js';
import { addonPath, loadAddon } from './loader.js';

/** ConvParams flattened: N, C, H, W, OC, k, stride, pad, groups. */
type ConvArgs = [N: number, C: number, H: number, W: number, OC: number, k: number, stride: number, pad: number, groups: number];
/** PoolParams flattened: N, C, H, W, kh, kw, stride, pad. */
type PoolArgs = [N: number, C: number, H: number, W: number, kh: number, kw: number, stride: number, pad: number];
const convArgs = (p: ConvParams): ConvArgs => [p.N, p.C, p.H, p.W, p.OC, p.k, p.stride, p.pad, p.groups];
const poolArgs = (p: PoolParams): PoolArgs => [p.N, p.C, p.H, p.W, p.kh, p.kw, p.stride, p.pad];
type Flattened = 'sgd_step' | 'adamw_step' | 'conv2d' | 'conv2d_backward_data' | 'conv2d_backward_weight' | 'maxpool2d' | 'maxpool2d_backward' | 'avgpool2d' | 'avgpool2d_backward' | 'conv2d_int8';

/** The addon's exports: the kernel contract with the optimizer hyper-parameters, ConvParams and PoolParams flattened. */
export interface NativeAddon extends Omit<Kernels, Flattened> {
  sgd_step(params: F32, grads: F32, momentumBuf: F32, n: number, lr: number, momentum: number, weightDecay: number, nesterov: boolean): void;
  adamw_step(params: F32, grads: F32, m: F32, v: F32, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;
  conv2d(y: F32, x: F32, w: F32, bias: F32, ...p: ConvArgs): void;
  conv2d_backward_data(dx: F32, dy: F32, w: F32, ...p: ConvArgs): void;
  conv2d_backward_weight(dw: F32, dbias: F32, dy: F32, x: F32, ...p: [...ConvArgs, accumulate: boolean]): void;
  maxpool2d(y: F32, idx: I32, x: F32, ...p: PoolArgs): void;
  maxpool2d_backward(dx: F32, dy: F32, idx: I32, ...p: PoolArgs): void;
  avgpool2d(y: F32, x: F32, ...p: PoolArgs): void;
  avgpool2d_backward(dx: F32, dy: F32, ...p: PoolArgs): void;
  conv2d_int8(acc: I32, x: U8, w: I8, ...p: [...ConvArgs, xZero: number]): void;
  addressMod(a: F32 | I32 | U8 | I8, m: number): number;
  zero(buf: F32): void;
  probe(): { ok: boolean; [k: string]: unknown };
  /** CPU addon only: matmul on up to `threads` threads (bitwise-identical results). */
  matmul_threads?(C: F32, A: F32, B: F32, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean, threads: number): void;
  sgd_step_threads?(params: F32, grads: F32, momentumBuf: F32, n: number, lr: number, momentum: number, weightDecay: number, nesterov: boolean, threads: number): void;
  adamw_step_threads?(params: F32, grads: F32, m: F32, v: F32, n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, threads: number): void;
  /** CPU addon only: the convolutions on up to `threads` threads, the batch split by images (deterministic). */
  conv2d_threads?(y: F32, x: F32, w: F32, bias: F32, ...p: [...ConvArgs, threads: number]): void;
  conv2d_backward_data_threads?(dx: F32, dy: F32, w: F32, ...p: [...ConvArgs, threads: number]): void;
  conv2d_backward_weight_threads?(dw: F32, dbias: F32, dy: F32, x: F32, ...p: [...ConvArgs, accumulate: boolean, threads: number]): void;
  /** CPU addon only: the int8 products on up to `threads` threads (exact: the same results). */
  matmul_int8_threads?(acc: I32, a: U8, w: I8, M: number, N: number, K: number, threads: number): void;
  conv2d_int8_threads?(acc: I32, x: U8, w: I8, ...p: [...ConvArgs, xZero: number, threads: number]): void;
  /** CUDA addon only: device name and memory, for the description. */
  deviceInfo?(): string;
  /** CUDA addon only: an ArrayBuffer over zero-filled device-resident (managed) memory. */
  allocManaged?(bytes: number): ArrayBuffer;
}

const ALIGN = 64;

/**
 * Wraps a loaded addon as a Backend. With `managed` (the CUDA addon), buffers are device-resident
 * managed memory (allocManaged): the kernels use them in place on the GPU, and they are plain
 * ArrayBuffers, so such a backend runs in one thread (maxWorkers 1).
 */
export function backendFromAddon(name: string, description: string, a: NativeAddon, managed = false): Backend {
  const allocManaged = a.allocManaged;
  if (managed && !allocManaged) throw new Error(`${name}: the addon has no allocManaged (rebuild it: npm run build:native)`);
  function aligned<T extends F32 | I32 | U8 | I8>(Ctor: { new (b: ArrayBufferLike, off: number, n: number): T; readonly BYTES_PER_ELEMENT: number }, n: number): T {
    const bytes = n * Ctor.BYTES_PER_ELEMENT;
    if (managed) return new Ctor(allocManaged!(Math.max(4, bytes + 3 - ((bytes + 3) % 4))), 0, n);
    const sab = new SharedArrayBuffer(bytes + ALIGN);
    const probe = new Ctor(sab, 0, 1);
    const mis = a.addressMod(probe, ALIGN);
    return new Ctor(sab, mis === 0 ? 0 : ALIGN - mis, n);
  }
  return {
    name,
    description,
    matmul: a.matmul,
    bias_add: a.bias_add,
    bias_grad: a.bias_grad,
    relu: a.relu,
    relu_backward: a.relu_backward,
    gelu: a.gelu,
    gelu_backward: a.gelu_backward,
    softmax_t: a.softmax_t,
    log_softmax_t: a.log_softmax_t,
    kd_loss: a.kd_loss,
    cross_entropy: a.cross_entropy,
    mse: a.mse,
    sgd_step: (params: F32, grads: F32, buf: F32, n: number, hp: SgdParams) =>
      a.sgd_step(params, grads, buf, n, hp.lr, hp.momentum, hp.weightDecay, hp.nesterov),
    adamw_step: (params: F32, grads: F32, m: F32, v: F32, n: number, hp: AdamWParams) =>
      a.adamw_step(params, grads, m, v, n, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, hp.step),
    conv2d: (y: F32, x: F32, w: F32, bias: F32, p: ConvParams) => a.conv2d(y, x, w, bias, ...convArgs(p)),
    conv2d_backward_data: (dx: F32, dy: F32, w: F32, p: ConvParams) => a.conv2d_backward_data(dx, dy, w, ...convArgs(p)),
    conv2d_backward_weight: (dw: F32, dbias: F32, dy: F32, x: F32, p: ConvParams, accumulate: boolean) =>
      a.conv2d_backward_weight(dw, dbias, dy, x, ...convArgs(p), accumulate),
    maxpool2d: (y: F32, idx: I32, x: F32, p: PoolParams) => a.maxpool2d(y, idx, x, ...poolArgs(p)),
    maxpool2d_backward: (dx: F32, dy: F32, idx: I32, p: PoolParams) => a.maxpool2d_backward(dx, dy, idx, ...poolArgs(p)),
    avgpool2d: (y: F32, x: F32, p: PoolParams) => a.avgpool2d(y, x, ...poolArgs(p)),
    avgpool2d_backward: (dx: F32, dy: F32, p: PoolParams) => a.avgpool2d_backward(dx, dy, ...poolArgs(p)),
    batchnorm_stats: a.batchnorm_stats,
    batchnorm: a.batchnorm,
    batchnorm_backward_reduce: a.batchnorm_backward_reduce,
    batchnorm_backward: a.batchnorm_backward,
    zero: a.zero,
    quantize_int8: a.quantize_int8,
    matmul_int8: a.matmul_int8,
    conv2d_int8: (acc: I32, x: U8, w: I8, p: ConvParams, xZero: number) => a.conv2d_int8(acc, x, w, ...convArgs(p), xZero),
    dequantize_int32: a.dequantize_int32,
    alloc: (n: number): F32 => aligned(Float32Array, n),
    allocInt32: (n: number): I32 => aligned(Int32Array, n),
    allocUint8: (n: number): U8 => aligned(Uint8Array, n),
    allocInt8: (n: number): I8 => aligned(Int8Array, n),
    free: () => {},
    ...(managed ? { maxWorkers: 1 } : {}),
  };
}

/** The `native` backend, or BackendUnavailableError (not built, bad binary, ...). */
export function createNativeBackend(file = addonPath('native')): Backend {
  const { addon, probe } = loadAddon<NativeAddon>('native', file);
  return backendFromAddon('native', `C++ kernels via Node-API (${String(probe.isa)} clone, matmul ${String(probe.matmul)}, one thread)`, addon);
}

/**
 * The `native-mt` backend: `native` with its matmul, convolutions and optimizer steps split over `threads`
 * threads inside the addon (intra-op parallelism, as BLAS libraries do) instead of over data-parallel workers, so it
 * trains in one worker (maxWorkers 1). For small batches, where splitting the batch across
 * workers leaves each worker too few rows and every worker reads all the weights, it can be the
 * faster way to use the cores; calibration decides. Needs 2+ cores.
 */
export function createNativeMtBackend(threads = availableParallelism(), file = addonPath('native')): Backend {
  if (!Number.isInteger(threads) || threads < 2) throw new BackendUnavailableError('native-mt', `needs 2 or more threads (this machine has ${threads} core${threads === 1 ? '' : 's'})`);
  const { addon, probe } = loadAddon<NativeAddon>('native-mt', file);
  const { matmul_threads: mm, sgd_step_threads: sgd, adamw_step_threads: adamw, conv2d_threads: conv, conv2d_backward_data_threads: convData, conv2d_backward_weight_threads: convWeight } = addon;
  const { matmul_int8_threads: mm8, conv2d_int8_threads: conv8 } = addon;
  if (!mm || !sgd || !adamw || !conv || !convData || !convWeight || !mm8 || !conv8) throw new BackendUnavailableError('native-mt', `${file} has no threaded kernels (rebuild it: npm run build:native)`);
  const be = backendFromAddon('native-mt', `C++ kernels via Node-API (${String(probe.isa)} clone, matmul ${String(probe.matmul)}; matmul, convolutions, their int8 forms and optimizer steps on ${threads} threads)`, addon);
  return {
    ...be,
    matmul: (C: F32, A: F32, B: F32, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean) =>
      mm(C, A, B, M, N, K, transA, transB, accumulate, threads),
    sgd_step: (params: F32, grads: F32, buf: F32, n: number, hp: SgdParams) =>
      sgd(params, grads, buf, n, hp.lr, hp.momentum, hp.weightDecay, hp.nesterov, threads),
    adamw_step: (params: F32, grads: F32, m: F32, v: F32, n: number, hp: AdamWParams) =>
      adamw(params, grads, m, v, n, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weightDecay, hp.step, threads),
    conv2d: (y: F32, x: F32, w: F32, bias: F32, p: ConvParams) => conv(y, x, w, bias, ...convArgs(p), threads),
    conv2d_backward_data: (dx: F32, dy: F32, w: F32, p: ConvParams) => convData(dx, dy, w, ...convArgs(p), threads),
    conv2d_backward_weight: (dw: F32, dbias: F32, dy: F32, x: F32, p: ConvParams, accumulate: boolean) =>
      convWeight(dw, dbias, dy, x, ...convArgs(p), accumulate, threads),
    matmul_int8: (acc: I32, a: U8, w: I8, M: number, N: number, K: number) => mm8(acc, a, w, M, N, K, threads),
    conv2d_int8: (acc: I32, x: U8, w: I8, p: ConvParams, xZero: number) => conv8(acc, x, w, ...convArgs(p), xZero, threads),
    maxWorkers: 1,
    threads,
  };
}

/** The `cuda` backend, or BackendUnavailableError (not built, no CUDA device, ...). */
export function createCudaBackend(file = addonPath('cuda')): Backend {
  const { addon, probe } = loadAddon<NativeAddon>('cuda', file);
  const blas = probe.cublas === false ? 'tiled matmul' : 'cuBLAS';
  return backendFromAddon('cuda', `CUDA kernels + ${blas} on ${String(probe.device ?? 'GPU')}, device-resident buffers`, addon, true);
}
