// Per-kernel benchmark, every backend side by side: a thin wrapper over `distill bench` with every
// kernel of the contract and no KD step (src/cli/bench.ts: each result is checked against the TS
// reference before it is timed). Other flags pass through; no HTML report unless --html FILE.
// Usage: node bench/kernels.mjs [--backend a,b] [--batch 128] [--ops matmul,softmax_t,...] [--quick] [--json]
import { KERNEL_OPS } from '../dist/cli/bench.js';
import { run } from '../dist/cli/main.js';

const argv = process.argv.slice(2);
const ops = argv.some((a) => a === '--ops' || a.startsWith('--ops=')) ? [] : ['--ops', KERNEL_OPS.join(',')];
process.exitCode = await run(['bench', '--html', '-', ...ops, ...argv]);
