// A convolutional network end to end through the `distill` binary (issue 17): teach on the
// built-in MNIST with --model layer specs (the [1,28,28] sample shape from the data), eval,
// predict, a CNN student distilled from the CNN teacher, and a CNN trained on raw u8 IDX images
// (input transform pixels/255) predicting raw IDX rows. On the fastest backend that loads here.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { loadMnist } from '../src/data/builtin.js';

const bin = join(import.meta.dirname, '..', 'bin', 'distill.js');
const dir = mkdtempSync(join(tmpdir(), 'distillery-conv-mnist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let backend = 'js';
for (const name of ['native', 'wasm-simd', 'wasm']) {
  try {
    await loadBackend(name);
    backend = name;
    break;
  } catch { /* not built here */ }
}

function distill(...args: string[]) {
  const extra = ['teach', 'student'].includes(args[0]) ? ['--backend', backend, '--workers', '1'] : ['--backend', backend];
  const r = spawnSync(process.execPath, [bin, ...args, ...extra], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1', DISTILLERY_CACHE_DIR: join(dir, 'cache') } });
  expect(r.status, `distill ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return { out: r.stdout, err: r.stderr };
}
const accuracy = (text: string) => Number(/accuracy ([\d.]+)%/.exec(text)![1]);

/** An NPY (v1.0) file of float32 values. */
function npy(shape: number[], data: Float32Array): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const h = Buffer.alloc(10);
  h.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  h.writeUInt16LE(header.length, 8);
  return Buffer.concat([h, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** An IDX file of u8 values. */
function idx(dims: number[], data: Uint8Array): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(0x0800 + dims.length, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, data]);
}

describe(`a CNN on MNIST through the CLI (${backend})`, () => {
  it('teach --data mnist --model "conv:8x3,relu,maxpool:2,conv:16x3,relu,maxpool:2,flatten,dense:10" reaches >= 90% test accuracy in 1 epoch; eval, predict and a CNN student follow (conv pool batchnorm)', async () => {
    const t0 = performance.now();
    const arch = 'conv:8x3,relu,maxpool:2,conv:16x3,relu,maxpool:2,flatten,dense:10';
    const t = distill('teach', '--data', 'mnist', '--model', arch, '--epochs', '1', '--batch', '64', '--lr', '0.05', '--out', 'teacher');
    expect(t.err).toMatch(/teacher: layers \[1,28,28\] conv:8x3 → relu → maxpool:2 → conv:16x3 → relu → maxpool:2 → flatten → dense:10, 9,098 parameters/);
    const acc = accuracy(t.out);
    console.log(`conv mnist teacher on ${backend}: ${acc}% after 1 epoch, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(acc).toBeGreaterThanOrEqual(90);

    const ev = distill('eval', '--model', 'teacher/model.safetensors', '--json');
    expect(JSON.parse(ev.out).accuracy * 100).toBeCloseTo(acc, 6);

    // predict on (N,1,28,28) float rows: the predictions agree with the model's test accuracy.
    const { test } = await loadMnist();
    const n = 200;
    writeFileSync(join(dir, 'rows.npy'), npy([n, 1, 28, 28], test.x.subarray(0, n * 784)));
    const p = distill('predict', 'teacher/model.safetensors', 'rows.npy');
    const preds = p.out.trim().split('\n').slice(1).map(Number);
    expect(preds).toHaveLength(n);
    expect(preds.filter((c, i) => c === test.y[i]).length).toBeGreaterThanOrEqual(0.85 * n);

    // A CNN student (with batch norm) distilled from the CNN teacher.
    const s = distill('student', '--teacher', 'teacher/model.safetensors', '--data', 'mnist', '--model', 'conv:8x3,bn,relu,maxpool:2,flatten,dense:10', '--epochs', '1', '--out', 'student');
    expect(accuracy(s.out)).toBeGreaterThanOrEqual(85);
  }, 300_000);

  it('a CNN trained on raw u8 IDX images stores the pixels/255 transform and predicts raw IDX rows (conv pool)', async () => {
    const { train, test } = await loadMnist();
    const u8 = (x: Float32Array) => Uint8Array.from(x, (v) => Math.round(v * 255));
    const nTr = 3000, nTe = 500;
    writeFileSync(join(dir, 'tr-img'), idx([nTr, 28, 28], u8(train.x.subarray(0, nTr * 784))));
    writeFileSync(join(dir, 'tr-lab'), idx([nTr], Uint8Array.from(train.y.subarray(0, nTr))));
    writeFileSync(join(dir, 'te-img'), idx([nTe, 28, 28], u8(test.x.subarray(0, nTe * 784))));
    writeFileSync(join(dir, 'te-lab'), idx([nTe], Uint8Array.from(test.y.subarray(0, nTe))));
    const t = distill('teach', '--data', 'idx:tr-img,tr-lab,te-img,te-lab', '--model', 'conv:4x5/s2,bn,relu,maxpool:2,flatten,dense:10', '--epochs', '2', '--out', 'idx');
    const acc = accuracy(t.out);
    expect(acc).toBeGreaterThanOrEqual(80);
    const p = distill('predict', 'idx/model.safetensors', 'te-img');
    const preds = p.out.trim().split('\n').slice(1).map(Number);
    const agree = preds.filter((c, i) => c === test.y[i]).length / nTe;
    expect(agree * 100).toBeCloseTo(acc, 6);
  }, 120_000);
});
