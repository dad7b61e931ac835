// ONNX export of a Sequential model (the protobuf written by hand: no dependency). The graph is
// Gemm (transB, W is (OC,C)) → Relu | Gelu(approximate="tanh") per hidden layer → Gemm; image
// layers are Conv, MaxPool, AveragePool (count_include_pad), GlobalAveragePool + Flatten and
// BatchNormalization (eval: the running statistics); dropout is an identity at inference and is
// left out. Input "input" (N, ...input shape), output "logits" (N, K), N symbolic. Opset 20
// (Gelu), IR version 9. An int8 model (QuantizedSequential) exports as a QDQ graph (encodeQdqOnnx):
// QuantizeLinear/DequantizeLinear on each dense/conv input, int8 weights through DequantizeLinear
// per output channel, then the float Gemm/Conv.

import { ConfigError } from '../errors.js';
import type { Sequential } from '../nn/sequential.js';
import type { QuantizedSequential } from '../nn/quantized.js';
import { BN_EPS } from '../nn/layers.js';
import { layerShapes, type ParsedLayer } from '../nn/spec.js';
import type { InputTransform } from '../data/transforms.js';
import { writeFileAtomic } from './atomic.js';

/** Minimal protobuf writer: varints, length-delimited fields, nested messages. */
class Pb {
  private parts: Uint8Array[] = [];
  private static varint(v: number | bigint): Uint8Array {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    const out: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x) b |= 0x80;
      out.push(b);
    } while (x);
    return Uint8Array.from(out);
  }
  private key(field: number, wire: number): void {
    this.parts.push(Pb.varint((field << 3) | wire));
  }
  int(field: number, v: number): this {
    this.key(field, 0);
    this.parts.push(Pb.varint(v));
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.parts.push(Pb.varint(b.length), b);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(b);
    return this;
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }
  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

const FLOAT = 1, UINT8 = 2, INT8 = 3;

/** A TensorProto initializer: raw little-endian data of a float32, uint8 or int8 array. */
function tensor(name: string, dims: number[], data: Float32Array | Uint8Array | Int8Array): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  t.int(2, data instanceof Float32Array ? FLOAT : data instanceof Uint8Array ? UINT8 : INT8).str(8, name);
  return t.bytes(9, new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer));
}

function valueInfo(name: string, dims: (number | string)[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  return new Pb().str(1, name).msg(2, new Pb().msg(1, new Pb().int(1, FLOAT).msg(2, shape)));
}

function node(op: string, inputs: string[], outputs: string[], name: string, attrs: Pb[] = []): Pb {
  const n = new Pb();
  for (const i of inputs) n.str(1, i);
  for (const o of outputs) n.str(2, o);
  n.str(3, name).str(4, op);
  for (const a of attrs) n.msg(5, a);
  return n;
}

/** Attributes: an int, a list of ints, a float (AttributeProto types 2, 7, 1). */
const attrInt = (name: string, v: number) => new Pb().str(1, name).int(20, 2).int(3, v);
const attrInts = (name: string, v: number[]) => v.reduce((a, x) => a.int(8, x), new Pb().str(1, name).int(20, 7));
const attrFloat = (name: string, v: number) => new Pb().str(1, name).int(20, 1).float(2, v);

/** The nodes of a layer without state (pools, activations, flatten), shared by the float and the QDQ graph. */
function floatNode(g: Pb, l: ParsedLayer, i: number, cur: string, out: string): void {
  switch (l.kind) {
      case 'maxpool':
    case 'avgpool':
      g.msg(1, node(l.kind === 'maxpool' ? 'MaxPool' : 'AveragePool', [cur], [out], `${l.kind}${i}`, [attrInts('kernel_shape', [l.k, l.k]), attrInts('strides', [l.stride, l.stride]), attrInts('pads', [l.pad, l.pad, l.pad, l.pad]), ...(l.kind === 'avgpool' ? [attrInt('count_include_pad', 1)] : [])]));
      break;
    case 'gap':
      g.msg(1, node('GlobalAveragePool', [cur], [`${out}_4d`], `gap${i}`));
      g.msg(1, node('Flatten', [`${out}_4d`], [out], `gap_flatten${i}`, [attrInt('axis', 1)]));
      break;
    case 'relu':
      g.msg(1, node('Relu', [cur], [out], `relu${i}`));
      break;
    case 'gelu':
      g.msg(1, node('Gelu', [cur], [out], `gelu${i}`, [new Pb().str(1, 'approximate').int(20, 3).bytes(4, new TextEncoder().encode('tanh'))]));
      break;
    case 'flatten':
      g.msg(1, node('Flatten', [cur], [out], `flatten${i}`, [new Pb().str(1, 'axis').int(20, 2).int(3, 1)]));
      break;
    default:
      throw new ConfigError(`ONNX export: layer ${i} (${l.kind}) has state`);
  }
}

export interface OnnxMeta {
  producerVersion?: string;
  /** The model's input transform, put into the graph before the first layer. */
  transform?: InputTransform | null;
  /** Class names, stored as the metadata property class_names (a JSON array). */
  classNames?: string[] | null;
}

/** The ONNX bytes of `model` (inference graph: dropout is left out, as in eval mode). */
export function encodeOnnx(model: Sequential, meta: OnnxMeta = {}): Uint8Array {
  const g = new Pb().str(2, 'distillery');
  const { parsed, shapes } = layerShapes(model.config);
  const lastDense = parsed.map((l) => l.kind).lastIndexOf('dense');
  let cur = 'input', d = 0, k = 0;
  const param = (name: string) => {
    const p = model.store.find(name);
    if (!p) throw new ConfigError(`ONNX export: the model has no parameter '${name}'`);
    g.msg(5, tensor(p.name, p.shape, model.store.view(p)));
    return p.name;
  };
  cur = inputTransform(g, cur, meta, model.inputShape);
  parsed.forEach((l, i) => {
    const out = i === lastDense ? 'logits' : `${l.kind}${i}`;
    switch (l.kind) {
      case 'dense': {
        const layer = model.dense[d];
        const w = model.store.find(`layers.${k}.weight`)!, b = model.store.find(`layers.${k}.bias`)!;
        g.msg(5, tensor(w.name, [layer.outFeatures, layer.inFeatures], model.store.view(w)));
        g.msg(5, tensor(b.name, [layer.outFeatures], model.store.view(b)));
        g.msg(1, node('Gemm', [cur, w.name, b.name], [out], `gemm${d}`, [new Pb().str(1, 'transB').int(20, 2).int(3, 1)]));
        d++;
        k++;
        break;
      }
      case 'conv': {
        const w = param(`layers.${k}.weight`), b = param(`layers.${k}.bias`);
        // groups = input channels / the weight's channels per group (OC, C/groups, k, k).
        const inC = (i === 0 ? model.inputShape : shapes[i - 1])[0];
        g.msg(1, node('Conv', [cur, w, b], [out], `conv${i}`, [attrInts('kernel_shape', [l.k, l.k]), attrInts('strides', [l.stride, l.stride]), attrInts('pads', [l.pad, l.pad, l.pad, l.pad]), attrInt('group', inC / model.store.find(w)!.shape[1])]));
        k++;
        break;
      }
      case 'bn': {
        const names = ['weight', 'bias'].map((n) => param(`layers.${k}.${n}`));
        for (const n of ['running_mean', 'running_var']) {
          const b = model.buffers.find(`layers.${k}.${n}`)!;
          g.msg(5, tensor(b.name, b.shape, model.buffers.view(b)));
          names.push(b.name);
        }
        g.msg(1, node('BatchNormalization', [cur, ...names], [out], `bn${i}`, [attrFloat('epsilon', model.batchNorms.find((b) => b.weight.name === names[0])!.eps)]));
        k++;
        break;
      }
      case 'maxpool':
      case 'avgpool':
      case 'gap':
      case 'relu':
      case 'gelu':
      case 'flatten':
        floatNode(g, l, i, cur, out);
        break;
      case 'dropout':
        return; // identity at inference
    }
    cur = out;
  });
  g.msg(11, valueInfo('input', ['N', ...model.inputShape]));
  g.msg(12, valueInfo('logits', ['N', model.classes]));
  const m = new Pb()
    .int(1, 9) // ir_version
    .str(2, 'distillery')
    .str(3, meta.producerVersion ?? '')
    .msg(7, g)
    .msg(8, new Pb().str(1, '').int(2, 20)); // opset_import: default domain, opset 20
  if (meta.classNames) m.msg(14, new Pb().str(1, 'class_names').str(2, JSON.stringify(meta.classNames))); // metadata_props
  return m.finish();
}

/**
 * The stored input transform, (x − offset) / scale broadcast over the batch (per feature, shaped
 * like one sample, or one value for all), as Sub and Div nodes after `cur`; returns the name of
 * the transformed input (or `cur` when there is no transform).
 */
function inputTransform(g: Pb, cur: string, meta: OnnxMeta, inputShape: number[]): string {
  const t = meta.transform;
  if (!t) return cur;
  const dims = t.offset.length === 1 ? [1] : inputShape;
  g.msg(5, tensor('input_offset', dims, Float32Array.from(t.offset)));
  g.msg(5, tensor('input_scale', dims, Float32Array.from(t.scale)));
  g.msg(1, node('Sub', [cur, 'input_offset'], ['input_centered'], 'transform_sub'));
  g.msg(1, node('Div', ['input_centered', 'input_scale'], ['input_transformed'], 'transform_div'));
  return 'input_transformed';
}

/**
 * The ONNX bytes of an int8 model as a QDQ graph: each dense/conv layer's float input goes through
 * QuantizeLinear → DequantizeLinear (uint8, its per-tensor scale and zero point), its int8 weight
 * initializer through DequantizeLinear (per output channel, axis 0), then Gemm (transB) or Conv
 * with the float bias; pools, activations, flatten and unfolded batch norms stay float. onnxruntime
 * fuses the pattern into its int8 kernels (QLinearMatMul/QLinearConv or equivalents) where it can.
 */
export function encodeQdqOnnx(model: QuantizedSequential, meta: OnnxMeta = {}): Uint8Array {
  const g = new Pb().str(2, 'distillery-int8');
  const { parsed, shapes } = layerShapes(model.config);
  const lastDense = parsed.map((l) => l.kind).lastIndexOf('dense');
  let cur = 'input', k = 0;
  cur = inputTransform(g, cur, meta, model.inputShape);
  parsed.forEach((l, i) => {
    const out = i === lastDense ? 'logits' : `${l.kind}${i}`;
    switch (l.kind) {
      case 'dense':
      case 'conv': {
        const s = model.state.layers[k];
        if (s.kind !== 'q') throw new ConfigError(`ONNX export: layers.${k} should be an int8 layer`);
        const n = `layers.${k}`, OC = s.bias.length;
        const inShape = i === 0 ? model.inputShape : shapes[i - 1];
        const wShape = l.kind === 'dense' ? [OC, s.weight.length / OC] : [OC, s.weight.length / OC / (l.k * l.k), l.k, l.k];
        g.msg(5, tensor(`${n}.input_scale`, [], Float32Array.of(s.input.scale)));
        g.msg(5, tensor(`${n}.input_zero_point`, [], Uint8Array.of(s.input.zeroPoint)));
        g.msg(5, tensor(`${n}.weight_quantized`, wShape, s.weight));
        g.msg(5, tensor(`${n}.weight_scale`, [OC], s.weightScale));
        g.msg(5, tensor(`${n}.weight_zero_point`, [OC], new Int8Array(OC)));
        g.msg(5, tensor(`${n}.bias`, [OC], s.bias));
        g.msg(1, node('QuantizeLinear', [cur, `${n}.input_scale`, `${n}.input_zero_point`], [`${n}.input_q`], `quantize${i}`));
        g.msg(1, node('DequantizeLinear', [`${n}.input_q`, `${n}.input_scale`, `${n}.input_zero_point`], [`${n}.input_dq`], `dequantize${i}`));
        g.msg(1, node('DequantizeLinear', [`${n}.weight_quantized`, `${n}.weight_scale`, `${n}.weight_zero_point`], [`${n}.weight`], `dequantize_weight${i}`, [attrInt('axis', 0)]));
        if (l.kind === 'dense') g.msg(1, node('Gemm', [`${n}.input_dq`, `${n}.weight`, `${n}.bias`], [out], `gemm${i}`, [attrInt('transB', 1)]));
        else g.msg(1, node('Conv', [`${n}.input_dq`, `${n}.weight`, `${n}.bias`], [out], `conv${i}`, [attrInts('kernel_shape', [l.k, l.k]), attrInts('strides', [l.stride, l.stride]), attrInts('pads', [l.pad, l.pad, l.pad, l.pad]), attrInt('group', inShape[0] / wShape[1])]));
        k++;
        break;
      }
      case 'bn': {
        const s = model.state.layers[k];
        if (s.kind !== 'bn') throw new ConfigError(`ONNX export: layers.${k} should be a batch norm`);
        const names = (['weight', 'bias', 'running_mean', 'running_var'] as const).map((p) => `layers.${k}.${p}`);
        [s.weight, s.bias, s.runningMean, s.runningVar].forEach((a, j) => g.msg(5, tensor(names[j], [a.length], a)));
        g.msg(1, node('BatchNormalization', [cur, ...names], [out], `bn${i}`, [attrFloat('epsilon', BN_EPS)]));
        k++;
        break;
      }
      case 'dropout':
        return;
      default:
        floatNode(g, l, i, cur, out);
    }
    cur = out;
  });
  g.msg(11, valueInfo('input', ['N', ...model.inputShape]));
  g.msg(12, valueInfo('logits', ['N', model.classes]));
  const m = new Pb().int(1, 9).str(2, 'distillery').str(3, meta.producerVersion ?? '').msg(7, g).msg(8, new Pb().str(1, '').int(2, 20));
  if (meta.classNames) m.msg(14, new Pb().str(1, 'class_names').str(2, JSON.stringify(meta.classNames)));
  return m.finish();
}

export async function saveQdqOnnx(path: string, model: QuantizedSequential, meta: OnnxMeta = {}): Promise<void> {
  await writeFileAtomic(path, encodeQdqOnnx(model, meta));
}

export async function saveOnnx(path: string, model: Sequential, meta: OnnxMeta = {}): Promise<void> {
  await writeFileAtomic(path, encodeOnnx(model, meta));
}
