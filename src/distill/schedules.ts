// Schedules of the distillation temperature T and weight alpha over epochs (constant, linear,
// cosine from the configured value to a final one), and a KD start epoch before which the
// student trains on the hard labels alone.

import { ConfigError } from '../errors.js';
import { validateKd, type KdConfig } from './objectives.js';

export interface ValueSchedule {
  kind: 'constant' | 'linear' | 'cosine';
  /** Value at the last epoch (the first epoch uses the configured T or alpha). */
  to?: number;
}

export interface KdSchedule {
  T?: ValueSchedule;
  alpha?: ValueSchedule;
  /** 0-based epoch from which KD applies; earlier epochs use cross-entropy only. Default 0. */
  startEpoch?: number;
}

function at(from: number, s: ValueSchedule | undefined, e: number, E: number, what: string): number {
  if (!s || s.kind === 'constant') return from;
  if (s.to === undefined || !Number.isFinite(s.to)) throw new ConfigError(`${what} schedule '${s.kind}' needs a finite 'to' value`);
  const f = E <= 1 ? 1 : e / (E - 1);
  if (s.kind === 'linear') return from + (s.to - from) * f;
  if (s.kind === 'cosine') return s.to + ((from - s.to) * (1 + Math.cos(Math.PI * f))) / 2;
  throw new ConfigError(`${what} schedule kind must be constant, linear or cosine, got ${JSON.stringify((s as { kind: unknown }).kind)}`);
}

/** The KD settings of epoch `e` (0-based) of `E` over the KD epochs; null before the start epoch. */
export function kdForEpoch(base: KdConfig, s: KdSchedule | undefined, e: number, E: number): KdConfig | null {
  const start = s?.startEpoch ?? 0;
  if (!Number.isInteger(start) || start < 0) throw new ConfigError(`KD start epoch must be a non-negative integer, got ${start}`);
  if (e < start) return null;
  const k = e - start, KE = E - start;
  return validateKd({ T: at(base.T, s?.T, k, KE, 'temperature'), alpha: at(base.alpha, s?.alpha, k, KE, 'alpha'), scaleT2: base.scaleT2 }, `epoch ${e + 1}`);
}
