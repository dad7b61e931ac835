// Pruning (reference, plain TypeScript over a model's flat parameters): structured pruning that
// removes whole hidden neurons of dense layers and whole output channels of conv layers and
// slices everything downstream (batch norm, depthwise convs, the next dense's input columns
// through flatten/gap, the next conv's input channels), giving a genuinely smaller model; and
// unstructured magnitude masks over weight tensors, kept through training by the trainer (the
// mask is re-applied to the parameters and the optimizer state after every update). Schedules:
// one-shot, or gradual with Zhu & Gupta's (2017) cubic s_t = s_f·(1 − (1 − t/T)³).
//
// Removing a channel is defined as zeroing it: its producer row (weights and bias), the batch
// norm gamma/beta and depthwise filters that follow it. A channel zeroed that way outputs exactly
// 0 after ReLU/GELU/pooling, so the sliced model computes the same logits as the masked one.

import { ConfigError, ShapeError } from '../errors.js';
import type { Backend } from '../backends/backend.js';
import type { F32 } from '../kernels/signatures.js';
import { Sequential } from '../nn/sequential.js';
import { layerShapes, stateShapes, type ModelConfig, type ParsedLayer } from '../nn/spec.js';

/** How the channels of a layer are ranked for structured pruning (lowest score removed first). */
export type PruneCriterion = 'l1' | 'l2' | 'io';
export const PRUNE_CRITERIA: readonly PruneCriterion[] = ['l1', 'l2', 'io'];

/** A layer whose output neurons/channels can be removed, and what follows them. */
export interface ChannelGroup {
  /** Index into config.layers of the dense or conv layer that makes the channels. */
  layer: number;
  spec: string;
  kind: 'dense' | 'conv';
  /** State name prefix, e.g. layers.0 (weight, bias). */
  name: string;
  /** Output neurons / channels. */
  width: number;
  /**
   * Batch norms and depthwise convs whose channels follow this layer's: channel j of the
   * producer is their channels (features) j·mult … (j+1)·mult − 1 (mult > 1 after a depthwise
   * multiplier, and H·W per channel for a batch norm after flatten).
   */
  followers: { layer: number; name: string; kind: 'bn' | 'dw'; mult: number; dwMult: number; filter: number }[];
  /**
   * The layer that reads the channels: a dense (channel j = input columns j·block … (j+1)·block − 1,
   * block = mult·H·W through flatten, mult through gap or when flat) or a conv with groups 1
   * (channel j = input channels j·mult … (j+1)·mult − 1).
   */
  consumer: { layer: number; name: string; kind: 'dense' | 'conv'; block: number; inFeatures: number; filter: number };
}

/** The layers of `config` that structured pruning can shrink, and why the others cannot. */
export function channelGroups(config: ModelConfig): { groups: ChannelGroup[]; skipped: { layer: number; spec: string; reason: string }[] } {
  const { parsed, shapes } = layerShapes(config);
  const inShape = (i: number) => (i === 0 ? config.input : shapes[i - 1]);
  const stateName: string[] = [];
  let k = 0;
  for (const l of parsed) stateName.push(l.kind === 'dense' || l.kind === 'conv' || l.kind === 'bn' ? `layers.${k++}` : '');
  const lastDense = parsed.map((l) => l.kind).lastIndexOf('dense');
  const groupsOf = (l: ParsedLayer & { kind: 'conv' }, C: number) => (l.groups === 'dw' ? C : l.groups);
  const groups: ChannelGroup[] = [], skipped: { layer: number; spec: string; reason: string }[] = [];
  parsed.forEach((l, i) => {
    const spec = config.layers[i];
    if (l.kind !== 'dense' && l.kind !== 'conv') return;
    if (i === lastDense) { skipped.push({ layer: i, spec, reason: 'the classifier (logits) layer is never pruned' }); return; }
    if (l.kind === 'conv' && groupsOf(l, inShape(i)[0]) !== 1) {
      skipped.push({ layer: i, spec, reason: l.groups === 'dw' ? 'a depthwise conv follows the channels of its input' : 'a grouped conv keeps its channel count a multiple of its groups' });
      return;
    }
    const followers: ChannelGroup['followers'] = [];
    let mult = 1, block = 0, j = i + 1;
    for (; j < parsed.length; j++) {
      const f = parsed[j];
      if (f.kind === 'relu' || f.kind === 'gelu' || f.kind === 'dropout' || f.kind === 'maxpool' || f.kind === 'avgpool') continue;
      // A batch norm after flatten normalizes each of the channel's H·W features: block entries per channel.
      if (f.kind === 'bn') { followers.push({ layer: j, name: stateName[j], kind: 'bn', mult: mult * (block || 1), dwMult: 1, filter: 1 }); continue; }
      if (f.kind === 'flatten') { const s = inShape(j); block = s.length === 3 ? s[1] * s[2] : 1; continue; }
      if (f.kind === 'gap') { block = 1; continue; }
      if (f.kind === 'conv' && f.groups === 'dw') {
        const C = inShape(j)[0], m = shapes[j][0] / C;
        followers.push({ layer: j, name: stateName[j], kind: 'dw', mult, dwMult: m, filter: f.k * f.k });
        mult *= m;
        continue;
      }
      break;
    }
    const c = parsed[j];
    if (c.kind === 'dense') {
      groups.push({ layer: i, spec, kind: l.kind, name: stateName[i], width: shapes[i][0], followers, consumer: { layer: j, name: stateName[j], kind: 'dense', block: mult * (block || 1), inFeatures: inShape(j).reduce((a, b) => a * b, 1), filter: 1 } });
    } else if (c.kind === 'conv' && groupsOf(c, inShape(j)[0]) === 1) {
      groups.push({ layer: i, spec, kind: l.kind, name: stateName[i], width: shapes[i][0], followers, consumer: { layer: j, name: stateName[j], kind: 'conv', block: mult, inFeatures: inShape(j)[0], filter: c.k * c.k } });
    } else skipped.push({ layer: i, spec, reason: `its channels feed layers[${j}] '${config.layers[j]}', a grouped conv (groups must divide the channel count)` });
  });
  return { groups, skipped };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function paramView(model: Sequential, name: string): F32 {
  const s = model.store.find(name);
  if (!s) throw new ShapeError(`pruning: the model has no parameter '${name}'`);
  return model.store.view(s);
}

/**
 * Per channel of `g`, how much it matters (higher is kept): the l1 or l2 norm of the producer's
 * weights of that channel; when a batch norm follows directly, its |gamma| instead (batch norm
 * sets the channel's scale, whatever the weights' norm). 'io' multiplies the l2 score by the l2
 * norm of the consumer's incoming weights of that channel (what the next layer makes of it).
 */
export function channelScores(model: Sequential, g: ChannelGroup, criterion: PruneCriterion = 'l2'): Float64Array {
  if (!PRUNE_CRITERIA.includes(criterion)) throw new ConfigError(`pruning criterion must be one of ${PRUNE_CRITERIA.join(', ')}, got ${JSON.stringify(criterion)}`);
  const W = paramView(model, `${g.name}.weight`), per = W.length / g.width;
  const score = new Float64Array(g.width);
  const bn = g.followers[0]?.kind === 'bn' && g.followers[0].mult === 1 ? g.followers[0] : null;
  const gamma = bn ? paramView(model, `${bn.name}.weight`) : null;
  for (let j = 0; j < g.width; j++) {
    if (gamma) { score[j] = Math.abs(gamma[j]); continue; }
    let s = 0;
    for (let q = j * per; q < (j + 1) * per; q++) s += criterion === 'l1' ? Math.abs(W[q]) : W[q] * W[q];
    score[j] = criterion === 'l1' ? s : Math.sqrt(s);
  }
  if (criterion === 'io') {
    const c = g.consumer, Wc = paramView(model, `${c.name}.weight`);
    const rows = Wc.length / (c.inFeatures * c.filter);
    for (let j = 0; j < g.width; j++) {
      let s = 0;
      for (let o = 0; o < rows; o++) {
        const base = o * c.inFeatures * c.filter + j * c.block * c.filter;
        for (let q = 0; q < c.block * c.filter; q++) s += Wc[base + q] ** 2;
      }
      score[j] *= Math.sqrt(s);
    }
  }
  return score;
}

/** Checks a pruning sparsity: a fraction in [0, 1). */
export function checkSparsity(s: number, what = 'sparsity'): number {
  if (typeof s !== 'number' || !(s >= 0 && s < 1)) throw new ConfigError(`${what} must be a fraction in [0, 1) (e.g. 0.5 removes half), got ${JSON.stringify(s)}`);
  return s;
}

/** How many of `width` units a sparsity removes: round(s·width). */
export const prunedCount = (s: number, width: number) => Math.round(s * width);

/**
 * The indices kept (ascending) when `remove` of the channels with the lowest scores go; ties go
 * to the lower index. `forced`: channels already removed, which stay removed (a gradual schedule).
 */
export function keepIndices(score: ArrayLike<number>, remove: number, forced?: ReadonlySet<number>): number[] {
  const order = range(score.length).sort((a, b) => {
    const fa = forced?.has(a) ? 1 : 0, fb = forced?.has(b) ? 1 : 0;
    return fb - fa || score[a] - score[b] || a - b;
  });
  const gone = new Set(order.slice(0, Math.max(remove, forced?.size ?? 0)));
  return range(score.length).filter((i) => !gone.has(i));
}

/** The channels to keep per prunable layer (config layer index → kept channel indices) at `sparsity`. */
export type KeepPlan = Map<number, number[]>;

/**
 * Structured pruning plan: in each prunable layer, round(sparsity·width) channels with the
 * lowest scores are removed. A layer that would be left with no channel is an error naming it.
 */
export function structuredPlan(model: Sequential, sparsity: number, criterion: PruneCriterion = 'l2', previous?: KeepPlan): KeepPlan {
  checkSparsity(sparsity);
  const { groups } = channelGroups(model.config);
  const plan: KeepPlan = new Map();
  for (const g of groups) {
    const remove = prunedCount(sparsity, g.width);
    if (remove >= g.width) throw new ConfigError(`layers[${g.layer}] '${g.spec}': sparsity ${sparsity} would remove all ${g.width} of its ${g.kind === 'dense' ? 'neurons' : 'channels'} (zero width); use a lower --sparsity or a wider layer`);
    const prev = previous?.get(g.layer);
    const forced = prev ? new Set(range(g.width).filter((i) => !prev.includes(i))) : undefined;
    plan.set(g.layer, keepIndices(channelScores(model, g, criterion), remove, forced));
  }
  return plan;
}

/**
 * How structured pruning spreads the removal over the prunable layers: 'uniform' removes the
 * same fraction of the channels of every layer; 'global' removes channels from any layer, the
 * least important per parameter saved first, until the asked fraction of the model's parameters
 * is gone (see globalStructuredPlan).
 */
export type StructuredAllocation = 'uniform' | 'global';
export const STRUCTURED_ALLOCATIONS: readonly StructuredAllocation[] = ['uniform', 'global'];

/**
 * The layer specs of `config` once the prunable layers of `counts` (config layer index → channels
 * kept) are narrowed: what sliceModel builds, without any weights.
 */
export function prunedLayerSpecs(config: ModelConfig, counts: ReadonlyMap<number, number>): string[] {
  const { parsed, shapes } = layerShapes(config);
  const layers = [...config.layers];
  let shape = config.input, cur: number | null = null;
  parsed.forEach((l, i) => {
    if (l.kind === 'dense') {
      const u = counts.get(i) ?? l.units;
      layers[i] = `dense:${u}`;
      cur = counts.has(i) ? u : null;
    } else if (l.kind === 'conv') {
      const spec = config.layers[i].trim();
      if (l.groups === 'dw') {
        if (cur !== null) {
          cur = cur * (shapes[i][0] / shape[0]);
          if (!spec.startsWith('dwconv')) layers[i] = spec.replace(/^conv:\d+x/, `conv:${cur}x`);
        }
      } else {
        const oc = counts.get(i) ?? shapes[i][0];
        layers[i] = spec.replace(/^conv:\d+x/, `conv:${oc}x`);
        cur = counts.has(i) ? oc : null;
      }
    }
    shape = shapes[i];
  });
  return layers;
}

/** Parameters of `config` with the prunable layers of `counts` narrowed (see prunedLayerSpecs). */
export function prunedParameterCount(config: ModelConfig, counts: ReadonlyMap<number, number>): number {
  const layers = prunedLayerSpecs(config, counts);
  return stateShapes({ ...config, layers }).params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}

/**
 * Parameter-budgeted global structured pruning: channels are removed one at a time, from any
 * prunable layer, until at least round(fraction · parameters) of the model's parameters are
 * gone (every parameter counts: weights, biases, batch norm, the classifier's inputs). Each
 * step removes, among the lowest-scored remaining channel of every layer, the one with the
 * least normalized importance per parameter its removal saves (the last step: of the removals
 * that complete the budget, the least important); the importance is the channel's score
 * (channelScores, `criterion`) divided by the mean score of its layer's remaining channels, so
 * layers of different scales compare. A layer keeps at least one channel; the classifier is never pruned.
 * The removal is the smallest in this order that reaches the target, so the model ends with at
 * most (1 − fraction) of its parameters, over by less than one channel's worth. `previous`:
 * channels already removed stay removed (a gradual schedule). A fraction that the layers at one
 * channel each cannot reach is an error naming the most that can be removed.
 * `finish` (default true) allows the last-step rule; a gradual schedule passes false for its
 * intermediate steps: their budgets grow a little at a time, so the last-step rule would decide
 * nearly every removal by importance alone and drift to a uniform-like allocation (measured: a
 * cubic run on the small CNN ended at conv4/conv8, the uniform plan, with it on every step).
 */
export function globalStructuredPlan(model: Sequential, fraction: number, criterion: PruneCriterion = 'l2', previous?: KeepPlan, finish = true): KeepPlan {
  checkSparsity(fraction);
  const cfg = model.config;
  const { groups } = channelGroups(cfg);
  const total = model.parameterCount, target = Math.round(fraction * total);
  const kept = groups.map((g) => {
    const prev = previous?.get(g.layer);
    if (prev && prev.length === 0) throw new ConfigError(`global structured pruning: the previous plan keeps no channel of layers[${g.layer}] '${g.spec}'`);
    return new Set(prev ?? range(g.width));
  });
  const norm = groups.map((g, k) => {
    const s = channelScores(model, g, criterion);
    let mean = 0;
    for (const c of kept[k]) mean += s[c] / kept[k].size;
    return Float64Array.from(s, (v) => (mean > 0 ? v / mean : 0));
  });
  const counts = () => new Map(groups.map((g, k) => [g.layer, kept[k].size]));
  let params = prunedParameterCount(cfg, counts());
  while (total - params < target) {
    // Each layer's candidate: its least important remaining channel, and what removing it saves.
    const cands: { k: number; j: number; imp: number; after: number; ratio: number }[] = [];
    groups.forEach((g, k) => {
      if (kept[k].size <= 1) return;
      let j = -1;
      for (const c of kept[k]) if (j < 0 || norm[k][c] < norm[k][j] || (norm[k][c] === norm[k][j] && c < j)) j = c;
      const m = counts();
      m.set(g.layer, kept[k].size - 1);
      const after = prunedParameterCount(cfg, m);
      cands.push({ k, j, imp: norm[k][j], after, ratio: norm[k][j] / Math.max(params - after, 1) });
    });
    if (!cands.length) {
      throw new ConfigError(`global structured pruning: removing ${fraction} of the ${total} parameters needs ${target} removed, but with one channel left in each prunable layer (${groups.map((g) => `layers[${g.layer}] '${g.spec}'`).join(', ')}) only ${total - params} can be; use a lower --sparsity`);
    }
    // Least importance per parameter saved; but when some removals complete the budget, the least
    // important of those (the budget no longer needs the parameters, only the accuracy matters).
    const done = finish ? cands.filter((c) => total - c.after >= target) : [];
    const pick = done.length
      ? done.reduce((a, c) => (c.imp < a.imp ? c : a))
      : cands.reduce((a, c) => (c.ratio < a.ratio ? c : a));
    const best = pick.k, bestJ = pick.j, bestParams = pick.after;
    kept[best].delete(bestJ);
    params = bestParams;
  }
  const plan: KeepPlan = new Map();
  groups.forEach((g, k) => plan.set(g.layer, [...kept[k]].sort((a, b) => a - b)));
  return plan;
}

/** The structured plan of an allocation: structuredPlan (uniform) or globalStructuredPlan (global). */
export function allocatedPlan(model: Sequential, sparsity: number, criterion: PruneCriterion = 'l2', allocation: StructuredAllocation = 'uniform', previous?: KeepPlan, finish = true): KeepPlan {
  if (!STRUCTURED_ALLOCATIONS.includes(allocation)) throw new ConfigError(`structured allocation must be one of ${STRUCTURED_ALLOCATIONS.join(', ')}, got ${JSON.stringify(allocation)}`);
  return allocation === 'global' ? globalStructuredPlan(model, sparsity, criterion, previous, finish) : structuredPlan(model, sparsity, criterion, previous);
}

/**
 * A mask over a model's flat parameter buffer: the indices that are pruned (held at exactly 0).
 * `apply` zeroes them in the parameters and in every optimizer state buffer of the same layout,
 * which after each update is the same as never updating them (elementwise optimizers).
 */
export class ParamMask {
  constructor(readonly length: number, readonly zeros: Int32Array) {}

  /** From a keep map (1 kept, 0 pruned) over the flat buffer. */
  static fromKeep(keep: ArrayLike<number>): ParamMask {
    const z: number[] = [];
    for (let i = 0; i < keep.length; i++) if (keep[i] === 0) z.push(i);
    return new ParamMask(keep.length, Int32Array.from(z));
  }

  /** Keep map as floats (1 kept, 0 pruned): the form a checkpoint stores. */
  toFloat32(): Float32Array {
    const f = new Float32Array(this.length).fill(1);
    for (const i of this.zeros) f[i] = 0;
    return f;
  }

  apply(params: F32, state: Record<string, F32> = {}): void {
    const bufs = [params, ...Object.values(state)];
    for (const b of bufs) if (b.length < this.length) throw new ShapeError(`pruning mask of ${this.length} values applied to a buffer of ${b.length}`);
    const z = this.zeros;
    for (const b of bufs) for (let q = 0; q < z.length; q++) b[z[q]] = 0;
  }
}

/** The flat-buffer entries of the channels a plan removes (producer rows and biases, followers' channels). */
export function channelMask(model: Sequential, plan: KeepPlan): ParamMask {
  const keep = new Uint8Array(model.store.length).fill(1);
  const { groups } = channelGroups(model.config);
  const zero = (name: string, from: number, to: number) => {
    const s = model.store.find(name)!;
    keep.fill(0, s.offset + from, s.offset + to);
  };
  for (const g of groups) {
    const kept = new Set(plan.get(g.layer) ?? range(g.width));
    const per = model.store.find(`${g.name}.weight`)!.size / g.width;
    for (let j = 0; j < g.width; j++) {
      if (kept.has(j)) continue;
      zero(`${g.name}.weight`, j * per, (j + 1) * per);
      zero(`${g.name}.bias`, j, j + 1);
      for (const f of g.followers) {
        if (f.kind === 'bn') { zero(`${f.name}.weight`, j * f.mult, (j + 1) * f.mult); zero(`${f.name}.bias`, j * f.mult, (j + 1) * f.mult); }
        else {
          const a = j * f.mult * f.dwMult, b = (j + 1) * f.mult * f.dwMult;
          zero(`${f.name}.weight`, a * f.filter, b * f.filter);
          zero(`${f.name}.bias`, a, b);
        }
      }
    }
  }
  return ParamMask.fromKeep(keep);
}

/**
 * The smaller model a plan describes: its dense/conv specs narrowed (dense:64 → dense:32,
 * conv:16x3 → conv:8x3, conv:16x3/dw → conv:8x3/dw), every tensor sliced consistently
 * (parameters and batch-norm running statistics), on `backend` (default: the model's).
 */
export function sliceModel(model: Sequential, plan: KeepPlan, backend: Backend = model.backend): Sequential {
  const cfg = model.config;
  const { parsed, shapes } = layerShapes(cfg);
  const { groups } = channelGroups(cfg);
  for (const layer of plan.keys()) if (!groups.some((g) => g.layer === layer)) throw new ConfigError(`pruning plan: layers[${layer}] '${cfg.layers[layer]}' cannot be pruned`);
  const out: Record<string, Float32Array> = {};
  const get = (name: string): Float32Array => {
    const p = model.store.find(name);
    if (p) return model.store.view(p);
    const b = model.buffers.find(name);
    if (!b) throw new ShapeError(`pruning: the model has no tensor '${name}'`);
    return model.buffers.view(b);
  };
  const pick = (name: string, idx: number[], per = 1) => {
    const src = get(name), dst = new Float32Array(idx.length * per);
    idx.forEach((i, q) => dst.set(src.subarray(i * per, (i + 1) * per), q * per));
    out[name] = dst;
  };
  const layers = [...cfg.layers];
  let shape = cfg.input, cur: number[] | null = null, k = 0;
  parsed.forEach((l, i) => {
    const name = `layers.${k}`;
    if (l.kind === 'dense') {
      const inF = shape.reduce((a, b) => a * b, 1);
      const inKeep = cur ?? range(inF), outKeep = plan.get(i) ?? range(l.units);
      const W = get(`${name}.weight`), w = new Float32Array(outKeep.length * inKeep.length);
      outKeep.forEach((o, r) => inKeep.forEach((c, q) => { w[r * inKeep.length + q] = W[o * inF + c]; }));
      out[`${name}.weight`] = w;
      pick(`${name}.bias`, outKeep);
      layers[i] = `dense:${outKeep.length}`;
      cur = plan.has(i) ? outKeep : null;
      k++;
    } else if (l.kind === 'conv') {
      const C = shape[0], OC = shapes[i][0], kk = l.k * l.k;
      if (l.groups === 'dw') {
        const m = OC / C, outKeep = cur ? cur.flatMap((c) => range(m).map((r) => c * m + r)) : range(OC);
        pick(`${name}.weight`, outKeep, kk);
        pick(`${name}.bias`, outKeep);
        if (!cfg.layers[i].trim().startsWith('dwconv')) layers[i] = cfg.layers[i].trim().replace(/^conv:\d+x/, `conv:${outKeep.length}x`);
        cur = cur ? outKeep : null;
      } else {
        if (l.groups !== 1 && cur) throw new ConfigError(`pruning: layers[${i}] '${cfg.layers[i]}' is a grouped conv; its input channels cannot be sliced`);
        const cin = C / l.groups, inKeep = cur ?? range(cin), outKeep = plan.get(i) ?? range(OC);
        const W = get(`${name}.weight`), w = new Float32Array(outKeep.length * inKeep.length * kk);
        outKeep.forEach((o, r) => inKeep.forEach((c, q) => w.set(W.subarray((o * cin + c) * kk, (o * cin + c + 1) * kk), (r * inKeep.length + q) * kk)));
        out[`${name}.weight`] = w;
        pick(`${name}.bias`, outKeep);
        layers[i] = cfg.layers[i].trim().replace(/^conv:\d+x/, `conv:${outKeep.length}x`);
        cur = plan.has(i) ? outKeep : null;
      }
      k++;
    } else if (l.kind === 'bn') {
      const idx = cur ?? range(shape[0]);
      for (const t of ['weight', 'bias', 'running_mean', 'running_var']) pick(`${name}.${t}`, idx);
      k++;
    } else if (l.kind === 'flatten' && cur && shape.length === 3) {
      const hw = shape[1] * shape[2];
      cur = cur.flatMap((c) => range(hw).map((p) => c * hw + p));
    }
    shape = shapes[i];
  });
  const small = new Sequential(backend, { input: [...cfg.input], layers }, 0);
  for (const s of small.store.specs) small.store.view(s).set(out[s.name]);
  for (const s of small.buffers.specs) small.buffers.view(s).set(out[s.name]);
  return small;
}

/** The weight tensors unstructured pruning masks: every dense and conv weight (not biases, not batch norm). */
export function weightTensors(model: Sequential) {
  return model.store.specs.filter((s) => s.name.endsWith('.weight') && s.shape.length >= 2);
}

/**
 * Unstructured magnitude mask: in each weight tensor, the round(sparsity·size) entries of least
 * |w| (ties: lower index first) are pruned; entries `previous` pruned stay pruned.
 */
export function magnitudeMask(model: Sequential, sparsity: number, previous?: ParamMask): ParamMask {
  checkSparsity(sparsity);
  const keep = new Uint8Array(model.store.length).fill(1);
  const was = previous ? previous.toFloat32() : null;
  const p = model.store.params;
  for (const s of weightTensors(model)) {
    const remove = prunedCount(sparsity, s.size);
    const score = new Float64Array(s.size);
    for (let q = 0; q < s.size; q++) score[q] = was && was[s.offset + q] === 0 ? -1 : Math.abs(p[s.offset + q]);
    const idx = Int32Array.from(range(s.size)).sort((a, b) => score[a] - score[b] || a - b);
    const forced = was ? score.reduce((a, v) => a + (v < 0 ? 1 : 0), 0) : 0;
    for (let q = 0; q < Math.max(remove, forced); q++) keep[s.offset + idx[q]] = 0;
  }
  return ParamMask.fromKeep(keep);
}

/** Zeros in the weight tensors (the tensors unstructured pruning masks), in total and per tensor. */
export function weightSparsity(model: Sequential): { zeros: number; total: number; sparsity: number; perTensor: { name: string; zeros: number; size: number }[] } {
  const perTensor = weightTensors(model).map((s) => {
    const v = model.store.view(s);
    let z = 0;
    for (let q = 0; q < v.length; q++) if (v[q] === 0) z++;
    return { name: s.name, zeros: z, size: s.size };
  });
  const zeros = perTensor.reduce((a, t) => a + t.zeros, 0), total = perTensor.reduce((a, t) => a + t.size, 0);
  return { zeros, total, sparsity: total ? zeros / total : 0, perTensor };
}

/** Zhu & Gupta's gradual sparsity at step t of T: s_f·(1 − (1 − t/T)³), s_f from t = T on. */
export function cubicSparsity(final: number, t: number, T: number): number {
  if (!(T > 0)) return final;
  const r = Math.min(1, Math.max(0, t / T));
  return final * (1 - (1 - r) ** 3);
}

/**
 * What the trainer asks of a pruning schedule: the mask at the start (fresh, or the one a
 * checkpoint saved), a new one after updates where the schedule says so, and the mask applied
 * to the parameters and the optimizer state after every update (pruned entries stay exactly 0).
 */
export interface TrainMask {
  /** What must match on resume (goes into the checkpoint's fingerprint). */
  readonly key: Record<string, unknown>;
  /** Before the first step of this run: `saved` is the mask a checkpoint holds (on resume). */
  start(model: Sequential, step: number, state: Record<string, F32>, saved?: Float32Array): void;
  /** After each optimizer update; `step` counts the updates done. */
  afterUpdate(model: Sequential, step: number, state: Record<string, F32>): void;
  /** The current mask as floats (1 kept, 0 pruned) for the checkpoint. */
  save(): Float32Array;
}

export interface PruneScheduleConfig {
  sparsity: number;
  structured: boolean;
  schedule: 'oneshot' | 'cubic';
  /** Cubic: the steps over which sparsity rises from 0 to `sparsity`. */
  pruneSteps?: number;
  /** Cubic: steps between mask updates (default: pruneSteps/16, at least 1). */
  every?: number;
  criterion?: PruneCriterion;
  /** Structured: how the removal is spread over the layers (default 'uniform'). */
  allocation?: StructuredAllocation;
}

/**
 * One-shot or cubic pruning during training. Unstructured: magnitude masks per weight tensor.
 * Structured: whole channels masked (zeroed, see channelMask); slice the model with
 * `structuredPlan`'s plan (finalPlan) once training is done.
 */
export class PruneSchedule implements TrainMask {
  private mask: ParamMask | null = null;
  private plan: KeepPlan | undefined;
  readonly key: Record<string, unknown>;
  readonly every: number;

  constructor(readonly cfg: PruneScheduleConfig) {
    checkSparsity(cfg.sparsity);
    if (cfg.schedule !== 'oneshot' && cfg.schedule !== 'cubic') throw new ConfigError(`pruning schedule must be oneshot or cubic, got ${JSON.stringify(cfg.schedule)}`);
    if (cfg.schedule === 'cubic' && !(Number.isInteger(cfg.pruneSteps) && cfg.pruneSteps! > 0)) throw new ConfigError(`cubic pruning needs a positive whole number of pruning steps, got ${cfg.pruneSteps}`);
    this.every = cfg.every ?? Math.max(1, Math.floor((cfg.pruneSteps ?? 16) / 16));
    if (!Number.isInteger(this.every) || this.every < 1) throw new ConfigError(`pruning: steps between mask updates must be a positive integer, got ${cfg.every}`);
    // 'uniform' (the default) stays out of the key: checkpoints from before the option still resume.
    const { allocation, ...rest } = cfg;
    this.key = { ...rest, every: this.every, criterion: cfg.criterion ?? 'l2', ...(allocation && allocation !== 'uniform' ? { allocation } : {}) };
    if (cfg.allocation !== undefined && !STRUCTURED_ALLOCATIONS.includes(cfg.allocation)) throw new ConfigError(`structured allocation must be one of ${STRUCTURED_ALLOCATIONS.join(', ')}, got ${JSON.stringify(cfg.allocation)}`);
  }

  /** The sparsity the schedule asks for after `step` updates. */
  target(step: number): number {
    return this.cfg.schedule === 'oneshot' ? this.cfg.sparsity : cubicSparsity(this.cfg.sparsity, step, this.cfg.pruneSteps!);
  }

  private recompute(model: Sequential, step: number): void {
    const s = this.target(step);
    if (this.cfg.structured) {
      // Global: the last-step rule only for the final budget (see globalStructuredPlan).
      this.plan = allocatedPlan(model, s, this.cfg.criterion, this.cfg.allocation, this.plan, s >= this.cfg.sparsity);
      this.mask = channelMask(model, this.plan);
    } else this.mask = magnitudeMask(model, s, this.mask ?? undefined);
  }

  private due(step: number): boolean {
    if (this.cfg.schedule === 'oneshot') return false;
    const T = this.cfg.pruneSteps!;
    return step <= T && (step % this.every === 0 || step === T);
  }

  start(model: Sequential, step: number, state: Record<string, F32>, saved?: Float32Array): void {
    if (saved) {
      if (saved.length !== model.store.length) throw new ShapeError(`pruning mask in the checkpoint has ${saved.length} values, the model needs ${model.store.length}`);
      this.mask = ParamMask.fromKeep(saved);
      if (this.cfg.structured) this.plan = planFromMask(model, this.mask);
    } else this.recompute(model, step);
    this.mask!.apply(model.store.params, state);
  }

  afterUpdate(model: Sequential, step: number, state: Record<string, F32>): void {
    if (this.due(step)) this.recompute(model, step);
    this.mask!.apply(model.store.params, state);
  }

  save(): Float32Array {
    if (!this.mask) throw new Error('PruneSchedule.save() before start()');
    return this.mask.toFloat32();
  }

  /** Structured: the channels kept by the mask now (slice the model with it). */
  finalPlan(): KeepPlan {
    if (!this.plan) throw new Error('PruneSchedule.finalPlan(): structured pruning has not started');
    return this.plan;
  }
}

/** The structured plan a channel mask encodes (a producer row all zero in the mask = removed). */
function planFromMask(model: Sequential, mask: ParamMask): KeepPlan {
  const f = mask.toFloat32(), plan: KeepPlan = new Map();
  for (const g of channelGroups(model.config).groups) {
    const b = model.store.find(`${g.name}.bias`)!;
    plan.set(g.layer, range(g.width).filter((j) => f[b.offset + j] !== 0));
  }
  return plan;
}
