// Progress output: a redrawn bar with rate and ETA on a TTY; plain, throttled lines otherwise.

import type { StepProgress } from '../train/trainer.js';

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  s = Math.max(0, Math.round(s));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
  private last = 0;
  private readonly tty: boolean;
  private epochStart = Date.now();
  private epoch = -1;
  constructor(private readonly label: string, private readonly out: NodeJS.WriteStream = process.stderr, private readonly quiet = false) {
    this.tty = !!out.isTTY && !process.env.CI;
  }

  step(p: StepProgress): void {
    if (this.quiet) return;
    const now = Date.now();
    if (p.epoch !== this.epoch) {
      this.epoch = p.epoch;
      this.epochStart = now - 1;
    }
    const done = p.batch === p.batches;
    if (!done && now - this.last < (this.tty ? 100 : 10_000)) return;
    this.last = now;
    const frac = p.batch / p.batches;
    // ETA of this epoch from the mean batch time so far.
    const eta = p.batch > 0 ? (((now - this.epochStart) / 1000) * (p.batches - p.batch)) / p.batch : NaN;
    const rate = `${Math.round(p.samplesPerSec)} samples/s`;
    const head = `${this.label} epoch ${p.epoch + 1}/${p.epochs}`;
    if (this.tty) {
      const width = 24;
      const fill = Math.round(frac * width);
      this.out.write(`\r${head} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} ${rate} ETA ${fmtTime(eta)}\x1b[K`);
      if (done) this.out.write('\r\x1b[K');
    } else if (!done) {
      this.out.write(`${head} batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} ${rate} ETA ${fmtTime(eta)}\n`);
    }
  }

  line(msg: string): void {
    if (this.quiet) return;
    if (this.tty) this.out.write('\r\x1b[K');
    this.out.write(msg + '\n');
  }
}
