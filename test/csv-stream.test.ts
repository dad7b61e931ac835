// The streaming CSV reader (csv-parse): the same dataset as the in-memory parser, RFC 4180 cases
// (quoted delimiters and newlines, "" escapes, CRLF, BOM), gzip, clear errors; and the in-place
// train/test split that keeps a large CSV from being held twice gives the copying split's rows.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCsv, parseCsv } from '../src/data/csv.js';
import { splitDataset } from '../src/data/builtin.js';
import { InputFileError } from '../src/errors.js';
import { blobs } from './util.js';

const dir = mkdtempSync(join(tmpdir(), 'distillery-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, body: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};

describe('streaming CSV', () => {
  it('gives what the in-memory parser gives, for plain, CRLF + BOM and gzipped files', async () => {
    const text = 'x1,x2,"note, with comma",label\n# a comment\n1.5,2,3,cat\n\n4,5e-1,-6,dog\n7,8,9,cat\n';
    const want = parseCsv(text, 'mem');
    for (const [name, body] of [['a.csv', text], ['b.csv', '\ufeff' + text.replace(/\n/g, '\r\n')], ['c.csv.gz', gzipSync(text)], ['d.csv', gzipSync(text)]] as const) {
      const got = await loadCsv(file(name, body as string | Buffer));
      expect(Array.from(got.x), name).toEqual(Array.from(want.x));
      expect(Array.from(got.y), name).toEqual(Array.from(want.y));
      expect(got.classNames, name).toEqual(['cat', 'dog']);
      expect(got.n, name).toBe(3);
    }
  });

  it('quoted fields: delimiters, "" escapes and newlines inside quotes', async () => {
    const ds = await loadCsv(file('q.csv', 'a,b,label\n1,2,"big, ""red""\ndog"\n3,4,plain\n'));
    expect(ds.classNames).toEqual(['big, "red"\ndog', 'plain']);
    expect(Array.from(ds.x)).toEqual([1, 2, 3, 4]);
  });

  it('errors name the file and line: bad number, ragged row, unclosed quote, not UTF-8, not gzip, missing', async () => {
    await expect(loadCsv(file('e1.csv', 'a,b,label\n1,2,0\n3,oops,1\n'))).rejects.toThrow(/e1\.csv: line 3, column 'b': 'oops' is not a finite number/);
    await expect(loadCsv(file('e2.csv', 'a,b,label\n1,2,0\n3,1\n'))).rejects.toThrow(/e2\.csv: line 3: 2 columns, expected 3/);
    await expect(loadCsv(file('e3.csv', 'a,b,label\n1,2,"0\n'))).rejects.toThrow(/e3\.csv: not valid CSV/);
    await expect(loadCsv(file('e4.csv', Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0xff, 0xfe, 0x2c, 0x31, 0x0a])))).rejects.toThrow(/e4\.csv: not UTF-8 text/);
    await expect(loadCsv(file('e5.csv.gz', Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not really gzip')])))).rejects.toThrow(/e5\.csv\.gz: corrupt gzip data/);
    await expect(loadCsv(join(dir, 'missing.csv'))).rejects.toThrow(InputFileError);
    await expect(loadCsv(file('e6.csv', '\n\n# only comments\n'))).rejects.toThrow(/e6\.csv: no rows/);
  });
});

describe('in-place split', () => {
  it('the same train and test rows as the copying split', () => {
    const a = blobs(1001, 7, 4, 3), b = blobs(1001, 7, 4, 3);
    b.labeled = Uint8Array.from({ length: 1001 }, (_, i) => i % 2);
    a.labeled = b.labeled.slice();
    const copy = splitDataset(a, 0.2, 42), view = splitDataset(b, 0.2, 42, true);
    for (const k of ['train', 'test'] as const) {
      expect(view[k].n).toBe(copy[k].n);
      expect(Array.from(view[k].x)).toEqual(Array.from(copy[k].x));
      expect(Array.from(view[k].y)).toEqual(Array.from(copy[k].y));
      expect(Array.from(view[k].labeled!)).toEqual(Array.from(copy[k].labeled!));
      expect(view[k].x.buffer).toBe(b.x.buffer); // views, no copy
    }
  });
});
