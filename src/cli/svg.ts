// Building blocks of the HTML reports (distill bench, the training report): escaping, axis ticks,
// number formats, and line charts as inline SVG (no script, no external asset).

/** Escapes text for HTML and SVG content and for quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** The decimals that show every multiple of `step` exactly (0 for integers; at most 6). */
export function decimalsFor(step: number): number {
  for (let d = 0; d < 6; d++) {
    const v = step * 10 ** d;
    if (Math.abs(v - Math.round(v)) < 1e-6 * Math.max(1, Math.abs(v))) return d;
  }
  return 6;
}

/** A number with thousands separators and `d` decimals ("12,345.6"). */
export function fmt(v: number, d = 0): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** Bytes as B, kB, MB, GB (powers of 1000), with the exact count for small files. */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000, i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export interface Ticks {
  /** The axis range (for a padded axis, widened to whole steps). */
  lo: number;
  hi: number;
  step: number;
  values: number[];
}

/**
 * About `target` round tick values (1, 2, 2.5, 5 × 10^k apart; 1, 2, 5 for integer axes) over
 * [lo, hi]. `pad` widens the range to whole steps (a value axis); otherwise the range is kept
 * and the ticks are the round values inside it (an epoch axis).
 */
export function niceTicks(lo: number, hi: number, target = 5, opts: { integer?: boolean; pad?: boolean } = {}): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = 0; hi = 1; }
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const d = opts.integer ? 1 : Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d; hi += d;
  }
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = (opts.integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * mag;
  if (opts.integer) step = Math.max(1, Math.round(step));
  if (opts.pad) {
    lo = Math.floor(lo / step + 1e-9) * step;
    hi = Math.ceil(hi / step - 1e-9) * step;
  }
  const d = decimalsFor(step);
  const values: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) values.push(Number(v.toFixed(d)));
  return { lo, hi, step, values };
}

/** Approximate rendered width of `s` at `px` font size (system-ui sans). */
export const textWidth = (s: string, px = 12) => s.length * px * 0.58;

/** Shortens `s` to `n` characters with an ellipsis. */
export const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, Math.max(1, n - 1))}…` : s);

export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948', '#9c755f', '#ff9da7', '#bab0ac'];

export interface Series {
  name: string;
  /** (x, y) points; a null or non-finite y is a gap. */
  points: [number, number | null][];
  color: string;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Start the y axis at 0 (losses, counts). */
  yZero?: boolean;
  /** Clamp the y axis to this range (e.g. [0, 100] for a percentage). */
  yRange?: [number, number];
  /** The x values are integers (epochs). */
  xInteger?: boolean;
  /** Text of a point's tooltip value (default: 4 significant digits). */
  yText?: (y: number) => string;
  /** Shown instead of the plot when no series has a point. */
  empty?: string;
}

/** A line chart with labeled axes, grid, legend and one tooltip per point (≤ 200 points a series). */
export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640, H = o.height ?? 300;
  const pts = series.flatMap((s) => s.points.filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1]) && Number.isFinite(p[0])));
  // Legend: items in rows under the title.
  const items: { s: Series; x: number; row: number }[] = [];
  let lx = 0, row = 0;
  for (const s of series) {
    const w = 26 + textWidth(s.name, 12) + 16;
    if (lx > 0 && lx + w > W - 80) { lx = 0; row++; }
    items.push({ s, x: lx, row });
    lx += w;
  }
  const legendRows = series.length ? row + 1 : 0;
  const top = 28 + legendRows * 18 + 8, bottom = 50;
  // The x range covers every point, gaps included (e.g. the epochs before KD starts).
  const xs = series.flatMap((s) => s.points.map((p) => p[0]).filter(Number.isFinite)), ys = pts.map((p) => p[1]);
  let yLo = ys.length ? Math.min(...ys) : 0, yHi = ys.length ? Math.max(...ys) : 1;
  if (o.yZero) yLo = Math.min(0, yLo);
  const yt0 = niceTicks(yLo, yHi, 5, { pad: true });
  const yt = o.yRange ? niceTicks(Math.max(o.yRange[0], yt0.lo), Math.min(o.yRange[1], yt0.hi), 5, { pad: true }) : yt0;
  const yLabelW = Math.max(...yt.values.map((v) => textWidth(fmt(v, decimalsFor(yt.step)), 11)), 10);
  const left = 26 + yLabelW + 8, right = 18;
  const pw = W - left - right, ph = H - top - bottom;
  let xLo = xs.length ? Math.min(...xs) : 1, xHi = xs.length ? Math.max(...xs) : 1;
  if (xLo === xHi) { xLo -= 0.5; xHi += 0.5; }
  const xt = niceTicks(xLo, xHi, Math.max(2, Math.floor(pw / 70)), { integer: o.xInteger });
  const X = (x: number) => left + ((x - xLo) / (xHi - xLo)) * pw;
  const Y = (y: number) => top + ph - ((y - yt.lo) / (yt.hi - yt.lo)) * ph;
  const f1 = (v: number) => v.toFixed(1);
  const yText = o.yText ?? ((y: number) => (Math.abs(y) >= 1000 ? fmt(y) : y.toPrecision(4)));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`,
    `<text x="0" y="16" class="title">${esc(o.title)}</text>`];
  for (const it of items) {
    const y = 28 + it.row * 18 + 8;
    out.push(`<g class="legend"><line x1="${it.x}" x2="${it.x + 20}" y1="${y}" y2="${y}" stroke="${it.s.color}" stroke-width="2.5"${it.s.dashed ? ' stroke-dasharray="5 3"' : ''}/><text x="${it.x + 26}" y="${y + 4}">${esc(it.s.name)}</text></g>`);
  }
  // Grid, axes, ticks.
  out.push(`<g class="grid">${yt.values.map((v) => `<line x1="${left}" x2="${left + pw}" y1="${f1(Y(v))}" y2="${f1(Y(v))}"/>`).join('')}</g>`);
  out.push(`<g class="axis y-axis">${yt.values.map((v) => `<text x="${left - 6}" y="${f1(Y(v) + 4)}" text-anchor="end">${fmt(v, decimalsFor(yt.step))}</text>`).join('')}`
    + `<text class="label" transform="translate(14 ${f1(top + ph / 2)}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text></g>`);
  out.push(`<g class="axis x-axis"><line x1="${left}" x2="${left + pw}" y1="${top + ph}" y2="${top + ph}"/><line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}"/>`
    + xt.values.map((v) => `<line x1="${f1(X(v))}" x2="${f1(X(v))}" y1="${top + ph}" y2="${top + ph + 4}"/><text x="${f1(X(v))}" y="${top + ph + 17}" text-anchor="middle">${fmt(v, decimalsFor(xt.step))}</text>`).join('')
    + `<text class="label" x="${f1(left + pw / 2)}" y="${H - 8}" text-anchor="middle">${esc(o.xLabel)}</text></g>`);
  if (!pts.length) {
    out.push(`<text class="empty" x="${f1(left + pw / 2)}" y="${f1(top + ph / 2)}" text-anchor="middle">${esc(o.empty ?? 'no data')}</text>`);
  }
  for (const s of series) {
    // One path per run of finite points (a null is a gap); a lone point is a dot only.
    const runs: [number, number][][] = [[]];
    for (const [x, y] of s.points) {
      if (y === null || !Number.isFinite(y) || !Number.isFinite(x)) { if (runs[runs.length - 1].length) runs.push([]); continue; }
      runs[runs.length - 1].push([x, y]);
    }
    const d = runs.filter((r) => r.length > 1).map((r) => r.map(([x, y], i) => `${i ? 'L' : 'M'}${f1(X(x))} ${f1(Y(y))}`).join('')).join('');
    out.push(`<g class="series" data-series="${esc(s.name)}">`);
    if (d) out.push(`<path class="curve" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    const finite = runs.flat();
    if (finite.length <= 200) {
      for (const [x, y] of finite) out.push(`<circle cx="${f1(X(x))}" cy="${f1(Y(y))}" r="${finite.length > 60 ? 1.5 : 2.5}" fill="${s.color}"><title>${esc(`${s.name}, ${o.xLabel.replace(/ \(.*\)$/, '')} ${fmt(x, o.xInteger ? 0 : decimalsFor(xt.step))}: ${yText(y)}`)}</title></circle>`);
    }
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n');
}

export interface Bar {
  label: string;
  value: number | null;
  /** Optional range [lo, hi] in the value's unit, drawn as a whisker. */
  range?: [number, number];
  /** The text right of the bar (or the error text when value is null). */
  text: string;
  color: string;
}

/** A horizontal bar chart from 0, with a value axis (ticks, grid) labeled `axisLabel` (the unit). */
export function barChart(title: string, bars: Bar[], axisLabel: string, o: { labelWidth?: number; barWidth?: number; textWidth?: number } = {}): string {
  const rowH = 22, labelW = o.labelWidth ?? 190, barW = o.barWidth ?? 380, textW = o.textWidth ?? 250, top = 24;
  const max = Math.max(1e-12, ...bars.map((b) => Math.max(b.value ?? 0, b.range?.[1] ?? 0)));
  const t = niceTicks(0, max, Math.max(2, Math.floor(barW / 80)), { pad: true });
  const X = (v: number) => labelW + (v / t.hi) * barW;
  const plotBottom = top + bars.length * rowH + 4;
  const h = plotBottom + 40;
  const f1 = (v: number) => v.toFixed(1);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="bars" width="${labelW + barW + textW}" height="${h}" viewBox="0 0 ${labelW + barW + textW} ${h}" role="img" aria-label="${esc(title)}">`,
    `<text x="0" y="15" class="title">${esc(title)}</text>`,
    `<g class="grid">${t.values.map((v) => `<line x1="${f1(X(v))}" x2="${f1(X(v))}" y1="${top}" y2="${plotBottom}"/>`).join('')}</g>`];
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${labelW - 6}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>`);
    if (b.value === null) {
      parts.push(`<text x="${labelW + 4}" y="${y + 15}" class="err">${esc(b.text)}</text>`);
      return;
    }
    const w = Math.max(1, X(b.value) - labelW);
    parts.push(`<rect x="${labelW}" y="${y + 3}" width="${f1(w)}" height="${rowH - 6}" fill="${b.color}"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>`);
    if (b.range) parts.push(`<line x1="${f1(X(b.range[0]))}" x2="${f1(X(b.range[1]))}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" class="wh"/>`);
    parts.push(`<text x="${f1(Math.max(labelW + w, b.range ? X(b.range[1]) : 0) + 6)}" y="${y + 15}">${esc(b.text)}</text>`);
  });
  parts.push(`<g class="axis x-axis"><line x1="${labelW}" x2="${labelW + barW}" y1="${plotBottom}" y2="${plotBottom}"/>`
    + t.values.map((v) => `<line x1="${f1(X(v))}" x2="${f1(X(v))}" y1="${plotBottom}" y2="${plotBottom + 4}"/><text x="${f1(X(v))}" y="${plotBottom + 16}" text-anchor="middle">${fmt(v, decimalsFor(t.step))}</text>`).join('')
    + `<text class="label" x="${f1(labelW + barW / 2)}" y="${plotBottom + 34}" text-anchor="middle">${esc(axisLabel)}</text></g>`);
  parts.push('</svg>');
  return parts.join('');
}

/** The shared look of the reports. */
export const BASE_CSS = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#222;background:#fff}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:2px}h3{font-size:15px}
p.sub{color:#666;margin-top:0}
pre{background:#f5f5f5;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;margin:8px 0;font-size:13px}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right;white-space:pre-line}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}tbody tr:nth-child(even){background:#fafafa}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:600}dd{margin:0;white-space:pre-line;overflow-wrap:anywhere}
svg{display:block;margin:10px 0;font:12px system-ui,sans-serif;max-width:100%;height:auto}
svg .title{font-weight:600;font-size:13px}svg .err{fill:#c00}svg .wh{stroke:#222;stroke-width:1.5}
svg .grid line{stroke:#e8e8e8}svg .axis line{stroke:#888}svg .axis text{fill:#444;font-size:11px}svg .axis .label{fill:#222;font-size:12px}
svg .empty{fill:#999;font-style:italic}
.row{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:flex-start}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px;background:#fafbfc}
.card .v{font-size:20px;font-weight:600}.card .k{color:#666;font-size:12px}
.note{color:#555;font-size:13px}.warn{color:#a15c00}
.def{font-style:italic}
`;
