// CSV reader for classification data: one sample per record, numeric feature columns and one
// label column (chosen by header name or 0-based index; default: a column named
// label/class/target/y, else the last). The header row is detected (any non-numeric feature cell)
// unless told. Records are split by csv-parse (RFC 4180: quoted fields, "" escapes, quoted
// newlines, CRLF, BOM); files are read as a stream into one float32 array sized by a first pass
// that counts lines, so a file's values never sit in memory as text or as JS numbers.
// String labels become class names (sorted); integer labels stay class indices.

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { CsvError, parse as parseStream } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { ConfigError, InputFileError } from '../errors.js';
import { checkDataset, type Dataset } from './dataset.js';
import { notGzip } from './gzip.js';

export interface CsvOptions {
  /** Label column: a header name or a 0-based index. */
  labelColumn?: string | number;
  /** true: the first row is a header; false: it is data; default: detected. */
  header?: boolean;
  delimiter?: string;
  name?: string;
}

const isNum = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));
const LABEL_NAME = /^(label|class|target|y)$/i;

/** csv-parse options shared by both paths. */
const parserOptions = (delimiter: string) => ({ delimiter, comment: '#', comment_no_infix: true, skip_empty_lines: true, relax_column_count: true, bom: true, info: true, trim: true }) as const;

type Rec = { record: string[]; info: { lines: number } };

/**
 * Builds a dataset from records, one at a time. `rowsHint` is an upper bound on the data rows
 * (the float array is allocated once, at the first data row).
 */
class CsvBuilder {
  private width = -1;
  private labelCol = -1;
  private header: string[] | null = null;
  private x: Float32Array | null = null;
  private labelIdx = new Int32Array(0);
  private readonly labelNames: string[] = [];
  private readonly labelMap = new Map<string, number>();
  n = 0;

  constructor(private readonly file: string, private readonly opts: CsvOptions, private readonly rowsHint: number) {}

  private fail(msg: string): never {
    throw new InputFileError(this.file, msg);
  }

  /** The first record: header or not, which column is the label. */
  private start(first: string[], line: number): boolean {
    const { opts } = this;
    const width = (this.width = first.length);
    if (width < 2) this.fail(`line ${line}: needs at least 2 columns (features and a label), found ${width}`);
    if (typeof opts.labelColumn === 'number') {
      if (!Number.isInteger(opts.labelColumn) || opts.labelColumn < 0 || opts.labelColumn >= width) this.fail(`label column ${opts.labelColumn} out of range (the file has ${width} columns)`);
      this.labelCol = opts.labelColumn;
    }
    const named = first.findIndex((c) => LABEL_NAME.test(c));
    // A header if told so, if the label is named, or if a non-label cell of row 1 is not a number.
    const guessLabel = this.labelCol >= 0 ? this.labelCol : width - 1;
    const hasHeader = opts.header ?? (typeof opts.labelColumn === 'string' || first.some((c, i) => i !== guessLabel && !isNum(c)) || named >= 0);
    if (hasHeader) this.header = first;
    if (typeof opts.labelColumn === 'string') {
      if (!this.header) this.fail(`label column '${opts.labelColumn}' given by name, but the file has no header row`);
      this.labelCol = this.header.indexOf(opts.labelColumn);
      if (this.labelCol < 0) this.fail(`no column named '${opts.labelColumn}' in the header (columns: ${this.header.join(', ')})`);
    } else if (this.labelCol < 0) this.labelCol = this.header && named >= 0 ? named : width - 1;
    return hasHeader;
  }

  add(cells: string[], line: number): void {
    if (this.width < 0 && this.start(cells, line)) return;
    const width = this.width, F = width - 1;
    if (cells.length !== width) this.fail(`line ${line}: ${cells.length} columns, expected ${width}`);
    if (!this.x) {
      this.x = new Float32Array(Math.max(1, this.rowsHint) * F);
      this.labelIdx = new Int32Array(Math.max(1, this.rowsHint));
    }
    if (this.n >= this.labelIdx.length) this.grow();
    const x = this.x, base = this.n * F;
    let f = 0;
    for (let c = 0; c < width; c++) {
      const s = cells[c];
      if (c === this.labelCol) {
        let k = this.labelMap.get(s);
        if (k === undefined) {
          k = this.labelNames.length;
          this.labelMap.set(s, k);
          this.labelNames.push(s);
        }
        this.labelIdx[this.n] = k;
        continue;
      }
      const v = Number(s);
      if (s === '' || !Number.isFinite(v)) this.fail(`line ${line}, column ${this.header ? `'${this.header[c]}'` : c + 1}: '${s}' is not a finite number`);
      x[base + f++] = v;
    }
    this.n++;
  }

  /** Only when the line count was not an upper bound (it always is for files read here). */
  private grow(): void {
    const F = this.width - 1, cap = this.labelIdx.length * 2;
    const x = new Float32Array(cap * F), l = new Int32Array(cap);
    x.set(this.x!);
    l.set(this.labelIdx);
    this.x = x;
    this.labelIdx = l;
  }

  finish(): Dataset {
    if (this.width < 0) this.fail('no rows');
    const n = this.n, features = this.width - 1;
    const x = this.x ? this.x.subarray(0, n * features) : new Float32Array(0);
    const y = new Int32Array(n);
    let classNames: string[] | undefined;
    let classes: number;
    if (this.labelNames.every((s) => /^\d+$/.test(s))) {
      const value = this.labelNames.map(Number);
      // Class indices live in an Int32Array: a larger one wrapped around (4294967296 became class 0).
      const big = this.labelNames.find((s, i) => value[i] > 2 ** 31 - 1);
      if (big !== undefined) this.fail(`integer label ${big} is too large for a class index (integer labels are class indices 0..K-1; labels with letters, like 'cat', name classes instead)`);
      let max = 0; // no Math.max(...y): it overflows the stack past ~125k rows
      for (let i = 0; i < n; i++) {
        y[i] = value[this.labelIdx[i]];
        if (y[i] > max) max = y[i];
      }
      classes = max + 1;
    } else {
      classNames = [...this.labelNames].sort();
      const rank = this.labelNames.map((s) => classNames!.indexOf(s));
      for (let i = 0; i < n; i++) y[i] = rank[this.labelIdx[i]];
      classes = classNames.length;
    }
    return checkDataset({ name: this.opts.name ?? this.file, x, y, n, features, classes, classNames }, this.file);
  }
}

function csvError(file: string, e: unknown): Error {
  if (e instanceof InputFileError) return e;
  const err = e as Error & { code?: string; lines?: number };
  // The one option that reaches csv-parse from the user: the delimiter.
  if (err.code === 'CSV_INVALID_OPTION_DELIMITER') return new ConfigError(`--delimiter: ${err.message.replace(/^Invalid option delimiter: /, '')}`);
  if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') return new InputFileError(file, `cannot read (${err.code})`);
  // csv-parse's errors: codes CSV_*, and INVALID_OPENING_QUOTE (no prefix)
  if (e instanceof CsvError || err.code?.startsWith('CSV_') || err.code === 'INVALID_OPENING_QUOTE') return new InputFileError(file, `not valid CSV${err.lines ? ` at line ${err.lines}` : ''}: ${err.message.replace(/^Invalid [^:]*: /, '')}`);
  if (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR') return new InputFileError(file, `corrupt gzip data (${err.message})`);
  if (err instanceof TypeError && /encoded data was not valid/i.test(err.message)) return new InputFileError(file, 'not UTF-8 text');
  return err;
}

/** Parses CSV text already in memory (small files, tests). */
export function parseCsv(text: string, file: string, opts: CsvOptions = {}): Dataset {
  let recs: Rec[];
  try {
    recs = parseSync(text, parserOptions(opts.delimiter ?? ',')) as unknown as Rec[];
  } catch (e) {
    throw csvError(file, e);
  }
  const b = new CsvBuilder(file, opts, recs.length);
  for (const r of recs) b.add(r.record, r.info.lines);
  return b.finish();
}

/** Whether a file starts with the gzip magic bytes. */
async function isGzipFile(file: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw csvError(file, e);
  }
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    const gz = bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b;
    if (!gz && /\.gz$/i.test(file)) throw notGzip(file, head.subarray(0, bytesRead));
    return gz;
  } finally {
    await fh.close();
  }
}

/** The file's bytes as a stream (gunzipped when it is gzip). */
function byteStream(file: string, gz: boolean): NodeJS.ReadableStream {
  const s = createReadStream(file, { highWaterMark: 1 << 20 });
  return gz ? s.pipe(createGunzip()) : s;
}

/** Streams a CSV file (gzipped or not) into a dataset: one pass to count lines, one to parse. */
export async function loadCsv(file: string, opts: CsvOptions = {}): Promise<Dataset> {
  const gz = await isGzipFile(file);
  let lines = 1;
  try {
    for await (const chunk of byteStream(file, gz) as AsyncIterable<Buffer>) {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    }
  } catch (e) {
    throw csvError(file, e);
  }
  const b = new CsvBuilder(file, opts, lines);
  let parser: ReturnType<typeof parseStream>;
  try {
    parser = parseStream(parserOptions(opts.delimiter ?? ','));
  } catch (e) {
    throw csvError(file, e);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // The feed stops when the parser is gone (a parse error, or a bad record below): waiting for
  // 'drain' alone would wait forever on a destroyed parser, and `await feed` with it.
  const feed = (async () => {
    try {
      for await (const chunk of byteStream(file, gz) as AsyncIterable<Buffer>) {
        if (parser.destroyed) break;
        if (!parser.write(decoder.decode(chunk, { stream: true }))) {
          await new Promise<void>((r) => {
            const done = () => {
              parser.off('drain', done);
              parser.off('close', done);
              r();
            };
            parser.on('drain', done);
            parser.on('close', done);
          });
        }
      }
      if (!parser.destroyed) parser.end(decoder.decode());
    } catch (e) {
      parser.destroy(e as Error);
    }
  })();
  try {
    for await (const r of parser as AsyncIterable<Rec>) b.add(r.record, r.info.lines);
  } catch (e) {
    throw csvError(file, e);
  } finally {
    parser.destroy();
    await feed;
  }
  return b.finish();
}

/**
 * Raw feature rows of a CSV for prediction: `features` numeric columns, plus optionally a label
 * column (as in training: by name or index, else named label/class/target/y, else the last),
 * whose values are returned as they are. A header row is detected as in training.
 */
export function parseCsvRows(text: string, file: string, features: number, opts: CsvOptions = {}): { x: Float32Array; n: number; labels: string[] | null; header: string[] | null } {
  let recs: Rec[];
  try {
    recs = parseSync(text, parserOptions(opts.delimiter ?? ',')) as unknown as Rec[];
  } catch (e) {
    throw csvError(file, e);
  }
  if (!recs.length) throw new InputFileError(file, 'no rows');
  const first = recs[0].record;
  const width = first.length;
  if (width !== features && width !== features + 1) throw new InputFileError(file, `line ${recs[0].info.lines}: ${width} columns, but the model takes ${features} inputs (give ${features} feature columns, and optionally a label column)`);
  const withLabel = width === features + 1;
  const named = first.findIndex((c) => LABEL_NAME.test(c));
  let labelCol = -1;
  if (withLabel) labelCol = typeof opts.labelColumn === 'number' ? opts.labelColumn : named >= 0 ? named : width - 1;
  // (out of range, every cell was read as a feature: rows overran into the next one and the labels stayed unset)
  if (withLabel && !(Number.isInteger(labelCol) && labelCol >= 0 && labelCol < width)) throw new InputFileError(file, `label column ${opts.labelColumn} out of range (the file has ${width} columns)`);
  const hasHeader = opts.header ?? first.some((c, i) => i !== labelCol && !isNum(c));
  const header = hasHeader ? first : null;
  if (withLabel && typeof opts.labelColumn === 'string') {
    labelCol = header ? header.indexOf(opts.labelColumn) : -1;
    if (labelCol < 0) throw new InputFileError(file, `no column named '${opts.labelColumn}' in the header${header ? ` (columns: ${header.join(', ')})` : ' (the file has no header row)'}`);
  }
  const rows = hasHeader ? recs.slice(1) : recs;
  const n = rows.length, x = new Float32Array(n * features);
  const labels: string[] | null = withLabel ? new Array(n) : null;
  rows.forEach(({ record: cells, info }, i) => {
    if (cells.length !== width) throw new InputFileError(file, `line ${info.lines}: ${cells.length} columns, expected ${width}`);
    let f = 0;
    for (let c = 0; c < width; c++) {
      const s = cells[c];
      if (c === labelCol) { labels![i] = s; continue; }
      const v = Number(s);
      if (s === '' || !Number.isFinite(v)) throw new InputFileError(file, `line ${info.lines}, column ${header ? `'${header[c]}'` : c + 1}: '${s}' is not a finite number`);
      x[i * features + f++] = v;
    }
  });
  return { x, n, labels, header };
}

/** Reads a CSV file (gzipped or not) as UTF-8 text; errors name the file. */
export async function readCsvText(file: string): Promise<string> {
  const chunks: string[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of byteStream(file, await isGzipFile(file)) as AsyncIterable<Buffer>) chunks.push(decoder.decode(chunk, { stream: true }));
    chunks.push(decoder.decode());
  } catch (e) {
    throw csvError(file, e);
  }
  return chunks.join('');
}
