// OUT/report.html of `distill teach`, `distill student` and `distill demo`: one self-contained
// page (inline SVG and CSS, no script, no network) with the loss and accuracy curves, T and α per
// epoch, the confusion matrix, model size, backend and throughput.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Backend } from '../backends/index.js';
import type { Dataset } from '../data/dataset.js';
import { kdForEpoch, type KdSchedule } from '../distill/schedules.js';
import { validateKd, type KdConfig } from '../distill/objectives.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Sequential } from '../nn/sequential.js';
import { describeModel } from '../nn/spec.js';
import { confusionMatrix, type Confusion } from '../train/confusion.js';
import type { EpochMetrics, EvalResult, Teacher, TrainConfig } from '../train/trainer.js';
import { BASE_CSS, PALETTE, barChart, clip, esc, fmt, fmtBytes, lineChart, textWidth, type Series } from './svg.js';

const VERSION: string = createRequire(import.meta.url)('../../package.json').version;

// ---- inputs --------------------------------------------------------------------------------

export interface DataInfo {
  name: string;
  train: number;
  test: number;
  features: number;
  classes: number;
}

export interface RunReportInput {
  role: 'teacher' | 'student';
  /** The command line, as typed. */
  command: string;
  /** The run's folder. */
  outDir: string;
  /** ISO date (default: now). */
  date?: string;
  data: DataInfo;
  model: { layers: string; parameters: number; file?: string; fileBytes?: number | null };
  runtime: { backend: string; description?: string; workers: number };
  /** Settings shown as a definition list (optimizer, batch, teachers, ...). */
  settings: [string, string][];
  /** Distillation: the configured T and α, their schedules, and the values of each epoch (null: KD off that epoch). */
  kd?: { base: KdConfig; schedule?: KdSchedule; perEpoch: (KdConfig | null)[] } | null;
  history: EpochMetrics[];
  /** Training samples per second of each epoch in `history` (steps only, without the evaluation); null where unknown. */
  samplesPerSec?: (number | null)[];
  final?: EvalResult | null;
  /** The confusion matrix on the test set, with the class names. */
  confusion?: (Confusion & { names: string[] }) | null;
}

export interface DemoReportInput {
  command: string;
  date?: string;
  data: DataInfo;
  rows: { model: string; layers: string; parameters: number; acc: number; errors: number; n: number; seconds: number; samples: number }[];
  runs: { name: string; history: EpochMetrics[]; samplesPerSec?: (number | null)[]; confusion?: Confusion | null }[];
  kd: KdConfig;
  names: string[];
  runtime: string;
  /** The one-sentence outcome, as printed. */
  summary: string;
}

// ---- pieces --------------------------------------------------------------------------------

export const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)}%`;
const num4 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toPrecision(4));

/** Train loss and its parts per epoch, and the test loss: the loss chart. */
export function lossChart(history: EpochMetrics[], o: { kd: boolean; title?: string; width?: number }): string {
  const at = (f: (h: EpochMetrics) => number | null): [number, number | null][] => history.map((h) => [h.epoch, f(h)]);
  const hint = history.some((h) => h.train_hint > 0);
  const series: Series[] = o.kd
    ? [
        { name: 'train loss (total)', points: at((h) => h.train_loss), color: PALETTE[0] },
        { name: 'KD part: α·T²·KL', points: at((h) => h.train_kd), color: PALETTE[1] },
        { name: 'CE part: (1−α)·CE', points: at((h) => h.train_ce), color: PALETTE[2] },
        ...(hint ? [{ name: 'hint part', points: at((h) => h.train_hint), color: PALETTE[5] }] : []),
        { name: 'test loss (CE)', points: at((h) => h.test_loss), color: PALETTE[3], dashed: true },
      ]
    : [
        { name: 'train loss (CE)', points: at((h) => h.train_loss), color: PALETTE[0] },
        ...(hint ? [{ name: 'hint part', points: at((h) => h.train_hint), color: PALETTE[5] }] : []),
        { name: 'test loss (CE)', points: at((h) => h.test_loss), color: PALETTE[3], dashed: true },
      ];
  return lineChart(series, { title: o.title ?? 'Loss per epoch (mean over the epoch\'s batches; test: after the epoch)', xLabel: 'epoch', yLabel: 'loss (nats per sample)', yZero: true, xInteger: true, width: o.width, empty: 'no completed epoch yet' });
}

/** Test accuracy per epoch, in percent, of one or more runs. */
export function accuracyChart(runs: { name: string; history: EpochMetrics[]; color: string }[], o: { title?: string; width?: number } = {}): string {
  const series: Series[] = runs.map((r) => ({ name: r.name, color: r.color, points: r.history.map((h): [number, number | null] => [h.epoch, h.test_acc === null ? null : h.test_acc * 100]) }));
  return lineChart(series, { title: o.title ?? 'Test accuracy per epoch', xLabel: 'epoch', yLabel: 'test accuracy (%)', yRange: [0, 100], xInteger: true, width: o.width, yText: (y) => `${y.toFixed(2)}%`, empty: 'no test set or no completed epoch' });
}

/** What a value schedule does, in words: "4 → 2 (linear)". */
function scheduleText(from: number, s: { kind: string; to?: number } | undefined): string {
  if (!s || s.kind === 'constant') return `${from} (constant)`;
  return `${from} → ${s.to} (${s.kind})`;
}

/** T and α per epoch: two small charts. */
export function kdCharts(kd: NonNullable<RunReportInput['kd']>): string {
  const T: [number, number | null][] = kd.perEpoch.map((k, e) => [e + 1, k ? k.T : null]);
  const A: [number, number | null][] = kd.perEpoch.map((k, e) => [e + 1, k ? k.alpha : null]);
  const o = { xLabel: 'epoch', xInteger: true, width: 440, height: 240, empty: 'KD is off in every epoch' };
  const from = kd.schedule?.startEpoch ? `; KD from epoch ${kd.schedule.startEpoch + 1}` : '';
  return `<div class="row">${lineChart([{ name: `T: ${scheduleText(kd.base.T, kd.schedule?.T)}${from}`, points: T, color: PALETTE[1] }], { ...o, title: 'Temperature T per epoch', yLabel: 'T', yZero: true })}
${lineChart([{ name: `α: ${scheduleText(kd.base.alpha, kd.schedule?.alpha)}${from}`, points: A, color: PALETTE[4] }], { ...o, title: 'KD weight α per epoch', yLabel: 'α (weight of the KD term)', yRange: [0, 1], yZero: true })}</div>`;
}

/** Training throughput per epoch. */
export function throughputChart(history: EpochMetrics[], sps: (number | null)[]): string {
  return lineChart([{ name: 'training samples/s (steps only)', points: history.map((h, i) => [h.epoch, sps[i] ?? null]), color: PALETTE[6] }],
    { title: 'Throughput per epoch', xLabel: 'epoch', yLabel: 'samples per second', yZero: true, xInteger: true, width: 640, height: 240, yText: (y) => `${fmt(y)} samples/s`, empty: 'no completed epoch yet' });
}

/** White to `to` (an [r, g, b] color) at intensity f in [0, 1]. */
const shade = (to: [number, number, number], f: number) => `rgb(${to.map((c) => Math.round(255 + (c - 255) * f)).join(',')})`;

/** The largest matrix drawn cell by cell; above it, tables only. */
export const MATRIX_MAX_CLASSES = 100;

/**
 * The confusion matrix as an SVG heat map: rows are true classes, columns predicted ones; each
 * cell is shaded by its share of the row (blue on the diagonal, red off it), with its count when
 * the cells are big enough, and the per-class recall on the right.
 */
export function confusionSvg(c: Confusion, names: string[], o: { title?: string; maxSide?: number } = {}): string {
  const K = c.K;
  const side = o.maxSide ?? 520;
  const cell = K <= 10 ? Math.min(44, Math.floor(side / Math.max(1, K))) : Math.max(5, Math.min(44, Math.floor(side / K)));
  const every = Math.max(1, Math.ceil(12 / cell)); // label every n-th class when cells are small
  const label = (k: number) => clip(names[k] ?? String(k), 16);
  const labelW = Math.ceil(Math.max(20, ...Array.from({ length: K }, (_, k) => textWidth(label(k), 11)))) + 10;
  const left = 22 + labelW, top = 30, recallW = 56;
  const W = left + K * cell + recallW, colLabelH = labelW;
  const H = top + K * cell + colLabelH + 28;
  const rows = Array.from({ length: K }, (_, t) => { let s = 0; for (let p = 0; p < K; p++) s += c.counts[t * K + p]; return s; });
  const fs = Math.min(12, Math.max(8, cell * 0.32));
  const showNumbers = cell >= 20;
  const short = (v: number) => (v >= 10000 ? `${Math.round(v / 1000)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(v));
  const f1 = (v: number) => v.toFixed(1);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" class="confusion" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title ?? 'confusion matrix')}">`,
    `<text x="0" y="16" class="title">${esc(o.title ?? 'Confusion matrix (test set)')}</text>`];
  for (let t = 0; t < K; t++) {
    for (let p = 0; p < K; p++) {
      const n = c.counts[t * K + p], f = rows[t] ? n / rows[t] : 0;
      const fill = n === 0 ? '#fff' : t === p ? shade([8, 81, 156], 0.15 + 0.85 * f) : shade([203, 24, 29], 0.15 + 0.85 * Math.sqrt(f));
      const x = left + p * cell, y = top + t * cell;
      out.push(`<rect class="cell" x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}"><title>${esc(`true ${names[t] ?? t}, predicted ${names[p] ?? p}: ${n} (${rows[t] ? pct(f, 1) : '–'} of ${names[t] ?? t})`)}</title></rect>`);
      if (showNumbers && n > 0) {
        const dark = t === p ? 0.15 + 0.85 * f > 0.55 : 0.15 + 0.85 * Math.sqrt(f) > 0.6;
        out.push(`<text x="${f1(x + cell / 2)}" y="${f1(y + cell / 2 + fs * 0.35)}" text-anchor="middle" font-size="${fs.toFixed(1)}" fill="${dark ? '#fff' : '#222'}">${short(n)}</text>`);
      }
    }
  }
  out.push(`<rect x="${left}" y="${top}" width="${K * cell}" height="${K * cell}" fill="none" stroke="#999"/>`);
  for (let k = 0; k < K; k += every) {
    out.push(`<text class="tick" x="${left - 5}" y="${f1(top + k * cell + cell / 2 + 4)}" text-anchor="end">${esc(label(k))}</text>`);
    const cx = left + k * cell + cell / 2, cy = top + K * cell + 6;
    out.push(`<text class="tick" transform="translate(${f1(cx + 4)} ${cy}) rotate(-90)" text-anchor="end">${esc(label(k))}</text>`);
  }
  for (let t = 0; t < K; t += every) {
    const r = rows[t] ? c.counts[t * K + t] / rows[t] : null;
    out.push(`<text class="tick" x="${left + K * cell + 6}" y="${f1(top + t * cell + cell / 2 + 4)}">${r === null ? '–' : pct(r, 1)}</text>`);
  }
  out.push(`<text class="axislabel" x="${left + K * cell + 6}" y="${top - 6}">recall</text>`);
  out.push(`<text class="axislabel" x="${f1(left + (K * cell) / 2)}" y="${H - 6}" text-anchor="middle">predicted class</text>`);
  out.push(`<text class="axislabel" transform="translate(14 ${f1(top + (K * cell) / 2)}) rotate(-90)" text-anchor="middle">true class</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** The most frequent confusions (true → predicted, off the diagonal) as an HTML table. */
export function topConfusions(c: Confusion, names: string[], k = 10): string {
  const K = c.K, pairs: { t: number; p: number; n: number }[] = [];
  const rows = Array.from({ length: K }, (_, t) => { let s = 0; for (let p = 0; p < K; p++) s += c.counts[t * K + p]; return s; });
  for (let t = 0; t < K; t++) for (let p = 0; p < K; p++) if (t !== p && c.counts[t * K + p] > 0) pairs.push({ t, p, n: c.counts[t * K + p] });
  pairs.sort((a, b) => b.n - a.n || a.t - b.t || a.p - b.p);
  if (!pairs.length) return '<p class="note">No test sample is misclassified.</p>';
  return table(['true class', 'predicted as', 'samples', 'share of the true class'], pairs.slice(0, k).map((q) => [names[q.t] ?? String(q.t), names[q.p] ?? String(q.p), fmt(q.n), pct(q.n / rows[q.t], 1)]));
}

/** Per-class recall and precision, worst recall first, at most `k` rows. */
function perClass(c: Confusion, names: string[], k: number): string {
  const K = c.K;
  const rowsOut = Array.from({ length: K }, (_, t) => {
    let row = 0, col = 0;
    for (let j = 0; j < K; j++) { row += c.counts[t * K + j]; col += c.counts[j * K + t]; }
    const d = c.counts[t * K + t];
    return { t, row, recall: row ? d / row : null, precision: col ? d / col : null };
  }).sort((a, b) => (a.recall ?? 2) - (b.recall ?? 2) || a.t - b.t);
  return table(['class', 'test samples', 'recall', 'precision'], rowsOut.slice(0, k).map((r) => [names[r.t] ?? String(r.t), fmt(r.row), r.recall === null ? '–' : pct(r.recall, 1), r.precision === null ? '–' : pct(r.precision, 1)]));
}

/** The confusion section: the matrix (up to MATRIX_MAX_CLASSES classes), the top confusions, and the per-class table for many classes. */
export function confusionSection(c: Confusion, names: string[]): string {
  const legend = '<p class="note">Rows: the true class; columns: the predicted class. Each cell is shaded by its share of the true class\'s test samples: <span style="color:#08519c">blue</span> on the diagonal (correct), <span style="color:#cb181d">red</span> off it (errors, shaded by the square root of the share so that rare errors show). Hover a cell for its count. Right: the recall of each class.</p>';
  const matrix = c.K <= MATRIX_MAX_CLASSES ? confusionSvg(c, names) + legend : `<p class="note">${c.K} classes: too many to draw cell by cell (the matrix is drawn up to ${MATRIX_MAX_CLASSES}); the tables below list the worst classes and the most frequent confusions.</p>`;
  return `${matrix}<h3>Most frequent confusions</h3>${topConfusions(c, names)}${c.K > 20 ? `<h3>Classes with the lowest recall</h3>${perClass(c, names, 20)}` : ''}`;
}

/** An HTML table; numbers (and "–") align right, text left. */
export function table(head: string[], body: string[][]): string {
  const numeric = (x: string) => /^[-+\d.,%/–\s]*$|^[-+\d.,]+ (s|B|kB|MB|GB|samples)$/.test(x);
  const right = head.map((_, j) => body.every((r) => numeric(r[j] ?? '')));
  const cell = (tag: string, x: string, j: number) => `<${tag}${right[j] ? '' : ' class="t"'}>${esc(x)}</${tag}>`;
  return `<table><thead><tr>${head.map((h, j) => cell('th', h, j)).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((x, j) => cell('td', x, j)).join('')}</tr>`).join('')}</tbody></table>`;
}

export function cards(items: [string, string][]): string {
  return `<div class="cards">${items.map(([k, v]) => `<div class="card"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`).join('')}</div>`;
}

function dl(items: [string, string][]): string {
  return `<dl>${items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

const CSS = `${BASE_CSS}
td.t,th.t{text-align:left}
svg.confusion .tick{font-size:11px;fill:#333}svg .axislabel{font-size:12px;fill:#222}
details{margin:8px 0}summary{cursor:pointer;color:#335}
`;

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style></head><body>
${body}
<p class="note">Written by distillery ${esc(VERSION)}. This page is self-contained: it loads nothing from the network and runs no script.</p>
</body></html>
`;
}

/** Training samples per second over the run: the samples of all epochs over their step time. */
function meanThroughput(history: EpochMetrics[], sps: (number | null)[] | undefined, nTrain: number): { value: number; steps: boolean } | null {
  let time = 0, samples = 0;
  history.forEach((h, i) => {
    const r = sps?.[i];
    if (r && r > 0) { time += nTrain / r; samples += nTrain; }
  });
  if (samples) return { value: samples / time, steps: true };
  const secs = history.reduce((a, h) => a + h.seconds, 0);
  return secs > 0 ? { value: (history.length * nTrain) / secs, steps: false } : null;
}

function epochTable(history: EpochMetrics[], kd: RunReportInput['kd'], sps: (number | null)[] | undefined): string {
  const hint = history.some((h) => h.train_hint > 0);
  const head = ['epoch', 'step', 'lr', 'train loss', ...(kd ? ['KD part', 'CE part'] : []), ...(hint ? ['hint part'] : []), 'test loss', 'test accuracy', 'test errors', ...(kd ? ['T', 'α'] : []), 'samples/s', 'seconds'];
  const body = history.map((h, i) => {
    const k = kd?.perEpoch[h.epoch - 1];
    return [String(h.epoch), fmt(h.step), h.lr.toPrecision(3), num4(h.train_loss), ...(kd ? [num4(h.train_kd), num4(h.train_ce)] : []), ...(hint ? [num4(h.train_hint)] : []),
      num4(h.test_loss), h.test_acc === null ? '–' : pct(h.test_acc), h.test_errors === null ? '–' : fmt(h.test_errors),
      ...(kd ? (k ? [Number(k.T.toFixed(4)).toString(), Number(k.alpha.toFixed(4)).toString()] : ['KD off', '']) : []),
      sps?.[i] ? fmt(sps[i]!) : '–', h.seconds.toFixed(1)];
  });
  return table(head, body);
}

// ---- pages ---------------------------------------------------------------------------------

/** The report of one teach or student run. */
export function runReportHtml(r: RunReportInput): string {
  const h = r.history;
  const last = h.at(-1);
  const date = r.date ?? new Date().toISOString();
  const nTrain = r.data.train;
  const tp = meanThroughput(h, r.samplesPerSec, nTrain);
  const acc = r.final ? r.final.accuracy : last?.test_acc ?? null;
  const errs = r.final ? `${fmt(r.final.errors)} / ${fmt(r.final.n)}` : last?.test_errors !== null && last?.test_errors !== undefined ? `${fmt(last.test_errors)} / ${fmt(r.data.test)}` : '–';
  const totalSec = h.reduce((a, x) => a + x.seconds, 0);
  const s: string[] = [];
  s.push(`<h1>distill ${esc(r.role)}: ${esc(r.model.layers)}</h1>`);
  s.push(`<p class="sub">${esc(r.outDir)} · ${esc(date)} · data ${esc(r.data.name)}</p>`);
  s.push(cards([
    ['test accuracy', acc === null ? '–' : pct(acc)],
    ['test errors', errs],
    ['parameters', fmt(r.model.parameters)],
    ['model file', r.model.fileBytes ? fmtBytes(r.model.fileBytes) : '–'],
    ['backend', r.runtime.workers > 1 ? `${r.runtime.backend} × ${r.runtime.workers} workers` : r.runtime.backend],
    [tp?.steps === false ? 'samples/s (incl. evaluation)' : 'training samples/s', tp ? fmt(tp.value) : '–'],
    ['epochs', `${h.length}`],
    ['training time', `${totalSec.toFixed(totalSec < 10 ? 2 : 1)} s`],
  ]));
  if (r.kd) {
    const sch = r.kd.schedule;
    s.push(`<p>Distillation: loss = α·${r.kd.base.scaleT2 ? 'T²·' : ''}KL(p<sub>teacher</sub> ‖ p<sub>student</sub>) + (1−α)·CE; T = ${esc(scheduleText(r.kd.base.T, sch?.T))}, α = ${esc(scheduleText(r.kd.base.alpha, sch?.alpha))}${sch?.startEpoch ? `, KD from epoch ${sch.startEpoch + 1} (cross-entropy alone before)` : ''}${r.kd.base.scaleT2 ? '' : ', without the T² factor'}.</p>`);
  }
  s.push('<h2>Loss</h2>', lossChart(h, { kd: !!r.kd, width: 760 }));
  if (r.kd) s.push('<p class="note">The KD and CE parts are the weighted terms of the training loss (they add up to it, with the hint part when hints are used). The test loss is the plain cross-entropy on the test set.</p>');
  s.push('<h2>Accuracy</h2>', accuracyChart([{ name: 'test accuracy', history: h, color: PALETTE[0] }], { width: 760 }));
  if (r.kd) s.push('<h2>Temperature and α</h2>', kdCharts(r.kd));
  s.push('<h2>Confusion matrix</h2>');
  s.push(r.confusion ? confusionSection(r.confusion, r.confusion.names) : '<p class="note">No test set: no confusion matrix.</p>');
  s.push('<h2>Model and runtime</h2>');
  s.push(dl([
    ['layers', r.model.layers],
    ['parameters', `${fmt(r.model.parameters)} (${fmtBytes(r.model.parameters * 4)} as float32)`],
    ...(r.model.file ? [['model file', `${r.model.file}${r.model.fileBytes ? ` (${fmt(r.model.fileBytes)} bytes)` : ''}`] as [string, string]] : []),
    ['backend', `${r.runtime.backend}${r.runtime.description ? ` (${r.runtime.description})` : ''}`],
    ['workers', String(r.runtime.workers)],
    ['throughput', tp ? `${fmt(tp.value)} training samples/s${tp.steps ? ' (the steps; the per-epoch test evaluation not counted)' : ' (epoch wall time, including the test evaluation)'}` : '–'],
    ['data', `${r.data.name}: ${fmt(r.data.train)} train / ${fmt(r.data.test)} test samples, ${r.data.features} features, ${r.data.classes} classes`],
    ...r.settings,
  ]));
  if (r.samplesPerSec?.some((x) => x)) s.push(throughputChart(h, r.samplesPerSec));
  s.push('<h2>Per epoch</h2>', h.length ? epochTable(h, r.kd, r.samplesPerSec) : '<p class="note">No completed epoch.</p>');
  s.push('<h2>Command</h2>', `<pre>${esc(r.command)}</pre>`);
  return page(`distill ${r.role} — ${r.model.layers} — ${acc === null ? '' : pct(acc)}`, s.join('\n'));
}

const DEMO_COLORS: Record<string, string> = { teacher: PALETTE[0], 'student-distilled': PALETTE[1], 'student-alone': PALETTE[2] };
const demoColor = (name: string, i: number) => DEMO_COLORS[name] ?? PALETTE[i % PALETTE.length];

/** The report of `distill demo`: the three models compared, their curves and confusion matrices. */
export function demoReportHtml(r: DemoReportInput): string {
  const date = r.date ?? new Date().toISOString();
  const s: string[] = [];
  s.push('<h1>distill demo: teacher vs distilled student vs student alone</h1>');
  s.push(`<p class="sub">${esc(date)} · data ${esc(r.data.name)} · ran on ${esc(r.runtime)}</p>`);
  s.push(`<p><b>${esc(r.summary)}</b></p>`);
  s.push(table(['model', 'layers', 'parameters', 'trained on', 'test accuracy', 'test errors', 'wall time'],
    r.rows.map((x) => [x.model, x.layers, fmt(x.parameters), `${fmt(x.samples)} samples`, pct(x.acc), `${fmt(x.errors)} / ${fmt(x.n)}`, `${x.seconds.toFixed(1)} s`])));
  s.push(barChart('Test errors (fewer is better)', r.rows.map((x, i) => ({ label: x.model, value: x.errors, text: `${fmt(x.errors)} of ${fmt(x.n)} (${pct(x.acc)} accuracy)`, color: demoColor(x.model, i) })), 'test errors (samples)', { labelWidth: 150, barWidth: 420, textWidth: 220 }));
  s.push(`<p class="note">The distilled student learns from the teacher's soft predictions at T = ${r.kd.T} with α = ${r.kd.alpha}${r.kd.scaleT2 ? ' (KD term × T²)' : ''}: loss = α·${r.kd.scaleT2 ? 'T²·' : ''}KL(p<sub>teacher</sub> ‖ p<sub>student</sub>) + (1−α)·CE; the student alone learns from the labels only (cross-entropy).</p>`);
  s.push('<h2>Accuracy</h2>', accuracyChart(r.runs.map((x, i) => ({ name: x.name, history: x.history, color: demoColor(x.name, i) })), { width: 760 }));
  const distilled = r.runs.find((x) => x.name === 'student-distilled'), alone = r.runs.find((x) => x.name === 'student-alone');
  if (distilled || alone) {
    const at = (hs: EpochMetrics[], f: (h: EpochMetrics) => number | null): [number, number | null][] => hs.map((h) => [h.epoch, f(h)]);
    const series: Series[] = [
      ...(distilled ? [
        { name: 'distilled: train loss (total)', points: at(distilled.history, (h) => h.train_loss), color: DEMO_COLORS['student-distilled'] },
        { name: 'distilled: KD part', points: at(distilled.history, (h) => h.train_kd), color: PALETTE[5] },
        { name: 'distilled: CE part', points: at(distilled.history, (h) => h.train_ce), color: PALETTE[6] },
        { name: 'distilled: test loss (CE)', points: at(distilled.history, (h) => h.test_loss), color: DEMO_COLORS['student-distilled'], dashed: true },
      ] : []),
      ...(alone ? [
        { name: 'alone: train loss (CE)', points: at(alone.history, (h) => h.train_loss), color: DEMO_COLORS['student-alone'] },
        { name: 'alone: test loss (CE)', points: at(alone.history, (h) => h.test_loss), color: DEMO_COLORS['student-alone'], dashed: true },
      ] : []),
    ];
    s.push('<h2>Student loss</h2>', lineChart(series, { title: 'Student loss per epoch (train: mean over the epoch; test: after the epoch)', xLabel: 'epoch', yLabel: 'loss (nats per sample)', yZero: true, xInteger: true, width: 760, height: 340, empty: 'no completed epoch' }));
  }
  const teacher = r.runs.find((x) => x.name === 'teacher');
  if (teacher) s.push(lossChart(teacher.history, { kd: false, title: 'Teacher loss per epoch', width: 760 }));
  const withC = r.runs.filter((x) => x.confusion);
  if (withC.length) {
    s.push('<h2>Confusion matrices (test set)</h2>');
    if (withC.every((x) => x.confusion!.K <= 20)) {
      s.push(`<div class="row">${withC.map((x) => confusionSvg(x.confusion!, r.names, { title: x.name, maxSide: 220 })).join('\n')}</div>`);
      s.push('<p class="note">Rows: true class; columns: predicted class; shaded by the share of the true class (blue: correct, red: errors); right: recall per class.</p>');
    } else {
      for (const x of withC) s.push(`<h3>${esc(x.name)}</h3>`, confusionSection(x.confusion!, r.names));
    }
  }
  s.push('<h2>Per epoch</h2>');
  for (const x of r.runs) s.push(`<details><summary>${esc(x.name)}: ${x.history.length} epochs</summary>${epochTable(x.history, null, x.samplesPerSec)}</details>`);
  s.push('<h2>Command</h2>', `<pre>${esc(r.command)}</pre>`);
  return page('distill demo — teacher vs student', s.join('\n'));
}

/** One model of a before/after report: its test accuracy, file size and speed on one backend. */
export interface CompareRow {
  name: string;
  accuracy: number;
  bytes: number;
  ms128: number;
  ms1: number;
  parameters?: number;
  layers?: string;
}

/** A before/after report (distill quantize, distill prune): a table and bar charts of size, speed and accuracy. */
export interface CompareReportInput {
  h1: string;
  title: string;
  sub: string;
  headline: string;
  split: string;
  rows: CompareRow[];
  note: string;
  command: string;
}

export function compareReportHtml(r: CompareReportInput): string {
  const s: string[] = [];
  const rows = r.rows.map((x, i) => [x, PALETTE[i % PALETTE.length]] as const);
  const withParams = r.rows.every((x) => x.parameters !== undefined);
  s.push(`<h1>${esc(r.h1)}</h1>`, `<p class="sub">${esc(r.sub)}</p>`, `<p><b>${esc(r.headline)}</b></p>`);
  s.push(table(['model', ...(withParams ? ['layers', 'parameters'] : []), 'file', `${r.split} accuracy`, 'ms per batch of 128', 'ms per batch of 1'],
    rows.map(([x]) => [x.name, ...(withParams ? [x.layers ?? '', fmt(x.parameters!)] : []), fmtBytes(x.bytes), pct(x.accuracy), x.ms128.toFixed(3), x.ms1.toFixed(4)])));
  const lw = Math.min(220, Math.max(90, ...r.rows.map((x) => textWidth(x.name) + 12)));
  s.push(barChart('Model file (smaller is better)', rows.map(([x, c]) => ({ label: x.name, value: x.bytes / 1000, text: fmtBytes(x.bytes), color: c })), 'kB', { labelWidth: lw }));
  s.push(barChart('Time per batch of 128 (less is better)', rows.map(([x, c]) => ({ label: x.name, value: x.ms128, text: `${x.ms128.toFixed(3)} ms`, color: c })), 'ms', { labelWidth: lw }));
  s.push(barChart('Time per batch of 1 (less is better)', rows.map(([x, c]) => ({ label: x.name, value: x.ms1, text: `${x.ms1.toFixed(4)} ms`, color: c })), 'ms', { labelWidth: lw }));
  s.push(barChart(`${r.split[0].toUpperCase()}${r.split.slice(1)} accuracy`, rows.map(([x, c]) => ({ label: x.name, value: x.accuracy * 100, text: pct(x.accuracy), color: c })), '%', { labelWidth: lw }));
  s.push(`<p class="note">${esc(r.note)}</p>`);
  s.push('<h2>Command</h2>', `<pre>${esc(r.command)}</pre>`);
  return page(r.title, s.join('\n'));
}

/** What `distill quantize` measured: the float32 model and its int8 version, side by side. */
export interface QuantizeReportInput {
  model: string;
  out: string;
  backend: string;
  calibration: string;
  split: string;
  n: number;
  f32: { accuracy: number; bytes: number; ms128: number; ms1: number };
  int8: { accuracy: number; bytes: number; ms128: number; ms1: number };
  agreement: number;
  command: string;
  date?: string;
}

/** The HTML report of `distill quantize` (size, accuracy and speed before/after, as bars). */
export function quantizeReportHtml(r: QuantizeReportInput): string {
  return compareReportHtml({
    h1: 'distill quantize: float32 → int8', title: 'distill quantize — float32 vs int8',
    sub: `${r.date ?? new Date().toISOString()} · ${r.model} → ${r.out} · ${r.calibration} · timed on ${r.backend}`,
    headline: `int8: ${(r.int8.bytes / r.f32.bytes).toFixed(3)}× the file, ${(r.f32.ms128 / r.int8.ms128).toFixed(2)}× as fast at batch 128, ${pct(r.int8.accuracy)} ${r.split} accuracy (${r.int8.accuracy >= r.f32.accuracy ? '+' : ''}${((r.int8.accuracy - r.f32.accuracy) * 100).toFixed(2)} pt); top-1 agreement with float32 ${pct(r.agreement)} on ${fmt(r.n)} rows.`,
    split: r.split, rows: [{ name: 'float32', ...r.f32 }, { name: 'int8', ...r.int8 }],
    note: 'Times are medians of single forward passes in eval mode on one backend (the input quantized and the logits dequantized inside the int8 timing). Weights int8 per output channel, each dense/conv input uint8 per tensor; see docs/quantization.md.',
    command: r.command,
  });
}

// ---- writing, from the CLI commands ----------------------------------------------------------

/** A command line as a person would type it (arguments quoted for a POSIX shell where needed). */
export function commandLine(command: string, argv: string[]): string {
  const q = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['distill', command, ...argv.map(q)].join(' ');
}

/** The class names of a dataset for K outputs (the index where a name is missing). */
export const classNames = (ds: Dataset, K: number) => Array.from({ length: K }, (_, k) => ds.classNames?.[k] ?? String(k));

const dataInfo = (d: { train: Dataset; test: Dataset }): DataInfo => ({ name: d.train.name, train: d.train.n, test: d.test.n, features: d.train.features, classes: d.train.classes });

/** The settings of a run, in words. */
export function trainSettings(cfg: TrainConfig, teachers: string[]): [string, string][] {
  const o = cfg.optimizer, sc = cfg.schedule;
  const extra = (x: object, skip: string[]) => Object.entries(x).filter(([k, v]) => !skip.includes(k) && v !== undefined).map(([k, v]) => `${k} ${v}`).join(', ');
  const rows: [string, string][] = [
    ['epochs', String(cfg.epochs)], ['batch size', String(cfg.batchSize)], ['seed', String(cfg.seed)],
    ['optimizer', `${o.kind}, lr ${o.lr}${extra(o, ['kind', 'lr']) ? `, ${extra(o, ['kind', 'lr'])}` : ''}`],
    ['learning-rate schedule', `${sc.kind}${extra(sc, ['kind']) ? `: ${extra(sc, ['kind'])}` : ''}`],
  ];
  if (teachers.length) {
    rows.push([teachers.length > 1 ? 'teachers' : 'teacher', teachers.join('\n')]);
    rows.push(['teacher logits', cfg.hints || cfg.augment || cfg.teacherMode === 'online' ? 'computed per batch' : 'computed once (cached)']);
    if (teachers.length > 1) rows.push(['teacher fusion', `weighted mean of ${cfg.teacherFusion ?? 'logits'}`]);
  }
  if (cfg.hints) rows.push(['hints', `${cfg.hints.pairs.map((p) => `student ${p.student} ← teacher ${p.teacher}`).join(', ')}; ${cfg.hints.loss ?? 'mse'}, weight ${cfg.hints.weight ?? 1}${cfg.hints.preTrainEpochs ? `, ${cfg.hints.preTrainEpochs} hint-only epochs first` : ''}`]);
  if (cfg.augment) rows.push(['augmentation', `random image shifts of up to ±${cfg.augment.shift} px`]);
  return rows;
}

export interface RunReportArgs {
  role: 'teacher' | 'student';
  dir: string;
  argv: string[];
  d: { train: Dataset; test: Dataset };
  model: Sequential;
  cfg: TrainConfig;
  backend: Backend;
  workers: number;
  history: EpochMetrics[];
  /** Training samples/s by epoch number (from the progress of the steps). */
  samplesPerSec?: Map<number, number>;
  evaluation?: EvalResult;
  /** The teacher sources (files) and the teachers as trained with (weights, temperatures). */
  teachers?: { sources: string[]; list: Teacher[] };
}

/** Computes the confusion matrix and writes DIR/report.html atomically; returns its path. */
export async function writeRunReport(a: RunReportArgs): Promise<string> {
  const file = join(a.dir, 'model.safetensors');
  let fileBytes: number | null = null;
  try { fileBytes = statSync(file).size; } catch { /* no model file (yet) */ }
  const K = a.model.classes;
  const names = classNames(a.d.train, K);
  const kdOn = a.role === 'student' && a.cfg.kd !== undefined;
  const base = kdOn ? validateKd(a.cfg.kd!) : null;
  const teachers = a.teachers ? (a.teachers.sources.length === a.teachers.list.length
    ? a.teachers.sources.map((f, i) => { const t = a.teachers!.list[i]; return `${f}${t.weight !== undefined && a.teachers!.list.length > 1 ? `, weight ${t.weight}` : ''}${t.temperature !== undefined ? `, T ${t.temperature}` : ''}`; })
    : [`${a.teachers.sources.join(', ')} (logits of ${a.teachers.list.length} teachers)`]) : [];
  const html = runReportHtml({
    role: a.role,
    command: commandLine(a.role === 'teacher' ? 'teach' : 'student', a.argv),
    outDir: a.dir,
    data: dataInfo(a.d),
    model: { layers: describeModel(a.model.config), parameters: a.model.parameterCount, file, fileBytes },
    runtime: { backend: a.backend.name, description: a.backend.description, workers: a.workers },
    settings: trainSettings(a.cfg, teachers),
    kd: base ? { base, schedule: a.cfg.kdSchedule, perEpoch: Array.from({ length: a.cfg.epochs }, (_, e) => kdForEpoch(base, a.cfg.kdSchedule, e, a.cfg.epochs)) } : null,
    history: a.history,
    samplesPerSec: a.history.map((h) => a.samplesPerSec?.get(h.epoch) ?? null),
    final: a.evaluation ?? null,
    confusion: a.d.test.n ? { ...confusionMatrix(a.model, a.d.test), names } : null,
  });
  const out = join(a.dir, 'report.html');
  await writeFileAtomic(out, html);
  return out;
}

/** Writes DIR/report.html of `distill demo`; returns its path. */
export async function writeDemoReport(dir: string, r: DemoReportInput): Promise<string> {
  const out = join(dir, 'report.html');
  await writeFileAtomic(out, demoReportHtml(r));
  return out;
}
