// Model files and checkpoints on top of safetensors. A model file holds one tensor per
// parameter (PyTorch-style names, e.g. layers.0.weight) and, in its metadata, the model config
// (input shape and layer specs), the input transform training applied to raw inputs, and the
// class names; a checkpoint holds the flat parameter buffer, optimizer state and the training
// position. Both are written atomically (temp file, fsync, rename), so a failure never leaves
// half a file. Model files of format 1 (a widths config, no transform or class names) still load.
// Buffers (batch-norm running statistics, e.g. layers.1.running_mean) are tensors beside the
// parameters in a model file, and the tensor 'buffers' (the flat BufferStore) in a checkpoint;
// the config says which exist, so the format stays distillery-model/2.

import { InputFileError } from '../errors.js';
import type { Backend } from '../backends/backend.js';
import { Sequential } from '../nn/sequential.js';
import { QuantizedSequential, type BnState, type QLayerState, type QuantizedState } from '../nn/quantized.js';
import { stateShapes, validateModelConfig, type ModelConfig } from '../nn/spec.js';
import { assertFinite, readSafetensors, readSafetensorsMeta, writeSafetensors, type Tensor } from './safetensors.js';
import type { InputTransform } from '../data/transforms.js';

export type { InputTransform };

export const MODEL_FORMAT = 'distillery-model/2';
/** Model files written before layer specs: config {layers: widths, activation, dropout, inputDropout}. */
export const MODEL_FORMAT_1 = 'distillery-model/1';
export const CHECKPOINT_FORMAT = 'distillery-checkpoint/1';
/** int8 model files (distill quantize, QAT): metadata format, and dtype "int8" for any loader that looks. */
export const INT8_MODEL_FORMAT = 'distillery-model-int8/1';

/** The parts of a model file beside its weights. */
export interface ModelInfo {
  /** The input transform training used, or null when the model takes its inputs as they are. */
  transform: InputTransform | null;
  /** Names of the classes, in logit order, or null when they are just 0..K-1. */
  classNames: string[] | null;
}

/** Writes a model's parameters, config, input transform and class names; `meta` adds free-form string metadata. */
export async function saveModel(path: string, model: Sequential, meta: Record<string, string> = {}, info: Partial<ModelInfo> = {}): Promise<void> {
  const checked = checkInfo(model, { transform: info.transform ?? null, classNames: info.classNames ?? null }, (msg) => new RangeError(`saveModel ${path}: ${msg}`));
  const tensors: Record<string, Tensor> = {};
  for (const spec of model.store.specs) tensors[spec.name] = { dtype: 'F32', shape: spec.shape, data: model.store.view(spec).slice() };
  for (const spec of model.buffers.specs) tensors[spec.name] = { dtype: 'F32', shape: spec.shape, data: model.buffers.view(spec).slice() };
  await writeSafetensors(path, tensors, {
    ...meta, format: MODEL_FORMAT, config: JSON.stringify(model.config),
    input_transform: JSON.stringify(checked.transform), class_names: JSON.stringify(checked.classNames),
  });
}

/** Checks a transform and class names against the model they belong to. */
function checkInfo(model: { inputs: number; classes: number }, info: ModelInfo, fail: (msg: string) => Error): ModelInfo {
  const { transform: t, classNames: c } = info;
  if (t !== null) {
    if (typeof t !== 'object' || !['standardize', 'minmax', 'scale'].includes(t.kind)) throw fail(`input_transform: 'kind' must be standardize, minmax or scale, got ${JSON.stringify((t as { kind?: unknown })?.kind)}`);
    const n = t.kind === 'scale' ? 1 : model.inputs;
    for (const k of ['offset', 'scale'] as const) {
      const v = t[k];
      if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw fail(`input_transform.${k}: expected ${n} finite number${n > 1 ? 's' : ''} (the model takes ${model.inputs} inputs), got ${Array.isArray(v) ? `${v.length} values` : JSON.stringify(v)}`);
    }
    if (t.scale.some((x) => x === 0)) throw fail(`input_transform.scale: a scale of 0 would divide by zero (use 1 for a constant feature)`);
  }
  if (c !== null && (!Array.isArray(c) || c.length !== model.classes || !c.every((x) => typeof x === 'string'))) {
    throw fail(`class_names: expected ${model.classes} strings (the model has ${model.classes} classes), got ${JSON.stringify(c)?.slice(0, 200)}`);
  }
  return { transform: t === null ? null : { kind: t.kind, offset: [...t.offset], scale: [...t.scale] }, classNames: c === null ? null : [...c] };
}

function parseJsonMeta(file: string, meta: Record<string, string>, key: string): unknown {
  const raw = meta[key];
  if (raw === undefined) throw new InputFileError(file, `metadata field '${key}' is missing (not a Distillery file?)`);
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new InputFileError(file, `metadata field '${key}' is not valid JSON: ${(e as Error).message}`);
  }
}

/** The model config a file's metadata holds, validated; errors name the file. */
function fileConfig(path: string, metadata: Record<string, string>): ModelConfig {
  try {
    return validateModelConfig(parseJsonMeta(path, metadata, 'config'), 'config');
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw new InputFileError(path, (e as Error).message);
  }
}

/** The input transform and class names a file's metadata holds, checked against the model (released on error). */
function fileInfo(path: string, metadata: Record<string, string>, model: Sequential | QuantizedSequential): ModelInfo {
  const optional = (key: string) => (metadata[key] === undefined ? null : parseJsonMeta(path, metadata, key));
  try {
    return checkInfo(model, { transform: optional('input_transform') as InputTransform | null, classNames: optional('class_names') as string[] | null }, (msg) => new InputFileError(path, msg));
  } catch (e) {
    model.release();
    throw e;
  }
}

/** Reads a model file (format 2, or 1 from earlier versions) into a new Sequential on `backend`; checks every tensor's shape. */
export async function readModel(path: string, backend: Backend): Promise<{ model: Sequential; meta: Record<string, string>; info: ModelInfo }> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format === INT8_MODEL_FORMAT || metadata.dtype === 'int8') throw new InputFileError(path, `is an int8 model (from distill quantize); this needs a float32 model file (the one it was quantized from)`);
  if (metadata.format !== MODEL_FORMAT && metadata.format !== MODEL_FORMAT_1) throw new InputFileError(path, `metadata 'format' is ${JSON.stringify(metadata.format)}, expected "${MODEL_FORMAT}" (or "${MODEL_FORMAT_1}")`);
  const config = fileConfig(path, metadata);
  // Every tensor checked before the model is built: a config that asks for more parameters than
  // the file holds (e.g. a corrupted 'dense:1000000000') fails here instead of allocating them.
  const { params, buffers } = stateShapes(config);
  for (const spec of [...params, ...buffers]) {
    const t = Object.hasOwn(tensors, spec.name) ? tensors[spec.name] : undefined;
    if (!t) throw new InputFileError(path, `tensor '${spec.name}' is missing`);
    if (t.dtype !== 'F32' || t.shape.join(',') !== spec.shape.join(',')) {
      throw new InputFileError(path, `tensor '${spec.name}' is ${t.dtype}[${t.shape}], expected F32[${spec.shape}]`);
    }
    assertFinite(path, spec.name, t.data as Float32Array);
  }
  const model = new Sequential(backend, config, 0);
  for (const spec of model.store.specs) model.store.view(spec).set(tensors[spec.name].data as Float32Array);
  for (const spec of model.buffers.specs) model.buffers.view(spec).set(tensors[spec.name].data as Float32Array);
  return { model, meta: metadata, info: fileInfo(path, metadata, model) };
}

/** Writes an int8 model: I8 weights, F32 weight scales and biases, each layer's input scale (F32) and zero point (U8), the config, transform and class names. */
export async function saveQuantizedModel(path: string, model: QuantizedSequential, meta: Record<string, string> = {}, info: Partial<ModelInfo> = {}): Promise<void> {
  const checked = checkInfo(model, { transform: info.transform ?? null, classNames: info.classNames ?? null }, (msg) => new RangeError(`saveQuantizedModel ${path}: ${msg}`));
  const { params } = stateShapes(model.config);
  const shapeOf = new Map(params.map((p) => [p.name, p.shape]));
  const tensors: Record<string, Tensor> = {};
  model.state.layers.forEach((s, k) => {
    const n = `layers.${k}`;
    if (s.kind === 'q') {
      tensors[`${n}.weight`] = { dtype: 'I8', shape: shapeOf.get(`${n}.weight`)!, data: s.weight };
      tensors[`${n}.weight_scale`] = { dtype: 'F32', shape: [s.weightScale.length], data: s.weightScale };
      tensors[`${n}.bias`] = { dtype: 'F32', shape: [s.bias.length], data: s.bias };
      tensors[`${n}.input_scale`] = { dtype: 'F32', shape: [1], data: Float32Array.of(s.input.scale) };
      tensors[`${n}.input_zero_point`] = { dtype: 'U8', shape: [1], data: Uint8Array.of(s.input.zeroPoint) };
    } else {
      for (const [t, a] of [['weight', s.weight], ['bias', s.bias], ['running_mean', s.runningMean], ['running_var', s.runningVar]] as const) tensors[`${n}.${t}`] = { dtype: 'F32', shape: [a.length], data: a };
    }
  });
  await writeSafetensors(path, tensors, {
    ...meta, format: INT8_MODEL_FORMAT, dtype: 'int8', config: JSON.stringify(model.config),
    input_transform: JSON.stringify(checked.transform), class_names: JSON.stringify(checked.classNames),
  });
}

/** Reads an int8 model file into a QuantizedSequential on `backend`; every tensor is checked (presence, dtype, shape, finite, scales > 0, weights in [−127, 127]). */
export async function readQuantizedModel(path: string, backend: Backend): Promise<{ model: QuantizedSequential; meta: Record<string, string>; info: ModelInfo }> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format === MODEL_FORMAT || metadata.format === MODEL_FORMAT_1) throw new InputFileError(path, `is a float32 model; this needs an int8 model file (make one with distill quantize ${path} --calib DATA --out FILE)`);
  if (metadata.format !== INT8_MODEL_FORMAT) throw new InputFileError(path, `metadata 'format' is ${JSON.stringify(metadata.format)}, expected "${INT8_MODEL_FORMAT}"`);
  const config = fileConfig(path, metadata);
  const get = (name: string, dtype: string, shape: number[]) => {
    const t = Object.hasOwn(tensors, name) ? tensors[name] : undefined;
    if (!t) throw new InputFileError(path, `tensor '${name}' is missing`);
    if (t.dtype !== dtype || t.shape.join(',') !== shape.join(',')) throw new InputFileError(path, `tensor '${name}' is ${t.dtype}[${t.shape}], expected ${dtype}[${shape}]`);
    if (dtype === 'F32') assertFinite(path, name, t.data as Float32Array);
    return t.data;
  };
  const positive = (name: string, a: Float32Array) => {
    const i = a.findIndex((v) => !(v > 0));
    if (i >= 0) throw new InputFileError(path, `tensor '${name}' holds ${a[i]} at element ${i}; scales must be positive`);
    return a;
  };
  const { params } = stateShapes(config);
  const byLayer = new Map<number, Map<string, number[]>>();
  for (const p of params) {
    const [, k, t] = p.name.split('.');
    if (!byLayer.has(Number(k))) byLayer.set(Number(k), new Map());
    byLayer.get(Number(k))!.set(t, p.shape);
  }
  const layers: (QLayerState | BnState)[] = [];
  const kinds = config.layers.filter((s) => /^(dense|conv|dwconv|bn)\b/.test(s));
  for (const [k, shapes] of [...byLayer.entries()].sort((a, b) => a[0] - b[0])) {
    const n = `layers.${k}`, OC = shapes.get('bias')![0];
    if (kinds[k] === 'bn') {
      layers.push({ kind: 'bn', weight: get(`${n}.weight`, 'F32', [OC]) as Float32Array, bias: get(`${n}.bias`, 'F32', [OC]) as Float32Array, runningMean: get(`${n}.running_mean`, 'F32', [OC]) as Float32Array, runningVar: get(`${n}.running_var`, 'F32', [OC]) as Float32Array });
      continue;
    }
    const weight = get(`${n}.weight`, 'I8', shapes.get('weight')!) as Int8Array;
    const bad = weight.indexOf(-128);
    if (bad >= 0) throw new InputFileError(path, `tensor '${n}.weight' holds -128 at element ${bad}; int8 weights are symmetric, in [-127, 127]`);
    const scale = positive(`${n}.input_scale`, get(`${n}.input_scale`, 'F32', [1]) as Float32Array)[0];
    const zeroPoint = (get(`${n}.input_zero_point`, 'U8', [1]) as Uint8Array)[0];
    layers.push({
      kind: 'q', weight, weightScale: positive(`${n}.weight_scale`, get(`${n}.weight_scale`, 'F32', [OC]) as Float32Array), bias: get(`${n}.bias`, 'F32', [OC]) as Float32Array,
      input: { scale, invScale: Math.fround(1 / scale), zeroPoint },
    });
  }
  const state: QuantizedState = { config, layers };
  const model = new QuantizedSequential(backend, state);
  return { model, meta: metadata, info: fileInfo(path, metadata, model) };
}

/** True when the safetensors metadata is an int8 model's. */
export function isInt8Meta(meta: Record<string, string>): boolean {
  return meta.format === INT8_MODEL_FORMAT || meta.dtype === 'int8';
}

/** Reads a model file of either kind: float32 (Sequential) or int8 (QuantizedSequential). */
export async function readAnyModel(path: string, backend: Backend): Promise<{ model: Sequential | QuantizedSequential; meta: Record<string, string>; info: ModelInfo }> {
  return isInt8Meta(await readSafetensorsMeta(path)) ? readQuantizedModel(path, backend) : readModel(path, backend);
}

/** Where a training run stands; enough to continue it bit-exactly. */
export interface TrainPosition {
  /** Optimizer steps taken. */
  step: number;
  /** Epoch in progress (0-based). */
  epoch: number;
  /** Batches of `epoch` already done. */
  batchInEpoch: number;
  /** Dropout RNG state. */
  rng: number[];
  /** A digest of the options that must match on resume (data, batch size, seed, model...). */
  fingerprint: string;
  /** Metric history so far (per epoch), restored into the metrics file on resume. */
  history: unknown[];
  /** Loss sums of the epoch in progress (when stopped mid-epoch). */
  partial?: { loss: number; kd: number; ce: number; hint?: number; count: number };
  /** What the fingerprint was made of, to say what differs when it does not match (absent in earlier versions). */
  settings?: Record<string, unknown>;
  /** The backend and worker count that wrote it (absent in checkpoints of earlier versions). */
  runtime?: { backend: string; workers: number };
}

export interface Checkpoint {
  config: ModelConfig;
  params: Float32Array;
  /** The model's flat buffers (batch-norm running statistics); absent when it has none. */
  buffers?: Float32Array;
  optimizer: { kind: string; stepCount: number; state: Record<string, Float32Array> };
  position: TrainPosition;
  /** Further named buffers that must survive a resume (e.g. hint adapters and their optimizer state). */
  extra?: Record<string, Float32Array>;
}

export async function saveCheckpoint(path: string, ck: Checkpoint): Promise<void> {
  const tensors: Record<string, Tensor> = { params: { dtype: 'F32', shape: [ck.params.length], data: ck.params } };
  if (ck.buffers?.length) tensors.buffers = { dtype: 'F32', shape: [ck.buffers.length], data: ck.buffers };
  for (const [k, v] of Object.entries(ck.optimizer.state)) tensors[`optim.${k}`] = { dtype: 'F32', shape: [v.length], data: v };
  for (const [k, v] of Object.entries(ck.extra ?? {})) tensors[`extra.${k}`] = { dtype: 'F32', shape: [v.length], data: v };
  await writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(ck.config),
    optimizer: JSON.stringify({ kind: ck.optimizer.kind, stepCount: ck.optimizer.stepCount }),
    position: JSON.stringify(ck.position),
  });
}

/** Checks what a resume reads from a checkpoint's position (a corrupted file fails here, naming the field). */
function checkPosition(path: string, p: TrainPosition): void {
  const bad = (field: string, want: string) => new InputFileError(path, `metadata 'position.${field}' must be ${want}, got ${JSON.stringify(field.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], p))?.slice(0, 100)}`);
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new InputFileError(path, `metadata 'position' must be an object`);
  for (const k of ['step', 'epoch', 'batchInEpoch'] as const) if (!Number.isSafeInteger(p[k]) || p[k] < 0) throw bad(k, 'a non-negative integer');
  const rng = p.rng;
  if (!Array.isArray(rng) || (rng.length !== 4 && rng.length !== 5) || !rng.slice(0, 4).every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) || (rng.length === 5 && !Number.isFinite(rng[4]))) {
    throw bad('rng', '4 unsigned 32-bit integers (and an optional spare normal)');
  }
  if (typeof p.fingerprint !== 'string') throw bad('fingerprint', 'a string');
  if (!Array.isArray(p.history)) throw bad('history', 'an array');
  if (p.partial !== undefined) {
    if (typeof p.partial !== 'object' || p.partial === null) throw bad('partial', 'an object of loss sums');
    for (const k of ['loss', 'kd', 'ce', 'count', 'hint'] as const) {
      if ((k !== 'hint' || p.partial[k] !== undefined) && !Number.isFinite(p.partial[k])) throw bad(`partial.${k}`, 'a finite number');
    }
  }
  if (p.settings !== undefined && (typeof p.settings !== 'object' || p.settings === null || Array.isArray(p.settings))) throw bad('settings', 'an object');
  if (p.runtime !== undefined && (typeof p.runtime?.backend !== 'string' || !Number.isSafeInteger(p.runtime.workers) || p.runtime.workers < 1)) {
    throw bad('runtime', '{backend, workers}');
  }
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new InputFileError(path, `metadata 'format' is ${JSON.stringify(metadata.format)}, expected "${CHECKPOINT_FORMAT}"`);
  const config = parseJsonMeta(path, metadata, 'config') as ModelConfig;
  const opt = parseJsonMeta(path, metadata, 'optimizer') as { kind: string; stepCount: number };
  const position = parseJsonMeta(path, metadata, 'position') as TrainPosition;
  try {
    validateModelConfig(config, 'config');
  } catch (e) {
    throw new InputFileError(path, `metadata ${(e as Error).message}`);
  }
  if (!Object.hasOwn(tensors, 'params') || tensors.params.dtype !== 'F32') throw new InputFileError(path, `tensor 'params' (F32) is missing`);
  if (typeof opt?.kind !== 'string' || !Number.isSafeInteger(opt.stepCount) || opt.stepCount < 0) throw new InputFileError(path, `metadata 'optimizer' must hold {kind, stepCount}`);
  checkPosition(path, position);
  const state: Record<string, Float32Array> = {};
  const extra: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if ((k.startsWith('optim.') || k.startsWith('extra.')) && t.dtype !== 'F32') throw new InputFileError(path, `tensor '${k}' is ${t.dtype}, expected F32`);
    if (t.dtype === 'F32') assertFinite(path, k, t.data as Float32Array);
    if (k.startsWith('optim.')) state[k.slice(6)] = t.data as Float32Array;
    if (k.startsWith('extra.')) extra[k.slice(6)] = t.data as Float32Array;
  }
  if (Object.hasOwn(tensors, 'buffers') && tensors.buffers.dtype !== 'F32') throw new InputFileError(path, `tensor 'buffers' is ${tensors.buffers.dtype}, expected F32`);
  const buffers = Object.hasOwn(tensors, 'buffers') ? tensors.buffers.data as Float32Array : undefined;
  return { config, params: tensors.params.data as Float32Array, buffers, optimizer: { ...opt, state }, position, extra };
}
