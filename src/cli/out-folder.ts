// The --out folder of a training run: created, checked writable before any training (a probe file
// is written and removed), locked against a second run (a lock file holding the PID; a lock left
// by a process that no longer runs is taken over), and cleaned of the temp files that a killed
// run's atomic writes left behind.

import { mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, describeErrno } from '../errors.js';

export const LOCK_FILE = '.distill.lock';

/** True when a process with this PID runs (and is not us). */
function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

export interface OutFolder {
  dir: string;
  /** Names of stale temp files removed at start. */
  removed: string[];
  release(): void;
}

/**
 * Creates `dir`, checks it is writable, takes its lock and removes stale temp files. Throws
 * ConfigError (exit 2) naming the folder when it cannot be used.
 */
export function openOutFolder(dir: string, flag = '--out'): OutFolder {
  const fail = (what: string, e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${flag} ${dir}: ${what}: ${describeErrno(code)}${code ? ` (${code})` : ''}`);
  };
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail('cannot create the folder', e);
  }
  const probe = join(dir, `.distill-probe-${process.pid}`);
  try {
    writeFileSync(probe, 'probe');
    unlinkSync(probe);
  } catch (e) {
    rmSync(probe, { force: true });
    fail('cannot write there', e);
  }
  const lock = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) fail('cannot take the lock file', e);
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (alive(pid)) throw new ConfigError(`${flag} ${dir}: another distill run (PID ${pid}) is using this folder; wait for it, stop it, or give another ${flag}`);
      rmSync(lock, { force: true }); // left by a run that no longer exists: take it over
    }
  }
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = /^\..+\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (m && !alive(Number(m[1]))) {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    try {
      if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
    } catch { /* already gone */ }
  };
  process.once('exit', release);
  return { dir, removed, release };
}
