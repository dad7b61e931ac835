// Transparent gunzip: files that start with the gzip magic bytes are inflated with node:zlib.

import { gunzipSync } from 'node:zlib';
import { InputFileError } from '../errors.js';

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

export function maybeGunzip(buf: Uint8Array, file: string): Uint8Array {
  if (!isGzip(buf)) return buf;
  try {
    return gunzipSync(buf);
  } catch (e) {
    throw new InputFileError(file, `corrupt gzip data (${(e as Error).message})`);
  }
}
