// Entry of the AssemblyScript kernels (all three builds): exports every kernel of the contract.
// Kernels take byte offsets into the imported (shared) memory and allocate nothing; the JS side
// owns the layout. heap_base() tells the JS arena where static data ends.

export { matmul, matmul_cols, matmul_workspace } from './matmul';
export { bias_add, bias_grad } from './bias';
export { relu, relu_backward, gelu, gelu_backward } from './activations';
export { softmax_t, log_softmax_t } from './softmax';
export { kd_loss, cross_entropy, mse } from './losses';
export { sgd_step, adamw_step } from './optim';
export { conv2d, conv2d_backward_data, conv2d_backward_weight, conv2d_backward_weight_rows, conv2d_workspace } from './conv';
export { maxpool2d, maxpool2d_backward, avgpool2d, avgpool2d_backward } from './pooling';
export { batchnorm_stats, batchnorm, batchnorm_backward_reduce, batchnorm_backward } from './batchnorm';
export { quantize_int8, matmul_int8, matmul_int8_cols, matmul_int8_workspace, conv2d_int8, conv2d_int8_workspace, dequantize_int32 } from './quant';

/** First byte after this module's static data: the JS arena starts at or above it. */
export function heap_base(): usize {
  return __heap_base;
}
