// Batch norm across data-parallel shards (DESIGN.md: "BatchNorm in training reduces its batch
// statistics across shards, so 2 workers match 1"). The shards of one step meet at an
// Atomics barrier on a SharedArrayBuffer exchange area; each publishes its per-channel values in
// its own slot, and after the barrier every shard combines all slots in the same fixed order
// (shard 0..S-1, in Float64), so all shards get bitwise the same whole-batch values and nothing
// depends on timing.
//
// Layout (bytes): 64 of Int32 control words, then two banks of S_max slots of Float64
// [count, a[0..maxC), b[0..maxC)]. Collective call k of a step uses bank k % 2: a shard can only
// start call k+1 (and write bank (k+1) % 2) after every shard has arrived at call k, that is
// after every shard has finished reading bank (k+1) % 2 in call k-1, so one barrier per call
// suffices.
//
// Control words: GEN (the step attempt the area belongs to; a task of another attempt refuses to
// use it), ARRIVED (arrivals since the attempt began: call k is complete at (k+1)·S), ABORT
// (nonzero once a shard of this attempt failed, or skipped its backward on a non-finite loss:
// the waiters stop at once instead of timing out). The main thread resets the area before each
// attempt (no task of the previous attempt is running then) and sets ABORT when a task fails.

import type { F32 } from '../kernels/signatures.js';
import type { BatchNormSync } from '../nn/layers.js';

const GEN = 0, ARRIVED = 1, ABORT = 2;
const CTRL_BYTES = 64;
/** ABORT values. */
const FAILED = 1, SKIPPED = 2;

/** The default time a shard waits for the others at one barrier before the step fails. */
export const BARRIER_TIMEOUT_MS = 60_000;

/** The exchange area's description for the workers. */
export interface BnExchange {
  buffer: SharedArrayBuffer;
  /** Slots per bank (the pool's worker count) and floats per channel vector. */
  slots: number;
  maxC: number;
  timeoutMs: number;
}

export function createBnExchange(slots: number, maxC: number, timeoutMs = BARRIER_TIMEOUT_MS): BnExchange {
  const bytes = CTRL_BYTES + 2 * slots * (1 + 2 * maxC) * 8;
  return { buffer: new SharedArrayBuffer(bytes), slots, maxC, timeoutMs };
}

/** Main thread, before the step tasks of attempt `gen` are dispatched (none of another attempt runs). */
export function resetBnExchange(ex: BnExchange, gen: number): void {
  const ctrl = new Int32Array(ex.buffer, 0, CTRL_BYTES / 4);
  Atomics.store(ctrl, ARRIVED, 0);
  Atomics.store(ctrl, ABORT, 0);
  Atomics.store(ctrl, GEN, gen);
}

/** Any thread: a task of attempt `gen` failed; the shards waiting at the barrier stop now. */
export function abortBnExchange(ex: BnExchange, gen: number, kind: 'failed' | 'skipped' = 'failed'): void {
  const ctrl = new Int32Array(ex.buffer, 0, CTRL_BYTES / 4);
  if (Atomics.load(ctrl, GEN) !== gen) return;
  Atomics.compareExchange(ctrl, ABORT, 0, kind === 'failed' ? FAILED : SKIPPED);
  Atomics.notify(ctrl, ARRIVED);
}

/** Thrown in a shard whose step is abandoned because another shard skipped its backward (non-finite loss). */
export class BnSyncSkipped extends Error {}

/** One worker's view of the exchange: the BatchNormSync of its student's batch-norm layers. */
export class SharedBnSync implements BatchNormSync {
  private readonly ctrl: Int32Array;
  private readonly data: Float64Array;
  private readonly stride: number;
  private gen = -1;
  private shard = 0;
  private shards = 1;
  private calls = 0;

  constructor(private readonly ex: BnExchange) {
    this.ctrl = new Int32Array(ex.buffer, 0, CTRL_BYTES / 4);
    this.data = new Float64Array(ex.buffer, CTRL_BYTES);
    this.stride = 1 + 2 * ex.maxC;
  }

  /** Before a step task: its attempt, its shard and the number of shards of the step. */
  begin(gen: number, shard: number, shards: number): void {
    if (shards > this.ex.slots || shard >= shards) throw new RangeError(`batch-norm sync: shard ${shard} of ${shards}, but the exchange has ${this.ex.slots} slots`);
    this.gen = gen;
    this.shard = shard;
    this.shards = shards;
    this.calls = 0;
  }

  /** This shard failed or skipped its backward: release the others. */
  abort(kind: 'failed' | 'skipped'): void {
    abortBnExchange(this.ex, this.gen, kind);
  }

  stats(count: number, mean: F32, m2: F32): number {
    const C = mean.length, S = this.shards;
    const bank = this.publish(count, mean, m2);
    // Chan et al.'s pairwise combination, shard 0 first, then 1, ..., in Float64.
    let n = 0;
    for (let c = 0; c < C; c++) {
      let na = 0, ma = 0, qa = 0;
      for (let s = 0; s < S; s++) {
        const o = this.slotOffset(bank, s), nb = this.data[o], mb = this.data[o + 1 + c], qb = this.data[o + 1 + this.ex.maxC + c];
        const nab = na + nb;
        if (nab === 0) continue;
        const delta = mb - ma;
        ma += (delta * nb) / nab;
        qa += qb + (delta * delta * na * nb) / nab;
        na = nab;
      }
      mean[c] = ma;
      m2[c] = qa;
      n = na;
    }
    if (C === 0) for (let s = 0; s < S; s++) n += this.data[this.slotOffset(bank, s)];
    return n;
  }

  grads(sumDy: F32, sumDyXhat: F32): void {
    const C = sumDy.length, S = this.shards;
    const bank = this.publish(0, sumDy, sumDyXhat);
    for (let c = 0; c < C; c++) {
      let a = 0, b = 0;
      for (let s = 0; s < S; s++) {
        const o = this.slotOffset(bank, s);
        a += this.data[o + 1 + c];
        b += this.data[o + 1 + this.ex.maxC + c];
      }
      sumDy[c] = a;
      sumDyXhat[c] = b;
    }
  }

  private slotOffset(bank: number, s: number): number {
    return (bank * this.ex.slots + s) * this.stride;
  }

  /** Writes this shard's values into its slot of this call's bank and waits for every shard; returns the bank. */
  private publish(count: number, a: F32, b: F32): number {
    const C = a.length;
    if (C > this.ex.maxC) throw new RangeError(`batch-norm sync: ${C} channels, the exchange holds ${this.ex.maxC}`);
    const k = this.calls++, bank = k % 2, o = this.slotOffset(bank, this.shard);
    this.data[o] = count;
    for (let c = 0; c < C; c++) {
      this.data[o + 1 + c] = a[c];
      this.data[o + 1 + this.ex.maxC + c] = b[c];
    }
    this.barrier((k + 1) * this.shards, k);
    return bank;
  }

  private barrier(target: number, k: number): void {
    const { ctrl } = this;
    if (Atomics.load(ctrl, GEN) !== this.gen) throw new Error(`batch-norm barrier: shard ${this.shard} of step attempt ${this.gen} found the exchange of attempt ${Atomics.load(ctrl, GEN)}`);
    // Atomics.add is a full barrier: the slot written above is visible to whoever sees the count.
    Atomics.add(ctrl, ARRIVED, 1);
    Atomics.notify(ctrl, ARRIVED);
    const deadline = Date.now() + this.ex.timeoutMs;
    for (;;) {
      const abort = Atomics.load(ctrl, ABORT);
      if (abort === SKIPPED) throw new BnSyncSkipped(`batch-norm barrier: another shard skipped its backward (non-finite loss)`);
      if (abort) throw new Error(`batch-norm barrier: another shard of this step failed (shard ${this.shard} stopped waiting at collective call ${k + 1})`);
      const arrived = Atomics.load(ctrl, ARRIVED);
      if (arrived >= target) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`batch-norm barrier timed out after ${(this.ex.timeoutMs / 1000).toFixed(1)} s: shard ${this.shard} waited at collective call ${k + 1} for ${this.shards} shards, ${arrived - k * this.shards} arrived`);
      }
      Atomics.wait(ctrl, ARRIVED, arrived, left);
    }
  }
}
