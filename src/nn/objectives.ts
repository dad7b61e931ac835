// Training objectives over backend kernels: KD (soft targets at temperature T, T² scaling on by
// default) mixed with hard-label CE by alpha, written as one gradient buffer; plain CE; and the
// weighted mean of several teachers' logits. They live in nn/ (not distill/) because the
// data-parallel workers, which sit below distill/, run them too.

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
export function kdObjective(be: Backend, dS: F32, s: F32, t: F32, labels: I32, N: number, K: number, cfg: KdConfig, scale = 1): LossParts {
  // `scale` weights this batch's mean, e.g. N_shard / N_batch when a batch is split in shards.
  const kd = be.kdLoss(dS, s, t, N, K, cfg.T, cfg.alpha * scale, cfg.scaleT2, false);
  const ce = cfg.alpha < 1 ? be.crossEntropy(dS, s, labels, N, K, (1 - cfg.alpha) * scale, true) : 0;
  return { loss: kd + ce, kd, ce };
}

/** Plain cross-entropy: dlogits overwritten with d CE / d logits (times `scale`). */
export function ceObjective(be: Backend, dlogits: F32, logits: F32, labels: I32, N: number, K: number, scale = 1): LossParts {
  const ce = be.crossEntropy(dlogits, logits, labels, N, K, scale, false);
  return { loss: ce, kd: 0, ce };
}

/** out (N,K) = Σ_i w_i·logits_i(x) / Σ_i w_i over the teachers, each run in eval mode. */
export function teacherLogits(teachers: { model: { eval(): unknown; forward(x: F32, N: number): F32 }; weight: number }[], x: F32, N: number, out: F32): void {
  if (teachers.length === 1) {
    teachers[0].model.eval();
    out.set(teachers[0].model.forward(x, N).subarray(0, out.length));
    return;
  }
  const total = teachers.reduce((a, t) => a + t.weight, 0);
  out.fill(0, 0, out.length);
  for (const t of teachers) {
    t.model.eval();
    const z = t.model.forward(x, N);
    const w = t.weight / total;
    for (let i = 0; i < out.length; i++) out[i] += w * z[i];
  }
}
