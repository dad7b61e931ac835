// Per-kernel benchmark, every backend side by side in one run: matmul at workload W's shapes in
// all three Dense variants (GFLOP/s) and the fused kernels (GB/s). Each backend's result is
// checked against the TS reference before it is timed; a wrong result aborts the bench.
// Usage: node bench/kernels.mjs [--backend a,b] [--batch 128] [--ops matmul,softmaxT,...] [--reps 20] [--json | --wide]
// --wide: one row per case, one column per backend (GFLOP/s for matmul, GB/s otherwise; medians).
import { loadAvailableBackends, loadBackend } from '../dist/backends/index.js';
import * as ref from '../dist/kernels/reference.js';
import { Rng } from '../dist/nn/rng.js';
import { args, list, printTable, row, time } from './lib.mjs';

function rand(n, seed, scale = 1) {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (r.next() * 2 - 1) * scale;
  return a;
}
function owned(be, a) {
  const b = a instanceof Int32Array ? be.allocInt32(a.length) : be.alloc(a.length);
  b.set(a);
  return b;
}
function maxErr(a, b) {
  let d = 0, m = 1;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i]) || (Number.isNaN(a[i]) ? Infinity : 0)); m = Math.max(m, Math.abs(b[i])); }
  return d / m;
}

/** The cases: name, op, flops or bytes, a runner factory, and a checker. */
export function cases(N) {
  const K = 10;
  const mm = (label, M, Nn, Kk, tA, tB) => ({
    op: 'matmul', label, flops: 2 * M * Nn * Kk,
    make(be) {
      const A = rand(M * Kk, 1), B = rand(Kk * Nn, 2);
      const a = owned(be, A), b = owned(be, B), c = be.alloc(M * Nn);
      return {
        run: () => be.matmul(c, a, b, M, Nn, Kk, tA, tB, false),
        check() { const w = new Float32Array(M * Nn); ref.matmul(w, A, B, M, Nn, Kk, tA, tB, false); return maxErr(c, w) < 1e-4 * Math.sqrt(Kk); },
      };
    },
  });
  const big = 1200 * 1200 * 4;
  const elt = (op, n, bytesPerElt, mk) => ({ op, label: `${op} n=${n}`, bytes: n * bytesPerElt, make: mk(n) });
  return [
    mm(`fwd X·Wᵀ ${N}x1200x784`, N, 1200, 784, false, true),
    mm(`fwd X·Wᵀ ${N}x1200x1200`, N, 1200, 1200, false, true),
    mm(`fwd X·Wᵀ ${N}x800x784`, N, 800, 784, false, true),
    mm(`dW dYᵀ·X 800x784x${N}`, 800, 784, N, true, false),
    mm(`dW dYᵀ·X 800x800x${N}`, 800, 800, N, true, false),
    mm(`dX dY·W ${N}x800x800`, N, 800, 800, false, false),
    mm(`fwd X·Wᵀ ${N}x10x800`, N, 10, 800, false, true),
    mm('square 512x512x512', 512, 512, 512, false, false),
    elt('biasAdd', N * 1200, 8, (n) => (be) => { const y = owned(be, rand(n, 3)), b = owned(be, rand(1200, 4)); const y0 = y.slice(); return { run: () => be.biasAdd(y, b, n / 1200, 1200), check: () => { const w = y0.slice(); ref.biasAdd(w, b, n / 1200, 1200); return maxErr(y, w) < 1e-6; } }; }),
    elt('relu', N * 1200, 8, (n) => (be) => { const x = owned(be, rand(n, 5)), o = be.alloc(n); return { run: () => be.relu(o, x, n), check: () => { const w = new Float32Array(n); ref.relu(w, x, n); return maxErr(o, w) < 1e-6; } }; }),
    elt('reluBackward', N * 1200, 12, (n) => (be) => { const x = owned(be, rand(n, 5)), d = owned(be, rand(n, 6)), o = be.alloc(n); return { run: () => be.reluBackward(o, d, x, n), check: () => { const w = new Float32Array(n); ref.reluBackward(w, d, x, n); return maxErr(o, w) < 1e-6; } }; }),
    elt('gelu', N * 1200, 8, (n) => (be) => { const x = owned(be, rand(n, 5, 3)), o = be.alloc(n); return { run: () => be.gelu(o, x, n), check: () => { const w = new Float32Array(n); ref.gelu(w, x, n); return maxErr(o, w) < 1e-5; } }; }),
    elt('geluBackward', N * 1200, 12, (n) => (be) => { const x = owned(be, rand(n, 5, 3)), d = owned(be, rand(n, 6)), o = be.alloc(n); return { run: () => be.geluBackward(o, d, x, n), check: () => { const w = new Float32Array(n); ref.geluBackward(w, d, x, n); return maxErr(o, w) < 1e-5; } }; }),
    elt('softmaxT', N * K, 8, (n) => (be) => { const z = owned(be, rand(n, 7, 10)), o = be.alloc(n); return { run: () => be.softmaxT(o, z, N, K, 4), check: () => { const w = new Float32Array(n); ref.softmaxT(w, z, N, K, 4); return maxErr(o, w) < 1e-5; } }; }),
    elt('kdLoss', N * K, 12, (n) => (be) => { const s = owned(be, rand(n, 8, 10)), t = owned(be, rand(n, 9, 10)), d = be.alloc(n); let l = 0; return { run: () => { l = be.kdLoss(d, s, t, N, K, 4, 0.9, true, false); }, check: () => { const w = new Float32Array(n); const wl = ref.kdLoss(w, s, t, N, K, 4, 0.9, true, false); return maxErr(d, w) < 1e-5 && Math.abs(l - wl) < 1e-4 * Math.max(1, wl); } }; }),
    elt('crossEntropy', N * K, 8, (n) => (be) => { const z = owned(be, rand(n, 10, 10)), y = be.allocInt32(N), d = be.alloc(n); for (let i = 0; i < N; i++) y[i] = i % K; let l = 0; return { run: () => { l = be.crossEntropy(d, z, y, N, K, 0.1, false); }, check: () => { const w = new Float32Array(n); const wl = ref.crossEntropy(w, z, y, N, K, 0.1, false); return maxErr(d, w) < 1e-5 && Math.abs(l - wl) < 1e-4 * Math.max(1, wl); } }; }),
    elt('mse', N * 1200, 12, (n) => (be) => { const p = owned(be, rand(n, 11)), t = owned(be, rand(n, 12)), d = be.alloc(n); let l = 0; return { run: () => { l = be.mse(d, p, t, n, 1, false); }, check: () => { const w = new Float32Array(n); const wl = ref.mse(w, p, t, n, 1, false); return maxErr(d, w) < 1e-5 && Math.abs(l - wl) < 1e-4 * Math.max(1, wl); } }; }),
    elt('sgdStep', 1_276_810, 16, (n) => (be) => { const p = owned(be, rand(n, 13)), g = owned(be, rand(n, 14)), m = be.alloc(n); const hp = { lr: 1e-3, momentum: 0.9, weightDecay: 0, nesterov: false }; return { run: () => be.sgdStep(p, g, m, n, hp), check: () => { const wp = p.slice(), wm = m.slice(); ref.sgdStep(wp, g, wm, n, hp); be.sgdStep(p, g, m, n, hp); return maxErr(p, wp) < 1e-5; } }; }),
    elt('adamwStep', 1_276_810, 24, (n) => (be) => { const p = owned(be, rand(n, 15)), g = owned(be, rand(n, 16)), m = be.alloc(n), v = be.alloc(n); let step = 1; const hp = () => ({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: step++ }); return { run: () => be.adamwStep(p, g, m, v, n, hp()), check: () => { const wp = p.slice(), wm = m.slice(), wv = v.slice(); const h = hp(); ref.adamwStep(wp, g, wm, wv, n, h); be.adamwStep(p, g, m, v, n, h); return maxErr(p, wp) < 1e-5; } }; }),
  ].filter(Boolean);
}

async function main() {
  const a = args({ backend: { type: 'string' }, batch: { type: 'string', default: '128' }, ops: { type: 'string' }, reps: { type: 'string', default: '20' }, wide: { type: 'boolean', default: false } });
  const backends = a.backend ? await Promise.all(list(a.backend).map(loadBackend)) : (await loadAvailableBackends((m) => console.error(m))).backends;
  const wanted = a.ops ? new Set(list(a.ops)) : null;
  const rows = [];
  for (const N of list(a.batch, Number)) {
    for (const c of cases(N)) {
      if (wanted && !wanted.has(c.op)) continue;
      for (const be of backends) {
        const r = c.make(be);
        r.run();
        if (!r.check()) throw new Error(`${be.name} ${c.label}: result differs from the reference; not timing a wrong kernel`);
        const slow = be.name === 'js' && c.flops > 1e8;
        const t = time(r.run, { warmup: slow ? 1 : 3, reps: slow ? 3 : Number(a.reps), minMs: slow ? 0 : 200 });
        const out = row(be.name, 1, N, c.op, t, c.flops);
        out.case = c.label;
        if (c.bytes) out.gbps = +(c.bytes / (t.median * 1e6)).toFixed(2);
        rows.push(out);
      }
    }
  }
  if (a.json) console.log(JSON.stringify(rows, null, 1));
  else if (a.wide) {
    const names = [...new Set(rows.map((r) => r.backend))];
    const wide = [...new Set(rows.map((r) => r.case))].map((c) => {
      const out = { case: c };
      for (const n of names) {
        const r = rows.find((x) => x.case === c && x.backend === n);
        out[n] = r ? (r.op === 'matmul' ? `${r.gflops} GF/s` : `${r.gbps} GB/s`) : '';
      }
      return out;
    });
    printTable(wide, ['case', ...names]);
  } else printTable(rows, ['case', 'backend', 'ms_median', 'ms_min', 'ms_max', 'cpu_ms_median', 'gflops', 'gbps']);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
