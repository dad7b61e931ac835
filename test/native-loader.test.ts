// The native loader: a missing addon or a bad binary becomes a clean BackendUnavailableError
// (probed in a child process first, so a crashing binary cannot take the test process down).

import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../src/errors.js';
import { addonPath, probeInChild } from '../src/backends/native/loader.js';
import { createCudaBackend, createNativeBackend } from '../src/backends/native/native-backend.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-loader-'));

describe('native loader', () => {
  it('a missing addon is a BackendUnavailableError saying it is not built', () => {
    const e = catchErr(() => createNativeBackend(join(dir, 'nope.node')));
    expect(e).toBeInstanceOf(BackendUnavailableError);
    expect(e.message).toMatch(/backend 'native' is unavailable: addon not built/);
  });

  it('a bad binary fails in the child process, cleanly', () => {
    const bad = join(dir, 'bad.node');
    writeFileSync(bad, 'this is not a shared object');
    const e = catchErr(() => createNativeBackend(bad));
    expect(e).toBeInstanceOf(BackendUnavailableError);
    expect(e.message).toMatch(/native.*(invalid ELF|file too short|ERR_DLOPEN_FAILED|cannot)/i);
  });

  it('a binary that crashes when loaded kills only the probe process', () => {
    // Stands in for a binary that segfaults in its initializer (wrong ISA, ABI mismatch).
    const crash = join(dir, 'crash.js');
    writeFileSync(crash, 'process.kill(process.pid, "SIGSEGV");');
    const e = catchErr(() => probeInChild('native', crash));
    expect(e).toBeInstanceOf(BackendUnavailableError);
    expect(e.message).toMatch(/SIGSEGV|killed/);
  });

  it('the built addon probes in a child and reports its ISA clone', () => {
    if (!existsSync(addonPath('native'))) return;
    const r = probeInChild('native', addonPath('native'));
    expect(r.ok).toBe(true);
    expect(['x86-64-v4', 'x86-64-v3', 'default']).toContain(r.isa);
  });

  it('cuda: not built or no device is a clean BackendUnavailableError', () => {
    let e: Error | null = null;
    try {
      createCudaBackend();
    } catch (x) {
      e = x as Error;
    }
    if (e) {
      expect(e).toBeInstanceOf(BackendUnavailableError);
      expect(e.message).toMatch(/backend 'cuda' is unavailable: (addon not built|no CUDA device|.*CUDA)/);
    }
  });
});

function catchErr(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}
