// Data loaders: IDX (plain and gzipped, malformed), CSV (header detection, label column by name
// or index, string labels, bad cells), the built-in MNIST split, Fashion-MNIST, shuffling.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { InputFileError } from '../src/errors.js';
import { parseIdx, loadIdxPair } from '../src/data/idx.js';
import { loadCsv, parseCsv } from '../src/data/csv.js';
import { FASHION_MNIST_DIR, loadDataset, loadMnist } from '../src/data/builtin.js';
import { epochOrder, gatherBatch } from '../src/data/batching.js';
import { applyNormalization, fitNormalization } from '../src/data/transforms.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function idx(type: number, dims: number[], values: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  const size = { 0x08: 1, 0x0c: 4, 0x0d: 4 }[type]!;
  const body = Buffer.alloc(values.length * size);
  values.forEach((v, i) => (type === 0x08 ? body.writeUInt8(v, i) : type === 0x0c ? body.writeInt32BE(v, i * 4) : body.writeFloatBE(v, i * 4)));
  return Buffer.concat([head, body]);
}

describe('IDX', () => {
  it('reads u8 images and labels, plain and gzipped, scaling pixels to [0,1]', async () => {
    writeFileSync(join(dir, 'img'), idx(0x08, [3, 2, 2], [0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8]));
    writeFileSync(join(dir, 'lbl.gz'), gzipSync(idx(0x08, [3], [2, 0, 1])));
    const ds = await loadIdxPair(join(dir, 'img'), join(dir, 'lbl.gz'));
    expect([ds.n, ds.features, ds.classes]).toEqual([3, 4, 3]);
    expect(Array.from(ds.x.subarray(0, 4))).toEqual([0, 1, 0.2, 0.4].map(Math.fround));
    expect(Array.from(ds.y)).toEqual([2, 0, 1]);
  });
  it('reads big-endian i32 and f32 element types', () => {
    expect(Array.from(parseIdx(idx(0x0c, [2], [-3, 70000]), 'f').data)).toEqual([-3, 70000]);
    expect(Array.from(parseIdx(idx(0x0d, [1, 2], [1.5, -2]), 'f').data)).toEqual([1.5, -2]);
  });
  it('rejects bad magic, unknown types, truncation and label/image count mismatch', async () => {
    expect(() => parseIdx(Buffer.from([1, 0, 8, 1, 0, 0, 0, 0]), 'x.idx')).toThrow(/x\.idx: not an IDX file/);
    expect(() => parseIdx(Buffer.from([0, 0, 0x42, 1, 0, 0, 0, 0]), 'x.idx')).toThrow(/unknown IDX element type 0x42/);
    expect(() => parseIdx(idx(0x08, [4], [1, 2, 3, 4]).subarray(0, 10), 'x.idx')).toThrow(/needs 12 bytes, file has 10 \(truncated\?\)/);
    writeFileSync(join(dir, 'lbl2'), idx(0x08, [2], [0, 1]));
    await expect(loadIdxPair(join(dir, 'img'), join(dir, 'lbl2'))).rejects.toThrow(/2 labels for 3 images/);
    writeFileSync(join(dir, 'broken.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]));
    await expect(loadIdxPair(join(dir, 'img'), join(dir, 'broken.gz'))).rejects.toThrow(/broken\.gz: corrupt gzip/);
  });
});

describe('CSV', () => {
  it('detects the header, finds the label column by name, maps string labels', () => {
    const ds = parseCsv('a,species,b\n1,cat,2\n3,dog,4\n5,cat,6\n', 'f.csv', { labelColumn: 'species' });
    expect([ds.n, ds.features, ds.classes]).toEqual([3, 2, 2]);
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(Array.from(ds.y)).toEqual([0, 1, 0]);
    expect(Array.from(ds.x)).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('takes a column named label by default, or the last, or one given by index', () => {
    expect(Array.from(parseCsv('label,x\n1,0.5\n0,0.25\n', 'f').y)).toEqual([1, 0]);
    expect(Array.from(parseCsv('0.5,1\n0.25,0\n', 'f').y)).toEqual([1, 0]);
    const ds = parseCsv('2,0.5,9\n1,0.25,8\n', 'f', { labelColumn: 0 });
    expect(Array.from(ds.y)).toEqual([2, 1]);
    expect(Array.from(ds.x)).toEqual([0.5, 9, 0.25, 8]);
  });
  it('names the file, line and column of a bad cell or a short row', async () => {
    expect(() => parseCsv('a,b,label\n1,2,0\n3,oops,1\n', 'bad.csv')).toThrow(/bad\.csv: line 3, column 'b': 'oops' is not a finite number/);
    expect(() => parseCsv('a,b,label\n1,2,0\n3,1\n', 'bad.csv')).toThrow(/line 3: 2 columns, expected 3/);
    expect(() => parseCsv('a,b,label\n1,2,0\n', 'bad.csv', { labelColumn: 'y' })).toThrow(/no column named 'y'/);
    await expect(loadCsv(join(dir, 'missing.csv'))).rejects.toThrow(InputFileError);
  });
  it('loadDataset on a CSV file splits 80/20 and standardizes features on the train split', async () => {
    const rows = ['f1,f2,label', ...Array.from({ length: 50 }, (_, i) => `${i},${100 + 2 * i},${i % 3}`)];
    writeFileSync(join(dir, 't.csv'), rows.join('\n'));
    const { train, test } = await loadDataset(join(dir, 't.csv'));
    expect([train.n, test.n, train.classes]).toEqual([40, 10, 3]);
    let m = 0;
    for (let i = 0; i < train.n; i++) m += train.x[i * 2];
    expect(Math.abs(m / train.n)).toBeLessThan(1e-5);
  });
});

describe('built-in data', () => {
  it('mnist: 8,000 / 2,000 digits, the same split on every machine', async () => {
    const { train, test } = await loadMnist();
    expect([train.n, test.n, train.features, train.classes]).toEqual([8000, 2000, 784, 10]);
    const digest = createHash('sha256').update(new Uint8Array(train.y.buffer)).update(new Uint8Array(test.y.buffer)).digest('hex').slice(0, 16);
    const counts = Array.from({ length: 10 }, (_, d) => test.y.filter((l) => l === d).length);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2000);
    // Re-loading gives the same split (the digest pins it across releases too).
    const again = await loadMnist();
    expect(createHash('sha256').update(new Uint8Array(again.train.y.buffer)).update(new Uint8Array(again.test.y.buffer)).digest('hex').slice(0, 16)).toBe(digest);
    expect(digest).toBe(MNIST_DIGEST);
  });
  it.skipIf(!existsSync(FASHION_MNIST_DIR))('fashion-mnist: 60,000 / 10,000 from the Debian package (skipped when dataset-fashion-mnist is not installed)', async () => {
    const { train, test } = await loadDataset('fashion-mnist');
    expect([train.n, test.n, train.features, train.classes]).toEqual([60000, 10000, 784, 10]);
    expect(train.classNames?.[9]).toBe('Ankle boot');
  });
  it('unknown dataset names say what is accepted', async () => {
    await expect(loadDataset('cifar-1000')).rejects.toThrow(/unknown dataset 'cifar-1000'.*mnist, fashion-mnist/);
  });
});

describe('shuffling and batching', () => {
  it('epochOrder is a seeded permutation that differs by epoch and seed', () => {
    const a = epochOrder(1000, 7, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(epochOrder(1000, 7, 0)).toEqual(a);
    expect(epochOrder(1000, 7, 1)).not.toEqual(a);
    expect(epochOrder(1000, 8, 0)).not.toEqual(a);
  });
  it('gatherBatch copies the rows and labels of a slice of the order', () => {
    const ds = parseCsv('1,2,0\n3,4,1\n5,6,2\n', 'f');
    const x = new Float32Array(4), y = new Int32Array(2);
    gatherBatch(ds, [2, 0, 1], 0, 2, x, y);
    expect(Array.from(x)).toEqual([5, 6, 1, 2]);
    expect(Array.from(y)).toEqual([2, 0]);
  });
  it('global normalization fitted on one split gives mean 0, std 1 there', () => {
    const ds = parseCsv('1,2,0\n3,4,1\n5,9,2\n', 'f');
    applyNormalization(ds, fitNormalization(ds, 'global'));
    const mean = ds.x.reduce((a, b) => a + b, 0) / ds.x.length;
    const sd = Math.sqrt(ds.x.reduce((a, b) => a + (b - mean) ** 2, 0) / ds.x.length);
    expect(mean).toBeCloseTo(0, 5);
    expect(sd).toBeCloseTo(1, 5);
  });
});

const MNIST_DIGEST = '2e53da2698cff077';
