// Inputs the reader fuzzer (fuzz-readers.test.ts) found, kept as fixtures in test/fixtures/fuzz/:
// each once with the error it must give now, and every fixture through every reader of its kind
// (a clean error or a valid result). Before the fixes these threw TypeError/RangeError/CsvError,
// hung, allocated gigabytes, or were accepted with fields a resume would trip on.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { COMMON, DATA, KD, TRAIN, parse } from '../src/cli/options.js';
import { loadCsv, parseCsv, parseCsvRows } from '../src/data/csv.js';
import { parseIdx } from '../src/data/idx.js';
import { parseNpy } from '../src/data/npy.js';
import { onnxTeacherLogits } from '../src/distill/onnx-teacher.js';
import { ConfigError, InputFileError } from '../src/errors.js';
import { loadCheckpoint, readModel, saveCheckpoint } from '../src/io/model-file.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../src/io/safetensors.js';
import { cleanOrValid } from './fuzz-util.js';
import { blobs } from './util.js';

const FIXTURES = new URL('./fixtures/fuzz/', import.meta.url).pathname;
const fixture = (name: string) => join(FIXTURES, name);
const dir = mkdtempSync(join(tmpdir(), 'distillery-fuzz-reg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const js = await loadBackend('js');
const DOCS = [...COMMON, ...DATA, ...TRAIN, ...KD];
let hasOrt = true;
try { createRequire(import.meta.url).resolve('onnxruntime-node'); } catch { hasOrt = false; }
/** The fuzzer's data for ONNX teachers (4 features, 3 classes). */
const ds = blobs(23, 4, 3, 7);

describe('what the fuzzer found', () => {
  it('a safetensors header that is not UTF-8: InputFileError from decodeSafetensors too (was a TypeError)', async () => {
    const f = fixture('header-not-utf8.safetensors');
    expect(() => decodeSafetensors(f, readFileSync(f))).toThrow(InputFileError);
    expect(() => decodeSafetensors(f, readFileSync(f))).toThrow(/header-not-utf8\.safetensors: safetensors header is not valid UTF-8/);
    await expect(readSafetensors(f)).rejects.toThrow(/safetensors header is not valid UTF-8/);
  });

  it("a model file whose config says dense:1000000000: the tensors are checked before anything is allocated (was RangeError: Invalid typed array length)", async () => {
    const t0 = performance.now();
    await expect(readModel(fixture('model-dense-1e9.safetensors'), js)).rejects.toThrow(/tensor 'layers\.1\.weight' is F32\[3,5\], expected F32\[1000000000,5\]/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("a checkpoint whose position.partial lost its 'loss' (one bit flipped: noss): refused naming the field (was accepted; the resumed epoch's mean loss became NaN)", async () => {
    await expect(loadCheckpoint(fixture('checkpoint-partial-noss.safetensors'))).rejects.toThrow(/metadata 'position\.partial\.loss' must be a finite number, got undefined/);
  });

  it("a CSV with a quote inside an unquoted field (--delimiter ';'): InputFileError from parseCsv, and loadCsv no longer hangs (was csv-parse's INVALID_OPENING_QUOTE error, and a stream waiting forever)", async () => {
    const f = fixture('invalid-opening-quote.csv');
    const text = readFileSync(f, 'utf8');
    const opts = { delimiter: ';' };
    expect(() => parseCsv(text, f, opts)).toThrow(InputFileError);
    expect(() => parseCsv(text, f, opts)).toThrow(/invalid-opening-quote\.csv: not valid CSV at line 1: a quote is found on field 0/);
    expect(() => parseCsvRows(text, f, 3, opts)).toThrow(/not valid CSV at line 1/);
    await expect(loadCsv(f, opts)).rejects.toThrow(/invalid-opening-quote\.csv: not valid CSV at line 1/);
  });

  it("a CSV larger than the stream's buffer with a bad value early: loadCsv rejects (it waited forever for the destroyed parser's 'drain')", async () => {
    const f = join(dir, 'big-bad.csv');
    const rows = ['a,b,label'];
    for (let i = 0; i < 300_000; i++) rows.push(i === 10 ? 'x,2,1' : `${i},${i % 7},${i % 3}`);
    writeFileSync(f, rows.join('\n'));
    await expect(loadCsv(f)).rejects.toThrow(/big-bad\.csv: line 12, column 'a': 'x' is not a finite number/);
  }, 60_000);

  it('a config file with a value nested 20000 deep: InputFileError naming the option (was RangeError: Maximum call stack size exceeded)', () => {
    expect(() => parse(['--config', fixture('config-deep-nesting.json')], DOCS)).toThrow(/config-deep-nesting\.json: option 'arch': the value is nested too deeply/);
  });

  it("an empty --delimiter when streaming a CSV: ConfigError (was csv-parse's raw option error)", async () => {
    const f = join(dir, 'd.csv');
    writeFileSync(f, 'a,b,label\n1,2,0\n3,4,1\n');
    await expect(loadCsv(f, { delimiter: '' })).rejects.toThrow(ConfigError);
    await expect(loadCsv(f, { delimiter: '' })).rejects.toThrow(/--delimiter: delimiter must be a non empty string/);
    expect(() => parseCsv('a,b,label\n1,2,0\n', f, { delimiter: '' })).toThrow(/--delimiter/);
  });

  it('prediction rows with --label-column -2: InputFileError (every cell was read as a feature, rows overran into the next, labels stayed unset)', () => {
    const f = fixture('csv-rows-label-column-negative.csv');
    expect(() => parseCsvRows(readFileSync(f, 'utf8'), f, 2, { labelColumn: -2, header: false })).toThrow(/csv-rows-label-column-negative\.csv: label column -2 out of range \(the file has 3 columns\)/);
    expect(() => parseCsvRows('1,2,0\n', f, 2, { labelColumn: 3 })).toThrow(/label column 3 out of range/);
    expect(parseCsvRows('1,2,0\n3,4,1\n', f, 2, { labelColumn: 0 })).toMatchObject({ n: 2, labels: ['1', '3'], x: Float32Array.from([2, 0, 4, 1]) });
  });

  it('integer labels beyond int32 are refused (found reading the CSV builder while writing the fuzzer: 4294967296 silently became class 0)', () => {
    expect(() => parseCsv('a,label\n1,0\n2,4294967296\n', 'big.csv')).toThrow(/big\.csv: integer label 4294967296 is too large for a class index/);
    expect(() => parseCsv('a,label\n1,0\n2,2147483648\n', 'big.csv')).toThrow(/integer label 2147483648 is too large/);
    expect(parseCsv('a,label\n1,0\n2,2\n', 'ok.csv')).toMatchObject({ classes: 3, y: Int32Array.from([0, 2]) });
  });

  it("a tensor named '__proto__' is kept as a tensor (it became the prototype of the result, silently dropped)", () => {
    const bytes = Buffer.concat(encodeSafetensors({ ['__proto__']: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }, w: { dtype: 'F32', shape: [1], data: new Float32Array([3]) } }, { ['__proto__']: 'm' }));
    const { tensors, metadata } = decodeSafetensors('p.safetensors', bytes);
    expect(Object.keys(tensors).sort()).toEqual(['__proto__', 'w']);
    expect(Object.hasOwn(tensors, '__proto__') && Array.from(tensors['__proto__'].data as Float32Array)).toEqual([1, 2]);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    expect(Object.hasOwn(metadata, '__proto__') && metadata['__proto__']).toBe('m');
  });

  it.skipIf(!hasOrt)('an ONNX teacher whose corrupted weights give NaN logits: InputFileError naming the model (they were used, and the KD loss became NaN)', async () => {
    await expect(onnxTeacherLogits(fixture('onnx-nan-logits.onnx'), ds, 3, 16)).rejects.toThrow(/onnx-nan-logits\.onnx: output '.*' holds NaN for sample \d+/);
  });

  it('a checkpoint whose optimizer state is not F32 is refused (the resume would copy BigInt64 values into a Float32Array)', async () => {
    const p = join(dir, 'ck.safetensors');
    await saveCheckpoint(p, {
      config: { input: [2], layers: ['dense:2'] }, params: new Float32Array(8), optimizer: { kind: 'sgd', stepCount: 0, state: {} },
      position: { step: 0, epoch: 0, batchInEpoch: 0, rng: [1, 2, 3, 4], fingerprint: 'f', history: [] },
    });
    const { tensors, metadata } = await readSafetensors(p);
    const bad = join(dir, 'ck-bad.safetensors');
    writeFileSync(bad, Buffer.concat(encodeSafetensors({ ...tensors, 'optim.momentum': { dtype: 'I64', shape: [8], data: new BigInt64Array(8) } }, metadata)));
    await expect(loadCheckpoint(bad)).rejects.toThrow(/tensor 'optim\.momentum' is I64, expected F32/);
    await expect(loadCheckpoint(p)).resolves.toMatchObject({ position: { step: 0 } });
  });
});

describe('every fixture through every reader of its kind: a clean error or a valid result', () => {
  const files = readdirSync(FIXTURES).sort();
  it.each(files)('%s', async (name) => {
    const f = fixture(name);
    const b = new Uint8Array(readFileSync(f));
    const text = new TextDecoder().decode(b);
    switch (extname(name)) {
      case '.safetensors':
        await cleanOrValid(name, '.safetensors', b, () => decodeSafetensors(f, b));
        await cleanOrValid(name, '.safetensors', b, () => readModel(f, js), (r) => r.model.release());
        await cleanOrValid(name, '.safetensors', b, () => loadCheckpoint(f));
        break;
      case '.csv':
        await cleanOrValid(name, '.csv', b, () => parseCsv(text, f));
        await cleanOrValid(name, '.csv', b, () => parseCsvRows(text, f, 3));
        await cleanOrValid(name, '.csv', b, () => loadCsv(f));
        break;
      case '.json':
        await cleanOrValid(name, '.json', b, () => parse(['--config', f], DOCS));
        break;
      case '.idx':
        await cleanOrValid(name, '.idx', b, () => parseIdx(b, f));
        break;
      case '.npy':
        await cleanOrValid(name, '.npy', b, () => parseNpy(b, f));
        break;
      case '.onnx':
        if (hasOrt) await cleanOrValid(name, '.onnx', b, () => onnxTeacherLogits(f, ds, 3, 16));
        break;
      default:
        throw new Error(`no reader for fixture ${name}`);
    }
  });
});
