// Optimizers over one flat parameter buffer: each step is one kernel call (sgd_step / adamw_step).
// State buffers share the parameters' layout, so checkpoints store them as flat tensors.

import type { Backend } from '../backends/backend.js';
import { ConfigError } from '../errors.js';
import type { AdamWParams, F32, SgdParams } from '../kernels/signatures.js';

export interface OptimizerConfig {
  kind: 'sgd' | 'adamw';
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export interface Optimizer {
  readonly kind: 'sgd' | 'adamw';
  /** Number of steps taken so far. */
  stepCount: number;
  /** Applies one update with learning rate lr. */
  step(params: F32, grads: F32, lr: number): void;
  /**
   * Counts one step and returns its update as data, for data-parallel workers that apply it to
   * slices of the buffers with applyUpdate (elementwise, so slices compose to the whole step).
   */
  planStep(lr: number): UpdatePlan;
  /** Named state buffers (for checkpoints). */
  state(): Record<string, F32>;
  release(): void;
}

export type UpdatePlan = { kind: 'sgd'; hp: SgdParams } | { kind: 'adamw'; hp: AdamWParams };

/** Applies a planned update to elements [from, to) of params, with the optimizer's state buffers. */
export function applyUpdate(be: Backend, plan: UpdatePlan, params: F32, grads: F32, state: Record<string, F32>, from: number, to: number): void {
  const sl = (a: F32) => a.subarray(from, to);
  if (plan.kind === 'sgd') be.sgd_step(sl(params), sl(grads), sl(state.momentum), to - from, plan.hp);
  else be.adamw_step(sl(params), sl(grads), sl(state.m), sl(state.v), to - from, plan.hp);
}

export class SGD implements Optimizer {
  readonly kind = 'sgd';
  stepCount = 0;
  private readonly buf: F32;
  constructor(private readonly backend: Backend, private readonly n: number, readonly momentum = 0, readonly nesterov = false, readonly weightDecay = 0) {
    if (nesterov && momentum <= 0) throw new ConfigError('optimizer: nesterov needs momentum > 0');
    this.buf = backend.alloc(n);
  }
  step(params: F32, grads: F32, lr: number): void {
    this.backend.sgd_step(params, grads, this.buf, this.n, this.planStep(lr).hp as SgdParams);
  }
  planStep(lr: number): UpdatePlan {
    this.stepCount++;
    return { kind: 'sgd', hp: { lr, momentum: this.momentum, weightDecay: this.weightDecay, nesterov: this.nesterov } };
  }
  state(): Record<string, F32> {
    return { momentum: this.buf };
  }
  release(): void {
    this.backend.free(this.buf);
  }
}

export class AdamW implements Optimizer {
  readonly kind = 'adamw';
  stepCount = 0;
  private readonly m: F32;
  private readonly v: F32;
  constructor(private readonly backend: Backend, private readonly n: number, readonly beta1 = 0.9, readonly beta2 = 0.999, readonly eps = 1e-8, readonly weightDecay = 0.01) {
    this.m = backend.alloc(n);
    this.v = backend.alloc(n);
  }
  step(params: F32, grads: F32, lr: number): void {
    this.backend.adamw_step(params, grads, this.m, this.v, this.n, this.planStep(lr).hp as AdamWParams);
  }
  planStep(lr: number): UpdatePlan {
    this.stepCount++;
    return { kind: 'adamw', hp: { lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.stepCount } };
  }
  state(): Record<string, F32> {
    return { m: this.m, v: this.v };
  }
  release(): void {
    this.backend.free(this.m);
    this.backend.free(this.v);
  }
}

export function createOptimizer(backend: Backend, n: number, cfg: OptimizerConfig): Optimizer {
  if (!(cfg.lr > 0)) throw new ConfigError(`optimizer: lr must be > 0, got ${cfg.lr}`);
  if (cfg.kind === 'sgd') return new SGD(backend, n, cfg.momentum ?? 0.9, cfg.nesterov ?? false, cfg.weightDecay ?? 0);
  if (cfg.kind === 'adamw') return new AdamW(backend, n, cfg.beta1 ?? 0.9, cfg.beta2 ?? 0.999, cfg.eps ?? 1e-8, cfg.weightDecay ?? 0.01);
  throw new ConfigError(`optimizer: kind must be "sgd" or "adamw", got ${JSON.stringify((cfg as { kind: unknown }).kind)}`);
}
