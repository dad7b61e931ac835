// Models as lists of layer specs. A model config is the shape of one input sample and the layer
// specs in order, e.g. {"input":[784],"layers":["dense:128","relu","dropout:0.1","dense:10"]} or
// {"input":[1,28,28],"layers":["conv:8x3","bn","relu","maxpool:2","flatten","dense:10"]}.
// Each spec is `kind` or `kind:arg`; every layer knows its input and output shape, so a wrong
// stack fails here with the index and spec at fault, before anything is allocated.
// The older form {"layers":[784,128,10],"activation":"relu","dropout":0.1,"inputDropout":0}
// (widths, written by earlier versions and by --layers) is still read: it becomes the same
// specs, with the same parameter names and the same initialization.
//
// Image layers (NCHW; a sample is (C,H,W)):
//   conv:OCxK[/MODS]   2-D convolution, OC output channels, K×K kernel; MODS any of sS (stride,
//                      default 1), pP (zero padding, default ⌊(K−1)/2⌋: "same" size for odd K at
//                      stride 1), gG (groups dividing C and OC), dw (depthwise: groups = C),
//                      e.g. conv:16x3, conv:16x3/s2p0, conv:32x3/dw, conv:32x3/g4
//   dwconv:K[/MODS]    depthwise convolution with OC = C (conv:CxK/dw), MODS sS and pP
//   maxpool:K[/MODS]   max pooling over K×K windows, stride K unless sS, padding pP (default 0, at most K/2)
//   avgpool:K[/MODS]   average pooling, likewise (padding counts as zeros)
//   gap                global average pooling: (C,H,W) → (C), flat (no flatten needed)
//   bn                 batch norm over the first axis: BatchNorm2d on (C,H,W), BatchNorm1d on (C)
//   flatten            (C,H,W) → (C·H·W); needed before a dense layer
//
// Parameter and buffer names (PyTorch state_dict style): the layers with state (dense, conv, bn)
// are numbered in order from 0, and layer k's tensors are layers.k.weight and layers.k.bias (bn:
// gamma and beta) and, for bn, the buffers layers.k.running_mean and layers.k.running_var. For an
// MLP that is the k-th dense layer, the names earlier versions wrote.

import { ConfigError } from '../errors.js';

/** A layer spec: 'dense:128', 'relu', 'gelu', 'dropout:0.1', 'flatten', 'conv:16x3', 'maxpool:2', 'bn', ... */
export type LayerSpec = string;

export interface ModelConfig {
  /** Shape of one input sample, e.g. [784] or [1, 28, 28]. */
  input: number[];
  /** Layer specs from input to logits; the last layer's output is the class scores. */
  layers: LayerSpec[];
}

export type ActivationName = 'relu' | 'gelu';

/** The older config form: widths from input to output, one activation, dropout rates. */
export interface WidthsConfig {
  /** Widths from input to output, e.g. [784, 1200, 1200, 10]. */
  layers: number[];
  /** Hidden activation (default 'relu'). */
  activation?: ActivationName;
  /** Dropout probability after each hidden layer (default 0). */
  dropout?: number;
  /** Dropout probability on the input (default 0). */
  inputDropout?: number;
}

/** What a model can be built from: a spec config, or the older widths form. */
export type ModelSpec = ModelConfig | WidthsConfig;

/** One parsed layer spec. conv: `out` null and `groups` 'dw' for dwconv (OC = C). */
export type ParsedLayer =
  | { kind: 'dense'; units: number }
  | { kind: 'relu' }
  | { kind: 'gelu' }
  | { kind: 'dropout'; p: number }
  | { kind: 'flatten' }
  | { kind: 'conv'; out: number | null; k: number; stride: number; pad: number; groups: number | 'dw' }
  | { kind: 'maxpool' | 'avgpool'; k: number; stride: number; pad: number }
  | { kind: 'gap' }
  | { kind: 'bn' };

export const LAYER_KINDS = ['dense:UNITS', 'relu', 'gelu', 'dropout:P', 'flatten', 'conv:OCxK[/sSpPgG|dw]', 'dwconv:K[/sSpP]', 'maxpool:K[/sSpP]', 'avgpool:K[/sSpP]', 'gap', 'bn'] as const;

/** The layer kinds that need a (C,H,W) input. */
const SPATIAL = new Set(['conv', 'maxpool', 'avgpool', 'gap']);

/** True when the specs hold a layer that works on images (conv, pooling): such a model takes the data's (C,H,W) sample shape. */
export function hasSpatialLayers(layers: readonly string[]): boolean {
  return layers.some((s) => {
    const kind = String(s).trim().split(':')[0];
    return SPATIAL.has(kind === 'dwconv' ? 'conv' : kind);
  });
}

/** Parses the modifiers of conv / pool specs: s2p1, /dw, g4 ... */
function parseMods(mods: string | undefined, allowed: string, bad: () => ConfigError): Record<string, number | true> {
  const out: Record<string, number | true> = {};
  if (!mods) return out;
  const re = /(dw)|([spg])(\d+)/gy;
  let m: RegExpExecArray | null, end = 0;
  while ((m = re.exec(mods))) {
    const key = m[1] ?? m[2];
    if (!allowed.includes(key) || key in out) throw bad();
    out[key] = m[1] ? true : Number(m[3]);
    end = re.lastIndex;
  }
  if (end !== mods.length) throw bad();
  return out;
}

/** Parses one spec; `where` names it in errors (e.g. "model config: layers[2]"). */
export function parseLayerSpec(spec: unknown, where: string): ParsedLayer {
  if (typeof spec !== 'string') throw new ConfigError(`${where}: a layer spec must be a string like "dense:128", got ${JSON.stringify(spec)}`);
  const [kind, arg, extra] = spec.trim().split(':');
  const noArg = () => {
    if (arg !== undefined) throw new ConfigError(`${where}: '${kind}' takes no argument, got ${JSON.stringify(spec)}`);
  };
  if (extra !== undefined) throw new ConfigError(`${where}: expected kind or kind:arg, got ${JSON.stringify(spec)}`);
  switch (kind) {
    case 'dense': {
      const units = Number(arg);
      if (arg === undefined || !Number.isInteger(units) || units <= 0) throw new ConfigError(`${where}: 'dense' needs a positive integer width, like dense:128; got ${JSON.stringify(spec)}`);
      return { kind, units };
    }
    case 'dropout': {
      const p = Number(arg);
      if (arg === undefined || arg === '' || !(p >= 0 && p < 1)) throw new ConfigError(`${where}: 'dropout' needs a probability in [0, 1), like dropout:0.1; got ${JSON.stringify(spec)}`);
      return { kind, p };
    }
    case 'conv':
    case 'dwconv': {
      const dw = kind === 'dwconv';
      const bad = () => new ConfigError(dw
        ? `${where}: 'dwconv' needs a kernel size and optional /sSTRIDE and pPAD, like dwconv:3 or dwconv:3/s2; got ${JSON.stringify(spec)}`
        : `${where}: 'conv' needs OUTxK (output channels x kernel size) and optional modifiers /sSTRIDE, pPAD, gGROUPS or dw, like conv:16x3, conv:16x3/s2p0 or conv:32x3/dw; got ${JSON.stringify(spec)}`);
      const m = dw ? /^(\d+)(?:\/?((?:[sp]\d+)+))?$/.exec(arg ?? '') : /^(\d+)x(\d+)(?:\/?((?:[spg]\d+|dw)+))?$/.exec(arg ?? '');
      if (!m) throw bad();
      const out = dw ? null : Number(m[1]), k = Number(dw ? m[1] : m[2]);
      const mods = parseMods(dw ? m[2] : m[3], dw ? 'sp' : 'spgdw', bad);
      if ((out !== null && out < 1) || k < 1 || mods.s === 0 || mods.g === 0 || (mods.g !== undefined && mods.dw)) throw bad();
      return { kind: 'conv', out, k, stride: (mods.s as number | undefined) ?? 1, pad: (mods.p as number | undefined) ?? Math.floor((k - 1) / 2), groups: dw || mods.dw ? 'dw' : (mods.g as number | undefined) ?? 1 };
    }
    case 'maxpool':
    case 'avgpool': {
      const bad = () => new ConfigError(`${where}: '${kind}' needs a window size and optional /sSTRIDE and pPAD, like ${kind}:2 or ${kind}:3/s2p1; got ${JSON.stringify(spec)}`);
      const m = /^(\d+)(?:\/?((?:[sp]\d+)+))?$/.exec(arg ?? '');
      if (!m) throw bad();
      const k = Number(m[1]);
      const mods = parseMods(m[2], 'sp', bad);
      if (k < 1 || mods.s === 0) throw bad();
      const pad = (mods.p as number | undefined) ?? 0;
      if (pad > Math.floor(k / 2)) throw new ConfigError(`${where}: '${spec}': padding ${pad} is more than half the window ${k} (at most ${Math.floor(k / 2)}, as in PyTorch)`);
      return { kind, k, stride: (mods.s as number | undefined) ?? k, pad };
    }
    case 'relu':
    case 'gelu':
    case 'flatten':
    case 'gap':
    case 'bn':
      noArg();
      return { kind };
    default:
      throw new ConfigError(`${where}: unknown layer ${JSON.stringify(spec)} (known: ${LAYER_KINDS.join(', ')})`);
  }
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

const fmtShape = (s: number[]) => `[${s.join(',')}]`;

/** Output shape of each layer (per sample) for `c`, checked layer by layer. */
export function layerShapes(c: ModelConfig, where = 'model config'): { parsed: ParsedLayer[]; shapes: number[][] } {
  const parsed = c.layers.map((s, i) => parseLayerSpec(s, `${where}: layers[${i}]`));
  const shapes: number[][] = [];
  let shape = c.input;
  parsed.forEach((l, i) => {
    const at = `${where}: layers[${i}] '${c.layers[i]}'`;
    const needImage = () => {
      if (shape.length !== 3) throw new ConfigError(`${at} needs a (C,H,W) image input, but gets shape ${fmtShape(shape)}${i === 0 ? '; give the input shape of one sample (e.g. --input-shape 1,28,28, or "input":[1,28,28])' : parsed.slice(0, i).some((p) => p.kind === 'flatten' || p.kind === 'gap') ? ' (after flatten/gap the input is flat)' : ''}`);
      return shape as [number, number, number];
    };
    switch (l.kind) {
      case 'dense':
        if (shape.length !== 1) throw new ConfigError(`${at} needs a flat input, but gets shape ${fmtShape(shape)}; put "flatten" before it${shape.length === 3 ? ' (or "gap" to average each channel)' : ''}`);
        shape = [l.units];
        break;
      case 'flatten':
        shape = [size(shape)];
        break;
      case 'conv': {
        const [C, H, W] = needImage();
        const OC = l.out ?? C;
        const groups = l.groups === 'dw' ? C : l.groups;
        if (C % groups !== 0 || OC % groups !== 0) throw new ConfigError(`${at}: groups ${groups} must divide the input channels ${C} and the output channels ${OC}${l.groups === 'dw' ? ' (depthwise: the output channels must be a multiple of the input channels)' : ''}`);
        if (H + 2 * l.pad < l.k || W + 2 * l.pad < l.k) throw new ConfigError(`${at} needs an input of at least ${l.k - 2 * l.pad}x${l.k - 2 * l.pad} (kernel ${l.k}, padding ${l.pad}), got ${H}x${W} (shape ${fmtShape(shape)})`);
        shape = [OC, Math.floor((H + 2 * l.pad - l.k) / l.stride) + 1, Math.floor((W + 2 * l.pad - l.k) / l.stride) + 1];
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        const [C, H, W] = needImage();
        if (H + 2 * l.pad < l.k || W + 2 * l.pad < l.k) throw new ConfigError(`${at} needs an input of at least ${l.k - 2 * l.pad}x${l.k - 2 * l.pad}, got ${H}x${W} (shape ${fmtShape(shape)})`);
        shape = [C, Math.floor((H + 2 * l.pad - l.k) / l.stride) + 1, Math.floor((W + 2 * l.pad - l.k) / l.stride) + 1];
        break;
      }
      case 'gap':
        shape = [needImage()[0]];
        break;
      default: // relu, gelu, dropout, bn: same shape
        break;
    }
    shapes.push(shape);
  });
  if (!parsed.some((l) => l.kind === 'dense')) throw new ConfigError(`${where}: the model needs at least one dense layer (got ${JSON.stringify(c.layers)})`);
  if (shape.length !== 1) throw new ConfigError(`${where}: the last layer must output a flat vector of class scores, got shape [${shape}]`);
  if (parsed[parsed.length - 1].kind !== 'dense') throw new ConfigError(`${where}: the last layer must be dense (the logits), got ${JSON.stringify(c.layers[c.layers.length - 1])}`);
  return { parsed, shapes };
}

/** A named tensor of a model's state. */
export interface StateShape {
  name: string;
  shape: number[];
}

/**
 * The parameter and buffer tensors `c` needs, named and shaped as Sequential makes them (see the
 * naming note at the top), without building the model.
 */
export function stateShapes(c: ModelConfig): { params: StateShape[]; buffers: StateShape[] } {
  const { parsed, shapes } = layerShapes(c);
  const params: StateShape[] = [], buffers: StateShape[] = [];
  let k = 0, shape = c.input;
  parsed.forEach((l, i) => {
    const name = `layers.${k}`;
    if (l.kind === 'dense') params.push({ name: `${name}.weight`, shape: [l.units, size(shape)] }, { name: `${name}.bias`, shape: [l.units] });
    else if (l.kind === 'conv') {
      const C = shape[0], OC = shapes[i][0], groups = l.groups === 'dw' ? C : l.groups;
      params.push({ name: `${name}.weight`, shape: [OC, C / groups, l.k, l.k] }, { name: `${name}.bias`, shape: [OC] });
    } else if (l.kind === 'bn') {
      params.push({ name: `${name}.weight`, shape: [shape[0]] }, { name: `${name}.bias`, shape: [shape[0]] });
      buffers.push({ name: `${name}.running_mean`, shape: [shape[0]] }, { name: `${name}.running_var`, shape: [shape[0]] });
    }
    if (l.kind === 'dense' || l.kind === 'conv' || l.kind === 'bn') k++;
    shape = shapes[i];
  });
  return { params, buffers };
}

/** The spec config of the older widths form: the same layers, in the same order. */
export function specsFromWidths(w: Required<WidthsConfig>): ModelConfig {
  const layers: LayerSpec[] = [];
  if (w.inputDropout > 0) layers.push(`dropout:${w.inputDropout}`);
  for (let i = 0; i + 1 < w.layers.length; i++) {
    layers.push(`dense:${w.layers[i + 1]}`);
    if (i + 2 < w.layers.length) {
      layers.push(w.activation);
      if (w.dropout > 0) layers.push(`dropout:${w.dropout}`);
    }
  }
  return { input: [w.layers[0]], layers };
}

/**
 * The widths form of `c` when it is an MLP that form can express (flat input, dense layers each
 * followed by one activation of a single kind and an optional dropout of a single rate), else
 * null. Used for short descriptions (784-128-10) and for the keys that must not change between
 * versions (a checkpoint's fingerprint).
 */
export function widthsForm(c: ModelConfig): Required<WidthsConfig> | null {
  if (c.input.length !== 1) return null;
  let specs: ParsedLayer[];
  try {
    specs = layerShapes(c).parsed;
  } catch {
    return null;
  }
  let i = 0, inputDropout = 0;
  if (specs[0]?.kind === 'dropout') inputDropout = (specs[i++] as { p: number }).p;
  const widths = [c.input[0]];
  let activation: ActivationName | null = null, dropout: number | null = null;
  while (i < specs.length) {
    const d = specs[i++];
    if (d.kind !== 'dense') return null;
    widths.push(d.units);
    if (i === specs.length) break;
    const a = specs[i++];
    if ((a.kind !== 'relu' && a.kind !== 'gelu') || (activation && activation !== a.kind)) return null;
    activation = a.kind;
    let p = 0;
    if (specs[i]?.kind === 'dropout') p = (specs[i++] as { p: number }).p;
    if (dropout !== null && dropout !== p) return null;
    dropout = p;
  }
  return { layers: widths, activation: activation ?? 'relu', dropout: dropout ?? 0, inputDropout };
}

function validateWidths(c: Record<string, unknown>, where: string): Required<WidthsConfig> {
  const known = new Set(['layers', 'activation', 'dropout', 'inputDropout']);
  for (const k of Object.keys(c)) if (!known.has(k)) throw new ConfigError(`${where}: unknown field '${k}' (expected one of ${[...known].join(', ')}, or {"input":[...],"layers":["dense:128",...]})`);
  const layers = c.layers as unknown[];
  if (layers.length < 2 || !layers.every((w) => Number.isInteger(w) && (w as number) > 0)) {
    throw new ConfigError(`${where}: field 'layers' must be an array of at least 2 positive integers (inputs, ..., classes), got ${JSON.stringify(layers)}`);
  }
  const activation = c.activation ?? 'relu';
  if (activation !== 'relu' && activation !== 'gelu') throw new ConfigError(`${where}: field 'activation' must be "relu" or "gelu", got ${JSON.stringify(activation)}`);
  const prob = (name: string): number => {
    const v = c[name] ?? 0;
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ConfigError(`${where}: field '${name}' must be a number in [0, 1), got ${JSON.stringify(v)}`);
    return v;
  };
  return { layers: layers as number[], activation, dropout: prob('dropout'), inputDropout: prob('inputDropout') };
}

/**
 * Checks a parsed JSON model config, either form, and returns the spec form; errors name the
 * field and quote the value (`where` says which config).
 */
export function validateModelConfig(raw: unknown, where = 'model config'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object like {"input":[784],"layers":["dense:128","relu","dense:10"]} or {"layers":[784,128,10]}`);
  const c = raw as Record<string, unknown>;
  if (!Array.isArray(c.layers)) throw new ConfigError(`${where}: field 'layers' must be an array of layer specs like ["dense:128","relu","dense:10"] (or of widths like [784,128,10]), got ${JSON.stringify(c.layers)}`);
  // No input shape and not all spec strings: the widths form (its own errors quote the value).
  if (c.input === undefined && !c.layers.every((w) => typeof w === 'string')) return specsFromWidths(validateWidths(c, where));
  for (const k of Object.keys(c)) if (k !== 'input' && k !== 'layers') throw new ConfigError(`${where}: unknown field '${k}' (a spec config has 'input' and 'layers'${k === 'activation' || k === 'dropout' ? `; write "${k === 'dropout' ? 'dropout:P' : 'relu'}" as a layer instead` : ''})`);
  const input = c.input;
  if (!Array.isArray(input) || input.length < 1 || input.length > 3 || !input.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ConfigError(`${where}: field 'input' must be the shape of one sample, 1 to 3 positive integers like [784] or [1,28,28], got ${JSON.stringify(input)}`);
  }
  const config: ModelConfig = { input: [...input], layers: c.layers.map((s, i) => {
    if (typeof s !== 'string') throw new ConfigError(`${where}: layers[${i}] must be a layer spec string like "dense:128", got ${JSON.stringify(s)}`);
    return s.trim();
  }) };
  layerShapes(config, where);
  return config;
}

/**
 * A short description: 784-128-10 for an MLP the widths form expresses (with "(gelu, dropout
 * 0.1)" when it has those), else [input] spec → spec → ….
 */
export function describeModel(c: ModelConfig): string {
  const w = widthsForm(c);
  if (w) {
    const extra = [w.activation === 'gelu' && w.layers.length > 2 ? 'gelu' : '', w.dropout ? `dropout ${w.dropout}` : '', w.inputDropout ? `input dropout ${w.inputDropout}` : ''].filter(Boolean);
    return w.layers.join('-') + (extra.length ? ` (${extra.join(', ')})` : '');
  }
  return `[${c.input.join(',')}] ${c.layers.join(' → ')}`;
}

/** Per-sample sizes along a model: the input's, then each dense layer's output (784-128-10). */
export function denseWidths(c: ModelConfig): number[] {
  const { parsed } = layerShapes(c);
  return [size(c.input), ...parsed.flatMap((l) => (l.kind === 'dense' ? [l.units] : []))];
}

/** Width of each hidden block (the output of each activation layer), in order. */
export function hiddenWidths(c: ModelConfig): number[] {
  const { parsed, shapes } = layerShapes(c);
  return parsed.flatMap((l, i) => (l.kind === 'relu' || l.kind === 'gelu' ? [size(shapes[i])] : []));
}
