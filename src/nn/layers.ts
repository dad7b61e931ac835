// Layers: Dense, ReLU, GELU, Dropout. Each layer's backward sits beside its forward; forward
// caches what backward needs; backward ADDS parameter gradients into the store's grads (the
// caller zeroes them) and returns the input gradient when asked for it.

import type { Backend } from '../backends/backend.js';
import type { F32 } from '../kernels/signatures.js';
import type { ParamSpec, ParamStore } from './params.js';
import type { Rng } from './rng.js';

/** A reusable activation buffer that grows with the batch and frees what it replaces. */
export class Scratch {
  private buf: F32 | null = null;
  constructor(private readonly backend: Backend) {}
  get(n: number): F32 {
    if (!this.buf || this.buf.length < n) {
      if (this.buf) this.backend.free(this.buf);
      this.buf = this.backend.alloc(Math.max(n, 4));
    }
    return this.buf.subarray(0, n);
  }
  release(): void {
    if (this.buf) this.backend.free(this.buf);
    this.buf = null;
  }
}

export interface Layer {
  readonly kind: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x is (N,inFeatures); returns (N,outFeatures), valid until the next forward. */
  forward(x: F32, N: number, training: boolean): F32;
  /** dy is (N,outFeatures); adds parameter grads; returns dx (N,inFeatures) when needInputGrad. */
  /** Adds into the parameter gradients, or overwrites them when `accumulate` is false. */
  backward(dy: F32, N: number, needInputGrad: boolean, accumulate?: boolean): F32 | null;
  release(): void;
}

/** y = x·Wᵀ + b. W is (OC,C) as in PyTorch, b is (OC). */
export class Dense implements Layer {
  readonly kind = 'dense';
  readonly weight: ParamSpec;
  readonly bias: ParamSpec;
  private x: F32 | null = null;
  private readonly out: Scratch;
  private readonly dx: Scratch;

  constructor(private readonly backend: Backend, private readonly store: ParamStore, readonly inFeatures: number, readonly outFeatures: number, name: string) {
    this.weight = store.add(`${name}.weight`, [outFeatures, inFeatures]);
    this.bias = store.add(`${name}.bias`, [outFeatures]);
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
  }

  forward(x: F32, N: number): F32 {
    const { inFeatures: C, outFeatures: OC, backend: be } = this;
    this.x = x;
    const y = this.out.get(N * OC);
    be.matmul(y, x, this.store.view(this.weight), N, OC, C, false, true, false);
    be.bias_add(y, this.store.view(this.bias), N, OC);
    return y;
  }

  backward(dy: F32, N: number, needInputGrad: boolean, accumulate = true): F32 | null {
    const { inFeatures: C, outFeatures: OC, backend: be } = this;
    if (!this.x) throw new Error('Dense.backward called before forward');
    // dW (OC,C) += dyᵀ (OC,N) · x (N,C)   (= when not accumulating)
    be.matmul(this.store.gradView(this.weight), dy, this.x, OC, C, N, true, false, accumulate);
    be.bias_grad(this.store.gradView(this.bias), dy, N, OC, accumulate);
    if (!needInputGrad) return null;
    // dx (N,C) = dy (N,OC) · W (OC,C)
    const dx = this.dx.get(N * C);
    be.matmul(dx, dy, this.store.view(this.weight), N, C, OC, false, false, false);
    return dx;
  }

  release(): void {
    this.out.release();
    this.dx.release();
  }
}

abstract class Activation implements Layer {
  abstract readonly kind: string;
  protected x: F32 | null = null;
  protected readonly out: Scratch;
  protected readonly dx: Scratch;
  constructor(protected readonly backend: Backend, readonly inFeatures: number) {
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
  }
  get outFeatures(): number {
    return this.inFeatures;
  }
  protected abstract fwd(out: F32, x: F32, n: number): void;
  protected abstract bwd(dx: F32, dy: F32, x: F32, n: number): void;
  forward(x: F32, N: number): F32 {
    this.x = x;
    const y = this.out.get(N * this.inFeatures);
    this.fwd(y, x, N * this.inFeatures);
    return y;
  }
  backward(dy: F32, N: number, needInputGrad: boolean): F32 | null {
    if (!needInputGrad) return null;
    if (!this.x) throw new Error(`${this.kind}.backward called before forward`);
    const dx = this.dx.get(N * this.inFeatures);
    this.bwd(dx, dy, this.x, N * this.inFeatures);
    return dx;
  }
  release(): void {
    this.out.release();
    this.dx.release();
  }
}

export class ReLU extends Activation {
  readonly kind = 'relu';
  protected fwd(out: F32, x: F32, n: number): void {
    this.backend.relu(out, x, n);
  }
  protected bwd(dx: F32, dy: F32, x: F32, n: number): void {
    this.backend.relu_backward(dx, dy, x, n);
  }
}

export class GELU extends Activation {
  readonly kind = 'gelu';
  protected fwd(out: F32, x: F32, n: number): void {
    this.backend.gelu(out, x, n);
  }
  protected bwd(dx: F32, dy: F32, x: F32, n: number): void {
    this.backend.gelu_backward(dx, dy, x, n);
  }
}

/** Inverted dropout: in training, zeroes each unit with probability p and scales the rest by 1/(1−p). */
export class Dropout implements Layer {
  readonly kind = 'dropout';
  private mask: Float32Array = new Float32Array(0);
  private readonly out: Scratch;
  private readonly dx: Scratch;
  private active = false;

  constructor(backend: Backend, readonly inFeatures: number, readonly p: number, private readonly rng: Rng) {
    if (!(p >= 0 && p < 1)) throw new RangeError(`dropout must be in [0,1), got ${p}`);
    this.out = new Scratch(backend);
    this.dx = new Scratch(backend);
  }
  get outFeatures(): number {
    return this.inFeatures;
  }
  forward(x: F32, N: number, training: boolean): F32 {
    this.active = training && this.p > 0;
    if (!this.active) return x;
    const n = N * this.inFeatures;
    if (this.mask.length < n) this.mask = new Float32Array(n);
    const keep = 1 / (1 - this.p);
    const y = this.out.get(n);
    for (let i = 0; i < n; i++) {
      const m = this.rng.next() >= this.p ? keep : 0;
      this.mask[i] = m;
      y[i] = x[i] * m;
    }
    return y;
  }
  backward(dy: F32, N: number, needInputGrad: boolean): F32 | null {
    if (!needInputGrad) return null;
    if (!this.active) return dy;
    const n = N * this.inFeatures;
    const dx = this.dx.get(n);
    for (let i = 0; i < n; i++) dx[i] = dy[i] * this.mask[i];
    return dx;
  }
  release(): void {
    this.out.release();
    this.dx.release();
  }
}

/** Flatten: (N, C, H, W) → (N, C·H·W). The storage is already row-major per sample, so a no-op. */
export class Flatten implements Layer {
  readonly kind = 'flatten';
  constructor(readonly inFeatures: number) {}
  get outFeatures(): number {
    return this.inFeatures;
  }
  forward(x: F32): F32 {
    return x;
  }
  backward(dy: F32, _N: number, needInputGrad: boolean): F32 | null {
    return needInputGrad ? dy : null;
  }
  release(): void {}
}
