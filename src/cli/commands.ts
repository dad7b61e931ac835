// The CLI commands: teach, student, eval, demo. Each parses its options (flags or --config),
// prints progress to stderr and results to stdout, and leaves files only when complete.

import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { defaultBackend, loadBackend, type Backend } from '../backends/index.js';
import { ConfigError, InputFileError, Interrupted } from '../errors.js';
import { parseCsvRows, readCsvText } from '../data/csv.js';
import { readNpy } from '../data/npy.js';
import { readIdx } from '../data/idx.js';
import { loadModel, type Model } from '../io/predictor.js';
import { loadDataset } from '../data/builtin.js';
import { subset, validationSplit, type Dataset } from '../data/dataset.js';
import { evaluate, forEachEvalBatch, train, type EpochMetrics, type TrainConfig, type TrainResult, type Teacher } from '../train/trainer.js';
import { validateKd } from '../distill/objectives.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadCheckpoint, readAnyModel, readModel, saveModel, saveQuantizedModel, type ModelInfo } from '../io/model-file.js';
import { QuantizedSequential, type InferenceModel } from '../nn/quantized.js';
import { existsSync } from 'node:fs';
import { Sequential } from '../nn/sequential.js';
import { denseWidths, describeModel, type ModelConfig, type WidthsConfig } from '../nn/spec.js';
import { COMMON, DATA, KD, MODEL_FLAGS, QAT, TRAIN, VAL_FRACTION, helpText, modelConfig, num, parse, trainConfig, type OptionDoc, type Values } from './options.js';
import { Progress } from './progress.js';
import { openOutFolder } from './out-folder.js';
import { chooseRuntime } from '../step/calibrate.js';
import type { StepShapes } from '../step/kd-step.js';
import type { KdSchedule, ValueSchedule } from '../distill/schedules.js';
import type { HintConfig } from '../distill/hints.js';
import { rangesToMeta, validateQat, type QatConfig } from '../compress/qat.js';
import { calibrate, quantizeModel } from '../compress/quantize.js';
import { loadTeacherLogits, saveTeacherLogits } from '../io/logits-file.js';
import { saveOnnx, saveQdqOnnx } from '../io/onnx.js';
import { onnxTeacherLogits } from '../distill/onnx-teacher.js';
import { createRequire } from 'node:module';

const VERSION: string = createRequire(import.meta.url)('../../package.json').version;
import { gatherBatch } from '../data/batching.js';
import { classNames, commandLine, writeDemoReport, writeRunReport } from './report.js';
import { confusionMatrix } from '../train/confusion.js';

export function helpOr(argv: string[], usage: string, about: string, docs: OptionDoc[], examples: string[] = []): Values | null {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText(usage, about, docs, examples));
    return null;
  }
  return parse(argv, docs);
}

/**
 * The backend and worker count for a training run with these shapes: measured (and cached) by
 * the calibration unless --backend and --workers both say; one line reports the choice.
 */
export async function pickRuntime(v: Values, progress: Progress, shapes: StepShapes, dir?: string): Promise<{ be: Backend; workers: number }> {
  // --resume: the backend and worker count that wrote the checkpoint, unless given (a resumed
  // run repeats an uninterrupted one bit for bit only on those).
  const ck = dir && v.resume === true ? join(dir, 'checkpoint.safetensors') : null;
  if (ck && existsSync(ck) && (v.backend === undefined || v.workers === undefined)) {
    const rt = (await loadCheckpoint(ck)).position.runtime;
    if (rt) {
      v = { ...v, backend: v.backend ?? rt.backend, workers: v.workers ?? String(rt.workers) };
      progress.line(`resume: on ${v.backend} ×${v.workers}, as the checkpoint was written`);
    }
  }
  const workers = v.workers === undefined ? undefined : num(v, 'workers', { int: true, min: 1 });
  const cores = availableParallelism();
  if (workers !== undefined && workers > cores) throw new ConfigError(`--workers ${workers}: this machine has ${cores} core${cores > 1 ? 's' : ''}; more workers than cores only wait for each other (use at most ${cores})`);
  // Backends that do not load here (no CUDA device, ...) are only worth a line with --verbose.
  const log = (m: string) => { if (v.verbose === true || !/^skipping backend /.test(m)) progress.line(m); };
  const c = await chooseRuntime(shapes, { backend: typeof v.backend === 'string' ? v.backend : undefined, workers, recalibrate: v.recalibrate === true, log });
  progress.line(`runtime: ${c.line}`);
  return { be: c.backend, workers: c.workers };
}

/** The same model on another backend (parameters and buffers copied). */
export function onBackend(m: Sequential, be: Backend): Sequential {
  if (m.backend === be) return m;
  const copy = new Sequential(be, m.config, 0);
  copy.store.params.set(m.store.params);
  copy.buffers.data.set(m.buffers.data.subarray(0, copy.buffers.data.length)); // batch-norm running statistics
  m.release();
  return copy;
}

export async function pickBackend(v: Values, progress: Progress): Promise<Backend> {
  const be = typeof v.backend === 'string' ? await loadBackend(v.backend) : await defaultBackend((m) => { if (v.verbose === true) progress.line(m); });
  progress.line(`backend: ${be.name} (${be.description})`);
  return be;
}

export async function data(v: Values, progress: Progress): Promise<{ train: Dataset; test: Dataset }> {
  let spec = String(v.data);
  const csv = /\.csv(\.gz)?(:|$)/i.test(spec);
  const csvOnly = ['test', 'label-column', 'no-header'].filter((k) => v[k] !== undefined && v[k] !== false);
  if (!csv && csvOnly.length) throw new ConfigError(`${csvOnly.map((k) => `--${k}`).join(', ')} apply to CSV data only; --data is ${JSON.stringify(spec)}`);
  if (typeof v.test === 'string') {
    if (spec.includes('.csv:') || spec.includes('.CSV:')) throw new ConfigError('give the test file once: --data TRAIN.csv:TEST.csv or --test TEST.csv');
    spec = `${spec}:${v.test}`;
  }
  const delim = String(v.delimiter ?? ',');
  const delimiter = delim === 'tab' || delim === '\\t' ? '\t' : delim;
  if (delimiter.length !== 1) throw new ConfigError(`--delimiter: expected one character (or 'tab'), got ${JSON.stringify(v.delimiter)}`);
  const lc = typeof v['label-column'] === 'string' ? v['label-column'] : undefined;
  const d = await loadDataset(spec, {
    testFraction: num(v, 'test-fraction', { min: 1e-6, max: 0.999999 }), delimiter,
    labelColumn: lc === undefined ? undefined : /^\d+$/.test(lc) ? Number(lc) : lc,
    header: v['no-header'] === true ? false : undefined,
  });
  progress.line(`data: ${d.train.name}: ${d.train.n} train / ${d.test.n} test samples, ${d.train.features} features, ${d.train.classes} classes${d.train.classNames ? ` (${d.train.classNames.slice(0, 6).join(', ')}${d.train.classNames.length > 6 ? ', ...' : ''})` : ''}`);
  return d;
}

/**
 * --val-fraction F: the training set without a seeded held-out share (by `seed`), and that share
 * as the selection set (TrainConfig.selectBy); F = 0: the training set as it is, no selection.
 * `rows`: the training rows kept (to split precomputed teacher logits the same way).
 */
export function holdOut(train: Dataset, fraction: number, seed: number, progress: Progress): { train: Dataset; selectBy?: Dataset; rows?: Uint32Array } {
  if (!(fraction > 0)) return { train };
  const split = validationSplit(train.n, fraction, seed);
  const t = subset(train, split.train, `${train.name}[train]`);
  const val = subset(train, split.val, `${train.name}[validation]`);
  progress.line(`data: ${val.n} of the ${train.n} training samples held out for selection (--val-fraction ${fraction}, seeded by --seed); training on ${t.n}`);
  return { train: t, selectBy: val, rows: split.train };
}

/** Rows `rows` of an (n, K) row-major array. */
export function gatherRows(a: Float32Array, rows: ArrayLike<number>, K: number): Float32Array {
  const out = new Float32Array(rows.length * K);
  for (let i = 0; i < rows.length; i++) out.set(a.subarray(rows[i] * K, rows[i] * K + K), i * K);
  return out;
}

/** --batch larger than the training set: the whole set per step (said once, before anything is sized by it). */
export function capBatch(cfg: TrainConfig, n: number, progress: Progress): void {
  if (cfg.batchSize <= n) return;
  progress.line(`--batch ${cfg.batchSize} is larger than the ${n} training samples; using ${n}`);
  cfg.batchSize = n;
}

/** What a model file keeps of its training data: the input transform and the class names (padded when the model has more outputs). */
export function modelInfo(ds: Dataset, model: Sequential): Partial<ModelInfo> {
  const names = ds.classNames ? Array.from({ length: model.classes }, (_, k) => ds.classNames![k] ?? String(k)) : null;
  return { transform: ds.transform ?? null, classNames: names };
}

export function withSchedule(cfg: TrainConfig, n: number): TrainConfig {
  if (cfg.schedule.kind === 'cosine') cfg.schedule.totalSteps = cfg.epochs * Math.ceil(n / cfg.batchSize);
  return cfg;
}

/** Runs training with progress, SIGINT handling (checkpoint, then stop) and an epoch log. */
export async function runTraining(label: string, model: Sequential, d: { train: Dataset; test: Dataset }, cfg: TrainConfig, progress: Progress, teachers: Teacher[] = []): Promise<TrainResult & { samplesPerSec: Map<number, number> }> {
  // The first SIGINT (Ctrl-C) or SIGTERM stops the run after the step in progress, with a
  // checkpoint; a second one exits at once.
  const ac = new AbortController();
  let got: 'SIGINT' | 'SIGTERM' | null = null;
  const onSig = (sig: 'SIGINT' | 'SIGTERM') => {
    if (got) {
      progress.line(`${label}: second ${sig}; exiting now (the last checkpoint on disk is intact)`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    got = sig;
    progress.line(`${label}: ${sig === 'SIGINT' ? 'interrupt (Ctrl-C)' : 'SIGTERM'} received; finishing the step and writing the checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again to exit at once)`);
    ac.abort();
  };
  const onInt = () => onSig('SIGINT'), onTerm = () => onSig('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  // Training samples/s of each epoch's steps (the last step's running rate), for the report.
  const samplesPerSec = new Map<number, number>();
  let rate = 0;
  try {
    const res = await train(model, d.train, d.test, cfg, {
      onStep: (p) => { progress.step(p); rate = p.samplesPerSec; },
      onEpoch: (m: EpochMetrics) => { samplesPerSec.set(m.epoch, rate); progress.line(`${label} epoch ${m.epoch}: train loss ${m.train_loss.toFixed(4)}, test acc ${((m.test_acc ?? 0) * 100).toFixed(2)}% (${m.test_errors} errors), ${m.seconds.toFixed(1)} s`); },
      log: (m) => progress.line(`${label}: ${m}`),
      signal: ac.signal,
    }, teachers);
    if (res.stopped && got) {
      const where = cfg.checkpointPath ? `checkpoint written to ${cfg.checkpointPath}; continue with the same command and --resume` : 'no checkpoint (no --out)';
      throw new Interrupted(got, `${label} stopped by ${got} at step ${res.steps}: ${where}`);
    }
    if (res.stopped && cfg.checkpointPath) progress.line(`${label}: stopped; checkpoint in ${cfg.checkpointPath}; continue with --resume`);
    return { ...res, samplesPerSec };
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

/** The run's --out folder: created, checked writable, locked against a second run, stale temp files removed. */
export function outDir(v: Values, fallback: string, progress?: Progress): string {
  const f = openOutFolder(resolve(typeof v.out === 'string' ? v.out : fallback));
  if (f.removed.length) progress?.line(`out: removed ${f.removed.length} temp file(s) left by an interrupted write: ${f.removed.join(', ')}`);
  return f.dir;
}

const TEACH_DOCS = [...DATA, ...TRAIN, ...COMMON];
export async function teach(argv: string[]): Promise<void> {
  const v = helpOr(argv, 'distill teach [options]', 'Trains a teacher with cross-entropy; writes OUT/model.safetensors, OUT/checkpoint.safetensors, OUT/metrics.jsonl and OUT/report.html (curves, confusion matrix; opens offline).', TEACH_DOCS, ['distill teach --layers 784,256,10 --dropout 0.2 --epochs 8 --out runs/teacher', 'distill teach --data mnist --model "conv:8x3,relu,maxpool:2,conv:16x3,relu,maxpool:2,flatten,dense:10" --epochs 2 --out runs/cnn', 'distill teach --data images.csv --input-shape 3,32,32 --model "conv:16x3,bn,relu,maxpool:2,conv:32x3/s2,bn,relu,gap,dense:10" --out runs/csv-cnn', 'distill teach --data iris.csv --label-column species --hidden 32 --epochs 50 --out runs/iris-teacher']);
  if (!v) return;
  const progress = new Progress('teacher', process.stderr, v.quiet === true);
  const mc0 = modelConfig(v, null);
  const cfg0 = trainConfig(v, { epochs: 10 });
  const dir = outDir(v, 'runs/teacher', progress);
  const d = await data(v, progress);
  const mc = mc0 ?? modelConfig(v, null, d.train.features, d.train.classes, d.train.shape)!;
  capBatch(cfg0, d.train.n, progress);
  const { be, workers } = await pickRuntime(v, progress, { teachers: [], student: mc, N: cfg0.batchSize, kd: validateKd({}), optimizer: cfg0.optimizer }, dir);
  const shift = num(v, 'augment-shift', { int: true, min: 0, max: 8 });
  const cfg = withSchedule({ ...cfg0, workers, augment: shift ? { shift } : undefined, checkpointPath: join(dir, 'checkpoint.safetensors'), metricsPath: join(dir, 'metrics.jsonl') }, d.train.n);
  const model = new Sequential(be, mc, cfg.seed);
  progress.line(`teacher: layers ${describeModel(mc)}, ${model.parameterCount.toLocaleString('en-US')} parameters`);
  const res = await runTraining('teacher', model, d, cfg, progress);
  if (res.stopped) return;
  await saveModel(join(dir, 'model.safetensors'), model, { role: 'teacher', data: d.train.name }, modelInfo(d.train, model));
  const ev = evaluate(model, d.test);
  const report = await writeRunReport({ role: 'teacher', dir, argv, d, model, cfg, backend: be, workers, history: res.history, samplesPerSec: res.samplesPerSec, evaluation: ev });
  console.log(`teacher: test accuracy ${(ev.accuracy * 100).toFixed(2)}% (${ev.errors} errors of ${ev.n}); saved ${join(dir, 'model.safetensors')}`);
  console.log(`teacher: report ${report}`);
}

const INIT: OptionDoc = { flag: 'init', type: 'string', help: "start from this float32 model file's weights instead of a random init (the same layers; without --layers/--arch/--model the student's layers are taken from it), e.g. to fine-tune a trained student with --qat" };
const STUDENT_DOCS = [...KD, INIT, ...QAT, VAL_FRACTION, ...DATA, ...TRAIN, ...COMMON];
export async function student(argv: string[]): Promise<void> {
  const v = helpOr(argv, 'distill student (--teacher FILE[,FILE] | --teacher-logits FILE) [options]', 'Distills a student from saved teacher(s), or from their logits precomputed by distill logits: loss = alpha·T²·KL(p_teacher ‖ p_student) + (1−alpha)·CE. Writes OUT/model.safetensors, OUT/checkpoint.safetensors, OUT/metrics.jsonl and OUT/report.html (curves, T and alpha, confusion matrix; opens offline).', STUDENT_DOCS, ['distill student --teacher runs/teacher/model.safetensors --layers 784,32,10 --temperature 4 --alpha 0.9 --out runs/student', 'distill student --teacher a.safetensors,b.safetensors --teacher-fusion probs --hints 0:0 --hidden 64 --out runs/student2', 'distill student --teacher runs/cnn/model.safetensors --model "conv:8x3,bn,relu,maxpool:2,flatten,dense:10" --out runs/cnn-student', 'distill student --teacher runs/teacher/model.safetensors --layers 784,64,10 --qat --out runs/student-qat', 'distill student --teacher runs/teacher/model.safetensors --layers 784,64,10 --epochs 12 --qat --qat-start-epoch 9 --qat-freeze-epoch 12 --out runs/student-qat2', 'distill student --teacher runs/teacher/model.safetensors --init runs/student/model.safetensors --qat --epochs 4 --lr 0.01 --out runs/student-qat3   # QAT fine-tuning', 'distill student --teacher runs/teacher/model.safetensors --init runs/student/model.safetensors --qat --qat-calib 1000 --qat-freeze-epoch 2 --epochs 4 --lr 0.002 --val-fraction 0.1 --out runs/student-qat4   # from the PTQ model, best validation point kept']);
  if (!v) return;
  const progress = new Progress('student', process.stderr, v.quiet === true);
  const fromLogits = typeof v['teacher-logits'] === 'string' ? v['teacher-logits'] : null;
  if (typeof v.teacher !== 'string' && !fromLogits) throw new ConfigError('--teacher (model files from distill teach) or --teacher-logits (a file from distill logits) is required');
  if (typeof v.teacher === 'string' && fromLogits) throw new ConfigError('give --teacher or --teacher-logits, not both');
  // With --init and no model flags, the layers come from the init file (below).
  const mc0 = typeof v.init === 'string' && !MODEL_FLAGS.some((k) => typeof v[k] === 'string') ? null : modelConfig(v, null);
  const kd = validateKd({ T: num(v, 'temperature', { min: 1e-6 }), alpha: num(v, 'alpha', { min: 0, max: 1 }), scaleT2: v['no-t2'] !== true }, 'options');
  const mode = v['teacher-mode'];
  if (mode !== 'cached' && mode !== 'online') throw new ConfigError(`--teacher-mode: expected cached or online, got ${JSON.stringify(mode)}`);
  const fusion = v['teacher-fusion'];
  if (fusion !== 'logits' && fusion !== 'probs') throw new ConfigError(`--teacher-fusion: expected logits or probs, got ${JSON.stringify(fusion)}`);
  const sched = (flag: string): ValueSchedule => {
    const m = /^(constant|linear|cosine)(?::(-?[\d.]+(?:e-?\d+)?))?$/.exec(String(v[flag]));
    if (!m || (m[1] !== 'constant' && m[2] === undefined)) throw new ConfigError(`--${flag}: expected constant, linear:TO or cosine:TO, got ${JSON.stringify(v[flag])}`);
    return { kind: m[1] as ValueSchedule['kind'], to: m[2] === undefined ? undefined : Number(m[2]) };
  };
  const kdSchedule: KdSchedule = { T: sched('t-schedule'), alpha: sched('alpha-schedule'), startEpoch: num(v, 'kd-start-epoch', { int: true, min: 1 }) - 1 };
  const shift = num(v, 'augment-shift', { int: true, min: 0, max: 8 });
  let hints: HintConfig | undefined;
  if (typeof v.hints === 'string') {
    const pairs = v.hints.split(',').map((p) => {
      const m = /^(\d+):(\d+)$/.exec(p.trim());
      if (!m) throw new ConfigError(`--hints: expected STUDENT:TEACHER pairs of 0-based hidden layers like 0:1,1:1, got ${JSON.stringify(v.hints)}`);
      return { student: Number(m[1]), teacher: Number(m[2]) };
    });
    const loss = v['hint-loss'];
    if (loss !== 'mse' && loss !== 'cosine') throw new ConfigError(`--hint-loss: expected mse or cosine, got ${JSON.stringify(loss)}`);
    hints = { pairs, weight: num(v, 'hint-weight', { min: 1e-12 }), loss, preTrainEpochs: num(v, 'hint-pretrain-epochs', { int: true, min: 0 }) };
  }
  const cfg0 = trainConfig(v, { epochs: 10 });
  for (const f of ['qat-freeze-epoch']) if (v[f] !== undefined && v.qat !== true) throw new ConfigError(`--${f} needs --qat`);
  if (v.qat !== true && v['qat-start-epoch'] !== '1') throw new ConfigError('--qat-start-epoch needs --qat');
  const qatCalib = num(v, 'qat-calib', { int: true, min: 0 });
  if (v.qat !== true && qatCalib !== 0) throw new ConfigError('--qat-calib needs --qat');
  const valFraction = num(v, 'val-fraction', { min: 0, max: 0.5 });
  const qat: QatConfig | undefined = v.qat === true ? {
    startEpoch: num(v, 'qat-start-epoch', { int: true, min: 1, max: cfg0.epochs }) - 1,
    freezeEpoch: v['qat-freeze-epoch'] === undefined ? undefined : num(v, 'qat-freeze-epoch', { int: true, min: 2, max: cfg0.epochs }) - 1,
  } : undefined;
  if (qat) validateQat(qat, cfg0.epochs);
  const dir = outDir(v, 'runs/student', progress);
  const d = await data(v, progress);
  const js = await loadBackend('js');
  // --init: a float32 model file (readModel refuses an int8 one by name) whose weights the student starts from.
  const initFile = typeof v.init === 'string' ? v.init : null;
  const init = initFile ? (await readModel(initFile, js)).model : null;
  const mc = mc0 ?? init?.config ?? modelConfig(v, null, d.train.features, d.train.classes, d.train.shape)!;
  if (init && describeModel(init.config) !== describeModel(mc)) {
    init.release();
    throw new ConfigError(`--init ${initFile}: its layers are ${describeModel(init.config)}, the student's are ${describeModel(mc)} (leave out --layers/--arch/--model to take them from the file)`);
  }
  capBatch(cfg0, d.train.n, progress);
  // Teachers: model files (read on the js backend first: their shapes feed the calibration), or
  // one logits file checked against this training set.
  const loaded: Teacher[] = [];
  let sources: string[];
  if (fromLogits) {
    const f = await loadTeacherLogits(fromLogits, d.train, denseWidths(mc).at(-1)!);
    f.logits.forEach((logits) => loaded.push({ logits }));
    sources = [fromLogits];
    progress.line(`teacher logits: ${f.logits.length} teacher(s) from ${fromLogits}${f.teachers.length ? ` (${f.teachers.map((t) => t.file).join(', ')})` : ''}`);
  } else {
    sources = (v.teacher as string).split(',').map((s) => s.trim()).filter(Boolean);
    for (const f of sources) {
      // An ONNX classifier runs once over the training set (onnxruntime-node); ours load as models.
      if (f.toLowerCase().endsWith('.onnx')) {
        loaded.push({ logits: await onnxTeacherLogits(f, d.train, denseWidths(mc).at(-1)!) });
        progress.line(`teacher ${f}: logits of ${d.train.n} samples computed with onnxruntime`);
      } else {
        const { model: t } = await readAnyModel(f, js);
        if (t instanceof QuantizedSequential) {
          // An int8 teacher runs forward only, on the int8 kernels: its logits over the training set are computed once.
          if (mode === 'online' || shift || hints) { t.release(); throw new ConfigError(`--teacher ${f} is an int8 model: it runs once over the training set (cached logits), so it cannot be used with ${mode === 'online' ? '--teacher-mode online' : shift ? '--augment-shift' : '--hints'}; give its float32 model instead`); }
          loaded.push({ logits: modelLogits(t, d.train) });
          t.release();
          progress.line(`teacher ${f}: int8 model; logits of ${d.train.n} samples computed once on the int8 kernels`);
        } else loaded.push({ model: t });
      }
    }
  }
  const weights = typeof v['teacher-weights'] === 'string' ? v['teacher-weights'].split(',').map(Number) : loaded.map(() => 1);
  if (weights.length !== loaded.length || weights.some((w) => !(w > 0))) throw new ConfigError(`--teacher-weights: need ${loaded.length} positive numbers, got ${JSON.stringify(v['teacher-weights'])}`);
  const temps = typeof v['teacher-temperatures'] === 'string' ? v['teacher-temperatures'].split(',').map(Number) : null;
  if (temps && (temps.length !== loaded.length || temps.some((t) => !(t > 0)))) throw new ConfigError(`--teacher-temperatures: need ${loaded.length} positive numbers, got ${JSON.stringify(v['teacher-temperatures'])}`);
  loaded.forEach((t, i) => { t.weight = weights[i]; t.temperature = temps?.[i]; });
  // --val-fraction: the student trains on the rest; precomputed teacher logits follow the split.
  const { train: trainSet, selectBy, rows } = holdOut(d.train, valFraction, cfg0.seed, progress);
  if (rows) for (const t of loaded) if (t.logits) t.logits = gatherRows(t.logits, rows, denseWidths(mc).at(-1)!);
  const dd = { train: trainSet, test: d.test };
  const modelTeachers = loaded.flatMap((t) => (t.model ? [t.model.config] : []));
  // The measured step has the run's shapes: the teachers when they run per batch (online mode, image
  // shifts, hints), the student, and the hint adapters.
  const { be, workers } = await pickRuntime(v, progress, { teachers: mode === 'online' || shift || hints ? modelTeachers : [], student: mc, N: cfg0.batchSize, kd, optimizer: cfg0.optimizer, hints }, dir);
  const teachers = loaded.map((t) => (t.model ? { ...t, model: onBackend(t.model, be) } : t));
  const cfg = withSchedule({ ...cfg0, workers, kd, teacherFusion: fusion, kdSchedule, teacherMode: mode, augment: shift ? { shift } : undefined, hints, qat, selectBy, checkpointPath: join(dir, 'checkpoint.safetensors'), metricsPath: join(dir, 'metrics.jsonl') }, dd.train.n);
  const model = new Sequential(be, mc, cfg.seed);
  if (init) {
    if (init.store.params.length !== model.store.params.length || init.buffers.data.length !== model.buffers.data.length) throw new ConfigError(`--init ${initFile}: ${init.store.params.length} parameters, the student has ${model.store.params.length}`);
    model.store.params.set(init.store.params);
    model.buffers.data.set(init.buffers.data);
    init.release();
    progress.line(`student: weights from ${initFile}`);
  }
  if (qat && qatCalib > 0) {
    // The PTQ calibration of distill quantize (min/max over the first rows) as QAT's first ranges.
    const rows = Math.min(qatCalib, dd.train.n);
    qat.initRanges = calibrate(model, dd.train.x, rows, { method: 'minmax' });
    progress.line(`student: QAT ranges start from min/max calibration over the first ${rows} training rows`);
  }
  progress.line(`student: layers ${describeModel(mc)}, ${model.parameterCount.toLocaleString('en-US')} parameters; T=${kd.T}, alpha=${kd.alpha}${kd.scaleT2 ? ', T² scaling' : ''}${qat ? `; QAT (int8) from epoch ${(qat.startEpoch ?? 0) + 1}` : ''}`);
  const res = await runTraining('student', model, dd, cfg, progress, teachers);
  if (res.stopped) {
    res.qat?.detach();
    return;
  }
  if (res.selected) progress.line(`student: kept the ${res.selected.epoch === 0 ? 'start point' : `model after epoch ${res.selected.epoch}`}: validation accuracy ${(res.selected.accuracy * 100).toFixed(2)}% on ${selectBy!.n} held-out training rows`);
  // QAT: the float weights with the observed activation ranges (what int8 conversion needs),
  // and the int8-simulated accuracy beside the float one.
  const q = res.qat;
  const qatMeta: Record<string, string> = q ? { qat_ranges: rangesToMeta(q.actRanges()) } : {};
  await saveModel(join(dir, 'model.safetensors'), model, { role: 'student', data: d.train.name, teachers: JSON.stringify(sources), ...qatMeta }, modelInfo(d.train, model));
  if (q) {
    q.setEnabled(true);
    const sim = evaluate(model, d.test);
    const ranges = q.actRanges();
    q.detach();
    progress.line(`student: int8-simulated (fake-quant) test accuracy ${(sim.accuracy * 100).toFixed(2)}% (${sim.errors} errors of ${sim.n})`);
    // The real int8 model: the same quantizeModel as distill quantize, with QAT's observed ranges.
    const int8 = quantizeModel(model, ranges);
    try {
      const out = join(dir, 'model.int8.safetensors');
      await saveQuantizedModel(out, int8, { role: 'int8', source: join(dir, 'model.safetensors'), qat: JSON.stringify(qat), data: d.train.name, teachers: JSON.stringify(sources) }, modelInfo(d.train, model));
      const e8 = evaluate(int8, d.test);
      progress.line(`student: int8 test accuracy ${(e8.accuracy * 100).toFixed(2)}% (${e8.errors} errors of ${e8.n}); saved ${out}`);
    } finally {
      int8.release();
    }
  }
  const ev = evaluate(model, d.test);
  const report = await writeRunReport({ role: 'student', dir, argv, d: dd, model, cfg, backend: be, workers, history: res.history, samplesPerSec: res.samplesPerSec, evaluation: ev, teachers: { sources, list: teachers } });
  console.log(`student: test accuracy ${(ev.accuracy * 100).toFixed(2)}% (${ev.errors} errors of ${ev.n}); saved ${join(dir, 'model.safetensors')}`);
  console.log(`student: report ${report}`);
}

/** A model's logits (n, K) over a dataset, in dataset order (eval mode). */
function modelLogits(model: InferenceModel, ds: Dataset): Float32Array {
  const K = model.classes, res = new Float32Array(ds.n * K);
  if (model.inputs !== ds.features) throw new ConfigError(`the teacher takes ${model.inputs} inputs, '${ds.name}' has ${ds.features} features`);
  forEachEvalBatch(model, ds, 500, (z, _y, N, start) => res.set(z.subarray(0, N * K), start * K));
  return res;
}

const EXPORT_DOCS: OptionDoc[] = [
  { flag: 'model', type: 'string', help: 'model file (.safetensors from distill teach/student)' },
  { flag: 'out', type: 'string', help: 'ONNX file to write', default: 'model.onnx' },
  { flag: 'help', type: 'boolean', help: 'show this help' },
];
export async function exportCmd(argv: string[]): Promise<void> {
  const v = helpOr(argv, 'distill export --model FILE [--out model.onnx]', 'Writes a saved model as ONNX, runnable in any ONNX runtime: input "input" (N, ...input shape) of raw values (the stored input transform is in the graph as Sub/Div), output "logits" (N, K); class names in the metadata (class_names). An int8 model (distill quantize) becomes a QDQ graph: QuantizeLinear/DequantizeLinear (uint8 per tensor) on each dense/conv input, int8 weights dequantized per output channel, then Gemm/Conv.', EXPORT_DOCS, ['distill export --model runs/student/model.safetensors --out student.onnx', 'distill export --model runs/iris/model.safetensors --out iris.onnx   # takes raw CSV rows', 'distill export --model runs/student/model.int8.safetensors --out student-int8.onnx']);
  if (!v) return;
  if (typeof v.model !== 'string') throw new ConfigError('--model is required: a model file from distill teach or distill student');
  const { model, info } = await readAnyModel(v.model, await loadBackend('js'));
  const out = resolve(String(v.out));
  const meta = { producerVersion: VERSION, transform: info.transform, classNames: info.classNames };
  if (model instanceof QuantizedSequential) await saveQdqOnnx(out, model, meta);
  else await saveOnnx(out, model, meta);
  console.log(`export: ${v.model} (layers ${describeModel(model.config)}${model instanceof QuantizedSequential ? ', int8: QDQ graph' : ''}) → ${out}`);
}

const PREDICT_DOCS: OptionDoc[] = [
  { flag: 'out', type: 'string', help: 'write the predictions to this CSV file instead of standard output' },
  { flag: 'probs', type: 'boolean', help: 'add one probability column per class' },
  { flag: 'top', type: 'string', help: 'the K most likely classes with their probabilities (columns top1,p1,...)', default: '1' },
  { flag: 'label-column', type: 'string', help: 'CSV input: the label column (name or 0-based index), if the file has one; it is passed through as "label"' },
  { flag: 'backend', type: 'string', help: 'kernel backend (default: the first that loads: native, wasm, js)' },
  { flag: 'quiet', type: 'boolean', help: 'no summary line on standard error' },
  { flag: 'help', type: 'boolean', help: 'show this help' },
];
export async function predictCmd(argv: string[]): Promise<void> {
  const [file, dataFile, ...rest] = argv;
  if (!file || file.startsWith('-') || !dataFile || dataFile.startsWith('-')) {
    const v = helpOr(argv.filter((a) => a.startsWith('-')), 'distill predict MODEL DATA [options]', 'Predicts the class of each row of DATA with a saved model, on raw values (the model applies its stored input transform): DATA is a .csv (the model\'s feature columns, optionally a label column), a .npy array (N, ...input shape) or an IDX images file. Prints CSV: prediction (class name), then label (if the CSV has one), top-K classes and probabilities as asked.', PREDICT_DOCS, ['distill predict runs/student/model.safetensors new-rows.csv', 'distill predict model.safetensors rows.npy --top 3 --probs --out predictions.csv']);
    if (!v) return;
    throw new ConfigError('distill predict needs MODEL and DATA: distill predict runs/student/model.safetensors rows.csv (see --help)');
  }
  const v = parse(rest, PREDICT_DOCS);
  const top = num(v, 'top', { int: true, min: 1 });
  const m = await loadModel(file, { backend: typeof v.backend === 'string' ? v.backend : undefined });
  try {
    const rows = await readRows(dataFile, m, typeof v['label-column'] === 'string' ? v['label-column'] : undefined);
    const p = m.predict(rows.x);
    const K = m.classes, names = m.classNames, k = Math.min(top, K);
    const cell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const head = ['prediction', ...(rows.labels ? ['label'] : []), ...(k > 1 ? Array.from({ length: k }, (_, j) => [`top${j + 1}`, `p${j + 1}`]).flat() : []), ...(v.probs ? names.map((c) => `p(${c})`) : [])];
    const lines = [head.map(cell).join(',')];
    let agree = 0;
    for (let i = 0; i < p.n; i++) {
      const pr = p.probs.subarray(i * K, (i + 1) * K);
      const order = k > 1 ? Array.from({ length: K }, (_, j) => j).sort((a, b) => pr[b] - pr[a]).slice(0, k) : [];
      if (rows.labels && rows.labels[i] === p.labels[i]) agree++;
      lines.push([p.labels[i], ...(rows.labels ? [rows.labels[i]] : []), ...order.flatMap((j) => [names[j], pr[j].toPrecision(6)]), ...(v.probs ? Array.from(pr, (q) => q.toPrecision(6)) : [])].map(cell).join(','));
    }
    const text = lines.join('\n') + '\n';
    if (typeof v.out === 'string') await writeFileAtomic(resolve(v.out), text);
    else process.stdout.write(text);
    if (v.quiet !== true) {
      const acc = rows.labels ? `; ${agree} of ${p.n} match the label column (${((agree / Math.max(1, p.n)) * 100).toFixed(2)}%)` : '';
      process.stderr.write(`predict: ${p.n} rows of ${dataFile} with ${file} on ${m.backend.name}${typeof v.out === 'string' ? ` → ${resolve(v.out)}` : ''}${acc}\n`);
    }
  } finally {
    m.release();
  }
}

/** Raw input rows for predict from a CSV, NPY or IDX file, checked against the model's input size. */
async function readRows(file: string, m: Model, labelColumn?: string): Promise<{ x: Float32Array; labels: string[] | null }> {
  const F = m.inputs;
  if (/\.csv(\.gz)?$/i.test(file)) {
    const col = labelColumn === undefined ? undefined : /^\d+$/.test(labelColumn) ? Number(labelColumn) : labelColumn;
    const r = parseCsvRows(await readCsvText(file), file, F, { labelColumn: col });
    return { x: r.x, labels: r.labels };
  }
  let shape: number[], data: ArrayLike<number>;
  if (/\.npy(\.gz)?$/i.test(file)) ({ shape, data } = await readNpy(file));
  else ({ dims: shape, data } = await readIdx(file));
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  if (shape.length < 2 || per !== F) throw new InputFileError(file, `array of shape [${shape.join(',')}], but the model takes rows of ${F} values (shape [N, ${m.model.inputShape.join(', ')}])`);
  return { x: Float32Array.from(data), labels: null };
}

const LOGITS_DOCS: OptionDoc[] = [
  { flag: 'teacher', type: 'string', help: 'teacher model file(s), comma-separated (from distill teach)' },
  { flag: 'out', type: 'string', help: 'output file', default: 'teacher-logits.safetensors' },
  { flag: 'batch', type: 'string', help: 'rows per forward pass', default: '500' },
  ...DATA, ...COMMON,
];
export async function logits(argv: string[]): Promise<void> {
  const v = helpOr(argv, 'distill logits --teacher FILE[,FILE] [--data mnist] [--out FILE]', 'Runs the teacher(s) once over the training set and writes their logits (one tensor per teacher) with the dataset\'s count and order hash, for distill student --teacher-logits.', LOGITS_DOCS, ['distill logits --teacher runs/teacher/model.safetensors --out t-logits.safetensors', 'distill logits --teacher a.safetensors,b.safetensors --data fashion-mnist --out fm-logits.safetensors']);
  if (!v) return;
  const progress = new Progress('logits', process.stderr, v.quiet === true);
  if (typeof v.teacher !== 'string') throw new ConfigError('--teacher is required: the teacher model file(s) from distill teach');
  const files = v.teacher.split(',').map((s) => s.trim()).filter(Boolean);
  const B = num(v, 'batch', { int: true, min: 1 });
  const be = await pickBackend(v, progress);
  const d = await data(v, progress);
  const out = resolve(String(v.out));
  const all: Float32Array[] = [];
  const teachers: { file: string; config: ModelConfig }[] = [];
  for (const f of files) {
    const { model } = await readAnyModel(f, be);
    if (model.inputs !== d.train.features) throw new ConfigError(`${f}: the teacher takes ${model.inputs} inputs, the data has ${d.train.features} features`);
    const K = model.classes, res = new Float32Array(d.train.n * K), x = be.alloc(B * model.inputs);
    const order = Uint32Array.from({ length: d.train.n }, (_, i) => i);
    model.eval();
    for (let s = 0; s < d.train.n; s += B) {
      const e = Math.min(d.train.n, s + B);
      gatherBatch(d.train, order, s, e, x);
      res.set(model.forward(x, e - s).subarray(0, (e - s) * K), s * K);
      progress.step({ epoch: 0, epochs: 1, batch: Math.ceil(e / B), batches: Math.ceil(d.train.n / B), step: 0, loss: NaN, samplesPerSec: 0 });
    }
    be.free(x);
    model.release();
    if (all.length && res.length !== all[0].length) throw new ConfigError(`${f}: ${K} classes, but ${files[0]} has ${all[0].length / d.train.n}`);
    all.push(res);
    teachers.push({ file: f, config: model.config });
  }
  await saveTeacherLogits(out, d.train, { logits: all, teachers });
  console.log(`logits: ${files.length} teacher(s) × ${d.train.n} samples of '${d.train.name}' → ${out}`);
}

const EVAL_DOCS: OptionDoc[] = [
  { flag: 'model', type: 'string', help: 'model file (.safetensors from distill teach/student)' },
  { flag: 'split', type: 'string', help: 'test or train', default: 'test' },
  { flag: 'json', type: 'boolean', help: 'print the result as JSON' },
  ...DATA, ...COMMON,
];
export async function evalCmd(argv: string[]): Promise<void> {
  const v = helpOr(argv, 'distill eval --model FILE [--data mnist]', 'Evaluates a saved model: accuracy, mean cross-entropy, number of errors.', EVAL_DOCS, ['distill eval --model runs/student/model.safetensors', 'distill eval --model runs/iris/model.safetensors --data iris.csv --split train --json']);
  if (!v) return;
  const progress = new Progress('eval', process.stderr, v.quiet === true || v.json === true);
  if (typeof v.model !== 'string') throw new ConfigError('--model is required: a model file from distill teach or distill student');
  if (v.split !== 'test' && v.split !== 'train') throw new ConfigError(`--split: expected test or train, got ${JSON.stringify(v.split)}`);
  const be = await pickBackend(v, progress);
  const { model } = await readAnyModel(v.model, be);
  const dtype = model instanceof QuantizedSequential ? 'int8' : 'f32';
  const d = await data(v, progress);
  const ev = evaluate(model, v.split === 'test' ? d.test : d.train);
  if (v.json) console.log(JSON.stringify({ model: v.model, dtype, data: d.train.name, split: v.split, ...ev, parameters: model.parameterCount }));
  else console.log(`${v.model}${dtype === 'int8' ? ' (int8)' : ''}: ${v.split} accuracy ${(ev.accuracy * 100).toFixed(2)}%, loss ${ev.loss.toFixed(4)}, ${ev.errors} errors of ${ev.n}`);
}

/** The demo's default recipe: a teacher clearly larger than the student, sized for the js backend. */
/**
 * The demo's setting (Hinton et al.'s point that soft targets carry what little data cannot):
 * the teacher learns from all 8,000 training digits; both students see only the first 1,000
 * labeled ones, the distilled one also through the teacher's soft predictions on them.
 * Measured on the js backend: teacher ~90 errors of 2,000, student alone ~200-220, distilled
 * ~150 (seeds 2-4), under 2 minutes in all.
 */
export const DEMO = {
  teacher: { layers: [784, 256, 10], activation: 'relu', dropout: 0.2 } as WidthsConfig,
  student: { layers: [784, 32, 10], activation: 'relu' } as WidthsConfig,
  teacherEpochs: 6,
  studentEpochs: 30,
  studentSamples: 1000,
  batch: 64,
  lr: 0.05,
  T: 4,
  alpha: 0.9,
  seed: 1,
};

const DEMO_DOCS: OptionDoc[] = [
  { flag: 'out', type: 'string', help: 'folder for the models and metrics', default: 'distill-demo' },
  { flag: 'epochs', type: 'string', help: 'shorthand for --teacher-epochs N --student-epochs N (each of those wins over it)' },
  { flag: 'teacher-epochs', type: 'string', help: `teacher epochs (default: ${DEMO.teacherEpochs})` },
  { flag: 'student-epochs', type: 'string', help: `student epochs, distilled and alone (default: ${DEMO.studentEpochs})` },
  { flag: 'student-samples', type: 'string', help: 'the students learn from the first N training samples (0: all)', default: String(DEMO.studentSamples) },
  { flag: 'seed', type: 'string', help: 'random seed', default: String(DEMO.seed) },
  ...DATA, ...COMMON,
];
export async function demo(argv: string[]): Promise<void> {
  const v = helpOr(argv, 'distill demo [options]',
    `Trains a teacher (${DEMO.teacher.layers.join('-')}) on the training set, distills a student (${DEMO.student.layers.join('-')}) from it on the first ${DEMO.studentSamples} training samples, trains the same student alone on the same samples, and prints a comparison table. Writes the models, metrics.jsonl and report.html (the comparison, curves, confusion matrices) into the --out folder.`, DEMO_DOCS, ['distill demo', 'distill demo --epochs 1 --out demo-quick', 'distill demo --backend wasm-simd --student-samples 0 --out demo-all']);
  if (!v) return;
  const progress = new Progress('demo', process.stderr, v.quiet === true);
  const seed = num(v, 'seed', { int: true });
  const both = v.epochs === undefined ? undefined : num(v, 'epochs', { int: true, min: 1 });
  const tEpochs = v['teacher-epochs'] === undefined ? both ?? DEMO.teacherEpochs : num(v, 'teacher-epochs', { int: true, min: 1 });
  const sEpochs = v['student-epochs'] === undefined ? both ?? DEMO.studentEpochs : num(v, 'student-epochs', { int: true, min: 1 });
  const sSamples = num(v, 'student-samples', { int: true, min: 0 });
  const dir = outDir(v, 'distill-demo', progress);
  const d = await data(v, progress);
  const base = (epochs: number): TrainConfig => withSchedule({
    epochs, batchSize: DEMO.batch, seed, optimizer: { kind: 'sgd', lr: DEMO.lr, momentum: 0.9 }, schedule: { kind: 'cosine' },
  }, d.train.n);
  const fit = (mc: WidthsConfig): WidthsConfig => ({ ...mc, layers: [d.train.features, ...mc.layers.slice(1, -1), Math.max(d.train.classes, 2)] });
  const rows: { model: string; layers: string; parameters: number; acc: number; errors: number; n: number; seconds: number; samples: number }[] = [];
  const runs: Parameters<typeof writeDemoReport>[1]['runs'] = [];
  const metrics: string[] = [];
  const few = sSamples > 0 && sSamples < d.train.n ? subset(d.train, Array.from({ length: sSamples }, (_, i) => i), `${d.train.name}[:${sSamples}]`) : d.train;
  const kd = { T: DEMO.T, alpha: DEMO.alpha, scaleT2: true };
  const used = new Set<string>();
  const stage = async (name: string, mc: WidthsConfig, epochs: number, trainSet: Dataset, teacherList: { model: Sequential; weight: number }[] = []) => {
    const t0 = performance.now();
    const cfg0 = withSchedule(base(epochs), trainSet.n);
    // The teacher's logits are cached once, so the steps calibrated are the student's alone.
    const { be, workers } = await pickRuntime(v, progress, { teachers: [], student: fit(mc), N: cfg0.batchSize, kd, optimizer: cfg0.optimizer });
    used.add(workers > 1 ? `${be.name} ×${workers}` : be.name);
    const teachers = teacherList.map((t) => ({ model: onBackend(t.model, be), weight: t.weight }));
    const model = new Sequential(be, fit(mc), seed);
    progress.line(`${name}: layers ${describeModel(model.config)}, ${model.parameterCount.toLocaleString('en-US')} parameters, ${epochs} epochs on ${trainSet.n} samples`);
    const cfg = { ...cfg0, workers, kd: teachers.length ? kd : undefined };
    const res = await runTraining(name, model, { train: trainSet, test: d.test }, cfg, progress, teachers);
    for (const m of res.history) metrics.push(JSON.stringify({ model: name, ...m }));
    const ev = evaluate(model, d.test);
    await saveModel(join(dir, `${name}.safetensors`), model, { role: name, data: d.train.name }, modelInfo(d.train, model));
    rows.push({ model: name, layers: describeModel(model.config), parameters: model.parameterCount, acc: ev.accuracy, errors: ev.errors, n: ev.n, seconds: (performance.now() - t0) / 1000, samples: trainSet.n });
    runs.push({ name, history: res.history, samplesPerSec: res.history.map((h) => res.samplesPerSec.get(h.epoch) ?? null), confusion: d.test.n ? confusionMatrix(model, d.test) : null });
    return model;
  };
  const t0 = performance.now();
  const teacher = await stage('teacher', DEMO.teacher, tEpochs, d.train);
  await stage('student-distilled', DEMO.student, sEpochs, few, [{ model: teacher, weight: 1 }]);
  await stage('student-alone', DEMO.student, sEpochs, few);
  await writeFileAtomic(join(dir, 'metrics.jsonl'), metrics.join('\n') + '\n');
  const table = [['model', 'layers', 'parameters', 'test accuracy', 'test errors', 'wall time']];
  for (const r of rows) table.push([r.model, r.layers, r.parameters.toLocaleString('en-US'), `${(r.acc * 100).toFixed(2)}%`, `${r.errors} / ${r.n}`, `${r.seconds.toFixed(1)} s`]);
  const w = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  console.log('');
  for (const [i, r] of table.entries()) {
    console.log(r.map((c, j) => (j >= 2 ? c.padStart(w[j]) : c.padEnd(w[j]))).join('  '));
    if (i === 0) console.log(w.map((n) => '-'.repeat(n)).join('  '));
  }
  const gain = rows[2].errors - rows[1].errors;
  const summary = `distillation ${gain >= 0 ? 'saved' : 'cost'} ${Math.abs(gain)} test errors for the ${rows[1].layers} student trained on ${few.n} samples (teacher on ${d.train.n}; T=${DEMO.T}, alpha=${DEMO.alpha})`;
  console.log(`\n${summary}; ran on ${[...used].join(', ')}; total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await writeDemoReport(dir, { command: commandLine('demo', argv), data: { name: d.train.name, train: d.train.n, test: d.test.n, features: d.train.features, classes: d.train.classes }, rows, runs, kd, names: classNames(d.train, Math.max(d.train.classes, 2)), runtime: [...used].join(', '), summary });
  console.log(`wrote ${join(dir, 'teacher.safetensors')}, student-distilled.safetensors, student-alone.safetensors, metrics.jsonl, report.html`);
}
