// OUT/report.html in a real browser: teach, student and demo runs through the `distill` binary on
// a CSV whose class names try to inject markup, then each report (and a distill bench page) is
// loaded in headless Chromium: the SVG curves and the confusion matrix are rendered with real
// geometry, the hostile names show as text, and there is no console error, no uncaught
// exception, no failed load and no request beyond the file itself. A planted bad page shows that
// each of those problems is caught.
// Without Chromium the test is skipped with its reason, unless DISTILLERY_REQUIRE_BROWSER=1 (set
// by .ci/run, which installs Debian's chromium), where a missing browser fails it.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { htmlReport } from '../src/cli/bench-report.js';
import type { BenchResult } from '../src/cli/bench.js';
import { Rng } from '../src/nn/rng.js';
import { findChromium, openInChromium, problems, writeBadPage } from './chromium.js';

const exe = findChromium();
const required = process.env.DISTILLERY_REQUIRE_BROWSER === '1';
const missing = 'no Chromium found (set CHROMIUM_PATH, or install Debian\'s chromium: apt-get install chromium)';
if (!exe && !required) console.warn(`[report-browser] skipped: ${missing}`);

const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function distill(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// Names that would run script, load an image or break out of the SVG if they were not escaped.
const NAMES = ['<script>console.error("injected")</script>', '</svg><img src="x.png">', 'a "b" & \'c\'', 'plain'];
const csv = join(dir, 'hostile.csv');
{
  const r = new Rng(5);
  const lines = ['f0,f1,f2,f3,label'];
  for (let i = 0; i < 240; i++) {
    const c = i % 4;
    const f = Array.from({ length: 4 }, (_, j) => (r.normal() * 0.5 + (j === c ? 1.5 : 0)).toFixed(4));
    lines.push([...f, `"${NAMES[c].replace(/"/g, '""')}"`].join(','));
  }
  writeFileSync(csv, lines.join('\n') + '\n');
}

/** Evaluated in the page: what a person sees, measured. */
const PROBE = `(() => {
  const curves = [...document.querySelectorAll('svg path.curve')];
  const texts = [...document.querySelectorAll('svg text')].map((t) => t.textContent);
  return {
    title: document.title,
    scripts: document.querySelectorAll('script, img, iframe, object').length,
    curves: curves.length,
    longest: Math.max(0, ...curves.map((p) => p.getTotalLength())),
    widest: Math.max(0, ...curves.map((p) => p.getBoundingClientRect().width)),
    charts: document.querySelectorAll('svg.chart').length,
    cells: document.querySelectorAll('svg.confusion rect.cell').length,
    cellWidth: document.querySelector('svg.confusion rect.cell')?.getBoundingClientRect().width ?? 0,
    axisLabels: [...document.querySelectorAll('svg .axis .label')].map((t) => t.textContent),
    legend: [...document.querySelectorAll('svg .legend text')].map((t) => t.textContent),
    hostileShown: texts.some((t) => t.includes('<script>')) && document.body.textContent.includes('</svg><img src="x.png">'),
    pageWidth: document.documentElement.scrollWidth,
  };
})()`;

interface Probe { title: string; scripts: number; curves: number; longest: number; widest: number; charts: number; cells: number; cellWidth: number; axisLabels: string[]; legend: string[]; hostileShown: boolean; pageWidth: number }

async function check(file: string): Promise<Probe> {
  const r = await openInChromium(exe!, file, { evaluate: [PROBE], screenshot: true });
  expect(problems(r, file), file).toEqual([]);
  expect(r.console, file).toEqual([]); // the report runs no script at all
  const png = r.screenshot!;
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  expect(w).toBeGreaterThanOrEqual(800);
  expect(h).toBeGreaterThan(1000);
  if (process.env.DISTILLERY_SCREENSHOT_DIR) writeFileSync(join(process.env.DISTILLERY_SCREENSHOT_DIR, file.split('/').slice(-2).join('-').replace(/\.html$/, '.png')), png);
  const p = r.values[0] as Probe;
  expect(p.scripts, file).toBe(0);
  expect(p.title.length).toBeGreaterThan(5);
  expect(p.curves, file).toBeGreaterThan(0);
  expect(p.longest, file).toBeGreaterThan(100); // a drawn curve, not a degenerate path
  expect(p.widest, file).toBeGreaterThan(100);
  expect(p.pageWidth, file).toBeLessThanOrEqual(1200); // nothing wider than the window
  return p;
}

describe('report.html in headless Chromium', () => {
  it('the check catches a console error, an uncaught exception, a failed load and a network request', async (ctx) => {
    if (!exe) { if (required) throw new Error(`DISTILLERY_REQUIRE_BROWSER=1: ${missing}`); ctx.skip(); }
    const bad = join(dir, 'bad.html');
    writeBadPage(bad);
    const found = problems(await openInChromium(exe!, bad), bad).join('\n');
    expect(found).toMatch(/console\.error: planted console error/);
    expect(found).toMatch(/uncaught: ReferenceError: undefinedFunction/);
    expect(found).toMatch(/log error: Failed to load resource.*missing-image\.png/);
    expect(found).toMatch(/request: https:\/\/cdn\.invalid\/lib\.js/);
  });

  it('teach, student and demo reports render: curves, legend, axes, confusion matrix, escaped class names, no errors', async (ctx) => {
    if (!exe) { if (required) throw new Error(`DISTILLERY_REQUIRE_BROWSER=1: ${missing}`); ctx.skip(); }
    const t = distill('teach', '--data', csv, '--layers', '4,16,4', '--epochs', '5', '--batch', '16', '--out', 'teacher', '--backend', 'js', '--workers', '1');
    expect(t.code, t.err).toBe(0);
    expect(t.out).toContain(`report ${join(dir, 'teacher', 'report.html')}`);
    const tp = await check(join(dir, 'teacher', 'report.html'));
    expect(tp.legend).toEqual(expect.arrayContaining(['train loss (CE)', 'test loss (CE)', 'test accuracy']));
    expect(tp.legend.some((l) => l.startsWith('KD part'))).toBe(false);
    expect(tp.axisLabels).toEqual(expect.arrayContaining(['epoch', 'loss (nats per sample)', 'test accuracy (%)']));
    expect(tp.cells).toBe(16);
    expect(tp.cellWidth).toBeGreaterThan(20);
    expect(tp.hostileShown).toBe(true);

    const s = distill('student', '--teacher', 'teacher/model.safetensors', '--data', csv, '--layers', '4,6,4', '--epochs', '6', '--batch', '16',
      '--temperature', '4', '--t-schedule', 'linear:2', '--alpha-schedule', 'cosine:0.5', '--kd-start-epoch', '2', '--out', 'student', '--backend', 'js', '--workers', '2');
    expect(s.code, s.err).toBe(0);
    const sp = await check(join(dir, 'student', 'report.html'));
    expect(sp.legend).toEqual(expect.arrayContaining(['train loss (total)', 'KD part: α·T²·KL', 'CE part: (1−α)·CE', 'test loss (CE)']));
    expect(sp.legend.some((l) => /^T: 4 → 2 \(linear\); KD from epoch 2$/.test(l))).toBe(true);
    expect(sp.legend.some((l) => /^α: 0\.9 → 0\.5 \(cosine\)/.test(l))).toBe(true);
    expect(sp.axisLabels).toEqual(expect.arrayContaining(['T', 'α (weight of the KD term)', 'samples per second']));
    expect(sp.cells).toBe(16);
    const page = readFileSync(join(dir, 'student', 'report.html'), 'utf8');
    expect(page).toContain('js × 2 workers');
    expect(page).toMatch(/training samples\/s/);

    const d = distill('demo', '--data', csv, '--teacher-epochs', '3', '--student-epochs', '4', '--student-samples', '60', '--out', 'demo', '--backend', 'js', '--workers', '1');
    expect(d.code, d.err).toBe(0);
    expect(d.out).toContain('report.html');
    const dp = await check(join(dir, 'demo', 'report.html'));
    expect(dp.legend).toEqual(expect.arrayContaining(['teacher', 'student-distilled', 'student-alone']));
    expect(dp.cells).toBe(3 * 16);
    const demo = readFileSync(join(dir, 'demo', 'report.html'), 'utf8');
    expect(demo).toMatch(/distillation (saved|cost) \d+ test errors/);
    expect(demo).toContain('test errors (samples)');
  });

  it("distill bench's page renders its bars with labeled value axes", async (ctx) => {
    if (!exe) { if (required) throw new Error(`DISTILLERY_REQUIRE_BROWSER=1: ${missing}`); ctx.skip(); }
    const machine = { cpu: 'cpu', cores: 2, node: process.version, platform: 'linux', version: '0', date: '2026-01-01', command: 'distill bench --quick', backends: [{ name: 'js', description: 'ts' }, { name: 'wasm', description: 'wasm' }], skipped: [], seconds: 1 };
    const rows = ['js', 'wasm'].flatMap((b, i) => [
      { backend: b, workers: 1, batch: 128, op: 'matmul', shape: '128x800x784 nn', ms_median: 10 / (i + 1), ms_min: 9 / (i + 1), ms_max: 11 / (i + 1), gflops: 1.6 * (i + 1), reps: 5 },
      { backend: b, workers: 2, batch: 128, op: 'kd_step', ms_median: 100 / (i + 1), ms_min: 90 / (i + 1), ms_max: 120 / (i + 1), gflops: 14, samples_per_s: 1280 * (i + 1), pct_peak: 20, reps: 3 },
    ]);
    const file = join(dir, 'bench.html');
    writeFileSync(file, htmlReport({ rows, peak: { gflops: 3.2, backend: 'wasm', shape: '256' }, machine } as BenchResult));
    const r = await openInChromium(exe!, file, { evaluate: [`[...document.querySelectorAll('svg.bars')].map((s) => ({ label: s.querySelector('.axis .label')?.textContent, ticks: s.querySelectorAll('.axis text').length - 1, bar: s.querySelector('rect')?.getBoundingClientRect().width ?? 0 }))`] });
    expect(problems(r, file)).toEqual([]);
    const charts = r.values[0] as { label: string; ticks: number; bar: number }[];
    expect(charts).toHaveLength(2);
    expect(charts[0].label).toMatch(/^GFLOP\/s/);
    expect(charts[1].label).toMatch(/^training samples per second/);
    for (const c of charts) {
      expect(c.ticks).toBeGreaterThanOrEqual(3);
      expect(c.bar).toBeGreaterThan(50);
    }
  });
});
