// `distill bench` through the real binary: a --quick --json run on js + one more backend (row
// schema, kd_step rows per worker count, the HTML report), --help, and bad flag values.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadAvailableBackends, registerBackend } from '../src/backends/index.js';
import { createJsBackend } from '../src/backends/js/js-backend.js';
import { bench } from '../src/cli/bench.js';

const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function distill(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const KEYS = ['backend', 'workers', 'batch', 'op', 'ms_median', 'ms_min', 'ms_max', 'gflops'];

describe('distill bench', () => {
  it('--quick --json: rows in the documented schema, kd_step for each worker count, an HTML report', async () => {
    // The fastest backend that loads besides js (the wasm builds always exist after npm install).
    const other = (await loadAvailableBackends()).backends.map((b) => b.name).find((n) => n !== 'js');
    const backends = ['js', ...(other ? [other] : [])];
    const t0 = Date.now();
    const r = distill('bench', '--quick', '--json', '--backend', backends.join(','), '--workers', '1,2', '--batch', '16', '--ops', 'matmul,relu,kd_step');
    expect(r.code, r.err).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.err).toMatch(/bench \[1\/\d+\]/); // progress on stderr
    const rows = JSON.parse(r.out) as Record<string, unknown>[];
    expect(Array.isArray(rows)).toBe(true);
    for (const row of rows) {
      expect(Object.keys(row).slice(0, 8)).toEqual(KEYS);
      expect(row.error, JSON.stringify(row)).toBeUndefined();
      expect(backends).toContain(row.backend);
      expect(Number.isInteger(row.workers) && (row.workers as number) >= 1).toBe(true);
      expect(['matmul', 'relu', 'kd_step']).toContain(row.op);
      const [med, min, max] = [row.ms_median, row.ms_min, row.ms_max] as number[];
      expect(typeof med).toBe('number');
      expect(med).toBeGreaterThan(0);
      expect(min).toBeLessThanOrEqual(med);
      expect(med).toBeLessThanOrEqual(max);
      if (row.op === 'relu') {
        expect(row.gflops).toBeNull();
        expect(row.gbps as number).toBeGreaterThan(0);
      } else {
        expect(row.gflops as number).toBeGreaterThan(0);
      }
      if (row.op !== 'kd_step') expect(row.workers).toBe(1);
    }
    for (const be of backends) {
      expect(rows.filter((x) => x.backend === be && x.op === 'matmul').map((x) => String(x.shape).split(' ')[1]).sort()).toEqual(['nn', 'nt', 'tn']);
      expect(rows.some((x) => x.backend === be && x.op === 'relu' && x.batch === 16)).toBe(true);
      for (const w of [1, 2]) {
        const kd = rows.find((x) => x.backend === be && x.op === 'kd_step' && x.workers === w);
        expect(kd, `${be} kd_step workers=${w}`).toBeDefined();
        expect(kd!.batch).toBe(16);
        expect(kd!.samples_per_s as number).toBeGreaterThan(0);
        expect(kd!.pct_peak as number).toBeGreaterThan(0);
      }
    }
    const html = join(dir, 'distill-bench.html');
    expect(existsSync(html)).toBe(true);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('kd_step');
    expect(page).not.toMatch(/<(script|link)\b|src="http/);
  });

  it('a kernel with a wrong result is an error row, not timed; the others are still measured', async () => {
    registerBackend({
      name: 'broken-relu', priority: -1,
      create: async () => {
        const be = createJsBackend();
        return { ...be, name: 'broken-relu', relu: (out: Float32Array, inp: Float32Array, n: number) => { be.relu(out, inp, n); out[n - 1] += 1; } };
      },
    });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await bench(['--quick', '--json', '--quiet', '--html', '-', '--backend', 'broken-relu', '--ops', 'relu,relu_backward', '--batch', '4']);
      const rows = JSON.parse(String(log.mock.calls[0][0]));
      expect(rows.map((r: { op: string }) => r.op)).toEqual(['relu', 'relu_backward']);
      expect(Object.keys(rows[0]).slice(0, 8)).toEqual(KEYS);
      expect(rows[0]).toMatchObject({ backend: 'broken-relu', op: 'relu', ms_median: null, ms_min: null, ms_max: null, gflops: null });
      expect(rows[0].error).toMatch(/wrong result, not timed/);
      expect(rows[1].error).toBeUndefined();
      expect(rows[1].ms_median).toBeGreaterThan(0);
      // A backward kernel reads dout and inp and writes dinp: 3 arrays of N x 800.
      expect(rows.map((r: { case: string }) => r.case)).toEqual(['forward', 'backward']);
      expect(rows[1]).toMatchObject({ shape: 'n=3200 (4x800)' });
      const ratio = rows[1].gbps / ((3 * 4 * 3200) / (rows[1].ms_median * 1e6)); // ms_median is rounded
      expect(ratio).toBeGreaterThan(0.9);
      expect(ratio).toBeLessThan(1.1);
    } finally {
      log.mockRestore();
    }
  });

  it('--ops kd_step_cnn: the CNN KD step on workload C, rows with the kd_step fields', async () => {
    const be = (await loadAvailableBackends()).backends.map((b) => b.name).find((n) => n === 'native' || n === 'wasm-simd')!;
    const r = distill('bench', '--quick', '--json', '--html', '-', '--backend', be, '--workers', '1,2', '--batch', '8', '--ops', 'kd_step_cnn');
    expect(r.code, r.err).toBe(0);
    const rows = JSON.parse(r.out) as Record<string, unknown>[];
    expect(rows.map((x) => x.workers)).toEqual([1, 2]);
    for (const row of rows) {
      expect(Object.keys(row).slice(0, 8)).toEqual(KEYS);
      expect(row.error, JSON.stringify(row)).toBeUndefined();
      expect(row.op).toBe('kd_step_cnn');
      expect(row.shape).toBe('C N=8');
      // 14,446,976 FLOP per sample (cnn_step.py's count) at the median time.
      expect(row.gflops as number).toBeCloseTo((8 * 14_446_976) / ((row.ms_median as number) * 1e6), 1);
      expect(row.samples_per_s as number).toBeGreaterThan(0);
    }
  });

  it('--ops infer: workload Q rows, f32 and int8 of mlp800 and mlp64, with dtype, model, speedup and top-1 agreement', async () => {
    const be = (await loadAvailableBackends()).backends.map((b) => b.name).find((n) => n === 'native' || n === 'wasm-simd')!;
    const r = distill('bench', '--quick', '--json', '--html', '-', '--backend', be, '--batch', '1,128', '--ops', 'infer');
    expect(r.code, r.err).toBe(0);
    const rows = JSON.parse(r.out) as Record<string, unknown>[];
    expect(rows.map((x) => `${x.model}:${x.batch}:${x.dtype}`).sort()).toEqual(['mlp64:1:f32', 'mlp64:1:int8', 'mlp64:128:f32', 'mlp64:128:int8', 'mlp800:1:f32', 'mlp800:1:int8', 'mlp800:128:f32', 'mlp800:128:int8'].sort());
    for (const row of rows) {
      expect(Object.keys(row).slice(0, 8)).toEqual(KEYS);
      expect(row.error, JSON.stringify(row)).toBeUndefined();
      expect(row.op).toBe('infer');
      const dims = row.model === 'mlp800' ? [784, 800, 800, 10] : [784, 64, 10];
      // 2·Σ in·out (multiply-adds) per sample at the median time, as int8_infer.py counts.
      const flops = 2 * dims.slice(1).reduce((a, d, i) => a + dims[i] * d, 0) * (row.batch as number);
      const g = flops / ((row.ms_median as number) * 1e6); // from the rounded median
      expect(Math.abs((row.gflops as number) - g) / g).toBeLessThan(0.05);
      if (row.dtype === 'int8') {
        const f32 = rows.find((x) => x.model === row.model && x.batch === row.batch && x.dtype === 'f32')!;
        const ratio = (f32.ms_median as number) / (row.ms_median as number); // of the rounded medians
        expect(Math.abs((row.speedup_vs_f32 as number) - ratio) / ratio).toBeLessThan(0.05);
        expect(row.top1 as number).toBeGreaterThanOrEqual(0.9);
      } else expect(row.speedup_vs_f32).toBeUndefined();
    }
  });

  it('--help explains the options', () => {
    const h = distill('bench', '--help');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/usage: distill bench/);
    for (const f of ['--backend', '--workers', '--batch', '--ops', '--quick', '--json', '--html', '--out']) expect(h.out).toContain(f);
    expect(distill('--help').out).toContain('bench');
  });

  it.each([
    [['--workers', '0'], '--workers'],
    [['--workers', '1,x'], '--workers'],
    [['--batch=-4'], '--batch'],
    [['--batch', '0'], '--batch'],
    [['--ops', 'nope'], '--ops'],
    [['--backend', 'nope'], '--backend'],
    [['--steps', '0'], '--steps'],
    [['--frobnicate'], 'frobnicate'],
  ])('bad flag %j exits 2 with one line naming it', (args, flag) => {
    const r = distill('bench', '--quick', '--html', '-', ...args);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toBe('');
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toContain(flag);
  });
});

describe('bench/anchors.mjs', () => {
  const script = join(import.meta.dirname, '..', 'bench', 'anchors.mjs');
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('takes each ratio within a round, against the anchors\' printed medians', async () => {
    // Stand-in anchors that print the anchors' line format with known medians (the "PyTorch" one
    // runs under node: --python is the interpreter the script is handed to).
    const torch = join(dir, 'torch'), tfjs = join(dir, 'tfjs');
    for (const d of [torch, join(tfjs, 'node_modules')]) mkdirSync(d, { recursive: true });
    writeFileSync(join(torch, 'kd_step.py'), `for (const t of [1, 2]) console.log('anchor=fake-torch threads=' + t + ' batch=16 ms_per_step_median=' + (t === 1 ? 1000 : 500) + ' samples_per_s=1');\nconsole.log('anchor=fake-torch threads=1 batch=512 ms_per_step_median=1');\n`);
    writeFileSync(join(tfjs, 'kd_step.mjs'), `const t = process.argv.includes('wasm-threads') ? 2 : 1;\nconsole.log('# a comment line');\nconsole.log('anchor=fake-tfjs threads=' + t + ' batch=16 ms_per_step_median=' + (t === 1 ? 2000 : 4000));\n`);
    const hasNative = (await loadAvailableBackends()).backends.some((b) => b.name === 'native');
    const r = run('--torch', torch, '--tfjs', tfjs, '--python', process.execPath, '--rounds', '2', '--batch', '16', '--steps', '3', '--backends', hasNative ? 'native,wasm-simd' : 'wasm-simd', '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as { rounds: Record<string, number>[]; pairs: { ours: string; anchor: string; ours_ms: number[]; anchor_ms: number[]; ratios: number[]; median_ratio: number }[] };
    expect(res.rounds).toHaveLength(2);
    const byPair = Object.fromEntries(res.pairs.map((p) => [`${p.ours}/${p.anchor}`, p]));
    expect(Object.keys(byPair).sort()).toEqual([...(hasNative ? ['native:1/torch:1', 'native:2/torch:2'] : []), 'wasm-simd:1/tfjs:1', 'wasm-simd:2/tfjs:2']);
    const expectAnchor = { 'torch:1': 1000, 'torch:2': 500, 'tfjs:1': 2000, 'tfjs:2': 4000 } as Record<string, number>;
    for (const p of res.pairs) {
      expect(p.anchor_ms).toEqual([expectAnchor[p.anchor], expectAnchor[p.anchor]]);
      expect(p.ours_ms.every((x) => x > 0)).toBe(true);
      p.ratios.forEach((q, i) => expect(q).toBeCloseTo(p.ours_ms[i] / expectAnchor[p.anchor], 12));
      expect(p.median_ratio).toBeCloseTo((p.ratios[0] + p.ratios[1]) / 2, 12);
    }
  }, 120_000);

  it('--workload C: the CNN anchors (cnn_step.py, cnn_step.mjs --xpose) against kd_step_cnn rows', async () => {
    const torch = join(dir, 'torch-c'), tfjs = join(dir, 'tfjs-c');
    for (const d of [torch, join(tfjs, 'node_modules')]) mkdirSync(d, { recursive: true });
    writeFileSync(join(torch, 'cnn_step.py'), `for (const t of [1, 2]) console.log('anchor=fake-cnn-torch threads=' + t + ' batch=8 ms_per_step_median=' + (t === 1 ? 800 : 400));\n`);
    writeFileSync(join(tfjs, 'cnn_step.mjs'), `if (!process.argv.includes('--xpose')) process.exit(3);\nconst t = process.argv.includes('wasm-threads') ? 2 : 1;\nconsole.log('anchor=fake-cnn-tfjs threads=' + t + ' batch=8 ms_per_step_median=' + (t === 1 ? 1600 : 3200));\n`);
    const r = run('--workload', 'C', '--torch', torch, '--tfjs', tfjs, '--python', process.execPath, '--rounds', '1', '--batch', '8', '--steps', '3', '--backends', 'wasm-simd', '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as { workload: string; pairs: { ours: string; anchor: string; anchor_ms: number[]; ratios: number[] }[] };
    expect(res.workload).toBe('C');
    expect(res.pairs.map((p) => `${p.ours}/${p.anchor}`).sort()).toEqual(['wasm-simd:1/tfjs:1', 'wasm-simd:2/tfjs:2']);
    for (const p of res.pairs) {
      expect(p.anchor_ms).toEqual([p.anchor === 'tfjs:1' ? 1600 : 3200]);
      expect(p.ratios[0]).toBeGreaterThan(0);
    }
    expect(run('--workload', 'X', '--torch', torch).err).toMatch(/--workload must be W, C or Q/);
  }, 120_000);

  it('--workload Q: int8_infer.py (best int8 engine per round) against distill bench --ops infer rows', async () => {
    const torch = join(dir, 'torch-q');
    mkdirSync(torch, { recursive: true });
    // A stand-in int8_infer.py in its line format: fp32 and two int8 variants per model/threads/batch.
    writeFileSync(join(torch, 'int8_infer.py'), `for (const m of ['mlp800', 'mlp64']) for (const t of [1, 2]) for (const b of [1, 128]) {
  const base = (m === 'mlp800' ? 10 : 1) * (b === 1 ? 0.01 : 1) / t;
  console.log('anchor=q-' + m + '-fp32-torch-2.6 threads=' + t + ' batch=' + b + ' ms_per_batch_median=' + base);
  console.log('anchor=q-' + m + '-dyn-int8-fbgemm-torch-2.6 threads=' + t + ' batch=' + b + ' ms_per_batch_median=' + base / 2 + ' speedup_vs_fp32=2');
  console.log('anchor=q-' + m + '-static-int8-onednn-torch-2.6 threads=' + t + ' batch=' + b + ' ms_per_batch_median=' + base / 4 + ' speedup_vs_fp32=4');
}
`);
    const r = run('--workload', 'Q', '--torch', torch, '--python', process.execPath, '--rounds', '1', '--backends', 'wasm-simd', '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as { workload: string; pairs: { ours: string; anchor: string; ours_ms: number[]; anchor_ms: number[]; ratios: number[] }[] };
    expect(res.workload).toBe('Q');
    // Per model and batch: int8 vs PyTorch's best int8 (static onednn here), f32 vs fp32, int8 vs our f32.
    expect(res.pairs).toHaveLength(12);
    const p800 = res.pairs.find((p) => p.ours === 'wasm-simd-mlp800-int8:128' && p.anchor.startsWith('torch-'))!;
    expect(p800.anchor).toBe('torch-mlp800-int8:1:128 (static onednn)');
    expect(p800.anchor_ms).toEqual([2.5]);
    expect(p800.ratios[0]).toBeCloseTo(p800.ours_ms[0] / 2.5, 12);
    expect(res.pairs.find((p) => p.ours === 'wasm-simd-mlp64-f32:1')!.anchor_ms).toEqual([0.01]);
    const self = res.pairs.find((p) => p.ours === 'wasm-simd-mlp64-int8:128' && p.anchor === 'wasm-simd-mlp64-f32:128')!;
    expect(self.ratios[0]).toBeGreaterThan(0);
    expect(run('--workload', 'Q', '--tfjs', torch).err).toMatch(/--workload Q needs --torch DIR/);
  }, 180_000);

  it('refuses missing or unprepared anchor folders with one clear line', () => {
    const none = run();
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/--torch DIR/);
    const bad = run('--torch', join(dir, 'nowhere'));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('no kd_step.py');
    mkdirSync(join(dir, 'bare-tfjs'), { recursive: true });
    writeFileSync(join(dir, 'bare-tfjs', 'kd_step.mjs'), '');
    const bare = run('--tfjs', join(dir, 'bare-tfjs'));
    expect(bare.code).toBe(2);
    expect(bare.err).toContain('npm install');
    expect(run('--rounds', '0', '--torch', dir).err).toContain('--rounds');
    expect(run('--help').out).toContain('--rounds');
  });
});

describe('bench/mul-add-peak.c', () => {
  const src = join(import.meta.dirname, '..', 'bench', 'mul-add-peak.c');
  const cc = ['cc', 'gcc'].find((c) => spawnSync(c, ['--version']).status === 0);
  const exe = join(dir, 'mul-add-peak');
  it.skipIf(process.arch !== 'x64')('compiles as its header says and measures each loop on 1 and 2 threads, with medians', () => {
    expect(cc, 'a C compiler (the native addon needs one too)').toBeDefined();
    const b = spawnSync(cc!, ['-O2', '-mavx2', '-mfma', '-ffp-contract=off', '-pthread', src, '-o', exe], { encoding: 'utf8' });
    expect(b.status, b.stderr).toBe(0);
    const r = spawnSync(exe, ['1'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const med = [...r.stdout.matchAll(/^(.+?)\s+1 thread ([\d.]+) \(range .*\), 2 threads ([\d.]+) \(range .*\) GFLOP\/s$/gm)];
    expect(med.map((m) => m[1].trim())[0]).toBe('mul+add 128 (wasm-simd)');
    for (const m of med) {
      expect(Number(m[2])).toBeGreaterThan(0.5);
      expect(Number(m[3])).toBeGreaterThan(0.5);
    }
    // one row per loop per round before the medians
    expect(r.stdout.split('\n').filter((l) => / 1 +[\d.]+ GF\/s +[\d.]+ GF\/s +[\d.]+x$/.test(l))).toHaveLength(med.length);
  });
  it.skipIf(process.arch !== 'x64')('refuses a bad round count with its usage', () => {
    const r = spawnSync(exe, ['0'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage: .* \[rounds 1\.\.1000\]/);
  });
});
