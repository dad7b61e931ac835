// Memory of loading a large CSV: writes a ROWS x COLS CSV of random values with an integer label
// (if the file is not there yet), then loads it the way `--data FILE.csv` does (stream, 80/20
// split, standardization) and reports the peak resident memory above the process's baseline,
// as a multiple of the dataset's float32 array (ROWS x COLS x 4 bytes).
// usage: node --expose-gc bench/csv-memory.mjs [--rows 1000000] [--cols 50] [--file big.csv]
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadDataset } from '../dist/data/builtin.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, cols: { type: 'string', default: '50' }, file: { type: 'string', default: 'csv-memory.csv' } } });
const rows = Number(values.rows), cols = Number(values.cols), file = values.file;
if (!existsSync(file)) {
  const out = createWriteStream(file);
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  out.write(Array.from({ length: cols }, (_, c) => `f${c}`).join(',') + ',label\n');
  for (let i = 0; i < rows; i++) {
    let line = '';
    for (let c = 0; c < cols; c++) line += (rnd() * 100).toFixed(3) + ',';
    if (!out.write(line + (i % 10) + '\n')) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
}
globalThis.gc?.();
const base = process.memoryUsage().rss;
let peak = base;
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
const t0 = performance.now();
const d = await loadDataset(file);
peak = Math.max(peak, process.memoryUsage().rss);
clearInterval(timer);
const arr = rows * cols * 4;
console.log(JSON.stringify({ file, bytes: statSync(file).size, rows: d.train.n + d.test.n, cols: d.train.features, seconds: +((performance.now() - t0) / 1000).toFixed(1), float32MB: +(arr / 2 ** 20).toFixed(1), peakAboveBaselineMB: +((peak - base) / 2 ** 20).toFixed(1), ratio: +((peak - base) / arr).toFixed(2) }));
