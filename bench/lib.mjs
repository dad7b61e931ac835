// Shared bench helpers: argument parsing, median timing, the row format of `distill bench --json`.
import { parseArgs } from 'node:util';

export function args(options) {
  return parseArgs({ options: { json: { type: 'boolean', default: false }, ...options }, allowPositionals: false }).values;
}

export function list(s, f = (x) => x) {
  return String(s).split(',').map((x) => x.trim()).filter(Boolean).map(f);
}

/**
 * Times fn over `reps` calls after `warmup` calls; returns sorted ms samples' median/min/max, and the
 * median CPU time of this process per call (robust when other processes share the cores: time
 * spent descheduled is not counted).
 */
export function time(fn, { warmup = 3, reps = 20, minMs = 0 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const samples = [];
  const cpu = [];
  const t0 = performance.now();
  while (samples.length < reps || performance.now() - t0 < minMs) {
    const c = process.cpuUsage();
    const s = performance.now();
    fn();
    samples.push(performance.now() - s);
    const u = process.cpuUsage(c);
    cpu.push((u.user + u.system) / 1000);
  }
  const med = (a) => {
    a.sort((x, y) => x - y);
    const mid = a.length >> 1;
    return a.length % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
  };
  const median = med(samples);
  return { median, min: samples[0], max: samples[samples.length - 1], n: samples.length, cpuMedian: med(cpu) };
}

/** One row of `distill bench --json`. */
export function row(backend, workers, batch, op, t, flops) {
  return {
    backend, workers, batch, op,
    ms_median: +t.median.toFixed(4), ms_min: +t.min.toFixed(4), ms_max: +t.max.toFixed(4),
    cpu_ms_median: t.cpuMedian === undefined ? null : +t.cpuMedian.toFixed(4),
    gflops: flops ? +(flops / (t.median * 1e6)).toFixed(2) : null,
  };
}

export function printTable(rows, cols) {
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  console.log(cols.map((c, i) => c.padEnd(w[i])).join('  '));
  for (const r of rows) console.log(cols.map((c, i) => String(r[c] ?? '').padEnd(w[i])).join('  '));
}
