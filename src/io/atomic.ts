// Atomic file writes: write a temp file beside the target, fsync it, rename it over the target,
// fsync the folder. A crash or error at any point leaves the old file (or none) intact.

import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeErrno, OutputError } from '../errors.js';


/**
 * Writes `data` (one or several chunks) to `path` atomically. A failure (disk full, read-only,
 * no permission) throws OutputError naming the path, and leaves the previous file as it was.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Uint8Array[]): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : Array.isArray(data) ? data : [data];
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o644);
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += (await fh.write(c, off, c.byteLength - off)).bytesWritten;
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (fh) await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new OutputError(path, code, `cannot write: ${describeErrno(code)} (${code}); the previous version of the file, if any, is unchanged`);
    throw e;
  }
  // Make the rename itself durable; some filesystems refuse to fsync a folder, which is harmless.
  try {
    const d = await open(dir, 'r');
    try { await d.sync(); } finally { await d.close(); }
  } catch { /* folder fsync unsupported */ }
}
