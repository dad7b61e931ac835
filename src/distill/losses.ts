// The distillation objectives (KD + CE, plain CE, teacher fusion). They are defined in
// src/nn/objectives.ts so the data-parallel workers can run them; this module is their home in
// the distill/ API.
export * from '../nn/objectives.js';
