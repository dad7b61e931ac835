// The full KD training step on workload W (src/step/kd-step.ts), per backend: a thin wrapper
// over `distill bench --ops kd_step`, one worker unless --workers. Other flags pass through; no
// HTML report unless --html FILE.
// Usage: node bench/kd-step.mjs [--backend a,b] [--batch 128,512] [--workers 1,2] [--steps 50] [--warmup 10] [--json]
import { run } from '../dist/cli/main.js';

const argv = process.argv.slice(2);
const workers = argv.some((a) => a === '--workers' || a.startsWith('--workers=')) ? [] : ['--workers', '1'];
process.exitCode = await run(['bench', '--html', '-', '--ops', 'kd_step', ...workers, ...argv]);
