// The report builders (src/cli/report.ts, src/cli/svg.ts) without a browser: escaping of
// user-given names, empty and one-epoch histories, many classes, the confusion matrix against
// evaluate(), and the axes of distill bench's charts. test/report-browser.test.ts renders them.

import { describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { htmlReport } from '../src/cli/bench-report.js';
import type { BenchResult } from '../src/cli/bench.js';
import { MATRIX_MAX_CLASSES, confusionSection, confusionSvg, demoReportHtml, lossChart, runReportHtml, type RunReportInput } from '../src/cli/report.js';
import { esc, fmtBytes, lineChart, niceTicks } from '../src/cli/svg.js';
import { Sequential } from '../src/nn/sequential.js';
import { confusionMatrix } from '../src/train/confusion.js';
import { evaluate, type EpochMetrics } from '../src/train/trainer.js';
import { blobs } from './util.js';

const HOSTILE = ['<script>alert(1)</script>', 'a "quoted" & \'single\'', '</svg><img src=x onerror=alert(2)>', 'plain'];

function epoch(e: number, o: Partial<EpochMetrics> = {}): EpochMetrics {
  return { epoch: e, step: e * 10, lr: 0.05, train_loss: 1 / e, train_kd: 0.6 / e, train_ce: 0.4 / e, train_hint: 0, test_loss: 1.1 / e, test_acc: 0.5 + e / 100, test_errors: 100 - e, seconds: 0.5, ...o };
}

function confusion(K: number, seed = 1): { K: number; counts: Uint32Array; n: number } {
  const counts = new Uint32Array(K * K);
  let s = seed, n = 0;
  for (let t = 0; t < K; t++) for (let p = 0; p < K; p++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const v = t === p ? 50 + (s % 50) : s % 7 === 0 ? s % 5 : 0;
    counts[t * K + p] = v; n += v;
  }
  return { K, counts, n };
}

function runInput(history: EpochMetrics[], o: Partial<RunReportInput> = {}): RunReportInput {
  return {
    role: 'student', command: "distill student --data 'my data.csv'", outDir: 'runs/student', date: '2026-01-01T00:00:00.000Z',
    data: { name: 'my data.csv', train: 1000, test: 200, features: 6, classes: 4 },
    model: { layers: '6-8-4', parameters: 92, file: 'runs/student/model.safetensors', fileBytes: 1234 },
    runtime: { backend: 'js', description: 'plain TypeScript', workers: 2 },
    settings: [['teacher', 'runs/<teacher>/model.safetensors']],
    kd: { base: { T: 4, alpha: 0.9, scaleT2: true }, schedule: { T: { kind: 'linear', to: 2 }, startEpoch: 1 }, perEpoch: history.map((_, e) => (e < 1 ? null : { T: 4 - e * 0.5, alpha: 0.9, scaleT2: true })) },
    history, samplesPerSec: history.map(() => 12345), final: { n: 200, loss: 0.5, accuracy: 0.9, errors: 20 },
    confusion: { ...confusion(4), names: HOSTILE },
    ...o,
  };
}

/** No value leaked as NaN/undefined, no raw user text, and the tags that open also close. */
function wellFormed(html: string): void {
  expect(html).not.toMatch(/NaN|undefined|Infinity|\[object /);
  expect(html).not.toMatch(/<(script|img|link|iframe|object)\b|\ssrc="|href="http/i);
  for (const tag of ['svg', 'g', 'table', 'text', 'title', 'div', 'dl']) {
    const open = html.match(new RegExp(`<${tag}[\\s>]`, 'g'))?.length ?? 0;
    expect(html.match(new RegExp(`</${tag}>`, 'g'))?.length ?? 0, `<${tag}>`).toBe(open);
  }
}

describe('report builders', () => {
  it('esc escapes the five HTML-special characters', () => {
    expect(esc(`<a href="x">Tom & 'Jerry'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;');
  });

  it('niceTicks: round steps, padded value axes, integer epoch axes, a flat range', () => {
    expect(niceTicks(0, 1.23, 5, { pad: true }).values).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    expect(niceTicks(1, 4, 5, { integer: true }).values).toEqual([1, 2, 3, 4]);
    expect(niceTicks(1, 30, 6, { integer: true }).values).toEqual([5, 10, 15, 20, 25, 30]);
    const flat = niceTicks(0.7, 0.7, 5, { pad: true });
    expect(flat.hi).toBeGreaterThan(flat.lo);
    expect(flat.values.length).toBeGreaterThan(1);
    expect(fmtBytes(999)).toBe('999 B');
    expect(fmtBytes(1_350_000)).toBe('1.35 MB');
  });

  it('lineChart: axes labels and legend; no data; one point; a gap splits the curve', () => {
    const empty = lineChart([], { title: 'T', xLabel: 'epoch', yLabel: 'loss (nats)', empty: 'nothing yet' });
    expect(empty).toContain('nothing yet');
    expect(empty).toContain('>epoch</text>');
    expect(empty).toContain('>loss (nats)</text>');
    wellFormed(empty);
    const one = lineChart([{ name: 'a <b>', points: [[1, 0.5]], color: '#000' }], { title: 't', xLabel: 'epoch', yLabel: 'y', xInteger: true });
    expect(one).not.toContain('class="curve"'); // one point: a dot, no line
    expect(one.match(/<circle/g)).toHaveLength(1);
    expect(one).toContain('a &lt;b&gt;');
    wellFormed(one);
    const gap = lineChart([{ name: 's', points: [[1, 1], [2, 2], [3, null], [4, 3], [5, 4]], color: '#000' }], { title: 't', xLabel: 'epoch', yLabel: 'y', xInteger: true });
    const d = /class="curve" d="([^"]+)"/.exec(gap)![1];
    expect(d.match(/M/g)).toHaveLength(2);
    expect(gap.match(/<circle/g)).toHaveLength(4);
  });

  it('a teacher loss chart has no KD series; a student one has total, KD, CE and test', () => {
    const h = [epoch(1), epoch(2)];
    expect(lossChart(h, { kd: false })).not.toContain('KD part');
    const s = lossChart(h, { kd: true });
    for (const name of ['train loss (total)', 'KD part', 'CE part', 'test loss (CE)']) expect(s).toContain(name);
    expect(lossChart([epoch(1, { train_hint: 0.2 }), epoch(2, { train_hint: 0.1 })], { kd: true })).toContain('hint part');
  });

  it('a run report with no completed epoch, one epoch, and many epochs', () => {
    const none = runReportHtml(runInput([], { final: null, confusion: null, samplesPerSec: [] }));
    expect(none).toContain('No completed epoch');
    expect(none).toContain('no confusion matrix');
    wellFormed(none);
    const one = runReportHtml(runInput([epoch(1)]));
    wellFormed(one);
    expect(one).toContain('90.00%'); // the final accuracy card
    expect(one).toContain('KD off');
    const many = runReportHtml(runInput(Array.from({ length: 50 }, (_, i) => epoch(i + 1))));
    wellFormed(many);
    expect(many.match(/class="curve"/g)!.length).toBeGreaterThanOrEqual(5); // loss parts, accuracy, T, α, throughput
    expect(many).toContain('1,234 bytes');
    expect(many).toContain('× 2 workers');
  });

  it('class names and settings from users are escaped everywhere', () => {
    const html = runReportHtml(runInput([epoch(1), epoch(2)]));
    wellFormed(html);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;/svg&gt;&lt;img src=x'.slice(0, 16)); // clipped in the matrix labels, whole in the tables
    expect(html).toContain('runs/&lt;teacher&gt;/model.safetensors');
    expect(html).toContain('a &quot;quoted&quot; &amp; &#39;single&#39;');
  });

  it('many classes: the matrix up to 100 classes without cell numbers, tables beyond', () => {
    const c = confusion(MATRIX_MAX_CLASSES);
    const names = Array.from({ length: c.K }, (_, k) => `class-${k}`);
    const svg = confusionSvg(c, names);
    expect(svg.match(/class="cell"/g)).toHaveLength(c.K * c.K);
    expect(svg).not.toMatch(/font-size="[\d.]+" fill/); // cells too small for numbers
    const labels = svg.match(/class="tick" x="[\d.]+" y="[\d.]+" text-anchor="end">class-/g)!.length;
    expect(labels).toBeLessThan(c.K); // every n-th class labeled
    expect(labels).toBeGreaterThan(5);
    wellFormed(confusionSection(c, names));
    const big = confusion(150);
    const sec = confusionSection(big, Array.from({ length: 150 }, (_, k) => `c${k}`));
    expect(sec).not.toContain('class="cell"');
    expect(sec).toContain('too many to draw');
    expect(sec).toContain('lowest recall');
    wellFormed(sec);
    // Ten classes: numbers in the cells.
    const ten = confusionSvg(confusion(10), Array.from({ length: 10 }, (_, k) => String(k)));
    expect(ten).toMatch(/font-size="[\d.]+" fill="#fff">\d+<\/text>/);
  });

  it('confusionMatrix agrees with evaluate(): its diagonal is the correct count, its rows the class counts', async () => {
    const be = await loadBackend('js');
    const ds = blobs(300, 6, 3, 7);
    const model = new Sequential(be, { layers: [6, 5, 3], activation: 'relu' }, 3);
    const c = confusionMatrix(model, ds, 64);
    const ev = evaluate(model, ds);
    let diag = 0;
    for (let k = 0; k < 3; k++) diag += c.counts[k * 3 + k];
    expect(diag).toBe(ds.n - ev.errors);
    for (let t = 0; t < 3; t++) {
      const row = c.counts.slice(t * 3, t * 3 + 3).reduce((a, b) => a + b, 0);
      expect(row).toBe(Array.from(ds.y).filter((y) => y === t).length);
    }
    model.release();
  });

  it('the demo report: the three models, their errors as bars, curves and confusion matrices', () => {
    const runs = ['teacher', 'student-distilled', 'student-alone'].map((name, i) => ({ name, history: [epoch(1), epoch(2), epoch(3 + i)], confusion: confusion(10, i + 1) }));
    const html = demoReportHtml({
      command: 'distill demo', date: '2026-01-01', data: { name: 'mnist', train: 8000, test: 2000, features: 784, classes: 10 },
      rows: runs.map((r, i) => ({ model: r.name, layers: '784-32-10', parameters: 25450, acc: 0.9 + i / 100, errors: 200 - i * 10, n: 2000, seconds: 10, samples: 1000 })),
      runs, kd: { T: 4, alpha: 0.9, scaleT2: true }, names: HOSTILE.concat(Array.from({ length: 6 }, (_, k) => String(k))), runtime: 'js', summary: 'distillation saved 10 test errors',
    });
    wellFormed(html);
    for (const name of ['teacher', 'student-distilled', 'student-alone', 'distillation saved 10 test errors', 'test errors (samples)']) expect(html).toContain(name);
    expect(html.match(/<svg[^>]*class="confusion"/g)).toHaveLength(3);
  });

  it("distill bench's charts have a value axis with ticks and a label naming the unit", () => {
    const machine = { cpu: 'Test <CPU>', cores: 2, node: 'v20', platform: 'linux', version: '0.1.0', date: '2026-01-01', command: 'distill bench --quick', backends: [{ name: 'js', description: 'ts' }], skipped: [], seconds: 1 };
    const rows = [
      { backend: 'js', workers: 1, batch: 128, op: 'matmul', shape: '128x800x784 nn', ms_median: 10, ms_min: 9, ms_max: 11, gflops: 1.6, reps: 5 },
      { backend: 'js', workers: 1, batch: 128, op: 'relu', shape: '128x800', ms_median: 0.1, ms_min: 0.1, ms_max: 0.2, gflops: null, gbps: 8.2, reps: 5 },
      { backend: 'js', workers: 2, batch: 128, op: 'kd_step', ms_median: 100, ms_min: 90, ms_max: 120, gflops: 14, samples_per_s: 1280, pct_peak: 20, reps: 3 },
    ];
    const html = htmlReport({ rows, peak: { gflops: 1.6, backend: 'js', shape: '256' }, machine } as BenchResult);
    wellFormed(html);
    expect(html.match(/class="axis x-axis"/g)).toHaveLength(3);
    expect(html).toContain('GFLOP/s (10⁹ floating-point operations per second)');
    expect(html).toContain('GB/s (10⁹ bytes read + written per second)');
    expect(html).toContain('training samples per second');
    expect(html).toMatch(/text-anchor="middle">1,500<\/text>/); // a samples/s tick with a thousands separator
    expect(html).toContain('Test &lt;CPU&gt;');
  });
});
