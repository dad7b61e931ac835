// `distill quantize MODEL --calib DATA --out FILE`: post-training int8 quantization of a float
// model file (src/compress/quantize.ts), calibrated on the first rows of DATA's training split;
// prints float vs int8 accuracy on the test split, their top-1 agreement, file sizes and the time
// of a batch of 128 and of 1, float and int8, on the chosen backend, and writes the same as an
// HTML report beside the int8 file (--report). The outputs are written atomically (nothing is
// left behind on failure).

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { CALIBRATION_METHODS, DEFAULT_PERCENTILE, calibrate, inferenceMs, quantizeModel, topAgreement, type CalibrationMethod } from '../compress/quantize.js';
import { readModel, saveQuantizedModel } from '../io/model-file.js';
import { evaluate } from '../train/trainer.js';
import { writeFileAtomic } from '../io/atomic.js';
import { COMMON, DATA, num, type OptionDoc } from './options.js';
import { commandLine, quantizeReportHtml } from './report.js';
import { data, helpOr, pickBackend } from './commands.js';
import { Progress } from './progress.js';

/** The default calibration (measured: see docs/quantization.md and the --help text). */
export const DEFAULT_METHOD: CalibrationMethod = 'minmax';
export const DEFAULT_CALIB_SAMPLES = 1000;

const QUANTIZE_DOCS: OptionDoc[] = [
  { flag: 'calib', type: 'string', help: "calibration data, as --data of distill teach ('mnist', 'fashion-mnist', a .csv, an IDX folder): its first --calib-samples training rows set the activation ranges; its test split is used to compare float and int8", default: 'mnist' },
  { flag: 'out', type: 'string', help: 'int8 model file to write (safetensors: I8 weights, F32 scales and biases)', default: 'MODEL with .int8.safetensors' },
  { flag: 'method', type: 'string', help: `activation range: minmax (observed min and max) or percentile (clip each tail at --percentile). minmax is the default: on the 784-64-10 digits MLP and a small CNN it matched or beat percentile (docs/quantization.md)`, default: DEFAULT_METHOD },
  { flag: 'percentile', type: 'string', help: 'percentile method: the share of each tail kept, in percent', default: String(DEFAULT_PERCENTILE) },
  { flag: 'calib-samples', type: 'string', help: 'training rows observed for calibration', default: String(DEFAULT_CALIB_SAMPLES) },
  { flag: 'report', type: 'string', help: "HTML report (size, accuracy and speed before/after, as bar charts); '-' for none", default: 'OUT with .report.html' },
  { flag: 'json', type: 'boolean', help: 'print the summary as one JSON line' },
  ...DATA.filter((d) => d.flag !== 'data'),
  ...COMMON.filter((d) => d.flag === 'backend' || d.flag === 'quiet' || d.flag === 'verbose'),
  { flag: 'help', type: 'boolean', help: 'show this help' },
];

export async function quantize(argv: string[]): Promise<void> {
  const [file, ...rest] = argv;
  const usage = 'distill quantize MODEL [--calib DATA] [--out FILE] [options]';
  const about = 'Post-training int8 quantization of a float32 model file: weights int8 per output channel (symmetric), each dense/conv layer\'s input uint8 per tensor with a range calibrated on DATA; batch norm after a conv/dense layer is folded in first. The int8 file is about 4× smaller; eval, predict, logits, student --teacher, export (QDQ ONNX) and loadModel() take it like a float model.';
  const examples = ['distill quantize runs/student/model.safetensors --calib mnist --out runs/student/model.int8.safetensors', 'distill quantize runs/cnn/model.safetensors --calib fashion-mnist --method percentile --percentile 99.99 --calib-samples 2000 --out cnn.int8.safetensors'];
  if (!file || file.startsWith('-')) {
    const v = helpOr(argv, usage, about, QUANTIZE_DOCS, examples);
    if (!v) return;
    throw new ConfigError(`distill quantize needs MODEL, a float32 model file: ${examples[0]} (see --help)`);
  }
  const v = helpOr(rest, usage, about, QUANTIZE_DOCS, examples);
  if (!v) return;
  const method = String(v.method) as CalibrationMethod;
  if (!(CALIBRATION_METHODS as readonly string[]).includes(method)) throw new ConfigError(`--method: expected ${CALIBRATION_METHODS.join(' or ')}, got ${JSON.stringify(v.method)}`);
  const percentile = num(v, 'percentile', { min: 50, max: 100 });
  if (method === 'percentile' && !(percentile > 50)) throw new ConfigError(`--percentile: expected a number in (50, 100], got ${JSON.stringify(v.percentile)}`);
  const samples = num(v, 'calib-samples', { int: true, min: 1 });
  const out = resolve(typeof v.out === 'string' && v.out !== QUANTIZE_DOCS[1].default ? v.out : file.replace(/(\.safetensors)?$/i, '.int8.safetensors'));
  if (out === resolve(file)) throw new ConfigError(`--out ${out} would overwrite the float model it is made from`);
  const progress = new Progress('quantize', process.stderr, v.quiet === true || v.json === true);
  const be = await pickBackend(v, progress);
  const { model, info } = await readModel(file, be);
  try {
    const d = await data({ ...v, data: v.calib }, progress);
    if (d.train.features !== model.inputs) throw new ConfigError(`--calib ${v.calib}: ${d.train.features} features per sample, but ${file} takes ${model.inputs} inputs`);
    const n = Math.min(samples, d.train.n);
    const t0 = performance.now();
    const ranges = calibrate(model, d.train.x, n, { method, percentile });
    const q = quantizeModel(model, ranges);
    try {
      await saveQuantizedModel(out, q, { role: 'int8', source: file, calibration: JSON.stringify({ data: d.train.name, method, percentile: method === 'percentile' ? percentile : undefined, samples: n }) }, info);
      const seconds = (performance.now() - t0) / 1000;
      const [fBytes, qBytes] = [(await stat(file)).size, (await stat(out)).size];
      const test = d.test.n ? d.test : d.train;
      const ef = evaluate(model, test), eq = evaluate(q, test);
      const agree = topAgreement(model, q, test.x, test.n).agreement;
      const ms = { f32_b128: inferenceMs(model, 128), int8_b128: inferenceMs(q, 128), f32_b1: inferenceMs(model, 1, 50), int8_b1: inferenceMs(q, 1, 50) };
      const summary = {
        model: file, out, backend: be.name, method, percentile: method === 'percentile' ? percentile : undefined, calib_samples: n, split: d.test.n ? 'test' : 'train',
        f32_accuracy: ef.accuracy, int8_accuracy: eq.accuracy, agreement: agree, f32_bytes: fBytes, int8_bytes: qBytes, ...ms, seconds,
      };
      const reportPath = v.report === '-' ? null : resolve(typeof v.report === 'string' && v.report !== 'OUT with .report.html' ? v.report : out.replace(/(\.safetensors)?$/i, '.report.html'));
      if (reportPath) {
        await writeFileAtomic(reportPath, quantizeReportHtml({
          model: file, out, backend: be.name, calibration: `${method}${method === 'percentile' ? ` ${percentile}` : ''} calibration on ${n} rows of ${d.train.name}`, split: summary.split, n: test.n,
          f32: { accuracy: ef.accuracy, bytes: fBytes, ms128: ms.f32_b128, ms1: ms.f32_b1 }, int8: { accuracy: eq.accuracy, bytes: qBytes, ms128: ms.int8_b128, ms1: ms.int8_b1 },
          agreement: agree, command: commandLine('quantize', argv),
        }));
      }
      if (v.json) {
        console.log(JSON.stringify({ ...summary, report: reportPath }));
        return;
      }
      const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
      console.log(`quantize: ${file} → ${out} (${method}${method === 'percentile' ? ` ${percentile}` : ''} calibration on ${n} rows of ${d.train.name}, ${seconds.toFixed(1)} s)`);
      console.log(`quantize: ${summary.split} accuracy float32 ${pct(ef.accuracy)} → int8 ${pct(eq.accuracy)} (${eq.accuracy >= ef.accuracy ? '+' : ''}${((eq.accuracy - ef.accuracy) * 100).toFixed(2)} pt); top-1 agreement ${pct(agree)} on ${test.n} rows`);
      console.log(`quantize: size ${fBytes.toLocaleString('en-US')} → ${qBytes.toLocaleString('en-US')} bytes (${(qBytes / fBytes).toFixed(3)}×)`);
      console.log(`quantize: speed on ${be.name}: batch of 128 ${ms.f32_b128.toFixed(3)} → ${ms.int8_b128.toFixed(3)} ms (int8 ${(ms.f32_b128 / ms.int8_b128).toFixed(2)}× as fast); batch of 1 ${ms.f32_b1.toFixed(3)} → ${ms.int8_b1.toFixed(3)} ms (${(ms.f32_b1 / ms.int8_b1).toFixed(2)}×)`);
      if (reportPath) console.log(`quantize: report ${reportPath}`);
    } finally {
      q.release();
    }
  } finally {
    model.release();
  }
}
