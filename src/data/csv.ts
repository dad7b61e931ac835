// CSV reader for classification data: one sample per line, numeric feature columns and one label
// column (chosen by header name or 0-based index; default: a column named label/class/target,
// else the last). The header row is detected (any non-numeric feature cell) unless told.

import { readFile } from 'node:fs/promises';
import { InputFileError } from '../errors.js';
import { checkDataset, type Dataset } from './dataset.js';
import { maybeGunzip } from './gzip.js';

export interface CsvOptions {
  /** Label column: a header name or a 0-based index. */
  labelColumn?: string | number;
  /** true: the first row is a header; false: it is data; default: detected. */
  header?: boolean;
  delimiter?: string;
  name?: string;
}

/** Splits one CSV line, honoring double-quoted fields with "" escapes. */
function splitLine(line: string, delim: string): string[] {
  if (!line.includes('"')) return line.split(delim);
  const out: string[] = [];
  let cur = '', q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c;
    } else if (c === '"') q = true;
    else if (c === delim) { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

const isNum = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));

export function parseCsv(text: string, file: string, opts: CsvOptions = {}): Dataset {
  const delim = opts.delimiter ?? ',';
  const lines = text.split(/\r?\n/).map((l, i) => ({ l, no: i + 1 })).filter(({ l }) => l.trim() !== '' && !l.startsWith('#'));
  if (!lines.length) throw new InputFileError(file, 'no rows');
  const first = splitLine(lines[0].l, delim).map((s) => s.trim());
  const width = first.length;
  if (width < 2) throw new InputFileError(file, `line ${lines[0].no}: needs at least 2 columns (features and a label), found ${width}`);
  let header: string[] | null = null;
  let labelCol: number;
  const named = (h: string[]) => h.findIndex((c) => /^(label|class|target|y)$/i.test(c));
  if (typeof opts.labelColumn === 'number') {
    if (!Number.isInteger(opts.labelColumn) || opts.labelColumn < 0 || opts.labelColumn >= width) throw new InputFileError(file, `label column ${opts.labelColumn} out of range (the file has ${width} columns)`);
    labelCol = opts.labelColumn;
  } else labelCol = -1;
  // A header if told so, if the label is named, or if a non-label cell of row 1 is not a number.
  const guessLabel = labelCol >= 0 ? labelCol : width - 1;
  const hasHeader = opts.header ?? (typeof opts.labelColumn === 'string' || first.some((c, i) => i !== guessLabel && !isNum(c)) || named(first) >= 0);
  if (hasHeader) header = first;
  if (typeof opts.labelColumn === 'string') {
    if (!header) throw new InputFileError(file, `label column '${opts.labelColumn}' given by name, but the file has no header row`);
    labelCol = header.indexOf(opts.labelColumn);
    if (labelCol < 0) throw new InputFileError(file, `no column named '${opts.labelColumn}' in the header (columns: ${header.join(', ')})`);
  } else if (labelCol < 0) {
    labelCol = header && named(header) >= 0 ? named(header) : width - 1;
  }
  const rows = hasHeader ? lines.slice(1) : lines;
  const n = rows.length, features = width - 1;
  const x = new Float32Array(n * features);
  const rawLabels: string[] = new Array(n);
  rows.forEach(({ l, no }, i) => {
    const cells = splitLine(l, delim);
    if (cells.length !== width) throw new InputFileError(file, `line ${no}: ${cells.length} columns, expected ${width}`);
    let f = 0;
    for (let c = 0; c < width; c++) {
      const s = cells[c].trim();
      if (c === labelCol) { rawLabels[i] = s; continue; }
      const v = Number(s);
      if (s === '' || !Number.isFinite(v)) throw new InputFileError(file, `line ${no}, column ${header ? `'${header[c]}'` : c + 1}: '${s}' is not a finite number`);
      x[i * features + f++] = v;
    }
  });
  const y = new Int32Array(n);
  let classNames: string[] | undefined;
  let classes: number;
  if (rawLabels.every((s) => /^\d+$/.test(s))) {
    let max = 0;
    rawLabels.forEach((s, i) => { y[i] = Number(s); if (y[i] > max) max = y[i]; }); // no Math.max(...y): it overflows the stack past ~125k rows
    classes = max + 1;
  } else {
    classNames = [...new Set(rawLabels)].sort();
    const idx = new Map(classNames.map((c, i) => [c, i]));
    rawLabels.forEach((s, i) => (y[i] = idx.get(s)!));
    classes = classNames.length;
  }
  return checkDataset({ name: opts.name ?? file, x, y, n, features, classes, classNames }, file);
}

export async function loadCsv(file: string, opts: CsvOptions = {}): Promise<Dataset> {
  return parseCsv(await readCsvText(file), file, opts);
}

/**
 * Raw feature rows of a CSV for prediction: `features` numeric columns, plus optionally a label
 * column (as in training: by name or index, else named label/class/target/y, else the last),
 * whose values are returned as they are. A header row is detected as in parseCsv.
 */
export function parseCsvRows(text: string, file: string, features: number, opts: CsvOptions = {}): { x: Float32Array; n: number; labels: string[] | null; header: string[] | null } {
  const delim = opts.delimiter ?? ',';
  const lines = text.split(/\r?\n/).map((l, i) => ({ l, no: i + 1 })).filter(({ l }) => l.trim() !== '' && !l.startsWith('#'));
  if (!lines.length) throw new InputFileError(file, 'no rows');
  const first = splitLine(lines[0].l, delim).map((s) => s.trim());
  const width = first.length;
  if (width !== features && width !== features + 1) throw new InputFileError(file, `line ${lines[0].no}: ${width} columns, but the model takes ${features} inputs (give ${features} feature columns, and optionally a label column)`);
  const withLabel = width === features + 1;
  const named = first.findIndex((c) => /^(label|class|target|y)$/i.test(c));
  let labelCol = -1;
  if (withLabel) labelCol = typeof opts.labelColumn === 'number' ? opts.labelColumn : named >= 0 ? named : width - 1;
  const hasHeader = opts.header ?? first.some((c, i) => i !== labelCol && !isNum(c));
  const header = hasHeader ? first : null;
  if (withLabel && typeof opts.labelColumn === 'string') {
    labelCol = header ? header.indexOf(opts.labelColumn) : -1;
    if (labelCol < 0) throw new InputFileError(file, `no column named '${opts.labelColumn}' in the header${header ? ` (columns: ${header.join(', ')})` : ' (the file has no header row)'}`);
  }
  const rows = hasHeader ? lines.slice(1) : lines;
  const n = rows.length, x = new Float32Array(n * features);
  const labels: string[] | null = withLabel ? new Array(n) : null;
  rows.forEach(({ l, no }, i) => {
    const cells = splitLine(l, delim);
    if (cells.length !== width) throw new InputFileError(file, `line ${no}: ${cells.length} columns, expected ${width}`);
    let f = 0;
    for (let c = 0; c < width; c++) {
      const s = cells[c].trim();
      if (c === labelCol) { labels![i] = s; continue; }
      const v = Number(s);
      if (s === '' || !Number.isFinite(v)) throw new InputFileError(file, `line ${no}, column ${header ? `'${header[c]}'` : c + 1}: '${s}' is not a finite number`);
      x[i * features + f++] = v;
    }
  });
  return { x, n, labels, header };
}

/** Reads a CSV file (gzipped or not) as UTF-8 text; errors name the file. */
export async function readCsvText(file: string): Promise<string> {
  let raw: Uint8Array;
  try {
    raw = await readFile(file);
  } catch (e) {
    throw new InputFileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(maybeGunzip(raw, file));
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw new InputFileError(file, 'not UTF-8 text');
  }
}
