// Flat parameter store: every parameter of a model lives in ONE Float32Array (grads in a second
// one with the same layout); layers hold named views at fixed offsets.

import type { Backend } from '../backends/backend.js';
import type { F32 } from '../kernels/signatures.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** Offsets are padded to 4 floats (16 bytes) so every view is SIMD-aligned. */
const ALIGN = 4;

export class ParamStore {
  readonly specs: ParamSpec[] = [];
  private total = 0;
  params!: F32;
  grads!: F32;
  private backend: Backend | null = null;

  /** Reserves a parameter; returns its spec. Call before allocate(). */
  add(name: string, shape: number[]): ParamSpec {
    if (this.params) throw new Error(`ParamStore: cannot add '${name}' after allocate()`);
    const size = shape.reduce((a, b) => a * b, 1);
    const spec = { name, shape, offset: this.total, size };
    this.specs.push(spec);
    this.total += Math.ceil(size / ALIGN) * ALIGN;
    return spec;
  }

  /** Length of the flat buffers (including alignment padding). */
  get length(): number {
    return this.total;
  }

  /** Number of trainable scalars (without padding). */
  get count(): number {
    return this.specs.reduce((a, s) => a + s.size, 0);
  }

  allocate(backend: Backend): void {
    this.backend = backend;
    this.params = backend.alloc(this.total);
    this.grads = backend.alloc(this.total);
  }

  /** Rebinds the flat buffers to externally owned storage (e.g. shared memory); same layout. */
  bind(params: F32, grads: F32): void {
    if (params.length < this.total || grads.length < this.total) {
      throw new RangeError(`ParamStore.bind: buffers of ${params.length}/${grads.length} floats, need ${this.total}`);
    }
    this.params = params;
    this.grads = grads;
  }

  view(spec: ParamSpec): F32 {
    return this.params.subarray(spec.offset, spec.offset + spec.size);
  }

  gradView(spec: ParamSpec): F32 {
    return this.grads.subarray(spec.offset, spec.offset + spec.size);
  }

  zeroGrads(): void {
    // backend.zero when it has one: fill(0) on shared memory is slow (see Backend.zero).
    if (this.backend?.zero) this.backend.zero(this.grads);
    else this.grads.fill(0);
  }

  find(name: string): ParamSpec | undefined {
    return this.specs.find((s) => s.name === name);
  }
}

/** A named buffer: state that is saved with the model but not trained (PyTorch's buffers). */
export interface BufferSpec {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  /** The value it starts at (e.g. 0 for running_mean, 1 for running_var). */
  init: number;
}

/**
 * Flat buffer store: the model's non-trained state (batch-norm running statistics) in ONE
 * Float32Array, laid out like ParamStore's parameters but without gradients, optimizer state or
 * weight decay. Saved in model files (tensors named like PyTorch state_dict keys, e.g.
 * layers.1.running_mean) and in checkpoints. Layers update their views in place.
 */
export class BufferStore {
  readonly specs: BufferSpec[] = [];
  private total = 0;
  data!: F32;
  private backend: Backend | null = null;

  add(name: string, shape: number[], init: number): BufferSpec {
    if (this.data) throw new Error(`BufferStore: cannot add '${name}' after allocate()`);
    const size = shape.reduce((a, b) => a * b, 1);
    const spec = { name, shape, offset: this.total, size, init };
    this.specs.push(spec);
    this.total += Math.ceil(size / ALIGN) * ALIGN;
    return spec;
  }

  get length(): number {
    return this.total;
  }

  /** Allocates the buffer on `backend` and sets every buffer to its initial value. */
  allocate(backend: Backend): void {
    this.backend = backend;
    this.data = backend.alloc(Math.max(this.total, 4));
    this.reset();
  }

  /** Rebinds the flat buffer to storage owned elsewhere (e.g. shared memory); same layout, not freed by release(). */
  bind(data: F32): void {
    if (data.length < this.total) throw new RangeError(`BufferStore.bind: a buffer of ${data.length} floats, need ${this.total}`);
    if (!this.own) this.own = this.data;
    this.data = data;
  }
  private own: F32 | null = null;

  /** Every buffer back to its initial value. */
  reset(): void {
    this.data.fill(0);
    for (const s of this.specs) this.view(s).fill(s.init);
  }

  view(spec: BufferSpec): F32 {
    return this.data.subarray(spec.offset, spec.offset + spec.size);
  }

  find(name: string): BufferSpec | undefined {
    return this.specs.find((s) => s.name === name);
  }

  release(): void {
    const own = this.own ?? this.data;
    if (this.backend && own) this.backend.free(own);
  }
}
