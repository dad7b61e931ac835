// Registers the built-in backends. Each adapter registers itself in its own module; a new
// backend joins everything (trainer, CLI, conformance suite, benches) by being imported here.

import { registerBackend } from './registry.js';
import { createJsBackend } from './js/js-backend.js';
import { createCudaBackend, createNativeBackend, createNativeMtBackend } from './native/native-backend.js';
import { wasmBackendFactories } from './wasm/index.js';

registerBackend({ name: 'js', priority: 0, create: async () => createJsBackend() });
for (const f of wasmBackendFactories()) registerBackend(f);
registerBackend({ name: 'native', priority: 40, create: async () => createNativeBackend() });
registerBackend({ name: 'native-mt', priority: 35, create: async () => createNativeMtBackend() });
registerBackend({ name: 'cuda', priority: 50, create: async () => createCudaBackend() });

export * from './registry.js';
export { allowsWorkers } from './backend.js';
export type { Backend, BackendFactory, WorkerShare } from './backend.js';
