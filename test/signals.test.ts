// Stopping a run: Ctrl-C (SIGINT) or SIGTERM during training stops after the step in progress,
// writes the checkpoint, says how to resume and exits 130 / 143; --resume then continues; a second
// signal exits at once.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a long teach run; sends `signals` once its first progress line is out; resolves with how it ended. */
function interrupt(out: string, signal: NodeJS.Signals, opts: { again?: boolean; layers?: string; batch?: string } = {}): Promise<{ code: number | null; stderr: string; afterSignalMs: number }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, 'teach', '--layers', opts.layers ?? '784,512,10', '--epochs', '50', '--batch', opts.batch ?? '32', '--schedule', 'constant', '--backend', 'js', '--workers', '1', '--out', out], { env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
    let stderr = '', sentAt = 0, again = false;
    p.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (!sentAt && /epoch 1\/50 batch/.test(stderr)) {
        sentAt = Date.now();
        p.kill(signal);
      }
      // The second signal once the first was seen (signals sent together may arrive as one).
      if (opts.again && !again && /received; finishing the step/.test(stderr)) {
        again = true;
        p.kill(signal);
      }
    });
    p.on('exit', (code) => resolve({ code, stderr, afterSignalMs: Date.now() - sentAt }));
  });
}

describe('stopping a run with a signal', () => {
  it('Ctrl-C: exit 130 within 5 s, a checkpoint, how to resume; --resume continues from it', async () => {
    const out = join(dir, 'int');
    const r = await interrupt(out, 'SIGINT');
    expect(r.code, r.stderr).toBe(130);
    expect(r.afterSignalMs).toBeLessThan(5000);
    expect(r.stderr).toMatch(/interrupt \(Ctrl-C\) received; finishing the step and writing the checkpoint/);
    expect(r.stderr).toMatch(/interrupted: teacher stopped by SIGINT at step \d+: checkpoint written to .*checkpoint\.safetensors; continue with the same command and --resume/);
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(true);
    const step = Number(/at step (\d+)/.exec(r.stderr)![1]);
    // The same run with --resume (one epoch now) continues from that step, not from 0.
    const resumed = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'teach', '--layers', '784,512,10', '--epochs', '1', '--batch', '32', '--schedule', 'constant', '--backend', 'js', '--workers', '1', '--out', out, '--resume'], { env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
      let stderr = '';
      p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming from .*checkpoint\\.safetensors: epoch 1, batch ${step}/250, step ${step}`));
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  }, 120_000);

  it('SIGTERM: exit 143 with a checkpoint', async () => {
    const out = join(dir, 'term');
    const r = await interrupt(out, 'SIGTERM');
    expect(r.code, r.stderr).toBe(143);
    expect(r.afterSignalMs).toBeLessThan(5000);
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(true);
  }, 60_000);

  it('a second Ctrl-C exits at once', async () => {
    // Steps of ~1 s on js, so that the second signal comes while the first step still runs.
    const r = await interrupt(join(dir, 'twice'), 'SIGINT', { again: true, layers: '784,1024,10', batch: '256' });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/second SIGINT; exiting now/);
  }, 60_000);
});
