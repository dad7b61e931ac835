// `distill bench`: every available backend side by side on this machine, per kernel (each result
// validated against the TS reference before it is timed) and the full KD step on workload W with
// 1..n workers. Prints a table (or --json rows), writes a self-contained HTML report.

import { availableParallelism, cpus } from 'node:os';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { allowsWorkers, backendNames, loadAvailableBackends, loadBackend, type Backend } from '../backends/index.js';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { compare, OP_CASES, peakProbeCase, placeOn, type BenchCase } from '../kernels/cases.js';
import { KERNEL_NAMES, type KernelName } from '../kernels/signatures.js';
import { KdStepRunner, stepFlops, summarize, workloadC, workloadW, WORKLOADS, type StepOp, type Timing } from '../step/kd-step.js';
import { helpText, parse, type OptionDoc, type Values } from './options.js';
import { measureInfer, Q_BATCHES, Q_DTYPES, Q_MODELS, qFlopsPerSample } from './bench-infer.js';
import { Progress } from './progress.js';
import { htmlReport, textReport, type Machine } from './bench-report.js';

/** One result row; the first 8 keys are the `--json` contract, in this order. */
export interface BenchRow {
  backend: string;
  workers: number;
  /** Batch N (for matmul at W's shapes, the batch the shape comes from; for the square case, M); null for the optimizer steps. */
  batch: number | null;
  op: string;
  ms_median: number | null;
  ms_min: number | null;
  ms_max: number | null;
  /** GFLOP/s at the median, for matmul and kd_step; null for memory-bound kernels and errors. */
  gflops: number | null;
  shape?: string;
  case?: string;
  gbps?: number | null;
  samples_per_s?: number;
  pct_peak?: number | null;
  reps?: number;
  error?: string;
  /** op "infer" (workload Q): the number type, "f32" or "int8". */
  dtype?: string;
  /** op "infer": the workload-Q model, "mlp800" or "mlp64". */
  model?: string;
  /** op "infer", int8 rows: the float32 row's median over this one's (same backend, model, batch, measured in alternation). */
  speedup_vs_f32?: number;
  /** op "infer", int8 rows: the fraction of rows whose top-1 class equals the float32 model's. */
  top1?: number;
}

/** The op names of the contract's kernels (their names), in contract order. */
export const KERNEL_OPS: readonly string[] = KERNEL_NAMES;
/** The whole-step ops: the KD step on workload W and the CNN KD step on workload C. */
export const STEP_OPS: readonly StepOp[] = ['kd_step', 'kd_step_cnn'];
/** Inference on workload Q (float32 and int8 forward of mlp800 and mlp64). */
export const INFER_OP = 'infer';
export const ALL_OPS = [...KERNEL_OPS, ...STEP_OPS, INFER_OP];
const isStep = (op: string): op is StepOp => (STEP_OPS as readonly string[]).includes(op);
const isKernel = (op: string) => KERNEL_OPS.includes(op);
const kernelOf = (op: string): KernelName => KERNEL_NAMES[KERNEL_OPS.indexOf(op)];

const CORES = availableParallelism();

const DOCS: OptionDoc[] = [
  { flag: 'backend', type: 'string', help: `backends, comma-separated (registered: ${backendNames().join(', ')})`, default: 'every backend that loads here' },
  { flag: 'workers', type: 'string', help: 'worker counts for kd_step, comma-separated (kernels always run on one thread)', default: `1..${CORES} (this machine's cores)` },
  { flag: 'batch', type: 'string', help: 'batch sizes N, comma-separated: kd_step on W at N, matmul at W\'s shapes at N, the other kernels on (N,800) activations or (N,10) logits, infer on Q at N', default: '128,512 (infer: 1,128); 128 with --quick (infer: 1,128)' },
  { flag: 'ops', type: 'string', help: `what to measure, comma-separated: ${ALL_OPS.join(', ')} (camelCase kernel names work too)`, default: 'all' },
  { flag: 'quick', type: 'boolean', help: 'a run within 30 s on a 2-core machine (about 20 s here with every backend, workers 1,2): fewer reps, shorter time per measurement, no 1024³ matmul, no warm-up KD steps, batch 128 unless --batch' },
  { flag: 'steps', type: 'string', help: 'most timed KD steps per measurement (timing stops after ~4 s once 3 steps are timed; with --quick after 3)', default: '30; 3 with --quick' },
  { flag: 'warmup', type: 'string', help: 'untimed KD steps before timing', default: '2; 0 with --quick' },
  { flag: 'json', type: 'boolean', help: 'print only a JSON array of rows to stdout: {backend, workers, batch, op, ms_median, ms_min, ms_max, gflops, ...}' },
  { flag: 'html', type: 'string', help: "the HTML report's file name ('-' for none)", default: 'distill-bench.html' },
  { flag: 'out', type: 'string', help: 'folder for the HTML report', default: 'the current folder' },
  { flag: 'config', type: 'string', help: 'JSON file of options (keys are flag names); flags override it' },
  { flag: 'quiet', type: 'boolean', help: 'no progress lines on stderr' },
  { flag: 'help', type: 'boolean', help: 'show this help' },
];

const ABOUT = `Compares every available backend on this machine, side by side in one run:
- each kernel of the contract on one thread (native-mt, wasm-simd-mt, wasm-relaxed-mt: on their threads), its result first checked against the TS reference
  (a wrong result is reported as an error row and not timed): GFLOP/s for matmul (W's Dense
  shapes in the three variants: forward X·Wᵀ 'nt', dW = dYᵀ·X 'tn', dX = dY·W 'nn', and a
  1024³ square), GB/s (bytes read + written per call) for the memory-bound kernels;
- the full KD step on workload W (teacher 784-1200-1200-10 forward, student 784-800-800-10,
  0.9·T²·KL + 0.1·CE at T=4, SGD momentum 0.9; ${(stepFlops(workloadW(128)) / 1e9).toFixed(3)} GFLOP per step at N=128),
  and (op kd_step_cnn) the CNN KD step on workload C (input [N,1,28,28]; teacher conv32-pool-
  conv64-pool-fc128-fc10 forward, student conv16-pool-conv32-pool-fc10; 3×3 convs, 2×2 max-pool;
  same loss and optimizer; ${(stepFlops(workloadC(128)) / 1e9).toFixed(4)} GFLOP per step at N=128, as ../anchors/torch/cnn_step.py counts)
  for every backend × worker count: ms per step (median, min–max), samples/s, GFLOP/s and % of
  peak, where peak = the best matmul GFLOP/s per thread measured in the same run × the
  cores the row uses (workers × kernel threads, at most ${CORES} here). Backends that train in
  one worker (the -mt backends, cuda) get kd_step rows for 1 worker only. The backends' KD steps are
  interleaved (one step of each in turn, per batch and worker count), so a shared machine's
  slow drifts hit them alike and their ratios hold.
- (op infer) inference on workload Q (../anchors/torch/int8_infer.py): x ~ N(0,1) [B,784], B = 1 and
  128, models mlp800 (784-800-800-10) and mlp64 (784-64-10), float32 and int8 (our post-training
  quantization of the same model: int8 weights per channel, uint8 activations calibrated on 8
  batches of 128 other N(0,1) rows; the input quantized and the logits dequantized inside the
  timing), one thread (-mt backends: their threads); rows carry dtype, model, the int8 row's
  speedup_vs_f32 (the two measured in alternation) and top1 agreement with float32.
Progress goes to stderr; the table (or --json rows) to stdout; the HTML report (inline SVG bars,
machine info, the command line) is written atomically to OUT/HTML.
Run benchmarks on an otherwise idle machine; shared machines give noisy medians.`;

interface Plan {
  backends: Backend[];
  skipped: { name: string; reason: string }[];
  workers: number[];
  batches: number[];
  ops: string[];
  quick: boolean;
  steps: number;
  warmup: number;
}

function intList(v: Values, flag: string, fallback: number[], max: number): number[] {
  const raw = v[flag];
  if (raw === undefined) return fallback;
  const parts = String(raw).split(',').map((s) => s.trim());
  const xs = parts.map(Number);
  if (typeof raw !== 'string' || parts.some((p) => p === '') || xs.some((x) => !Number.isInteger(x) || x < 1 || x > max)) {
    throw new ConfigError(`--${flag}: expected integers from 1 to ${max}, comma-separated (e.g. ${fallback.join(',')}), got ${JSON.stringify(raw)}`);
  }
  return [...new Set(xs)];
}

function opList(v: Values): string[] {
  if (v.ops === undefined || v.ops === 'all') return ALL_OPS;
  if (typeof v.ops !== 'string') throw new ConfigError(`--ops: expected op names, comma-separated, got ${JSON.stringify(v.ops)}`);
  const out: string[] = [];
  for (const p of v.ops.split(',').map((s) => s.trim()).filter(Boolean)) {
    const snake = p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (!ALL_OPS.includes(snake)) throw new ConfigError(`--ops: unknown op '${p}' (valid: ${ALL_OPS.join(', ')})`);
    if (!out.includes(snake)) out.push(snake);
  }
  if (!out.length) throw new ConfigError(`--ops: expected op names, comma-separated (valid: ${ALL_OPS.join(', ')}), got ${JSON.stringify(v.ops)}`);
  return ALL_OPS.filter((o) => out.includes(o));
}

async function plan(v: Values, progress: Progress): Promise<Plan> {
  const quick = v.quick === true;
  const workers = intList(v, 'workers', Array.from({ length: CORES }, (_, i) => i + 1), 256);
  const batches = intList(v, 'batch', quick ? [128] : [128, 512], 65536);
  const ops = opList(v);
  const steps = intList(v, 'steps', [quick ? 3 : 30], 100000)[0];
  const warmup = v.warmup === undefined ? (quick ? 0 : 2) : Number(v.warmup);
  if (typeof v.warmup === 'string' && (v.warmup.trim() === '' || !Number.isInteger(warmup) || warmup < 0)) throw new ConfigError(`--warmup: expected an integer >= 0, got ${JSON.stringify(v.warmup)}`);
  let backends: Backend[];
  let skipped: { name: string; reason: string }[] = [];
  if (typeof v.backend === 'string') {
    const names = [...new Set(v.backend.split(',').map((s) => s.trim()).filter(Boolean))];
    const bad = names.find((n) => !backendNames().includes(n));
    if (bad !== undefined || !names.length) throw new ConfigError(`--backend: unknown backend '${bad ?? ''}' (registered: ${backendNames().join(', ')})`);
    backends = [];
    for (const n of names) backends.push(await loadBackend(n));
  } else {
    ({ backends, skipped } = await loadAvailableBackends((m) => progress.line(`bench: ${m}`)));
  }
  return { backends, skipped, workers, batches, ops, quick, steps, warmup };
}

// ---- kernel cases ----------------------------------------------------------------------------
// The cases (shapes, data, tolerances) are the operator-case table of src/kernels/cases.ts.

/** The kernel cases at batch N for the given ops (in contract order), but those of onceCases. */
export function kernelCases(ops: string[], N: number): BenchCase[] {
  return ops.filter(isKernel).flatMap((op) => OP_CASES[kernelOf(op)].bench(N));
}

/** Cases measured once per run, not per batch: the 1024³ square matmul (not with --quick) and the optimizer steps. */
export function onceCases(ops: string[], quick: boolean): BenchCase[] {
  return ops.filter(isKernel).flatMap((op) => OP_CASES[kernelOf(op)].benchOnce?.(quick) ?? []);
}

// ---- timing ----------------------------------------------------------------------------------

interface KernelTiming extends Timing {
  reps: number;
}

/**
 * Times fn after it has been validated. First it runs untimed for warmMs (at least twice): V8
 * starts WebAssembly in its baseline compiler and swaps in optimized code a few calls later,
 * so the first calls of a fresh wasm backend can run at half speed or less (a cold probe once
 * made the KD step read 158% of "peak"). Each sample is the mean of `inner` back-to-back calls,
 * inner chosen so a sample lasts about `sampleMs`; samples are taken until at least minReps
 * samples and budgetMs have passed, or maxReps samples.
 */
function timeKernel(fn: () => void, o: { minReps: number; maxReps: number; budgetMs: number; sampleMs: number; warmMs: number }): KernelTiming {
  const warmStart = performance.now();
  for (let i = 0; i < 2 || performance.now() - warmStart < o.warmMs; i++) fn();
  let t0 = performance.now();
  fn();
  const one = Math.max(performance.now() - t0, 1e-4);
  const inner = Math.max(1, Math.min(10000, Math.round(o.sampleMs / one)));
  const minReps = one > 100 ? 3 : o.minReps;
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < o.maxReps && (samples.length < minReps || performance.now() - start < o.budgetMs)) {
    t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    samples.push((performance.now() - t0) / inner);
  }
  return { ...summarize(samples), reps: samples.length * inner };
}

const r4 = (x: number) => +x.toFixed(4);
const r2 = (x: number) => +x.toFixed(2);

function errorRow(backend: string, workers: number, c: { op: string; batch: number | null; shape?: string; case?: string }, error: string): BenchRow {
  return { backend, workers, batch: c.batch, op: c.op, ms_median: null, ms_min: null, ms_max: null, gflops: null, shape: c.shape, case: c.case, error };
}

function measureKernel(be: Backend, c: BenchCase, quick: boolean): BenchRow {
  const place = placeOn(be);
  try {
    const call = c.setup(be, place);
    const bad = compare(c, { loss: call.run(), outputs: call.outputs });
    if (bad) return errorRow(be.name, 1, c, `wrong result, not timed: ${bad}`);
    const t = timeKernel(call.run, quick ? { minReps: 3, maxReps: 15, budgetMs: 30, sampleMs: 0.5, warmMs: 25 } : { minReps: 5, maxReps: 60, budgetMs: 250, sampleMs: 2, warmMs: 60 });
    return {
      backend: be.name, workers: 1, batch: c.batch, op: c.op, ms_median: r4(t.median), ms_min: r4(t.min), ms_max: r4(t.max),
      gflops: c.flops ? r2(c.flops / (t.median * 1e6)) : null, shape: c.shape, case: c.case,
      gbps: c.bytes ? r2(c.bytes / (t.median * 1e6)) : null, reps: t.reps,
    };
  } catch (e) {
    return errorRow(be.name, 1, c, `failed: ${(e as Error)?.message ?? String(e)}`);
  } finally {
    place.release();
  }
}

/**
 * The KD step (W, or C for kd_step_cnn) for several backends at one batch size and worker count, interleaved: one
 * step of each candidate in turn, round after round, so that the slow drifts of a shared machine
 * hit every candidate alike and their ratios hold (measured one after another, the same two
 * builds swapped places from one run to the next). An untimed 2 ms pause before each step lets
 * the previous candidate's idle threads (the -mt backends' spinning helpers) go to sleep first.
 */
async function measureKdSteps(op: StepOp, cands: { be: Backend; w: number }[], N: number, p: Plan, tick: (what: string) => void): Promise<BenchRow[]> {
  const wl = WORKLOADS[op], shapes = wl.shapes(N);
  const runs = cands.map(({ be, w }) => ({ be, w, r: undefined as KdStepRunner | undefined, err: '', samples: [] as number[] }));
  const pause = () => (runs.length > 1 ? new Promise<void>((res) => setTimeout(res, 2)) : Promise.resolve());
  try {
    for (const run of runs) {
      tick(`${run.be.name} ${op} ${wl.name} N=${N} workers=${run.w}`);
      try {
        run.r = await KdStepRunner.create(run.be, run.w, shapes);
        for (let i = 0; i < p.warmup; i++) await run.r.step();
      } catch (e) {
        run.err = `failed: ${(e as Error)?.message ?? String(e)}`;
      }
    }
    const live = () => runs.filter((r) => r.r && !r.err);
    const budget = p.quick ? 0 : 4000 * Math.max(1, live().length);
    const start = performance.now();
    for (let i = 0; i < Math.max(3, p.steps) && live().length && (i < 3 || performance.now() - start < budget); i++) {
      for (const run of live()) {
        await pause();
        try {
          const t = performance.now();
          await run.r!.step();
          run.samples.push(performance.now() - t);
        } catch (e) {
          run.err = `failed: ${(e as Error)?.message ?? String(e)}`;
        }
      }
    }
  } finally {
    for (const run of runs) await run.r?.close().catch(() => {});
  }
  return runs.map(({ be, w, r, err, samples }) => {
    const c = { op, batch: N, shape: `${wl.name} N=${N}`, case: `${w} worker${w > 1 ? 's' : ''}` };
    if (!err && r && !Number.isFinite(r.loss)) err = `${be.name}: KD step produced loss ${r.loss}`;
    if (err || !samples.length) return errorRow(be.name, w, c, err || 'failed: no step was timed');
    const t = summarize(samples);
    return {
      backend: be.name, workers: w, batch: N, op, ms_median: r4(t.median), ms_min: r4(t.min), ms_max: r4(t.max),
      gflops: r2(stepFlops(shapes) / (t.median * 1e6)), shape: c.shape, case: c.case,
      samples_per_s: Math.round((N * 1000) / t.median), pct_peak: null, reps: t.samples.length,
    };
  });
}

/** Workload Q rows (float32, then int8) for one backend, model and batch. */
function inferRows(be: Backend, model: string, B: number, quick: boolean): BenchRow[] {
  const dims = Q_MODELS[model], flops = qFlopsPerSample(dims) * B;
  // The row format's first eight keys (backend … gflops) come first, as in every other row.
  const base = { backend: be.name, workers: 1, batch: B, op: INFER_OP };
  const what = { shape: `${model} ${dims.join('-')} B=${B}`, model };
  try {
    const ts = measureInfer(be, model, B, quick ? { minReps: 3, maxReps: 15, budgetMs: 60, sampleMs: 1, warmMs: 25 } : { minReps: 7, maxReps: 200, budgetMs: 600, sampleMs: 3, warmMs: 100 });
    const f32 = ts.find((t) => t.dtype === 'f32')!;
    return ts.map((t) => ({
      ...base, ms_median: r4(t.median), ms_min: r4(t.min), ms_max: r4(t.max), gflops: r2(flops / (t.median * 1e6)),
      ...what, case: t.dtype, dtype: t.dtype, samples_per_s: Math.round((B * 1000) / t.median), reps: t.reps,
      ...(t.dtype === 'int8' ? { speedup_vs_f32: r2(f32.median / t.median), top1: t.top1 } : {}),
    }));
  } catch (e) {
    const error = `failed: ${(e as Error)?.message ?? String(e)}`;
    return Q_DTYPES.map((dtype) => ({ ...base, ms_median: null, ms_min: null, ms_max: null, gflops: null, ...what, case: dtype, dtype, error }));
  }
}

// ---- the command -----------------------------------------------------------------------------

function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export interface BenchResult {
  rows: BenchRow[];
  peak: { gflops: number; backend: string; shape: string } | null;
  machine: Machine;
}

export async function bench(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText('distill bench [--backend a,b] [--workers 1,2] [--batch 128,512] [--ops matmul,kd_step] [--quick] [--json] [--html FILE]', ABOUT, DOCS, ['distill bench --quick', 'distill bench --ops kd_step --backend native,wasm-simd --batch 128,512 --workers 1,2 --json --html bench.html']));
    return;
  }
  // Defaults are filled in here (they depend on --quick and on the machine); parse() gets none.
  const t0 = performance.now();
  const v = parse(argv, DOCS.map(({ default: _, ...d }) => d));
  const progress = new Progress('bench', process.stderr, v.quiet === true);
  const htmlName = typeof v.html === 'string' ? v.html : 'distill-bench.html';
  const html = htmlName !== '-' ? resolve(typeof v.out === 'string' ? v.out : '.', htmlName) : null;
  const p = await plan(v, progress);
  if (!p.backends.length) throw new ConfigError('no backend loaded; see the lines above for why');
  const machine: Machine = {
    cpu: cpus()[0]?.model?.trim() ?? 'unknown', cores: CORES, node: process.version, platform: `${process.platform} ${process.arch}`,
    version: createRequire(import.meta.url)('../../package.json').version, date: new Date().toISOString(),
    command: ['distill', 'bench', ...argv].map(shellQuote).join(' '),
    backends: p.backends.map((b) => ({ name: b.name, description: b.description })), skipped: p.skipped, seconds: 0,
  };
  progress.line(`bench: backends ${p.backends.map((b) => b.name).join(', ')}; ops ${p.ops.join(', ')}; batch ${p.batches.join(',')}; workers ${p.workers.join(',')}${p.quick ? '; quick' : ''}`);

  const kernelCasesAll = [...p.batches.flatMap((N) => kernelCases(p.ops, N)), ...onceCases(p.ops, p.quick)];
  const kd = p.ops.filter(isStep).flatMap((op) => p.batches.flatMap((N) => p.backends.flatMap((be) => p.workers.filter((w) => allowsWorkers(be, w)).map((w) => ({ op, N, be, w })))));
  const inferCount = p.ops.includes(INFER_OP) ? (v.batch === undefined ? Q_BATCHES : p.batches).length * Object.keys(Q_MODELS).length * p.backends.length : 0;
  const total = kernelCasesAll.length * p.backends.length + kd.length + inferCount;
  let done = 0;
  const tick = (what: string) => progress.line(`bench [${++done}/${total}] ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s  ${what}`);

  const rows: BenchRow[] = [];
  for (const c of kernelCasesAll) {
    for (const be of p.backends) {
      tick(`${be.name} ${c.op} ${c.shape}`);
      const row = measureKernel(be, c, p.quick);
      if (row.error) progress.line(`bench: ${be.name} ${c.op} ${c.shape}: ${row.error}`);
      rows.push(row);
    }
  }

  // Peak: the best matmul GFLOP/s per thread of this run (a backend whose kernels run on several
  // threads, native-mt, counts per thread); measured on W's forward shape when matmul was not asked for.
  const threadsOf = (name: string) => p.backends.find((b) => b.name === name)?.threads ?? 1;
  const perThread = (r: BenchRow) => (r.gflops ?? 0) / threadsOf(r.backend);
  const mm = (rs: BenchRow[]) => rs.filter((r) => r.op === 'matmul' && r.gflops !== null).sort((a, b) => perThread(b) - perThread(a))[0];
  let best = mm(rows);
  if (!best && kd.length) {
    const probe = peakProbeCase(Math.max(...p.batches));
    const probes: BenchRow[] = [];
    for (const be of p.backends) {
      progress.line(`bench: ${be.name} matmul ${probe.shape} (peak probe for % of peak; not a row)`);
      probes.push(measureKernel(be, probe, true));
    }
    best = mm(probes);
  }
  const peak = best ? { gflops: +perThread(best).toFixed(2), backend: best.backend, shape: best.shape ?? '' } : null;

  // KD steps: the backends interleaved, one group per (batch, worker count); rows in the usual order.
  const kdRows = new Map<string, BenchRow>();
  for (const op of STEP_OPS) {
    for (const N of p.batches) {
      for (const w of p.workers) {
        const group = kd.filter((k) => k.op === op && k.N === N && k.w === w);
        if (!group.length) continue;
        const got = await measureKdSteps(op, group, N, p, tick);
        got.forEach((row, i) => kdRows.set(`${op}/${N}/${group[i].be.name}/${w}`, row));
      }
    }
  }
  for (const { op, N, be, w } of kd) {
    const row = kdRows.get(`${op}/${N}/${be.name}/${w}`)!;
    if (row.error) progress.line(`bench: ${be.name} ${op} N=${N} workers=${w}: ${row.error}`);
    if (peak && row.gflops !== null) row.pct_peak = +((100 * row.gflops) / (peak.gflops * Math.min(w * (be.threads ?? 1), CORES))).toFixed(1);
    rows.push(row);
  }
  if (p.ops.includes(INFER_OP)) {
    const batches = v.batch === undefined ? Q_BATCHES : p.batches;
    for (const B of batches) {
      for (const model of Object.keys(Q_MODELS)) {
        for (const be of p.backends) {
          tick(`${be.name} infer ${model} B=${B} (f32 and int8)`);
          rows.push(...inferRows(be, model, B, p.quick));
        }
      }
    }
  }
  for (const be of p.backends) be.dispose?.();
  machine.seconds = +((performance.now() - t0) / 1000).toFixed(1);
  progress.line(`bench: done in ${machine.seconds} s`);

  const result: BenchResult = { rows, peak, machine };
  if (v.json) console.log(JSON.stringify(rows, null, 1));
  else console.log(textReport(result));
  if (html) {
    await writeFileAtomic(html, htmlReport(result));
    progress.line(`bench: wrote ${html}`);
  }
}
