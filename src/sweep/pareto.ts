// The answer of a sweep: the Pareto front of the candidates (validation accuracy up; latency at
// batch 1, latency at batch 128 and file size down) and the pick rule that chooses one of them.
// Pure functions.
//
// Pick rule syntax: OBJECTIVE [CONDITION [and CONDITION]...]
//   OBJECTIVE  max-accuracy | min-latency@1 | min-latency@128 | min-size | min-params
//   CONDITION  under LIMIT | over ACCURACY
//   LIMIT      a latency: NUMBER ms@1, us@1, ms@128, us@128 (per batch of 1 or of 128);
//              a file size: NUMBER B, KB/kB, MB (1 KB = 1000 bytes); parameters: NUMBER params,
//              NUMBERk params, NUMBERM params
//   ACCURACY   NUMBER% (validation accuracy)
// e.g. "max-accuracy under 1ms@1", "max-accuracy under 50KB and 0.2ms@1",
// "min-latency@128 over 95%", "min-size over 97.5%". Default: max-accuracy.

import { ConfigError } from '../errors.js';

export interface Point {
  id: string;
  /** Validation accuracy in [0, 1]. */
  accuracy: number;
  /** ms per forward of a batch of 1 and of 128 on the deploy backend. */
  ms1: number;
  ms128: number;
  /** Model file bytes. */
  bytes: number;
  params: number;
}

/**
 * Files within this many bytes of each other count as the same size: two files of one
 * architecture differ only by their metadata (the epochs, T, alpha written as text), and a byte
 * of that must not put a worse model on the front.
 */
export const SIZE_SLACK_BYTES = 256;

/** -1, 0 or 1: file size a against b, equal within SIZE_SLACK_BYTES. */
const sizeCmp = (a: number, b: number) => (Math.abs(a - b) <= SIZE_SLACK_BYTES ? 0 : a < b ? -1 : 1);

/** a dominates b: no worse on every axis, better on one (file sizes equal within SIZE_SLACK_BYTES). */
export function dominates(a: Point, b: Point): boolean {
  const size = sizeCmp(a.bytes, b.bytes);
  const noWorse = a.accuracy >= b.accuracy && a.ms1 <= b.ms1 && a.ms128 <= b.ms128 && size <= 0;
  const better = a.accuracy > b.accuracy || a.ms1 < b.ms1 || a.ms128 < b.ms128 || size < 0;
  return noWorse && better;
}

/** The points no other point dominates, most accurate first. */
export function paretoFront<P extends Point>(points: P[]): P[] {
  return points.filter((p) => !points.some((q) => q !== p && dominates(q, p))).sort((a, b) => b.accuracy - a.accuracy || a.ms1 - b.ms1 || (a.id < b.id ? -1 : 1));
}

/**
 * The front of the points that learnt something: a point no better than always answering the most
 * frequent of `labels` (the validation split's) is left off it (`chance` is that share), e.g. a
 * pruned form after too short a recovery, which would otherwise sit on the front for being small.
 */
export function learntFront<P extends Point>(points: P[], labels: ArrayLike<number>): { front: P[]; chance: number; unlearnt: P[] } {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  const chance = labels.length ? Math.max(...counts.values()) / labels.length : 0;
  return { front: paretoFront(points.filter((p) => p.accuracy > chance)), chance, unlearnt: points.filter((p) => !(p.accuracy > chance)) };
}

/** The objectives successive halving ranks by (accuracy up; latency at 1 and 128, size down). */
export interface Objectives {
  accuracy: number;
  ms1: number;
  ms128: number;
  /** Model size; the sweep passes the parameter count (proportional to the file, without the metadata's few bytes of noise). */
  size: number;
}

const AXES4 = [(o: Objectives) => -o.accuracy, (o: Objectives) => o.ms1, (o: Objectives) => o.ms128, (o: Objectives) => o.size];

function dominatesObj(a: Objectives, b: Objectives): boolean {
  let better = false;
  for (const f of AXES4) {
    if (f(a) > f(b)) return false;
    if (f(a) < f(b)) better = true;
  }
  return better;
}

/** Non-dominated sorting (Deb et al., NSGA-II): fronts[0] is the points no other dominates, fronts[1] those only fronts[0] dominates, and so on (indices into `pts`). */
export function nonDominatedSort(pts: Objectives[]): number[][] {
  const n = pts.length, count = new Array<number>(n).fill(0), beats: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    if (dominatesObj(pts[i], pts[j])) { beats[i].push(j); count[j]++; } else if (dominatesObj(pts[j], pts[i])) { beats[j].push(i); count[i]++; }
  }
  const fronts: number[][] = [];
  let cur = count.map((c, i) => (c === 0 ? i : -1)).filter((i) => i >= 0);
  while (cur.length) {
    fronts.push(cur);
    const next: number[] = [];
    for (const i of cur) for (const j of beats[i]) if (--count[j] === 0) next.push(j);
    cur = next;
  }
  return fronts;
}

/**
 * The order within one front (indices into `pts`): spread along it in accuracy. The most accurate
 * point first (ties: lower latency at batch 1, then index), then each time the point whose
 * accuracy is farthest from every one already placed (max-min; ties likewise). So the first few
 * places go to the top, the bottom and the middle of the front, and a rung that promotes few
 * candidates shares them along the front. (NSGA-II's crowding distance, used before, gives every
 * objective's extremes first place: with three cost objectives against one accuracy objective
 * most of a small promotion went to the cheap end.)
 */
export function spreadOrder(pts: Objectives[], front: number[]): number[] {
  const better = (a: number, b: number) => pts[a].ms1 < pts[b].ms1 || (pts[a].ms1 === pts[b].ms1 && a < b);
  const left = [...front];
  const out: number[] = [];
  const gap = new Map<number, number>(left.map((i) => [i, Infinity]));
  while (left.length) {
    let k = 0;
    for (let j = 1; j < left.length; j++) {
      const a = left[j], b = left[k];
      const ga = gap.get(a)!, gb = gap.get(b)!;
      const wins = out.length === 0
        ? pts[a].accuracy > pts[b].accuracy || (pts[a].accuracy === pts[b].accuracy && better(a, b))
        : ga > gb || (ga === gb && better(a, b));
      if (wins) k = j;
    }
    const c = left.splice(k, 1)[0];
    out.push(c);
    for (const i of left) gap.set(i, Math.min(gap.get(i)!, Math.abs(pts[i].accuracy - pts[c].accuracy)));
  }
  return out;
}

/**
 * The order successive halving promotes in by Pareto rank: the points of the first non-dominated
 * front, then the second, ...; within a front, spread along it in accuracy (spreadOrder: the most
 * accurate first, then the least accurate, then the middle, ...). The most accurate point is
 * first of all: it is on the first front.
 */
export function paretoOrder(pts: Objectives[]): number[] {
  const out: number[] = [];
  for (const front of nonDominatedSort(pts)) out.push(...spreadOrder(pts, front));
  return out;
}

export type Metric = 'accuracy' | 'ms1' | 'ms128' | 'bytes' | 'params';

export interface Condition {
  metric: Metric;
  op: '<=' | '>=';
  value: number;
  /** The condition as written. */
  text: string;
}

export interface PickRule {
  objective: { metric: Metric; dir: 'max' | 'min' };
  conditions: Condition[];
  text: string;
}

export const DEFAULT_PICK = 'max-accuracy';

const OBJECTIVES: Record<string, PickRule['objective']> = {
  'max-accuracy': { metric: 'accuracy', dir: 'max' },
  'min-latency@1': { metric: 'ms1', dir: 'min' },
  'min-latency@128': { metric: 'ms128', dir: 'min' },
  'min-size': { metric: 'bytes', dir: 'min' },
  'min-params': { metric: 'params', dir: 'min' },
};

const SYNTAX = 'OBJECTIVE [under LIMIT | over ACCURACY%] [and ...], e.g. "max-accuracy under 1ms@1", "min-latency@128 over 95%"';

/** Parses a pick rule; a malformed one is a ConfigError naming the part at fault. */
export function parsePickRule(text: string): PickRule {
  const t = text.trim().replace(/\s+/g, ' ');
  if (!t) throw new ConfigError(`--pick: empty rule; expected ${SYNTAX}`);
  // A number and its unit may be written apart ("1 ms@1"): join them first.
  const words = t.replace(/(\d)\s+(ms|us|µs|kb|mb|b|params|k params|m params|%)(?=\s|@|$)/gi, '$1$2').replace(/(\d[kKmM]?) params/g, '$1params').split(' ');
  const obj = OBJECTIVES[words[0].toLowerCase()];
  if (!obj) throw new ConfigError(`--pick "${text}": '${words[0]}' is not an objective (one of ${Object.keys(OBJECTIVES).join(', ')})`);
  const conditions: Condition[] = [];
  let last: 'under' | 'over' | null = null;
  for (let i = 1; i < words.length;) {
    if (conditions.length) {
      if (words[i].toLowerCase() !== 'and') throw new ConfigError(`--pick "${text}": expected 'and' before '${words[i]}'`);
      i++;
    }
    // "under 1ms@1 and 50KB": a value after 'and' keeps the previous 'under' / 'over'.
    let op = words[i]?.toLowerCase();
    if (op !== 'under' && op !== 'over') {
      if (!last || words[i] === undefined || !/^[\d.]/.test(words[i])) throw new ConfigError(`--pick "${text}": expected 'under' or 'over', got '${words[i] ?? '(end)'}'`);
      op = last;
      i--;
    }
    const val = words[i + 1];
    if (val === undefined) throw new ConfigError(`--pick "${text}": '${op}' needs a value (e.g. under 1ms@1, under 50KB, over 95%)`);
    conditions.push(parseCondition(op as 'under' | 'over', val, text));
    last = op as 'under' | 'over';
    i += 2;
  }
  return { objective: obj, conditions, text: t };
}

function parseCondition(op: 'under' | 'over', val: string, text: string): Condition {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms@1|ms@128|us@1|us@128|µs@1|µs@128|%|b|kb|mb|params|kparams|mparams)$/i.exec(val);
  if (!m) throw new ConfigError(`--pick "${text}": '${val}' is not a value with a unit (latency: 1ms@1, 250us@1, 20ms@128; size: 50KB, 2MB, 800B; parameters: 20kparams; accuracy: 95%)`);
  const x = Number(m[1]), unit = m[2].toLowerCase();
  let metric: Metric, value: number;
  if (unit === '%') { metric = 'accuracy'; value = x / 100; if (x > 100) throw new ConfigError(`--pick "${text}": '${val}': an accuracy is at most 100%`); }
  else if (unit.includes('@')) { metric = unit.endsWith('@128') ? 'ms128' : 'ms1'; value = unit.startsWith('ms') ? x : x / 1000; }
  else if (unit.endsWith('params')) { metric = 'params'; value = x * (unit === 'kparams' ? 1e3 : unit === 'mparams' ? 1e6 : 1); }
  else { metric = 'bytes'; value = x * (unit === 'kb' ? 1e3 : unit === 'mb' ? 1e6 : 1); }
  if (op === 'over' && metric !== 'accuracy') throw new ConfigError(`--pick "${text}": 'over ${val}': 'over' takes an accuracy (e.g. over 95%); limits on latency, size and parameters use 'under'`);
  if (op === 'under' && metric === 'accuracy') throw new ConfigError(`--pick "${text}": 'under ${val}': an accuracy is a floor ('over ${val}')`);
  return { metric, op: op === 'under' ? '<=' : '>=', value, text: `${op} ${val}` };
}

export function meets(p: Point, c: Condition): boolean {
  return c.op === '<=' ? p[c.metric] <= c.value : p[c.metric] >= c.value;
}

/**
 * The point the rule picks among `points` (the Pareto front, usually): those meeting every
 * condition, best by the objective (ties: more accurate, then faster at batch 1, then id).
 * null when none meets the conditions.
 */
export function pick<P extends Point>(points: P[], rule: PickRule): P | null {
  const ok = points.filter((p) => rule.conditions.every((c) => meets(p, c)));
  if (!ok.length) return null;
  const s = rule.objective.dir === 'max' ? -1 : 1, m = rule.objective.metric;
  return [...ok].sort((a, b) => s * (a[m] - b[m]) || b.accuracy - a.accuracy || a.ms1 - b.ms1 || (a.id < b.id ? -1 : 1))[0];
}
