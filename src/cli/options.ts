// CLI options shared by the training commands: flag specs for node:util parseArgs, a JSON config
// file whose keys are the flag names, and the conversion into TrainConfig / ModelConfig.

import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, InputFileError } from '../errors.js';
import type { TrainConfig } from '../train/trainer.js';
import { hasSpatialLayers, parseLayerSpec, validateModelConfig, type ModelConfig } from '../nn/spec.js';
import type { OptimizerConfig } from '../optim/optimizer.js';
import type { ScheduleConfig } from '../optim/schedule.js';

type Spec = NonNullable<ParseArgsConfig['options']>;

export interface OptionDoc {
  flag: string;
  type: 'string' | 'boolean';
  help: string;
  default?: string;
}

export const COMMON: OptionDoc[] = [
  { flag: 'config', type: 'string', help: 'JSON file of options (keys are flag names, e.g. {"epochs":5}); flags override it' },
  { flag: 'backend', type: 'string', help: 'kernel backend: js, wasm, wasm-simd, wasm-relaxed, wasm-simd-mt, wasm-relaxed-mt, native, native-mt (-mt: matmul on all cores, one worker), cuda (default: the fastest measured here)' },
  { flag: 'workers', type: 'string', help: 'worker threads for data-parallel steps (default: the fastest measured, 1..cores)' },
  { flag: 'recalibrate', type: 'boolean', help: 'measure the backends and worker counts again instead of using the cached choice' },
  { flag: 'quiet', type: 'boolean', help: 'no progress output' },
  { flag: 'verbose', type: 'boolean', help: 'also say which backends do not load here, and why' },
  { flag: 'help', type: 'boolean', help: 'show this help' },
];

export const DATA: OptionDoc[] = [
  { flag: 'data', type: 'string', help: "dataset: 'mnist' (built in), 'fashion-mnist', a .csv file, a folder of IDX files, or idx:TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS", default: 'mnist' },
  { flag: 'test', type: 'string', help: 'CSV: a separate test file (instead of holding out --test-fraction of --data)' },
  { flag: 'test-fraction', type: 'string', help: 'CSV: the share of rows held out for testing (seeded split)', default: '0.2' },
  { flag: 'label-column', type: 'string', help: 'CSV: the label column, by header name or 0-based index (default: a column named label/class/target/y, else the last)' },
  { flag: 'delimiter', type: 'string', help: "CSV: the field separator, e.g. ';' or tab", default: ',' },
  { flag: 'no-header', type: 'boolean', help: 'CSV: the first row is data (default: detected)' },
];

export const TRAIN: OptionDoc[] = [
  { flag: 'model', type: 'string', help: 'the model: layer specs, comma-separated (like --arch), e.g. "conv:8x3,relu,maxpool:2,flatten,dense:10"; or a JSON config {"input":[1,28,28],"layers":["conv:8x3","relu",...]} or the widths form {"layers":[784,256,10],"activation":"relu","dropout":0.2}' },
  { flag: 'arch', type: 'string', help: 'layer specs, comma-separated: dense:UNITS, relu, gelu, dropout:P, flatten, conv:OCxK[/sSpPgG|dw] (stride S, default 1; padding P, default (K-1)/2 rounded down, i.e. same size for odd K; G groups; dw depthwise), dwconv:K[/sSpP], maxpool:K[/sSpP] (stride default K, padding default 0), avgpool:K[/sSpP], gap (global average pool to (C), flat), bn (batch norm); e.g. dense:256,relu,dropout:0.2,dense:10 or conv:16x3,bn,relu,maxpool:2,conv:32x3/s2,relu,gap,dense:10. Input shape: --input-shape, else the data\'s sample shape (C,H,W for images) when there are conv/pool layers, else its feature count' },
  { flag: 'input-shape', type: 'string', help: 'with layer specs (--arch or --model): the shape of one input sample, C,H,W for images (NCHW rows), e.g. 1,28,28 or 3,32,32 for CSV data (the product must be the feature count); default: the data\'s' },
  { flag: 'input', type: 'string', help: 'older name of --input-shape' },
  { flag: 'layers', type: 'string', help: 'layer widths, e.g. 784,256,256,10: dense layers with --activation between them and --dropout after each (shorthand for --arch)' },
  { flag: 'hidden', type: 'string', help: 'hidden widths only, e.g. 64 or 256,128: the input and class counts come from the data (like --layers)' },
  { flag: 'activation', type: 'string', help: 'relu or gelu', default: 'relu' },
  { flag: 'augment-shift', type: 'string', help: 'random image shifts of up to N pixels per batch (square images; teachers then run online)', default: '0' },
  { flag: 'dropout', type: 'string', help: 'dropout after each hidden layer', default: '0' },
  { flag: 'epochs', type: 'string', help: 'training epochs' },
  { flag: 'batch', type: 'string', help: 'batch size', default: '64' },
  { flag: 'optimizer', type: 'string', help: 'sgd or adamw', default: 'sgd' },
  { flag: 'lr', type: 'string', help: 'learning rate', default: '0.05' },
  { flag: 'momentum', type: 'string', help: 'SGD momentum', default: '0.9' },
  { flag: 'nesterov', type: 'boolean', help: 'Nesterov momentum (SGD)' },
  { flag: 'weight-decay', type: 'string', help: 'weight decay (SGD: L2; AdamW: decoupled)', default: '0' },
  { flag: 'schedule', type: 'string', help: 'lr schedule: constant, step, cosine', default: 'cosine' },
  { flag: 'warmup', type: 'string', help: 'linear warm-up steps', default: '0' },
  { flag: 'step-size', type: 'string', help: "steps between decays (schedule 'step')" },
  { flag: 'gamma', type: 'string', help: "decay factor (schedule 'step')", default: '0.1' },
  { flag: 'seed', type: 'string', help: 'random seed (init, shuffling, dropout)', default: '1' },
  { flag: 'out', type: 'string', help: 'output folder (model.safetensors, checkpoint.safetensors, metrics.jsonl)' },
  { flag: 'resume', type: 'boolean', help: 'continue from OUT/checkpoint.safetensors if it exists (on the backend and worker count that wrote it, unless given)' },
  { flag: 'force-resume', type: 'boolean', help: 'with --resume: accept another backend or worker count than the checkpoint\'s (the run is then not bitwise the same as an uninterrupted one)' },
  { flag: 'checkpoint-every', type: 'string', help: 'also checkpoint every N steps (0: at epoch ends only)', default: '0' },
];

/** Quantization-aware training (distill student --qat). */
export const QAT: OptionDoc[] = [
  { flag: 'qat', type: 'boolean', help: 'quantization-aware training: every dense/conv layer fake-quantizes its weights (int8, per output channel) and input (uint8, per tensor, EMA-observed range) in the forward, straight-through estimator in the backward; OUT/model.safetensors then holds the float weights and the activation ranges (metadata qat_ranges)' },
  { flag: 'qat-start-epoch', type: 'string', help: 'with --qat: first epoch (1-based) with fake-quant; earlier epochs train in float', default: '1' },
  { flag: 'qat-freeze-epoch', type: 'string', help: 'with --qat: from this epoch (1-based) on, the activation ranges stop moving (default: they follow the EMA to the end)' },
  { flag: 'qat-calib', type: 'string', help: 'with --qat: start the activation ranges from min/max calibration over the first N training rows (what distill quantize does), so with --init the first fake-quant forward is the PTQ int8 model; 0: from the first QAT batch', default: '0' },
];

/** Model selection on a held-out share of the training data (distill student, distill prune). */
export const VAL_FRACTION: OptionDoc = { flag: 'val-fraction', type: 'string', help: 'hold out this share of the training data (a seeded split by --seed; not trained on) and keep the point, the start or an epoch end, with the best accuracy on it (ties: the earliest; with --qat only points with fake-quant on count); the test set is never used to choose. 0: train on all of it and keep the last epoch', default: '0' };

export const KD: OptionDoc[] = [
  { flag: 'teacher', type: 'string', help: 'teacher model file(s), comma-separated: .safetensors from distill teach, or .onnx classifiers (needs onnxruntime-node)' },
  { flag: 'teacher-logits', type: 'string', help: 'instead of --teacher: a file of teacher logits for this training set (from distill logits)' },
  { flag: 'hints', type: 'string', help: 'FitNets hint pairs STUDENT:TEACHER of 0-based hidden layers against the first teacher, e.g. 0:1,1:1' },
  { flag: 'hint-weight', type: 'string', help: 'weight of the hint loss', default: '1' },
  { flag: 'hint-loss', type: 'string', help: "hint loss: 'mse' or 'cosine'", default: 'mse' },
  { flag: 'hint-pretrain-epochs', type: 'string', help: 'epochs of hint-only training first (FitNets stage 1)', default: '0' },
  { flag: 'teacher-weights', type: 'string', help: 'weights of the teachers in the fused mean, comma-separated' },
  { flag: 'temperature', type: 'string', help: 'softmax temperature T', default: '4' },
  { flag: 'alpha', type: 'string', help: 'weight of the KD term; hard-label CE gets 1-alpha', default: '0.9' },
  { flag: 'no-t2', type: 'boolean', help: 'do not scale the KD term by T^2' },
  { flag: 'teacher-mode', type: 'string', help: "'cached' (teacher logits once) or 'online' (per batch)", default: 'cached' },
  { flag: 'teacher-fusion', type: 'string', help: "several teachers: weighted mean of 'logits' or of 'probs'", default: 'logits' },
  { flag: 'teacher-temperatures', type: 'string', help: 'per-teacher softmax temperatures, comma-separated (default: T for all)' },
  { flag: 't-schedule', type: 'string', help: "temperature over the KD epochs: constant, linear:TO or cosine:TO (from --temperature to TO)", default: 'constant' },
  { flag: 'alpha-schedule', type: 'string', help: "alpha over the KD epochs: constant, linear:TO or cosine:TO", default: 'constant' },
  { flag: 'kd-start-epoch', type: 'string', help: 'first epoch (1-based) with the KD term; earlier epochs train on the labels only', default: '1' },
];

export function specOf(docs: OptionDoc[]): Spec {
  const spec: Spec = {};
  for (const d of docs) spec[d.flag] = { type: d.type };
  return spec;
}

export function helpText(usage: string, about: string, docs: OptionDoc[], examples: string[] = []): string {
  const lines = [`usage: ${usage}`, '', about, '', 'options:'];
  for (const d of docs) {
    const f = `  --${d.flag}${d.type === 'string' ? ' VALUE' : ''}`;
    lines.push(`${f.padEnd(28)} ${d.help}${d.default !== undefined ? ` (default: ${d.default})` : ''}`);
  }
  if (examples.length) lines.push('', 'examples:', ...examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

/** The closest of `names` to `word` (within a third of its length, at least 2 edits), or null. */
export function closest(word: string, names: string[]): string | null {
  let best: string | null = null, bd = Infinity;
  for (const n of names) {
    const d = editDistance(word, n);
    if (d < bd || (d === bd && n.startsWith(word))) { best = n; bd = d; }
  }
  const prefix = names.find((n) => n.startsWith(word) && word.length >= 3);
  if (prefix && bd > 1) return prefix;
  return bd <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

export type Values = Record<string, string | boolean | undefined>;

/** JSON text of a config file's value; one nested too deep to write back (stack overflow) is an error naming the option. */
function jsonOf(file: string, key: string, v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    throw new InputFileError(file, `option '${key}': the value is nested too deeply`);
  }
}

/** Parses argv against docs, merges the --config file under the flags, fills defaults. */
export function parse(argv: string[], docs: OptionDoc[]): Values {
  let values: Values;
  try {
    values = parseArgs({ args: argv, options: specOf(docs), strict: true, allowPositionals: false }).values as Values;
  } catch (e) {
    // One line: node's messages may span several ("... ambiguous.\nDid you forget ...").
    const msg = (e as Error).message.split('\n').map((l) => l.trim()).filter(Boolean);
    const arg = /^To specify an option argument starting with a dash use '([^']+)'/.exec(msg[msg.length - 1] ?? '');
    const unknown = /^Unknown option '--([^'=]+)/.exec(msg[0]);
    const guess = unknown ? closest(unknown[1], docs.map((d) => d.flag)) : null;
    throw new ConfigError(`${msg[0].replace(/\. To specify.*$/s, '')}${guess ? `; did you mean --${guess}?` : ''}${arg ? ` (a value starting with a dash needs the form ${arg[1]})` : ''} (see --help)`);
  }
  const merged: Values = {};
  if (typeof values.config === 'string') {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(values.config, 'utf8'));
    } catch (e) {
      throw new InputFileError(values.config, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid JSON: ${(e as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputFileError(values.config, 'expected a JSON object of options');
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      const doc = docs.find((d) => d.flag === k);
      if (!doc || k === 'config') {
        const guess = closest(k, docs.map((d) => d.flag).filter((f) => f !== 'config' && f !== 'help'));
        throw new InputFileError(values.config, `unknown option '${k}'${guess ? ` (did you mean '${guess}'?)` : ''} (valid: ${docs.map((d) => d.flag).filter((f) => f !== 'config' && f !== 'help').join(', ')})`);
      }
      if (doc.type === 'boolean') {
        if (typeof v !== 'boolean') throw new InputFileError(values.config, `option '${k}' must be true or false`);
        merged[k] = v;
      } else if (typeof v === 'string') merged[k] = v;
      else if (typeof v === 'number' && Number.isFinite(v)) merged[k] = String(v);
      else if (typeof v === 'object' && v !== null && !Array.isArray(v)) merged[k] = jsonOf(values.config, k, v); // e.g. "model": {...}
      else if (Array.isArray(v) && v.length && v.every((x) => (typeof x === 'number' && Number.isFinite(x)) || (typeof x === 'string' && x !== '' && !x.includes(',')))) merged[k] = v.join(',');
      else throw new InputFileError(values.config, `option '${k}': ${jsonOf(values.config, k, v).slice(0, 200)} is not a valid value (expected ${doc.help.split(',')[0]}: a string, a number, or a list of them like [784,128,10])`);
    }
  }
  for (const d of docs) if (merged[d.flag] === undefined && d.default !== undefined) merged[d.flag] = d.default;
  for (const [k, v] of Object.entries(values)) if (v !== undefined) merged[k] = v;
  return merged;
}

export function num(v: Values, flag: string, opts: { int?: boolean; min?: number; max?: number; required?: boolean } = {}): number {
  const raw = v[flag];
  if (raw === undefined) {
    if (opts.required) throw new ConfigError(`--${flag} is required`);
    return NaN;
  }
  const x = Number(raw);
  const bad = typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(x) || (opts.int && !Number.isInteger(x)) || (opts.min !== undefined && x < opts.min) || (opts.max !== undefined && x > opts.max);
  if (bad) {
    const range = [opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' and ');
    throw new ConfigError(`--${flag}: expected ${opts.int ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}, got ${JSON.stringify(raw)}`);
  }
  return x;
}

/** The flags that give a model (one of them at most). */
export const MODEL_FLAGS = ['model', 'arch', 'layers', 'hidden'] as const;

/**
 * The model config from --model (JSON), --arch (layer specs; the input shape from --input, else
 * `features`, the data's feature count) or --layers (widths), else `defaults`. Null when only
 * --arch is given and `features` is not known yet (call again once the data is loaded).
 */
export function modelConfig(v: Values, defaults: ModelConfig | null, features?: number, classes?: number, sampleShape?: number[]): ModelConfig | null {
  // --model is JSON when it starts with '{', else layer specs like --arch.
  const modelSpecs = typeof v.model === 'string' && !v.model.trim().startsWith('{');
  const specsFlag = modelSpecs ? 'model' : 'arch';
  const given = MODEL_FLAGS.filter((k) => typeof v[k] === 'string');
  if (given.length > 1) throw new ConfigError(`give the model one way: ${given.map((k) => `--${k}`).join(' and ')} were both given`);
  if (typeof v.input === 'string' && typeof v['input-shape'] === 'string') throw new ConfigError('give --input-shape once (--input is its older name)');
  const shapeFlag = typeof v['input-shape'] === 'string' ? 'input-shape' : 'input';
  const shapeArg = v[shapeFlag];
  if (typeof shapeArg === 'string' && typeof v.arch !== 'string' && !modelSpecs) throw new ConfigError(`--${shapeFlag} goes with layer specs (--arch, or --model conv:8x3,...); a JSON --model and --layers say the input shape themselves`);
  if (typeof v.hidden === 'string') {
    const hidden = v.hidden.split(',').map((s) => Number(s.trim()));
    if (!hidden.every((w) => Number.isInteger(w) && w > 0)) throw new ConfigError(`--hidden: expected positive integer widths like 64 or 256,128, got ${JSON.stringify(v.hidden)}`);
    if (features === undefined || classes === undefined) return null; // known once the data is loaded
    return validateModelConfig({ layers: [features, ...hidden, Math.max(classes, 2)], activation: v.activation, dropout: num(v, 'dropout', { min: 0, max: 0.99 }) }, '--hidden');
  }
  if (typeof v.model === 'string' && !modelSpecs) {
    let raw: unknown;
    try {
      raw = JSON.parse(v.model);
    } catch (e) {
      throw new ConfigError(`--model: not valid JSON: ${(e as Error).message}`);
    }
    return validateModelConfig(raw, '--model');
  }
  const specs = v[specsFlag];
  if (typeof specs === 'string') {
    const layers = specs.split(',').map((s) => s.trim());
    const spatial = hasSpatialLayers(layers);
    let input: number[];
    if (typeof shapeArg === 'string') {
      input = shapeArg.split(',').map((s) => Number(s.trim()));
      if (!input.every((d) => Number.isInteger(d) && d > 0) || input.length > 3) throw new ConfigError(`--${shapeFlag}: expected 1 to 3 positive integers like 784 or 1,28,28 (C,H,W), got ${JSON.stringify(shapeArg)}`);
      if (features === undefined) {
        validateModelConfig({ input, layers }, `--${specsFlag}`); // spec and shape errors now; the size against the data once it is loaded
        return null;
      }
      if (input.reduce((a, b) => a * b, 1) !== features) throw new ConfigError(`--${shapeFlag} ${input.join(',')} holds ${input.reduce((a, b) => a * b, 1)} values per sample, but the data has ${features} features`);
    } else if (features !== undefined) {
      if (spatial && !sampleShape) throw new ConfigError(`--${specsFlag}: the conv/pooling layers need the (C,H,W) shape of one sample, and the data (${features} flat features) does not say it; give --input-shape C,H,W (e.g. 1,28,28)`);
      input = spatial ? [...sampleShape!] : [features];
    } else {
      // Spec errors now, not after loading the data (shapes are checked once the input is known).
      layers.forEach((s, i) => parseLayerSpec(s, `--${specsFlag}: layers[${i}]`));
      return null;
    }
    return validateModelConfig({ input, layers }, `--${specsFlag}`);
  }
  if (typeof v.layers === 'string') {
    const raw = v.layers.split(',').map((s) => s.trim());
    if (!raw.every((s) => /^\d+$/.test(s) && Number(s) > 0)) throw new ConfigError(`--layers: expected comma-separated positive integer widths like 784,128,10 (inputs, hidden layers, classes), got ${JSON.stringify(v.layers)}`);
    const layers = raw.map(Number);
    return validateModelConfig({ layers, activation: v.activation, dropout: num(v, 'dropout', { min: 0, max: 0.99 }) }, '--layers');
  }
  if (defaults) return defaults;
  throw new ConfigError('give the model with --model conv:8x3,relu,maxpool:2,flatten,dense:10, --arch dense:256,relu,dense:10, --layers 784,256,10 or --model JSON');
}

export function trainConfig(v: Values, defaults: { epochs: number }): TrainConfig {
  const epochs = v.epochs === undefined ? defaults.epochs : num(v, 'epochs', { int: true, min: 1 });
  const batchSize = num(v, 'batch', { int: true, min: 1 });
  const kind = v.optimizer;
  if (kind !== 'sgd' && kind !== 'adamw') throw new ConfigError(`--optimizer: expected sgd or adamw, got ${JSON.stringify(kind)}`);
  const optimizer: OptimizerConfig = {
    kind, lr: num(v, 'lr', { min: 1e-12 }), momentum: num(v, 'momentum', { min: 0, max: 0.999999 }), nesterov: v.nesterov === true,
    weightDecay: num(v, 'weight-decay', { min: 0 }),
  };
  const sk = v.schedule;
  if (sk !== 'constant' && sk !== 'step' && sk !== 'cosine') throw new ConfigError(`--schedule: expected constant, step or cosine, got ${JSON.stringify(sk)}`);
  const schedule: ScheduleConfig = { kind: sk, warmupSteps: num(v, 'warmup', { int: true, min: 0 }) };
  if (sk === 'step') {
    schedule.stepSize = num(v, 'step-size', { int: true, min: 1, required: true });
    schedule.gamma = num(v, 'gamma', { min: 0 });
  }
  return {
    epochs, batchSize, seed: num(v, 'seed', { int: true }), optimizer, schedule,
    checkpointEvery: num(v, 'checkpoint-every', { int: true, min: 0 }), resume: v.resume === true, forceResume: v['force-resume'] === true,
  };
}
