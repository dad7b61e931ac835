// Successive halving under a wall-clock budget (reference scheduler; pure: the clock, the cost
// estimate and the training are injected). Every candidate trains rungEpochs[0] epochs; the best
// 1/eta of those that finished a rung train on to the next rung's epoch count, continuing from
// their weights; and so on to the last rung. "Best" is by Pareto rank (promote 'pareto':
// non-dominated sorting on the score (up) and the job's latencies and size (down), then spread
// along each front in accuracy, so that its fast end and its middle train as long as its accurate end) or by the
// score alone (promote 'accuracy'); under 'pareto' a job's other points (its int8 and pruned
// forms) are ranked too and the job takes its best place. A job with no score above `floor`
// (chance level) ranks after every job with one. Rung r may use the budget up to the fraction (r+1)/R of it
// (what an early rung leaves is the later rungs'); a job whose estimated time does not fit before
// its rung's deadline is not started, and is reported as skipped. What the rungs leave of the
// budget goes to further brackets (the same halving over the candidates rung 0 skipped, ranked
// among themselves, in the time left) while a bracket trains something. Finished jobs (a resumed
// sweep) count as done without running.

import { paretoOrder, type Objectives } from './pareto.js';

export interface Job {
  /** The candidate's id (its hash). */
  id: string;
  /** Rung index (0-based). */
  rung: number;
  /** Epochs the candidate has had after this rung (the rung's total). */
  epochs: number;
  /** Epochs it had before (0 at rung 0): this job trains epochs - fromEpochs more. */
  fromEpochs: number;
}

export interface JobResult {
  /** Higher is better (validation accuracy). */
  score: number;
  /** Wall-clock ms the job took (as measured by the runner). */
  ms: number;
  /** The job ran but its candidate failed (e.g. diverged): finished, never promoted. */
  failed?: boolean;
  /** Of `ms`, the part that does not scale with the epochs (e.g. pruning and its recovery): estimates add it per job. */
  extraMs?: number;
  /** The candidate's latency and size (lower is better): what promote 'pareto' ranks by besides the score. */
  cost?: Omit<Objectives, 'accuracy'>;
  /**
   * The job's other points (its int8 and pruned forms, each with its own score and cost): under
   * 'pareto' a job ranks by the best placed of all its points, and any of its scores above the
   * floor counts as above it.
   */
  forms?: { score: number; cost: Omit<Objectives, 'accuracy'> }[];
}

/** How a rung chooses the candidates it promotes. */
export type Promote = 'pareto' | 'accuracy';
export const PROMOTE_MODES: readonly Promote[] = ['pareto', 'accuracy'];

export interface Skip {
  id: string;
  rung: number;
  reason: string;
  /** Skipped because its estimate did not fit the time left (not an interrupt). */
  budget?: boolean;
}

export interface HalvingOptions {
  ids: string[];
  /** Epoch totals of the rungs, increasing, e.g. [1, 3, 9]. */
  rungEpochs: number[];
  /** Keep the best 1/eta of each rung (at least 1). */
  eta: number;
  /** Wall-clock budget in ms from start(); null: none (every rung runs fully). */
  budgetMs: number | null;
  /** Kept free at the end of the budget for what follows the training (report, best model). */
  reserveMs?: number;
  /** Jobs run at once (parallel candidates). */
  concurrency: number;
  /** 'pareto': by Pareto rank of (score, cost), every result needs `cost`; 'accuracy' (the default): by score. */
  promote?: Promote;
  /** Scores at or below this (e.g. the accuracy of always answering the most frequent class) rank after every score above it: a job that learnt nothing is promoted only while nothing better is left. */
  floor?: number;
  /** The candidates' kinds whose cost per MAC differs (e.g. 'mlp', 'conv'): each kind's prior estimates are corrected by its own measurements (default: one kind). */
  family?(id: string): string;
  now(): number;
  /** Estimated ms for `epochs` more epochs of candidate `id` before anything of it was measured; refined by the measured rates. */
  estimateMs(id: string, epochs: number): number;
  /** Runs one job; null: abandoned (interrupted, or stopped at the budget's end). */
  run(job: Job): Promise<JobResult | null>;
  /** Results of jobs finished earlier, keyed `${id}@${rung}`. */
  done?: Map<string, JobResult>;
  /** Set: start nothing more (Ctrl-C). */
  stopped?: () => boolean;
  log?(msg: string): void;
}

export interface HalvingResult {
  /** Every finished job's result (this run's and earlier ones), keyed `${id}@${rung}`. */
  results: Map<string, JobResult>;
  /** The highest rung each candidate finished. */
  final: Map<string, { rung: number; epochs: number; score: number }>;
  skipped: Skip[];
  /** Jobs this run trained (not taken from `done`). */
  trained: number;
  /** Jobs taken from `done` (a resumed sweep). */
  reused: number;
  /** Jobs abandoned in flight (budget end or interrupt). */
  abandoned: number;
  elapsedMs: number;
}

export const resultKey = (id: string, rung: number) => `${id}@${rung}`;

/** How many of `n` finished candidates a rung promotes: ceil(n / eta), at least 1 when n > 0. */
export const promoted = (n: number, eta: number) => (n > 0 ? Math.max(1, Math.ceil(n / eta)) : 0);

/** The rungs' epoch totals: minEpochs·eta^r up to maxEpochs (the last one clamped to it). */
export function rungEpochs(minEpochs: number, maxEpochs: number, eta: number): number[] {
  const out: number[] = [];
  for (let e = minEpochs; ; e = Math.round(e * eta)) {
    if (e >= maxEpochs) { out.push(maxEpochs); break; }
    out.push(e);
  }
  return out;
}

/**
 * The ids of a rung's finished (not failed) jobs, best first: by score, or by Pareto rank of score
 * and cost (ties: by id). Under 'pareto' every point of a job (its own and its `forms`) is ranked,
 * and the job takes the place of its best placed point.
 */
export function rank(jobs: { id: string; r: JobResult }[], promote: Promote): string[] {
  const sorted = [...jobs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (promote === 'accuracy') return sorted.sort((a, b) => b.r.score - a.r.score).map((j) => j.id);
  const pts: Objectives[] = [], owner: number[] = [];
  sorted.forEach((j, k) => {
    if (!j.r.cost) throw new Error(`promote 'pareto': the result of ${j.id} has no cost (latency, size)`);
    for (const f of [{ score: j.r.score, cost: j.r.cost }, ...(j.r.forms ?? [])]) {
      pts.push({ accuracy: f.score, ...f.cost });
      owner.push(k);
    }
  });
  const out: string[] = [], seen = new Set<number>();
  for (const i of paretoOrder(pts)) if (!seen.has(owner[i])) { seen.add(owner[i]); out.push(sorted[owner[i]].id); }
  return out;
}

/** Whether any of a result's scores (its own or its forms') is above `floor`. */
const aboveFloor = (r: JobResult, floor: number) => r.score > floor || (r.forms ?? []).some((f) => f.score > floor);

export async function successiveHalving(o: HalvingOptions): Promise<HalvingResult> {
  if (!(o.eta >= 2)) throw new Error(`eta must be >= 2, got ${o.eta}`);
  if (!o.rungEpochs.length || o.rungEpochs.some((e, i) => !Number.isInteger(e) || e < 1 || (i > 0 && e <= o.rungEpochs[i - 1]))) throw new Error(`rung epochs must be increasing positive integers, got ${o.rungEpochs}`);
  const t0 = o.now();
  const log = o.log ?? (() => {});
  const R = o.rungEpochs.length;
  const results = new Map<string, JobResult>();
  const skipped: Skip[] = [];
  // Measured ms per epoch: per candidate, and the worst ratio to its estimate (for candidates not yet measured).
  const rate = new Map<string, number>();
  // How far off the prior estimates were: the largest actual/estimated ratio of the last 3 first
  // measurements of the candidate's family (of any family while its own has none).
  const ratios = new Map<string, number[]>(), all: number[] = [];
  const fam = (id: string) => o.family?.(id) ?? '';
  const correction = (id: string) => { const r = ratios.get(fam(id)) ?? all; return r.length ? Math.max(...r.slice(-3)) : 1; };
  let trained = 0, reused = 0, abandoned = 0;
  // Measured per-job overhead (JobResult.extraMs), per candidate.
  const extra = new Map<string, number>();
  const estimate = (id: string, epochs: number) => {
    const r = rate.get(id);
    return r !== undefined ? r * epochs + (extra.get(id) ?? 0) : o.estimateMs(id, epochs) * correction(id);
  };
  const measured = (id: string, r: JobResult, epochs: number) => {
    const x = Math.min(r.extraMs ?? 0, r.ms);
    rate.set(id, (r.ms - x) / epochs);
    extra.set(id, x);
  };
  // One bracket of successive halving over `bracketIds`, from `start` with `budgetMs` (null: none).
  const bracket = async (bracketIds: string[], start: number, budgetMs: number | null, tag: string) => {
    const deadline = (rung: number) => (budgetMs === null ? Infinity : start + ((rung + 1) / R) * (budgetMs - (o.reserveMs ?? 0)));
    let ids = [...bracketIds];
    for (let rung = 0; rung < R && ids.length; rung++) {
      const epochs = o.rungEpochs[rung], from = rung ? o.rungEpochs[rung - 1] : 0;
      const queue = ids.map((id): Job => ({ id, rung, epochs, fromEpochs: from }));
      const finished: string[] = [];
      // Earlier results first: they cost nothing.
      const todo: Job[] = [];
      for (const j of queue) {
        const d = o.done?.get(resultKey(j.id, rung));
        if (d) {
          results.set(resultKey(j.id, rung), d);
          measured(j.id, d, epochs - from);
          finished.push(j.id);
          reused++;
        } else todo.push(j);
      }
      const end = deadline(rung);
      // A pool of `concurrency` runners over the queue; each checks the deadline before starting a job.
      const running = new Set<Promise<void>>();
      const startNext = (): boolean => {
        while (todo.length) {
          const j = todo.shift()!;
          if (o.stopped?.()) { skipped.push({ id: j.id, rung, reason: 'stopped (interrupt)' }); continue; }
          const est = estimate(j.id, epochs - from);
          const left = end - o.now();
          if (est > left) {
            skipped.push({ id: j.id, rung, budget: true, reason: `estimated ${(est / 1000).toFixed(1)} s, ${(Math.max(0, left) / 1000).toFixed(1)} s of rung ${rung}'s budget left` });
            continue;
          }
          const p = (async () => {
            const r = await o.run(j);
            if (!r) { abandoned++; skipped.push({ id: j.id, rung, reason: 'abandoned in flight (budget end or interrupt)' }); return; }
            trained++;
            results.set(resultKey(j.id, rung), r);
            if (!rate.has(j.id)) {
              const x = r.ms / Math.max(1e-9, o.estimateMs(j.id, epochs - from));
              all.push(x);
              ratios.set(fam(j.id), [...(ratios.get(fam(j.id)) ?? []), x]);
            }
            measured(j.id, r, epochs - from);
            finished.push(j.id);
          })();
          running.add(p);
          // A job's error reaches the caller through Promise.race below; this cleanup chain must not reject on its own.
          p.then(() => running.delete(p), () => running.delete(p));
          return true;
        }
        return false;
      };
      while (running.size < o.concurrency && startNext()) { /* fill the slots */ }
      while (running.size) {
        await Promise.race(running);
        while (running.size < o.concurrency && startNext()) { /* refill */ }
      }
      if (o.stopped?.()) break;
      if (rung + 1 < R) {
        const ok = finished.filter((id) => !results.get(resultKey(id, rung))!.failed).map((id) => ({ id, r: results.get(resultKey(id, rung))! }));
        const floor = o.floor ?? -Infinity;
        const ranked = [...rank(ok.filter((j) => aboveFloor(j.r, floor)), o.promote ?? 'accuracy'), ...rank(ok.filter((j) => !aboveFloor(j.r, floor)), o.promote ?? 'accuracy')];
        const k = promoted(ranked.length, o.eta);
        ids = ranked.slice(0, k);
        const failed = finished.length - ranked.length;
        log(`${tag}rung ${rung} (${epochs} epoch${epochs > 1 ? 's' : ''}): ${finished.length} finished${failed ? ` (${failed} failed)` : ''}; promoting the best ${k} ${o.promote === 'pareto' ? 'by Pareto rank' : 'by accuracy'} to ${o.rungEpochs[rung + 1]} epochs`);
      } else log(`${tag}rung ${rung} (${epochs} epochs): ${finished.length} finished`);
    }
  };
  await bracket(o.ids, t0, o.budgetMs, '');
  // What the rungs left of the budget goes to further brackets over the candidates rung 0 skipped
  // for the budget (each ranked and promoted among themselves), while a bracket trains something.
  for (let b = 2; o.budgetMs !== null && !o.stopped?.(); b++) {
    const left = t0 + o.budgetMs - o.now();
    const again = skipped.filter((x) => x.rung === 0 && x.budget).map((x) => x.id);
    // Not even the cheapest of them fits the new bracket's rung 0 (its 1/R of the time left): done.
    if (!again.length || again.reduce((m, id) => Math.min(m, estimate(id, o.rungEpochs[0])), Infinity) > (left - (o.reserveMs ?? 0)) / R) break;
    const before = trained;
    const kept = skipped.filter((x) => !(x.rung === 0 && x.budget));
    skipped.length = 0;
    skipped.push(...kept);
    log(`bracket ${b}: ${again.length} candidate(s) rung 0 skipped, in the ${((left - (o.reserveMs ?? 0)) / 1000).toFixed(1)} s the rungs left of the budget`);
    await bracket(again, o.now(), left, `bracket ${b}, `);
    if (trained === before) break;
  }
  const final = new Map<string, { rung: number; epochs: number; score: number }>();
  for (const id of o.ids) {
    for (let r = R - 1; r >= 0; r--) {
      const res = results.get(resultKey(id, r));
      if (res && !res.failed) { final.set(id, { rung: r, epochs: o.rungEpochs[r], score: res.score }); break; }
    }
  }
  return { results, final, skipped, trained, reused, abandoned, elapsedMs: o.now() - t0 };
}
