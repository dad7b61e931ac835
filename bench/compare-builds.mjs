// The KD step of two builds side by side: `distill bench --ops kd_step --json` of build A and of
// build B, alternated for --rounds rounds (A, B, A, B, ...), so that a shared machine's drifts hit
// both alike; per backend x workers x batch: each build's median ms over the rounds and the median
// of the per-round ratios B/A. A build is the path of its bin/distill.js (e.g. a worktree of an
// older commit, built with npm ci).
// usage: node bench/compare-builds.mjs --a OLD/bin/distill.js --b bin/distill.js [--rounds 5]
//        [--backend native,wasm-simd] [--workers 1,2] [--batch 128]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({ options: {
  a: { type: 'string' }, b: { type: 'string', default: 'bin/distill.js' }, rounds: { type: 'string', default: '5' },
  backend: { type: 'string', default: 'native,wasm-simd' }, workers: { type: 'string', default: '1,2' }, batch: { type: 'string', default: '128' },
} });
if (!o.a) throw new Error('--a OLD/bin/distill.js is required');
const rounds = Number(o.rounds);
const median = (xs) => { const s = [...xs].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const run = (bin) => JSON.parse(execFileSync(process.execPath, [bin, 'bench', '--ops', 'kd_step', '--backend', o.backend, '--workers', o.workers, '--batch', o.batch, '--json', '--html', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 }));
const key = (r) => `${r.backend} x${r.workers} N=${r.batch}`;
const ms = { a: new Map(), b: new Map() }, ratios = new Map();
for (let i = 0; i < rounds; i++) {
  const got = {};
  for (const side of ['a', 'b']) {
    got[side] = new Map(run(o[side]).filter((r) => r.op === 'kd_step' && r.ms_median > 0).map((r) => [key(r), r.ms_median]));
    for (const [k, v] of got[side]) ms[side].set(k, [...(ms[side].get(k) ?? []), v]);
  }
  for (const [k, v] of got.b) if (got.a.has(k)) ratios.set(k, [...(ratios.get(k) ?? []), v / got.a.get(k)]);
  process.stderr.write(`round ${i + 1}/${rounds} done\n`);
}
console.log('| backend x workers, batch | A ms (median of rounds) | B ms | B/A (median of per-round ratios) | per-round B/A |');
console.log('|---|---:|---:|---:|---|');
for (const [k, r] of ratios) console.log(`| ${k} | ${median(ms.a.get(k)).toFixed(2)} | ${median(ms.b.get(k)).toFixed(2)} | ${median(r).toFixed(3)} | ${r.map((x) => x.toFixed(2)).join(', ')} |`);
