// The full KD training step on workload W, per backend, one thread: ms per step (median of 50
// timed steps after 10 warm-up steps), samples/s and GFLOP/s.
// W: float32; batch N (128, 512); teacher 784-1200-1200-10 ReLU, eval mode, forward only;
// student 784-800-800-10 ReLU; loss 0.9·T²·KL + 0.1·CE, T=4; SGD lr 0.01 momentum 0.9.
// Usage: node bench/kd-step.mjs [--backend a,b] [--batch 128,512] [--steps 50] [--warmup 10] [--json]
import { loadAvailableBackends, loadBackend } from '../dist/backends/index.js';
import { Sequential } from '../dist/nn/sequential.js';
import { Rng } from '../dist/nn/rng.js';
import { createOptimizer } from '../dist/optim/optimizer.js';
import { kdObjective } from '../dist/distill/losses.js';
import { args, list, printTable, row, time } from './lib.mjs';

export const W_FLOP_PER_SAMPLE = 11_182_400;

/** Builds workload W on a backend and returns { step(), loss() , release() }. */
export function buildW(be, N) {
  const teacher = new Sequential(be, { layers: [784, 1200, 1200, 10], activation: 'relu' }, 1).eval();
  const student = new Sequential(be, { layers: [784, 800, 800, 10], activation: 'relu' }, 2).train();
  const opt = createOptimizer(be, student.store.length, { kind: 'sgd', lr: 0.01, momentum: 0.9 });
  const rng = new Rng(0);
  const x = be.alloc(N * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = be.allocInt32(N);
  for (let i = 0; i < N; i++) y[i] = rng.int(10);
  const dS = be.alloc(N * 10);
  let last = NaN;
  const kd = { T: 4, alpha: 0.9, scaleT2: true };
  return {
    step() {
      const t = teacher.forward(x, N);
      const s = student.forward(x, N);
      last = kdObjective(be, dS, s, t, y, N, 10, kd).loss;
      student.zeroGrads();
      student.backward(dS);
      opt.step(student.store.params, student.store.grads, 0.01);
    },
    loss: () => last,
    release() { teacher.release(); student.release(); opt.release(); be.free(x); be.free(y); be.free(dS); },
  };
}

async function main() {
  const a = args({ backend: { type: 'string' }, batch: { type: 'string', default: '128,512' }, steps: { type: 'string', default: '50' }, warmup: { type: 'string', default: '10' } });
  const backends = a.backend ? await Promise.all(list(a.backend).map(loadBackend)) : (await loadAvailableBackends((m) => console.error(m))).backends;
  const rows = [];
  for (const be of backends) {
    for (const N of list(a.batch, Number)) {
      const w = buildW(be, N);
      const first = (w.step(), w.loss());
      const t = time(() => w.step(), { warmup: Number(a.warmup) - 1, reps: Number(a.steps) });
      if (!Number.isFinite(w.loss())) throw new Error(`${be.name}: loss is ${w.loss()}`);
      const r = row(be.name, 1, N, 'kd_step', t, W_FLOP_PER_SAMPLE * N);
      rows.push({ ...r, samples_per_s: Math.round((N * 1000) / t.median), loss_first: +first.toFixed(4), loss_last: +w.loss().toFixed(4) });
      w.release();
      if (!a.json) console.error(`${be.name} N=${N}: ${t.median.toFixed(2)} ms/step`);
    }
  }
  if (a.json) console.log(JSON.stringify(rows, null, 1));
  else printTable(rows, ['backend', 'workers', 'batch', 'op', 'ms_median', 'ms_min', 'ms_max', 'cpu_ms_median', 'gflops', 'samples_per_s', 'loss_first', 'loss_last']);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
