// A -mt wasm backend whose helper thread dies in the middle of a run: the trainer starts new
// helpers and retries the step once, and the run ends with bitwise the weights of an
// uninterrupted one (dropout included); a helper that dies again in the retry stops the run with
// WorkerFailure (exit 5 in the CLI) and the last checkpoint byte for byte as it was.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createWasmMtBackend, type WasmBackend } from '../src/backends/wasm/index.js';
import { WorkerFailure } from '../src/errors.js';
import { Sequential } from '../src/nn/sequential.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { blobs } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-mt-recover-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Terminates helper thread 1 of a -mt backend's current pool and lets its exit be seen. */
async function killHelper(be: WasmBackend): Promise<void> {
  const pool = be.threadPool as unknown as { helpers: { worker: { terminate(): Promise<number> } }[] };
  await pool.helpers[0].worker.terminate();
  await new Promise((r) => setTimeout(r, 50));
}

const data = blobs(256, 40, 5, 4);
const cfg = (ckpt?: string): TrainConfig => ({
  epochs: 2, batchSize: 64, seed: 3, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 }, schedule: { kind: 'constant' }, workers: 1, ...(ckpt ? { checkpointPath: ckpt } : {}),
});
// Wide enough that the matmuls are split over the helpers; dropout so the retry must redraw the same masks.
const model = (be: WasmBackend) => new Sequential(be, { input: [40], layers: ['dense:256', 'relu', 'dropout:0.2', 'dense:256', 'relu', 'dense:5'] }, 9);

describe.skipIf(availableParallelism() < 2)('a -mt helper that dies mid-run', () => {
  it('one death: new helpers, the step retried, the same weights as without it', async () => {
    const ref = await createWasmMtBackend('simd');
    const a = model(ref);
    await train(a, data, null, cfg());
    const be = await createWasmMtBackend('simd');
    const b = model(be);
    const logs: string[] = [];
    // Killed between calls (a helper that dies during a call is found only by a 120 s timeout).
    await killHelper(be);
    await train(b, data, null, cfg(), { log: (m) => logs.push(m) });
    expect(logs.some((l) => /helper thread 1 exited .*; starting new helper threads and retrying the step once/.test(l)), logs.join('\n')).toBe(true);
    expect(Buffer.from(b.store.params.buffer, b.store.params.byteOffset, b.store.params.byteLength).equals(Buffer.from(a.store.params.buffer, a.store.params.byteOffset, a.store.params.byteLength))).toBe(true);
    ref.dispose();
    be.dispose();
  });

  it('a second death in the retry stops the run with WorkerFailure; the checkpoint is untouched', async () => {
    const be = await createWasmMtBackend('simd');
    const m = model(be);
    const ckpt = join(dir, 'ck.safetensors');
    await train(m, data, null, { ...cfg(ckpt), epochs: 1 });
    const before = readFileSync(ckpt);
    const recover = be.recover.bind(be);
    be.recover = async () => { await recover(); await killHelper(be); };
    await killHelper(be);
    const run = train(m, data, null, { ...cfg(ckpt), epochs: 2, resume: true });
    await expect(run).rejects.toThrow(WorkerFailure);
    expect(readFileSync(ckpt).equals(before)).toBe(true);
    be.dispose();
  });
});
