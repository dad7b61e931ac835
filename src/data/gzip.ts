// Transparent gunzip: files that start with the gzip magic bytes are inflated with node:zlib.

import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { InputFileError } from '../errors.js';

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Gunzips gzip data (found by its magic bytes, whatever the name); a .gz file that is not gzip is an error. */
export function maybeGunzip(buf: Uint8Array, file: string): Uint8Array {
  if (!isGzip(buf)) {
    if (/\.gz$/i.test(file)) throw notGzip(file, buf);
    return buf;
  }
  try {
    return gunzipSync(buf);
  } catch (e) {
    throw new InputFileError(file, `corrupt gzip data (${(e as Error).message})`);
  }
}

/** The error for a file named .gz whose bytes are not gzip. */
export function notGzip(file: string, head: Uint8Array): InputFileError {
  const hex = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return new InputFileError(file, `named .gz but not gzip data (it starts with ${hex || 'nothing'}, gzip starts with 1f 8b); rename it without .gz if it is plain`);
}

/** A file's bytes, gunzipped when they are gzip; errors name the file. */
export async function readGunzipped(file: string): Promise<Uint8Array> {
  let raw: Uint8Array;
  try {
    raw = await readFile(file);
  } catch (e) {
    throw new InputFileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return maybeGunzip(raw, file);
}
