// DIR/sweep.html of `distill sweep`: the Pareto front as inline SVG scatter plots (validation
// accuracy against latency at batch 1, at batch 128 and against file size; each point's config in
// its hover title), the front and all candidates as tables, the pick and the retrain command.
// No script, no external asset.

import { PALETTE, clip, decimalsFor, esc, fmt, fmtBytes, niceTicks, textWidth } from './svg.js';
import { cards, page, pct, table } from './report.js';

export interface SweepRow {
  id: string;
  key: string;
  epochs: number;
  rung: number;
  /** Whether this is the sweep's last rung (false: not promoted that far, or skipped for the budget). */
  lastRung: boolean;
  accuracy: number;
  valLoss: number;
  ms1: number;
  ms128: number;
  bytes: number;
  params: number;
  trainSeconds: number;
  front: boolean;
  /** An int8 form (--int8). */
  int8?: boolean;
  /** A structured-pruned form (--sparsity): its sparsity. */
  sparsity?: number;
}

/** The form of a point, drawn as a marker shape of its own: float32 ●, int8 ■, pruned ▲, pruned + int8 ◆. */
export type Form = 'float32' | 'int8' | 'pruned' | 'pruned + int8';
export const formOf = (r: Pick<SweepRow, 'int8' | 'sparsity'>): Form => (r.sparsity !== undefined ? (r.int8 ? 'pruned + int8' : 'pruned') : r.int8 ? 'int8' : 'float32');
const FORMS: readonly Form[] = ['float32', 'int8', 'pruned', 'pruned + int8'];

/** An SVG marker of `form` centred at (x, y) with radius about r; `attrs` and `inner` go into the element. */
export function marker(form: Form, x: number, y: number, r: number, attrs: string, inner = ''): string {
  const f1 = (v: number) => v.toFixed(1);
  switch (form) {
    case 'float32': return `<circle ${attrs} cx="${f1(x)}" cy="${f1(y)}" r="${r}">${inner}</circle>`;
    case 'int8': { const h = r * 0.9; return `<rect ${attrs} x="${f1(x - h)}" y="${f1(y - h)}" width="${f1(2 * h)}" height="${f1(2 * h)}">${inner}</rect>`; }
    case 'pruned': { const h = r * 1.15; return `<path ${attrs} d="M${f1(x)} ${f1(y - h)}L${f1(x + h)} ${f1(y + h * 0.8)}L${f1(x - h)} ${f1(y + h * 0.8)}Z">${inner}</path>`; }
    case 'pruned + int8': { const h = r * 1.2; return `<path ${attrs} d="M${f1(x)} ${f1(y - h)}L${f1(x + h)} ${f1(y)}L${f1(x)} ${f1(y + h)}L${f1(x - h)} ${f1(y)}Z">${inner}</path>`; }
  }
}

export interface SweepReportInput {
  title: string;
  sub: string;
  headline: string;
  rows: SweepRow[];
  picked: string | null;
  pickRule: string;
  pickNote: string;
  deployBackend: string;
  retrain: string | null;
  /** Epochs of the last rung. */
  lastEpochs: number;
  settings: [string, string][];
  skipped: string[];
  command: string;
}

const fmtMs = (ms: number) => (ms >= 1 ? `${ms.toFixed(2)} ms` : ms >= 0.01 ? `${(ms * 1000).toFixed(1)} µs` : `${(ms * 1000).toFixed(2)} µs`);

/**
 * One scatter plot: accuracy (y, %) against x; the front joined by a step line, the pick ringed.
 * Log x when the range spans over 20×. With int8 or pruned forms among the rows, each form has
 * its marker shape (formOf), named in a second legend line.
 */
export function scatterChart(rows: SweepRow[], o: { title: string; xLabel: string; x: (r: SweepRow) => number; xText: (v: number) => string; picked: string | null; width?: number; height?: number }): string {
  const forms = FORMS.filter((f) => rows.some((r) => formOf(r) === f));
  const shapes = forms.some((f) => f !== 'float32');
  const W = o.width ?? 520, H = (o.height ?? 340) + (shapes ? 16 : 0), left = 62, right = 16, top = shapes ? 66 : 50, bottom = 52;
  const pw = W - left - right, ph = H - top - bottom;
  // The accuracy axis starts a little below the front (the larger of 2 pt and a quarter of the
  // span above it): points further down (1-epoch, chance-level ones) are drawn on its bottom edge,
  // faded, so that the front is not squeezed into the top of the plot.
  const frontAcc = rows.filter((r) => r.front).map((r) => r.accuracy * 100);
  const hiAcc = Math.max(...rows.map((r) => r.accuracy * 100));
  const cut = frontAcc.length ? Math.min(...frontAcc) - Math.max(2, 0.25 * (hiAcc - Math.min(...frontAcc))) : -Infinity;
  const isBelow = (r: SweepRow) => r.accuracy * 100 < cut;
  const nBelow = rows.filter(isBelow).length;
  const xs = rows.map(o.x).filter((v) => v > 0 && Number.isFinite(v)), ys = rows.filter((r) => !isBelow(r)).map((r) => r.accuracy * 100);
  const xLo0 = xs.length ? Math.min(...xs) : 1, xHi0 = xs.length ? Math.max(...xs) : 10;
  const log = xHi0 / xLo0 > 20;
  const tx = (v: number) => (log ? Math.log10(v) : v);
  let xLo = tx(xLo0), xHi = tx(xHi0);
  const padX = (xHi - xLo || 1) * 0.06;
  xLo -= padX; xHi += padX;
  if (!log) xLo = Math.max(0, xLo);
  const yt = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 100, 5, { pad: true });
  const X = (v: number) => left + ((tx(v) - xLo) / (xHi - xLo)) * pw;
  const Y = (y: number) => top + ph - ((Math.max(y, yt.lo) - yt.lo) / (yt.hi - yt.lo || 1)) * ph;
  const f1 = (v: number) => v.toFixed(1);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" class="chart scatter" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`,
    `<text x="0" y="16" class="title">${esc(o.title)}</text>`,
    `<g class="legend"><circle cx="6" cy="34" r="4" fill="${PALETTE[0]}"/><text x="14" y="38">Pareto front</text><circle cx="112" cy="34" r="4" fill="#bbb"/><text x="120" y="38">not on the front</text><circle cx="236" cy="34" r="6" fill="none" stroke="#e15759" stroke-width="2"/><text x="246" y="38">picked</text>`
    + (shapes ? forms.map((f, i) => `${marker(f, 6 + i * 100, 50, 4, 'fill="#666"')}<text x="${14 + i * 100}" y="54">${esc(f)}</text>`).join('') : '')
    + '</g>'];
  // Grid and axes: accuracy ticks; x ticks at powers of 10 (and 2×, 5×) on a log axis.
  out.push(`<g class="grid">${yt.values.map((v) => `<line x1="${left}" x2="${left + pw}" y1="${f1(Y(v))}" y2="${f1(Y(v))}"/>`).join('')}</g>`);
  let xticks: number[];
  if (log) {
    xticks = [];
    for (let e = Math.floor(xLo); e <= Math.ceil(xHi); e++) for (const m of [1, 2, 5]) { const v = m * 10 ** e; if (Math.log10(v) >= xLo && Math.log10(v) <= xHi) xticks.push(v); }
  } else xticks = niceTicks(xLo, xHi, 5).values.filter((v) => v >= xLo && v <= xHi);
  out.push(`<g class="axis y-axis">${yt.values.map((v) => `<text x="${left - 6}" y="${f1(Y(v) + 4)}" text-anchor="end">${fmt(v, decimalsFor(yt.step))}</text>`).join('')}`
    + `<text class="label" transform="translate(14 ${f1(top + ph / 2)}) rotate(-90)" text-anchor="middle">validation accuracy (%)</text></g>`);
  out.push(`<g class="axis x-axis"><line x1="${left}" x2="${left + pw}" y1="${top + ph}" y2="${top + ph}"/><line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}"/>`
    + xticks.map((v) => `<line x1="${f1(X(v))}" x2="${f1(X(v))}" y1="${top + ph}" y2="${top + ph + 4}"/><text x="${f1(X(v))}" y="${top + ph + 17}" text-anchor="middle">${esc(o.xText(v))}</text>`).join('')
    + `<text class="label" x="${f1(left + pw / 2)}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}${log ? ' (log scale)' : ''}</text></g>`);
  // The front in this plane: the step line through the points no other beats on both axes.
  const plane = rows.filter((r) => !isBelow(r) && !rows.some((q) => q !== r && o.x(q) <= o.x(r) && q.accuracy >= r.accuracy && (o.x(q) < o.x(r) || q.accuracy > r.accuracy))).sort((a, b) => o.x(a) - o.x(b));
  if (plane.length > 1) out.push(`<path class="front" d="${plane.map((r, i) => `${i ? `L${f1(X(o.x(r)))} ${f1(Y(plane[i - 1].accuracy * 100))}L` : 'M'}${f1(X(o.x(r)))} ${f1(Y(r.accuracy * 100))}`).join('')}" fill="none" stroke="${PALETTE[0]}" stroke-width="1.2" stroke-dasharray="4 3"/>`);
  // Dominated points first, so the front draws on top.
  for (const r of [...rows].sort((a, b) => Number(a.front) - Number(b.front))) {
    const tip = `${r.key}, ${r.epochs} epoch${r.epochs > 1 ? 's' : ''}${r.lastRung ? '' : ' (did not reach the last rung)'}: validation ${pct(r.accuracy)}; ${fmtMs(r.ms1)} at batch 1, ${fmtMs(r.ms128)} at batch 128; ${fmtBytes(r.bytes)}, ${fmt(r.params)} parameters${r.front ? ' (Pareto front)' : ''}${r.id === o.picked ? ' (picked)' : ''}`;
    const form = formOf(r);
    out.push(marker(form, X(o.x(r)), Y(r.accuracy * 100), r.front ? 5 : 4, `class="pt${r.front ? ' front' : ''}${isBelow(r) ? ' below' : ''}" data-id="${esc(r.id)}" data-form="${form}" fill="${r.front ? PALETTE[0] : '#bbb'}" fill-opacity="${isBelow(r) ? 0.35 : 0.9}"`, `<title>${esc(tip)}</title>`));
    if (r.id === o.picked) out.push(`<circle class="picked" cx="${f1(X(o.x(r)))}" cy="${f1(Y(r.accuracy * 100))}" r="9" fill="none" stroke="#e15759" stroke-width="2"><title>${esc(`picked: ${tip}`)}</title></circle>`);
  }
  if (nBelow) out.push(`<text class="below-note" x="${left + 4}" y="${f1(top + ph - 6)}" font-size="10" fill="#888">${nBelow} point${nBelow > 1 ? 's' : ''} below ${fmt(yt.lo, decimalsFor(yt.step))}% on this edge</text>`);
  // Labels of the front's points, where they fit.
  const placed: [number, number, number][] = []; // x0, x1, y of the labels drawn
  for (const r of plane) {
    const lx = X(o.x(r)) + 7, label = clip(r.key.replace(/ T=\S+ alpha=\S+/, ''), 22), ly = Y(r.accuracy * 100) - 6, lw = textWidth(label, 10);
    if (placed.some(([a, b, y]) => lx < b && lx + lw > a && Math.abs(ly - y) < 11)) continue; // would overlap a label: the hover title has it
    placed.push([lx, lx + lw, ly]);
    if (lx + lw < W) out.push(`<text class="ptlabel" x="${f1(lx)}" y="${f1(Y(r.accuracy * 100) - 6)}" font-size="10">${esc(label)}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

export function sweepReportHtml(r: SweepReportInput): string {
  const s: string[] = [];
  const front = r.rows.filter((x) => x.front).sort((a, b) => b.accuracy - a.accuracy);
  const picked = r.rows.find((x) => x.id === r.picked) ?? null;
  s.push(`<h1>${esc(r.title)}</h1>`, `<p class="sub">${esc(r.sub)}</p>`, `<p><b>${esc(r.headline)}</b></p>`);
  s.push(cards([['candidates measured', String(r.rows.length)], ['on the Pareto front', String(front.length)], ['picked', picked ? picked.key : 'none'], ['picked: validation accuracy', picked ? pct(picked.accuracy) : '–']]));
  s.push('<h2>The front</h2>', `<p class="note">Each point is a candidate's last finished rung (its int8 and pruned forms are points of their own: ● float32, ■ int8, ▲ pruned, ◆ pruned + int8); hover for its config. Latency is the median of single eval-mode forward passes on ${esc(r.deployBackend)}. Accuracy is on the validation split carved from the training data (the test set is not used for selection).</p>`);
  s.push('<div class="row">');
  s.push(scatterChart(r.rows, { title: 'Accuracy vs latency at batch 1', xLabel: `ms per forward, batch 1, ${r.deployBackend}`, x: (x) => x.ms1, xText: (v) => (v >= 1 ? fmt(v, v >= 10 ? 0 : 1) : String(Number(v.toPrecision(2)))), picked: r.picked }));
  s.push(scatterChart(r.rows, { title: 'Accuracy vs latency at batch 128', xLabel: `ms per forward, batch 128, ${r.deployBackend}`, x: (x) => x.ms128, xText: (v) => (v >= 1 ? fmt(v, v >= 10 ? 0 : 1) : String(Number(v.toPrecision(2)))), picked: r.picked }));
  s.push(scatterChart(r.rows, { title: 'Accuracy vs model file size', xLabel: 'model file (kB)', x: (x) => x.bytes / 1000, xText: (v) => String(Number(v.toPrecision(2))), picked: r.picked }));
  s.push('</div>');
  const head = ['candidate', 'epochs', 'validation accuracy', 'ms, batch 1', 'ms, batch 128', 'file', 'parameters', 'training s'];
  const line = (x: SweepRow) => [`${x.id === r.picked ? '★ ' : ''}${x.key}`, `${x.epochs}${x.lastRung ? '' : ' †'}`, pct(x.accuracy), x.ms1.toFixed(4), x.ms128.toFixed(3), fmtBytes(x.bytes), fmt(x.params), x.trainSeconds.toFixed(1)];
  s.push('<h3>Pareto front (validation accuracy up; latency at 1 and 128, file size down)</h3>', table(head, front.map(line)));
  const short = `† did not reach the last rung (${r.lastEpochs} epochs): not promoted, or skipped for the budget; its accuracy is that of fewer epochs.`;
  if (front.some((x) => !x.lastRung)) s.push(`<p class="note">${esc(short)}</p>`);
  s.push('<h2>Pick</h2>', `<p>Rule: <code>${esc(r.pickRule)}</code>. ${esc(r.pickNote)}</p>`);
  if (r.retrain) s.push('<p>To retrain it on all the training data (training and validation splits):</p>', `<pre>${esc(r.retrain)}</pre>`);
  s.push('<h2>All candidates</h2>', table(head, [...r.rows].sort((a, b) => b.accuracy - a.accuracy).map(line)));
  if (r.skipped.length) s.push(`<details><summary>Skipped: ${r.skipped.length}</summary><ul>${r.skipped.map((x) => `<li>${esc(x)}</li>`).join('')}</ul></details>`);
  s.push('<h2>Settings</h2>', `<dl>${r.settings.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`);
  s.push('<h2>Command</h2>', `<pre>${esc(r.command)}</pre>`);
  return page(r.title, s.join('\n'));
}
