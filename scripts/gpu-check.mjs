// The conformance suite without vitest, for a machine that has a GPU but no npm packages: every
// kernel's conformance cases (and bench's at a small batch) on the named backends, against the TS
// reference, in backend buffers and in plain arrays; then a finite-difference check of each
// layer's backward (a small CNN and an MLP) on the same backends. Needs only node, the compiled
// dist/ (npm run build:ts) and the built addons. Exit status 1 when anything fails.
// Usage: node scripts/gpu-check.mjs [--backends cuda,native]
import { parseArgs } from 'node:util';
import { loadBackend } from '../dist/backends/index.js';
import { KERNEL_NAMES } from '../dist/kernels/signatures.js';
import { OP_CASES, check, conformanceCases, placeOn, plainPlace, randArray } from '../dist/kernels/cases.js';

const { values } = parseArgs({ options: { backends: { type: 'string', default: 'cuda,native' } } });
let failures = 0;
for (const name of values.backends.split(',')) {
  let be;
  try {
    be = await loadBackend(name);
  } catch (e) {
    console.log(`${name}: not available: ${e.message}`);
    failures++;
    continue;
  }
  console.log(`== ${name}: ${be.description}`);
  for (const kernel of KERNEL_NAMES) {
    const cases = [...conformanceCases(kernel), ...OP_CASES[kernel].bench(3)];
    let bad = 0;
    const t0 = performance.now();
    for (const owned of [true, false]) {
      for (const c of cases) {
        let why;
        try {
          why = check(c, be, owned ? placeOn(be) : plainPlace);
        } catch (e) {
          why = `threw ${e.message}`;
        }
        if (why) {
          bad++;
          if (bad <= 5) console.log(`  FAIL ${kernel} ${c.what} (${owned ? 'backend' : 'foreign'} buffers): ${why}`);
        }
      }
    }
    failures += bad;
    console.log(`  ${kernel}: ${2 * cases.length - bad}/${2 * cases.length} cases pass (${(performance.now() - t0).toFixed(0)} ms)`);
  }
  failures += await layerGradients(be);
  be.dispose?.();
}
console.log(failures === 0 ? 'gpu-check: all passed' : `gpu-check: ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);

/**
 * Finite differences of L = Σ logits·r through whole models (every layer's backward on `be`),
 * in float64 arithmetic on the float32 model: relative agreement within 2e-2 + 2e-3 absolute.
 */
async function layerGradients(be) {
  let Sequential;
  try {
    ({ Sequential } = await import('../dist/nn/sequential.js'));
  } catch (e) {
    console.log(`  layer gradients: skipped (${e.message})`);
    return 1;
  }
  const models = [
    { input: [8], layers: ['dense:6', 'relu', 'dense:3'] },
    { input: [2, 8, 8], layers: ['conv:4x3', 'bn', 'relu', 'maxpool:2', 'conv:4x3/dw', 'relu', 'avgpool:2', 'flatten', 'dense:3'] },
  ];
  let bad = 0;
  for (const config of models) {
    let m;
    try {
      m = new Sequential(be, config, 7);
    } catch (e) {
      console.log(`  layer gradients ${config.layers.join(',')}: FAIL, the model does not build (${e.message})`);
      bad++;
      continue;
    }
    const N = 3, x = be.alloc(N * m.inputs);
    x.set(randArray(N * m.inputs, 5));
    const r = randArray(N * m.classes, 6);
    const loss = () => {
      const z = m.forward(x, N);
      let s = 0;
      for (let i = 0; i < N * m.classes; i++) s += z[i] * r[i];
      return s;
    };
    loss();
    m.zeroGrads();
    const dz = be.alloc(N * m.classes);
    dz.set(r);
    m.backward(dz);
    const g = m.store.grads.slice(), p = m.store.params;
    let worst = 0;
    for (let i = 0; i < m.store.count; i += Math.max(1, Math.floor(m.store.count / 40))) {
      const h = 1e-2, keep = p[i];
      p[i] = keep + h;
      const up = loss();
      p[i] = keep - h;
      const down = loss();
      p[i] = keep;
      const num = (up - down) / (2 * h), err = Math.abs(g[i] - num) - (2e-3 + 2e-2 * Math.abs(num));
      worst = Math.max(worst, err);
      if (err > 0) bad++;
    }
    console.log(`  layer gradients ${config.layers.join(',')}: ${bad === 0 ? 'ok' : `${bad} params off`} (worst excess ${worst.toExponential(1)})`);
    m.release();
  }
  return bad;
}
