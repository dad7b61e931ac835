// The search space of `distill sweep`: axes (conv blocks, hidden width, depth, activation, T, alpha), the
// candidates they span (the full grid, or a seeded random sample of it), a canonical key and hash
// per candidate, and the space read from flags or from a JSON / simple YAML file. Pure functions.

import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { Rng } from '../nn/rng.js';

export interface SearchSpace {
  /** Conv stems: each the output channels of its blocks (k=3 conv, relu, maxpool:2); [] is none (an MLP). */
  conv: number[][];
  widths: number[];
  depths: number[];
  activations: ('relu' | 'gelu')[];
  T: number[];
  alpha: number[];
}

/**
 * One student to try: `depth` hidden dense layers of `width` units (after `conv`'s blocks and a
 * flatten, when given), and its KD settings.
 */
export interface Candidate {
  /** Output channels of the conv blocks (k=3 conv → relu → maxpool:2 each); absent or empty: an MLP. */
  conv?: number[];
  width: number;
  depth: number;
  activation: 'relu' | 'gelu';
  T: number;
  alpha: number;
}

export const DEFAULT_SPACE: SearchSpace = { conv: [[]], widths: [16, 32, 64, 128], depths: [1, 2], activations: ['relu'], T: [4], alpha: [0.9] };

export const AXES = ['conv', 'widths', 'depths', 'activations', 'T', 'alpha'] as const;
export type Axis = (typeof AXES)[number];

/** The values of one axis from text ("16,32,64") or a JSON array; `where` names the flag or file key at fault. */
export function parseAxis(axis: Axis, raw: unknown, where: string): SearchSpace[Axis] {
  const items = Array.isArray(raw) ? raw.map((x) => (Array.isArray(x) ? x.join('-') : String(x).trim())) : typeof raw === 'string' || typeof raw === 'number' ? String(raw).split(',').map((s) => s.trim()) : null;
  if (!items || !items.length || items.some((s) => s === '')) throw new ConfigError(`${where}: expected a comma-separated list (e.g. ${example(axis)}), got ${JSON.stringify(raw)}`);
  const uniq = <T>(a: T[]) => [...new Set(a)];
  if (axis === 'conv') {
    const out = new Map<string, number[]>();
    for (const s of items) {
      if (s === 'none') { out.set('', []); continue; }
      const ch = s.split('-').map((x) => Number(x.trim()));
      if (!ch.length || ch.length > 6 || ch.some((x) => !Number.isInteger(x) || x < 1 || x > 4096)) throw new ConfigError(`${where}: '${s}' is not a conv stem: the output channels of 1 to 6 blocks (each k=3 conv, relu, maxpool:2) joined by '-', e.g. 8-16, or 'none' for no conv`);
      out.set(ch.join('-'), ch);
    }
    return [...out.values()];
  }
  if (axis === 'activations') {
    const bad = items.find((s) => s !== 'relu' && s !== 'gelu');
    if (bad !== undefined) throw new ConfigError(`${where}: '${bad}' is not an activation (relu or gelu)`);
    return uniq(items) as ('relu' | 'gelu')[];
  }
  const nums = items.map((s) => Number(s));
  items.forEach((s, i) => {
    const x = nums[i];
    const ok = axis === 'widths' ? Number.isInteger(x) && x >= 1 && x <= 65536
      : axis === 'depths' ? Number.isInteger(x) && x >= 0 && x <= 16
        : axis === 'T' ? Number.isFinite(x) && x > 0 && x <= 1000
          : Number.isFinite(x) && x >= 0 && x <= 1;
    if (!ok) throw new ConfigError(`${where}: '${s}' is not ${axis === 'widths' ? 'a width (integer 1..65536)' : axis === 'depths' ? 'a depth (integer 0..16 hidden layers)' : axis === 'T' ? 'a temperature (> 0)' : 'an alpha (0..1)'}`);
  });
  return uniq(nums);
}

function example(axis: Axis): string {
  return { conv: 'none,8-16,16-32', widths: '16,32,64', depths: '1,2', activations: 'relu,gelu', T: '2,4,8', alpha: '0.5,0.9' }[axis];
}

/**
 * A space file: JSON ({"widths":[16,32],"T":[2,4]}) or YAML of the same keys, each a flow list
 * (`widths: [16, 32]`), a comma list (`T: 2,4`) or a block list (`widths:` then `  - 16` lines).
 */
export function parseSpaceText(text: string, file: string): Partial<Record<Axis, unknown>> {
  const t = text.trim();
  let raw: Record<string, unknown>;
  if (t.startsWith('{')) {
    try {
      raw = JSON.parse(t);
    } catch (e) {
      throw new ConfigError(`${file}: not valid JSON: ${(e as Error).message}`);
    }
  } else {
    raw = {};
    let list: string | null = null;
    text.split(/\r?\n/).forEach((line0, i) => {
      const line = line0.replace(/\s#.*$|^#.*$/, '').trimEnd();
      if (!line.trim()) return;
      const item = /^\s*-\s*(.+)$/.exec(line);
      if (item) {
        if (!list) throw new ConfigError(`${file}:${i + 1}: a list item '${line.trim()}' without a key above it`);
        (raw[list] as string[]).push(item[1].trim().replace(/^['"]|['"]$/g, ''));
        return;
      }
      const kv = /^([A-Za-z]+)\s*:\s*(.*)$/.exec(line);
      if (!kv) throw new ConfigError(`${file}:${i + 1}: expected 'key: value', got '${line.trim()}'`);
      const [, key, val] = kv;
      if (val === '') { raw[key] = []; list = key; return; }
      list = null;
      const flow = /^\[(.*)\]$/.exec(val.trim());
      raw[key] = (flow ? flow[1] : val).split(',').map((s) => s.trim().replace(/^['"]|['"]$/g, ''));
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}: expected an object of axes (${AXES.join(', ')})`);
  for (const k of Object.keys(raw)) if (!(AXES as readonly string[]).includes(k)) throw new ConfigError(`${file}: unknown axis '${k}' (axes: ${AXES.join(', ')})`);
  return raw as Partial<Record<Axis, unknown>>;
}

/**
 * Every combination of the axes, in a fixed order (widths fastest, conv slowest). A depth of 0 has
 * no width or activation: one candidate per conv stem, T and alpha.
 */
export function gridCandidates(s: SearchSpace): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  for (const conv of s.conv) for (const alpha of s.alpha) for (const T of s.T) for (const activation of s.activations) for (const depth of s.depths) for (const width of s.widths) {
    const c0: Candidate = depth === 0 ? { width: 0, depth, activation: 'relu' as const, T, alpha } : { width, depth, activation, T, alpha };
    const c = conv.length ? { conv, ...c0 } : c0;
    const k = candidateKey(c);
    if (!seen.has(k)) { seen.add(k); out.push(c); }
  }
  return out;
}

/**
 * The candidates to try: the grid in a seeded random order (so that a budget that ends early
 * skips a spread of the grid, not its last rows), the first `max` of them when given. With
 * `random`, the same: a random sample without replacement is a prefix of a random order.
 */
export function sampleCandidates(s: SearchSpace, o: { seed: number; max?: number }): Candidate[] {
  const grid = gridCandidates(s);
  const order = new Rng(o.seed ^ 0x5eed).shuffle(Uint32Array.from({ length: grid.length }, (_, i) => i));
  const all = Array.from(order, (i) => grid[i]);
  return o.max !== undefined ? all.slice(0, o.max) : all;
}

/** The conv stem of a candidate ([] for an MLP). */
export const convOf = (c: Candidate): number[] => c.conv ?? [];

/** The canonical text of a candidate: the same candidate always gives the same key. */
export function candidateKey(c: Candidate): string {
  const stem = convOf(c).length ? `conv ${convOf(c).join('-')} · ` : '';
  return `${stem}${c.depth === 0 ? 'linear' : `${c.activation} ${Array(c.depth).fill(c.width).join('-')}`} T=${c.T} alpha=${c.alpha}`;
}

/** sha256 (16 hex) of a candidate and the settings that change what training it gives (an MLP's hash is what it was before conv stems existed). */
export function candidateHash(c: Candidate, settings: unknown): string {
  const key = [c.width, c.depth, c.activation, c.T, c.alpha, ...(convOf(c).length ? [convOf(c)] : [])];
  return createHash('sha256').update(JSON.stringify({ c: key, settings })).digest('hex').slice(0, 16);
}

/** The hidden widths of a candidate (empty for a linear model). */
export const hiddenOf = (c: Candidate): number[] => Array(c.depth).fill(c.width);

/** The architecture part of a candidate (what inference speed depends on), as a key. */
export const archKey = (c: Candidate): string => `${convOf(c).length ? `conv ${convOf(c).join('-')} · ` : ''}${c.depth === 0 ? 'linear' : `${c.activation} ${hiddenOf(c).join('-')}`}`;

/** What the data must give a candidate's model: the feature count, the class count, and the image shape (C,H,W) for conv stems. */
export interface DataDims {
  inputs: number;
  classes: number;
  shape?: number[];
}

/** The (C,H,W) after each conv block of `conv` (same-size k=3 conv, then maxpool:2 halving H and W, rounded down). */
export function convShapes(conv: number[], shape: number[]): number[][] {
  const out: number[][] = [];
  let [, H, W] = shape;
  for (const ch of conv) {
    H = Math.floor(H / 2);
    W = Math.floor(W / 2);
    out.push([ch, H, W]);
  }
  return out;
}

/** Multiply-adds per sample of the candidate's conv and dense layers (its training cost, up to a constant per kind). */
export function candidateMacs(c: Candidate, d: DataDims): number {
  let m = 0, flat = d.inputs;
  const conv = convOf(c);
  if (conv.length && d.shape) {
    let [C, H, W] = d.shape;
    for (const [ch, h, w] of convShapes(conv, d.shape)) {
      m += H * W * ch * C * 9;
      [C, H, W] = [ch, h, w];
    }
    flat = C * H * W;
  }
  const dims = [flat, ...hiddenOf(c), d.classes];
  for (let i = 1; i < dims.length; i++) m += dims[i - 1] * dims[i];
  return m;
}

/**
 * The architecture structured pruning at `sparsity` leaves of a candidate (distill prune
 * --structured: round(sparsity·width) neurons of each hidden dense layer and channels of each conv
 * removed; the classifier kept), as a candidate; null when nothing can be pruned (a linear model)
 * or a layer would be left with nothing.
 */
export function prunedCandidate(c: Candidate, sparsity: number): Candidate | null {
  const keep = (w: number) => w - Math.round(sparsity * w);
  const conv = convOf(c).map(keep);
  if (!conv.length && c.depth === 0) return null;
  if (conv.some((x) => x < 1) || (c.depth > 0 && keep(c.width) < 1)) return null;
  const p: Candidate = { ...c, width: c.depth > 0 ? keep(c.width) : c.width };
  if (conv.length) p.conv = conv;
  return p;
}
