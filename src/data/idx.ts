// IDX reader (the MNIST file format, gzipped or not): big-endian header, magic 0x0000TTDD with
// T the element type and D the number of dimensions, then D u32 sizes, then the elements.

import { InputFileError } from '../errors.js';
import { checkDataset, type Dataset } from './dataset.js';
import { readGunzipped } from './gzip.js';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

const TYPES: Record<number, { name: string; size: number; make: (n: number) => IdxData; get: (v: DataView, o: number) => number }> = {
  0x08: { name: 'u8', size: 1, make: (n) => new Uint8Array(n), get: (v, o) => v.getUint8(o) },
  0x09: { name: 'i8', size: 1, make: (n) => new Int8Array(n), get: (v, o) => v.getInt8(o) },
  0x0b: { name: 'i16', size: 2, make: (n) => new Int16Array(n), get: (v, o) => v.getInt16(o) },
  0x0c: { name: 'i32', size: 4, make: (n) => new Int32Array(n), get: (v, o) => v.getInt32(o) },
  0x0d: { name: 'f32', size: 4, make: (n) => new Float32Array(n), get: (v, o) => v.getFloat32(o) },
  0x0e: { name: 'f64', size: 8, make: (n) => new Float64Array(n), get: (v, o) => v.getFloat64(o) },
};

/** Parses an IDX image (already gunzipped) and validates its size against the header. */
export function parseIdx(buf: Uint8Array, file: string): { dims: number[]; data: IdxData } {
  if (buf.length < 4) throw new InputFileError(file, `too short for IDX (${buf.length} bytes)`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf[0] !== 0 || buf[1] !== 0) throw new InputFileError(file, `not an IDX file (magic ${[...buf.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}, expected 0000TTDD)`);
  const type = TYPES[buf[2]];
  if (!type) throw new InputFileError(file, `unknown IDX element type 0x${buf[2].toString(16)}`);
  const nd = buf[3];
  if (nd < 1) throw new InputFileError(file, 'IDX file with zero dimensions');
  if (buf.length < 4 + 4 * nd) throw new InputFileError(file, `truncated IDX header (${nd} dimensions)`);
  const dims: number[] = [];
  for (let i = 0; i < nd; i++) dims.push(v.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * nd, want = start + count * type.size;
  if (buf.length !== want) throw new InputFileError(file, `IDX ${type.name}[${dims.join('x')}] needs ${want} bytes, file has ${buf.length}${buf.length < want ? ' (truncated?)' : ''}`);
  let data: IdxData;
  if (type.size === 1) data = type.name === 'u8' ? buf.slice(start, want) : new Int8Array(buf.slice(start, want).buffer);
  else {
    data = type.make(count);
    for (let i = 0; i < count; i++) data[i] = type.get(v, start + i * type.size);
  }
  return { dims, data };
}

export async function readIdx(file: string): Promise<{ dims: number[]; data: IdxData }> {
  return parseIdx(await readGunzipped(file), file);
}

/**
 * An images file + a labels file as a Dataset. u8 pixels are scaled to [0, 1]; `classes`
 * defaults to max(label) + 1.
 */
export async function loadIdxPair(imagesFile: string, labelsFile: string, opts: { name?: string; classes?: number; classNames?: string[] } = {}): Promise<Dataset> {
  const [img, lab] = await Promise.all([readIdx(imagesFile), readIdx(labelsFile)]);
  if (lab.dims.length !== 1) throw new InputFileError(labelsFile, `labels must be 1-D, got [${lab.dims.join('x')}]`);
  const n = img.dims[0];
  if (lab.dims[0] !== n) throw new InputFileError(labelsFile, `${lab.dims[0]} labels for ${n} images in ${imagesFile}`);
  const features = img.dims.slice(1).reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * features);
  const scale = img.data instanceof Uint8Array ? 1 / 255 : 1;
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] * scale;
  const y = new Int32Array(n);
  let max = -1;
  for (let i = 0; i < n; i++) {
    const l = lab.data[i];
    if (!Number.isInteger(l) || l < 0) throw new InputFileError(labelsFile, `label ${i} is ${l}, expected a non-negative integer`);
    y[i] = l;
    if (l > max) max = l;
  }
  const classes = opts.classes ?? max + 1;
  const transform = scale === 1 ? undefined : { kind: 'scale' as const, offset: [0], scale: [255] };
  // Images: (n,H,W) → samples of shape (1,H,W); (n,C,H,W) as they are (NCHW).
  const shape = img.dims.length === 3 ? [1, img.dims[1], img.dims[2]] : img.dims.length === 4 ? img.dims.slice(1) : undefined;
  return checkDataset({ name: opts.name ?? imagesFile, x, y, n, features, shape, classes, classNames: opts.classNames, transform }, labelsFile);
}
