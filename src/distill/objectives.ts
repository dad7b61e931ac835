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
  /** Hint (FitNets) loss, when hints are used; included in loss. */
  hint?: number;
}

/**
 * loss = alpha·T²·KL(p_t ‖ p_s) + (1 − alpha)·CE(s, y), batch means.
 * dS, s, t are (N,K); labels is (N). dS is overwritten with d loss / d s.
 */
export function kdObjective(be: Backend, dS: F32, s: F32, t: F32, labels: I32, N: number, K: number, cfg: KdConfig, scale = 1): LossParts {
  // `scale` weights this batch's mean, e.g. N_shard / N_batch when a batch is split in shards.
  const kd = be.kd_loss(dS, s, t, N, K, cfg.T, cfg.alpha * scale, cfg.scaleT2, false);
  const ce = cfg.alpha < 1 ? be.cross_entropy(dS, s, labels, N, K, (1 - cfg.alpha) * scale, true) : 0;
  return { loss: kd + ce, kd, ce };
}

/**
 * The objective on a partly labeled batch (or a shard of one): α·T²·KL over all n rows, as a mean
 * over the batch's N rows (`kdScale` = n / N for a shard), plus (1 − α)·CE over the labeled rows
 * only (`mask[i]` ≠ 0), as a mean over the batch's `labeledTotal` labeled rows; without KD, CE over
 * the labeled rows alone. dS is overwritten. Shards of one batch sum to the whole batch's value.
 */
export function partlyLabeledObjective(be: Backend, dS: F32, s: F32, t: F32, labels: I32, mask: ArrayLike<number>, n: number, K: number, kd: KdConfig | null, kdScale: number, labeledTotal: number): LossParts {
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if (mask[i]) rows.push(i);
  const kdPart = kd ? be.kd_loss(dS, s, t, n, K, kd.T, kd.alpha * kdScale, kd.scaleT2, false) : 0;
  if (!kd) dS.fill(0);
  const w = (kd ? 1 - kd.alpha : 1) * (labeledTotal > 0 ? rows.length / labeledTotal : 0);
  let ce = 0;
  if (rows.length && w > 0) {
    const L = rows.length, zs = new Float32Array(L * K), ds = new Float32Array(L * K), ys = new Int32Array(L);
    rows.forEach((r, j) => { zs.set(s.subarray(r * K, r * K + K), j * K); ys[j] = labels[r]; });
    ce = be.cross_entropy(ds, zs, ys, L, K, w, false);
    rows.forEach((r, j) => { for (let k = 0; k < K; k++) dS[r * K + k] += ds[j * K + k]; });
  }
  return { loss: kdPart + ce, kd: kdPart, ce };
}

/**
 * The output objective of one training batch (or of a shard of one, `scale` = its rows / the
 * batch's): none in the FitNets hint-only stage (dS zeroed), the partly labeled objective when
 * `labeled` (the batch's labeled-row count) is given, else KD + CE, else CE. dS is overwritten.
 * The trainer's one-thread path and the data-parallel workers both call this.
 */
export function batchObjective(be: Backend, dS: F32, s: F32, t: F32, labels: I32, mask: ArrayLike<number>, n: number, K: number, o: { kd: KdConfig | null; hintOnly?: boolean; labeled?: number; scale?: number }): LossParts {
  const scale = o.scale ?? 1;
  if (o.hintOnly) {
    dS.fill(0); // FitNets stage 1: the hint loss alone trains the layers below the hint
    return { loss: 0, kd: 0, ce: 0 };
  }
  if (o.labeled !== undefined) return partlyLabeledObjective(be, dS, s, t, labels, mask, n, K, o.kd, scale, o.labeled);
  return o.kd ? kdObjective(be, dS, s, t, labels, n, K, o.kd, scale) : ceObjective(be, dS, s, labels, n, K, scale);
}

/** Plain cross-entropy: dlogits overwritten with d CE / d logits (times `scale`). */
export function ceObjective(be: Backend, dlogits: F32, logits: F32, labels: I32, N: number, K: number, scale = 1): LossParts {
  const ce = be.cross_entropy(dlogits, logits, labels, N, K, scale, false);
  return { loss: ce, kd: 0, ce };
}

/** How several teachers' predictions become one target: weighted mean of logits or of probabilities. */
export type TeacherFusion = 'logits' | 'probs';

export interface TeacherSpec {
  /** Weight in the (normalized) weighted mean. */
  weight: number;
  /** This teacher's own temperature (default: the KD temperature T). */
  temperature?: number;
}

/**
 * Fuses per-teacher logits zs[i] (N,K) into one logit matrix `out` (N,K) whose softmax at the
 * KD temperature T is the fused target: 'logits' → Σ w_i·(T/T_i)·z_i / Σ w_i (softmax(z_i/T_i)
 * rescaled to T, then averaged); 'probs' → T·log(Σ w_i·softmax(z_i/T_i) / Σ w_i). One teacher at
 * T_i = T gives its logits unchanged.
 */
export function fuseTeacherLogits(zs: F32[], specs: TeacherSpec[], T: number, mode: TeacherFusion, N: number, K: number, out: F32): void {
  const total = specs.reduce((a, t) => a + t.weight, 0);
  const n = N * K;
  if (zs.length === 1 && (specs[0].temperature ?? T) === T) {
    out.set(zs[0].subarray(0, n));
    return;
  }
  out.fill(0, 0, n);
  if (mode === 'logits') {
    zs.forEach((z, k) => {
      const c = (specs[k].weight / total) * (T / (specs[k].temperature ?? T));
      for (let i = 0; i < n; i++) out[i] += c * z[i];
    });
    return;
  }
  for (let r = 0; r < N; r++) {
    const o = out.subarray(r * K, r * K + K);
    zs.forEach((z, k) => {
      const Ti = specs[k].temperature ?? T, w = specs[k].weight / total;
      let m = -Infinity, sum = 0;
      for (let j = 0; j < K; j++) m = Math.max(m, z[r * K + j] / Ti);
      for (let j = 0; j < K; j++) sum += Math.exp(z[r * K + j] / Ti - m);
      for (let j = 0; j < K; j++) o[j] += (w * Math.exp(z[r * K + j] / Ti - m)) / sum;
    });
    for (let j = 0; j < K; j++) o[j] = T * Math.log(Math.max(o[j], 1e-30));
  }
}

/** Runs the teachers (eval mode) on x (N rows) and fuses their logits into out (N,K). */
export function teacherLogits(teachers: (TeacherSpec & { model: { eval(): unknown; forward(x: F32, N: number): F32; readonly classes: number } })[], x: F32, N: number, out: F32, T = 1, mode: TeacherFusion = 'logits'): void {
  const K = teachers[0].model.classes;
  const zs = teachers.map((t) => {
    t.model.eval();
    return teachers.length === 1 ? t.model.forward(x, N) : t.model.forward(x, N).slice(0, N * K);
  });
  fuseTeacherLogits(zs, teachers, T, mode, N, K, out);
}
