// Measured choice of backend and worker count: a short, bounded calibration of every available
// backend × worker count on the run's actual shapes, cached per machine + package version +
// shapes, reported in one line. `backend`/`workers` overrides narrow (or skip) the search.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { cpus, homedir, availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { loadAvailableBackends, loadBackend } from '../backends/index.js';
import { allowsWorkers, workerLimit, type Backend } from '../backends/backend.js';
import { KdStepRunner, summarize, type StepShapes } from './kd-step.js';
import { ConfigError, ShapeError } from '../errors.js';

export interface Candidate {
  backend: string;
  workers: number;
  /** Median ms per step (Infinity when abandoned as clearly slower). */
  ms: number;
}

export interface Choice {
  backend: Backend;
  workers: number;
  /** How it was chosen, in one line. */
  line: string;
  table: Candidate[];
  fromCache: boolean;
}

export interface CalibrateOptions {
  backend?: string;
  workers?: number;
  recalibrate?: boolean;
  /** Per-candidate time budget in ms (default 400). */
  budgetMs?: number;
  log?: (msg: string) => void;
  /** Cache file (default: $DISTILLERY_CACHE_DIR or ~/.cache/distillery, calibration.json). */
  cacheFile?: string;
}

const VERSION: string = createRequire(import.meta.url)('../../package.json').version;

/**
 * Writes a temp file beside `file` and renames it over: readers see the old cache or the new one,
 * never half of one. (src/io/atomic.ts also fsyncs; it sits above this layer, and a cache lost
 * in a crash is only measured again.)
 */
async function replaceFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

export function defaultCacheFile(): string {
  const dir = process.env.DISTILLERY_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'distillery');
  return join(dir, 'calibration.json');
}

function cacheKey(s: StepShapes, backends: string[], workers: number[]): string {
  const machine = [cpus()[0]?.model ?? '?', availableParallelism(), process.version, process.arch];
  const shapes = [s.teachers.map((t) => t.layers), s.student.layers, s.N, ...(s.hints ? [s.hints.pairs] : [])];
  return createHash('sha256').update(JSON.stringify({ machine, version: VERSION, shapes, backends, workers })).digest('hex').slice(0, 24);
}

function readCache(file: string): Record<string, { table: Candidate[]; date: string }> {
  try {
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  } catch {
    return {}; // a corrupt cache is only a cache: recalibrate and rewrite it
  }
}

const fmt = (c: Candidate) => `${c.backend} ×${c.workers} worker${c.workers > 1 ? 's' : ''} (${Number.isFinite(c.ms) ? `${c.ms.toFixed(2)} ms/step` : 'abandoned: much slower'})`;

/** Times one candidate: 1 warm-up step, then steps until budgetMs (at least 3), median. */
async function measure(be: Backend, workers: number, s: StepShapes, budgetMs: number, bestSoFar: number): Promise<number> {
  const r = await KdStepRunner.create(be, workers, s);
  try {
    const t0 = performance.now();
    await r.step();
    const first = performance.now() - t0;
    if (first > 5 * bestSoFar + 50) return Infinity; // clearly slower: do not spend the budget
    const samples: number[] = [];
    const end = performance.now() + budgetMs;
    while (samples.length < 3 || (performance.now() < end && samples.length < 50)) {
      const t = performance.now();
      await r.step();
      samples.push(performance.now() - t);
    }
    if (!Number.isFinite(r.loss)) return Infinity;
    return summarize(samples).median;
  } finally {
    await r.close();
  }
}

/**
 * Picks the backend and worker count for a run with these shapes. With both overrides given,
 * measures nothing. Candidates that fail to load are skipped with their reason logged.
 */
export async function chooseRuntime(s: StepShapes, o: CalibrateOptions = {}): Promise<Choice> {
  const log = o.log ?? (() => {});
  if (o.backend && o.workers) {
    const be = await loadBackend(o.backend);
    if (!allowsWorkers(be, o.workers)) {
      throw new ConfigError(`--workers ${o.workers}: ${workerLimit(be)}`);
    }
    return { backend: be, workers: o.workers, line: `backend ${be.name} ×${o.workers} worker${o.workers > 1 ? 's' : ''} (as asked)`, table: [], fromCache: false };
  }
  const backends = o.backend ? [await loadBackend(o.backend)] : (await loadAvailableBackends((m) => log(m))).backends;
  const cores = availableParallelism();
  const workerCounts = o.workers ? [o.workers] : Array.from({ length: cores }, (_, i) => i + 1);
  const file = o.cacheFile ?? defaultCacheFile();
  const key = cacheKey(s, backends.map((b) => b.name), workerCounts);
  const cache = readCache(file);
  let table: Candidate[];
  let fromCache = false;
  // (A cached table in which nothing completed is not a result: measure again.)
  if (!o.recalibrate && cache[key]?.table?.some((c) => c.ms >= 0)) {
    table = cache[key].table;
    fromCache = true;
  } else {
    table = [];
    let best = Infinity, firstFailure = '';
    const t0 = performance.now();
    for (const be of backends) {
      for (const w of workerCounts.filter((n) => allowsWorkers(be, n))) {
        let ms: number;
        try {
          ms = await measure(be, w, s, o.budgetMs ?? 400, best);
        } catch (e) {
          // A wrong configuration (hint layers, shapes) fails on every backend: say so at once.
          if (e instanceof ConfigError || e instanceof ShapeError) throw e;
          log(`calibration: ${be.name} ×${w} failed (${(e as Error).message}); skipped`);
          firstFailure ||= `${be.name} ×${w}: ${(e as Error).message}`;
          ms = Infinity;
        }
        table.push({ backend: be.name, workers: w, ms });
        best = Math.min(best, ms);
      }
    }
    log(`calibration: ${table.length} candidates in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (!table.some((c) => Number.isFinite(c.ms))) throw new Error(`calibration: no backend completed a step (first failure: ${firstFailure || 'none measured'})`);
    cache[key] = { table: table.map((c) => ({ ...c, ms: Number.isFinite(c.ms) ? c.ms : -1 })), date: new Date().toISOString() };
    try {
      await mkdir(dirname(file), { recursive: true });
      await replaceFile(file, JSON.stringify(cache, null, 1) + '\n');
    } catch (e) {
      log(`calibration: could not write the cache ${file} (${(e as Error).message}); continuing`);
    }
  }
  const ranked = table.map((c) => ({ ...c, ms: c.ms < 0 ? Infinity : c.ms })).sort((a, b) => a.ms - b.ms);
  if (!ranked.length || !Number.isFinite(ranked[0].ms)) throw new Error('calibration: no backend completed a step');
  const [first, second] = ranked;
  const be = backends.find((b) => b.name === first.backend)!;
  const line = `picked ${fmt(first)}${second ? `; runner-up ${fmt(second)}` : ''}${fromCache ? ' [cached calibration; --recalibrate to measure again]' : ''}`;
  return { backend: be, workers: first.workers, line, table: ranked, fromCache };
}
