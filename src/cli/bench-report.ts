// The reports of `distill bench`: the text tables for stdout and the self-contained HTML page
// (inline SVG bars, inline CSS, no external assets).

import type { BenchResult, BenchRow } from './bench.js';
import { BASE_CSS, PALETTE, barChart, esc } from './svg.js';

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  /** distillery's package version. */
  version: string;
  /** ISO date of the run. */
  date: string;
  command: string;
  backends: { name: string; description: string }[];
  skipped: { name: string; reason: string }[];
  seconds: number;
}

/** The whole-step rows (kd_step on W, kd_step_cnn on C): how the reports describe them. */
const STEP_INFO: Record<string, { workload: string; text: string; title: string; html: string }> = {
  kd_step: {
    workload: 'W', title: 'KD step on workload W',
    text: 'teacher 784-1200-1200-10 forward, student 784-800-800-10 forward + backward, KD+CE loss, SGD step',
    html: 'Workload W: float32; 784 inputs, 10 classes; teacher 784-1200-1200-10 ReLU, forward only (eval mode); student 784-800-800-10 ReLU; loss 0.9·T²·KL + 0.1·CE at T=4; SGD lr 0.01 momentum 0.9. One step = teacher forward + student forward + loss + backward + update (1.431 GFLOP at N=128).',
  },
  kd_step_cnn: {
    workload: 'C', title: 'CNN KD step on workload C',
    text: 'teacher conv32-pool-conv64-pool-fc128-fc10 forward, student conv16-pool-conv32-pool-fc10 forward + backward, KD+CE loss, SGD step',
    html: 'Workload C: float32, NCHW; input [N,1,28,28], 10 classes; 3×3 convolutions with padding 1, ReLU, 2×2 max-pooling; teacher conv32-pool-conv64-pool-fc128-fc10, forward only (eval mode); student conv16-pool-conv32-pool-fc10; loss 0.9·T²·KL + 0.1·CE at T=4; SGD lr 0.01 momentum 0.9. One step = teacher forward + student forward + loss + backward + update (1.8492 GFLOP at N=128, counted as the PyTorch anchor cnn_step.py counts).',
  },
};

const fix = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? '' : x.toFixed(d));
const ms = (x: number | null) => (x === null ? '' : x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(4));

/** Kernel rows grouped by case (op, shape, batch), in run order. */
function kernelGroups(rows: BenchRow[]): { key: string; op: string; shape: string; label: string; batch: number | null; rows: BenchRow[] }[] {
  const groups = new Map<string, { key: string; op: string; shape: string; label: string; batch: number | null; rows: BenchRow[] }>();
  for (const r of rows) {
    if (STEP_INFO[r.op] || r.op === 'infer') continue;
    const key = `${r.op}|${r.shape}|${r.batch}`;
    if (!groups.has(key)) groups.set(key, { key, op: r.op, shape: r.shape ?? '', label: r.case ?? '', batch: r.batch, rows: [] });
    groups.get(key)!.rows.push(r);
  }
  return [...groups.values()];
}

/** Kernels timed by their arithmetic (GFLOP/s; the int8 ones count integer multiply-adds as 2 ops); the others by GB/s. */
const BY_FLOPS = new Set(['matmul', 'conv2d', 'conv2d_backward_data', 'conv2d_backward_weight', 'matmul_int8', 'conv2d_int8']);
const rate = (r: BenchRow) => (BY_FLOPS.has(r.op) ? r.gflops : r.gbps ?? null);
const unit = (op: string) => (op.endsWith('_int8') ? 'GOP/s' : BY_FLOPS.has(op) ? 'GFLOP/s' : 'GB/s');

export function peakDefinition(res: BenchResult): string {
  const p = res.peak;
  return `peak = the best matmul GFLOP/s per thread measured in this run (${p ? `${p.gflops.toFixed(2)} GFLOP/s, ${p.backend} ${p.shape}` : 'none measured'}) × the cores the row uses (workers × kernel threads, at most ${res.machine.cores} here)`;
}

function table(head: string[], body: string[][], right: boolean[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (right[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

export function textReport(res: BenchResult): string {
  const m = res.machine;
  const out: string[] = [];
  out.push(`distill bench: distillery ${m.version}, node ${m.node}, ${m.cpu} (${m.cores} cores), ${m.platform}, ${m.date}, ${m.seconds} s`);
  out.push(`backends: ${m.backends.map((b) => b.name).join(', ')}${m.skipped.length ? `; skipped: ${m.skipped.map((s) => s.name).join(', ')}` : ''}`);
  const names = m.backends.map((b) => b.name);
  const errors: string[] = [];
  const groups = kernelGroups(res.rows);
  if (groups.length) {
    out.push('', 'kernels, one thread (-mt backends: their threads): GFLOP/s (matmul) or GB/s (bytes read + written; the others) at the median time; higher is better; the (N,10) kernels are call-overhead bound');
    const body = groups.map((g) => [g.op, g.shape, g.batch === null ? '' : String(g.batch), unit(g.op), ...names.map((n) => {
      const r = g.rows.find((x) => x.backend === n);
      if (!r) return '';
      if (r.error) {
        errors.push(`${n} ${g.op} ${g.shape}: ${r.error}`);
        return 'error';
      }
      return fix(rate(r));
    })]);
    out.push(table(['op', 'shape', 'batch', 'unit', ...names], body, [false, false, true, false, ...names.map(() => true)]));
  }
  for (const [op, si] of Object.entries(STEP_INFO)) {
    const kd = res.rows.filter((r) => r.op === op);
    if (!kd.length) continue;
    out.push('', `${op} on workload ${si.workload} (${si.text}): ms per step`);
    const body = kd.map((r) => {
      if (r.error) errors.push(`${r.backend} ${op} N=${r.batch} workers=${r.workers}: ${r.error}`);
      return [String(r.batch), r.backend, String(r.workers), r.error ? 'error' : ms(r.ms_median), r.error ? '' : `${ms(r.ms_min)}–${ms(r.ms_max)}`, r.error ? '' : String(r.samples_per_s), fix(r.gflops), r.pct_peak === null || r.pct_peak === undefined ? '' : `${r.pct_peak.toFixed(1)}%`, r.error ? '' : String(r.reps)];
    });
    out.push(table(['batch', 'backend', 'workers', 'ms median', 'min–max', 'samples/s', 'GFLOP/s', '% peak', 'steps'], body, [true, false, true, true, true, true, true, true, true]));
    out.push(peakDefinition(res));
  }
  const inf = res.rows.filter((r) => r.op === 'infer');
  if (inf.length) {
    out.push('', 'infer on workload Q (inference, x ~ N(0,1) [B,784]; mlp800 784-800-800-10, mlp64 784-64-10; int8 = our post-training quantization): ms per batch');
    const body = inf.map((r) => {
      if (r.error) errors.push(`${r.backend} infer ${r.model} ${r.dtype} B=${r.batch}: ${r.error}`);
      return [r.model ?? '', String(r.batch), r.backend, r.dtype ?? '', r.error ? 'error' : ms(r.ms_median), r.error ? '' : `${ms(r.ms_min)}–${ms(r.ms_max)}`, r.error ? '' : String(r.samples_per_s), fix(r.gflops), r.speedup_vs_f32 === undefined ? '' : `${r.speedup_vs_f32.toFixed(2)}×`, r.top1 === undefined ? '' : r.top1.toFixed(3)];
    });
    out.push(table(['model', 'batch', 'backend', 'dtype', 'ms median', 'min–max', 'samples/s', 'G(FL)OP/s', 'int8 speedup', 'top-1 = f32'], body, [false, true, false, false, true, true, true, true, true, true]));
  }
  if (errors.length) out.push('', 'errors:', ...errors.map((e) => `  ${e}`));
  return out.join('\n');
}

// ---- HTML ------------------------------------------------------------------------------------

function htmlTable(head: string[], body: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function htmlReport(res: BenchResult): string {
  const m = res.machine;
  const color = new Map(m.backends.map((b, i) => [b.name, PALETTE[i % PALETTE.length]]));
  const sections: string[] = [];
  const groups = kernelGroups(res.rows);
  if (groups.length) {
    const charts = groups.map((g) => barChart(`${g.op} ${g.shape}${g.label ? ` — ${g.label}` : ''} (${unit(g.op)}, one thread; -mt backends: their threads)`, g.rows.map((r) => ({
      label: r.backend, value: r.error ? null : rate(r), color: color.get(r.backend) ?? '#888',
      text: r.error ? `error: ${r.error}` : `${fix(rate(r))} ${unit(g.op)}, ${ms(r.ms_median)} ms (${ms(r.ms_min)}–${ms(r.ms_max)})`,
    })), `${g.op === 'matmul' ? 'GFLOP/s (10⁹ floating-point operations per second)' : 'GB/s (10⁹ bytes read + written per second)'} at the median time; higher is better`));
    const body = res.rows.filter((r) => !STEP_INFO[r.op] && r.op !== 'infer').map((r) => [r.op, r.shape ?? '', r.case ?? '', r.batch === null ? '' : String(r.batch), r.backend,
      ms(r.ms_median), r.error ? '' : `${ms(r.ms_min)}–${ms(r.ms_max)}`, fix(r.gflops), fix(r.gbps), r.error ?? String(r.reps)]);
    sections.push(`<h2>Kernels (one thread; -mt backends: their threads)</h2><p>Each backend's result is checked against the TypeScript reference before it is timed; a wrong result is an error row and is not timed. matmul in GFLOP/s (2·M·N·K per call; shape M×N×K, 'nt' = B transposed, 'tn' = A transposed); the memory-bound kernels in GB/s (bytes read + written per call). Bars at the median time; higher is better. The (N,10) logit kernels are tiny: their time is mostly each call's fixed cost.</p>${charts.join('\n')}
<h3>All kernel rows</h3>${htmlTable(['op', 'shape', 'case', 'batch', 'backend', 'ms median', 'ms min–max', 'GFLOP/s', 'GB/s', 'calls timed / error'], body)}`);
  }
  for (const [op, si] of Object.entries(STEP_INFO)) {
    const kd = res.rows.filter((r) => r.op === op);
    if (!kd.length) continue;
    const batches = [...new Set(kd.map((r) => r.batch))];
    const charts = batches.map((N) => barChart(`${op} on ${si.workload}, N=${N}: samples/s (median; whisker: min–max)`, kd.filter((r) => r.batch === N).map((r) => ({
      label: `${r.backend} × ${r.workers} worker${r.workers > 1 ? 's' : ''}`, value: r.error ? null : r.samples_per_s ?? null, color: color.get(r.backend) ?? '#888',
      range: r.error || !r.ms_min || !r.ms_max ? undefined : [(N! * 1000) / r.ms_max, (N! * 1000) / r.ms_min] as [number, number],
      text: r.error ? `error: ${r.error}` : `${r.samples_per_s} samples/s, ${ms(r.ms_median)} ms${r.pct_peak !== null && r.pct_peak !== undefined ? `, ${r.pct_peak.toFixed(1)}% of peak` : ''}`,
    })), `training samples per second (N ÷ median step time); higher is better`));
    const body = kd.map((r) => [String(r.batch), r.backend, String(r.workers), ms(r.ms_median), r.error ? '' : `${ms(r.ms_min)}–${ms(r.ms_max)}`, r.samples_per_s === undefined ? '' : String(r.samples_per_s), fix(r.gflops), r.pct_peak === null || r.pct_peak === undefined ? '' : `${r.pct_peak.toFixed(1)}%`, r.error ?? String(r.reps)]);
    sections.push(`<h2>${esc(si.title)}</h2><p>${esc(si.html)} With more than one worker the batch is split into shards run by a worker pool; the main thread sums the gradients and steps the optimizer.</p><p class="def">${esc(peakDefinition(res))}</p>${charts.join('\n')}
${htmlTable(['batch', 'backend', 'workers', 'ms median', 'ms min–max', 'samples/s', 'GFLOP/s', '% peak', 'steps timed / error'], body)}`);
  }
  const inf = res.rows.filter((r) => r.op === 'infer');
  if (inf.length) {
    const keys = [...new Set(inf.map((r) => `${r.model}|${r.batch}`))];
    const charts = keys.map((k) => {
      const [model, B] = k.split('|');
      return barChart(`infer ${model}, B=${B}: samples/s (median; whisker: min–max)`, inf.filter((r) => `${r.model}|${r.batch}` === k).map((r) => ({
        label: `${r.backend} ${r.dtype}`, value: r.error ? null : r.samples_per_s ?? null, color: color.get(r.backend) ?? '#888',
        range: r.error || !r.ms_min || !r.ms_max ? undefined : [(Number(B) * 1000) / r.ms_max, (Number(B) * 1000) / r.ms_min] as [number, number],
        text: r.error ? `error: ${r.error}` : `${r.samples_per_s} samples/s, ${ms(r.ms_median)} ms${r.speedup_vs_f32 !== undefined ? `, ${r.speedup_vs_f32.toFixed(2)}× float32` : ''}`,
      })), 'inference samples per second (B ÷ median time per batch); higher is better');
    });
    const body = inf.map((r) => [r.model ?? '', String(r.batch), r.backend, r.dtype ?? '', ms(r.ms_median), r.error ? '' : `${ms(r.ms_min)}–${ms(r.ms_max)}`, r.samples_per_s === undefined ? '' : String(r.samples_per_s), fix(r.gflops), r.speedup_vs_f32 === undefined ? '' : `${r.speedup_vs_f32.toFixed(2)}×`, r.top1 === undefined ? '' : r.top1.toFixed(3), r.error ?? String(r.reps)]);
    sections.push(`<h2>Inference on workload Q, float32 and int8</h2><p>x ~ N(0,1) [B,784]; mlp800 (784-800-800-10) and mlp64 (784-64-10), ReLU; int8 is our post-training quantization of the same model (per-channel int8 weights, uint8 activations), input quantization and logit dequantization included. Float32 and int8 were measured in alternation.</p>${charts.join('\n')}
${htmlTable(['model', 'batch', 'backend', 'dtype', 'ms median', 'ms min–max', 'samples/s', 'GFLOP/s or GOP/s', 'int8 speedup', 'top-1 = f32', 'calls timed / error'], body)}`);
  }
  const info: [string, string][] = [
    ['CPU', `${m.cpu} (${m.cores} cores available)`], ['platform', m.platform], ['Node.js', m.node], ['distillery', m.version], ['date', m.date],
    ['run time', `${m.seconds} s`], ['backends', m.backends.map((b) => `${b.name}: ${b.description}`).join('\n')],
    ...(m.skipped.length ? [['skipped', m.skipped.map((s) => `${s.name}: ${s.reason}`).join('\n')] as [string, string]] : []),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>distill bench — ${esc(m.cpu)} — ${esc(m.date)}</title>
<style>${BASE_CSS}</style></head><body>
<h1>distill bench</h1>
<dl>${info.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
<p>Command line:</p><pre>${esc(m.command)}</pre>
${sections.join('\n')}
<h2>Text report</h2><pre>${esc(textReport(res))}</pre>
</body></html>
`;
}
