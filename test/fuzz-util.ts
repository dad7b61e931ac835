// Fuzzing helpers (fast-check): mutations of valid seed files and the property every reader must
// keep on them: a clean error (a DistilleryError naming the file) or a valid result; never another
// exception, a crash or a hang. A failing input is written to FUZZ_SAVE_DIR (default: the OS temp
// folder) so it can become a fixture in test/fixtures/fuzz/ (see fuzz-regressions.test.ts).

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DistilleryError } from '../src/errors.js';

/** Runs per target: FUZZ_RUNS when set (a long local session), else the target's default. */
export function runs(defaultRuns: number): number {
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(n) && n > 0 ? n : defaultRuns;
}

/** fast-check's seed: FUZZ_SEED when set, else a fixed one (CI is repeatable). */
export const SEED = Number.isInteger(Number(process.env.FUZZ_SEED)) && process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 0x5eed16;

/** One edit of a byte image. Positions are taken modulo the length at the time of the edit. */
export type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'set'; pos: number; byte: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'insert'; pos: number; bytes: number[] }
  | { kind: 'delete'; pos: number; len: number }
  | { kind: 'overwrite'; pos: number; bytes: number[] }
  | { kind: 'duplicate'; pos: number; len: number; at: number }
  | { kind: 'field'; edit: number; value: number };

/** Bytes that mean something in the formats read here: 0, all-ones, sign bits, digits, JSON and CSV syntax. */
const SPECIAL = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x30, 0x31, 0x39, 0x2d, 0x2e, 0x65, 0x22, 0x2c, 0x3b, 0x0a, 0x0d, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x20, 0x23, 0xc3, 0xef, 0xbb, 0xbf];
const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...SPECIAL));
const pos = fc.nat({ max: 1 << 20 });
const bytes = fc.array(byte, { minLength: 1, maxLength: 16 });

/**
 * 1 to 4 mutations: bit flips, byte sets, truncation, insertion, deletion, overwrites, duplicated
 * ranges, and (with `fields` > 0) the format's header-field edits (`fields` kinds, each with a
 * value index the format maps to its own pool of bad values).
 */
export function mutations(fields = 0): fc.Arbitrary<Mutation[]> {
  const generic: fc.Arbitrary<Mutation>[] = [
    fc.record({ kind: fc.constant('flip' as const), pos, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('set' as const), pos, byte }),
    fc.record({ kind: fc.constant('truncate' as const), keep: pos }),
    fc.record({ kind: fc.constant('insert' as const), pos, bytes }),
    fc.record({ kind: fc.constant('delete' as const), pos, len: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('overwrite' as const), pos, bytes }),
    fc.record({ kind: fc.constant('duplicate' as const), pos, len: fc.integer({ min: 1, max: 64 }), at: pos }),
  ];
  const any = fc.oneof(...generic);
  if (fields === 0) return fc.oneof(fc.array(any, { minLength: 1, maxLength: 1 }), fc.array(any, { minLength: 1, maxLength: 4 }));
  const field = fc.record({ kind: fc.constant('field' as const), edit: fc.nat({ max: fields - 1 }), value: fc.nat({ max: 1 << 16 }) });
  // A third each: header-field edits only (files that still parse, with bad values inside), raw
  // byte edits only, and both mixed.
  return fc.oneof(
    fc.array(field, { minLength: 1, maxLength: 3 }),
    fc.array(any, { minLength: 1, maxLength: 4 }),
    fc.array(fc.oneof(any, field), { minLength: 2, maxLength: 4 }),
  );
}

/** A format's header-field edit: (image, which edit, value index) → the edited image. */
export type FieldEdit = (buf: Uint8Array, edit: number, value: number) => Uint8Array;

/** Applies `ms` to a copy of `seed`. */
export function mutate(seed: Uint8Array, ms: Mutation[], field?: FieldEdit): Uint8Array {
  let b: Uint8Array = Uint8Array.from(seed);
  for (const m of ms) {
    const at = (p: number, extra = 0) => (b.length + extra === 0 ? 0 : p % (b.length + extra));
    switch (m.kind) {
      case 'flip':
        if (b.length) b[at(m.pos)] ^= 1 << m.bit;
        break;
      case 'set':
        if (b.length) b[at(m.pos)] = m.byte;
        break;
      case 'truncate':
        b = b.slice(0, at(m.keep, 1));
        break;
      case 'insert': {
        const p = at(m.pos, 1);
        b = concat(b.subarray(0, p), Uint8Array.from(m.bytes), b.subarray(p));
        break;
      }
      case 'delete': {
        const p = at(m.pos);
        b = concat(b.subarray(0, p), b.subarray(p + m.len));
        break;
      }
      case 'overwrite': {
        const p = at(m.pos);
        b = Uint8Array.from(b);
        for (let i = 0; i < m.bytes.length && p + i < b.length; i++) b[p + i] = m.bytes[i];
        break;
      }
      case 'duplicate': {
        const p = at(m.pos), q = at(m.at, 1);
        b = concat(b.subarray(0, q), b.slice(p, p + m.len), b.subarray(q));
        break;
      }
      case 'field':
        if (field) b = field(b, m.edit, m.value);
        break;
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Values that break headers: huge, negative, fractional, non-finite-looking, wrong types. */
export const BAD_NUMBERS: unknown[] = [
  -1, -0, 0, 1, 2, 3, 7, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64,
  1e300, -1e300, 1.5, 0.5, 1e-300, '1', '', 'x', null, true, [], [1], {}, [2 ** 31, 2 ** 31], 1e6, 1e9, 123456789,
];

/** A value of `pool` chosen by index `i`. */
export const pick = <T>(pool: readonly T[], i: number): T => pool[i % pool.length];

/** Where failing inputs are written. */
const saveDir = () => process.env.FUZZ_SAVE_DIR || join(tmpdir(), 'distillery-fuzz-failures');

/** Writes a failing input for a fixture; returns its path. */
export function saveFailure(target: string, ext: string, data: Uint8Array): string {
  mkdirSync(saveDir(), { recursive: true });
  const p = join(saveDir(), `${target}-${createHash('sha256').update(data).digest('hex').slice(0, 12)}${ext}`);
  writeFileSync(p, data);
  return p;
}

/** Outcomes per target (valid results, clean errors by first words), printed with FUZZ_STATS=1. */
export const stats = new Map<string, { valid: number; errors: Map<string, number> }>();
function count(target: string, error: string | null): void {
  let s = stats.get(target);
  if (!s) stats.set(target, (s = { valid: 0, errors: new Map() }));
  if (error === null) s.valid++;
  else {
    const key = error.replace(/^[^:]*: /, '').split(/[0-9'"([{]/)[0].trim().slice(0, 48);
    s.errors.set(key, (s.errors.get(key) ?? 0) + 1);
  }
}
export function printStats(): void {
  if (!process.env.FUZZ_STATS) return;
  for (const [t, s] of stats) {
    const errs = [...s.errors].sort((a, b) => b[1] - a[1]);
    console.log(`${t}: ${s.valid} valid, ${errs.reduce((a, e) => a + e[1], 0)} clean errors (${errs.length} kinds): ${errs.slice(0, 6).map(([k, n]) => `${n}× ${k}`).join('; ')}`);
  }
}

/** A single reader call longer than this is a hang (or a blow-up worth a look). */
export const HANG_MS = 5000;

/**
 * The property: `run` returns (and `valid` accepts the result) or throws a DistilleryError,
 * within HANG_MS. Anything else saves the input and fails, saying what went wrong.
 */
export async function cleanOrValid<T>(target: string, ext: string, input: Uint8Array, run: () => T | Promise<T>, valid: (r: T) => void = () => {}): Promise<void> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${HANG_MS} ms (a hang?)`)), HANG_MS);
  });
  let problem: string | null = null;
  try {
    const r = await Promise.race([Promise.resolve().then(run), hang]);
    try {
      valid(r);
      count(target, null);
    } catch (e) {
      problem = `returned an invalid result: ${(e as Error).message}`;
    }
  } catch (e) {
    if (!(e instanceof DistilleryError)) problem = `threw ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`;
    else count(target, e.message);
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - t0;
  if (!problem && ms > HANG_MS) problem = `took ${ms.toFixed(0)} ms (a hang?)`;
  if (problem) throw new Error(`${target}: ${problem.split('\n')[0]} (input saved to ${saveFailure(target, ext, input)})`);
}
