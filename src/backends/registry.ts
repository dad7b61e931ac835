// Backend registry: factories register with a priority; loading one that fails is logged and
// skipped, never fatal, unless that backend was asked for by name.

import { BackendUnavailableError, ConfigError } from '../errors.js';
import type { Backend, BackendFactory, WorkerShare } from './backend.js';

const factories = new Map<string, BackendFactory>();

export function registerBackend(factory: BackendFactory): void {
  factories.set(factory.name, factory);
}

/** Registered backend names, highest priority first. */
export function backendNames(): string[] {
  return [...factories.values()].sort((a, b) => b.priority - a.priority).map((f) => f.name);
}

/** Creates the named backend or throws BackendUnavailableError saying why. */
export async function loadBackend(name: string): Promise<Backend> {
  const f = factories.get(name);
  // An unknown name is bad input (exit 2); a known backend that cannot load here is exit 3.
  if (!f) throw new ConfigError(`unknown backend '${name}' (backends: ${backendNames().join(', ')})`);
  try {
    return await f.create();
  } catch (e) {
    if (e instanceof BackendUnavailableError) throw e;
    throw new BackendUnavailableError(name, (e as Error)?.message ?? String(e));
  }
}

/** In a worker thread: an instance of share.name over the main thread's shared storage. */
export async function attachBackend(share: WorkerShare): Promise<Backend> {
  const f = factories.get(share.name);
  if (!f) throw new BackendUnavailableError(share.name, `unknown backend; registered: ${backendNames().join(', ')}`);
  try {
    return f.attach ? await f.attach(share) : await f.create();
  } catch (e) {
    if (e instanceof BackendUnavailableError) throw e;
    throw new BackendUnavailableError(share.name, (e as Error)?.message ?? String(e));
  }
}

export interface Skipped {
  name: string;
  reason: string;
}

/** Loads every registered backend that works here; the others are returned with their reason. */
export async function loadAvailableBackends(log: (msg: string) => void = () => {}): Promise<{ backends: Backend[]; skipped: Skipped[] }> {
  const backends: Backend[] = [];
  const skipped: Skipped[] = [];
  for (const name of backendNames()) {
    try {
      backends.push(await loadBackend(name));
    } catch (e) {
      const reason = e instanceof BackendUnavailableError ? e.message : String(e);
      skipped.push({ name, reason });
      log(`skipping backend ${name}: ${reason}`);
    }
  }
  return { backends, skipped };
}

/** The highest-priority backend that loads (the measured choice comes with the parallel layer). */
export async function defaultBackend(log: (msg: string) => void = () => {}): Promise<Backend> {
  for (const name of backendNames()) {
    try {
      return await loadBackend(name);
    } catch (e) {
      log(`falling back from ${name}: ${(e as Error).message}`);
    }
  }
  throw new BackendUnavailableError('any', 'no backend could be loaded');
}
