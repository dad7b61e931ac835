// safetensors: round trip of every dtype, atomic writes, and rejection of malformed files with
// an error naming the file and the fault.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputFileError } from '../src/errors.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors, type Tensor } from '../src/io/safetensors.js';
import { writeFileAtomic } from '../src/io/atomic.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file with a hand-made header (and `data` bytes after it). */
function raw(name: string, header: unknown, data = new Uint8Array(0), headerLenOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(headerLenOverride ?? BigInt(json.length));
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([head, json, data]));
  return p;
}

describe('safetensors', () => {
  it('round-trips every dtype, shapes incl. scalars and zero-size, and metadata', async () => {
    const tensors: Record<string, Tensor> = {
      w: { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, NaN, Infinity, -0]) },
      d: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) },
      i: { dtype: 'I32', shape: [3], data: new Int32Array([-1, 0, 2147483647]) },
      l: { dtype: 'I64', shape: [1], data: new BigInt64Array([-5n]) },
      h: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
      b: { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 2, 254, 255]) },
      s: { dtype: 'I8', shape: [], data: new Int8Array([-7]) },
      z: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    };
    const p = join(dir, 'rt.safetensors');
    await writeSafetensors(p, tensors, { config: '{"layers":[1,2]}', note: 'ü' });
    const { tensors: back, metadata } = await readSafetensors(p);
    expect(metadata).toEqual({ config: '{"layers":[1,2]}', note: 'ü' });
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors)) {
      expect(back[k].dtype).toBe(t.dtype);
      expect(back[k].shape).toEqual(t.shape);
      expect(Buffer.from(back[k].data.buffer, back[k].data.byteOffset, back[k].data.byteLength)).toEqual(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    // The byte layout follows the format: u64 LE header length, JSON, data 8-byte aligned.
    const bytes = readFileSync(p);
    const hl = Number(bytes.readBigUInt64LE(0));
    expect((8 + hl) % 8).toBe(0);
    expect(JSON.parse(bytes.subarray(8, 8 + hl).toString()).w).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: expect.any(Array) });
  });

  it('decodes a Node Buffer (readFileSync) as it decodes a Uint8Array: Buffer.slice is a view, not a copy', async () => {
    const p = join(dir, 'buffer.safetensors');
    const w = Float64Array.from([1.5, -2.25, 3]), y = Int32Array.from([4, 0, 2]);
    await writeSafetensors(p, { w: { dtype: 'F64', shape: [3], data: w }, y: { dtype: 'I32', shape: [3], data: y } });
    const { tensors } = decodeSafetensors(p, readFileSync(p));
    expect(Array.from(tensors.w.data as Float64Array)).toEqual(Array.from(w));
    expect(Array.from(tensors.y.data as Int32Array)).toEqual(Array.from(y));
  });

  it('encodes a tensor whose data does not match its shape as an error', () => {
    expect(() => encodeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/needs 12 bytes/);
  });

  const f32 = (n: number) => new Uint8Array(new Float32Array(n).buffer);
  const cases: [string, () => string, RegExp][] = [
    ['too short', () => { const p = join(dir, 'short'); writeFileSync(p, Buffer.from([1, 2, 3])); return p; }, /too short/],
    ['header length past the end (checked before allocating)', () => raw('big', {}, new Uint8Array(0), 1n << 40n), /header length .* exceeds/],
    ['header not JSON', () => raw('nojson', '{"a": '), /not valid JSON/],
    ['header not an object', () => raw('arr', [1, 2]), /must be a JSON object/],
    ['unknown dtype', () => raw('dtype', { w: { dtype: 'F12', shape: [1], data_offsets: [0, 4] } }, f32(1)), /tensor 'w': unsupported dtype "F12"/],
    ['negative shape', () => raw('shape', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /tensor 'w': shape must be/],
    ['size mismatch', () => raw('size', { w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, f32(1)), /tensor 'w': F32\[2\] needs 8 bytes/],
    ['offsets past the end', () => raw('trunc', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /run past the end/],
    ['overlapping tensors', () => raw('overlap', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /overlaps/],
    ['a hole between tensors', () => raw('hole', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32(3)), /belong to no tensor/],
    ['reversed offsets', () => raw('rev', { a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32(1)), /data_offsets must be/],
    ['metadata not strings', () => raw('meta', { __metadata__: { a: 1 } }), /__metadata__\.a' must be a string/],
    ['missing file', () => join(dir, 'nope.safetensors'), /cannot open \(ENOENT\)/],
  ];
  for (const [what, make, msg] of cases) {
    it(`rejects ${what}, naming the file`, async () => {
      const p = make();
      const err = await readSafetensors(p).catch((e) => e);
      expect(err).toBeInstanceOf(InputFileError);
      expect(err.message).toContain(p);
      expect(err.message).toMatch(msg);
    });
  }

  it('a failed atomic write leaves the old file intact and no temp files', async () => {
    const p = join(dir, 'keep.txt');
    await writeFileAtomic(p, 'old contents');
    const poison = { byteLength: 10 } as unknown as Uint8Array; // makes the write throw midway
    await expect(writeFileAtomic(p, [Buffer.from('new'), poison])).rejects.toThrow();
    expect(readFileSync(p, 'utf8')).toBe('old contents');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await writeFileAtomic(p, 'new contents');
    expect(readFileSync(p, 'utf8')).toBe('new contents');
    expect(existsSync(p)).toBe(true);
  });
});
