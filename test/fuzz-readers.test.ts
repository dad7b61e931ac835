// Fuzzing the readers with fast-check: thousands of mutated files (bit flips, truncation, byte
// insertion/deletion/overwrite, duplicated ranges, and header-field edits: huge, negative or
// fractional sizes, wrong dtypes, edited metadata) made from valid seed files of each format.
// The property: a clean error (DistilleryError naming the file) or a valid result; never another
// exception, a crash or a hang. ~25 s in all by default; FUZZ_RUNS=N runs N inputs per target and
// FUZZ_SEED=S another seed (e.g. `FUZZ_RUNS=20000 FUZZ_SEED=$RANDOM npx vitest run test/fuzz-readers.test.ts`).
// A failing input is saved (its path is in the message): add it to test/fixtures/fuzz/ with a
// regression test (fuzz-regressions.test.ts runs every fixture there).

import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { loadBackend } from '../src/backends/index.js';
import { COMMON, DATA, KD, TRAIN, modelConfig, parse, trainConfig } from '../src/cli/options.js';
import { loadCsv, parseCsv, parseCsvRows, type CsvOptions } from '../src/data/csv.js';
import { checkDataset, type Dataset } from '../src/data/dataset.js';
import { loadIdxPair, parseIdx } from '../src/data/idx.js';
import { parseNpy } from '../src/data/npy.js';
import { onnxTeacherLogits } from '../src/distill/onnx-teacher.js';
import { saveTeacherLogits, loadTeacherLogits } from '../src/io/logits-file.js';
import { loadCheckpoint, readModel, saveCheckpoint, saveModel } from '../src/io/model-file.js';
import { encodeOnnx } from '../src/io/onnx.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../src/io/safetensors.js';
import { Rng } from '../src/nn/rng.js';
import { Sequential } from '../src/nn/sequential.js';
import { validateModelConfig } from '../src/nn/spec.js';
import { BAD_NUMBERS, cleanOrValid, concat, mutate, mutations, pick, printStats, runs, SEED, type FieldEdit } from './fuzz-util.js';
import { blobs } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-fuzz-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  printStats();
});

const js = await loadBackend('js');
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const assert = (ok: unknown, what: string) => {
  if (!ok) throw new Error(what);
};
let fileNo = 0;
/** Writes `data` to a fresh file named like `name` (the extension matters to some readers). */
const put = (name: string, data: Uint8Array) => {
  const p = join(dir, `${fileNo++}-${name}`);
  writeFileSync(p, data);
  return p;
};
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder('utf-8').decode(b);
const fcOpts = (numRuns: number) => ({ numRuns, seed: SEED, endOnFailure: true });

// ---- seeds ------------------------------------------------------------------------------------

const ds: Dataset = blobs(23, 4, 3, 7);
const model = new Sequential(js, { input: [4], layers: ['dense:5', 'gelu', 'dropout:0.1', 'dense:3'] }, 1);
const modelFile = join(dir, 'seed-model.safetensors');
await saveModel(modelFile, model, { note: 'fuzz seed' }, { transform: { kind: 'standardize', offset: [0.1, 0.2, 0.3, 0.4], scale: [1, 2, 3, 4] }, classNames: ['a', 'b', 'c'] });
const ckFile = join(dir, 'seed-checkpoint.safetensors');
await saveCheckpoint(ckFile, {
  config: model.config, params: model.store.params,
  optimizer: { kind: 'sgd', stepCount: 12, state: { momentum: new Float32Array(model.store.length).fill(0.25) } },
  position: { step: 12, epoch: 1, batchInEpoch: 2, rng: model.rng.getState(), fingerprint: 'abc123', history: [{ epoch: 1, loss: 0.5 }], partial: { loss: 1.5, kd: 1, ce: 0.5, count: 3 } },
  extra: { 'hint.params': new Float32Array([1, 2, 3]) },
});
const logitsFile = join(dir, 'seed-logits.safetensors');
await saveTeacherLogits(logitsFile, ds, { logits: [Float32Array.from({ length: ds.n * 3 }, (_, i) => Math.sin(i))], teachers: [{ file: 't.safetensors', config: model.config }] });
const { readFileSync } = await import('node:fs');
const SEEDS = {
  model: new Uint8Array(readFileSync(modelFile)),
  checkpoint: new Uint8Array(readFileSync(ckFile)),
  logits: new Uint8Array(readFileSync(logitsFile)),
  // every dtype, a scalar and an empty tensor
  safetensors: concat(...encodeSafetensors({
    w: { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 4, -0]) },
    d: { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) },
    i: { dtype: 'I32', shape: [3], data: new Int32Array([-1, 0, 2147483647]) },
    l: { dtype: 'I64', shape: [1], data: new BigInt64Array([-5n]) },
    h: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
    s: { dtype: 'I8', shape: [], data: new Int8Array([-7]) },
    z: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  }, { format: 'x', note: 'ü' })),
};

function idx(type: number, dims: number[], values: number[]): Uint8Array {
  const sz = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }[type]!;
  const b = new Uint8Array(4 + 4 * dims.length + sz * values.length);
  const v = new DataView(b.buffer);
  b[2] = type;
  b[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  const o = 4 + 4 * dims.length;
  values.forEach((x, i) => {
    if (type === 0x08) v.setUint8(o + i, x);
    else if (type === 0x09) v.setInt8(o + i, x);
    else if (type === 0x0b) v.setInt16(o + 2 * i, x);
    else if (type === 0x0c) v.setInt32(o + 4 * i, x);
    else if (type === 0x0d) v.setFloat32(o + 4 * i, x);
    else v.setFloat64(o + 8 * i, x);
  });
  return b;
}
const IDX_IMAGES = idx(0x08, [5, 3, 3], Array.from({ length: 45 }, (_, i) => (i * 37) % 256));
const IDX_LABELS = idx(0x08, [5], [0, 1, 2, 1, 0]);
const IDX_SEEDS = [IDX_IMAGES, IDX_LABELS, idx(0x0d, [2, 3], [1.5, -2, 0, 3, 4e30, -1e-30]), idx(0x0c, [4], [0, 1, 2, 3]), idx(0x0e, [3], [1, 2, 3]), idx(0x0b, [2, 2], [-1, 2, 300, -4])];

function npy(descr: string, shape: string, data: Uint8Array, major = 1): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pre = major === 1 ? 10 : 12;
  h += ' '.repeat((64 - ((pre + h.length + 1) % 64)) % 64) + '\n';
  const head = new Uint8Array(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const v = new DataView(head.buffer);
  if (major === 1) v.setUint16(8, h.length, true);
  else v.setUint32(8, h.length, true);
  return concat(head, utf8(h), data);
}
const NPY_SEEDS = [
  npy('<f4', '(2, 3)', new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)),
  npy('|u1', '(4,)', Uint8Array.from([0, 1, 254, 255])),
  npy('<i8', '(2,)', new Uint8Array(new BigInt64Array([-3n, 2n ** 60n]).buffer), 2),
  npy('>f8', '(1, 1)', Uint8Array.from([0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]), 3),
];

const CSV_SEEDS = [
  'sepal,petal,"width, mm",label\n5.1,3.5,1.4,setosa\n4.9,3.0,1.4,setosa\n6.2,2.9,4.3,versicolor\n5.9,3.0,5.1,virginica\n6.0,2.2,4.0,versicolor\n',
  '1,2,0\n3,4,1\n5,6,2\n7,8,1\n',
  '\ufeffa;b;y\r\n1;2;0\r\n# a comment\r\n"3";4;1\r\n5;6;0\r\n',
  'x1,x2,x3,target\n0.5,-1e3,2,1\n0.25,"7",1e-3,0\n-0,0,0,1\n',
];

const CONFIG_SEEDS = [
  { epochs: 3, batch: 16, lr: 0.1, optimizer: 'adamw', layers: [4, 8, 3], dropout: 0.1, schedule: 'step', 'step-size': 5, nesterov: true, seed: 7 },
  { model: { input: [4], layers: ['dense:8', 'relu', 'dense:3'] }, 'weight-decay': '1e-4', warmup: 2, temperature: 4, alpha: 0.5, teacher: 'a.safetensors' },
  { arch: 'dense:8,gelu,dense:3', input: '4', 'checkpoint-every': 10, momentum: 0.8, schedule: 'cosine', quiet: true },
].map((c) => utf8(JSON.stringify(c, null, 1)));
const DOCS = [...COMMON, ...DATA, ...TRAIN, ...KD];

// ---- header-field edits -----------------------------------------------------------------------

/** Leaves (numbers, strings, booleans, null) of a JSON value, as paths. */
function leaves(v: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (v !== null && typeof v === 'object' && path.length < 20) {
    const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    if (!keys.length) out.push(path);
    for (const k of keys) leaves((v as Record<string | number, unknown>)[k], [...path, k], out);
  } else out.push(path);
  return out;
}
const BAD_JSON: unknown[] = [...BAD_NUMBERS, 'dense:1000000000', 'dense:0', 'dense:-1', 'relu:1', 'x:1:2', '__proto__', 'a,b', 'constructor', [[[[[]]]]], { a: 1 }, 'sgd', 'adamw', 'F32', '784,1e9,10', ['dense:8'], '1,2,3'];
/** Sets one leaf (chosen by i) of JSON value v to a bad value (chosen by j); or removes it (j odd high). */
function editJson(v: unknown, i: number, j: number): unknown {
  const ls = leaves(v);
  const path = ls[i % ls.length];
  const bad = j >= BAD_JSON.length * 4 ? undefined : pick(BAD_JSON, j);
  if (!path.length) return bad;
  let copy: Record<string | number, unknown>;
  try {
    copy = structuredClone(v) as Record<string | number, unknown>;
  } catch {
    return v; // nested too deep to copy
  }
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (bad === undefined && !Array.isArray(o)) delete o[last];
  else o[last] = bad ?? null;
  return copy;
}

function safetensorsParts(b: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } | null {
  if (b.length < 8) return null;
  const hl = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  if (hl > b.length - 8) return null;
  try {
    const header = JSON.parse(text(b.subarray(8, 8 + hl)));
    return header && typeof header === 'object' && !Array.isArray(header) ? { header, data: b.subarray(8 + hl) } : null;
  } catch {
    return null;
  }
}
function safetensorsImage(header: unknown, data: Uint8Array, hl?: bigint): Uint8Array {
  const json = utf8(JSON.stringify(header));
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, hl ?? BigInt(json.length), true);
  return concat(head, json, data);
}
const DTYPES = ['F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'X', 'f32', '', null, 5, ['F32']];
const NAMES = ['__proto__', 'constructor', '', 'params', 'logits.0', 'logits.1', 'optim.momentum', 'layers.0.weight', 'toString', '__metadata__'];
const safetensorsField: FieldEdit = (b, edit, value) => {
  const parts = safetensorsParts(b);
  if (!parts) return b;
  const { header, data } = parts;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = names.length ? pick(names, value >> 4) : null;
  const obj = (x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : null);
  const t = name ? obj(header[name]) : null;
  const meta = obj(header.__metadata__) as Record<string, string> | null;
  switch (edit) {
    case 0: if (t) t.dtype = pick(DTYPES, value); break;
    case 1: if (t && Array.isArray(t.shape)) t.shape[value % Math.max(1, t.shape.length)] = pick(BAD_NUMBERS, value >> 2); else if (t) t.shape = pick(BAD_NUMBERS, value); break;
    case 2: if (t && Array.isArray(t.data_offsets)) t.data_offsets[value & 1] = pick(BAD_NUMBERS, value >> 1); break;
    case 3: {
      const hl = [0n, 1n, 7n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n, BigInt(b.length), BigInt(b.length - 8), BigInt(b.length - 9)];
      return safetensorsImage(header, data, pick(hl, value));
    }
    case 4: {
      // a metadata field's JSON, one leaf edited (or the whole value replaced)
      if (!meta) break;
      const keys = Object.keys(meta);
      const k = pick(keys, value);
      try {
        meta[k] = JSON.stringify(editJson(JSON.parse(meta[k]), value >> 3, value >> 6));
      } catch {
        meta[k] = String(pick(BAD_JSON, value >> 3));
      }
      break;
    }
    case 5: if (name) delete header[name]; else if (meta) delete header.__metadata__; break;
    case 6: if (name) { header[pick(NAMES, value)] = t; delete header[name]; } break;
    case 7: if (meta) (header as Record<string, unknown>).__metadata__ = pick<unknown>([null, [], 'x', { format: 1 }, { a: { b: 'c' } }], value); break;
  }
  return safetensorsImage(header, data);
};

const idxField: FieldEdit = (b, edit, value) => {
  b = Uint8Array.from(b);
  if (b.length < 4) return b;
  const v = new DataView(b.buffer);
  if (edit === 0) b[2] = pick([0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0x0a, 0xff], value);
  else if (edit === 1) b[3] = pick([0, 1, 2, 3, 4, 16, 255], value);
  else {
    const nd = b[3];
    const i = value % Math.max(1, nd);
    if (4 + 4 * i + 4 <= b.length) {
      const d = v.getUint32(4 + 4 * i);
      v.setUint32(4 + 4 * i, pick([0, 1, d + 1, Math.max(0, d - 1), 2 ** 31, 2 ** 32 - 1, 65536, 3 * d], value >> 4) >>> 0);
    }
  }
  return b;
};

const npyField: FieldEdit = (b, edit, value) => {
  const s = new TextDecoder('latin1').decode(b);
  const swap = (re: RegExp, pool: string[]) => {
    const out = s.replace(re, (m, g1: string) => m.replace(g1, pick(pool, value)));
    return Uint8Array.from(out, (c) => c.charCodeAt(0) & 0xff);
  };
  switch (edit) {
    case 0: return swap(/'shape': (\([^)]*\))/, ['()', '(0,)', '(3,)', '(-1, 4)', '(4294967296, 4294967296)', '(1e3,)', '(0x10,)', '(3, 4, 5, 6, 7, 8, 9)', '(9007199254740993,)', '(2,2)', '(6)', '(, )', '(1.5,)', '(1e400,)', '(Infinity,)']);
    case 1: return swap(/'descr': '([^']*)'/, ['<f4', '>f4', '<f8', '|u1', '|b1', '<i8', '<u8', '<c8', '<U3', '|O', '<f2', 'f4', '<f16', '<i2', '>u4', '=i4', '']);
    case 2: return swap(/'fortran_order': (\w+)/, ['True', 'False', 'true', '1']);
    case 3: { const c = Uint8Array.from(b); if (c.length > 7) c[6] = pick([0, 1, 2, 3, 4, 255], value); return c; }
    default: {
      const c = Uint8Array.from(b);
      if (c.length >= 12) new DataView(c.buffer).setUint32(8, pick([0, 1, 0xffff, 0xffffffff, 64, c.length, c.length - 10], value), true);
      return c;
    }
  }
};

const CELLS = ['', 'NaN', 'Infinity', '1e999', '-0', '0x10', '99999999999', '4294967295', '2147483648', '2147483647', '-1', '1.5', '"a,b"', '"', 'label', 'é', ' 3 ', '00', '+1', '1e5', '#x', 'a"b'];
const csvField: FieldEdit = (b, edit, value) => {
  let s = text(b);
  if (edit === 0) {
    // replace the k-th cell
    const k = value % 40;
    let i = 0;
    s = s.replace(/[^,;\n\r]+/g, (m) => (i++ === k ? pick(CELLS, value >> 6) : m));
  } else if (edit === 1) {
    const seps = [',', ';', '\t', '\n', '\r\n', '"', '', ',,'];
    let i = 0;
    s = s.replace(/[,;]/g, (m) => (i++ === value % 20 ? pick(seps, value >> 5) : m));
  } else if (edit === 2) {
    const lines = s.split('\n');
    const l = value % lines.length;
    lines[l] = value & 64 ? `${lines[l]},${pick(CELLS, value >> 7)}` : lines[l].replace(/[,;][^,;]*$/, '');
    s = lines.join('\n');
  } else s = pick(['\ufeff', '#c\n', '\n\n', '"', 'a,b\n', ''], value) + s;
  return utf8(s);
};

const configField: FieldEdit = (b, edit, value) => {
  let v: unknown;
  try {
    v = JSON.parse(text(b));
  } catch {
    return b;
  }
  if (edit === 0) v = editJson(v, value, value >> 5);
  else if (edit === 1 && v && typeof v === 'object') (v as Record<string, unknown>)[pick(DOCS, value).flag] = pick(BAD_JSON, value >> 6);
  else if (edit === 2) return utf8('['.repeat(50000) + ']'.repeat(50000));
  let out: string;
  try {
    out = JSON.stringify(v);
  } catch {
    return b; // nested too deep to write back
  }
  // a deeply nested value for one option, spliced in as text (JSON.stringify would overflow the stack)
  if (edit === 3 && out.endsWith('}') && out.length > 2) return utf8(`${out.slice(0, -1)},"${pick(DOCS, value).flag}":${'['.repeat(20000)}${']'.repeat(20000)}}`);
  return utf8(out);
};

// ---- validity of results ------------------------------------------------------------------------

const finiteF32 = (a: unknown, what: string) => {
  assert(a instanceof Float32Array, `${what} is not a Float32Array`);
  for (const x of a as Float32Array) assert(Number.isFinite(x), `${what} holds ${x}`);
};

// ---- targets ----------------------------------------------------------------------------------

const anyOf = <T>(xs: T[]) => fc.nat({ max: xs.length - 1 }).map((i) => xs[i]);

describe('fuzzing the readers: a clean error or a valid result', () => {
  it('safetensors, decoded in memory', async () => {
    const seeds = [SEEDS.safetensors, SEEDS.model, SEEDS.checkpoint, SEEDS.logits];
    await fc.assert(fc.asyncProperty(anyOf(seeds), mutations(8), async (seed, ms) => {
      const b = mutate(seed, ms, safetensorsField);
      await cleanOrValid('safetensors', '.safetensors', b, () => decodeSafetensors('f.safetensors', b), (r) => {
        for (const [k, t] of Object.entries(r.tensors)) assert(t.data.length === size(t.shape), `tensor ${k}: ${t.data.length} elements for [${t.shape}]`);
        for (const [k, s] of Object.entries(r.metadata)) assert(typeof s === 'string', `metadata ${k} is not a string`);
      });
    }), fcOpts(runs(5000)));
  });

  it('safetensors files (readSafetensors)', async () => {
    await fc.assert(fc.asyncProperty(mutations(8), async (ms) => {
      const b = mutate(SEEDS.safetensors, ms, safetensorsField);
      await cleanOrValid('safetensors-file', '.safetensors', b, () => readSafetensors(put('t.safetensors', b)));
    }), fcOpts(runs(800)));
  });

  it('model files (readModel)', async () => {
    await fc.assert(fc.asyncProperty(mutations(8), async (ms) => {
      const b = mutate(SEEDS.model, ms, safetensorsField);
      await cleanOrValid('model', '.safetensors', b, () => readModel(put('m.safetensors', b), js), (r) => {
        try {
          finiteF32(r.model.store.params.subarray(0, r.model.store.length), 'params');
          assert(r.info.classNames === null || r.info.classNames.length === r.model.classes, 'class names');
        } finally {
          r.model.release();
        }
      });
    }), fcOpts(runs(2000)));
  });

  it('checkpoints (loadCheckpoint)', async () => {
    await fc.assert(fc.asyncProperty(mutations(8), async (ms) => {
      const b = mutate(SEEDS.checkpoint, ms, safetensorsField);
      await cleanOrValid('checkpoint', '.safetensors', b, () => loadCheckpoint(put('c.safetensors', b)), (ck) => {
        validateModelConfig(ck.config, 'config');
        finiteF32(ck.params, 'params');
        for (const [k, v] of Object.entries(ck.optimizer.state)) finiteF32(v, `optim.${k}`);
        for (const [k, v] of Object.entries(ck.extra ?? {})) finiteF32(v, `extra.${k}`);
        assert(typeof ck.optimizer.kind === 'string' && Number.isInteger(ck.optimizer.stepCount) && ck.optimizer.stepCount >= 0, 'optimizer');
        const p = ck.position;
        for (const k of ['step', 'epoch', 'batchInEpoch'] as const) assert(Number.isSafeInteger(p[k]) && p[k] >= 0, `position.${k}`);
        new Rng(0).setState(p.rng);
        assert(typeof p.fingerprint === 'string', 'fingerprint');
        assert(Array.isArray(p.history), 'history');
        assert(p.settings === undefined || (typeof p.settings === 'object' && p.settings !== null && !Array.isArray(p.settings)), 'settings');
        if (p.partial !== undefined) for (const k of ['loss', 'kd', 'ce', 'count'] as const) assert(Number.isFinite(p.partial[k]), `partial.${k}`);
      });
    }), fcOpts(runs(2000)));
  });

  it('teacher-logits files (loadTeacherLogits)', async () => {
    await fc.assert(fc.asyncProperty(mutations(8), async (ms) => {
      const b = mutate(SEEDS.logits, ms, safetensorsField);
      await cleanOrValid('logits', '.safetensors', b, () => loadTeacherLogits(put('l.safetensors', b), ds, 3), (r) => {
        assert(r.logits.length >= 1, 'no logits');
        for (const l of r.logits) {
          assert(l.length === ds.n * 3, `logits of ${l.length} values`);
          finiteF32(l, 'logits');
        }
      });
    }), fcOpts(runs(1500)));
  });

  it('IDX, parsed in memory (parseIdx)', async () => {
    await fc.assert(fc.asyncProperty(anyOf(IDX_SEEDS), mutations(3), async (seed, ms) => {
      const b = mutate(seed, ms, idxField);
      await cleanOrValid('idx', '.idx', b, () => parseIdx(b, 'f.idx'), (r) => assert(r.data.length === size(r.dims), `${r.data.length} values for [${r.dims}]`));
    }), fcOpts(runs(6000)));
  });

  it('IDX image + label files, plain and gzipped (loadIdxPair)', async () => {
    const gz = fc.boolean();
    await fc.assert(fc.asyncProperty(fc.boolean(), gz, mutations(3), async (images, gzip, ms) => {
      const b0 = mutate(images ? IDX_IMAGES : IDX_LABELS, ms, idxField);
      const b = gzip ? new Uint8Array(gzipSync(b0)) : b0;
      const name = gzip ? 'f-idx-ubyte.gz' : 'f-idx-ubyte';
      const other = put(images ? 'l-idx1-ubyte' : 'i-idx3-ubyte', images ? IDX_LABELS : IDX_IMAGES);
      const mine = put(name, b);
      await cleanOrValid('idx-pair', gzip ? '.idx.gz' : '.idx', b, () => (images ? loadIdxPair(mine, other) : loadIdxPair(other, mine)), (d) => {
        checkDataset(d);
        assert(Number.isSafeInteger(d.classes) && d.classes <= 2 ** 31, `classes ${d.classes}`);
      });
    }), fcOpts(runs(1200)));
  });

  it('gzip bytes themselves mutated (IDX and CSV files named .gz)', async () => {
    const seeds = [new Uint8Array(gzipSync(IDX_LABELS)), new Uint8Array(gzipSync(utf8(CSV_SEEDS[0])))];
    await fc.assert(fc.asyncProperty(fc.nat({ max: 1 }), mutations(), async (which, ms) => {
      const b = mutate(seeds[which], ms);
      if (which === 0) await cleanOrValid('idx-gz', '.idx.gz', b, () => loadIdxPair(put('i-idx3-ubyte', IDX_IMAGES), put('l-idx1-ubyte.gz', b)), (d) => void checkDataset(d));
      else await cleanOrValid('csv-gz', '.csv.gz', b, () => loadCsv(put('d.csv.gz', b)), (d) => void checkDataset(d));
    }), fcOpts(runs(800)));
  });

  it('NPY (parseNpy)', async () => {
    await fc.assert(fc.asyncProperty(anyOf(NPY_SEEDS), mutations(5), async (seed, ms) => {
      const b = mutate(seed, ms, npyField);
      await cleanOrValid('npy', '.npy', b, () => parseNpy(b, 'f.npy'), (r) => {
        assert(r.shape.every((d) => Number.isSafeInteger(d) && d >= 0), `shape ${r.shape}`);
        assert(r.data.length === size(r.shape), `${r.data.length} values for (${r.shape})`);
      });
    }), fcOpts(runs(6000)));
  });

  const csvOpts: fc.Arbitrary<CsvOptions> = fc.record({
    labelColumn: fc.option(fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom('label', 'y', 'width, mm', 'zz', '', 'a')), { nil: undefined }),
    header: fc.option(fc.boolean(), { nil: undefined }),
    delimiter: fc.option(fc.constantFrom(',', ';', '\t', '', '"', ',,', '\n'), { nil: undefined }),
  });

  it('CSV text (parseCsv, and parseCsvRows for prediction)', async () => {
    await fc.assert(fc.asyncProperty(anyOf(CSV_SEEDS.map(utf8)), mutations(4), csvOpts, fc.integer({ min: 1, max: 4 }), async (seed, ms, opts, features) => {
      const b = mutate(seed, ms, csvField);
      const s = text(b);
      await cleanOrValid('csv', '.csv', b, () => parseCsv(s, 'f.csv', opts), (d) => {
        checkDataset(d);
        assert(d.classes <= 2 ** 31, `classes ${d.classes}`);
      });
      await cleanOrValid('csv-rows', '.csv', b, () => parseCsvRows(s, 'f.csv', features, opts), (r) => {
        assert(r.x.length === r.n * features, `x of ${r.x.length} for ${r.n} rows`);
        finiteF32(r.x, 'x');
        if (r.labels) assert(r.labels.length === r.n && Array.from(r.labels).every((l) => typeof l === 'string'), 'labels with holes');
      });
    }), fcOpts(runs(4000)));
  });

  it('CSV files, streamed (loadCsv)', async () => {
    await fc.assert(fc.asyncProperty(anyOf(CSV_SEEDS.map(utf8)), mutations(4), csvOpts, async (seed, ms, opts) => {
      const b = mutate(seed, ms, csvField);
      await cleanOrValid('csv-file', '.csv', b, () => loadCsv(put('d.csv', b), opts), (d) => void checkDataset(d));
    }), fcOpts(runs(1000)));
  });

  it('config files (parse --config, then the train and model options)', async () => {
    await fc.assert(fc.asyncProperty(anyOf(CONFIG_SEEDS), mutations(4), async (seed, ms) => {
      const b = mutate(seed, ms, configField);
      await cleanOrValid('config', '.json', b, () => {
        const v = parse(['--config', put('c.json', b)], DOCS);
        trainConfig(v, { epochs: 5 });
        return modelConfig(v, null, 4, 3);
      }, (c) => {
        if (c) validateModelConfig(c);
      });
    }), fcOpts(runs(2500)));
  });

  let hasOrt = true;
  try { createRequire(import.meta.url).resolve('onnxruntime-node'); } catch { hasOrt = false; }
  it.skipIf(!hasOrt)('ONNX teachers (onnxTeacherLogits, onnxruntime-node)', async () => {
    const seed = encodeOnnx(model, { transform: { kind: 'standardize', offset: [0.1, 0.2, 0.3, 0.4], scale: [1, 2, 3, 4] }, classNames: ['a', 'b', 'c'] });
    await fc.assert(fc.asyncProperty(mutations(), async (ms) => {
      const b = mutate(seed, ms);
      await cleanOrValid('onnx', '.onnx', b, () => onnxTeacherLogits(put('t.onnx', b), ds, 3, 16), (l) => {
        assert(l.length === ds.n * 3, `${l.length} logits`);
        finiteF32(l, 'logits');
      });
    }), fcOpts(runs(600)));
  });
});
