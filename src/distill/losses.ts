// Distillation losses over backend kernels: KD (soft targets at temperature T, T² scaling on by
// default) mixed with hard-label CE by alpha, written as one gradient buffer; and plain CE.

import type { Backend } from '../backends/backend.js';
import { ConfigError } from '../errors.js';
import type { F32, I32 } from '../kernels/signatures.js';

export interface KdConfig {
  /** Temperature (> 0). */
  T: number;
  /** Weight of the KD term; the hard-label CE gets 1 − alpha. */
  alpha: number;
  /** Multiply the KD term by T² (Hinton et al.) so its gradient scale does not shrink with T. */
  scaleT2: boolean;
}

export const DEFAULT_KD: KdConfig = { T: 4, alpha: 0.9, scaleT2: true };

export function validateKd(c: Partial<KdConfig>, where = 'distillation'): KdConfig {
  const T = c.T ?? DEFAULT_KD.T;
  const alpha = c.alpha ?? DEFAULT_KD.alpha;
  if (!(typeof T === 'number' && T > 0 && Number.isFinite(T))) throw new ConfigError(`${where}: temperature T must be a finite number > 0, got ${T}`);
  if (!(typeof alpha === 'number' && alpha >= 0 && alpha <= 1)) throw new ConfigError(`${where}: alpha must be in [0, 1], got ${alpha}`);
  return { T, alpha, scaleT2: c.scaleT2 ?? DEFAULT_KD.scaleT2 };
}

export interface LossParts {
  loss: number;
  kd: number;
  ce: number;
}

/**
 * loss = alpha·T²·KL(p_t ‖ p_s) + (1 − alpha)·CE(s, y), batch means.
 * dS, s, t are (N,K); labels is (N). dS is overwritten with d loss / d s.
 */
export function kdObjective(be: Backend, dS: F32, s: F32, t: F32, labels: I32, N: number, K: number, cfg: KdConfig): LossParts {
  const kd = be.kdLoss(dS, s, t, N, K, cfg.T, cfg.alpha, cfg.scaleT2, false);
  const ce = cfg.alpha < 1 ? be.crossEntropy(dS, s, labels, N, K, 1 - cfg.alpha, true) : 0;
  return { loss: kd + ce, kd, ce };
}

/** Plain cross-entropy: dlogits overwritten with d CE / d logits. */
export function ceObjective(be: Backend, dlogits: F32, logits: F32, labels: I32, N: number, K: number): LossParts {
  const ce = be.crossEntropy(dlogits, logits, labels, N, K, 1, false);
  return { loss: ce, kd: 0, ce };
}
