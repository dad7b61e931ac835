// `distill prune MODEL`: structured (whole neurons/channels removed: a smaller model) or
// unstructured (magnitude masks kept through training) pruning, one-shot or on Zhu & Gupta's
// cubic schedule, then recovery by KD from the unpruned model (or another teacher) through the
// same training loop as `distill student`. Prints accuracy, parameters, file bytes and the time
// of a batch of 128 and of 1 before and after, and writes them to OUT/prune.json and as an HTML
// report (OUT/report.html) beside OUT/model.safetensors.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadBackend, type Backend } from '../backends/index.js';
import { ConfigError, InputFileError, ShapeError } from '../errors.js';
import { Sequential } from '../nn/sequential.js';
import { describeModel } from '../nn/spec.js';
import { readModel, saveModel } from '../io/model-file.js';
import { writeFileAtomic } from '../io/atomic.js';
import { validateKd } from '../distill/objectives.js';
import { PRUNE_CRITERIA, PruneSchedule, STRUCTURED_ALLOCATIONS, allocatedPlan, checkSparsity, magnitudeMask, sliceModel, weightSparsity, type PruneCriterion, type StructuredAllocation } from '../compress/prune.js';
import { evaluate, type EvalResult, type Teacher, type TrainConfig } from '../train/trainer.js';
import { inferenceMs } from '../compress/quantize.js';
import { commandLine, compareReportHtml } from './report.js';
import { COMMON, DATA, KD, TRAIN, VAL_FRACTION, num, trainConfig, type OptionDoc } from './options.js';
import { capBatch, data, helpOr, holdOut, outDir, pickRuntime, runTraining, withSchedule } from './commands.js';
import { Progress } from './progress.js';

const pickDocs = (docs: OptionDoc[], flags: string[], defaults: Record<string, string> = {}) =>
  flags.map((f) => {
    const d = docs.find((x) => x.flag === f);
    if (!d) throw new Error(`prune options: no flag '${f}'`);
    return f in defaults ? { ...d, default: defaults[f] } : d;
  });

export const PRUNE_DOCS: OptionDoc[] = [
  { flag: 'sparsity', type: 'string', help: "the fraction removed, in [0, 1). Structured with --allocation uniform: of the neurons/channels of each prunable layer (round(sparsity·width) each). Structured with --allocation global: of the model's parameters (all of them, classifier included: at least round(sparsity·parameters) go, over by less than one channel's worth). Unstructured: of the entries of each dense/conv weight tensor. The classifier layer is never pruned", default: '0.5' },
  { flag: 'structured', type: 'boolean', help: 'remove whole hidden neurons (dense) and output channels (conv) with everything downstream that reads them: a smaller file and less compute. Without it: unstructured magnitude masks, zeros kept through training, stored in a dense file' },
  { flag: 'allocation', type: 'string', help: "structured: 'uniform' (the same fraction of every prunable layer's channels) or 'global' (channels from any layer, the least important per parameter saved first, until --sparsity of the parameters is removed; importance is the --criterion score over its layer's mean; every layer keeps at least one channel)", default: 'uniform' },
  { flag: 'schedule', type: 'string', help: "'oneshot' (prune at once, then recover) or 'cubic' (sparsity s_f·(1−(1−t/T)³) over the first --prune-epochs; structured: channels are masked as they go and removed at the end of those epochs)", default: 'oneshot' },
  { flag: 'prune-epochs', type: 'string', help: 'cubic: the recovery epochs over which sparsity rises from 0 to --sparsity (default: half of --recover-epochs, at least 1)' },
  { flag: 'prune-every', type: 'string', help: 'cubic: optimizer steps between mask updates (default: 1/16 of the pruning steps)' },
  { flag: 'criterion', type: 'string', help: "structured: how channels are ranked, lowest removed: 'l1' or 'l2' norm of their weights (|gamma| when batch norm follows), or 'io' (l2 times the norm of the next layer's weights reading the channel)", default: 'io' },
  { flag: 'recover-epochs', type: 'string', help: 'epochs of KD training after pruning (0: prune only)', default: '10' },
  { flag: 'teacher', type: 'string', help: 'teacher model file for the recovery KD (default: the unpruned MODEL itself)' },
  { flag: 'no-kd', type: 'boolean', help: 'recover on the hard labels alone (cross-entropy), without a teacher' },
  { ...VAL_FRACTION, help: `${VAL_FRACTION.help}. In distill prune the recovery (after the gradual pruning epochs with --schedule cubic) is what selects; the pruning itself uses the rest of the training data` },
  ...pickDocs(KD, ['temperature', 'alpha', 'no-t2', 'teacher-mode']),
  ...DATA,
  ...pickDocs(TRAIN, ['batch', 'optimizer', 'lr', 'momentum', 'nesterov', 'weight-decay', 'schedule', 'warmup', 'step-size', 'gamma', 'seed', 'out', 'resume', 'force-resume', 'checkpoint-every'], { lr: '0.03' }).map((d) => (d.flag === 'schedule' ? { ...d, flag: 'lr-schedule' } : d)),
  ...COMMON,
];

/** One row of the before/after summary. */
interface Row { stage: string; accuracy: number; errors: number; parameters: number; bytes: number | null; layers: string; weightSparsity: number }

function copyModel(m: Sequential, be: Backend): Sequential {
  const c = new Sequential(be, m.config, 0);
  c.store.params.set(m.store.params);
  c.buffers.data.set(m.buffers.data.subarray(0, c.buffers.data.length));
  return c;
}

export async function prune(argv: string[]): Promise<void> {
  const file = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : null;
  const needModel = () => new ConfigError('distill prune needs MODEL first: distill prune runs/student/model.safetensors --sparsity 0.5 --out runs/pruned (see --help)');
  let v;
  try {
    v = helpOr(file ? argv.slice(1) : argv, 'distill prune MODEL [--sparsity 0.5] [--structured] [--schedule oneshot|cubic] [--recover-epochs E] [--teacher T] [--data D] [--out DIR]',
      'Prunes a saved model and recovers its accuracy by knowledge distillation from the unpruned model (or --teacher). --structured removes whole neurons/channels: the model file and the compute shrink (e.g. dense:64 → dense:32, conv:16x3 → conv:8x3). Without it, the smallest-magnitude weights of each weight tensor are set to 0 and kept at 0 through recovery (the file stays dense: the zeros are stored). Writes OUT/model.safetensors, OUT/metrics.jsonl, OUT/checkpoint.safetensors, OUT/prune.json (accuracy, parameters, file bytes and speed before and after) and OUT/report.html (the same as bar charts).',
      PRUNE_DOCS, ['distill prune runs/student/model.safetensors --sparsity 0.5 --structured --recover-epochs 5 --out runs/pruned', 'distill prune runs/cnn/model.safetensors --data fashion-mnist --sparsity 0.8 --schedule cubic --prune-epochs 4 --recover-epochs 8 --teacher runs/big/model.safetensors --out runs/cnn-sparse', 'distill prune runs/cnn/model.safetensors --data fashion-mnist --structured --allocation global --sparsity 0.5 --recover-epochs 8 --lr 0.02 --val-fraction 0.1 --teacher runs/big/model.safetensors --out runs/cnn-half   # half the parameters']);
  } catch (e) {
    // A model file given after the options: parseArgs calls it an unexpected argument.
    if (!file && /Unexpected argument/.test((e as Error).message)) throw needModel();
    throw e;
  }
  if (!v) return;
  if (!file) throw needModel();
  if (!existsSync(file)) throw new InputFileError(file, 'model file not found');
  const sparsity = num(v, 'sparsity', { required: true });
  try {
    checkSparsity(sparsity, '--sparsity');
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}`);
  }
  const structured = v.structured === true;
  const schedule = v.schedule;
  if (schedule !== 'oneshot' && schedule !== 'cubic') throw new ConfigError(`--schedule: expected oneshot or cubic, got ${JSON.stringify(schedule)}`);
  const allocation = v.allocation as StructuredAllocation;
  if (!STRUCTURED_ALLOCATIONS.includes(allocation)) throw new ConfigError(`--allocation: expected ${STRUCTURED_ALLOCATIONS.join(' or ')}, got ${JSON.stringify(v.allocation)}`);
  if (allocation !== 'uniform' && !structured) throw new ConfigError('--allocation needs --structured (unstructured pruning masks each weight tensor at --sparsity)');
  const valFraction = num(v, 'val-fraction', { min: 0, max: 0.5 });
  const criterion = v.criterion as PruneCriterion;
  if (!PRUNE_CRITERIA.includes(criterion)) throw new ConfigError(`--criterion: expected ${PRUNE_CRITERIA.join(', ')}, got ${JSON.stringify(v.criterion)}`);
  const E = num(v, 'recover-epochs', { int: true, min: 0 });
  if (schedule === 'cubic' && E === 0) throw new ConfigError('--schedule cubic prunes during recovery: give --recover-epochs of at least 1');
  const P = schedule !== 'cubic' ? 0 : v['prune-epochs'] === undefined ? Math.max(1, Math.ceil(E / 2)) : num(v, 'prune-epochs', { int: true, min: 1, max: E });
  const every = v['prune-every'] === undefined ? undefined : num(v, 'prune-every', { int: true, min: 1 });
  const noKd = v['no-kd'] === true;
  const teacherFile = typeof v.teacher === 'string' ? v.teacher : null;
  if (teacherFile && !existsSync(teacherFile)) throw new InputFileError(teacherFile, 'teacher model file not found');
  if (noKd && typeof v.teacher === 'string') throw new ConfigError('give --teacher or --no-kd, not both');
  const kd = validateKd({ T: num(v, 'temperature', { min: 1e-6 }), alpha: num(v, 'alpha', { min: 0, max: 1 }), scaleT2: v['no-t2'] !== true }, 'options');
  const mode = v['teacher-mode'];
  if (mode !== 'cached' && mode !== 'online') throw new ConfigError(`--teacher-mode: expected cached or online, got ${JSON.stringify(mode)}`);
  const cfg0 = trainConfig({ ...v, epochs: String(Math.max(1, E)), schedule: v['lr-schedule'] }, { epochs: Math.max(1, E) });

  const progress = new Progress('prune', process.stderr, v.quiet === true);
  const js = await loadBackend('js');
  const { model: orig, info } = await readModel(file, js);
  // Structured plans are checked (zero width) before anything is loaded or written.
  if (structured) allocatedPlan(orig, sparsity, criterion, allocation);
  const dir = outDir(v, 'runs/pruned', progress);
  const d0 = await data(v, progress);
  // --val-fraction: training (pruning and recovery) on the rest; the recovery keeps its best point on the held-out share.
  const { train: trainSet, selectBy } = holdOut(d0.train, valFraction, num(v, 'seed', { int: true }), progress);
  const d = { train: trainSet, test: d0.test };
  if (orig.inputs !== d.train.features) throw new ShapeError(`${file}: the model takes ${orig.inputs} inputs, but '${d.train.name}' has ${d.train.features} features per sample (give the --data it was trained on)`);
  const teacher0 = teacherFile ? (await readModel(teacherFile, js)).model : null;

  const rows: Row[] = [];
  const row = (stage: string, m: Sequential, ev: EvalResult, bytes: number | null) => {
    const r = { stage, accuracy: ev.accuracy, errors: ev.errors, parameters: m.parameterCount, bytes, layers: describeModel(m.config), weightSparsity: weightSparsity(m).sparsity };
    rows.push(r);
    progress.line(`prune: ${stage}: test accuracy ${(r.accuracy * 100).toFixed(2)}% (${r.errors} errors), ${r.parameters.toLocaleString('en-US')} parameters, weights ${(r.weightSparsity * 100).toFixed(1)}% zero, layers ${r.layers}`);
  };
  row('before', orig, evaluate(orig, d.test), statSync(file).size);

  capBatch(cfg0, d.train.n, progress);
  const { be, workers } = E > 0 ? await pickRuntime(v, progress, { teachers: [], student: orig.config, N: cfg0.batchSize, kd, optimizer: cfg0.optimizer }, dir) : { be: js, workers: 1 };
  const batches = Math.ceil(d.train.n / Math.min(cfg0.batchSize, d.train.n));
  const teacherModel = noKd ? null : copyModel(teacher0 ?? orig, be);
  if (teacherModel && (teacherModel.inputs !== orig.inputs || teacherModel.classes !== orig.classes)) throw new ShapeError(`teacher ${teacherFile}: ${teacherModel.inputs} inputs and ${teacherModel.classes} classes, the model ${orig.inputs} and ${orig.classes}: they must match`);
  const teachers: Teacher[] = teacherModel ? [{ model: teacherModel, weight: 1 }] : [];
  const phase = (epochs: number, name: string, extra: Partial<TrainConfig> = {}): TrainConfig => withSchedule({
    ...cfg0, schedule: { ...cfg0.schedule }, epochs, workers, ...(teacherModel ? { kd, teacherMode: mode } : {}),
    checkpointPath: join(dir, `${name}.safetensors`), metricsPath: join(dir, name === 'checkpoint' ? 'metrics.jsonl' : `metrics-${name.replace('checkpoint-', '')}.jsonl`), ...extra,
  }, d.train.n);
  progress.line(`prune: ${structured ? `structured (${allocation} allocation)` : 'unstructured'}, sparsity ${sparsity}, ${schedule}${schedule === 'cubic' ? ` over ${P} epoch(s)` : ''}; recovery ${E} epoch(s) ${teacherModel ? `of KD from ${teacherFile ?? 'the unpruned model'} (T=${kd.T}, alpha=${kd.alpha})` : 'on the labels alone'}`);

  /** The recovery run; true when it stopped early (interrupted). Says which point selection kept. */
  const recover = async (m: Sequential, c: TrainConfig): Promise<boolean> => {
    const res = await runTraining('recover', m, d, c, progress, teachers);
    if (res.selected) progress.line(`prune: recovery kept the ${res.selected.epoch === 0 ? 'start point' : `model after epoch ${res.selected.epoch}`} (validation accuracy ${(res.selected.accuracy * 100).toFixed(2)}% on ${selectBy!.n} held-out training rows)`);
    return res.stopped;
  };
  let model = copyModel(orig, be);
  const prunedTag = structured ? 'pruned (channels removed)' : 'pruned (masked)';
  if (structured && schedule === 'oneshot') {
    const small = sliceModel(model, allocatedPlan(model, sparsity, criterion, allocation));
    model.release();
    model = small;
    row(prunedTag, model, evaluate(model, d.test), null);
    if (E > 0 && (await recover(model, phase(E, 'checkpoint', { selectBy })))) return;
  } else if (structured) {
    const sched = new PruneSchedule({ sparsity, structured: true, schedule: 'cubic', pruneSteps: P * batches, every, criterion, allocation });
    if ((await runTraining('prune', model, d, phase(P, 'checkpoint-prune', { prune: sched }), progress, teachers)).stopped) return;
    const small = sliceModel(model, sched.finalPlan());
    model.release();
    model = small;
    row(`${prunedTag} after ${P} epoch(s) of gradual pruning`, model, evaluate(model, d.test), null);
    if (E > P && (await recover(model, phase(E - P, 'checkpoint', { selectBy })))) return;
  } else {
    if (schedule === 'oneshot') {
      const probe = copyModel(model, js);
      magnitudeMask(probe, sparsity).apply(probe.store.params);
      row(prunedTag, probe, evaluate(probe, d.test), null);
      probe.release();
    }
    if (E > 0) {
      const sched = new PruneSchedule({ sparsity, structured: false, schedule, pruneSteps: schedule === 'cubic' ? P * batches : undefined, every, criterion });
      if (await recover(model, phase(E, 'checkpoint', { prune: sched, selectBy }))) return;
    } else magnitudeMask(model, sparsity).apply(model.store.params);
  }
  const out = join(dir, 'model.safetensors');
  const settings = { sparsity, structured, ...(structured ? { allocation } : {}), schedule, pruneEpochs: P, recoverEpochs: E, criterion: structured ? criterion : 'magnitude', teacher: teacherModel ? teacherFile ?? file : null, valFraction };
  await saveModel(out, model, { role: 'pruned', pruned_from: file, pruning: JSON.stringify(settings) }, info);
  row(E > 0 ? 'after recovery' : 'after pruning', model, evaluate(model, d.test), statSync(out).size);
  const first = rows[0], last = rows[rows.length - 1];
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  // Speed before and after, eval-mode forward on the run's backend (the model before, copied there).
  const before = copyModel(orig, be);
  const speed = { before: { ms128: inferenceMs(before, 128), ms1: inferenceMs(before, 1, 50) }, after: { ms128: inferenceMs(model, 128), ms1: inferenceMs(model, 1, 50) } };
  before.release();
  const report = join(dir, 'report.html');
  await writeFileAtomic(report, compareReportHtml({
    h1: `distill prune: ${structured ? 'structured' : 'unstructured'}, sparsity ${sparsity}`, title: 'distill prune — before vs after',
    sub: `${new Date().toISOString()} · ${file} → ${out} · ${E} recovery epoch(s) · timed on ${be.name}`,
    headline: `after: ${(last.parameters / first.parameters).toFixed(3)}× the parameters, ${(last.bytes! / first.bytes!).toFixed(3)}× the file, ${(speed.before.ms128 / speed.after.ms128).toFixed(2)}× as fast at batch 128; test accuracy ${pct(first.accuracy)} → ${pct(last.accuracy)} (${last.accuracy >= first.accuracy ? '+' : ''}${((last.accuracy - first.accuracy) * 100).toFixed(2)} pt).`,
    split: 'test',
    rows: [{ name: 'before', accuracy: first.accuracy, bytes: first.bytes!, parameters: first.parameters, layers: first.layers, ...speed.before }, { name: 'after', accuracy: last.accuracy, bytes: last.bytes!, parameters: last.parameters, layers: last.layers, ...speed.after }],
    note: structured ? 'Structured pruning removes whole neurons/channels: the model and its compute shrink. Times are medians of single eval-mode forward passes on one backend.' : 'Unstructured pruning zeroes weights inside dense tensors: the file and the compute stay the same size (the zeros are stored and multiplied). Times are medians of single eval-mode forward passes on one backend.',
    command: commandLine('prune', argv),
  }));
  await writeFileAtomic(join(dir, 'prune.json'), JSON.stringify({ model: file, out, settings, rows, speed: { backend: be.name, ...speed } }, null, 2) + '\n');
  console.log(['stage', 'accuracy', 'parameters', 'bytes', 'weights zero', 'layers'].join('\t'));
  for (const r of rows) console.log([r.stage, pct(r.accuracy), r.parameters, r.bytes ?? '-', pct(r.weightSparsity), r.layers].join('\t'));
  console.log(`prune: accuracy ${pct(first.accuracy)} → ${pct(last.accuracy)} (${last.accuracy >= first.accuracy ? '+' : ''}${((last.accuracy - first.accuracy) * 100).toFixed(2)} pt), parameters ${first.parameters} → ${last.parameters}, file ${first.bytes} → ${last.bytes} bytes${structured ? '' : ` (dense file: the ${pct(last.weightSparsity)} zero weights are stored)`}; saved ${out}`);
  console.log(`prune: speed on ${be.name}: batch of 128 ${speed.before.ms128.toFixed(3)} → ${speed.after.ms128.toFixed(3)} ms (${(speed.before.ms128 / speed.after.ms128).toFixed(2)}× as fast); batch of 1 ${speed.before.ms1.toFixed(4)} → ${speed.after.ms1.toFixed(4)} ms; report ${report}`);
  orig.release();
  teacher0?.release();
  teacherModel?.release();
  model.release();
}
