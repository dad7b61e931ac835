// Public API of the distillery package.
export * from './errors.js';
export * from './kernels/signatures.js';
export * as reference from './kernels/reference.js';
export * from './backends/index.js';
export { Rng } from './nn/rng.js';
export { ParamStore, type ParamSpec } from './nn/params.js';
export { Dense, ReLU, GELU, Dropout, type Layer } from './nn/layers.js';
export { Sequential, validateModelConfig, type ModelConfig, type ActivationName } from './nn/sequential.js';
export { SGD, AdamW, createOptimizer, type Optimizer, type OptimizerConfig } from './optim/optimizer.js';
export { makeSchedule, type Schedule, type ScheduleConfig } from './optim/schedule.js';
export * from './data/dataset.js';
export * from './data/builtin.js';
export * from './data/batching.js';
export * from './io/safetensors.js';
export * from './io/atomic.js';
export * from './io/model-file.js';
export * from './distill/losses.js';
export * from './distill/trainer.js';
