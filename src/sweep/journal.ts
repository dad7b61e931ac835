// DIR/sweep.jsonl: one line per finished (candidate, rung), appended whole and fsynced, so a sweep
// that is killed keeps every line it finished and a rerun skips them. A last line cut by a crash
// (no newline at its end) is dropped when the file is opened; a line that is not valid JSON
// elsewhere is an error naming the file and line (it was not written by a sweep).

import { existsSync, readFileSync, truncateSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { describeErrno, InputFileError, OutputError } from '../errors.js';
import type { Candidate } from './space.js';

/** What the sweep measured of one model (a candidate, or its int8 or pruned form): a point of its own. */
export interface MeasuredPoint { val_accuracy: number; val_loss: number; bytes: number; ms1: number; ms128: number; model: string }

export interface SweepLine {
  /** Candidate hash (config + training settings) and the rung this line finished. */
  hash: string;
  rung: number;
  /** Epochs the candidate had after this rung. */
  epochs: number;
  key: string;
  config: Candidate;
  val_accuracy: number;
  val_loss: number;
  params: number;
  bytes: number;
  /** ms per forward of a batch of 1 and 128 on deploy_backend. */
  ms1: number;
  ms128: number;
  deploy_backend: string;
  /** Wall-clock seconds of this rung's training (and validation) and of all rungs so far. */
  train_seconds: number;
  total_train_seconds: number;
  /** The model file, relative to DIR. */
  model: string;
  runtime: { mode: 'parallel' | 'one-at-a-time'; backend: string; workers: number };
  date: string;
  /** The training diverged (the message): a finished result that is never promoted nor picked, and has no model file. */
  failed?: string;
  /** Seconds of train_seconds spent on the int8 and pruned forms (they do not scale with the epochs). */
  extra_seconds?: number;
  /** With --sparsity: the structured-pruned forms of the same model (after KD recovery), each measured as its own architecture. */
  pruned?: (MeasuredPoint & { sparsity: number; recover_epochs: number; params: number; failed?: string; /** With --int8 too: the pruned model's int8 form. */ int8?: MeasuredPoint })[];
  /** With --int8: the int8 (post-training quantized) form of the same model, measured the same way. */
  int8?: MeasuredPoint;
}

/** Reads the finished lines (dropping a cut last line, and truncating the file to match). */
export function readJournal(file: string): SweepLine[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  let body = text;
  if (text.length && !text.endsWith('\n')) {
    const cut = text.lastIndexOf('\n') + 1;
    body = text.slice(0, cut);
    truncateSync(file, Buffer.byteLength(body, 'utf8'));
  }
  const out: SweepLine[] = [];
  body.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let j: SweepLine;
    try {
      j = JSON.parse(line);
    } catch (e) {
      throw new InputFileError(file, `line ${i + 1} is not valid JSON (${(e as Error).message}); this file holds one JSON object per finished candidate; move it away to start the sweep afresh`);
    }
    if (typeof j !== 'object' || j === null || typeof j.hash !== 'string' || !Number.isInteger(j.rung) || typeof j.val_accuracy !== 'number') {
      throw new InputFileError(file, `line ${i + 1} is not a sweep result (needs hash, rung, val_accuracy)`);
    }
    out.push(j);
  });
  return out;
}

/** Appends one line (whole, then fsync). */
export async function appendJournal(file: string, line: SweepLine): Promise<void> {
  const buf = Buffer.from(JSON.stringify(line) + '\n', 'utf8');
  let fh;
  try {
    fh = await open(file, 'a', 0o644);
    let off = 0;
    while (off < buf.byteLength) off += (await fh.write(buf, off, buf.byteLength - off)).bytesWritten;
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new OutputError(file, code, `cannot append: ${describeErrno(code)} (${code}); the lines already there are kept`);
    throw e;
  } finally {
    await fh?.close().catch(() => {});
  }
}

/**
 * DIR/sweep.state.json: what the runs of one sweep (one set of candidates and settings, `key`)
 * have spent of its budget. The budget is the sweep's, not each run's: a run that is stopped
 * (Ctrl-C, kill) leaves the rest of the budget to the next run, and a run that ended normally
 * with the budget it was given ("complete") leaves nothing to redo: rerunning the same command
 * trains nothing, and only a larger --budget-minutes trains on (for what the earlier runs left).
 */
export interface SweepState {
  /** Hash of the candidates' ids and the halving settings: a state of another sweep is ignored. */
  key: string;
  /** The budget of the last run, seconds (null: none). */
  budget_seconds: number | null;
  /** Wall-clock seconds of every run of this sweep so far. */
  spent_seconds: number;
  /** The last run ended normally (not interrupted): its skipped jobs are settled for its budget. */
  complete: boolean;
  /** How many jobs the last run skipped, and which (as the output lists them): a settled sweep's rerun lists them again. */
  skipped: number;
  skipped_jobs?: string[];
  date: string;
}

/** The state file's contents, or null (none, or not a state file: it is then rewritten). */
export function readSweepState(file: string): SweepState | null {
  if (!existsSync(file)) return null;
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as SweepState;
    if (typeof s !== 'object' || s === null || typeof s.key !== 'string' || !(typeof s.spent_seconds === 'number' && s.spent_seconds >= 0) || typeof s.complete !== 'boolean') return null;
    return s;
  } catch {
    return null;
  }
}
