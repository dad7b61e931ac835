// Shared bench helpers: argument parsing, median timing, the row format of `distill bench --json`.
import { parseArgs } from 'node:util';

export function args(options) {
  return parseArgs({ options: { json: { type: 'boolean', default: false }, ...options }, allowPositionals: false }).values;
}

export function list(s, f = (x) => x) {
  return String(s).split(',').map((x) => x.trim()).filter(Boolean).map(f);
}

/** Times fn over `reps` calls after `warmup` calls; returns sorted ms samples' median/min/max. */
export function time(fn, { warmup = 3, reps = 20, minMs = 0 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const samples = [];
  const t0 = performance.now();
  while (samples.length < reps || performance.now() - t0 < minMs) {
    const s = performance.now();
    fn();
    samples.push(performance.now() - s);
  }
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  const median = samples.length % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
  return { median, min: samples[0], max: samples[samples.length - 1], n: samples.length };
}

/** One row of `distill bench --json`. */
export function row(backend, workers, batch, op, t, flops) {
  return {
    backend, workers, batch, op,
    ms_median: +t.median.toFixed(4), ms_min: +t.min.toFixed(4), ms_max: +t.max.toFixed(4),
    gflops: flops ? +(flops / (t.median * 1e6)).toFixed(2) : null,
  };
}

export function printTable(rows, cols) {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  console.log(cols.map((c, i) => c.padEnd(w[i])).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => String(r[c] ?? '').padEnd(w[i])).join('  '));
}
