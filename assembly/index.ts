// Entry of the AssemblyScript kernels (all three builds): exports every kernel of the contract.
// Kernels take byte offsets into the imported (shared) memory and allocate nothing; the JS side
// owns the layout. heapBase() tells the JS arena where static data ends.

export { matmul, matmulCols, matmulWorkspace } from './matmul';
export { biasAdd, biasGrad } from './bias';
export { relu, reluBackward, gelu, geluBackward } from './activations';
export { softmaxT, logSoftmaxT } from './softmax';
export { kdLoss, crossEntropy, mse } from './losses';
export { sgdStep, adamwStep } from './optim';

/** First byte after this module's static data: the JS arena starts at or above it. */
export function heapBase(): usize {
  return __heap_base;
}
