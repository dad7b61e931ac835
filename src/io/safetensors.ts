// safetensors reader and writer (https://github.com/huggingface/safetensors format):
// u64 little-endian header length, a JSON header, then the tensor bytes. The reader checks the
// header length before allocating, the dtypes, the shapes, that every tensor's byte range lies
// inside the file, and that the ranges neither overlap nor leave holes.

import { open, type FileHandle } from 'node:fs/promises';
import { InputFileError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
export type TensorData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface Tensor {
  dtype: Dtype;
  shape: number[];
  /** F16/BF16 are returned as raw Uint16Array bit patterns; BOOL as Uint8Array. */
  data: TensorData;
}

const DTYPE_SIZE: Record<Dtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const CTOR: Record<Dtype, { new (b: ArrayBuffer, o: number, n: number): TensorData; BYTES_PER_ELEMENT: number }> = {
  F64: Float64Array, F32: Float32Array, F16: Uint16Array, BF16: Uint16Array, I64: BigInt64Array,
  I32: Int32Array, I16: Int16Array, I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array,
};
/** Headers above this are refused before anything is allocated (the reference reader uses 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('distillery: safetensors I/O assumes a little-endian machine');

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** obj[key] = value as an own property, even for key '__proto__' (a legal tensor or metadata name). */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Serializes tensors and string metadata into one safetensors byte image (as chunks). */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`safetensors metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new TypeError(`'__metadata__' cannot be a tensor name`);
    const size = DTYPE_SIZE[t.dtype];
    if (!size) throw new TypeError(`tensor '${name}': unknown dtype ${t.dtype}`);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new TypeError(`tensor '${name}': bad shape [${t.shape}]`);
    const bytes = elementCount(t.shape) * size;
    if (t.data.byteLength !== bytes || t.data.BYTES_PER_ELEMENT !== CTOR[t.dtype].BYTES_PER_ELEMENT) {
      throw new TypeError(`tensor '${name}': ${t.dtype}[${t.shape}] needs ${bytes} bytes, data has ${t.data.byteLength}`);
    }
    setOwn(header, name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] });
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, bytes));
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(head.length - 8), 0);
  head.write(json, 8, 'utf8');
  return [head, ...chunks];
}

/** Writes a safetensors file atomically (temp file, fsync, rename). */
export async function writeSafetensors(path: string, tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

interface Entry { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }


/** Parses and validates a header; `dataBytes` is the size of the byte buffer after it. */
export function parseSafetensorsHeader(file: string, json: string, dataBytes: number): { entries: Entry[]; metadata: Record<string, string> } {
  let h: unknown;
  try {
    h = JSON.parse(json);
  } catch (e) {
    throw new InputFileError(file, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new InputFileError(file, 'safetensors header must be a JSON object');
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, v] of Object.entries(h as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputFileError(file, `'__metadata__' must be an object of strings`);
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw new InputFileError(file, `'__metadata__.${k}' must be a string`);
        setOwn(metadata, k, s);
      }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw new InputFileError(file, `tensor '${name}': entry must be an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_SIZE)) throw new InputFileError(file, `tensor '${name}': unsupported dtype ${JSON.stringify(e.dtype)} (expected one of ${Object.keys(DTYPE_SIZE).join(', ')})`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new InputFileError(file, `tensor '${name}': shape must be an array of non-negative integers, got ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      throw new InputFileError(file, `tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(off)}`);
    }
    const dtype = e.dtype as Dtype;
    const shape = e.shape as number[];
    const want = elementCount(shape) * DTYPE_SIZE[dtype];
    if (off[1] - off[0] !== want) throw new InputFileError(file, `tensor '${name}': ${dtype}[${shape}] needs ${want} bytes, data_offsets [${off}] span ${off[1] - off[0]}`);
    if (off[1] > dataBytes) throw new InputFileError(file, `tensor '${name}': data_offsets [${off}] run past the end of the data (${dataBytes} bytes; file truncated?)`);
    entries.push({ name, dtype, shape, begin: off[0], end: off[1] });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) throw new InputFileError(file, `tensor '${e.name}': byte range [${e.begin}, ${e.end}] overlaps another tensor`);
    if (e.begin > pos) throw new InputFileError(file, `bytes [${pos}, ${e.begin}] belong to no tensor (a hole before '${e.name}')`);
    pos = e.end;
  }
  if (pos !== dataBytes) throw new InputFileError(file, `${dataBytes - pos} trailing bytes after the last tensor`);
  return { entries, metadata };
}

/** Decodes a whole safetensors image held in memory. */
export function decodeSafetensors(file: string, buf: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  if (buf.byteLength < 8) throw new InputFileError(file, `too short for safetensors (${buf.byteLength} bytes; needs an 8-byte header length)`);
  const hl = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  if (hl > BigInt(Math.min(MAX_HEADER_BYTES, buf.byteLength - 8))) throw new InputFileError(file, `safetensors header length ${hl} exceeds the file (${buf.byteLength} bytes) or the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLen = Number(hl);
  let json: string;
  try {
    json = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + headerLen));
  } catch {
    throw new InputFileError(file, 'safetensors header is not valid UTF-8');
  }
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseSafetensorsHeader(file, json, buf.byteLength - dataStart);
  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    const C = CTOR[e.dtype];
    // Own, aligned storage. Uint8Array's slice copies; a Node Buffer's slice (readFileSync) is a view into its pool.
    const copy = Uint8Array.prototype.slice.call(buf, dataStart + e.begin, dataStart + e.end);
    setOwn(tensors, e.name, { dtype: e.dtype, shape: e.shape, data: new C(copy.buffer, 0, (e.end - e.begin) / C.BYTES_PER_ELEMENT) });
  }
  return { tensors, metadata };
}

/**
 * Opens a safetensors file and checks its 8-byte header length against the file size and the
 * header limit; runs `body` with the open handle, the file size and that length, then closes it.
 */
async function withSafetensorsFile<T>(path: string, body: (fh: FileHandle, size: number, headerBytes: number) => Promise<T>): Promise<T> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new InputFileError(path, `cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const size = (await fh.stat()).size;
    if (size < 8) throw new InputFileError(path, `too short for safetensors (${size} bytes)`);
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const hl = head.readBigUInt64LE(0);
    // Check the header length against the file before allocating anything of that size.
    if (hl > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) throw new InputFileError(path, `safetensors header length ${hl} exceeds the file (${size} bytes) or the ${MAX_HEADER_BYTES}-byte limit`);
    return await body(fh, size, Number(hl));
  } finally {
    await fh.close();
  }
}

/** Reads and validates a safetensors file. Errors name the file and what is wrong. */
export async function readSafetensors(path: string): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  return withSafetensorsFile(path, async (fh, size) => {
    const buf = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) throw new InputFileError(path, 'file shrank while being read');
      off += bytesRead;
    }
    return decodeSafetensors(path, buf);
  });
}

/** The metadata of a safetensors file (reads only its header). */
export async function readSafetensorsMeta(path: string): Promise<Record<string, string>> {
  return withSafetensorsFile(path, async (fh, _size, hl) => {
    const json = Buffer.alloc(hl);
    await fh.read(json, 0, json.length, 8);
    let h: unknown;
    try {
      h = JSON.parse(json.toString('utf8'));
    } catch (e) {
      throw new InputFileError(path, `safetensors header is not valid JSON (${(e as Error).message})`);
    }
    const m = (h as { __metadata__?: unknown })?.__metadata__;
    return typeof m === 'object' && m !== null && !Array.isArray(m) ? Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'string')) as Record<string, string> : {};
  });
}

/**
 * Throws InputFileError naming the file, the tensor and the first bad element when `data` holds
 * NaN or ±Inf: weights, optimizer state and teacher logits read from files must be finite, or
 * training would silently run on garbage.
 */
export function assertFinite(file: string, tensor: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new InputFileError(file, `tensor '${tensor}' holds ${data[i]} at element ${i}; the file is corrupt or was written by a diverged run`);
  }
}
