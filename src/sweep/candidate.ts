// One job of a sweep: train a candidate student by KD from the cached teacher logits (the same
// trainer as `distill student`), from scratch at rung 0 or continuing from the previous rung's
// model file; evaluate it on the validation split; write its model file. Runs in the main thread
// (one at a time, data-parallel over `workers`) or in a sweep worker thread (several candidates
// at once, one thread each); with --int8, also its int8 form (post-training quantization; with
// --sparsity too, each pruned form's int8 form as well); with
// --sparsity, also its structured-pruned forms (channels and neurons removed as distill prune
// --structured does, then a few epochs of KD recovery from the same teacher logits). Also: the
// latency of an architecture (float32 or int8) on the deploy backend.

import type { Backend } from '../backends/backend.js';
import { ConfigError, NumericalError } from '../errors.js';
import type { Dataset } from '../data/dataset.js';
import { Sequential } from '../nn/sequential.js';
import { layerShapes, type ModelConfig, type ModelSpec } from '../nn/spec.js';
import type { OptimizerConfig } from '../optim/optimizer.js';
import { readModel, saveModel, saveQuantizedModel } from '../io/model-file.js';
import type { InferenceModel, QuantizedSequential } from '../nn/quantized.js';
import { evaluate, train } from '../train/trainer.js';
import { calibrate, inferenceMs, quantizeModel } from '../compress/quantize.js';
import { sliceModel, structuredPlan } from '../compress/prune.js';
import { candidateKey, convOf, hiddenOf, type Candidate, type DataDims } from './space.js';

/** Training settings shared by every candidate of a sweep (part of each candidate's hash). */
export interface SweepTraining {
  batchSize: number;
  optimizer: OptimizerConfig;
  seed: number;
  /** Linear lr warm-up at the start of each rung, in epochs (0: none); at most half the rung's steps. */
  warmupEpochs: number;
}

export interface CandidateJob {
  candidate: Candidate;
  /** Epochs to train in this job. */
  epochs: number;
  rung: number;
  /** The previous rung's model file to continue from (absent at rung 0). */
  init?: string;
  /** Where to write this rung's model file. */
  out: string;
  training: SweepTraining;
  /** Metadata for the model file (data name, teacher, config). */
  meta: Record<string, string>;
  /** Also quantize the trained model (int8 PTQ, as distill quantize does by default) and write it here. */
  int8?: { out: string };
  /** Also prune the trained model (structured, criterion io) at each sparsity, recover it by KD for `recoverEpochs`, and write it to `out`. */
  pruned?: { sparsity: number; out: string; /** With int8 too: the pruned model's int8 form, written here. */ int8Out?: string }[];
  recoverEpochs?: number;
}

/** The structured criterion of the pruned points (distill prune's default). */
export const SWEEP_PRUNE_CRITERION = 'io';

export interface CandidateData {
  train: Dataset;
  val: Dataset;
  /** Teacher logits (train.n, K), in train's order. */
  logits: Float32Array;
}

export interface CandidateResult {
  valAccuracy: number;
  valLoss: number;
  params: number;
  ms: number;
  /** Set when the training diverged (NumericalError): the message; nothing was written. */
  failed?: string;
  /** With job.int8: the int8 model's validation accuracy and loss. */
  int8?: { valAccuracy: number; valLoss: number };
  /** With job.pruned: each pruned model's validation accuracy and loss and parameters (a recovery that diverged: failed, nothing written). */
  pruned?: { sparsity: number; valAccuracy: number; valLoss: number; params: number; failed?: string; /** With int8Out: the pruned model's int8 form. */ int8?: { valAccuracy: number; valLoss: number } }[];
  /** ms of `ms` that do not scale with the epochs (pruning, recovery, quantization): the scheduler's per-job overhead. */
  extraMs?: number;
}

/** Rows of the training set that calibrate the int8 activation ranges (distill quantize's default count). */
export const INT8_CALIB_SAMPLES = 1000;

/** The int8 model of `m` (post-training quantization, min/max ranges on the first rows of `x`). */
function int8Of(m: Sequential, x: Float32Array, n: number): QuantizedSequential {
  return quantizeModel(m, calibrate(m, x, Math.min(INT8_CALIB_SAMPLES, n), { method: 'minmax' }));
}

/**
 * The candidate's model config. An MLP: `depth` dense hidden layers of `width` (the widths form, as
 * distill student --hidden builds it). With a conv stem: per block conv:OCx3 → relu → maxpool:2 on
 * the data's (C,H,W), then flatten and the same dense head. A stem on data with no image shape,
 * or one that pools the image to nothing, is a ConfigError naming the stem.
 */
export function candidateModel(c: Candidate, d: DataDims): ModelSpec {
  const K = Math.max(d.classes, 2), conv = convOf(c);
  if (!conv.length) return { layers: [d.inputs, ...hiddenOf(c), K], activation: c.activation };
  if (!d.shape || d.shape.length !== 3) throw new ConfigError(`--conv ${conv.join('-')}: conv candidates need image data with a (C,H,W) sample shape; this data's samples are flat (${d.inputs} features${d.shape ? `, shape [${d.shape}]` : ''}); use --conv none`);
  const layers = [...conv.flatMap((ch) => [`conv:${ch}x3`, 'relu', 'maxpool:2']), 'flatten', ...hiddenOf(c).flatMap((w) => [`dense:${w}`, c.activation]), `dense:${K}`];
  const cfg: ModelConfig = { input: d.shape, layers };
  try {
    layerShapes(cfg);
  } catch (e) {
    throw new ConfigError(`--conv ${conv.join('-')}: ${conv.length} blocks of maxpool:2 do not fit the ${d.shape.join('×')} images (${(e as Error).message}); use fewer blocks`);
  }
  return cfg;
}

/** Trains `model` on (data.train, data.logits) by KD for `epochs` (cosine after a warm-up); null when stopped. */
async function kdTrain(model: Sequential, c: Candidate, t: SweepTraining, epochs: number, seed: number, workers: number, data: CandidateData, signal?: AbortSignal) {
  const steps = Math.ceil(data.train.n / Math.min(t.batchSize, data.train.n));
  const res = await train(model, data.train, null, {
    epochs, batchSize: t.batchSize, seed, optimizer: t.optimizer,
    schedule: { kind: 'cosine', totalSteps: epochs * steps, warmupSteps: Math.min(Math.round(t.warmupEpochs * steps), Math.floor((epochs * steps) / 2)) }, kd: { T: c.T, alpha: c.alpha, scaleT2: true }, workers,
  }, { signal }, [{ logits: data.logits }]);
  return res.stopped ? null : res;
}

/** Trains one job and writes its model (and its int8 and pruned forms when asked); null when `signal` stopped it first (nothing written). */
export async function trainCandidate(be: Backend, workers: number, job: CandidateJob, data: CandidateData, signal?: AbortSignal): Promise<CandidateResult | null> {
  const t0 = performance.now();
  const { candidate: c, training: t } = job;
  const dims: DataDims = { inputs: data.train.features, classes: data.train.classes, shape: data.train.shape };
  // A continued rung draws other batches than rung 0 did (the shuffle seed moves with the rung).
  const seed = t.seed + 1000 * job.rung;
  const model = new Sequential(be, candidateModel(c, dims), seed);
  try {
    if (job.init) {
      const { model: prev } = await readModel(job.init, be);
      model.store.params.set(prev.store.params);
      prev.release();
    }
    try {
      if (!(await kdTrain(model, c, t, job.epochs, seed, workers, data, signal))) return null;
    } catch (e) {
      // A candidate whose training diverges is a result (this setting does not train), not the sweep's failure.
      if (e instanceof NumericalError) return { valAccuracy: 0, valLoss: NaN, params: model.parameterCount, ms: performance.now() - t0, failed: e.message };
      throw e;
    }
    const ev = evaluate(model, data.val);
    const info = { transform: data.train.transform ?? null, classNames: data.train.classNames ? Array.from({ length: model.classes }, (_, k) => data.train.classNames![k] ?? String(k)) : null };
    await saveModel(job.out, model, job.meta, info);
    const tExtra = performance.now();
    // A model's int8 form (PTQ as distill quantize does by default), evaluated and written to `out`.
    const int8Form = async (m: Sequential, out: string, role: string): Promise<{ valAccuracy: number; valLoss: number }> => {
      const q = int8Of(m, data.train.x, data.train.n);
      try {
        const e8 = evaluate(q, data.val);
        await saveQuantizedModel(out, q, { ...job.meta, role, calibration: JSON.stringify({ method: 'minmax', samples: Math.min(INT8_CALIB_SAMPLES, data.train.n) }) }, info);
        return { valAccuracy: e8.accuracy, valLoss: e8.loss };
      } finally {
        q.release();
      }
    };
    const int8 = job.int8 ? await int8Form(model, job.int8.out, 'int8') : undefined;
    const pruned: NonNullable<CandidateResult['pruned']> = [];
    for (const p of job.pruned ?? []) {
      // Structured pruning as distill prune --structured (one-shot), then KD recovery from the same teacher logits.
      const small = sliceModel(model, structuredPlan(model, p.sparsity, SWEEP_PRUNE_CRITERION));
      try {
        const E = job.recoverEpochs ?? 0;
        try {
          if (E > 0 && !(await kdTrain(small, c, t, E, seed + 7, workers, data, signal))) return null;
        } catch (e) {
          if (e instanceof NumericalError) { pruned.push({ sparsity: p.sparsity, valAccuracy: 0, valLoss: NaN, params: small.parameterCount, failed: e.message }); continue; }
          throw e;
        }
        const ep = evaluate(small, data.val);
        await saveModel(p.out, small, { ...job.meta, role: 'pruned', prune: JSON.stringify({ sparsity: p.sparsity, structured: true, criterion: SWEEP_PRUNE_CRITERION, recoverEpochs: E, of: candidateKey(c) }) }, info);
        // The pruned model through the same PTQ as the float one: the smallest form of the candidate.
        const p8 = p.int8Out ? await int8Form(small, p.int8Out, 'pruned-int8') : undefined;
        pruned.push({ sparsity: p.sparsity, valAccuracy: ep.accuracy, valLoss: ep.loss, params: small.parameterCount, ...(p8 ? { int8: p8 } : {}) });
      } finally {
        small.release();
      }
    }
    const end = performance.now();
    return { valAccuracy: ev.accuracy, valLoss: ev.loss, params: model.parameterCount, ms: end - t0, extraMs: end - tExtra, ...(int8 ? { int8 } : {}), ...(job.pruned?.length ? { pruned } : {}) };
  } finally {
    model.release();
  }
}

/**
 * Median ms of one eval-mode forward at batch 1 and at batch 128 of the candidate's architecture
 * on `be` (inferenceMs: the timing `distill quantize` and `distill prune` report), on untrained
 * weights: float32 dense and conv timing does not depend on the weights' values, so it is
 * measured once per architecture (a pruned form is measured as its own, smaller architecture).
 */
export function candidateLatency(be: Backend, c: Candidate, d: DataDims, int8?: { x: Float32Array; n: number }): { ms1: number; ms128: number } {
  const f32 = new Sequential(be, candidateModel(c, d), 1);
  // int8: the same architecture quantized (its timing does not depend on the weights or ranges either).
  const m: InferenceModel = int8 ? int8Of(f32, int8.x, int8.n) : f32;
  try {
    inferenceMs(m, 128, 5); // warm-up (JIT, caches) at both sizes
    inferenceMs(m, 1, 50);
    return { ms1: inferenceMs(m, 1, 200), ms128: inferenceMs(m, 128, 30) };
  } finally {
    if (m !== f32) m.release();
    f32.release();
  }
}
