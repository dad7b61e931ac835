// Minimal WebAssembly JS API typings: @types/node 20 and lib ES2022 do not declare the
// WebAssembly global (lib.dom does). Only what the wasm backends use.

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- the global WebAssembly is a namespace: only namespace syntax can add to it
  namespace WebAssembly {
    interface MemoryDescriptor { initial: number; maximum?: number; shared?: boolean }
    class Memory {
      constructor(descriptor: MemoryDescriptor);
      readonly buffer: ArrayBuffer | SharedArrayBuffer;
      grow(delta: number): number;
    }
    class Module {
      constructor(bytes: BufferSource);
    }
    class Instance {
      constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
      readonly exports: Record<string, unknown>;
    }
    type BufferSource = ArrayBufferView | ArrayBuffer;
    function validate(bytes: BufferSource): boolean;
    function compile(bytes: BufferSource): Promise<Module>;
  }
}

export {};
