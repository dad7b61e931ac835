// NPY reader (numpy's .npy format, version 1.0-3.0, gzipped or not): magic "\x93NUMPY", version,
// a little-endian header length, a Python-dict header {'descr', 'fortran_order', 'shape'}, then
// the C-ordered elements. Numeric dtypes only (f4, f8, u1, i1, i2, i4, i8, u2, u4, bool).

import { InputFileError } from '../errors.js';
import { readGunzipped } from './gzip.js';

const DTYPES: Record<string, { size: number; get: (v: DataView, o: number, le: boolean) => number }> = {
  f4: { size: 4, get: (v, o, le) => v.getFloat32(o, le) },
  f8: { size: 8, get: (v, o, le) => v.getFloat64(o, le) },
  u1: { size: 1, get: (v, o) => v.getUint8(o) },
  b1: { size: 1, get: (v, o) => v.getUint8(o) },
  i1: { size: 1, get: (v, o) => v.getInt8(o) },
  i2: { size: 2, get: (v, o, le) => v.getInt16(o, le) },
  u2: { size: 2, get: (v, o, le) => v.getUint16(o, le) },
  i4: { size: 4, get: (v, o, le) => v.getInt32(o, le) },
  u4: { size: 4, get: (v, o, le) => v.getUint32(o, le) },
  i8: { size: 8, get: (v, o, le) => Number(v.getBigInt64(o, le)) },
};

/** Parses an NPY file's bytes (already gunzipped) into float32 values and their shape. */
export function parseNpy(buf: Uint8Array, file: string): { shape: number[]; data: Float32Array } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (buf.length < 10 || !magic.every((b, i) => buf[i] === b)) throw new InputFileError(file, 'not an NPY file (no \\x93NUMPY magic)');
  const major = buf[6];
  if (major < 1 || major > 3) throw new InputFileError(file, `NPY version ${major}.${buf[7]} is not supported (1.0 to 3.0)`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = major === 1 ? v.getUint16(8, true) : buf.length >= 12 ? v.getUint32(8, true) : Infinity;
  const start = (major === 1 ? 10 : 12) + hlen;
  if (start > buf.length) throw new InputFileError(file, `truncated NPY header (${hlen} bytes announced)`);
  const header = new TextDecoder('latin1').decode(buf.subarray(major === 1 ? 10 : 12, start));
  const descr = /'descr'\s*:\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) throw new InputFileError(file, `NPY header is not a dict with 'descr', 'fortran_order' and 'shape': ${JSON.stringify(header.trim().slice(0, 120))}`);
  const dt = DTYPES[descr[2]];
  if (!dt) throw new InputFileError(file, `NPY dtype '${descr[1]}${descr[2]}' is not supported (numeric: ${Object.keys(DTYPES).join(', ')})`);
  if (fortran[1] === 'True') throw new InputFileError(file, 'NPY array is in Fortran order; save it C-ordered (np.ascontiguousarray)');
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new InputFileError(file, `NPY shape (${shapeM[1]}) is not a list of sizes`);
  const count = shape.reduce((a, b) => a * b, 1);
  const want = start + count * dt.size;
  if (buf.length !== want) throw new InputFileError(file, `NPY ${descr[2]}[${shape.join('x')}] needs ${want} bytes, file has ${buf.length}${buf.length < want ? ' (truncated?)' : ''}`);
  const le = descr[1] !== '>';
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = dt.get(v, start + i * dt.size, le);
  return { shape, data };
}

export async function readNpy(file: string): Promise<{ shape: number[]; data: Float32Array }> {
  return parseNpy(await readGunzipped(file), file);
}
