// The training features with CNNs (issue 17): a CNN student with batchnorm on 2 workers stopped
// and resumed ends bitwise equal to the uninterrupted run (parameters and running statistics);
// through the CLI on the built-in MNIST: two CNN teachers fused by logits and by probs, their
// logits cached by `distill logits` and given with --teacher-logits (the same student as the
// internal cache, and within float noise of online teachers), eval and predict of a CNN with
// batch norm (eval mode: the running statistics).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { loadMnist } from '../src/data/builtin.js';
import { readModel } from '../src/io/model-file.js';
import { argmaxRow, Sequential } from '../src/nn/sequential.js';
import { train, type TrainConfig } from '../src/train/trainer.js';
import { backendsUnderTest, quadrantImages } from './util.js';

const { backends } = await backendsUnderTest();
const dir = mkdtempSync(join(tmpdir(), 'distillery-conv-features-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resume of a CNN with batchnorm on 2 workers', () => {
  it('stopped after 5 steps and resumed from the checkpoint: bitwise equal to the uninterrupted run, parameters and running statistics (conv pool batchnorm)', async () => {
    const js = backends.find((b) => b.name === 'js')!;
    const data = quadrantImages(95, 3);
    const model = { input: [1, 6, 6], layers: ['conv:4x3', 'bn', 'relu', 'maxpool:2', 'dropout:0.1', 'flatten', 'dense:6', 'bn', 'relu', 'dense:4'] };
    const teacher = new Sequential(js, { input: [1, 6, 6], layers: ['conv:6x3', 'relu', 'flatten', 'dense:4'] }, 9);
    const cfg = (o: Partial<TrainConfig> = {}): TrainConfig => ({
      epochs: 2, batchSize: 19, seed: 5, optimizer: { kind: 'adamw', lr: 0.01 }, schedule: { kind: 'constant' }, kd: { T: 2, alpha: 0.5 }, teacherMode: 'online', workers: 2, ...o,
    });
    const full = new Sequential(js, model, 1);
    await train(full, data, null, cfg(), {}, [{ model: teacher }]);
    const path = join(dir, 'cnn-resume.safetensors');
    const a = new Sequential(js, model, 1);
    await train(a, data, null, cfg({ checkpointPath: path }), { stopAfterSteps: 5 }, [{ model: teacher }]);
    expect(Buffer.from(a.buffers.data.buffer).equals(Buffer.from(full.buffers.data.buffer))).toBe(false);
    const b = new Sequential(js, model, 77);
    await train(b, data, null, cfg({ checkpointPath: path, resume: true }), {}, [{ model: teacher }]);
    expect(Buffer.from(b.store.params.buffer).equals(Buffer.from(full.store.params.buffer))).toBe(true);
    expect(Buffer.from(b.buffers.data.slice(0, b.buffers.length).buffer).equals(Buffer.from(full.buffers.data.slice(0, full.buffers.length).buffer))).toBe(true);
  }, 60_000);
});

describe('CNN teachers and students through the CLI on mnist', () => {
  let backend = 'js';
  for (const name of ['native', 'wasm-simd']) if (backends.some((b) => b.name === name)) { backend = name; break; }
  const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
  const distill = (...args: string[]) => {
    const extra = ['teach', 'student'].includes(args[0]) ? ['--backend', backend, '--workers', '1'] : ['--backend', backend];
    const r = spawnSync(process.execPath, [bin, ...args, ...extra], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
    expect(r.status, `distill ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return { out: r.stdout, err: r.stderr };
  };
  const student = ['--data', 'mnist', '--model', 'conv:4x3/s2,bn,relu,maxpool:2,flatten,dense:10', '--epochs', '1', '--batch', '64', '--lr', '0.05', '--temperature', '3', '--alpha', '0.7'];
  const tensors = async (p: string) => {
    const m = await readModel(join(dir, p), await loadBackend('js'));
    return { params: m.model.store.params.slice(), buffers: m.model.buffers.data.slice(0, m.model.buffers.length) };
  };
  const kdRows = (out: string) => readFileSync(join(dir, out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

  it(`two CNN teachers (one with batchnorm), fused by logits and by probs; cached logits from distill logits = the internal cache ≈ online teachers; eval and predict with the running statistics (conv pool batchnorm, ${backend})`, async () => {
    distill('teach', '--data', 'mnist', '--model', 'conv:6x3/s2,bn,relu,maxpool:2,flatten,dense:10', '--epochs', '1', '--batch', '64', '--lr', '0.05', '--out', 'ta');
    distill('teach', '--data', 'mnist', '--model', 'conv:4x5/s2,relu,gap,dense:10', '--epochs', '1', '--batch', '64', '--lr', '0.05', '--out', 'tb');
    const both = 'ta/model.safetensors,tb/model.safetensors';

    // Several teachers: fused logits and fused probabilities give different students, both learn.
    const byLogits = distill('student', '--teacher', both, '--teacher-fusion', 'logits', ...student, '--out', 's-logits');
    const byProbs = distill('student', '--teacher', both, '--teacher-fusion', 'probs', ...student, '--out', 's-probs');
    for (const r of [byLogits, byProbs]) expect(Number(/accuracy ([\d.]+)%/.exec(r.out)![1])).toBeGreaterThan(50);
    expect(kdRows('s-logits')[0].train_kd).toBeGreaterThan(0);
    const [pl, pp] = [await tensors('s-logits/model.safetensors'), await tensors('s-probs/model.safetensors')];
    expect(Buffer.from(pl.params.buffer).equals(Buffer.from(pp.params.buffer))).toBe(false);

    // Cached teacher logits from a file: the same student as the internal cache (bitwise), and as online teachers within float noise.
    distill('logits', '--teacher', both, '--data', 'mnist', '--out', 'tl.safetensors');
    distill('student', '--teacher-logits', 'tl.safetensors', '--teacher-fusion', 'logits', ...student, '--out', 's-file');
    distill('student', '--teacher', both, '--teacher-fusion', 'logits', '--teacher-mode', 'online', ...student, '--out', 's-online');
    const [pf, po] = [await tensors('s-file/model.safetensors'), await tensors('s-online/model.safetensors')];
    expect(Buffer.from(pf.params.buffer).equals(Buffer.from(pl.params.buffer))).toBe(true);
    expect(Buffer.from(pf.buffers.buffer).equals(Buffer.from(pl.buffers.buffer))).toBe(true);
    let d = 0;
    for (let i = 0; i < pf.params.length; i++) d = Math.max(d, Math.abs(pf.params[i] - po.params[i]));
    console.log(`[conv-features] ${backend}: --teacher-logits vs online teachers, max |Δparam| ${d.toExponential(2)}`);
    expect(d).toBeLessThan(1e-4);
    expect(kdRows('s-file').at(-1).train_kd).toBeCloseTo(kdRows('s-online').at(-1).train_kd, 4);

    // eval and predict of the CNN teacher with batch norm: eval mode, normalized by its saved running statistics.
    const ta = await readModel(join(dir, 'ta/model.safetensors'), await loadBackend('js'));
    expect(Array.from(ta.model.buffers.data.subarray(0, 6)).some((v) => v !== 0)).toBe(true); // trained running means
    const ev = JSON.parse(distill('eval', '--model', 'ta/model.safetensors', '--json').out);
    const { test } = await loadMnist();
    const m = ta.model.eval();
    const n = 300;
    const z = m.forward(test.x.subarray(0, n * 784), n);
    const want = Array.from({ length: n }, (_, i) => argmaxRow(z, i, 10));
    const zAll = m.forward(test.x, test.n);
    let right = 0;
    for (let i = 0; i < test.n; i++) if (argmaxRow(zAll, i, 10) === test.y[i]) right++;
    expect(ev.accuracy).toBeCloseTo(right / test.n, 6);
    const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, 1, 28, 28), }`;
    const pad = header + ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
    const h = Buffer.alloc(10);
    h.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    h.writeUInt16LE(pad.length, 8);
    const rows = test.x.subarray(0, n * 784);
    writeFileSync(join(dir, 'rows.npy'), Buffer.concat([h, Buffer.from(pad, 'latin1'), Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength)]));
    const preds = distill('predict', 'ta/model.safetensors', 'rows.npy').out.trim().split('\n').slice(1).map(Number);
    expect(preds).toEqual(want);
  }, 120_000);

  it('Ctrl-C during a CNN student with batchnorm on 2 workers, then --resume: the same model as the uninterrupted run, bitwise (conv pool batchnorm, js)', async () => {
    const args = (out: string) => [bin, 'student', '--teacher', 'ta/model.safetensors', ...student, '--teacher-mode', 'online', '--schedule', 'constant', '--backend', 'js', '--workers', '2', '--out', out];
    const env = { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') };
    const whole = spawnSync(process.execPath, args('s-whole'), { cwd: dir, encoding: 'utf8', env });
    expect(whole.status, whole.stderr).toBe(0);
    const stopped = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, args('s-int'), { cwd: dir, env });
      let stderr = '', sent = false;
      p.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (!sent && /epoch 1\/1 batch/.test(stderr)) {
          sent = true;
          p.kill('SIGINT');
        }
      });
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(stopped.code, stopped.stderr).toBe(130);
    const step = Number(/at step (\d+)/.exec(stopped.stderr)![1]);
    expect(step).toBeGreaterThan(0);
    expect(step).toBeLessThan(125);
    const resumed = spawnSync(process.execPath, [...args('s-int'), '--resume'], { cwd: dir, encoding: 'utf8', env });
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming from .*checkpoint\\.safetensors: epoch 1, batch ${step}/125, step ${step}`));
    const [a, b] = [await tensors('s-whole/model.safetensors'), await tensors('s-int/model.safetensors')];
    expect(Buffer.from(b.params.buffer).equals(Buffer.from(a.params.buffer))).toBe(true);
    expect(Buffer.from(b.buffers.buffer).equals(Buffer.from(a.buffers.buffer))).toBe(true);
  }, 120_000);
});
