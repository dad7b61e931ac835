// Intermediate-layer distillation (FitNets, Romero et al. 2015): for each chosen pair (student
// hidden block i, teacher hidden block j) a learned linear adapter maps the student's
// activations to the teacher's shape, and the hint loss (MSE, or 1 − cosine per row) between the
// two is weighted into the objective. Flat blocks (N, w_i) → (N, w_j): a dense adapter. Feature
// maps (C_s,H,W) → (C_t,H,W) with the same H,W: a 1×1 convolution (FitNets' convolutional
// regressor), also when the channels are equal. Any other pair (different H,W, or a map and a
// flat block) is a ConfigError. The adapters have their own
// parameter store and optimizer; they train with the student and are never exported with it.
// The hint loss and its backward run in the one training step (src/step/step.ts,
// hintLossAndGrads).

import type { Backend } from '../backends/backend.js';
import { ConfigError } from '../errors.js';
import type { F32 } from '../kernels/signatures.js';
import { Conv2D, Dense } from '../nn/layers.js';
import { ParamStore } from '../nn/params.js';
import { Rng } from '../nn/rng.js';
import type { Sequential } from '../nn/sequential.js';
import { createOptimizer, type Optimizer, type OptimizerConfig } from '../optim/optimizer.js';

export interface HintConfig {
  /** Pairs of 0-based hidden block indices: student block → teacher block. */
  pairs: { student: number; teacher: number }[];
  /** Weight of the hint loss in the total (default 1). */
  weight?: number;
  /** 'mse' (default): mean squared error over all elements; 'cosine': mean over rows of 1 − cos. */
  loss?: 'mse' | 'cosine';
  /** Epochs of hint-only training (the FitNets first stage) before the KD/CE objective. Default 0. */
  preTrainEpochs?: number;
}

/** The adapter of one hint pair: dense between flat blocks, a 1×1 convolution between feature maps. */
export type HintAdapterSpec = { kind: 'dense'; in: number; out: number } | { kind: 'conv1x1'; in: number[]; out: number };

const fmt = (shape: number[]) => `(${shape.join(',')})`;

/** The adapters a config needs, validated against the two models' hidden block shapes. */
export function adapterSpecs(student: Sequential, teacher: Sequential, cfg: HintConfig): HintAdapterSpec[] {
  if (!cfg.pairs?.length) throw new ConfigError('hints: give at least one (student, teacher) layer pair');
  return cfg.pairs.map(({ student: i, teacher: j }) => {
    if (!Number.isInteger(i) || i < 0 || i >= student.hiddenCount) throw new ConfigError(`hints: student layer ${i} does not exist (the student has hidden blocks 0..${student.hiddenCount - 1})`);
    if (!Number.isInteger(j) || j < 0 || j >= teacher.hiddenCount) throw new ConfigError(`hints: teacher layer ${j} does not exist (the teacher has hidden blocks 0..${teacher.hiddenCount - 1})`);
    const s = student.hiddenShape(i), t = teacher.hiddenShape(j);
    const map = (x: number[]) => x.length === 3, flat = (x: number[]) => x.length === 1;
    if (flat(s) && flat(t)) return { kind: 'dense', in: s[0], out: t[0] };
    if (map(s) && map(t) && s[1] === t[1] && s[2] === t[2]) return { kind: 'conv1x1', in: s, out: t[0] };
    const why = map(s) && map(t) ? 'feature maps of different sizes H×W (a 1×1 convolution adapter keeps H×W)' : 'a feature map (C,H,W) and a flat block cannot be paired (the adapter is a 1×1 convolution between maps, dense between flat blocks)';
    throw new ConfigError(`hints: student block ${i} ${fmt(s)} and teacher block ${j} ${fmt(t)} are incompatible: ${why}; pick blocks whose shapes match, e.g. two conv blocks after the same pooling`);
  });
}

export class HintAdapters {
  readonly store = new ParamStore();
  /** The adapters' optimizer (null on a data-parallel worker's attached copy: the update runs per parameter range there). */
  readonly opt: Optimizer | null;
  /** One linear adapter per hint pair: dense (student width → teacher width) or 1×1 conv (student channels → teacher channels). */
  readonly adapters: (Dense | Conv2D)[];
  private readonly d: F32[];
  /** Gradients to add at the student's hidden block outputs after the step's hint loss (src/step/step.ts). */
  readonly inputGrads = new Map<number, F32>();
  readonly weight: number;
  readonly kind: 'mse' | 'cosine';
  /** Whether release() frees the store's buffers (not when they are another thread's shared storage). */
  private readonly ownsStore: boolean;

  /**
   * New adapters (Xavier-uniform weights from `seed`, zero biases) and their optimizer; or, with
   * `attach`, adapters over existing parameter and gradient buffers of the same layout (a
   * data-parallel worker's view of the main thread's adapters), without an optimizer.
   */
  constructor(readonly be: Backend, student: Sequential, teacher: Sequential, readonly cfg: HintConfig, opt: OptimizerConfig | null, seed: number, maxBatch: number, attach?: { params: F32; grads: F32 }) {
    const specs = adapterSpecs(student, teacher, cfg);
    this.weight = cfg.weight ?? 1;
    this.kind = cfg.loss ?? 'mse';
    if (!(this.weight > 0)) throw new ConfigError(`hints: weight must be > 0, got ${this.weight}`);
    if (this.kind !== 'mse' && this.kind !== 'cosine') throw new ConfigError(`hints: loss must be mse or cosine, got ${JSON.stringify(this.kind)}`);
    this.adapters = specs.map((a, k) => a.kind === 'dense'
      ? new Dense(be, this.store, a.in, a.out, `hint.${k}`)
      : new Conv2D(be, this.store, a.in, { outChannels: a.out, k: 1, stride: 1, pad: 0, groups: 1 }, `hint.${k}`));
    this.ownsStore = !attach;
    if (attach) {
      this.store.bind(attach.params, attach.grads);
    } else {
      this.store.allocate(be);
      const rng = new Rng(seed ^ 0x41d7);
      for (const a of this.adapters) {
        const [fanIn, fanOut] = a instanceof Conv2D ? a.fans : [a.inFeatures, a.outFeatures];
        const lim = Math.sqrt(6 / (fanIn + fanOut)); // Xavier-uniform, zero bias
        const w = this.store.view(a.weight);
        for (let q = 0; q < w.length; q++) w[q] = (rng.next() * 2 - 1) * lim;
      }
    }
    this.d = this.adapters.map((a) => be.alloc(maxBatch * a.outFeatures));
    this.opt = opt ? createOptimizer(be, this.store.length, opt) : null;
  }

  /** The gradient scratch (n, width) of adapter k, for the step's hint loss. */
  gradScratch(k: number, n: number): F32 {
    return this.d[k].subarray(0, n * this.adapters[k].outFeatures);
  }

  /** The adapters' optimizer (the main thread's adapters; attached copies have none). */
  get optimizer(): Optimizer {
    if (!this.opt) throw new Error('HintAdapters: attached adapters have no optimizer');
    return this.opt;
  }

  step(lr: number): void {
    this.optimizer.step(this.store.params, this.store.grads, lr);
  }

  release(): void {
    for (const a of this.adapters) a.release();
    for (const d of this.d) this.be.free(d);
    this.opt?.release();
    if (this.ownsStore) {
      this.be.free(this.store.params);
      this.be.free(this.store.grads);
    }
  }
}

/** weight · mean over rows of (1 − cos(a_r, t_r)), and its gradient d (N,W) w.r.t. a. */
export function cosineLoss(d: F32, a: F32, t: F32, N: number, W: number, weight: number): number {
  let total = 0;
  const eps = 1e-12;
  for (let r = 0; r < N; r++) {
    let at = 0, aa = 0, tt = 0;
    for (let c = 0; c < W; c++) {
      const x = a[r * W + c], y = t[r * W + c];
      at += x * y; aa += x * x; tt += y * y;
    }
    const na = Math.sqrt(aa) + eps, nt = Math.sqrt(tt) + eps, cos = at / (na * nt);
    total += 1 - cos;
    for (let c = 0; c < W; c++) {
      // d(1 − cos)/da = −t/(|a||t|) + cos·a/|a|²
      d[r * W + c] = (weight / N) * (-t[r * W + c] / (na * nt) + (cos * a[r * W + c]) / (na * na));
    }
  }
  return N ? (weight * total) / N : 0;
}
