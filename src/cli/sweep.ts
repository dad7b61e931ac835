// `distill sweep`: trains many candidate students from one cached set of teacher logits under a
// wall-clock budget (successive halving), measures each one's validation accuracy, size and
// latency on the deploy backend, and answers with the Pareto front, a pick and the command that
// retrains the pick on all the data. The logic is in src/sweep/; this file wires it to flags,
// files and the terminal.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { defaultBackend, loadBackend, type Backend } from '../backends/index.js';
import { ConfigError, InputFileError, Interrupted, NumericalError } from '../errors.js';
import { subset, validationSplit, type Dataset } from '../data/dataset.js';

export { validationSplit };
import { evaluate, forEachEvalBatch } from '../train/trainer.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readAnyModel } from '../io/model-file.js';
import { loadTeacherLogits, saveTeacherLogits } from '../io/logits-file.js';
import { validateKd } from '../distill/objectives.js';
import { AXES, DEFAULT_SPACE, archKey, candidateHash, candidateKey, candidateMacs, convOf, hiddenOf, parseAxis, parseSpaceText, prunedCandidate, sampleCandidates, type Axis, type Candidate, type DataDims, type SearchSpace } from '../sweep/space.js';
import { PROMOTE_MODES, resultKey, rungEpochs, successiveHalving, type Job, type JobResult, type Promote } from '../sweep/halving.js';
import { DEFAULT_PICK, learntFront, parsePickRule, pick, type Point } from '../sweep/pareto.js';
import { appendJournal, readJournal, readSweepState, type MeasuredPoint, type SweepLine, type SweepState } from '../sweep/journal.js';
import { SWEEP_PRUNE_CRITERION, candidateLatency, candidateModel, trainCandidate, type CandidateJob, type SweepTraining } from '../sweep/candidate.js';
import { checkSparsity } from '../compress/prune.js';
import { chooseParallelism, SweepPool, type ParallelChoice } from '../sweep/parallel.js';
import { COMMON, DATA, num, type OptionDoc } from './options.js';
import type { ModelConfig } from '../nn/spec.js';
import { data, helpOr, outDir, pickRuntime } from './commands.js';
import { Progress } from './progress.js';
import { commandLine } from './report.js';
import { sweepReportHtml, type SweepRow } from './sweep-report.js';
import { fmtBytes } from './svg.js';

export const SWEEP_DOCS: OptionDoc[] = [
  { flag: 'teacher', type: 'string', help: 'the teacher model file (from distill teach); its logits over the training split are computed once and cached in OUT/teacher-logits.safetensors' },
  { flag: 'teacher-logits', type: 'string', help: 'instead of --teacher: a logits file from distill logits for the whole training set' },
  { flag: 'out', type: 'string', help: 'sweep folder: sweep.jsonl (one line per finished candidate and rung), candidates/, best.safetensors, best.txt, sweep.json, sweep.html', default: 'runs/sweep' },
  { flag: 'space', type: 'string', help: 'search space file, JSON or YAML, keys conv, widths, depths, activations, T, alpha (each a list); flags override its keys' },
  { flag: 'conv', type: 'string', help: "conv stems to try, for image data: each the output channels of its blocks (k=3 conv, relu, maxpool:2) joined by '-', then flatten and the dense head of --widths × --depths; 'none': no conv (an MLP), e.g. none,8-16,16-32 (default: none)" },
  { flag: 'widths', type: 'string', help: `hidden-layer widths to try (default: ${DEFAULT_SPACE.widths.join(',')})` },
  { flag: 'depths', type: 'string', help: `numbers of hidden layers to try (0: a linear model) (default: ${DEFAULT_SPACE.depths.join(',')})` },
  { flag: 'activations', type: 'string', help: `activations to try: relu, gelu (default: ${DEFAULT_SPACE.activations.join(',')})` },
  { flag: 'T', type: 'string', help: `KD temperatures to try (default: ${DEFAULT_SPACE.T.join(',')})` },
  { flag: 'alpha', type: 'string', help: `KD weights alpha to try (default: ${DEFAULT_SPACE.alpha.join(',')})` },
  { flag: 'sample', type: 'string', help: "'grid': every combination (run in a seeded random order, so a budget that ends early skips a spread of them); 'random': --max-candidates of them drawn at random", default: 'grid' },
  { flag: 'max-candidates', type: 'string', help: 'try at most N candidates (with --sample random: default 16)' },
  { flag: 'budget-minutes', type: 'string', help: 'wall-clock budget of the sweep, counted over all its runs (OUT/sweep.state.json): candidates and rungs that would not fit are skipped and listed; rerunning a sweep that ended within its budget redoes nothing, a stopped one (Ctrl-C) goes on with what is left, and a larger budget trains on (default: none, every rung runs)' },
  { flag: 'min-epochs', type: 'string', help: 'epochs of the first rung (every candidate)', default: '1' },
  { flag: 'max-epochs', type: 'string', help: 'epochs of the last rung', default: '9' },
  { flag: 'eta', type: 'string', help: 'successive halving: each rung keeps the best 1/eta and trains them eta× the epochs', default: '3' },
  { flag: 'promote', type: 'string', help: "what 'best' means when a rung promotes: 'pareto' (by Pareto rank: non-dominated sorting on validation accuracy up, latency at batch 1 and 128 and size down, then spread along each front in accuracy: the most accurate, the least, the middle, ...; so the small fast candidates of the front train as long as the accurate ones; with --int8 or --sparsity a candidate ranks by the best of its float, int8 and pruned points) or 'accuracy' (validation accuracy alone)", default: 'pareto' },
  { flag: 'val-fraction', type: 'string', help: 'share of the training data held out (seeded) to select on; the test set is never used for selection', default: '0.1' },
  { flag: 'deploy-backend', type: 'string', help: 'backend the latency is measured on (native, wasm-simd, wasm-relaxed, wasm, js, ...) (default: native if it loads, else the first that does)' },
  { flag: 'pick', type: 'string', help: 'rule choosing the answer among the Pareto front: OBJECTIVE [under LIMIT | over ACC%] [and ...]; OBJECTIVE max-accuracy, min-latency@1, min-latency@128, min-size, min-params; LIMIT 1ms@1, 250us@1, 20ms@128, 50KB, 2MB, 20kparams', default: DEFAULT_PICK },
  { flag: 'int8', type: 'boolean', help: 'also quantize every trained candidate to int8 (post-training, as distill quantize does by default: min/max ranges on 1,000 training rows) and measure it as a point of its own (accuracy, file, latency on the int8 kernels)' },
  { flag: 'sparsity', type: 'string', help: "structured-pruning sparsities, e.g. 0.5,0.75: every trained candidate is also pruned (as distill prune --structured --criterion io: that share of the neurons of each hidden dense layer and of the channels of each conv removed, the classifier kept), recovered by KD from the same teacher logits for --recover-epochs, and measured as a point of its own (accuracy, file, latency of the smaller architecture) (default: none)" },
  { flag: 'recover-epochs', type: 'string', help: 'with --sparsity: epochs of KD recovery after pruning', default: '1' },
  { flag: 'no-train', type: 'boolean', help: 'train nothing: make the front, the pick and the files from the finished rungs in sweep.jsonl alone (e.g. another --pick, or the answer of a stopped sweep without going on with it)' },
  { flag: 'parallel', type: 'string', help: "'auto': measure several candidates at once (one thread each) against one at a time (all workers) and use the faster; 'on' or 'off' to choose", default: 'auto' },
  { flag: 'batch', type: 'string', help: 'batch size', default: '128' },
  { flag: 'optimizer', type: 'string', help: 'sgd or adamw', default: 'sgd' },
  { flag: 'lr', type: 'string', help: 'peak learning rate (cosine decay over each rung)', default: '0.05' },
  { flag: 'warmup-epochs', type: 'string', help: 'linear lr warm-up at the start of each rung, in epochs (keeps high alpha·T settings from diverging at the peak lr)', default: '0.5' },
  { flag: 'momentum', type: 'string', help: 'SGD momentum', default: '0.9' },
  { flag: 'weight-decay', type: 'string', help: 'weight decay', default: '0' },
  { flag: 'seed', type: 'string', help: 'seed of the validation split, the candidate order and the training', default: '1' },
  ...DATA, ...COMMON,
];

const EXAMPLES = [
  'distill sweep --teacher runs/teacher/model.safetensors --out runs/sweep --budget-minutes 4',
  'distill sweep --teacher runs/teacher/model.safetensors --widths 16,32,64,128 --depths 1,2 --activations relu,gelu --T 2,4,8 --alpha 0.5,0.9 --budget-minutes 30 --out runs/sweep-big',
  'distill sweep --teacher runs/teacher/model.safetensors --conv none,8-16,16-32 --widths 32,64,128 --depths 0,1 --sparsity 0.5 --recover-epochs 1 --budget-minutes 4 --out runs/sweep-cnn',
  'distill sweep --teacher runs/fm-cnn/model.safetensors --data fashion-mnist --conv none,4-8,8-16,16-32 --widths 32,64,128,256 --int8 --sparsity 0.5 --max-epochs 27 --budget-minutes 30 --pick "max-accuracy under 50KB" --out runs/fm-small   # float, int8, pruned and pruned int8 points',
  'distill sweep --teacher runs/fm/model.safetensors --data fashion-mnist --space space.yaml --pick "max-accuracy under 0.05ms@1" --deploy-backend wasm-simd --out runs/fm-sweep',
  'distill sweep --teacher runs/teacher/model.safetensors --out runs/sweep --pick "min-latency@128 over 97%" --no-train   # re-picks from sweep.jsonl; trains nothing',
];

/** An axis's values as written on the command line (conv stems as 8-16, none for no stem). */
const axisText = (s: SearchSpace, a: Axis, sep: string) => (a === 'conv' ? s.conv.map((c) => (c.length ? c.join('-') : 'none')).join(sep) : (s[a] as unknown[]).join(sep));

/** The search space: defaults, then the --space file's keys, then the flags. */
export function spaceFrom(v: Record<string, string | boolean | undefined>): SearchSpace {
  const s: SearchSpace = { ...DEFAULT_SPACE };
  const set = (axis: Axis, raw: unknown, where: string) => { (s as unknown as Record<Axis, unknown>)[axis] = parseAxis(axis, raw, where); };
  if (typeof v.space === 'string') {
    let text: string;
    try {
      text = readFileSync(v.space, 'utf8');
    } catch (e) {
      throw new InputFileError(v.space, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
    }
    for (const [k, raw] of Object.entries(parseSpaceText(text, v.space))) set(k as Axis, raw, `${v.space}: '${k}'`);
  }
  for (const axis of AXES) if (typeof v[axis] === 'string') set(axis, v[axis], `--${axis}`);
  return s;
}

/** A shell word: quoted when it holds anything but plain path and flag characters. */
const q = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** The data flags of the sweep's command, for the commands it prints (defaults left out). */
function dataArgs(v: Record<string, string | boolean | undefined>): string[] {
  const args: string[] = [];
  for (const f of ['data', 'test', 'test-fraction', 'label-column', 'delimiter']) if (typeof v[f] === 'string' && !(f === 'data' && v[f] === 'mnist') && !(f === 'test-fraction' && v[f] === '0.2') && !(f === 'delimiter' && v[f] === ',')) args.push(`--${f}`, v[f] as string);
  if (v['no-header'] === true) args.push('--no-header');
  return args;
}

/** The warm-up of `epochs` epochs in steps of the whole training set, as the sweep's was in epochs. */
function warmupSteps(v: Record<string, string | boolean | undefined>, epochs: number, trainN: number): number {
  const steps = Math.ceil(trainN / Math.min(Number(v.batch), trainN));
  return Math.min(Math.round(Number(v['warmup-epochs']) * steps), Math.floor((epochs * steps) / 2));
}

/**
 * The `distill prune` command that does to the retrained model (OUT/model.safetensors) what the
 * sweep did to the candidate: structured pruning at `sparsity`, then KD recovery. With --teacher,
 * from the same teacher; with --teacher-logits (distill prune takes no logits file), from the
 * unpruned model, distill prune's default.
 */
export function pruneCommand(c: Candidate, sparsity: number, recoverEpochs: number, v: Record<string, string | boolean | undefined>, out: string, trainN: number): string {
  const args = ['distill', 'prune', join(out, 'model.safetensors'), '--structured', '--sparsity', String(sparsity), '--criterion', SWEEP_PRUNE_CRITERION, '--recover-epochs', String(recoverEpochs)];
  if (typeof v.teacher === 'string') args.push('--teacher', v.teacher);
  args.push(...dataArgs(v), '--temperature', String(c.T), '--alpha', String(c.alpha), '--batch', String(v.batch), '--optimizer', String(v.optimizer), '--lr', String(v.lr), '--lr-schedule', 'cosine');
  if (v.optimizer === 'sgd') args.push('--momentum', String(v.momentum));
  if (Number(v['weight-decay']) !== 0) args.push('--weight-decay', String(v['weight-decay']));
  const warm = warmupSteps(v, recoverEpochs, trainN);
  if (warm > 0) args.push('--warmup', String(warm));
  args.push('--seed', String(v.seed), '--out', `${out}-pruned`);
  return args.map(q).join(' ');
}

/** The `distill student` command that trains `c` on all the training data, as the sweep did on its split. */
export function retrainCommand(c: Candidate, epochs: number, v: Record<string, string | boolean | undefined>, out: string, d: DataDims, trainN: number): string {
  const args = ['distill', 'student'];
  if (typeof v.teacher === 'string') args.push('--teacher', v.teacher);
  else args.push('--teacher-logits', String(v['teacher-logits']));
  args.push(...dataArgs(v));
  if (convOf(c).length) args.push('--arch', (candidateModel(c, d) as ModelConfig).layers.join(','));
  else if (c.depth === 0) args.push('--layers', `${d.inputs},${d.classes}`);
  else args.push('--hidden', hiddenOf(c).join(','), '--activation', c.activation);
  args.push('--temperature', String(c.T), '--alpha', String(c.alpha), '--epochs', String(epochs), '--batch', String(v.batch), '--optimizer', String(v.optimizer), '--lr', String(v.lr));
  if (v.optimizer === 'sgd') args.push('--momentum', String(v.momentum));
  if (Number(v['weight-decay']) !== 0) args.push('--weight-decay', String(v['weight-decay']));
  const warm = warmupSteps(v, epochs, trainN);
  if (warm > 0) args.push('--warmup', String(warm));
  args.push('--seed', String(v.seed), '--out', out);
  return args.map(q).join(' ');
}

/** A measured point in a progress line: accuracy, file, latency at batch 1 and 128. */
const pointText = (m: Pick<MeasuredPoint, 'val_accuracy' | 'bytes' | 'ms1' | 'ms128'>) => `${(m.val_accuracy * 100).toFixed(2)}%, ${fmtBytes(m.bytes)}, ${m.ms1.toFixed(4)} ms@1, ${m.ms128.toFixed(3)} ms@128`;

export async function sweep(argv: string[]): Promise<void> {
  const v = helpOr(argv, 'distill sweep (--teacher FILE | --teacher-logits FILE) [--data mnist] [space flags] [--budget-minutes M] [--out DIR]',
    'Trains candidate students (conv stems × hidden widths × depths × activations × T × alpha) by KD from one cached set of teacher logits, with successive halving under a wall-clock budget: every candidate trains --min-epochs, the best 1/eta (by Pareto rank, or by accuracy with --promote accuracy) train on (eta× the epochs) up to --max-epochs. With --int8 and --sparsity, each trained candidate\'s int8 and structured-pruned forms are points of their own (with both, each pruned form\'s int8 form too). Measures each one\'s validation accuracy (a seeded split of the training data; never the test set), parameters, file size, latency at batch 1 and 128 on --deploy-backend, and training time. Every finished candidate and rung is one line of OUT/sweep.jsonl: rerunning the same command skips them and continues; Ctrl-C keeps them. Prints the Pareto table; writes OUT/sweep.html (the front as scatter plots), OUT/best.safetensors (the --pick), OUT/best.txt (the command that retrains it on all data) and OUT/sweep.json.',
    SWEEP_DOCS, EXAMPLES);
  if (!v) return;
  const started = performance.now();
  const progress = new Progress('sweep', process.stderr, v.quiet === true);
  // Everything that can be checked before anything is loaded or written.
  const fromLogits = typeof v['teacher-logits'] === 'string' ? v['teacher-logits'] : null;
  if (typeof v.teacher !== 'string' && !fromLogits) throw new ConfigError('--teacher (a model file from distill teach) or --teacher-logits (a file from distill logits) is required');
  if (typeof v.teacher === 'string' && fromLogits) throw new ConfigError('give --teacher or --teacher-logits, not both');
  const teacherFile = fromLogits ?? (v.teacher as string);
  if (!existsSync(teacherFile)) throw new InputFileError(teacherFile, 'file not found');
  const space = spaceFrom(v);
  const sample = v.sample;
  if (sample !== 'grid' && sample !== 'random') throw new ConfigError(`--sample: expected grid or random, got ${JSON.stringify(sample)}`);
  const maxCandidates = v['max-candidates'] === undefined ? (sample === 'random' ? 16 : undefined) : num(v, 'max-candidates', { int: true, min: 1 });
  const budgetMin = v['budget-minutes'] === undefined ? null : num(v, 'budget-minutes', { min: 0.05 });
  const minEpochs = num(v, 'min-epochs', { int: true, min: 1 }), maxEpochs = num(v, 'max-epochs', { int: true, min: 1 });
  if (maxEpochs < minEpochs) throw new ConfigError(`--max-epochs ${maxEpochs} is below --min-epochs ${minEpochs}`);
  const eta = num(v, 'eta', { int: true, min: 2 });
  const promote = v.promote as Promote;
  if (!PROMOTE_MODES.includes(promote)) throw new ConfigError(`--promote: expected ${PROMOTE_MODES.join(' or ')}, got ${JSON.stringify(v.promote)}`);
  const valFraction = num(v, 'val-fraction', { min: 1e-6, max: 0.5 });
  const rule = parsePickRule(String(v.pick));
  const par = v.parallel;
  if (par !== 'auto' && par !== 'on' && par !== 'off') throw new ConfigError(`--parallel: expected auto, on or off, got ${JSON.stringify(par)}`);
  const kind = v.optimizer;
  if (kind !== 'sgd' && kind !== 'adamw') throw new ConfigError(`--optimizer: expected sgd or adamw, got ${JSON.stringify(kind)}`);
  const training: SweepTraining = {
    batchSize: num(v, 'batch', { int: true, min: 1 }), seed: num(v, 'seed', { int: true }), warmupEpochs: num(v, 'warmup-epochs', { min: 0, max: 1000 }),
    optimizer: { kind, lr: num(v, 'lr', { min: 1e-12 }), momentum: num(v, 'momentum', { min: 0, max: 0.999999 }), weightDecay: num(v, 'weight-decay', { min: 0 }) },
  };
  const workersFlag = v.workers === undefined ? undefined : num(v, 'workers', { int: true, min: 1, max: availableParallelism() });
  const rungs = rungEpochs(minEpochs, maxEpochs, eta);
  const int8 = v.int8 === true;
  const sparsities = typeof v.sparsity === 'string' ? [...new Set(v.sparsity.split(',').map((x) => {
    const t = x.trim(), n = Number(t);
    if (t === '' || !Number.isFinite(n) || n <= 0) throw new ConfigError(`--sparsity: '${x}' is not a sparsity in (0, 1) (e.g. --sparsity 0.5,0.75)`);
    return checkSparsity(n, '--sparsity');
  }))].sort((a, b) => a - b) : [];
  const recoverEpochs = num(v, 'recover-epochs', { int: true, min: 0 });
  const candidates = sampleCandidates(space, { seed: training.seed, max: maxCandidates });
  const deployName = typeof v['deploy-backend'] === 'string' ? v['deploy-backend'] : null;
  const deploy: Backend = deployName ? await loadBackend(deployName) : await loadBackend('native').catch(() => defaultBackend());

  const d = await data(v, progress);
  const split = validationSplit(d.train.n, valFraction, training.seed);
  const trainSet = subset(d.train, split.train, `${d.train.name}[sweep-train]`), valSet = subset(d.train, split.val, `${d.train.name}[validation]`);
  const K = Math.max(d.train.classes, 2), F = d.train.features;
  // The accuracy of always answering the validation split's most frequent class: a result at or below it learnt nothing.
  const chanceLevel = learntFront([], valSet.y).chance;
  const dims: DataDims = { inputs: F, classes: K, shape: d.train.shape };
  // Every conv stem against the data's image shape, before anything is computed (a clear error naming the stem).
  for (const conv of space.conv) if (conv.length) candidateModel({ conv, width: 1, depth: 0, activation: 'relu', T: 1, alpha: 0 }, dims);
  const dir = outDir(v, 'runs/sweep', progress);
  progress.line(`sweep: ${trainSet.n} training / ${valSet.n} validation samples (seeded split of the training set; the ${d.test.n} test samples are not used to select)`);

  // Teacher logits on the sweep's training split: computed once, cached in DIR.
  const logits = await teacherLogits(teacherFile, !!fromLogits, d.train, trainSet, split.train, K, dir, progress);
  const settings = {
    data: [d.train.name, d.train.n, F, K], val: [valFraction, valSet.n], seed: training.seed, batch: training.batchSize, optimizer: training.optimizer, rungs, warmup: training.warmupEpochs,
    ...(int8 ? { int8: true } : {}),
    ...(sparsities.length ? { sparsity: sparsities, recover: recoverEpochs, criterion: SWEEP_PRUNE_CRITERION } : {}),
    teacher: createHash('sha256').update(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength)).digest('hex').slice(0, 16),
  };
  const byId = new Map<string, Candidate>();
  for (const c of candidates) byId.set(candidateHash(c, settings), c);
  const ids = [...byId.keys()];
  progress.line(`sweep: ${ids.length} candidates (${sample}${maxCandidates !== undefined ? `, at most ${maxCandidates}` : ''}) of ${AXES.map((a) => `${a} ${axisText(space, a, ',')}`).join('; ')}; rungs of ${rungs.join(', ')} epochs (eta ${eta})${budgetMin !== null ? `; budget ${budgetMin} min` : ''}`);

  // Earlier results of this sweep (same candidates and settings).
  const journalFile = join(dir, 'sweep.jsonl');
  const lines = readJournal(journalFile);
  const mine = new Map<string, SweepLine>();
  for (const l of lines) if (byId.has(l.hash) && l.epochs === rungs[l.rung]) mine.set(resultKey(l.hash, l.rung), l);
  const cost = (l: Pick<SweepLine, 'ms1' | 'ms128' | 'params'>) => ({ ms1: l.ms1, ms128: l.ms128, size: l.params });
  const int8Cost = (f: MeasuredPoint, params: number) => cost({ ms1: f.ms1, ms128: f.ms128, params: params / 4 });
  // A finished rung as successive halving ranks it: its float point, and its int8 and pruned forms
  // as points of their own (size in float32-equivalent parameters: an int8 weight takes a quarter
  // of the bytes).
  const jobResult = (l: SweepLine): JobResult => ({
    score: l.failed ? 0 : l.val_accuracy, ms: l.train_seconds * 1000, extraMs: (l.extra_seconds ?? 0) * 1000, cost: cost(l),
    ...(l.failed ? { failed: true } : {}),
    forms: [
      ...(l.int8 ? [{ score: l.int8.val_accuracy, cost: int8Cost(l.int8, l.params) }] : []),
      ...(l.pruned ?? []).filter((q) => !q.failed).flatMap((q) => [
        { score: q.val_accuracy, cost: cost(q) },
        ...(q.int8 ? [{ score: q.int8.val_accuracy, cost: int8Cost(q.int8, q.params) }] : []),
      ]),
    ],
  });
  const done = new Map<string, JobResult>([...mine].map(([k, l]) => [k, jobResult(l)]));
  if (lines.length) progress.line(`sweep: ${mine.size} finished rung(s) in ${journalFile} are reused${lines.length > mine.size ? `; ${lines.length - mine.size} line(s) of other candidates or settings are kept but not used` : ''}`);

  // What is left to train (successive halving on the finished results alone).
  const dry = await successiveHalving({ ids, rungEpochs: rungs, eta, promote, floor: chanceLevel, budgetMs: null, concurrency: 1, now: () => 0, estimateMs: () => 0, done, run: async () => null });
  const needed = dry.abandoned;

  // The budget is the sweep's, over all its runs (DIR/sweep.state.json): a stopped run leaves the
  // rest to the next; a run that ended normally settles what its budget skipped, so rerunning the
  // same command redoes nothing and only a larger --budget-minutes trains on.
  const stateFile = join(dir, 'sweep.state.json');
  const stateKey = createHash('sha256').update(JSON.stringify({ ids: [...ids].sort(), rungs, eta, promote })).digest('hex').slice(0, 16);
  const prior = readSweepState(stateFile);
  const before = prior?.key === stateKey ? prior : null;
  const spentBefore = before?.spent_seconds ?? 0;
  const settled = needed > 0 && before?.complete === true && (budgetMin === null ? before.budget_seconds === null : before.budget_seconds !== null && budgetMin * 60 <= before.budget_seconds + 1e-6);
  const skipText = (sk: { id: string; rung: number; reason: string }) => `${byId.get(sk.id) ? candidateKey(byId.get(sk.id)!) : sk.id}, rung ${sk.rung} (${rungs[sk.rung]} epochs): ${sk.reason}`;
  const saveState = (complete: boolean, skippedJobs: string[]) => writeFileAtomic(stateFile, JSON.stringify({
    key: stateKey, budget_seconds: budgetMin === null ? null : budgetMin * 60, spent_seconds: +(spentBefore + (performance.now() - started) / 1000).toFixed(3), complete, skipped: skippedJobs.length, skipped_jobs: skippedJobs, date: new Date().toISOString(),
  } satisfies SweepState) + '\n');

  // Ctrl-C / SIGTERM: abandon the jobs in flight (nothing half-written reaches sweep.jsonl) and start none.
  const ac = new AbortController();
  let got: 'SIGINT' | 'SIGTERM' | null = null;
  const onSig = (sig: 'SIGINT' | 'SIGTERM') => {
    if (got) { progress.line(`sweep: second ${sig}; exiting now (sweep.jsonl holds every finished candidate)`); process.exit(sig === 'SIGINT' ? 130 : 143); }
    got = sig;
    progress.line(`sweep: ${sig === 'SIGINT' ? 'interrupt (Ctrl-C)' : 'SIGTERM'} received; abandoning the candidates in training, keeping the finished ones (again to exit at once)`);
    ac.abort();
  };
  const onInt = () => onSig('SIGINT'), onTerm = () => onSig('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);

  let choice: ParallelChoice | null = null;
  let pool: SweepPool | null = null;
  const latency = new Map<string, { ms1: number; ms128: number }>();
  const int8Key = (arch: string) => `${arch}:int8`;
  // A job's int8 form as its journal records it: the result, the file written, the int8 latency of the architecture.
  const int8Line = (res: { valAccuracy: number; valLoss: number }, out: string, arch: string): MeasuredPoint => {
    const l8 = latency.get(int8Key(arch))!;
    return { val_accuracy: res.valAccuracy, val_loss: res.valLoss, bytes: statSync(out).size, ms1: l8.ms1, ms128: l8.ms128, model: relative(dir, out) };
  };
  let result: Awaited<ReturnType<typeof successiveHalving>> = dry;
  const budgetEnd = budgetMin === null ? Infinity : started + budgetMin * 60_000 - spentBefore * 1000;
  let hardStop: NodeJS.Timeout | null = null;
  try {
    if (needed > 0 && v['no-train'] === true) progress.line(`sweep: --no-train: ${needed} job(s) of this sweep are not finished (skipped for a budget, or interrupted); the answer is made from the ${mine.size} finished rung(s) alone`);
    else if (settled) progress.line(`sweep: this sweep ended within its ${budgetMin !== null ? `${budgetMin}-min budget` : 'settings'} in an earlier run (${spentBefore.toFixed(0)} s over its runs; ${before!.skipped} job(s) skipped for the budget): nothing is redone. A larger --budget-minutes trains on with what the earlier runs left of it (the budget counts every run of this sweep)`);
    else if (needed > 0) {
      if (spentBefore > 0 && Number.isFinite(budgetEnd)) progress.line(`sweep: earlier runs of this sweep spent ${spentBefore.toFixed(0)} s of the ${(budgetMin! * 60).toFixed(0)} s budget; ${Math.max(0, (budgetEnd - performance.now()) / 1000).toFixed(0)} s are left for this run`);
      // The runtime: the trainer's measured choice for a middle-sized candidate, then one at a time against several at once.
      const sized = [...candidates].sort((a, b) => candidateMacs(a, dims) - candidateMacs(b, dims));
      const mid = sized[Math.floor(sized.length / 2)];
      const shapes = { teachers: [], student: candidateModel(mid, dims), N: Math.min(training.batchSize, trainSet.n), kd: validateKd({ T: mid.T, alpha: mid.alpha }), optimizer: training.optimizer };
      const rt = await pickRuntime({ ...v, workers: workersFlag === undefined ? undefined : String(workersFlag) }, progress, shapes);
      const cores = availableParallelism();
      const threads = Math.min(cores, ids.length);
      if (par !== 'off' && threads > 1 && workersFlag === undefined) pool = new SweepPool(threads, { train: trainSet, val: valSet, logits });
      choice = await chooseParallelism({ shapes, be: rt.be, workers: rt.workers, pool, candidates: ids.length, force: par === 'auto' ? undefined : par === 'on' ? 'parallel' : 'one-at-a-time' });
      progress.line(`sweep: ${choice.line}`);
      if (choice.mode === 'one-at-a-time' && pool) { await pool.close(); pool = null; }
      // Latency of each architecture still to train, on the deploy backend, with nothing else running.
      // Untrained weights: float32 dense and conv time does not depend on the values; a pruned form is its own (smaller) architecture.
      candidateLatency(deploy, candidates[0], dims); // a first, discarded measurement: the backend's code warmed up
      // Each architecture once, float32 and (--int8) int8.
      const measure = (c: Candidate) => {
        const a = archKey(c);
        if (!latency.has(a)) latency.set(a, candidateLatency(deploy, c, dims));
        if (int8 && !latency.has(int8Key(a))) latency.set(int8Key(a), candidateLatency(deploy, c, dims, { x: trainSet.x, n: trainSet.n }));
      };
      for (const c of candidates) {
        measure(c);
        for (const sp of sparsities) {
          const pc = prunedCandidate(c, sp);
          if (pc) measure(pc);
        }
      }
      progress.line(`sweep: latency of ${latency.size} architecture(s) measured on ${deploy.name}; training starts ${((performance.now() - started) / 1000).toFixed(1)} s after the start`);
      const trainBe = choice.mode === 'parallel' ? null : await loadBackend(choice.backend);
      const perSample = (c: Candidate) => (candidateMacs(c, dims) + 4 * F) / (candidateMacs(mid, dims) + 4 * F) / choice!.perJob; // s per sample
      // The pruned forms' recovery epochs, in epochs of the full candidate (a pruned model trains about (1 - s) as fast... or faster).
      const recoverShare = (c: Candidate) => sparsities.reduce((a, sp) => a + (prunedCandidate(c, sp) ? recoverEpochs * (candidateMacs(prunedCandidate(c, sp)!, dims) + 4 * F) / (candidateMacs(c, dims) + 4 * F) : 0), 0);
      mkdirSync(join(dir, 'candidates'), { recursive: true });
      const budgetLeft = budgetEnd - performance.now();
      if (budgetLeft < 0) progress.line('sweep: the budget was spent before training (data, teacher logits, measurements); nothing is trained');
      const jobAc = new AbortController();
      ac.signal.addEventListener('abort', () => jobAc.abort());
      if (Number.isFinite(budgetEnd)) {
        // A job that overruns its estimate is stopped at the budget's end (and listed as abandoned).
        hardStop = setTimeout(() => { progress.line('sweep: budget reached; abandoning the candidates still training'); jobAc.abort(); }, Math.max(0, budgetEnd - performance.now()));
      }
      let finishedNow = 0;
      result = await successiveHalving({
        ids, rungEpochs: rungs, eta, promote, floor: chanceLevel, concurrency: choice.concurrency, done,
        budgetMs: Number.isFinite(budgetEnd) ? Math.max(0, budgetLeft) : null,
        reserveMs: Number.isFinite(budgetEnd) ? Math.min(15_000, Math.max(2_000, 0.02 * budgetMin! * 60_000)) : 0,
        now: () => performance.now(),
        estimateMs: (id, epochs) => 1000 * ((epochs + recoverShare(byId.get(id)!)) * trainSet.n * perSample(byId.get(id)!) * 1.25 + 0.5),
        family: (id) => (convOf(byId.get(id)!).length ? 'conv' : 'mlp'),
        stopped: () => ac.signal.aborted,
        log: (m) => progress.line(`sweep: ${m}`),
        run: async (job: Job) => {
          const c = byId.get(job.id)!;
          const prev = job.rung ? mine.get(resultKey(job.id, job.rung - 1)) : undefined;
          const cj: CandidateJob = {
            candidate: c, epochs: job.epochs - job.fromEpochs, rung: job.rung, training,
            init: prev ? join(dir, prev.model) : undefined,
            out: join(dir, 'candidates', `${job.id}-e${job.epochs}.safetensors`),
            meta: { role: 'student', data: d.train.name, sweep: JSON.stringify({ ...c, epochs: job.epochs }), teachers: JSON.stringify([teacherFile]) },
            ...(int8 ? { int8: { out: join(dir, 'candidates', `${job.id}-e${job.epochs}.int8.safetensors`) } } : {}),
            ...(sparsities.length ? { recoverEpochs, pruned: sparsities.filter((sp) => prunedCandidate(c, sp)).map((sp) => ({ sparsity: sp, out: join(dir, 'candidates', `${job.id}-e${job.epochs}.s${sp}.safetensors`), ...(int8 ? { int8Out: join(dir, 'candidates', `${job.id}-e${job.epochs}.s${sp}.int8.safetensors`) } : {}) })) } : {}),
          };
          const r = trainBe ? await trainCandidate(trainBe, choice!.workers, cj, { train: trainSet, val: valSet, logits }, jobAc.signal) : await pool!.train(choice!.backend, cj, jobAc.signal);
          if (!r) return null;
          const lat = latency.get(archKey(c))!;
          const line: SweepLine = {
            hash: job.id, rung: job.rung, epochs: job.epochs, key: candidateKey(c), config: c,
            val_accuracy: r.valAccuracy, val_loss: r.valLoss, params: r.params, bytes: r.failed ? 0 : statSync(cj.out).size, ms1: lat.ms1, ms128: lat.ms128, deploy_backend: deploy.name,
            train_seconds: r.ms / 1000, ...(r.extraMs ? { extra_seconds: r.extraMs / 1000 } : {}), total_train_seconds: r.ms / 1000 + (prev?.total_train_seconds ?? 0), model: r.failed ? '' : relative(dir, cj.out),
            runtime: { mode: choice!.mode, backend: choice!.backend, workers: choice!.workers }, date: new Date().toISOString(), ...(r.failed ? { failed: r.failed } : {}),
          };
          if (r.int8 && cj.int8) line.int8 = int8Line(r.int8, cj.int8.out, archKey(c));
          if (r.pruned && cj.pruned) {
            line.pruned = r.pruned.map((p) => {
              const pa = archKey(prunedCandidate(c, p.sparsity)!), lp = latency.get(pa)!, pj = cj.pruned!.find((q) => q.sparsity === p.sparsity)!, out = pj.out;
              return {
                sparsity: p.sparsity, recover_epochs: recoverEpochs, val_accuracy: p.valAccuracy, val_loss: p.valLoss, params: p.params, bytes: p.failed ? 0 : statSync(out).size, ms1: lp.ms1, ms128: lp.ms128, model: p.failed ? '' : relative(dir, out), ...(p.failed ? { failed: p.failed } : {}),
                ...(p.int8 && pj.int8Out ? { int8: int8Line(p.int8, pj.int8Out, pa) } : {}),
              };
            });
          }
          await appendJournal(journalFile, line);
          mine.set(resultKey(job.id, job.rung), line);
          await saveState(false, []);
          finishedNow++;
          if (r.failed) {
            progress.line(`sweep: [${finishedNow}] ${line.key}, ${job.epochs} epoch${job.epochs > 1 ? 's' : ''}: failed (${r.failed.slice(0, 160)}); recorded, not promoted`);
            return jobResult(line);
          }
          progress.line(`sweep: [${finishedNow}] ${line.key}, ${job.epochs} epoch${job.epochs > 1 ? 's' : ''}: validation ${(r.valAccuracy * 100).toFixed(2)}%, ${(r.ms / 1000).toFixed(1)} s, ${fmtBytes(line.bytes)}, ${lat.ms1.toFixed(4)} ms@1, ${lat.ms128.toFixed(3)} ms@128${line.int8 ? `; int8 ${pointText(line.int8)}` : ''}${(line.pruned ?? []).map((p) => `; pruned ${p.sparsity}: ${p.failed ? 'diverged' : `${pointText(p)}${p.int8 ? ` (int8 ${pointText(p.int8)})` : ''}`}`).join('')}`);
          return jobResult(line);
        },
      });
      await saveState(!ac.signal.aborted, result.skipped.map(skipText));
    } else progress.line('sweep: every candidate of this sweep is finished in sweep.jsonl; nothing to train');
  } finally {
    if (hardStop) clearTimeout(hardStop);
    await pool?.close();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  // A settled sweep's skipped jobs are those of the run that settled it.
  const skipped = result !== dry ? result.skipped.map(skipText) : settled ? [...(before!.skipped_jobs ?? [])] : [];
  if (got) throw new Interrupted(got, `sweep stopped by ${got}: ${mine.size} finished rung(s) are in ${journalFile}; run the same command again to continue`);

  // The answer: each candidate's last finished rung, the front, the pick.
  // An int8 form (--int8) and a pruned form (--sparsity) are points of their own: the same candidate, another file and other kernels or a smaller architecture.
  const rows: (SweepRow & Point & { line: SweepLine; file: string; int8: boolean; sparsity?: number })[] = [];
  for (const id of ids) {
    for (let r = rungs.length - 1; r >= 0; r--) {
      const l = mine.get(resultKey(id, r));
      if (!l || l.failed) continue;
      // One point of this rung: the float model or one of its forms (m: what was measured of it).
      const point = (pid: string, key: string, m: MeasuredPoint, params: number, form: { int8: boolean; sparsity?: number }) => rows.push({
        id: pid, key, epochs: l.epochs, rung: r, lastRung: r === rungs.length - 1, accuracy: m.val_accuracy, valLoss: m.val_loss, ms1: m.ms1, ms128: m.ms128, bytes: m.bytes, params,
        trainSeconds: l.total_train_seconds, front: false, line: l, file: m.model, ...form,
      });
      point(id, l.key, l, l.params, { int8: false });
      for (const p of l.pruned ?? []) {
        if (p.failed) continue;
        const key = `${l.key} · pruned ${+(p.sparsity * 100).toFixed(2)}%`;
        point(`${id}:s${p.sparsity}`, key, p, p.params, { int8: false, sparsity: p.sparsity });
        if (p.int8) point(`${id}:s${p.sparsity}:int8`, `${key} · int8`, p.int8, p.params, { int8: true, sparsity: p.sparsity });
      }
      if (l.int8) point(`${id}:int8`, `${l.key} · int8`, l.int8, l.params, { int8: true });
      break;
    }
  }
  const failedLines = [...mine.values()].filter((l) => l.failed);
  if (!rows.length && failedLines.length) throw new NumericalError(`every candidate that trained diverged (${failedLines.length} of them; e.g. ${failedLines[0].key}: ${failedLines[0].failed!.slice(0, 200)}); try a lower --lr`);
  if (!rows.length) throw new ConfigError(`no candidate finished a rung${budgetMin !== null ? ` within --budget-minutes ${budgetMin}` : ''}; give a larger budget, fewer or smaller candidates${skipped.length ? ` (skipped: ${skipped.slice(0, 3).join('; ')})` : ''}`);
  // A point no better than always answering the validation split's most frequent class has learnt
  // nothing: it stays in sweep.json and the plots but is left off the front (never picked for being small).
  const { front, chance, unlearnt } = learntFront(rows, valSet.y);
  if (!front.length) throw new ConfigError(`no candidate did better on the validation split than always answering its most frequent class (${(chance * 100).toFixed(2)}%); train longer (--min-epochs, --max-epochs, a larger budget) or check the data and the teacher`);
  for (const r of front) r.front = true;
  const chosen = pick(front, rule);
  const elapsed = (performance.now() - started) / 1000;
  printTable(front, chosen?.id ?? null, deploy.name, rungs[rungs.length - 1]);
  if (skipped.length) {
    console.log(`\nskipped ${skipped.length} job(s) (budget): ${skipped.slice(0, 6).join('; ')}${skipped.length > 6 ? `; ... (all in sweep.json)` : ''}`);
  }
  if (unlearnt.length) console.log(`\n${unlearnt.length} point(s) no better than always answering the most frequent class (${(chance * 100).toFixed(2)}% of the validation split) are left off the front: ${unlearnt.slice(0, 4).map((r) => `${r.key}, ${r.epochs} epochs`).join('; ')}${unlearnt.length > 4 ? '; ...' : ''}`);
  if (failedLines.length) console.log(`\n${failedLines.length} job(s) diverged (recorded in sweep.jsonl, never promoted or picked): ${failedLines.slice(0, 4).map((l) => `${l.key}, ${l.epochs} epochs`).join('; ')}${failedLines.length > 4 ? '; ...' : ''}`);
  const summary = `${rows.length} candidates measured (${result === dry ? 0 : result.trained} rung(s) trained now, ${result === dry ? mine.size : result.reused} reused from sweep.jsonl) in ${elapsed.toFixed(1)} s${budgetMin !== null ? ` of a ${(budgetMin * 60).toFixed(0)} s budget${spentBefore > 0 ? ` (${(spentBefore + (result === dry ? 0 : elapsed)).toFixed(0)} s over this sweep's runs)` : ''}` : ''}; ${front.length} on the Pareto front`;
  console.log(`\nsweep: ${summary}`);

  let retrain: string | null = null, testAcc: number | null = null, pickNote: string;
  const retrainOut = join(relative(process.cwd(), dir) || '.', 'best-retrained');
  if (chosen) {
    const src = join(dir, chosen.file);
    await writeFileAtomic(join(dir, 'best.safetensors'), readFileSync(src));
    retrain = retrainCommand(chosen.line.config, chosen.epochs, v, retrainOut, dims, d.train.n);
    if (chosen.sparsity !== undefined) retrain += ` && ${pruneCommand(chosen.line.config, chosen.sparsity, recoverEpochs, v, retrainOut, d.train.n)}`;
    // The int8 step quantizes the last model before it: the pruned one for a pruned int8 form.
    const last = chosen.sparsity !== undefined ? `${retrainOut}-pruned` : retrainOut;
    if (chosen.int8) retrain += ` && distill quantize ${join(last, 'model.safetensors')} --calib ${String(v.data)} --out ${join(last, 'model.int8.safetensors')}`;
    const { model } = await readAnyModel(src, deploy);
    try { testAcc = evaluate(model, d.test).accuracy; } finally { model.release(); }
    pickNote = `Picked ${chosen.key} (${chosen.epochs} epochs): validation accuracy ${(chosen.accuracy * 100).toFixed(2)}%; test accuracy ${(testAcc * 100).toFixed(2)}% (the test set, shown only for the picked model; not used to select).`;
    await writeFileAtomic(join(dir, 'best.txt'), `# ${pickNote}\n# Retrain it on all the training data (training + validation splits):\n${retrain}\n`);
    console.log(`sweep: pick "${rule.text}" → ${chosen.key}, ${chosen.epochs} epochs; validation ${(chosen.accuracy * 100).toFixed(2)}%, test ${(testAcc * 100).toFixed(2)}% (test set not used to select); ${join(dir, 'best.safetensors')}`);
    console.log(`sweep: retrain it on all the training data:\n  ${retrain}`);
  } else {
    pickNote = `No candidate of the Pareto front meets "${rule.text}"; nothing was picked (best.safetensors is left as it was). Rerun with another --pick: the sweep's results are reused, nothing is trained again.`;
    console.log(`sweep: ${pickNote}`);
  }
  const json = {
    command: commandLine('sweep', argv), date: new Date().toISOString(), data: { name: d.train.name, train: trainSet.n, validation: valSet.n, test: d.test.n }, space, sample, rungs, eta, promote,
    budget_seconds: budgetMin === null ? null : budgetMin * 60, elapsed_seconds: elapsed, earlier_runs_seconds: spentBefore, trained_now: result === dry ? 0 : result.trained, reused: result === dry ? mine.size : result.reused, abandoned: result === dry ? 0 : result.abandoned,
    parallelism: choice ? { mode: choice.mode, concurrency: choice.concurrency, backend: choice.backend, workers: choice.workers, samples_per_s: choice.measured, line: choice.line } : null,
    deploy_backend: deploy.name, skipped, failed: failedLines.map((l) => ({ key: l.key, epochs: l.epochs, reason: l.failed })), pick: { rule: rule.text, picked: chosen ? { key: chosen.key, epochs: chosen.epochs, val_accuracy: chosen.accuracy, test_accuracy: testAcc, model: chosen.file, int8: chosen.int8, sparsity: chosen.sparsity ?? null } : null, retrain },
    front: front.map((r) => ({ key: r.key, int8: r.int8, sparsity: r.sparsity ?? null, epochs: r.epochs, reached_last_rung: r.lastRung, val_accuracy: r.accuracy, ms1: r.ms1, ms128: r.ms128, bytes: r.bytes, params: r.params, train_seconds: r.trainSeconds, model: r.file, hash: r.line.hash })),
    all: rows.filter((r) => !r.int8 && r.sparsity === undefined).map((r) => r.line),
  };
  await writeFileAtomic(join(dir, 'sweep.json'), JSON.stringify(json, null, 1) + '\n');
  const html = sweepReportHtml({
    title: 'distill sweep — the size / accuracy / speed front', sub: `${json.date} · ${d.train.name}: ${trainSet.n} training / ${valSet.n} validation samples · latency on ${deploy.name}`,
    headline: `sweep: ${summary}.`, rows, picked: chosen?.id ?? null, pickRule: rule.text, pickNote, deployBackend: deploy.name, retrain, lastEpochs: rungs[rungs.length - 1],
    settings: [['space', AXES.map((a) => `${a}: ${axisText(space, a, ', ')}`).join('\n')], ['sampling', `${sample}${maxCandidates !== undefined ? `, at most ${maxCandidates}` : ''}`], ['rungs (epochs)', `${rungs.join(', ')} (eta ${eta}; promoted by ${promote === 'pareto' ? 'Pareto rank' : 'accuracy'})`], ['budget', budgetMin === null ? 'none' : `${budgetMin} min; this run took ${elapsed.toFixed(0)} s${spentBefore > 0 ? `, earlier runs ${spentBefore.toFixed(0)} s` : ''}`], ['parallelism', choice?.line ?? 'nothing trained in this run'], ['training', `batch ${training.batchSize}, ${training.optimizer.kind} lr ${training.optimizer.lr} (cosine per rung after a ${training.warmupEpochs}-epoch linear warm-up), seed ${training.seed}`]],
    skipped, command: json.command,
  });
  await writeFileAtomic(join(dir, 'sweep.html'), html);
  console.log(`sweep: wrote ${join(dir, 'sweep.html')}, sweep.json${chosen ? ', best.safetensors, best.txt' : ''}`);
}

/** The teacher's logits over `trainSet` (rows `rows` of `full`): a logits file's, or the teacher's computed once and cached in DIR. */
async function teacherLogits(file: string, isLogits: boolean, full: Dataset, trainSet: Dataset, rows: Uint32Array, K: number, dir: string, progress: Progress): Promise<Float32Array> {
  const take = (all: Float32Array) => {
    const out = new Float32Array(rows.length * K);
    rows.forEach((j, i) => out.set(all.subarray(j * K, j * K + K), i * K));
    return out;
  };
  if (isLogits) {
    const f = await loadTeacherLogits(file, full, K);
    if (f.logits.length !== 1) throw new ConfigError(`--teacher-logits ${file}: holds ${f.logits.length} teachers' logits; the sweep takes one`);
    return take(f.logits[0]);
  }
  const cache = join(dir, 'teacher-logits.safetensors');
  const stamp = (() => { const s = statSync(file); return `${resolve(file)}:${s.size}:${s.mtimeMs}`; })();
  if (existsSync(cache)) {
    try {
      const f = await loadTeacherLogits(cache, trainSet, K);
      if (f.teachers[0]?.file === stamp && f.logits.length === 1) {
        progress.line(`sweep: teacher logits from ${cache} (cached)`);
        return f.logits[0];
      }
    } catch { /* another split or teacher: computed again below */ }
  }
  const t0 = performance.now();
  const be = await loadBackend('native').catch(() => defaultBackend());
  const { model } = await readAnyModel(file, be);
  try {
    if (model.inputs !== trainSet.features) throw new ConfigError(`--teacher ${file}: the teacher takes ${model.inputs} inputs, the data has ${trainSet.features} features`);
    if (model.classes !== K) throw new ConfigError(`--teacher ${file}: the teacher has ${model.classes} outputs, the data ${K} classes`);
    const out = new Float32Array(trainSet.n * K);
    forEachEvalBatch(model, trainSet, 500, (z, _y, N, start) => out.set(z.subarray(0, N * K), start * K));
    await saveTeacherLogits(cache, trainSet, { logits: [out], teachers: [{ file: stamp, config: model.config }] });
    progress.line(`sweep: teacher logits of ${trainSet.n} samples computed once in ${((performance.now() - t0) / 1000).toFixed(1)} s and cached in ${cache}`);
    return out;
  } finally {
    model.release();
  }
}

function printTable(front: (SweepRow & { line: SweepLine })[], picked: string | null, backend: string, lastEpochs: number): void {
  const head = ['', 'candidate', 'epochs', 'val acc', `ms@1 (${backend})`, `ms@128 (${backend})`, 'file', 'params', 'train s'];
  const body = front.map((r) => [r.id === picked ? '*' : '', r.key, `${r.epochs}${r.lastRung ? '' : ' †'}`, `${(r.accuracy * 100).toFixed(2)}%`, r.ms1.toFixed(4), r.ms128.toFixed(3), fmtBytes(r.bytes), r.params.toLocaleString('en-US'), r.trainSeconds.toFixed(1)]);
  const all = [head, ...body];
  const w = head.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  console.log('\nPareto front (validation accuracy up; latency at batch 1 and 128 and file size down; * = picked):');
  for (const [i, r] of all.entries()) {
    console.log(r.map((c, j) => (j >= 2 ? c.padStart(w[j]) : c.padEnd(w[j]))).join('  '));
    if (i === 0) console.log(w.map((n) => '-'.repeat(n)).join('  '));
  }
  if (front.some((r) => !r.lastRung)) console.log(`† did not reach the last rung (${lastEpochs} epochs): not promoted, or skipped for the budget; its accuracy is that of fewer epochs`);
}
