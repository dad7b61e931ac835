// Progress lines: on a terminal the line fits its width (the bar shrinks, then the line is cut)
// and the ETA is the whole run's, not the epoch's; without a terminal, plain lines.

import { describe, expect, it, vi } from 'vitest';
import { Progress } from '../src/cli/progress.js';

function fakeOut(columns: number, isTTY = true) {
  const writes: string[] = [];
  return { writes, out: { isTTY, columns, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream };
}

describe('progress', () => {
  it('fits the terminal width, and the ETA covers every epoch left', () => {
    const ci = process.env.CI;
    delete process.env.CI;
    try {
      vi.useFakeTimers({ now: 1_000_000 });
      for (const cols of [40, 60, 120]) {
        const { writes, out } = fakeOut(cols);
        const p = new Progress('student', out);
        p.step({ epoch: 0, epochs: 10, batch: 0, batches: 100, step: 0, loss: 2.3, samplesPerSec: 0 });
        vi.advanceTimersByTime(10_000); // 10 s for 10 batches: 1 s per batch
        p.step({ epoch: 0, epochs: 10, batch: 10, batches: 100, step: 10, loss: 1.23456, samplesPerSec: 640 });
        // eslint-disable-next-line no-control-regex -- the erase-line escape (ESC [K) the progress line ends with
        const line = writes.at(-1)!.replace(/^\r/, '').replace(/\x1b\[K$/, '');
        expect(line.length, line).toBeLessThanOrEqual(cols - 1);
        // 90 batches left in this epoch + 9 epochs of 100: 990 s = 16:30.
        if (cols >= 40) expect(line).toMatch(/ETA 16:30$/);
        if (cols === 120) expect(line).toMatch(/^student epoch 1\/10 \[##\.+\] 10\/100 loss 1\.2346 640 samples\/s ETA 16:30$/);
      }
    } finally {
      vi.useRealTimers();
      if (ci !== undefined) process.env.CI = ci;
    }
  });

  it('without a terminal: whole lines, no escape codes', () => {
    const { writes, out } = fakeOut(0, false);
    const p = new Progress('teacher', out);
    p.step({ epoch: 1, epochs: 3, batch: 1, batches: 4, step: 5, loss: 0.5, samplesPerSec: 100 });
    expect(writes.join('')).toMatch(/^teacher epoch 2\/3 batch 1\/4 loss 0\.5000 100 samples\/s ETA \d+:\d\d\n$/);
  });
});
