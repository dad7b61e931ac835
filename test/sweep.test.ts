// distill sweep's library (src/sweep/): the search space, successive halving under a budget (on
// an injected clock: deterministic), resume from finished results, the Pareto front, the pick
// rule, and the sweep.jsonl journal.

import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { archKey, candidateHash, candidateKey, candidateMacs, gridCandidates, parseAxis, parseSpaceText, prunedCandidate, sampleCandidates, type Candidate, type SearchSpace } from '../src/sweep/space.js';
import { candidateModel } from '../src/sweep/candidate.js';
import { createHash } from 'node:crypto';
import { promoted, rank, resultKey, rungEpochs, successiveHalving, type Job, type JobResult } from '../src/sweep/halving.js';
import { dominates, learntFront, nonDominatedSort, paretoFront, paretoOrder, parsePickRule, pick, spreadOrder, type Point } from '../src/sweep/pareto.js';
import { appendJournal, readJournal, type SweepLine } from '../src/sweep/journal.js';
import { formOf, scatterChart, type SweepRow } from '../src/cli/sweep-report.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('search space', () => {
  const space: SearchSpace = { conv: [[]], widths: [16, 32], depths: [1, 2], activations: ['relu', 'gelu'], T: [2, 4], alpha: [0.5] };
  it('the grid is every combination once; a depth of 0 is one linear candidate per T and alpha', () => {
    expect(gridCandidates(space)).toHaveLength(2 * 2 * 2 * 2);
    expect(new Set(gridCandidates(space).map(candidateKey)).size).toBe(16);
    const lin = gridCandidates({ ...space, depths: [0, 1] });
    expect(lin.filter((c) => c.depth === 0)).toHaveLength(2); // T 2, 4
    expect(lin).toHaveLength(2 + 8);
  });
  it('sampling is seeded: the same seed gives the same order, a cap takes a prefix of it', () => {
    const a = sampleCandidates(space, { seed: 3 }).map(candidateKey), b = sampleCandidates(space, { seed: 3 }).map(candidateKey);
    expect(a).toEqual(b);
    expect(sampleCandidates(space, { seed: 4 }).map(candidateKey)).not.toEqual(a);
    expect(sampleCandidates(space, { seed: 3, max: 5 }).map(candidateKey)).toEqual(a.slice(0, 5));
    expect(new Set(a)).toEqual(new Set(gridCandidates(space).map(candidateKey)));
  });
  it('the hash changes with the candidate and with the training settings', () => {
    const [c1, c2] = gridCandidates(space);
    expect(candidateHash(c1, { lr: 0.05 })).toBe(candidateHash({ ...c1 }, { lr: 0.05 }));
    expect(candidateHash(c1, { lr: 0.05 })).not.toBe(candidateHash(c2, { lr: 0.05 }));
    expect(candidateHash(c1, { lr: 0.05 })).not.toBe(candidateHash(c1, { lr: 0.1 }));
  });
  it('conv stems: parsed from flags, JSON and YAML; a grid axis; an MLP candidate keeps the hash it had before the axis existed', () => {
    expect(parseAxis('conv', 'none, 8-16,16-32,8-16', '--conv')).toEqual([[], [8, 16], [16, 32]]);
    expect(parseAxis('conv', [[8, 16], 'none'], 's.json: conv')).toEqual([[8, 16], []]);
    expect(parseSpaceText('conv: [none, 4-8]\nwidths: 16', 's.yaml')).toEqual({ conv: ['none', '4-8'], widths: ['16'] });
    expect(() => parseAxis('conv', '8-x', '--conv')).toThrow(/--conv: '8-x' is not a conv stem: the output channels of 1 to 6 blocks/);
    expect(() => parseAxis('conv', '0', '--conv')).toThrow(/'0' is not a conv stem/);
    const g = gridCandidates({ ...space, conv: [[], [4, 8]], depths: [0, 1] });
    expect(g).toHaveLength(2 * (2 + 8)); // each stem: 2 linear heads (T 2, 4) and 8 hidden ones
    expect(g.filter((c) => c.conv).map(candidateKey)).toContain('conv 4-8 · linear T=2 alpha=0.5');
    expect(g.filter((c) => c.conv).map(candidateKey)).toContain('conv 4-8 · gelu 32 T=4 alpha=0.5');
    // The MLP candidates and their order are those of the space without the axis (a sweep without --conv is the same sweep).
    expect(g.filter((c) => !c.conv).map(candidateKey)).toEqual(gridCandidates({ ...space, depths: [0, 1] }).map(candidateKey));
    const mlp: Candidate = { width: 16, depth: 1, activation: 'relu', T: 2, alpha: 0.5 };
    const before = createHash('sha256').update(JSON.stringify({ c: [16, 1, 'relu', 2, 0.5], settings: { lr: 1 } })).digest('hex').slice(0, 16);
    expect(candidateHash(mlp, { lr: 1 })).toBe(before);
    expect(candidateHash({ ...mlp, conv: [] }, { lr: 1 })).toBe(before);
    expect(candidateHash({ ...mlp, conv: [4, 8] }, { lr: 1 })).not.toBe(before);
    expect(archKey({ ...mlp, conv: [4, 8] })).toBe('conv 4-8 · relu 16');
  });
  it('a conv candidate\'s model: k=3 conv → relu → maxpool:2 per block, flatten, the dense head; flat data or too many blocks are ConfigErrors naming --conv', () => {
    const c: Candidate = { conv: [8, 16], width: 32, depth: 1, activation: 'gelu', T: 4, alpha: 0.9 };
    const img = { inputs: 784, classes: 10, shape: [1, 28, 28] };
    expect(candidateModel(c, img)).toEqual({ input: [1, 28, 28], layers: ['conv:8x3', 'relu', 'maxpool:2', 'conv:16x3', 'relu', 'maxpool:2', 'flatten', 'dense:32', 'gelu', 'dense:10'] });
    expect(candidateModel({ ...c, depth: 0 }, img)).toEqual({ input: [1, 28, 28], layers: ['conv:8x3', 'relu', 'maxpool:2', 'conv:16x3', 'relu', 'maxpool:2', 'flatten', 'dense:10'] });
    expect(candidateModel({ ...c, conv: undefined }, img)).toEqual({ layers: [784, 32, 10], activation: 'gelu' });
    expect(() => candidateModel(c, { inputs: 784, classes: 10 })).toThrow(/--conv 8-16: conv candidates need image data with a \(C,H,W\) sample shape; this data's samples are flat \(784 features\); use --conv none/);
    expect(() => candidateModel({ ...c, conv: [1, 1, 1, 1, 1] }, img)).toThrow(/--conv 1-1-1-1-1: 5 blocks of maxpool:2 do not fit the 1×28×28 images/);
    // Multiply-adds: 28·28·8·9 + 14·14·16·8·9 for the convs, then 16·7·7 → 32 → 10.
    expect(candidateMacs(c, img)).toBe(28 * 28 * 8 * 9 + 14 * 14 * 16 * 8 * 9 + 784 * 32 + 32 * 10);
    expect(candidateMacs({ ...c, conv: undefined }, img)).toBe(784 * 32 + 32 * 10);
  });
  it('the pruned architecture of a candidate: round(s·width) neurons and channels removed, the classifier kept; null when nothing can be pruned', () => {
    const c: Candidate = { conv: [8, 16], width: 32, depth: 2, activation: 'relu', T: 4, alpha: 0.9 };
    expect(prunedCandidate(c, 0.5)).toEqual({ ...c, conv: [4, 8], width: 16 });
    expect(prunedCandidate(c, 0.75)).toEqual({ ...c, conv: [2, 4], width: 8 });
    expect(prunedCandidate({ ...c, conv: undefined }, 0.25)).toEqual({ ...c, conv: undefined, width: 24 });
    expect(prunedCandidate({ ...c, conv: undefined, depth: 0 }, 0.5)).toBeNull(); // a linear model: nothing to prune
    expect(prunedCandidate({ ...c, conv: [1, 16] }, 0.5)).toBeNull(); // 1 channel at 50%: round(0.5) = 1 removed, none left
    expect(prunedCandidate({ ...c, depth: 0 }, 0.5)).toEqual({ ...c, depth: 0, conv: [4, 8] });
  });
  it('axes from text, JSON and YAML; errors name the flag or file and the value at fault', () => {
    expect(parseAxis('widths', '16, 32,32', '--widths')).toEqual([16, 32]);
    expect(parseAxis('T', [2, 4], 'f')).toEqual([2, 4]);
    expect(() => parseAxis('widths', '16,x', '--widths')).toThrow(/--widths: 'x' is not a width/);
    expect(() => parseAxis('alpha', '0.5,1.5', '--alpha')).toThrow(/--alpha: '1.5' is not an alpha/);
    expect(() => parseAxis('activations', 'relu,tanh', '--activations')).toThrow(/'tanh' is not an activation/);
    expect(() => parseAxis('depths', '', '--depths')).toThrow(ConfigError);
    expect(parseSpaceText('{"widths":[8,16],"T":[2]}', 's.json')).toEqual({ widths: [8, 16], T: [2] });
    expect(parseSpaceText('# a space\nwidths: [8, 16]\nT: 2,4\nactivations:\n  - relu\n  - gelu\n', 's.yaml')).toEqual({ widths: ['8', '16'], T: ['2', '4'], activations: ['relu', 'gelu'] });
    expect(() => parseSpaceText('width: [8]', 's.yaml')).toThrow(/s\.yaml: unknown axis 'width'/);
    expect(() => parseSpaceText('widths [8]', 's.yaml')).toThrow(/s\.yaml:1: expected 'key: value'/);
    expect(() => parseSpaceText('{"widths": [8', 's.json')).toThrow(/s\.json: not valid JSON/);
  });
});

/** A fake sweep: candidate i has score score(i) and costs cost(i) virtual ms per epoch; the clock only moves when a job runs. */
function fake(n: number, o: { cost: (i: number) => number; score: (i: number, epochs: number) => number; estimateFactor?: number; latency?: (i: number) => JobResult['cost'] }) {
  let clock = 0;
  const runs: Job[] = [];
  const ids = Array.from({ length: n }, (_, i) => `c${i}`);
  const idx = (id: string) => Number(id.slice(1));
  return {
    ids, runs, now: () => clock,
    estimateMs: (id: string, epochs: number) => o.cost(idx(id)) * epochs * (o.estimateFactor ?? 1),
    run: async (j: Job): Promise<JobResult> => {
      runs.push(j);
      const ms = o.cost(idx(j.id)) * (j.epochs - j.fromEpochs);
      clock += ms;
      return { score: o.score(idx(j.id), j.epochs), ms, ...(o.latency ? { cost: o.latency(idx(j.id)) } : {}) };
    },
  };
}

describe('successive halving', () => {
  it('rungs and promotion counts', () => {
    expect(rungEpochs(1, 9, 3)).toEqual([1, 3, 9]);
    expect(rungEpochs(1, 10, 3)).toEqual([1, 3, 9, 10]);
    expect(rungEpochs(2, 2, 3)).toEqual([2]);
    expect(rungEpochs(1, 8, 2)).toEqual([1, 2, 4, 8]);
    expect([promoted(0, 3), promoted(1, 3), promoted(9, 3), promoted(10, 3)]).toEqual([0, 1, 3, 4]);
  });

  it('without a budget: every candidate trains a little, the best 1/eta go on, and the best candidate is the one that gets all epochs', async () => {
    const f = fake(9, { cost: () => 10, score: (i, e) => i / 10 + e / 1000 }); // c8 is the best at every rung
    const r = await successiveHalving({ ids: f.ids, rungEpochs: [1, 3, 9], eta: 3, budgetMs: null, concurrency: 1, now: f.now, estimateMs: f.estimateMs, run: f.run });
    expect(f.runs.filter((j) => j.rung === 0)).toHaveLength(9);
    expect(f.runs.filter((j) => j.rung === 1).map((j) => j.id).sort()).toEqual(['c6', 'c7', 'c8']);
    expect(f.runs.filter((j) => j.rung === 2).map((j) => j.id)).toEqual(['c8']);
    // A continued rung trains only the new epochs.
    expect(f.runs.find((j) => j.rung === 2)).toMatchObject({ epochs: 9, fromEpochs: 3 });
    expect(r.final.get('c8')).toMatchObject({ rung: 2, epochs: 9 });
    expect(r.final.get('c0')).toMatchObject({ rung: 0, epochs: 1 });
    expect(r.skipped).toEqual([]);
    expect(r.trained).toBe(13);
  });

  it('under a budget: stops within it (estimates 2× too low at first), reports what it skipped, and still keeps the best', async () => {
    // 30 candidates of 20..49 virtual ms per epoch; a budget far below the 30·1 + 10·2 + 4·6 epochs' worth.
    const f = fake(30, { cost: (i) => 20 + i, score: (i) => (i === 7 ? 0.99 : 0.5 + i / 100), estimateFactor: 0.5 });
    const budget = 1500;
    const r = await successiveHalving({ ids: f.ids, rungEpochs: [1, 3, 9], eta: 3, budgetMs: budget, concurrency: 1, now: f.now, estimateMs: f.estimateMs, run: f.run });
    expect(r.elapsedMs).toBeLessThanOrEqual(1.1 * budget);
    expect(r.skipped.length).toBeGreaterThan(0);
    for (const s of r.skipped) expect(s.reason).toMatch(/estimated [\d.]+ s, [\d.]+ s of rung \d's budget left/);
    expect(r.trained + r.skipped.length).toBeGreaterThan(30); // every rung-0 candidate was either trained or reported skipped, and more
    // c7 (the best) trained at rung 0 within rung 0's third of the budget, and was promoted to the end.
    expect(f.runs.some((j) => j.id === 'c7' && j.rung === 0)).toBe(true);
    expect(r.final.get('c7')?.rung).toBe(2);
    // The clock never passed a rung's deadline when a job started (each started job fit by its estimate).
  });

  it('what the rungs leave of the budget goes to a second bracket over the candidates rung 0 skipped; still within the budget, nothing trained twice', async () => {
    // 30 candidates of 10 ms per epoch, rungs 1, 3, 9, budget 600 ms: rung 0 (until 200 ms) trains c0..c19 and skips
    // c20..c29; rungs 1 and 2 (7 × 2 and 3 × 6 epochs) end at 520 ms, which leaves 80 ms for a second bracket.
    const f = fake(30, { cost: () => 10, score: (i, e) => i / 100 + e / 1000 });
    const logs: string[] = [];
    const r = await successiveHalving({ ids: f.ids, rungEpochs: [1, 3, 9], eta: 3, budgetMs: 600, concurrency: 1, now: f.now, estimateMs: f.estimateMs, run: f.run, log: (m) => logs.push(m) });
    expect(r.elapsedMs).toBeLessThanOrEqual(600);
    const rung0 = f.runs.filter((j) => j.rung === 0).map((j) => j.id);
    expect(rung0.slice(0, 20)).toEqual(f.ids.slice(0, 20));
    expect(rung0.length).toBeGreaterThan(20); // the second bracket trained some of c20..c29
    expect(logs).toContain('bracket 2: 10 candidate(s) rung 0 skipped, in the 0.1 s the rungs left of the budget'); // 80 ms
    expect(logs.some((m) => /^bracket 2, rung 0/.test(m))).toBe(true);
    // Nothing trained twice; a skipped job is one that never ran; the final results cover every trained candidate.
    expect(new Set(f.runs.map((j) => `${j.id}@${j.rung}`)).size).toBe(f.runs.length);
    for (const x of r.skipped) expect(f.runs.some((j) => j.id === x.id && j.rung === x.rung)).toBe(false);
    expect(r.final.size).toBe(rung0.length);
    expect(r.trained + r.skipped.length).toBeGreaterThanOrEqual(30);
    // The best of the second bracket is promoted among its own candidates.
    const b2 = rung0.slice(20);
    expect(f.runs.some((j) => j.rung === 1 && b2.includes(j.id))).toBe(true);
    // Without a budget there is nothing to skip and no second bracket.
    const g = fake(30, { cost: () => 10, score: (i, e) => i / 100 + e / 1000 });
    const glogs: string[] = [];
    await successiveHalving({ ids: g.ids, rungEpochs: [1, 3, 9], eta: 3, budgetMs: null, concurrency: 1, now: g.now, estimateMs: g.estimateMs, run: g.run, log: (m) => glogs.push(m) });
    expect(glogs.some((m) => m.startsWith('bracket'))).toBe(false);
  });

  describe('promotion by Pareto rank', () => {
    // c8 > c7 > c6 the most accurate and the slowest; c0 tiny, fast and on the front with 0.80, below
    // the top third by accuracy; c1..c5 as slow as c6 and less accurate than c0 (dominated).
    const score = (i: number, e: number) => [0.80, 0.70, 0.71, 0.72, 0.73, 0.74, 0.96, 0.97, 0.98][i] + e / 1000;
    const latency = (i: number) => (i === 0 ? { ms1: 0.005, ms128: 0.05, size: 10_000 } : i <= 6 ? { ms1: 0.02, ms128: 0.3, size: 200_000 } : i === 7 ? { ms1: 0.1, ms128: 1, size: 1_000_000 } : { ms1: 0.2, ms128: 2.5, size: 2_000_000 });
    const run = async (promote: 'pareto' | 'accuracy', budgetMs: number | null) => {
      // c8 costs 3× as much per epoch as c0; the clock is virtual (it moves as jobs run).
      const f = fake(9, { cost: (i) => (i === 0 ? 10 : i === 8 ? 30 : 20), score, latency });
      const r = await successiveHalving({ ids: f.ids, rungEpochs: [1, 3, 9], eta: 3, promote, budgetMs, concurrency: 1, now: f.now, estimateMs: f.estimateMs, run: f.run });
      return { f, r };
    };
    it("'pareto' promotes the small fast candidate of the front although its accuracy is below the top 1/eta; the most accurate still gets every rung", async () => {
      const { f, r } = await run('pareto', null);
      const rung1 = f.runs.filter((j) => j.rung === 1).map((j) => j.id);
      expect(rung1).toHaveLength(3);
      expect(rung1).toContain('c0');
      expect(rung1).toContain('c8');
      expect(rung1.filter((id) => ['c1', 'c2', 'c3', 'c4', 'c5'].includes(id))).toEqual([]); // dominated: never promoted while the front has room
      expect(f.runs.filter((j) => j.rung === 2).map((j) => j.id)).toEqual(['c8']);
      expect(r.final.get('c8')).toMatchObject({ rung: 2, epochs: 9 });
      expect(r.final.get('c0')).toMatchObject({ rung: 1, epochs: 3 });
    });
    it("'accuracy' promotes by the score alone: the small candidate stops at rung 0", async () => {
      const { f, r } = await run('accuracy', null);
      expect(f.runs.filter((j) => j.rung === 1).map((j) => j.id).sort()).toEqual(['c6', 'c7', 'c8']);
      expect(r.final.get('c0')).toMatchObject({ rung: 0, epochs: 1 });
      expect(r.final.get('c8')).toMatchObject({ rung: 2, epochs: 9 });
    });
    it('under a budget on the injected clock: held to it, and the same promotions', async () => {
      // All jobs: 9 rung-0 epochs (190 ms), rung 1 (2 more epochs of c0, c8 and one of c6/c7: 120 to 140 ms), rung 2 (6 epochs of c8: 180 ms).
      const { f, r } = await run('pareto', 600);
      expect(r.elapsedMs).toBeLessThanOrEqual(600);
      expect(r.skipped).toEqual([]);
      expect(f.runs.filter((j) => j.rung === 1).map((j) => j.id)).toContain('c0');
      expect(r.final.get('c8')?.rung).toBe(2);
      // Rung 0 alone needs 190 ms, a third of 570: below it, the rung-0 deadline skips candidates and reports them.
      const tight = await run('pareto', 450);
      expect(tight.r.elapsedMs).toBeLessThanOrEqual(450);
      expect(tight.r.skipped.length).toBeGreaterThan(0);
      expect(tight.r.skipped.every((x) => x.rung === 0)).toBe(true);
    });
    it('a score at or below the floor (chance level) ranks after every score above it: the tiny candidate that learnt nothing is not promoted', async () => {
      const f = fake(9, { cost: () => 20, score, latency });
      await successiveHalving({ ids: f.ids, rungEpochs: [1, 3, 9], eta: 3, promote: 'pareto', floor: 0.9, budgetMs: null, concurrency: 1, now: f.now, estimateMs: f.estimateMs, run: f.run });
      expect(f.runs.filter((j) => j.rung === 1).map((j) => j.id).sort()).toEqual(['c6', 'c7', 'c8']);
      // Only while nothing above the floor is left: with every score below it, the Pareto order decides again.
      const g = fake(9, { cost: () => 20, score, latency });
      await successiveHalving({ ids: g.ids, rungEpochs: [1, 3, 9], eta: 3, promote: 'pareto', floor: 0.99, budgetMs: null, concurrency: 1, now: g.now, estimateMs: g.estimateMs, run: g.run });
      expect(g.runs.filter((j) => j.rung === 1).map((j) => j.id)).toContain('c0');
    });
    it("a result without latency and size is an error under 'pareto'", () => {
      expect(() => rank([{ id: 'a', r: { score: 1, ms: 1 } }], 'pareto')).toThrow(/promote 'pareto': the result of a has no cost/);
      expect(rank([{ id: 'b', r: { score: 0.5, ms: 1 } }, { id: 'a', r: { score: 0.9, ms: 1 } }], 'accuracy')).toEqual(['a', 'b']);
    });
    it("'pareto' ranks every point of a job (its int8 and pruned forms too); the job takes its best place", () => {
      const C = (ms1: number, size: number) => ({ ms1, ms128: ms1 * 10, size });
      // b's float point is dominated by a (less accurate, slower, larger) and c's by a too; b's
      // pruned form is the fastest and smallest point of all: b goes before c.
      const jobs = [
        { id: 'a', r: { score: 0.9, ms: 1, cost: C(1, 1000) } },
        { id: 'b', r: { score: 0.8, ms: 1, cost: C(2, 2000), forms: [{ score: 0.7, cost: C(0.1, 100) }] } },
        { id: 'c', r: { score: 0.85, ms: 1, cost: C(3, 3000) } },
      ];
      expect(rank(jobs, 'pareto')).toEqual(['a', 'b', 'c']);
      // Without the form, c is first among the dominated (more accurate than b).
      expect(rank(jobs.map((j) => ({ id: j.id, r: { ...j.r, forms: undefined } })), 'pareto')).toEqual(['a', 'c', 'b']);
      // 'accuracy' ranks by the job's own score alone.
      expect(rank(jobs, 'accuracy')).toEqual(['a', 'c', 'b']);
    });
    it('a job whose float point is at chance level but whose form learnt is above the floor', async () => {
      // Rung 0 of 4 candidates promotes 2: c1 and c2 score below the floor, c2's pruned form above it.
      const ids = ['c0', 'c1', 'c2', 'c3'];
      const score: Record<string, number> = { c0: 0.9, c1: 0.05, c2: 0.05, c3: 0.08 };
      const runs: string[] = [];
      await successiveHalving({
        ids, rungEpochs: [1, 3], eta: 2, promote: 'pareto', floor: 0.1, budgetMs: null, concurrency: 1, now: () => 0, estimateMs: () => 1,
        run: async (j) => {
          if (j.rung === 1) runs.push(j.id);
          return { score: score[j.id], ms: 1, cost: { ms1: 1, ms128: 10, size: 1000 }, ...(j.id === 'c2' ? { forms: [{ score: 0.5, cost: { ms1: 0.5, ms128: 5, size: 500 } }] } : {}) };
        },
      });
      expect(runs.sort()).toEqual(['c0', 'c2']);
    });
    it('non-dominated sorting, and the order within a front spread along it in accuracy', () => {
      const O = (accuracy: number, ms1: number, ms128 = ms1 * 10, size = ms1 * 1e6) => ({ accuracy, ms1, ms128, size });
      const pts = [O(0.9, 1), O(0.8, 0.5), O(0.7, 0.1), O(0.85, 0.5), O(0.6, 1), O(0.5, 2)];
      // Front 0: 0 (most accurate), 3 (beats 1), 2 (fastest); then 1 (beaten by 3), 4 (beaten by 1), 5 (beaten by 4).
      expect(nonDominatedSort(pts).map((f) => [...f].sort())).toEqual([[0, 2, 3], [1], [4], [5]]);
      // The order: front by front; the most accurate, then the farthest from it in accuracy, ...
      expect(paretoOrder(pts)).toEqual([0, 2, 3, 1, 4, 5]);
      // One front whose cost objectives have their extremes at different points of the cheap end
      // (1: fastest at batch 1, 2: at batch 128, 3: smallest): the crowding distance would place
      // 0, 1, 2, 3 before 4, the middle; the spread places the top, the bottom, then the middle.
      const f = [O(0.9, 5, 50, 5e6), O(0.6, 1, 20, 3e6), O(0.59, 2, 10, 3e6), O(0.58, 3, 30, 1e6), O(0.75, 2.5, 25, 2.5e6)];
      expect(nonDominatedSort(f)).toHaveLength(1);
      expect(spreadOrder(f, [0, 1, 2, 3, 4])).toEqual([0, 3, 4, 1, 2]);
      expect(paretoOrder(f)).toEqual([0, 3, 4, 1, 2]);
      // Equal accuracy: the faster first, then the index.
      const t = [O(0.8, 2), O(0.8, 1, 30, 3e6), O(0.7, 0.5)];
      expect(spreadOrder(t, [0, 1, 2])).toEqual([1, 2, 0]);
    });
  });

  it('a budget too small for anything trains nothing and skips everything', async () => {
    const f = fake(5, { cost: () => 100, score: () => 0.5 });
    const r = await successiveHalving({ ids: f.ids, rungEpochs: [1, 3], eta: 3, budgetMs: 50, concurrency: 1, now: f.now, estimateMs: f.estimateMs, run: f.run });
    expect(f.runs).toEqual([]);
    expect(r.skipped).toHaveLength(5);
    expect(r.elapsedMs).toBe(0);
  });

  it('resume: finished jobs are not run again, and the rest continues to the same answer', async () => {
    const score = (i: number, e: number) => ((i * 37) % 11) / 11 + e / 100;
    const full = fake(12, { cost: () => 5, score });
    const ref = await successiveHalving({ ids: full.ids, rungEpochs: [1, 3, 9], eta: 3, budgetMs: null, concurrency: 1, now: full.now, estimateMs: full.estimateMs, run: full.run });
    // A first run stopped after 7 jobs; its results are what sweep.jsonl would hold.
    const first = fake(12, { cost: () => 5, score });
    let n = 0;
    const part = await successiveHalving({ ids: first.ids, rungEpochs: [1, 3, 9], eta: 3, budgetMs: null, concurrency: 1, now: first.now, estimateMs: first.estimateMs, run: async (j) => (n++ < 7 ? first.run(j) : null) });
    expect(part.trained).toBe(7);
    const again = fake(12, { cost: () => 5, score });
    const r = await successiveHalving({ ids: again.ids, rungEpochs: [1, 3, 9], eta: 3, budgetMs: null, concurrency: 1, now: again.now, estimateMs: again.estimateMs, run: again.run, done: part.results });
    expect(r.reused).toBe(7);
    for (const j of again.runs) expect(part.results.has(resultKey(j.id, j.rung))).toBe(false);
    expect(r.trained + r.reused).toBe(ref.trained);
    expect([...r.final]).toEqual([...ref.final]);
    // A third run with everything done trains nothing.
    const none = fake(12, { cost: () => 5, score });
    const r3 = await successiveHalving({ ids: none.ids, rungEpochs: [1, 3, 9], eta: 3, budgetMs: null, concurrency: 1, now: none.now, estimateMs: none.estimateMs, run: none.run, done: r.results });
    expect(none.runs).toEqual([]);
    expect(r3.trained).toBe(0);
  });

  it('a failed job (diverged) is finished, not promoted, and not final', async () => {
    const f = fake(6, { cost: () => 1, score: (i) => i / 10 });
    const r = await successiveHalving({ ids: f.ids, rungEpochs: [1, 3], eta: 3, budgetMs: null, concurrency: 1, now: f.now, estimateMs: f.estimateMs,
      run: async (j) => { const x = await f.run(j); return j.id === 'c5' ? { ...x, score: 0, failed: true } : x; } });
    expect(f.runs.filter((j) => j.rung === 1).map((j) => j.id)).toEqual(['c4', 'c3']);
    expect(r.final.has('c5')).toBe(false);
    expect(r.final.get('c4')?.rung).toBe(1);
  });

  it('an error of a job (not a failed candidate) is the sweep\'s error, with no unhandled rejection', async () => {
    const f = fake(4, { cost: () => 1, score: () => 0.5 });
    await expect(successiveHalving({ ids: f.ids, rungEpochs: [1], eta: 3, budgetMs: null, concurrency: 2, now: f.now, estimateMs: f.estimateMs,
      run: async (j) => { if (j.id === 'c1') throw new Error('disk full'); return f.run(j); } })).rejects.toThrow('disk full');
  });

  it('runs `concurrency` jobs at once, never more', async () => {
    let active = 0, most = 0;
    const r = await successiveHalving({
      ids: Array.from({ length: 7 }, (_, i) => `c${i}`), rungEpochs: [1, 2], eta: 2, budgetMs: null, concurrency: 3, now: () => performance.now(), estimateMs: () => 1,
      run: async (j) => {
        active++; most = Math.max(most, active);
        await new Promise((res) => setTimeout(res, 5 + Number(j.id.slice(1))));
        active--;
        return { score: Number(j.id.slice(1)), ms: 5 };
      },
    });
    expect(most).toBe(3);
    expect(r.trained).toBe(7 + 4);
    expect(r.final.get('c6')?.rung).toBe(1);
  });

  it('stopped (Ctrl-C): starts nothing more and lists the rest as skipped', async () => {
    const f = fake(6, { cost: () => 1, score: () => 0.5 });
    let stop = false;
    const r = await successiveHalving({ ids: f.ids, rungEpochs: [1, 3], eta: 3, budgetMs: null, concurrency: 1, now: f.now, estimateMs: f.estimateMs, stopped: () => stop, run: async (j) => { const x = await f.run(j); if (f.runs.length === 2) stop = true; return x; } });
    expect(r.trained).toBe(2);
    expect(r.skipped.filter((s) => s.reason.startsWith('stopped'))).toHaveLength(4);
  });
});

describe('Pareto front and the pick rule', () => {
  const P = (id: string, accuracy: number, ms1: number, ms128: number, bytes: number, params = bytes / 4): Point => ({ id, accuracy, ms1, ms128, bytes, params });
  const pts = [
    P('tiny', 0.80, 0.005, 0.05, 10_000),
    P('small', 0.90, 0.01, 0.1, 40_000),
    P('mid', 0.95, 0.02, 0.3, 200_000),
    P('big', 0.97, 0.2, 2.5, 2_000_000),
    P('worse', 0.89, 0.02, 0.3, 200_000), // dominated by mid (and small)
    P('slow-tiny', 0.80, 0.5, 5, 10_000), // dominated by tiny
  ];
  it('the front: nothing on it is dominated, everything off it is', () => {
    const f = paretoFront(pts);
    expect(f.map((p) => p.id)).toEqual(['big', 'mid', 'small', 'tiny']);
    expect(dominates(pts[2], pts[4])).toBe(true);
    expect(dominates(pts[4], pts[2])).toBe(false);
    expect(dominates(pts[0], pts[0])).toBe(false);
    // One architecture's files differ by a few bytes of metadata: a less accurate one that is 1 byte smaller is still dominated.
    expect(dominates(P('81 epochs', 0.9, 0.01, 0.6, 14_900), P('3 epochs', 0.1, 0.01, 0.6, 14_899))).toBe(true);
    expect(paretoFront([P('81 epochs', 0.9, 0.01, 0.6, 14_900), P('3 epochs', 0.1, 0.01, 0.6, 14_899)]).map((p) => p.id)).toEqual(['81 epochs']);
    expect(dominates(P('a', 0.9, 0.01, 0.6, 14_900), P('b', 0.1, 0.01, 0.6, 10_000))).toBe(false); // truly smaller
  });
  it('a point no better than always answering the most frequent class is left off the front, however small', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 30 ? 0 : 1 + (i % 7))); // class 0 is 30%
    const chanceLevel = P('chance-tiny', 0.30, 0.001, 0.01, 1_000); // smallest and fastest of all: on the plain front
    const justAbove = P('learnt-tiny', 0.31, 0.001, 0.01, 1_000);
    expect(paretoFront([...pts, chanceLevel]).map((p) => p.id)).toContain('chance-tiny');
    const r = learntFront([...pts, chanceLevel], labels);
    expect(r.chance).toBeCloseTo(0.3, 12);
    expect(r.front.map((p) => p.id)).toEqual(['big', 'mid', 'small', 'tiny']);
    expect(r.unlearnt.map((p) => p.id)).toEqual(['chance-tiny']);
    expect(learntFront([...pts, justAbove], labels).front.map((p) => p.id)).toContain('learnt-tiny');
    expect(learntFront([chanceLevel], labels).front).toEqual([]);
  });
  it('rules pick what they say', () => {
    const f = paretoFront(pts);
    expect(pick(f, parsePickRule('max-accuracy'))?.id).toBe('big');
    expect(pick(f, parsePickRule('max-accuracy under 0.05ms@1'))?.id).toBe('mid');
    expect(pick(f, parsePickRule('max-accuracy under 15us@1'))?.id).toBe('small');
    expect(pick(f, parsePickRule('max-accuracy under 50KB'))?.id).toBe('small');
    expect(pick(f, parsePickRule('max-accuracy under 1ms@128 and 100kB'))?.id).toBe('small');
    expect(pick(f, parsePickRule('min-latency@128 over 95%'))?.id).toBe('mid');
    expect(pick(f, parsePickRule('min-latency@1 over 85 %'))?.id).toBe('small');
    expect(pick(f, parsePickRule('min-size over 96%'))?.id).toBe('big');
    expect(pick(f, parsePickRule('min-params'))?.id).toBe('tiny');
    expect(pick(f, parsePickRule('max-accuracy under 20kparams'))?.id).toBe('small');
    expect(pick(f, parsePickRule('max-accuracy under 1 ms@1'))?.id).toBe('big');
    expect(pick(f, parsePickRule('max-accuracy under 1us@1'))).toBeNull();
  });
  it('a malformed rule is a ConfigError naming the part at fault', () => {
    const err = (r: string) => { try { parsePickRule(r); } catch (e) { expect(e).toBeInstanceOf(ConfigError); return (e as Error).message; } return 'no error'; };
    expect(err('')).toMatch(/empty rule/);
    expect(err('max-acc')).toMatch(/'max-acc' is not an objective/);
    expect(err('max-accuracy below 1ms@1')).toMatch(/expected 'under' or 'over', got 'below'/);
    expect(err('max-accuracy under')).toMatch(/'under' needs a value/);
    expect(err('max-accuracy under 1ms')).toMatch(/'1ms' is not a value with a unit/);
    expect(err('max-accuracy under 1ms@1 5KB')).toMatch(/expected 'and' before '5KB'/);
    expect(err('max-accuracy under 1ms@1 and fast')).toMatch(/expected 'under' or 'over', got 'fast'/);
    expect(err('min-size over 1ms@1')).toMatch(/'over 1ms@1': 'over' takes an accuracy/);
    expect(err('min-size under 95%')).toMatch(/an accuracy is a floor/);
    expect(err('min-size over 120%')).toMatch(/at most 100%/);
  });
});

describe('sweep.jsonl', () => {
  const line = (hash: string, rung: number): SweepLine => ({
    hash, rung, epochs: rung + 1, key: 'relu 8', config: { width: 8, depth: 1, activation: 'relu', T: 4, alpha: 0.9 }, val_accuracy: 0.5, val_loss: 1, params: 10, bytes: 100,
    ms1: 0.01, ms128: 0.1, deploy_backend: 'js', train_seconds: 1, total_train_seconds: 1, model: 'candidates/x.safetensors', runtime: { mode: 'one-at-a-time', backend: 'js', workers: 1 }, date: '2026-01-01',
  });
  it('appends whole lines and reads them back; a cut last line (a crash mid-write) is dropped and the file truncated to match', async () => {
    const f = join(dir, 'sweep.jsonl');
    await appendJournal(f, line('a', 0));
    await appendJournal(f, line('b', 0));
    expect(readJournal(f).map((l) => l.hash)).toEqual(['a', 'b']);
    appendFileSync(f, '{"hash":"c","rung":0,"val_acc');
    expect(readJournal(f).map((l) => l.hash)).toEqual(['a', 'b']);
    expect(readFileSync(f, 'utf8').endsWith('}\n')).toBe(true);
    await appendJournal(f, line('c', 1));
    expect(readJournal(f).map((l) => `${l.hash}@${l.rung}`)).toEqual(['a@0', 'b@0', 'c@1']);
  });
  it('a file that is not a sweep journal is an error naming it and the line, and is left as it was', () => {
    const f = join(dir, 'other.jsonl');
    writeFileSync(f, '{"hash":"a","rung":0,"val_accuracy":0.5}\nnot json\n');
    expect(() => readJournal(f)).toThrow(/other\.jsonl.*line 2 is not valid JSON/);
    writeFileSync(f, '{"x":1}\n');
    expect(() => readJournal(f)).toThrow(/line 1 is not a sweep result/);
    expect(readFileSync(f, 'utf8')).toBe('{"x":1}\n');
  });
  it('readJournal of a missing file is empty', () => {
    expect(readJournal(join(dir, 'none.jsonl'))).toEqual([]);
  });
});

describe('validation split and the retrain command', () => {
  it('the validation split is seeded, disjoint from the training part, and covers the set', async () => {
    const { validationSplit } = await import('../src/cli/sweep.js');
    const a = validationSplit(1000, 0.1, 1), b = validationSplit(1000, 0.1, 1), c = validationSplit(1000, 0.1, 2);
    expect(a.val).toHaveLength(100);
    expect(a.train).toHaveLength(900);
    expect(Array.from(a.val)).toEqual(Array.from(b.val));
    expect(Array.from(a.val)).not.toEqual(Array.from(c.val));
    expect(new Set([...a.val, ...a.train]).size).toBe(1000);
    expect(() => validationSplit(1, 0.5, 1)).toThrow(/--val-fraction 0.5 leaves no training samples of 1/);
  });
  it('the retrain command has the candidate, its epochs and the sweep\'s training settings', async () => {
    const { retrainCommand } = await import('../src/cli/sweep.js');
    const v = { teacher: 'runs/t model.safetensors', data: 'fashion-mnist', batch: '128', optimizer: 'sgd', lr: '0.05', momentum: '0.9', 'weight-decay': '0', seed: '3', 'warmup-epochs': '0.5' };
    const dims = { inputs: 784, classes: 10, shape: [1, 28, 28] };
    expect(retrainCommand({ width: 64, depth: 2, activation: 'gelu', T: 2, alpha: 0.5 }, 27, v, 'runs/best', dims, 60000))
      .toBe("distill student --teacher 'runs/t model.safetensors' --data fashion-mnist --hidden 64,64 --activation gelu --temperature 2 --alpha 0.5 --epochs 27 --batch 128 --optimizer sgd --lr 0.05 --momentum 0.9 --warmup 235 --seed 3 --out runs/best");
    expect(retrainCommand({ width: 0, depth: 0, activation: 'relu', T: 4, alpha: 0.9 }, 1, { ...v, data: 'mnist', 'warmup-epochs': '0' }, 'o', dims, 8000))
      .toBe('distill student --teacher \'runs/t model.safetensors\' --layers 784,10 --temperature 4 --alpha 0.9 --epochs 1 --batch 128 --optimizer sgd --lr 0.05 --momentum 0.9 --seed 3 --out o');
    // A conv candidate: its layer specs.
    expect(retrainCommand({ conv: [8, 16], width: 32, depth: 1, activation: 'relu', T: 4, alpha: 0.9 }, 9, { ...v, data: 'mnist' }, 'o', dims, 8000))
      .toMatch(/^distill student --teacher 'runs\/t model\.safetensors' --arch conv:8x3,relu,maxpool:2,conv:16x3,relu,maxpool:2,flatten,dense:32,relu,dense:10 --temperature 4 --alpha 0\.9 --epochs 9 /);
    // A pruned pick's second step: distill prune of the retrained model, with the sweep's recovery settings.
    const { pruneCommand } = await import('../src/cli/sweep.js');
    expect(pruneCommand({ width: 64, depth: 2, activation: 'gelu', T: 2, alpha: 0.5 }, 0.75, 2, v, 'runs/best', 60000))
      .toBe("distill prune runs/best/model.safetensors --structured --sparsity 0.75 --criterion io --recover-epochs 2 --teacher 'runs/t model.safetensors' --data fashion-mnist --temperature 2 --alpha 0.5 --batch 128 --optimizer sgd --lr 0.05 --lr-schedule cosine --momentum 0.9 --warmup 235 --seed 3 --out runs/best-pruned");
    // From a logits file (distill prune takes none): the unpruned model is the recovery's teacher.
    expect(pruneCommand({ width: 64, depth: 2, activation: 'gelu', T: 2, alpha: 0.5 }, 0.5, 1, { ...v, teacher: undefined, 'teacher-logits': 'l.safetensors' } as Record<string, string | undefined>, 'b', 60000)).not.toMatch(/--teacher/);
  });
});

describe('sweep.html scatter plots', () => {
  const row = (id: string, accuracy: number, ms1: number, form: Partial<SweepRow> = {}): SweepRow => ({ id, key: id, epochs: 3, rung: 1, lastRung: true, accuracy, valLoss: 0.1, ms1, ms128: ms1 * 10, bytes: ms1 * 1e6, params: ms1 * 2.5e5, trainSeconds: 1, front: false, ...form });
  const chart = (rows: SweepRow[]) => scatterChart(rows, { title: 't', xLabel: 'x', x: (r) => r.ms1, xText: String, picked: null });
  it('each form has its marker shape (float32 ●, int8 ■, pruned ▲, pruned + int8 ◆), named in the legend only when forms are present', () => {
    expect(formOf({})).toBe('float32');
    expect(formOf({ int8: true })).toBe('int8');
    expect(formOf({ sparsity: 0.5 })).toBe('pruned');
    expect(formOf({ int8: true, sparsity: 0.5 })).toBe('pruned + int8');
    const svg = chart([row('a', 0.9, 1, { front: true }), row('a:int8', 0.9, 0.3, { int8: true, front: true }), row('a:s0.5', 0.85, 0.5, { sparsity: 0.5 }), row('a:s0.5:int8', 0.85, 0.2, { sparsity: 0.5, int8: true, front: true })]);
    const pts = [...svg.matchAll(/<(circle|rect|path) class="pt( front)?" data-id="([^"]+)" data-form="([^"]+)"/g)].map((m) => [m[3], m[1], m[4], Boolean(m[2])]);
    expect(pts.sort()).toEqual([['a', 'circle', 'float32', true], ['a:int8', 'rect', 'int8', true], ['a:s0.5', 'path', 'pruned', false], ['a:s0.5:int8', 'path', 'pruned + int8', true]]);
    // The triangle and the diamond differ: 3 corners against 4.
    const d = (id: string) => svg.match(new RegExp(`data-id="${id}"[^>]* d="([^"]+)"`))![1];
    expect(d('a:s0.5').split('L')).toHaveLength(3);
    expect(d('a:s0.5:int8').split('L')).toHaveLength(4);
    for (const f of ['float32', 'int8', 'pruned', 'pruned + int8']) expect(svg).toContain(`>${f}</text>`);
    expect(svg).toMatch(/height="356"/);
    // Float points alone: circles, no form legend, the plain height.
    const plain = chart([row('a', 0.9, 1, { front: true }), row('b', 0.8, 0.5)]);
    expect(plain).not.toMatch(/<(rect|path) class="pt/);
    expect(plain).not.toContain('>float32</text>');
    expect(plain).toMatch(/height="340"/);
  });
  it('points far below the front (chance level) sit faded on the bottom edge, so the accuracy axis spans the front', () => {
    const rows = [row('a', 0.95, 1, { front: true }), row('b', 0.9, 0.5, { front: true }), row('c', 0.88, 2), row('low', 0.1, 0.2)];
    const svg = chart(rows);
    // The axis starts 2 pt below the front's lowest point (90%) or lower, not at 10%.
    const ticks = [...svg.matchAll(/text-anchor="end">([\d.]+)<\/text>/g)].map((m) => Number(m[1]));
    expect(Math.min(...ticks)).toBeGreaterThan(80);
    expect(Math.min(...ticks)).toBeLessThanOrEqual(88);
    const low = svg.match(/<circle class="pt below" data-id="low"[^>]*fill-opacity="0.35" cx="[\d.]+" cy="([\d.]+)"/);
    expect(low).not.toBeNull();
    expect(Number(low![1])).toBeCloseTo(340 - 52, 0); // the plot's bottom edge
    expect(svg).toMatch(/1 point below [\d.]+% on this edge/);
    // c (88%, above the axis start) is drawn where it is.
    expect(svg).toMatch(/<circle class="pt" data-id="c"/);
    // With nothing far below, no note.
    expect(chart(rows.slice(0, 3))).not.toContain('on this edge');
  });
});
