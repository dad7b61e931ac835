// Reference implementation of every kernel: plain loops, f64 accumulation. This is the
// definition of the contract and the ground truth of the conformance suite; keep it simple.

import {
  GELU_COEF,
  GELU_LIMIT,
  GELU_SQRT_2_OVER_PI,
  type AdamWParams,
  type F32,
  type I32,
  type Kernels,
  type SgdParams,
} from './signatures.js';

// C is (M,N); A is (M,K) or (K,M) if transA; B is (K,N) or (N,K) if transB.
export function matmul(C: F32, A: F32, B: F32, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = accumulate ? C[i * N + j] : 0;
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * M + i] : A[i * K + k];
        const b = transB ? B[j * K + k] : B[k * N + j];
        acc += a * b;
      }
      C[i * N + j] = acc;
    }
  }
}

// y is (N,OC), bias is (OC).
export function bias_add(y: F32, bias: F32, N: number, OC: number): void {
  for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) y[n * OC + o] += bias[o];
}

// dbias is (OC), dy is (N,OC).
export function bias_grad(dbias: F32, dy: F32, N: number, OC: number, accumulate: boolean): void {
  for (let o = 0; o < OC; o++) {
    let acc = accumulate ? dbias[o] : 0;
    for (let n = 0; n < N; n++) acc += dy[n * OC + o];
    dbias[o] = acc;
  }
}

// out, inp are (n).
export function relu(out: F32, inp: F32, n: number): void {
  for (let i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : 0;
}

// dinp, dout, inp are (n).
export function relu_backward(dinp: F32, dout: F32, inp: F32, n: number): void {
  for (let i = 0; i < n; i++) dinp[i] = inp[i] > 0 ? dout[i] : 0;
}

// out, inp are (n). GELU(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); its limits beyond
// ±GELU_LIMIT (x above, −0 below; see signatures.ts). NaN stays NaN.
export function gelu(out: F32, inp: F32, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    if (x > GELU_LIMIT) out[i] = x;
    else if (x < -GELU_LIMIT) out[i] = -0;
    else out[i] = 0.5 * x * (1 + Math.tanh(GELU_SQRT_2_OVER_PI * (x + GELU_COEF * x * x * x)));
  }
}

// dinp, dout, inp are (n). GELU'(x) is 1 above GELU_LIMIT and 0 below −GELU_LIMIT.
export function gelu_backward(dinp: F32, dout: F32, inp: F32, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    if (x > GELU_LIMIT) {
      dinp[i] = dout[i];
      continue;
    }
    if (x < -GELU_LIMIT) {
      dinp[i] = dout[i] * 0;
      continue;
    }
    const u = GELU_SQRT_2_OVER_PI * (x + GELU_COEF * x * x * x);
    const th = Math.tanh(u);
    const du = GELU_SQRT_2_OVER_PI * (1 + 3 * GELU_COEF * x * x);
    dinp[i] = dout[i] * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du);
  }
}

/** log-sum-exp of row z/T, and the row max of z/T, in f64. */
function rowLse(z: F32, off: number, K: number, invT: number): [number, number] {
  let mx = -Infinity;
  for (let k = 0; k < K; k++) mx = Math.max(mx, z[off + k] * invT);
  let sum = 0;
  for (let k = 0; k < K; k++) sum += Math.exp(z[off + k] * invT - mx);
  return [mx + Math.log(sum), mx];
}

// out, logits are (N,K).
export function softmax_t(out: F32, logits: F32, N: number, K: number, T: number): void {
  const invT = 1 / T;
  for (let n = 0; n < N; n++) {
    const [lse] = rowLse(logits, n * K, K, invT);
    for (let k = 0; k < K; k++) out[n * K + k] = Math.exp(logits[n * K + k] * invT - lse);
  }
}

// out, logits are (N,K).
export function log_softmax_t(out: F32, logits: F32, N: number, K: number, T: number): void {
  const invT = 1 / T;
  for (let n = 0; n < N; n++) {
    const [lse] = rowLse(logits, n * K, K, invT);
    for (let k = 0; k < K; k++) out[n * K + k] = logits[n * K + k] * invT - lse;
  }
}

// dS, s, t are (N,K).
export function kd_loss(dS: F32, s: F32, t: F32, N: number, K: number, T: number, alpha: number, scaleT2: boolean, accumulate: boolean): number {
  if (N === 0) return 0;
  const invT = 1 / T;
  const lossScale = alpha * (scaleT2 ? T * T : 1) / N;
  const gradScale = alpha * (scaleT2 ? T : invT) / N;
  let total = 0;
  for (let n = 0; n < N; n++) {
    const off = n * K;
    const [lseS] = rowLse(s, off, K, invT);
    const [lseT] = rowLse(t, off, K, invT);
    for (let k = 0; k < K; k++) {
      const logPt = t[off + k] * invT - lseT;
      const logPs = s[off + k] * invT - lseS;
      const pt = Math.exp(logPt);
      const ps = Math.exp(logPs);
      if (pt > 0) total += pt * (logPt - logPs);
      const g = gradScale * (ps - pt);
      dS[off + k] = accumulate ? dS[off + k] + g : g;
    }
  }
  return total * lossScale;
}

// dlogits, logits are (N,K); labels is (N).
export function cross_entropy(dlogits: F32, logits: F32, labels: I32, N: number, K: number, weight: number, accumulate: boolean): number {
  if (N === 0) return 0;
  const scale = weight / N;
  let total = 0;
  for (let n = 0; n < N; n++) {
    const off = n * K;
    const y = labels[n];
    const [lse] = rowLse(logits, off, K, 1);
    total += lse - logits[off + y];
    for (let k = 0; k < K; k++) {
      const g = scale * (Math.exp(logits[off + k] - lse) - (k === y ? 1 : 0));
      dlogits[off + k] = accumulate ? dlogits[off + k] + g : g;
    }
  }
  return total * scale;
}

// dpred, pred, target are (n).
export function mse(dpred: F32, pred: F32, target: F32, n: number, weight: number, accumulate: boolean): number {
  if (n === 0) return 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i] - target[i];
    total += d * d;
    const g = (weight * 2 * d) / n;
    dpred[i] = accumulate ? dpred[i] + g : g;
  }
  return (weight * total) / n;
}

// params, grads, momentumBuf are (n).
export function sgd_step(params: F32, grads: F32, momentumBuf: F32, n: number, hp: SgdParams): void {
  const { lr, momentum, weightDecay, nesterov } = hp;
  for (let i = 0; i < n; i++) {
    let g = grads[i] + weightDecay * params[i];
    if (momentum !== 0) {
      const b = momentum * momentumBuf[i] + g;
      momentumBuf[i] = b;
      g = nesterov ? g + momentum * b : b;
    }
    params[i] = params[i] - lr * g;
  }
}

// params, grads, m, v are (n).
export function adamw_step(params: F32, grads: F32, m: F32, v: F32, n: number, hp: AdamWParams): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = hp;
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < n; i++) {
    const g = grads[i];
    let p = params[i] - lr * weightDecay * params[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p -= (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
    params[i] = p;
  }
}

/** The reference kernels as one object satisfying the contract. */
export const referenceKernels: Kernels = {
  matmul, bias_add, bias_grad, relu, relu_backward, gelu, gelu_backward,
  softmax_t, log_softmax_t, kd_loss, cross_entropy, mse, sgd_step, adamw_step,
};
