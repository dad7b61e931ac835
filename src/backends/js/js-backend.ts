// The `js` backend: the TS reference kernels, with a loop-reordered matmul (contiguous inner
// loops for every transpose variant) so that plain-JS training is usable. Storage: Float32Arrays
// on SharedArrayBuffers, so parameters can be shared with worker threads.

import type { Backend } from '../backend.js';
import { referenceKernels } from '../../kernels/reference.js';
import type { F32, I32, I8, U8 } from '../../kernels/signatures.js';

// C is (M,N); A is (M,K) or (K,M) if transA; B is (K,N) or (N,K) if transB.
function matmulJs(C: F32, A: F32, B: F32, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void {
  if (!accumulate) C.fill(0, 0, M * N);
  if (transB && !transA) {
    // C[i,j] += dot(A row i, B row j): both contiguous.
    for (let i = 0; i < M; i++) {
      const ao = i * K;
      for (let j = 0; j < N; j++) {
        const bo = j * K;
        let acc = 0;
        for (let k = 0; k < K; k++) acc += A[ao + k] * B[bo + k];
        C[i * N + j] += acc;
      }
    }
    return;
  }
  if (!transB) {
    // C row i += a(i,k) · B row k (B row k contiguous).
    const row = new Float64Array(N);
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * M + i] : A[i * K + k];
        if (a === 0) continue;
        const bo = k * N;
        for (let j = 0; j < N; j++) row[j] += a * B[bo + j];
      }
      const co = i * N;
      for (let j = 0; j < N; j++) C[co + j] += row[j];
    }
    return;
  }
  // transA && transB: C[i,j] = Σ_k A[k,i]·B[j,k].
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += A[k * M + i] * B[j * K + k];
      C[i * N + j] += acc;
    }
  }
}

export function createJsBackend(): Backend {
  return {
    ...referenceKernels,
    name: 'js',
    description: 'plain TypeScript (reference kernels, f64 accumulation)',
    matmul: matmulJs,
    alloc: (n: number): F32 => new Float32Array(new SharedArrayBuffer(Math.max(4, n * 4)), 0, n),
    allocInt32: (n: number): I32 => new Int32Array(new SharedArrayBuffer(Math.max(4, n * 4)), 0, n),
    allocUint8: (n: number): U8 => new Uint8Array(new SharedArrayBuffer(Math.max(4, n)), 0, n),
    allocInt8: (n: number): I8 => new Int8Array(new SharedArrayBuffer(Math.max(4, n)), 0, n),
    free: () => {},
  };
}
