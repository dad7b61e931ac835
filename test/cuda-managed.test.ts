// The cuda backend's device-resident buffers, as far as a machine without a GPU can check them:
// the TS plumbing (alloc through allocManaged, one worker at most, clear errors) with the native
// kernels standing in for the CUDA ones, and the built CUDA addon's allocManaged/zero answering
// bad input and a missing device with exceptions, not crashes. The kernels themselves on managed
// memory run in the conformance suite on a GPU machine (bench/gpu-check.sh: "backend buffers").

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { addonPath, loadAddon } from '../src/backends/native/loader.js';
import { backendFromAddon, type NativeAddon } from '../src/backends/native/native-backend.js';
import { train } from '../src/train/trainer.js';
import { ConfigError } from '../src/errors.js';
import { Sequential } from '../src/nn/sequential.js';
import * as ref from '../src/kernels/reference.js';
import { blobs, normErr, randArray } from './util.js';

const nativeBuilt = existsSync(addonPath('native'));

describe.skipIf(!nativeBuilt)('device-resident buffers (cuda backend plumbing, native kernels standing in)', () => {
  const { addon } = nativeBuilt ? loadAddon<NativeAddon>('native', addonPath('native')) : { addon: null as unknown as NativeAddon };
  const asked: number[] = [];
  const sim = () => backendFromAddon('cuda', 'simulated', { ...addon, allocManaged: (bytes: number) => (asked.push(bytes), new ArrayBuffer(bytes)) }, true);

  it('alloc/allocInt32 come from allocManaged: plain (unshared) buffers of the right size, zero-filled', () => {
    const be = sim();
    asked.length = 0;
    const a = be.alloc(37), b = be.allocInt32(5);
    expect(asked).toEqual([148, 20]);
    expect(a.buffer).toBeInstanceOf(ArrayBuffer);
    expect(a.buffer instanceof SharedArrayBuffer).toBe(false);
    expect([a.length, b.length]).toEqual([37, 5]);
    expect(a.every((v) => v === 0)).toBe(true);
  });

  it('kernels run in place on those buffers', () => {
    const be = sim();
    const [M, N, K] = [19, 23, 31];
    const A = be.alloc(M * K), B = be.alloc(K * N), C = be.alloc(M * N);
    A.set(randArray(M * K, 1));
    B.set(randArray(K * N, 2));
    be.matmul(C, A, B, M, N, K, false, true, false);
    const want = new Float32Array(M * N);
    ref.matmul(want, A, B, M, N, K, false, true, false);
    expect(normErr(C, want)).toBeLessThan(1e-5);
    be.zero!(C);
    expect(C.every((v) => v === 0)).toBe(true);
  });

  it('runs in one thread: maxWorkers 1, and training with 2 workers is a ConfigError naming the backend', async () => {
    const be = sim();
    expect(be.maxWorkers).toBe(1);
    const data = blobs(64, 8, 3, 1);
    const m = new Sequential(be, { layers: [8, 6, 3] }, 1);
    const cfg = { epochs: 1, batchSize: 16, seed: 1, optimizer: { kind: 'sgd' as const, lr: 0.1, momentum: 0.9 }, schedule: { kind: 'constant' as const } };
    await expect(train(m, data, null, { ...cfg, workers: 2 })).rejects.toThrow(ConfigError);
    await expect(train(m, data, null, { ...cfg, workers: 2 })).rejects.toThrow(/backend cuda trains with at most 1 worker/);
    const before = m.store.params.slice();
    await train(m, data, null, { ...cfg, workers: 1 });
    expect(normErr(m.store.params, before)).toBeGreaterThan(0);
  });

  it('a managed backend over an addon without allocManaged is refused at creation', () => {
    expect(() => backendFromAddon('cuda', 'old build', { ...addon, allocManaged: undefined }, true)).toThrow(/no allocManaged.*rebuild/);
  });
});

const cudaBuilt = existsSync(addonPath('cuda'));
describe.skipIf(!cudaBuilt)('the built CUDA addon without a device', () => {
  // Loaded in-process only after the child-process probe has said it loads.
  const cuda = cudaBuilt ? (createRequire(import.meta.url)(addonPath('cuda')) as NativeAddon) : null;
  const hasDevice = cuda?.probe().ok === true;

  it('allocManaged checks its argument', () => {
    expect(() => cuda!.allocManaged!('16' as unknown as number)).toThrow(TypeError);
    expect(() => cuda!.allocManaged!(-4)).toThrow(RangeError);
    expect(() => cuda!.allocManaged!(1.5)).toThrow(RangeError);
  });

  it.skipIf(hasDevice)('allocManaged with no device throws a CUDA error (no crash)', () => {
    expect(() => cuda!.allocManaged!(64)).toThrow(/allocManaged: CUDA error/);
  });

  it('zero checks its argument and zeroes host arrays', () => {
    expect(() => cuda!.zero(new Int32Array(4) as unknown as Float32Array)).toThrow(TypeError);
    const a = Float32Array.from([1, 2, 3]);
    cuda!.zero(a);
    expect(Array.from(a)).toEqual([0, 0, 0]);
  });
});
