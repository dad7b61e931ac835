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
    // ETA of the whole run from the mean batch time of this epoch so far (evaluation not included).
    const left = (p.batches - p.batch) + p.batches * (p.epochs - p.epoch - 1);
    const eta = p.batch > 0 ? (((now - this.epochStart) / 1000) * left) / p.batch : NaN;
    const rate = `${Math.round(p.samplesPerSec)} samples/s`;
    const head = `${this.label} epoch ${p.epoch + 1}/${p.epochs}`;
    const tail = `loss ${p.loss.toFixed(4)} ${rate} ETA ${fmtTime(eta)}`;
    if (this.tty) {
      // Fit the terminal: the bar shrinks first, then the rate and the loss go, then the line is cut.
      const cols = this.out.columns || 80;
      const tails = [tail, `loss ${p.loss.toFixed(4)} ETA ${fmtTime(eta)}`, `ETA ${fmtTime(eta)}`];
      const t = tails.find((x) => `${head} ${p.batch}/${p.batches} ${x}`.length <= cols - 1) ?? tails[2];
      const width = Math.max(0, Math.min(24, cols - 1 - `${head} [] ${p.batch}/${p.batches} ${t}`.length));
      const fill = Math.round(frac * width);
      const bar = width >= 5 ? ` [${'#'.repeat(fill)}${'.'.repeat(width - fill)}]` : '';
      this.out.write(`\r${`${head}${bar} ${p.batch}/${p.batches} ${t}`.slice(0, cols - 1)}\x1b[K`);
      if (done) this.out.write('\r\x1b[K');
    } else if (!done) {
      this.out.write(`${head} batch ${p.batch}/${p.batches} ${tail}\n`);
    }
  }

  line(msg: string): void {
    if (this.quiet) return;
    if (this.tty) this.out.write('\r\x1b[K');
    this.out.write(msg + '\n');
  }
}
