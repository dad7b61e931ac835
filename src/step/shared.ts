// Shared buffers between the main thread and the workers, described by offsets: a worker
// rebuilds the same view over the same memory, so tasks never carry (or copy) arrays.

import type { WorkerShare } from '../backends/backend.js';
import type { ModelConfig } from '../nn/spec.js';
import type { UpdatePlan } from '../optim/optimizer.js';
import type { TeacherFusion } from '../distill/objectives.js';
import type { HintConfig } from '../distill/hints.js';
import type { BnExchange } from './bn-sync.js';

/** A Float32Array/Int32Array view on shared storage. `buffer` is omitted for views on the
 * backend's shared WebAssembly.Memory: the worker uses its own handle of that memory. */
export interface BufDesc {
  buffer?: SharedArrayBuffer;
  byteOffset: number;
  length: number;
}

export function describeBuf(buf: Float32Array | Int32Array, share: WorkerShare, what: string, inMemory = false): BufDesc {
  if (share.memory && (inMemory || buf.buffer === share.memory.buffer)) return { byteOffset: buf.byteOffset, length: buf.length };
  if (!(buf.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError(`data-parallel: ${what} is not in shared memory (backend ${share.name} must allocate on a SharedArrayBuffer or a shared WebAssembly.Memory)`);
  }
  return { buffer: buf.buffer, byteOffset: buf.byteOffset, length: buf.length };
}

export function f32View(d: BufDesc, share: WorkerShare): Float32Array {
  return new Float32Array((d.buffer ?? share.memory!.buffer) as ArrayBufferLike, d.byteOffset, d.length);
}

export function i32View(d: BufDesc, share: WorkerShare): Int32Array {
  return new Int32Array((d.buffer ?? share.memory!.buffer) as ArrayBufferLike, d.byteOffset, d.length);
}

/** Everything a worker needs to build its models over the shared storage (workerData). */
export interface WorkerInit {
  share: WorkerShare;
  student: ModelConfig;
  params: BufDesc;
  /**
   * The student's buffers (batch-norm running statistics), when it has any: the shard-0 task
   * updates them (from the whole batch's statistics, the same on every shard after the
   * batch-norm sync; the other shards update private copies), one writer.
   */
  buffers?: BufDesc;
  /** The batch-norm exchange area and barrier of the shards of a step (a student with batch norm and several workers). */
  bnSync?: BnExchange;
  /** One gradient slot per shard; slot 0 is the main thread's gradient buffer. */
  gradSlots: BufDesc[];
  /** Teachers: config, shared parameters and (when they have batch norm) shared running statistics, read only. */
  teachers: { config: ModelConfig; params: BufDesc; buffers?: BufDesc; weight: number; temperature?: number }[];
  fusion: TeacherFusion;
  /** The optimizer's state buffers (momentum, or m and v), same layout as the parameters. */
  optState: Record<string, BufDesc>;
  /** Batch buffers sized for the largest batch: inputs (N,C), labels (N), teacher logits (N,K), labeled-row mask (N). */
  x: BufDesc;
  y: BufDesc;
  t: BufDesc;
  mask: BufDesc;
  /** FitNets hint adapters against the first teacher: their config, shared parameters, one gradient slot per shard (slot 0 the main thread's), optimizer state. */
  hints?: { cfg: HintConfig; params: BufDesc; gradSlots: BufDesc[]; optState: Record<string, BufDesc> };
  /** Quantization-aware training: the shared ranges + per-shard stats area (compress/qat.ts) and its shard count. */
  qat?: { area: BufDesc; shards: number };
}

export interface KdTask {
  T: number;
  alpha: number;
  scaleT2: boolean;
}

/** Forward + loss + backward on rows [r0, r1) of a batch of N, gradients into slot `shard`. */
export interface StepTask {
  op: 'step';
  shard: number;
  /** The number of shards of this step (the batch-norm barrier waits for all of them). */
  shards: number;
  /** The step attempt (a retry is a new one): the batch-norm exchange belongs to one attempt. */
  gen: number;
  r0: number;
  r1: number;
  N: number;
  kd: KdTask | null;
  /** Run the teachers on the shard (else t already holds their logits). */
  teacherOnline: boolean;
  training: boolean;
  /** Seeds the shard's dropout masks (a function of seed, step and shard only). */
  dropoutSeed: number;
  /** A partly labeled batch: how many of its N rows are labeled (the mask buffer marks them). */
  labeled?: number;
  /** FitNets stage 1: the hint loss alone (the output objective contributes nothing). */
  hintOnly?: boolean;
  /** Quantization-aware training is on this step: fake-quant forward, STE backward, this shard's input ranges into its stats slot. */
  qat?: boolean;
  /** Tests only: make this task fail ('throw'), kill its worker ('exit'), or never run it ('missing', the main thread drops it). */
  fault?: 'throw' | 'exit' | 'missing';
}

/**
 * Elements [from, to): grads of slot 0 += slots 1..slots-1 (in that order, so the sum does not
 * depend on timing), then the optimizer update `plan` on params[from, to), of the student's
 * parameters or (group 'hints') the hint adapters'.
 */
export interface UpdateTask {
  op: 'update';
  group?: 'student' | 'hints';
  from: number;
  to: number;
  slots: number;
  plan: UpdatePlan | null;
}

export type Task = StepTask | UpdateTask;

export interface StepResult {
  loss: number;
  kd: number;
  ce: number;
  hint?: number;
}
