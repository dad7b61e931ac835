// The training loop for teachers (cross-entropy) and students (KD from one or more teachers),
// with evaluation, per-epoch metrics, atomic checkpoints and bit-exact resume.

import type { InferenceModel } from '../nn/quantized.js';
import { createHash } from 'node:crypto';
import { allowsWorkers, workerLimit, type Backend } from '../backends/backend.js';
import { ConfigError, NumericalError, ShapeError, WorkerFailure } from '../errors.js';
import { argmaxRow, type Sequential } from '../nn/sequential.js';
import type { F32 } from '../kernels/signatures.js';
import { describeModel } from '../nn/spec.js';
import { createOptimizer, type OptimizerConfig } from '../optim/optimizer.js';
import { makeSchedule, type ScheduleConfig } from '../optim/schedule.js';
import { epochOrder, gatherBatch } from '../data/batching.js';
import { checkDataset, type Dataset } from '../data/dataset.js';
import { imageSide, shiftImages, type AugmentConfig } from '../data/augment.js';
import { writeFileAtomic } from '../io/atomic.js';
import { DataParallel, type ParallelOptions } from '../step/data-parallel.js';
import { distillStep, type StepModels } from '../step/step.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from '../io/model-file.js';
import { fuseTeacherLogits, validateKd, type KdConfig, type LossParts, type TeacherFusion } from '../distill/objectives.js';
import { kdForEpoch, type KdSchedule } from '../distill/schedules.js';
import { HintAdapters, type HintConfig } from '../distill/hints.js';
import type { TrainMask } from '../compress/prune.js';
import { Qat, validateQat, type QatConfig } from '../compress/qat.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleConfig;
  /** Distillation settings; used when teachers are given. */
  kd?: Partial<KdConfig>;
  /** 'cached': teacher logits for the whole training set are computed once; 'online': per batch. */
  teacherMode?: 'cached' | 'online';
  /** Several teachers: weighted mean of their logits (default) or of their probabilities. */
  teacherFusion?: TeacherFusion;
  /** T and alpha schedules over epochs, and the epoch KD starts. */
  kdSchedule?: KdSchedule;
  /** Random image shifts per batch (square single-channel images); teachers then run online. */
  augment?: AugmentConfig;
  /** FitNets hint losses against the first teacher's hidden layers (teachers then run online). */
  hints?: HintConfig;
  /** Checkpoint file; written atomically every `checkpointEvery` steps and at each epoch end. */
  checkpointPath?: string;
  checkpointEvery?: number;
  /** Continue from checkpointPath if it exists. */
  resume?: boolean;
  /**
   * Resume even when the checkpoint was written with another backend or worker count (the run
   * then is no longer bitwise the same as an uninterrupted one). Default false: refused.
   */
  forceResume?: boolean;
  /** Metrics JSONL file, rewritten atomically at each epoch end. */
  metricsPath?: string;
  evalBatchSize?: number;
  /**
   * Data-parallel worker threads (piscina): each batch is split into this many shards.
   * 1 (default) runs in this thread. Same seed + backend + workers → bitwise-identical weights.
   */
  workers?: number;
  /**
   * Pruning masks kept through training (src/compress/prune.ts): applied before the first step
   * and after every optimizer update to the parameters and the optimizer state (pruned entries
   * stay exactly 0, with momentum and weight decay too), updated when its schedule says so, and
   * saved in the checkpoint (extra tensor 'prune.mask') so a resume continues with the same mask.
   */
  prune?: TrainMask;
  /**
   * Quantization-aware training (compress/qat.ts): from `startEpoch` on, every Dense and Conv2D
   * layer fake-quantizes its weights (int8 per channel) and input (uint8 per tensor, EMA-observed
   * range) in the forward, with the straight-through estimator in the backward. Evaluation in
   * those epochs is the int8-simulated one. The hooks stay on the model (TrainResult.qat).
   */
  qat?: QatConfig;
  /**
   * Model selection on held-out data (never the test set): the model's accuracy on this set is
   * measured at the start and after every epoch, and the run ends with the weights (batch-norm
   * statistics, QAT ranges) of the best of those points; ties go to the earliest, so a start
   * point that no epoch beats is kept. With QAT, only points where fake-quant is on count (the
   * start only when QAT starts at epoch 0; its ranges are initRanges or, without them, the
   * calibration on the first batch that the first step would do anyway).
   */
  selectBy?: Dataset;
}

export interface Teacher {
  /** A teacher model, run in eval mode; or, instead, */
  model?: Sequential;
  /** its precomputed logits (n, K) for the training set, in dataset order (distill logits). */
  logits?: Float32Array;
  /** Weight of this teacher in the (normalized) weighted mean. Default 1. */
  weight?: number;
  /** This teacher's own softmax temperature (default: the KD temperature). */
  temperature?: number;
}

export interface StepProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  step: number;
  loss: number;
  samplesPerSec: number;
}

export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  train_loss: number;
  train_kd: number;
  train_ce: number;
  /** Mean hint loss (0 without hints). */
  train_hint: number;
  test_loss: number | null;
  test_acc: number | null;
  test_errors: number | null;
  seconds: number;
}

export interface TrainHooks {
  onStep?(p: StepProgress): void;
  onEpoch?(m: EpochMetrics): void;
  log?(msg: string): void;
  /** Stop cleanly after the current step (a checkpoint is written when checkpointPath is set). */
  signal?: AbortSignal;
  /** Stop after this many total steps (simulates an interruption in tests). */
  stopAfterSteps?: number;
  /** Tests only: inject a worker fault (see DataParallel). */
  faultAt?: ParallelOptions['faultAt'];
  /** Tests only: the batch-norm barrier's timeout (default 60 s). */
  barrierTimeoutMs?: number;
}

export interface TrainResult {
  history: EpochMetrics[];
  /** True when stopped early by signal or stopAfterSteps. */
  stopped: boolean;
  steps: number;
  /** With cfg.qat: the fake-quant hooks (still attached, enabled when QAT had started) and the observed activation ranges. */
  qat?: Qat;
  /**
   * With cfg.selectBy: the point kept (0 = the start, k = after epoch k) and its accuracy on the
   * selection set, and every point's accuracy (null where it did not count: before QAT started).
   */
  selected?: { epoch: number; accuracy: number; scores: (number | null)[] };
}

export interface EvalResult {
  n: number;
  loss: number;
  accuracy: number;
  errors: number;
}

function checkData(model: InferenceModel, ds: Dataset, what: string): void {
  checkDataset(ds); // sizes, labels in range, every feature finite (names the sample at fault)
  if (ds.features !== model.inputs) throw new ShapeError(`${what} '${ds.name}' has ${ds.features} features per sample, but the model takes ${model.inputs} inputs (config layers[0])`);
  if (ds.classes > model.classes) throw new ShapeError(`${what} '${ds.name}' has ${ds.classes} classes, but the model outputs ${model.classes}`);
}

/**
 * Runs `model` in eval mode (no dropout) over `ds` in batches of `batchSize`, in dataset order:
 * `each(logits, labels, N, start)` per batch (valid during the call). Restores the model's mode.
 */
export function forEachEvalBatch(model: InferenceModel, ds: Dataset, batchSize: number, each: (logits: F32, labels: Int32Array, N: number, start: number) => void): void {
  const be = model.backend;
  const B = Math.max(1, Math.min(batchSize, ds.n));
  const x = be.alloc(B * ds.features), y = be.allocInt32(B);
  const wasTraining = model.training;
  model.eval();
  const order = Uint32Array.from({ length: ds.n }, (_, i) => i);
  try {
    for (let start = 0; start < ds.n; start += B) {
      const end = Math.min(ds.n, start + B), N = end - start;
      gatherBatch(ds, order, start, end, x, y);
      each(model.forward(x, N), y, N, start);
    }
  } finally {
    model.training = wasTraining;
    be.free(x); be.free(y);
  }
}

/** Accuracy, mean CE loss and error count of `model` (float32 or int8) on `ds` (eval mode, no dropout). */
export function evaluate(model: InferenceModel, ds: Dataset, batchSize = 500): EvalResult {
  checkData(model, ds, 'evaluation data');
  const be = model.backend;
  const K = model.classes;
  const d = be.alloc(Math.max(1, Math.min(batchSize, ds.n)) * K);
  let lossSum = 0, errors = 0;
  try {
    forEachEvalBatch(model, ds, batchSize, (logits, y, N) => {
      lossSum += be.cross_entropy(d, logits, y, N, K, 1, false) * N;
      for (let n = 0; n < N; n++) if (argmaxRow(logits, n, K) !== y[n]) errors++;
    });
  } finally {
    be.free(d);
  }
  return { n: ds.n, loss: ds.n ? lossSum / ds.n : 0, accuracy: ds.n ? 1 - errors / ds.n : 0, errors };
}

/** A model in a fingerprint: its widths form where it has one, so checkpoints of earlier versions still resume. */
const configKey = (m: Sequential) => m.widthsConfig ?? m.config;

function fingerprint(model: Sequential, ds: Dataset, cfg: TrainConfig, teachers: Teacher[]): { hash: string; key: Record<string, unknown> } {
  const key: Record<string, unknown> = {
    model: configKey(model), data: [ds.name, ds.n, ds.features, ds.labeled ? ds.labeled.reduce((a, b) => a + b, 0) : ds.n], batchSize: cfg.batchSize, seed: cfg.seed,
    optimizer: cfg.optimizer, schedule: cfg.schedule, kd: teachers.length ? validateKd(cfg.kd ?? {}) : null,
    teachers: teachers.map((t) => [t.model ? configKey(t.model) : `logits:${t.logits!.length}`, t.weight, t.temperature ?? null]),
    ...(cfg.augment ? { augment: cfg.augment } : {}),
    ...(cfg.hints ? { hints: cfg.hints } : {}),
    ...(cfg.prune ? { prune: cfg.prune.key } : {}),
    ...(cfg.qat ? { qat: qatKey(validateQat(cfg.qat, cfg.epochs)) } : {}),
    ...(cfg.selectBy ? { selectBy: [cfg.selectBy.name, cfg.selectBy.n] } : {}),
    ...(teachers.length > 1 || cfg.kdSchedule ? { fusion: cfg.teacherFusion ?? 'logits', kdSchedule: cfg.kdSchedule ?? null } : {}),
  };
  return { hash: createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16), key };
}

/** QAT settings in a fingerprint: initial ranges only when given (earlier checkpoints resume). */
function qatKey(q: ReturnType<typeof validateQat>): Record<string, unknown> {
  const { initRanges, ...rest } = q;
  return initRanges ? { ...rest, initRanges } : rest;
}

/** The settings that differ between a checkpoint's fingerprint key and this run's, for the resume error. */
function settingsDiff(was: Record<string, unknown> | undefined, now: Record<string, unknown>): string {
  if (!was) return 'model/data/optimizer/seed settings';
  const names: Record<string, string> = { model: 'the model', data: 'the data', batchSize: 'the batch size', seed: 'the seed', optimizer: 'the optimizer settings', schedule: 'the lr schedule (with cosine: also the epoch count)', kd: 'T/alpha', teachers: 'the teachers', augment: 'augmentation', hints: 'hints', prune: 'the pruning settings', qat: 'quantization-aware training', selectBy: 'the selection set', fusion: 'teacher fusion', kdSchedule: 'the T/alpha schedules' };
  const keys = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((k) => JSON.stringify(was[k]) !== JSON.stringify(now[k]));
  return keys.map((k) => `${names[k] ?? k} (${JSON.stringify(was[k]) ?? 'none'} → ${JSON.stringify(now[k]) ?? 'none'})`.slice(0, 240)).join('; ') || 'settings';
}

function validate(cfg: TrainConfig): void {
  const posInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${name} must be a positive integer, got ${v}`);
  };
  posInt(cfg.epochs, 'epochs');
  posInt(cfg.batchSize, 'batchSize');
  if (!Number.isInteger(cfg.seed)) throw new ConfigError(`seed must be an integer, got ${cfg.seed}`);
  if (cfg.checkpointEvery !== undefined && (!Number.isInteger(cfg.checkpointEvery) || cfg.checkpointEvery < 0)) {
    throw new ConfigError(`checkpointEvery must be a non-negative integer, got ${cfg.checkpointEvery}`);
  }
}

/**
 * Trains `model` on `train`: with cross-entropy when no teacher is given, else with the KD
 * objective against the teachers' (weighted mean) logits. Deterministic for a given seed and
 * backend; resumable bit-exactly from its checkpoint.
 */
export async function train(model: Sequential, trainSet: Dataset, testSet: Dataset | null, cfg: TrainConfig, hooks: TrainHooks = {}, teacherList: Teacher[] = []): Promise<TrainResult> {
  validate(cfg);
  checkData(model, trainSet, 'training data');
  if (testSet) checkData(model, testSet, 'test data');
  const teachers = teacherList.map((t) => ({ model: t.model, logits: t.logits, weight: t.weight ?? 1, temperature: t.temperature }));
  const side = cfg.augment ? imageSide(trainSet.features) : 0;
  const fusion = cfg.teacherFusion ?? 'logits';
  if (fusion !== 'logits' && fusion !== 'probs') throw new ConfigError(`teacher fusion must be 'logits' or 'probs', got ${JSON.stringify(fusion)}`);
  for (const t of teachers) {
    if (!t.model === !t.logits) throw new ConfigError('each teacher needs either a model or precomputed logits (not both)');
    if (t.logits) {
      if (t.logits.length !== trainSet.n * model.classes) throw new ShapeError(`teacher logits hold ${t.logits.length} values, expected n*K = ${trainSet.n}*${model.classes} for '${trainSet.name}'`);
      if (cfg.augment) throw new ConfigError('augmentation changes the inputs every batch, so precomputed teacher logits cannot follow it; give the teacher model instead');
    } else if (t.model!.inputs !== model.inputs || t.model!.classes !== model.classes) {
      throw new ShapeError(`teacher has layers ${describeModel(t.model!.config)}, student ${describeModel(model.config)}: inputs and classes must match`);
    }
    if (!(t.weight > 0)) throw new ConfigError(`teacher weight must be > 0, got ${t.weight}`);
    if (t.temperature !== undefined && !(t.temperature > 0)) throw new ConfigError(`teacher temperature must be > 0, got ${t.temperature}`);
  }
  const partly = trainSet.labeled && trainSet.labeled.some((v) => v === 0) ? trainSet.labeled : null;
  if (cfg.hints) {
    if (!teachers[0]?.model) throw new ConfigError('hints need a teacher model (the first teacher), not precomputed logits');
  }
  const kdBase = teachers.length ? validateKd(cfg.kd ?? {}) : null;
  const qcfg = cfg.qat ? validateQat(cfg.qat, cfg.epochs) : null;
  if (cfg.selectBy) {
    checkData(model, cfg.selectBy, 'selection data');
    if (cfg.selectBy === trainSet || cfg.selectBy === testSet) throw new ConfigError(`selection data '${cfg.selectBy.name}' must be held out: not the training set${testSet ? ' nor the test set' : ''}`);
  }
  for (let e = 0; kdBase && e < cfg.epochs; e++) kdForEpoch(kdBase, cfg.kdSchedule, e, cfg.epochs); // validate every epoch up front
  const be: Backend = model.backend;
  const log = hooks.log ?? (() => {});
  const { epochs } = cfg;
  const K = model.classes, C = model.inputs, n = trainSet.n;
  // A batch larger than the data is the whole data (and must not allocate for the larger size).
  const B = Math.min(cfg.batchSize, n);
  if (B < cfg.batchSize) log(`batch size ${cfg.batchSize} is larger than the ${n} training samples; using ${n}`);
  const batches = Math.ceil(n / B);
  const opt = createOptimizer(be, model.store.length, cfg.optimizer);
  const lrAt = makeSchedule(cfg.optimizer.lr, cfg.schedule);
  const { hash: fp, key: fpKey } = fingerprint(model, trainSet, cfg, teachers);
  // Built before any buffer is allocated: a bad hint config fails with nothing to release.
  const hints = cfg.hints ? new HintAdapters(be, model, teachers[0].model!, cfg.hints, cfg.optimizer, cfg.seed, B) : null;
  const hintTeacher = teachers[0]?.model;

  let step = 0, epoch = 0, batchInEpoch = 0;
  let history: EpochMetrics[] = [];
  // Loss sums of the epoch in progress, carried through checkpoints so a resumed epoch reports
  // the same mean train loss as an uninterrupted one.
  let partial = { loss: 0, kd: 0, ce: 0, hint: 0, count: 0 };
  let resumedExtra: Record<string, Float32Array> | undefined;
  const workers = cfg.workers ?? 1;
  if (cfg.resume && cfg.checkpointPath) {
    const { existsSync } = await import('node:fs');
    if (existsSync(cfg.checkpointPath)) {
      const ck = await loadCheckpoint(cfg.checkpointPath);
      if (ck.position.fingerprint !== fp) {
        throw new ConfigError(`${cfg.checkpointPath}: the checkpoint was made with other settings: ${settingsDiff(ck.position.settings, fpKey)}; resume needs the same ones (or start without --resume)`);
      }
      if (ck.params.length !== model.store.length) throw new ShapeError(`${cfg.checkpointPath}: params has ${ck.params.length} values, model needs ${model.store.length}`);
      if (ck.optimizer.kind !== opt.kind) throw new ConfigError(`${cfg.checkpointPath}: optimizer is ${ck.optimizer.kind}, config says ${opt.kind}`);
      // Same seed + backend + workers gives the same weights: a change would silently make this
      // run differ from an uninterrupted one. (Checkpoints of earlier versions do not say.)
      const was = ck.position.runtime;
      if (was && (was.backend !== be.name || was.workers !== workers) && !cfg.forceResume) {
        const diff = [was.backend !== be.name ? `backend ${was.backend} → ${be.name}` : '', was.workers !== workers ? `workers ${was.workers} → ${workers}` : ''].filter(Boolean).join(', ');
        throw new ConfigError(`${cfg.checkpointPath}: the checkpoint was written by backend ${was.backend} with ${was.workers} worker(s); this run differs (${diff}), so it would not repeat an uninterrupted run bit for bit. Resume with --backend ${was.backend} --workers ${was.workers}, or add --force-resume to accept the difference`);
      }
      model.store.params.set(ck.params);
      // Buffers (batch-norm running statistics): a checkpoint of a model with none has none.
      const nb = model.buffers.length;
      if ((ck.buffers?.length ?? 0) !== nb && !(nb === 0 && !ck.buffers)) throw new ShapeError(`${cfg.checkpointPath}: buffers has ${ck.buffers?.length ?? 0} values, model needs ${nb}`);
      if (ck.buffers) model.buffers.data.set(ck.buffers.subarray(0, nb));
      const st = opt.state();
      for (const [k, v] of Object.entries(st)) {
        const saved = ck.optimizer.state[k];
        if (!saved || saved.length !== v.length) throw new ShapeError(`${cfg.checkpointPath}: optimizer state '${k}' missing or of wrong size`);
        v.set(saved);
      }
      opt.stepCount = ck.optimizer.stepCount;
      model.rng.setState(ck.position.rng);
      ({ step, epoch, batchInEpoch } = ck.position);
      history = ck.position.history as EpochMetrics[];
      if (ck.position.partial) partial = { hint: 0, ...ck.position.partial };
      resumedExtra = ck.extra;
      log(`resuming from ${cfg.checkpointPath}: epoch ${epoch + 1}, batch ${batchInEpoch}/${batches}, step ${step}`);
    }
  }

  // The pruning mask: the checkpoint's on resume, else the schedule's for this step.
  cfg.prune?.start(model, step, opt.state(), resumedExtra?.['prune.mask']);
  if (!allowsWorkers(be, workers))
    throw new ConfigError(`${workerLimit(be)}; got workers = ${workers}`);
  // Teacher logits are computed once (cached) unless asked otherwise or the inputs are augmented
  // (or hints need the teachers' hidden layers); precomputed logits are always used as they are.
  const useCache = teachers.length > 0 && (teachers.some((t) => t.logits) || ((cfg.teacherMode ?? 'cached') === 'cached' && !cfg.augment && !cfg.hints));
  const online = useCache ? [] : (teachers as (typeof teachers[number] & { model: Sequential })[]);
  // The workers run the online teachers, or (hints with cached logits) the first teacher for its hidden layers only.
  const dpTeachers = online.length || !hints ? online : [teachers[0] as typeof online[number]];
  // QAT's hooks and observers (their shared area: ranges + one stats slot per worker).
  const qat = qcfg ? new Qat(model, workers) : null;
  if (qat && resumedExtra) {
    const saved = resumedExtra['qat.ranges'];
    if (!saved) { qat.detach(); throw new ShapeError(`${cfg.checkpointPath}: the checkpoint has no QAT ranges ('qat.ranges')`); }
    qat.load(saved, cfg.checkpointPath!);
  } else if (qat && qcfg!.initRanges) qat.setRanges(qcfg!.initRanges);
  let dp: DataParallel | null;
  try {
    dp = workers > 1 ? new DataParallel(be, model, dpTeachers, { qat: qat?.area, workers, optimizer: opt, maxBatch: B, fusion, log, faultAt: hooks.faultAt, barrierTimeoutMs: hooks.barrierTimeoutMs, hints: hints ?? undefined }) : null;
  } catch (e) {
    qat?.detach(); // the model computes in float again
    throw e;
  }
  // With workers, the batch buffers are the pool's shared ones.
  const x = dp ? dp.x : be.alloc(B * C), y = dp ? dp.y : be.allocInt32(B), tB = dp ? dp.t : be.alloc(B * K);
  // A partly labeled set: the batch's labeled-row mask (the workers read it from shared memory).
  const mask = dp ? dp.mask : new Int32Array(partly ? B : 0);
  const dS = be.alloc(B * K);
  const stepModels: StepModels = { be, student: model, online, fusion, hints, hintTeacher: hintTeacher ?? null };
  // Cached mode: each teacher's raw logits for the whole training set (fused per batch, at the
  // epoch's temperature), and per-teacher batch buffers to gather them into.
  let cached: Float32Array[] | null = null;
  const zB = teachers.map(() => new Float32Array(B * K));
  const releaseAll = async () => {
    if (dp) await dp.close();
    else { be.free(x); be.free(y); be.free(tB); }
    be.free(dS);
    opt.release();
    hints?.release();
  };

  const hintState = (): Record<string, Float32Array> => hints ? { 'hint.params': hints.store.params, ...Object.fromEntries(Object.entries(hints.optimizer.state()).map(([k, v]) => [`hint.optim.${k}`, v])) } : {};
  if (hints && resumedExtra) {
    for (const [k, v] of Object.entries(hintState())) {
      const saved = resumedExtra[k];
      if (!saved || saved.length !== v.length) throw new ShapeError(`${cfg.checkpointPath}: hint adapter state '${k}' missing or of wrong size`);
      v.set(saved);
    }
    hints.optimizer.stepCount = opt.stepCount;
  }
  let sums = partial;
  const nanLoss = (loss: number) => new NumericalError(`loss is ${loss} at epoch ${epoch + 1}, batch ${batchInEpoch + 1} (step ${step + 1}, lr ${lrAt(step)}); try a lower learning rate. The last checkpoint is kept as it was.`);
  // Nothing non-finite is ever written: a diverged run stops with the last good checkpoint intact.
  const checkFinite = () => {
    const bad = (a: Float32Array) => { for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i; return -1; };
    const i = bad(model.store.params), j = hints ? bad(hints.store.params) : -1;
    const b = bad(model.buffers.data.subarray(0, model.buffers.length));
    if (b >= 0 && i < 0 && j < 0) throw new NumericalError(`buffer ${model.buffers.specs.find((sp) => b >= sp.offset && b < sp.offset + sp.size)?.name ?? b} became ${model.buffers.data[b]} at step ${step} (lr ${lrAt(Math.max(0, step - 1))}); try a lower learning rate. The last checkpoint is kept as it was.`);
    if (i >= 0 || j >= 0) throw new NumericalError(`${i >= 0 ? `parameter ${model.store.specs.find((sp) => i >= sp.offset && i < sp.offset + sp.size)?.name ?? i}` : 'a hint adapter parameter'} became ${i >= 0 ? model.store.params[i] : hints!.store.params[j]} at step ${step} (lr ${lrAt(Math.max(0, step - 1))}); try a lower learning rate. The last checkpoint is kept as it was.`);
  };
  // Model selection (cfg.selectBy): the best point so far (by errors on the selection set, ties to
  // the earliest), its weights, buffers and QAT ranges, and every point's errors (-1: not counted;
  // checkpoints hold finite values only).
  const nb = model.buffers.length;
  const sel = cfg.selectBy ? { epoch: -1, errors: Infinity, params: new Float32Array(model.store.length), buffers: new Float32Array(nb), ranges: qat ? new Float32Array(qat.ranges.length) : null, scores: [] as number[] } : null;
  const selectState = (): Record<string, Float32Array> => sel ? {
    'select.state': Float32Array.from([sel.epoch, Number.isFinite(sel.errors) ? sel.errors : -1, ...sel.scores]), 'select.params': sel.params,
    ...(nb ? { 'select.buffers': sel.buffers } : {}), ...(sel.ranges ? { 'select.qat': sel.ranges } : {}),
  } : {};
  if (sel && resumedExtra) {
    const st = resumedExtra['select.state'], p = resumedExtra['select.params'], b = resumedExtra['select.buffers'], r = resumedExtra['select.qat'];
    if (!st || st.length < 2 || !p || p.length !== sel.params.length || (nb && (!b || b.length !== nb)) || (sel.ranges && (!r || r.length !== sel.ranges.length))) {
      await releaseAll();
      qat?.detach();
      throw new ShapeError(`${cfg.checkpointPath}: the checkpoint's model-selection state ('select.*') is missing or of the wrong size`);
    }
    sel.epoch = st[0]; sel.errors = st[1] < 0 ? Infinity : st[1]; sel.scores = Array.from(st.subarray(2));
    sel.params.set(p);
    if (nb) sel.buffers.set(b);
    if (sel.ranges) sel.ranges.set(r);
  }
  /** Whether fake-quant is on at selection point `point` (0 = the start, k = after epoch k). */
  const qatOnAt = (point: number) => point > qcfg!.startEpoch || (point === 0 && qcfg!.startEpoch === 0);
  /** Scores point `point` (0 = start, k = after epoch k) on the selection set; keeps it when best. */
  const consider = (point: number) => {
    if (!sel) return;
    const counts = !qat || qatOnAt(point);
    sel.scores[point] = -1;
    if (!counts) return;
    const ev = evaluate(model, cfg.selectBy!, cfg.evalBatchSize ?? 500);
    sel.scores[point] = ev.errors;
    if (ev.errors < sel.errors) {
      sel.epoch = point; sel.errors = ev.errors;
      sel.params.set(model.store.params);
      if (nb) sel.buffers.set(model.buffers.data.subarray(0, nb));
      if (qat) sel.ranges!.set(qat.ranges);
    }
    log(`selection: ${point === 0 ? 'start' : `epoch ${point}`}: ${((1 - ev.errors / ev.n) * 100).toFixed(2)}% on '${cfg.selectBy!.name}' (${ev.errors} errors)${sel.epoch === point ? ', best so far' : ''}`);
  };
  let firstLoss = NaN;
  const checkpoint = async () => {
    checkFinite();
    if (!cfg.checkpointPath) return;
    const ck: Checkpoint = {
      config: model.config,
      params: model.store.params,
      buffers: model.buffers.length ? model.buffers.data.subarray(0, model.buffers.length) : undefined,
      optimizer: { kind: opt.kind, stepCount: opt.stepCount, state: opt.state() },
      position: { step, epoch, batchInEpoch, rng: model.rng.getState(), fingerprint: fp, settings: fpKey, history, partial: batchInEpoch ? sums : undefined, runtime: { backend: be.name, workers } },
      extra: { ...hintState(), ...(cfg.prune ? { 'prune.mask': cfg.prune.save() } : {}), ...(qat ? { 'qat.ranges': qat.state() } : {}), ...selectState() },
    };
    await saveCheckpoint(cfg.checkpointPath, ck);
  };

  try {
    if (kdBase && useCache && epoch < epochs) {
      const t0 = performance.now();
      cached = teachers.map((t) => t.logits ?? new Float32Array(n * K));
      const run = teachers.filter((t) => t.model);
      const all = Uint32Array.from({ length: n }, (_, i) => i);
      for (let start = 0; run.length && start < n; start += B) {
        const end = Math.min(n, start + B);
        gatherBatch(trainSet, all, start, end, x, y);
        teachers.forEach((t, k) => t.model && cached![k].set(t.model.eval().forward(x, end - start).subarray(0, (end - start) * K), start * K));
      }
      if (run.length) log(`teacher logits cached for ${n} samples in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }

    /** Rows start..end of `order` into x, y, augmented as optimizer step `st` sees them. */
    const loadBatch = (order: Uint32Array, start: number, end: number, st: number) => {
      gatherBatch(trainSet, order, start, end, x, y);
      if (cfg.augment) shiftImages(x, end - start, side, cfg.augment.shift, (Math.imul(cfg.seed, 0x27d4eb2f) ^ Math.imul(st + 1, 0x165667b1)) >>> 0);
    };
    // The start point of model selection, as the first step would see the model (QAT from epoch 0:
    // fake-quant on, its ranges the initial ones or the first batch's calibration).
    if (sel && step === 0 && !resumedExtra) {
      if (qat && qcfg!.startEpoch === 0) {
        if (!qat.initialized) {
          const N0 = Math.min(B, n);
          loadBatch(epochOrder(n, cfg.seed, 0), 0, N0, 0);
          qat.calibrate(x, N0);
          log(`QAT: fake-quant on from epoch 1; activation ranges initialized on ${N0} samples`);
        }
        qat.setEnabled(true);
      }
      consider(0);
    }
    let stopped = false;
    let lastYield = performance.now();
    for (; epoch < epochs && !stopped; epoch++, batchInEpoch = 0) {
      const order = epochOrder(n, cfg.seed, epoch);
      const kd = kdBase ? kdForEpoch(kdBase, cfg.kdSchedule, epoch, epochs) : null;
      sums = batchInEpoch ? partial : { loss: 0, kd: 0, ce: 0, hint: 0, count: 0 };
      const hintOnly = !!hints && epoch < (cfg.hints!.preTrainEpochs ?? 0);
      const t0 = performance.now();
      let samplesThisRun = 0;
      model.train();
      for (; batchInEpoch < batches; ) {
        const start = batchInEpoch * B, end = Math.min(n, start + B), N = end - start;
        loadBatch(order, start, end, step);
        const t = tB.subarray(0, N * K);
        let labeled = 0;
        if (partly) for (let i = 0; i < N; i++) labeled += mask[i] = partly[order[start + i]] ? 1 : 0;
        if (kd && cached) {
          cached.forEach((c, k) => {
            for (let i = 0; i < N; i++) zB[k].set(c.subarray(order[start + i] * K, order[start + i] * K + K), i * K);
          });
          fuseTeacherLogits(zB, teachers, kd.T, fusion, N, K, t);
        }
        // QAT: on from its start epoch; the first QAT batch initializes the ranges.
        const qOn = !!qat && epoch >= qcfg!.startEpoch;
        if (qat) {
          qat.setEnabled(qOn);
          if (qOn && !qat.initialized) {
            qat.calibrate(x, N);
            log(`QAT: fake-quant on from epoch ${epoch + 1}; activation ranges initialized on ${N} samples`);
          }
        }
        let parts: LossParts;
        if (dp) {
          // Dropout masks depend on (seed, step, shard) only, so a resumed run draws the same ones.
          parts = await dp.step(N, { kd, teacherOnline: !!kd && !cached, training: true, dropoutSeed: (Math.imul(cfg.seed, 0x2545f491) ^ step) >>> 0, labeled: partly ? labeled : undefined, hintOnly, qat: qOn });
        } else {
          const batch = { x, y, t, mask, dS, n: N, kd, teacherOnline: !!kd && !cached, hintOnly, labeled: partly ? labeled : undefined };
          const rng = be.recover ? model.rng.getState() : null; // only backends that can recover retry
          const bufs = be.recover && model.buffers.length ? model.buffers.data.slice() : null; // running statistics, updated by the forward
          try {
            parts = distillStep(stepModels, batch);
          } catch (e) {
            // A -mt backend's helper thread died: new helpers, then the same step once more (it
            // changed nothing but the gradients and the dropout draws, which start over). A
            // second failure stops the run; the last checkpoint stays as it was.
            if (!(e instanceof WorkerFailure) || !be.recover) throw e;
            log(`${e.message}; starting new helper threads and retrying the step once`);
            await be.recover();
            model.rng.setState(rng!);
            if (bufs) model.buffers.data.set(bufs);
            parts = distillStep(stepModels, batch);
          }
        }
        if (!Number.isFinite(parts.loss)) throw nanLoss(parts.loss);
        // Divergence with a finite loss (e.g. 1e21): far above where this run started.
        if (Number.isNaN(firstLoss)) firstLoss = parts.loss;
        else if (parts.loss > 1e3 && parts.loss > 1e4 * Math.max(firstLoss, 1e-2)) {
          throw new NumericalError(`loss diverged: ${parts.loss.toExponential(3)} at epoch ${epoch + 1}, batch ${batchInEpoch + 1} (step ${step + 1}), from ${firstLoss.toPrecision(4)} at this run's first step; try a lower learning rate (lr ${lrAt(step)}). The last checkpoint is kept as it was.`);
        }
        // The observers: the EMA of the whole batch's input ranges (all shards'), between steps.
        if (qOn && (qcfg!.freezeEpoch === null || epoch < qcfg!.freezeEpoch)) qat!.update(dp ? dp.shardsUsed : 1, qcfg!.averaging);
        if (dp) await dp.update(lrAt(step)); // the hint adapters' update too
        else {
          opt.step(model.store.params, model.store.grads, lrAt(step));
          hints?.step(lrAt(step));
        }
        step++;
        // Pruned entries back to exactly 0 (parameters and optimizer state; the workers' update
        // wrote the shared buffers, which this thread sees), and a new mask when the schedule says.
        cfg.prune?.afterUpdate(model, step, opt.state());
        batchInEpoch++;
        samplesThisRun += N;
        sums.loss += parts.loss * N; sums.kd += parts.kd * N; sums.ce += parts.ce * N; sums.hint += (parts.hint ?? 0) * N; sums.count += N;
        hooks.onStep?.({ epoch, epochs, batch: batchInEpoch, batches, step, loss: parts.loss, samplesPerSec: samplesThisRun / ((performance.now() - t0) / 1000) });
        // The one-thread path never awaits inside an epoch: let signal handlers (Ctrl-C) and
        // timers run every ~50 ms, so a stop request is seen within one step.
        if (performance.now() - lastYield > 50) {
          await new Promise<void>((r) => setImmediate(r));
          lastYield = performance.now();
        }
        const stopNow = hooks.signal?.aborted || (hooks.stopAfterSteps !== undefined && step >= hooks.stopAfterSteps);
        if (stopNow) {
          stopped = true;
          break;
        }
        if (cfg.checkpointEvery && step % cfg.checkpointEvery === 0 && batchInEpoch < batches) await checkpoint();
      }
      if (stopped && batchInEpoch < batches) {
        await checkpoint();
        break;
      }
      const ev = testSet ? evaluate(model, testSet, cfg.evalBatchSize ?? 500) : null;
      const m: EpochMetrics = {
        epoch: epoch + 1, step, lr: lrAt(Math.max(0, step - 1)),
        train_loss: sums.count ? sums.loss / sums.count : NaN, train_kd: sums.count ? sums.kd / sums.count : 0, train_ce: sums.count ? sums.ce / sums.count : 0, train_hint: sums.count ? sums.hint / sums.count : 0,
        test_loss: ev ? ev.loss : null, test_acc: ev ? ev.accuracy : null, test_errors: ev ? ev.errors : null,
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(m);
      hooks.onEpoch?.(m);
      if (cfg.metricsPath) await writeFileAtomic(cfg.metricsPath, history.map((h) => JSON.stringify(h)).join('\n') + '\n');
      consider(epoch + 1);
      // Position after this epoch: the next one, from its first batch.
      epoch++;
      batchInEpoch = 0;
      await checkpoint();
      epoch--;
    }
    checkFinite(); // the caller saves the model next
    let selected: TrainResult['selected'];
    if (sel && !stopped && sel.epoch >= 0) {
      const last = sel.scores.length - 1;
      if (sel.epoch !== last) {
        model.store.params.set(sel.params);
        if (nb) model.buffers.data.set(sel.buffers, 0);
        if (qat) qat.ranges.set(sel.ranges!);
        log(`selection: kept the ${sel.epoch === 0 ? 'start point' : `model after epoch ${sel.epoch}`} (${sel.errors} errors on '${cfg.selectBy!.name}'), not the last epoch's`);
      }
      if (qat) qat.setEnabled(qatOnAt(sel.epoch));
      const N = cfg.selectBy!.n;
      selected = { epoch: sel.epoch, accuracy: 1 - sel.errors / N, scores: sel.scores.map((e) => (e < 0 ? null : 1 - e / N)) };
    }
    return { history, stopped, steps: step, ...(qat ? { qat } : {}), ...(selected ? { selected } : {}) };
  } catch (e) {
    qat?.detach();
    throw e;
  } finally {
    await releaseAll();
  }
}
