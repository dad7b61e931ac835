// `distill sweep` end to end through the binary (dist/): a small sweep on a CSV gives the Pareto
// table, best.safetensors, best.txt with a retrain command that works, and sweep.html (rendered
// in headless Chromium: one point per candidate with its config as the hover title, no errors,
// no requests); rerunning it trains nothing and leaves sweep.jsonl byte for byte; another --pick
// re-picks without training; bad input fails with exit 2 naming the flag and writes nothing; a
// budgeted sweep on the built-in digits ends within 10% of its budget and lists what it skipped, its
// rerun redoes nothing (the budget counts every run) and a larger budget trains on;
// Ctrl-C keeps the finished candidates, and the rerun continues from them. On a subset of the
// digits (IDX files): --conv candidates (conv stems, their retrain command) and --sparsity points
// (structured-pruned forms, latency of the smaller architecture, a pick of one and its prune step).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/nn/rng.js';
import { loadMnist } from '../src/data/builtin.js';
import { findChromium, openInChromium, problems } from './chromium.js';

const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-sweep-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') };

function distill(...args: string[]) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

const csv = join(dir, 'blobs.csv');
beforeAll(async () => {
  const r = new Rng(11), lines = ['f0,f1,f2,f3,f4,f5,label'];
  for (let i = 0; i < 900; i++) {
    const c = i % 3;
    lines.push([...Array.from({ length: 6 }, (_, j) => (r.normal() * 0.9 + (j % 3 === c ? 1.2 : 0)).toFixed(4)), ['cat', 'dog', 'eel'][c]].join(','));
  }
  writeFileSync(csv, lines.join('\n') + '\n');
  const t = distill('teach', '--data', csv, '--hidden', '32', '--epochs', '5', '--out', 'teacher', '--backend', 'js', '--workers', '1', '--quiet');
  expect(t.code, t.err).toBe(0);
  const m = distill('teach', '--hidden', '64', '--epochs', '2', '--out', 'digits-teacher', '--quiet');
  expect(m.code, m.err).toBe(0);
  // A subset of the built-in digits as raw IDX files: 1,500 training and 300 test images.
  const { train, test } = await loadMnist();
  const u8 = (x: Float32Array) => Uint8Array.from(x, (v) => Math.round(v * 255));
  const idx = (dims: number[], data: Uint8Array) => {
    const h = Buffer.alloc(4 + 4 * dims.length);
    h.writeUInt32BE(0x0800 + dims.length, 0);
    dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([h, data]);
  };
  writeFileSync(join(dir, 'tr-img'), idx([1500, 28, 28], u8(train.x.subarray(0, 1500 * 784))));
  writeFileSync(join(dir, 'tr-lab'), idx([1500], Uint8Array.from(train.y.subarray(0, 1500))));
  writeFileSync(join(dir, 'te-img'), idx([300, 28, 28], u8(test.x.subarray(0, 300 * 784))));
  writeFileSync(join(dir, 'te-lab'), idx([300], Uint8Array.from(test.y.subarray(0, 300))));
});
const DIGITS_SUBSET = 'idx:tr-img,tr-lab,te-img,te-lab';

const SMALL = ['sweep', '--teacher', 'teacher/model.safetensors', '--data', csv, '--widths', '4,16', '--depths', '1,2', '--T', '2,4', '--min-epochs', '2', '--max-epochs', '6', '--out', 'small', '--deploy-backend', 'js'];

describe('distill sweep (CLI)', () => {
  it('--help lists every option with its default and gives examples; bad input is exit 2 naming the flag, and writes nothing', () => {
    const h = distill('sweep', '--help');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/--budget-minutes/);
    expect(h.out).toMatch(/--pick VALUE.*\(default: max-accuracy\)/);
    expect(h.out).toMatch(/--eta VALUE.*\(default: 3\)/);
    expect(h.out).toMatch(/--promote VALUE.*'pareto'.*'accuracy'.*\(default: pareto\)/);
    expect(h.out).toMatch(/--conv VALUE.*none,8-16,16-32/);
    expect(h.out).toMatch(/--recover-epochs VALUE.*\(default: 1\)/);
    expect(h.out).toMatch(/examples:\n {2}distill sweep/);
    for (const [args, msg] of [
      [['--widths', '16,x'], /--widths: 'x' is not a width/],
      [['--pick', 'max-accuracy under 1ms'], /--pick "max-accuracy under 1ms": '1ms' is not a value with a unit/],
      [['--sample', 'sobol'], /--sample: expected grid or random/],
      [['--parallel', 'maybe'], /--parallel: expected auto, on or off/],
      [['--promote', 'best'], /--promote: expected pareto or accuracy, got "best"/],
      [['--sparsity', '0.5,x'], /--sparsity: 'x' is not a sparsity in \(0, 1\)/],
      [['--max-epochs', '0'], /--max-epochs: expected an integer >= 1/],
    ] as [string[], RegExp][]) {
      const r = distill('sweep', '--teacher', 'teacher/model.safetensors', '--data', csv, '--out', 'never', ...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    const nf = distill('sweep', '--teacher', 'missing.safetensors', '--out', 'never');
    expect(nf.code).toBe(2);
    expect(nf.err).toMatch(/missing\.safetensors.*file not found/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('a small sweep: Pareto table, best.safetensors, a retrain command that runs; the rerun trains nothing; another --pick re-picks', () => {
    const r = distill(...SMALL);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/Pareto front \(validation accuracy up/);
    expect(r.out).toMatch(/sweep: 8 candidates measured \(\d+ rung\(s\) trained now, 0 reused/);
    expect(r.err).toMatch(/teacher logits of 648 samples computed once/); // 900 rows: 720 train (test 20%), 10% of them validation
    expect(r.err).toMatch(/rung 0 \(2 epochs\): 8 finished; promoting the best 3 by Pareto rank to 6 epochs/);
    const lines = readFileSync(join(dir, 'small', 'sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(8 + 3);
    for (const l of lines) {
      expect(l.val_accuracy).toBeGreaterThan(0.3);
      expect(l.ms1).toBeGreaterThan(0);
      expect(l.ms128).toBeGreaterThan(l.ms1);
      expect(l.bytes).toBe(statSync(join(dir, 'small', l.model)).size);
      expect(l.deploy_backend).toBe('js');
    }
    const json = JSON.parse(readFileSync(join(dir, 'small', 'sweep.json'), 'utf8'));
    expect(json.pick.picked.val_accuracy).toBe(Math.max(...json.front.map((l: { val_accuracy: number }) => l.val_accuracy)));
    expect(json.parallelism.samples_per_s.oneAtATime).toBeGreaterThan(0);
    expect(json.parallelism.mode).toMatch(/^(parallel|one-at-a-time)$/);
    const best = readFileSync(join(dir, 'small', 'best.safetensors'));
    expect(best.equals(readFileSync(join(dir, 'small', json.pick.picked.model)))).toBe(true);
    const cmd = readFileSync(join(dir, 'small', 'best.txt'), 'utf8').trim().split('\n').at(-1)!;
    expect(cmd).toMatch(/^distill student --teacher teacher\/model\.safetensors --data \S+blobs\.csv --hidden \d+(,\d+)? --activation relu --temperature \d --alpha 0\.9 --epochs 6 /);
    // The retrain command works as written (on all the training data).
    const re = distill(...cmd.replace(/^distill /, '').split(' ').map((a) => a.replace(/^'|'$/g, '')), '--backend', 'js', '--workers', '1', '--quiet');
    expect(re.code, re.err).toBe(0);
    expect(re.out).toMatch(/student: test accuracy/);

    // Rerun: nothing trained, the journal byte for byte the same.
    const before = readFileSync(join(dir, 'small', 'sweep.jsonl'));
    const again = distill(...SMALL);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(/11 finished rung\(s\) in .* are reused/);
    expect(again.err).toMatch(/nothing to train/);
    expect(again.err).not.toMatch(/calibration|epoch:/);
    expect(again.out).toMatch(/0 rung\(s\) trained now, 11 reused/);
    expect(readFileSync(join(dir, 'small', 'sweep.jsonl')).equals(before)).toBe(true);

    // Another rule: re-picked from the journal; a rule nothing meets leaves best.safetensors as it was.
    const fast = distill(...SMALL, '--pick', 'min-latency@1');
    expect(fast.code, fast.err).toBe(0);
    const j2 = JSON.parse(readFileSync(join(dir, 'small', 'sweep.json'), 'utf8'));
    // The front's point with the least measured latency at batch 1: a 4-wide one (relu 4 and relu
    // 4-4 are close enough at batch 1 for timing noise on a shared machine to order them either way).
    const fastest = j2.front.reduce((a: { ms1: number }, b: { ms1: number }) => (b.ms1 < a.ms1 ? b : a));
    expect(j2.pick.picked.key).toBe(fastest.key);
    expect(j2.pick.picked.key).toMatch(/^relu 4(-4)? /);
    expect(fast.out).toMatch(/0 rung\(s\) trained now/);
    const kept = readFileSync(join(dir, 'small', 'best.safetensors'));
    const none = distill(...SMALL, '--pick', 'max-accuracy under 10params');
    expect(none.code, none.err).toBe(0);
    expect(none.out).toMatch(/No candidate of the Pareto front meets "max-accuracy under 10params"; nothing was picked/);
    expect(readFileSync(join(dir, 'small', 'best.safetensors')).equals(kept)).toBe(true);
  });

  it('--int8: each candidate is also quantized and measured as a point of its own; an int8 pick writes the int8 file and the quantize step', () => {
    const args = ['sweep', '--teacher', 'digits-teacher/model.safetensors', '--widths', '8,32', '--depths', '1', '--max-epochs', '3', '--int8', '--out', 'int8', '--backend', 'wasm-simd', '--workers', '1', '--deploy-backend', 'wasm-simd'];
    const r = distill(...args);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/; int8 \d+\.\d\d%, [\d.]+ kB, [\d.]+ ms@1/);
    const lines = readFileSync(join(dir, 'int8', 'sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const l of lines) {
      expect(l.int8.bytes).toBe(statSync(join(dir, 'int8', l.int8.model)).size);
      expect(l.int8.bytes).toBeLessThan(0.4 * l.bytes); // 784 inputs: int8 weights are most of the file
      expect(l.int8.val_accuracy).toBeGreaterThan(0.3);
    }
    const small = distill(...args, '--pick', 'min-size');
    expect(small.code, small.err).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'int8', 'sweep.json'), 'utf8'));
    expect(json.pick.picked.int8).toBe(true);
    expect(json.pick.picked.key).toMatch(/ · int8$/);
    expect(readFileSync(join(dir, 'int8', 'best.safetensors')).equals(readFileSync(join(dir, 'int8', json.pick.picked.model)))).toBe(true);
    expect(json.pick.retrain).toMatch(/ && distill quantize \S+model\.safetensors --calib mnist --out \S+model\.int8\.safetensors$/);
    expect(small.out).toMatch(/0 rung\(s\) trained now/);
  });

  it('--conv: conv-stem candidates on image data (k=3 conv, relu, maxpool:2 per block, then the dense head); their retrain command has the layer specs; flat data or a stem too deep is exit 2 naming --conv', () => {
    const args = ['sweep', '--teacher', 'digits-teacher/model.safetensors', '--data', DIGITS_SUBSET, '--conv', 'none,4-8', '--widths', '16', '--depths', '0,1', '--T', '4', '--batch', '32', '--min-epochs', '2', '--max-epochs', '4', '--eta', '2', '--out', 'conv', '--backend', 'wasm-simd', '--workers', '1', '--deploy-backend', 'wasm-simd'];
    const r = distill(...args);
    expect(r.code, r.err).toBe(0);
    const lines = readFileSync(join(dir, 'conv', 'sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const byKey = new Map(lines.filter((l) => l.rung === 0).map((l) => [l.key, l]));
    expect([...byKey.keys()].sort()).toEqual(['conv 4-8 · linear T=4 alpha=0.9', 'conv 4-8 · relu 16 T=4 alpha=0.9', 'linear T=4 alpha=0.9', 'relu 16 T=4 alpha=0.9']);
    // conv:4x3 (40) → conv:8x3 (296) → flatten (8·7·7 = 392) → dense:10 (3,930): 4,266 parameters; with dense:16 first, 40 + 296 + 6,288 + 170.
    expect(byKey.get('conv 4-8 · linear T=4 alpha=0.9')!.params).toBe(4266);
    expect(byKey.get('conv 4-8 · relu 16 T=4 alpha=0.9')!.params).toBe(6794);
    expect(byKey.get('conv 4-8 · linear T=4 alpha=0.9')!.config.conv).toEqual([4, 8]);
    for (const l of lines) {
      expect(l.val_accuracy).toBeGreaterThan(0.3);
      expect(l.ms1).toBeGreaterThan(0);
    }
    // A conv candidate's latency is its own (a conv forward is not an MLP's of the same parameters).
    expect(byKey.get('conv 4-8 · linear T=4 alpha=0.9')!.ms128).not.toBe(byKey.get('linear T=4 alpha=0.9')!.ms128);
    const p = distill(...args, '--pick', 'max-accuracy under 20KB');
    expect(p.code, p.err).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'conv', 'sweep.json'), 'utf8'));
    expect(json.pick.picked.key).toMatch(/^conv 4-8 · /);
    expect(json.pick.retrain).toMatch(/^distill student --teacher digits-teacher\/model\.safetensors --data idx:tr-img,tr-lab,te-img,te-lab --arch conv:4x3,relu,maxpool:2,conv:8x3,relu,maxpool:2,flatten,(dense:16,relu,)?dense:10 --temperature 4 /);
    const re = distill(...json.pick.retrain.replace(/^distill /, '').split(' '), '--backend', 'wasm-simd', '--workers', '1', '--quiet');
    expect(re.code, re.err).toBe(0);
    expect(re.out).toMatch(/student: test accuracy/);
    for (const [a, msg] of [
      [['--data', csv, '--conv', '4-8'], /--conv 4-8: conv candidates need image data with a \(C,H,W\) sample shape; this data's samples are flat \(6 features\); use --conv none/],
      [['--conv', '1-1-1-1-1'], /--conv 1-1-1-1-1: 5 blocks of maxpool:2 do not fit the 1×28×28 images/],
      [['--conv', '8-x'], /--conv: '8-x' is not a conv stem/],
    ] as [string[], RegExp][]) {
      const e = distill('sweep', '--teacher', 'digits-teacher/model.safetensors', '--out', 'never', ...a);
      expect(e.code, e.err).toBe(2);
      expect(e.err).toMatch(msg);
    }
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('--sparsity: each candidate\'s structured-pruned form, recovered by KD, is a point of its own with the smaller architecture\'s latency; a pick of it writes the pruned file and the prune step', () => {
    const args = ['sweep', '--teacher', 'digits-teacher/model.safetensors', '--data', DIGITS_SUBSET, '--widths', '16,32', '--depths', '1', '--T', '4', '--max-epochs', '2', '--sparsity', '0.5', '--recover-epochs', '1', '--out', 'pruned', '--backend', 'wasm-simd', '--workers', '1', '--deploy-backend', 'wasm-simd'];
    const r = distill(...args);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/; pruned 0\.5: \d+\.\d\d%, [\d.]+ kB, [\d.]+ ms@1/);
    const lines = readFileSync(join(dir, 'pruned', 'sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const r0 = new Map(lines.filter((l) => l.rung === 0).map((l) => [l.key, l]));
    const w32 = r0.get('relu 32 T=4 alpha=0.9')!, w16 = r0.get('relu 16 T=4 alpha=0.9')!;
    for (const l of lines) {
      expect(l.pruned).toHaveLength(1);
      expect(l.pruned[0]).toMatchObject({ sparsity: 0.5, recover_epochs: 1 });
      expect(l.pruned[0].bytes).toBe(statSync(join(dir, 'pruned', l.pruned[0].model)).size);
      expect(l.pruned[0].val_accuracy).toBeGreaterThan(0.3);
    }
    // relu 32 at 50%: 16 hidden neurons, the parameters of relu 16, and the latency measured for that architecture.
    expect(w32.pruned[0].params).toBe(w16.params);
    expect(w32.pruned[0].ms1).toBe(w16.ms1);
    expect(w32.pruned[0].ms128).toBe(w16.ms128);
    expect(w16.pruned[0].params).toBe(784 * 8 + 8 + 8 * 10 + 10);
    const small = distill(...args, '--pick', 'min-params');
    expect(small.code, small.err).toBe(0);
    expect(small.out).toMatch(/0 rung\(s\) trained now/);
    const json = JSON.parse(readFileSync(join(dir, 'pruned', 'sweep.json'), 'utf8'));
    expect(json.pick.picked).toMatchObject({ sparsity: 0.5, key: 'relu 16 T=4 alpha=0.9 · pruned 50%' });
    expect(readFileSync(join(dir, 'pruned', 'best.safetensors')).equals(readFileSync(join(dir, 'pruned', json.pick.picked.model)))).toBe(true);
    const [student, prune] = json.pick.retrain.split(' && ');
    expect(prune).toMatch(/^distill prune pruned\/best-retrained\/model\.safetensors --structured --sparsity 0\.5 --criterion io --recover-epochs 1 --teacher digits-teacher\/model\.safetensors --data idx:\S+ --temperature 4 --alpha 0\.9 .* --out pruned\/best-retrained-pruned$/);
    // Both steps run as written.
    for (const c of [student, prune]) {
      const x = distill(...c.replace(/^distill /, '').split(' '), '--backend', 'wasm-simd', '--workers', '1', '--quiet');
      expect(x.code, x.err).toBe(0);
    }
    expect(existsSync(join(dir, 'pruned', 'best-retrained-pruned', 'model.safetensors'))).toBe(true);
    const bad = distill(...args, '--sparsity', '1');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--sparsity/);
  });

  it('--int8 with --sparsity: each pruned form is quantized too, a point of its own with the int8 latency of its architecture; a pick of it retrains, prunes and quantizes the pruned model', () => {
    const args = ['sweep', '--teacher', 'digits-teacher/model.safetensors', '--data', DIGITS_SUBSET, '--widths', '16,32', '--depths', '1', '--T', '4', '--max-epochs', '2', '--sparsity', '0.5', '--recover-epochs', '1', '--int8', '--pick', 'min-size', '--out', 'pruned8', '--backend', 'wasm-simd', '--workers', '1', '--deploy-backend', 'wasm-simd'];
    const r = distill(...args);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/; pruned 0\.5: \d+\.\d\d%, [\d.]+ kB, [\d.]+ ms@1, [\d.]+ ms@128 \(int8 \d+\.\d\d%, [\d.]+ kB, [\d.]+ ms@1, [\d.]+ ms@128\)/);
    const lines = readFileSync(join(dir, 'pruned8', 'sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const r0 = new Map(lines.filter((l) => l.rung === 0).map((l) => [l.key, l]));
    for (const l of lines) {
      const p8 = l.pruned[0].int8;
      expect(p8.bytes).toBe(statSync(join(dir, 'pruned8', p8.model)).size);
      expect(p8.bytes).toBeLessThan(0.4 * l.pruned[0].bytes);
      expect(p8.val_accuracy).toBeGreaterThan(0.3);
    }
    // relu 32 pruned to 16 neurons has relu 16's architecture: the same int8 latency.
    const w32 = r0.get('relu 32 T=4 alpha=0.9')!, w16 = r0.get('relu 16 T=4 alpha=0.9')!;
    expect(w32.pruned[0].int8.ms1).toBe(w16.int8.ms1);
    expect(w32.pruned[0].int8.ms128).toBe(w16.int8.ms128);
    // The smallest file of all is a pruned int8 form.
    const json = JSON.parse(readFileSync(join(dir, 'pruned8', 'sweep.json'), 'utf8'));
    expect(json.pick.picked).toMatchObject({ sparsity: 0.5, int8: true, key: 'relu 16 T=4 alpha=0.9 · pruned 50% · int8' });
    expect(readFileSync(join(dir, 'pruned8', 'best.safetensors')).equals(readFileSync(join(dir, 'pruned8', json.pick.picked.model)))).toBe(true);
    const steps = json.pick.retrain.split(' && ');
    expect(steps).toHaveLength(3);
    expect(steps[2]).toBe(`distill quantize pruned8/best-retrained-pruned/model.safetensors --calib ${DIGITS_SUBSET} --out pruned8/best-retrained-pruned/model.int8.safetensors`);
    // The three steps run as written.
    for (const c of steps) {
      const x = distill(...c.replace(/^distill /, '').split(' '), ...(c.startsWith('distill quantize') ? [] : ['--backend', 'wasm-simd', '--workers', '1']), '--quiet');
      expect(x.code, x.err).toBe(0);
    }
    expect(existsSync(join(dir, 'pruned8', 'best-retrained-pruned', 'model.int8.safetensors'))).toBe(true);
  });

  it('candidates that diverge are recorded (not retrained on rerun) and never picked; if all do, exit 4 says so', () => {
    const args = ['sweep', '--teacher', 'teacher/model.safetensors', '--data', csv, '--widths', '8', '--depths', '1,2', '--lr', '1e6', '--max-epochs', '1', '--out', 'diverged', '--backend', 'js', '--workers', '1', '--deploy-backend', 'js'];
    const r = distill(...args);
    expect(r.code, r.err).toBe(4);
    expect(r.err).toMatch(/failed \(.*\); recorded, not promoted/);
    expect(r.err).toMatch(/every candidate that trained diverged \(2 of them; .*\); try a lower --lr/);
    const lines = readFileSync(join(dir, 'diverged', 'sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => typeof l.failed)).toEqual(['string', 'string']);
    const again = distill(...args);
    expect(again.code).toBe(4);
    expect(again.err).toMatch(/nothing to train/);
  });

  it('sweep.html renders in headless Chromium: one point per candidate, the config on hover, the front marked, no errors or requests', async (ctx) => {
    const exe = findChromium();
    if (!exe) {
      if (process.env.DISTILLERY_REQUIRE_BROWSER === '1') throw new Error('DISTILLERY_REQUIRE_BROWSER=1: no Chromium found');
      ctx.skip();
    }
    const file = join(dir, 'small', 'sweep.html');
    // The default pick again (the test before left a rule that picks nothing); this trains nothing.
    const again = distill(...SMALL);
    expect(again.code, again.err).toBe(0);
    expect(existsSync(file)).toBe(true);
    const probe = `(() => {
      const charts = [...document.querySelectorAll('svg.scatter')];
      return charts.map((s) => ({
        points: s.querySelectorAll('.pt').length,
        front: s.querySelectorAll('.pt.front').length,
        picked: s.querySelectorAll('circle.picked').length,
        titles: [...s.querySelectorAll('.pt title')].map((t) => t.textContent),
        box: s.getBoundingClientRect().width,
        spread: (() => { const xs = [...s.querySelectorAll('.pt')].map((c) => c.getBoundingClientRect().x); return Math.max(...xs) - Math.min(...xs); })(),
        axis: [...s.querySelectorAll('.axis .label')].map((t) => t.textContent),
      }));
    })()`;
    const r = await openInChromium(exe!, file, { evaluate: [probe, 'document.querySelectorAll("script, img, iframe, link").length'] });
    expect(problems(r, file)).toEqual([]);
    expect(r.console).toEqual([]);
    expect(r.values[1]).toBe(0);
    const charts = r.values[0] as { points: number; front: number; picked: number; titles: string[]; box: number; spread: number; axis: string[] }[];
    expect(charts).toHaveLength(3);
    for (const c of charts) {
      expect(c.points).toBe(8);
      expect(c.front).toBeGreaterThan(0);
      expect(c.picked).toBe(1);
      expect(c.box).toBeGreaterThan(300);
      expect(c.spread).toBeGreaterThan(50);
      expect(c.axis[0]).toBe('validation accuracy (%)');
      // A candidate stopped before the last rung (6 epochs) says so.
      for (const t of c.titles) expect(t).toMatch(/^relu \d+(-\d+)? T=\d alpha=0\.9, (6 epochs|2 epochs \(did not reach the last rung\)): validation \d+\.\d\d%; .* at batch 1, .* at batch 128; .*parameters/);
    }
  });

  it('a budgeted sweep on the built-in digits ends within 10% of its budget and says what it skipped; rerun, it redoes nothing; a larger budget trains on',  () => {
    const budget = 30; // seconds
    const args = ['sweep', '--teacher', 'digits-teacher/model.safetensors', '--widths', '16,32,64,128,256,512', '--depths', '1,2,3,4', '--activations', 'relu,gelu', '--T', '1,2,4,8', '--alpha', '0.5,0.9', '--max-epochs', '81', '--budget-minutes', String(budget / 60), '--out', 'budget'];
    const r = distill(...args);
    expect(r.code, r.err).toBe(0);
    // Node's start and the data's load come before the budget's clock starts: 3 s allowance.
    expect(r.seconds).toBeLessThanOrEqual(1.1 * budget + 3);
    const json = JSON.parse(readFileSync(join(dir, 'budget', 'sweep.json'), 'utf8'));
    expect(json.elapsed_seconds).toBeLessThanOrEqual(1.1 * budget);
    expect(json.skipped.length).toBeGreaterThan(0); // 384 candidates × 5 rungs do not fit in 30 s (rung 0 gets a fifth of it)
    expect(r.out).toMatch(/skipped \d+ job\(s\) \(budget\)/);
    expect(json.all.length).toBeGreaterThanOrEqual(6);
    expect(existsSync(join(dir, 'budget', 'best.safetensors'))).toBe(true);
    // The budget is the sweep's: the same command again redoes nothing (the skipped jobs are settled for this budget).
    const journal = readFileSync(join(dir, 'budget', 'sweep.jsonl'));
    const again = distill(...args);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(/ended within its 0\.5-min budget in an earlier run .* nothing is redone/);
    expect(again.out).toMatch(/0 rung\(s\) trained now/);
    expect(readFileSync(join(dir, 'budget', 'sweep.jsonl')).equals(journal)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'budget', 'sweep.json'), 'utf8')).skipped).toEqual(json.skipped); // listed again, as the settling run skipped them
    const state = JSON.parse(readFileSync(join(dir, 'budget', 'sweep.state.json'), 'utf8'));
    expect(state.complete).toBe(true);
    expect(state.spent_seconds).toBeGreaterThan(0);
    expect(state.spent_seconds).toBeLessThanOrEqual(1.1 * budget);
    // A larger budget trains on with what the earlier run left of it, and the total stays within it.
    const more = 50;
    const longer = distill(...args.slice(0, -4), '--budget-minutes', String(more / 60), '--out', 'budget');
    expect(longer.code, longer.err).toBe(0);
    expect(longer.err).toMatch(/earlier runs of this sweep spent \d+ s of the 50 s budget; \d+ s are left for this run/);
    const j2 = JSON.parse(readFileSync(join(dir, 'budget', 'sweep.json'), 'utf8'));
    expect(j2.trained_now).toBeGreaterThan(0);
    expect(j2.earlier_runs_seconds).toBeCloseTo(state.spent_seconds, 3);
    expect(j2.earlier_runs_seconds + j2.elapsed_seconds).toBeLessThanOrEqual(1.1 * more);
    expect(readFileSync(join(dir, 'budget', 'sweep.jsonl')).subarray(0, journal.length).equals(journal)).toBe(true);
  });

  it('Ctrl-C keeps the finished candidates (valid sweep.jsonl, exit 130); the same command continues from them', async () => {
    const args = ['sweep', '--teacher', 'digits-teacher/model.safetensors', '--widths', '16,32,64,128', '--depths', '1,2', '--T', '2,4', '--out', 'interrupted', '--parallel', 'off'];
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env });
    let err = '';
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (b) => {
        err += b;
        if (/\[3\] /.test(err) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(code, err).toBe(130);
    // --no-train: the answer from the finished lines alone; nothing trained, the journal as it was.
    const cut = readFileSync(join(dir, 'interrupted', 'sweep.jsonl'));
    const nt = distill(...args, '--no-train');
    expect(nt.code, nt.err).toBe(0);
    expect(nt.err).toMatch(/--no-train: \d+ job\(s\) of this sweep are not finished/);
    expect(nt.out).toMatch(/0 rung\(s\) trained now/);
    expect(readFileSync(join(dir, 'interrupted', 'sweep.jsonl')).equals(cut)).toBe(true);
    expect(err).toMatch(/interrupt \(Ctrl-C\) received/);
    const text = readFileSync(join(dir, 'interrupted', 'sweep.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.length).toBeLessThan(16 + 6);
    const again = distill(...args);
    expect(again.code, again.err).toBe(0);
    expect(again.err).toContain(`${lines.length} finished rung(s)`);
    expect(again.out).toMatch(new RegExp(`reused ${lines.length}|${lines.length} reused`));
    const all = readFileSync(join(dir, 'interrupted', 'sweep.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // Nothing finished before was trained again: every (candidate, rung) appears once.
    expect(new Set(all.map((l) => `${l.hash}@${l.rung}`)).size).toBe(all.length);
    expect(all.slice(0, lines.length)).toEqual(lines);
  });
});
