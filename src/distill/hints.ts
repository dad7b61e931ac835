// FitNets hint adapters and losses. They are defined in src/nn/hints.ts so the data-parallel
// workers can run them; this module is their home in the distill/ API.
export * from '../nn/hints.js';
