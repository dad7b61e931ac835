// Loads a Node-API addon (distillery.node or distillery_cuda.node) safely: first in a child
// process (a bad binary, e.g. one built for another CPU or Node ABI, crashes that child, not the
// trainer), then in-process with createRequire. Every failure becomes a BackendUnavailableError
// with the reason, which the registry logs before falling back.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError } from '../../errors.js';

/** Package root: this file is src/backends/native/loader.ts or dist/backends/native/loader.js. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Where the addon of `backend` is looked for: $DISTILLERY_NATIVE_ADDON / $DISTILLERY_CUDA_ADDON
 * when set, else build/native/Release/<file> under the package root.
 */
export function addonPath(backend: 'native' | 'cuda'): string {
  const env = backend === 'native' ? process.env.DISTILLERY_NATIVE_ADDON : process.env.DISTILLERY_CUDA_ADDON;
  if (env) return resolve(env);
  return join(PACKAGE_ROOT, 'build', 'native', 'Release', backend === 'native' ? 'distillery.node' : 'distillery_cuda.node');
}

/** What the child process reports: the addon's probe() result. */
export interface ProbeResult {
  ok: boolean;
  [key: string]: unknown;
}

const probeCache = new Map<string, ProbeResult>();

/**
 * Loads `file` in a child Node process and calls its probe(); returns what it printed, or
 * throws BackendUnavailableError saying why the child failed (exit code, signal, message).
 */
export function probeInChild(backend: string, file: string, timeoutMs = 20_000): ProbeResult {
  const cached = probeCache.get(file);
  if (cached) return cached;
  if (!existsSync(file)) throw new BackendUnavailableError(backend, `addon not built: ${file} does not exist (run \`npm run build:native\`)`);
  const script = [
    "const req = require('node:module').createRequire(require('node:path').join(process.cwd(), 'probe.js'));",
    'let out;',
    'try { out = req(process.argv[1]).probe(); }',
    'catch (e) { out = { ok: false, error: String(e && e.message || e) }; }',
    'process.stdout.write(JSON.stringify(out));',
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', script, file], { encoding: 'utf8', timeout: timeoutMs, env: process.env });
  if (r.error) throw new BackendUnavailableError(backend, `probe process failed to run: ${r.error.message}`);
  if (r.signal) throw new BackendUnavailableError(backend, `loading ${file} killed the probe process (${r.signal}); the binary does not work on this machine`);
  if (r.status !== 0) throw new BackendUnavailableError(backend, `loading ${file} failed in the probe process (exit ${r.status}): ${tail(r.stderr)}`);
  let res: ProbeResult;
  try {
    res = JSON.parse(r.stdout) as ProbeResult;
  } catch {
    throw new BackendUnavailableError(backend, `probe of ${file} printed no result: ${tail(r.stdout + r.stderr)}`);
  }
  if (!res.ok) throw new BackendUnavailableError(backend, String(res.error ?? `probe of ${file} failed`));
  probeCache.set(file, res);
  return res;
}

function tail(s: string): string {
  const lines = s.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join(' | ').slice(0, 500) || '(no output)';
}

/** Probes `file` in a child process, then requires it in-process. */
export function loadAddon<T>(backend: string, file: string): { addon: T; probe: ProbeResult } {
  const probe = probeInChild(backend, file);
  const req = createRequire(import.meta.url);
  try {
    return { addon: req(file) as T, probe };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_DLOPEN_FAILED' ? `${err.code}: ${err.message}` : String(err?.message ?? err);
    throw new BackendUnavailableError(backend, `cannot load ${file}: ${why}`);
  }
}
