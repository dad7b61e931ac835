// `distill <command>`: dispatches to the commands, prints one clear line on bad input, and maps
// each kind of failure to an exit code (2 bad input/config, 3 backend, 4 numerical, 1 other).

import { DistilleryError, Interrupted } from '../errors.js';
import { closest } from './options.js';
import { bench } from './bench.js';
import { quantize } from './quantize.js';
import { prune } from './prune.js';
import { sweep } from './sweep.js';
import { demo, evalCmd, exportCmd, logits, predictCmd, student, teach } from './commands.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; about: string }> = {
  teach: { run: teach, about: 'train a teacher model with cross-entropy' },
  student: { run: student, about: 'distill a student from saved teacher(s): KD on soft targets + hard-label CE' },
  logits: { run: logits, about: 'run teacher(s) once over a training set and save their logits for distill student --teacher-logits' },
  predict: { run: predictCmd, about: 'predict the classes of raw rows (CSV, NPY, IDX) with a saved model' },
  quantize: { run: quantize, about: 'post-training int8 quantization of a saved model, calibrated on data (≈4× smaller; int8 kernels)' },
  export: { run: exportCmd, about: 'write a saved model as ONNX (with its input transform and class names)' },
  eval: { run: evalCmd, about: 'evaluate a saved model: accuracy, loss, test errors' },
  prune: { run: prune, about: 'prune a saved model (structured: whole neurons/channels; or unstructured masks), then recover it by KD from the unpruned model' },
  sweep: { run: sweep, about: 'train many candidate students from one cached set of teacher logits under a time budget; the accuracy / latency / size Pareto front and a pick' },
  bench: { run: bench, about: 'every available backend side by side: each kernel and the KD step on workload W; table, --json, HTML report' },
  demo: { run: demo, about: 'teacher → distilled student vs. the same student alone, on the built-in data' },
};

export function usage(): string {
  const lines = ['usage: distill <command> [options]', '', 'Knowledge distillation for Node.js: turn a big model into a small, fast one.', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${c.about}`);
  lines.push('', "Run 'distill <command> --help' for a command's options. DEBUG=1 prints stack traces.");
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return cmd ? 0 : 2;
  }
  if (cmd === '--version') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../../package.json').version);
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    const guess = closest(cmd, Object.keys(COMMANDS));
    console.error(`error: unknown command '${cmd}'${guess ? `; did you mean '${guess}'?` : ''} (commands: ${Object.keys(COMMANDS).join(', ')}; see distill --help)`);
    return 2;
  }
  try {
    await c.run(rest);
    return 0;
  } catch (e) {
    if (e instanceof DistilleryError) {
      console.error(`${e instanceof Interrupted ? 'interrupted' : 'error'}: ${e.message}`);
      if (process.env.DEBUG) console.error(e.stack);
      return e.exitCode;
    }
    console.error(`internal error: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}
