// Reference implementation of every kernel: plain loops, f64 accumulation. This is the
// definition of the contract and the ground truth of the conformance suite; keep it simple.

import {
  GELU_COEF,
  GELU_LIMIT,
  GELU_SQRT_2_OVER_PI,
  convOut,
  poolOut,
  type AdamWParams,
  type ConvParams,
  type F32,
  type I32,
  type I8,
  type U8,
  type Kernels,
  type PoolParams,
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
// ---- convolution, pooling, batch norm (NCHW) ---------------------------------------------------

// y is (N,OC,OH,OW); x is (N,C,H,W); w is (OC,C/groups,k,k); bias is (OC).
export function conv2d(y: F32, x: F32, w: F32, bias: F32, p: ConvParams): void {
  const { N, C, H, W, OC, k, stride, pad, groups } = p;
  const [OH, OW] = convOut(p);
  const Cg = C / groups, OCg = OC / groups;
  for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) {
    const c0 = Math.floor(o / OCg) * Cg;
    for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
      let acc = bias[o];
      for (let c = 0; c < Cg; c++) for (let a = 0; a < k; a++) {
        const h = i * stride - pad + a;
        if (h < 0 || h >= H) continue;
        for (let b = 0; b < k; b++) {
          const ww = j * stride - pad + b;
          if (ww < 0 || ww >= W) continue;
          acc += w[((o * Cg + c) * k + a) * k + b] * x[((n * C + c0 + c) * H + h) * W + ww];
        }
      }
      y[((n * OC + o) * OH + i) * OW + j] = acc;
    }
  }
}

// dx is (N,C,H,W); dy is (N,OC,OH,OW); w is (OC,C/groups,k,k). Gathers, so each dx is one f64 sum.
export function conv2d_backward_data(dx: F32, dy: F32, w: F32, p: ConvParams): void {
  const { N, C, H, W, OC, k, stride, pad, groups } = p;
  const [OH, OW] = convOut(p);
  const Cg = C / groups, OCg = OC / groups;
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const g = Math.floor(c / Cg), cl = c - g * Cg;
    for (let h = 0; h < H; h++) for (let ww = 0; ww < W; ww++) {
      let acc = 0;
      for (let a = 0; a < k; a++) {
        const ti = h + pad - a;
        if (ti < 0 || ti % stride !== 0) continue;
        const i = ti / stride;
        if (i >= OH) continue;
        for (let b = 0; b < k; b++) {
          const tj = ww + pad - b;
          if (tj < 0 || tj % stride !== 0) continue;
          const j = tj / stride;
          if (j >= OW) continue;
          for (let o = g * OCg; o < (g + 1) * OCg; o++) acc += w[((o * Cg + cl) * k + a) * k + b] * dy[((n * OC + o) * OH + i) * OW + j];
        }
      }
      dx[((n * C + c) * H + h) * W + ww] = acc;
    }
  }
}

// dw is (OC,C/groups,k,k); dbias is (OC); dy is (N,OC,OH,OW); x is (N,C,H,W).
export function conv2d_backward_weight(dw: F32, dbias: F32, dy: F32, x: F32, p: ConvParams, accumulate: boolean): void {
  const { N, C, H, W, OC, k, stride, pad, groups } = p;
  const [OH, OW] = convOut(p);
  const Cg = C / groups, OCg = OC / groups;
  for (let o = 0; o < OC; o++) {
    const c0 = Math.floor(o / OCg) * Cg;
    let db = accumulate ? dbias[o] : 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < OH * OW; i++) db += dy[(n * OC + o) * OH * OW + i];
    dbias[o] = db;
    for (let c = 0; c < Cg; c++) for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
      const wi = ((o * Cg + c) * k + a) * k + b;
      let acc = accumulate ? dw[wi] : 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < OH; i++) {
        const h = i * stride - pad + a;
        if (h < 0 || h >= H) continue;
        for (let j = 0; j < OW; j++) {
          const ww = j * stride - pad + b;
          if (ww < 0 || ww >= W) continue;
          acc += dy[((n * OC + o) * OH + i) * OW + j] * x[((n * C + c0 + c) * H + h) * W + ww];
        }
      }
      dw[wi] = acc;
    }
  }
}

// y, idx are (N,C,OH,OW); x is (N,C,H,W).
export function maxpool2d(y: F32, idx: I32, x: F32, p: PoolParams): void {
  const { N, C, H, W, kh, kw, stride, pad } = p;
  const [OH, OW] = poolOut(p);
  for (let nc = 0; nc < N * C; nc++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
    let best = -Infinity, at = -1;
    for (let a = 0; a < kh; a++) {
      const h = i * stride - pad + a;
      if (h < 0 || h >= H) continue;
      for (let b = 0; b < kw; b++) {
        const ww = j * stride - pad + b;
        if (ww < 0 || ww >= W) continue;
        const v = x[nc * H * W + h * W + ww];
        if (at < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) { best = v; at = h * W + ww; }
      }
    }
    y[(nc * OH + i) * OW + j] = best;
    idx[(nc * OH + i) * OW + j] = at;
  }
}

// dx is (N,C,H,W); dy, idx are (N,C,OH,OW).
export function maxpool2d_backward(dx: F32, dy: F32, idx: I32, p: PoolParams): void {
  const { N, C, H, W } = p;
  const [OH, OW] = poolOut(p);
  dx.fill(0, 0, N * C * H * W);
  for (let nc = 0; nc < N * C; nc++) for (let q = 0; q < OH * OW; q++) dx[nc * H * W + idx[nc * OH * OW + q]] += dy[nc * OH * OW + q];
}

// y is (N,C,OH,OW); x is (N,C,H,W).
export function avgpool2d(y: F32, x: F32, p: PoolParams): void {
  const { N, C, H, W, kh, kw, stride, pad } = p;
  const [OH, OW] = poolOut(p);
  for (let nc = 0; nc < N * C; nc++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
    let acc = 0;
    for (let a = 0; a < kh; a++) {
      const h = i * stride - pad + a;
      if (h < 0 || h >= H) continue;
      for (let b = 0; b < kw; b++) {
        const ww = j * stride - pad + b;
        if (ww >= 0 && ww < W) acc += x[nc * H * W + h * W + ww];
      }
    }
    y[(nc * OH + i) * OW + j] = acc / (kh * kw);
  }
}

// dx is (N,C,H,W); dy is (N,C,OH,OW). Gathers, so each dx is one f64 sum.
export function avgpool2d_backward(dx: F32, dy: F32, p: PoolParams): void {
  const { N, C, H, W, kh, kw, stride, pad } = p;
  const [OH, OW] = poolOut(p);
  const inv = 1 / (kh * kw);
  for (let nc = 0; nc < N * C; nc++) for (let h = 0; h < H; h++) for (let ww = 0; ww < W; ww++) {
    let acc = 0;
    for (let i = 0; i < OH; i++) {
      const a = h + pad - i * stride;
      if (a < 0 || a >= kh) continue;
      for (let j = 0; j < OW; j++) {
        const b = ww + pad - j * stride;
        if (b >= 0 && b < kw) acc += dy[(nc * OH + i) * OW + j];
      }
    }
    dx[nc * H * W + h * W + ww] = acc * inv;
  }
}

// mean, m2 are (C); x is (N,C,HW). Two passes in f64.
export function batchnorm_stats(mean: F32, m2: F32, x: F32, N: number, C: number, HW: number): void {
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let q = 0; q < HW; q++) s += x[(n * C + c) * HW + q];
    const mu = N * HW > 0 ? s / (N * HW) : 0;
    let v = 0;
    for (let n = 0; n < N; n++) for (let q = 0; q < HW; q++) { const d = x[(n * C + c) * HW + q] - mu; v += d * d; }
    mean[c] = mu;
    m2[c] = v;
  }
}

// y, x are (N,C,HW); mean, invstd, gamma, beta are (C).
export function batchnorm(y: F32, x: F32, mean: F32, invstd: F32, gamma: F32, beta: F32, N: number, C: number, HW: number): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const sc = invstd[c] * gamma[c], mu = mean[c], b = beta[c];
    for (let q = 0; q < HW; q++) { const i = (n * C + c) * HW + q; y[i] = (x[i] - mu) * sc + b; }
  }
}

// sumDy, sumDyXhat, mean, invstd are (C); dy, x are (N,C,HW).
export function batchnorm_backward_reduce(sumDy: F32, sumDyXhat: F32, dy: F32, x: F32, mean: F32, invstd: F32, N: number, C: number, HW: number): void {
  for (let c = 0; c < C; c++) {
    let s = 0, sx = 0;
    for (let n = 0; n < N; n++) for (let q = 0; q < HW; q++) {
      const i = (n * C + c) * HW + q;
      s += dy[i];
      sx += dy[i] * (x[i] - mean[c]) * invstd[c];
    }
    sumDy[c] = s;
    sumDyXhat[c] = sx;
  }
}

// dx, dy, x are (N,C,HW); mean, invstd, gamma, sumDy, sumDyXhat are (C).
export function batchnorm_backward(dx: F32, dy: F32, x: F32, mean: F32, invstd: F32, gamma: F32, sumDy: F32, sumDyXhat: F32, count: number, N: number, C: number, HW: number): void {
  for (let c = 0; c < C; c++) {
    const is = invstd[c], sc = gamma[c] * is, mdy = count > 0 ? sumDy[c] / count : 0, mdx = count > 0 ? sumDyXhat[c] / count : 0, mu = mean[c];
    for (let n = 0; n < N; n++) for (let q = 0; q < HW; q++) {
      const i = (n * C + c) * HW + q;
      dx[i] = sc * (dy[i] - mdy - (x[i] - mu) * is * mdx);
    }
  }
}

/** Round half to even (the float32 value v is already an integer beyond 2^23). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v), d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

// q, x are (n).
export function quantize_int8(q: U8, x: F32, n: number, invScale: number, zeroPoint: number): void {
  const s = Math.fround(invScale);
  for (let i = 0; i < n; i++) {
    const v = Math.fround(x[i] * s);
    const r = Number.isNaN(v) ? 0 : v > 512 ? 512 : v < -512 ? -512 : roundHalfEven(v);
    const z = r + zeroPoint;
    q[i] = z < 0 ? 0 : z > 255 ? 255 : z;
  }
}

// acc is (M,N); a is (M,K) uint8; w is (N,K) int8.
export function matmul_int8(acc: I32, a: U8, w: I8, M: number, N: number, K: number): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * w[n * K + k];
      acc[m * N + n] = s;
    }
  }
}

// acc is (N,OC,OH,OW) int32; x is (N,C,H,W) uint8; w is (OC,C/groups,k,k) int8.
export function conv2d_int8(acc: I32, x: U8, w: I8, p: ConvParams, xZero: number): void {
  const { N, C, H, W, OC, k, stride, pad, groups } = p;
  const [OH, OW] = convOut(p);
  const cg = C / groups, og = OC / groups;
  for (let n = 0; n < N; n++) for (let o = 0; o < OC; o++) {
    const g = Math.floor(o / og);
    for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
      let s = 0;
      for (let c = 0; c < cg; c++) for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
        const h = i * stride - pad + a, ww = j * stride - pad + b;
        const v = h >= 0 && h < H && ww >= 0 && ww < W ? x[((n * C + g * cg + c) * H + h) * W + ww] : xZero;
        s += v * w[((o * cg + c) * k + a) * k + b];
      }
      acc[((n * OC + o) * OH + i) * OW + j] = s;
    }
  }
}

// y, acc are (N,C,HW); wsum, scale, bias are (C).
export function dequantize_int32(y: F32, acc: I32, wsum: I32, scale: F32, bias: F32, zero: number, N: number, C: number, HW: number): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const zc = zero * wsum[c], s = scale[c], b = bias[c];
    for (let q = 0; q < HW; q++) {
      const i = (n * C + c) * HW + q;
      y[i] = Math.fround(Math.fround(Math.fround(acc[i] - zc) * s) + b);
    }
  }
}

export const referenceKernels: Kernels = {
  matmul, bias_add, bias_grad, relu, relu_backward, gelu, gelu_backward,
  softmax_t, log_softmax_t, kd_loss, cross_entropy, mse, sgd_step, adamw_step,
  conv2d, conv2d_backward_data, conv2d_backward_weight, maxpool2d, maxpool2d_backward, avgpool2d, avgpool2d_backward,
  batchnorm_stats, batchnorm, batchnorm_backward_reduce, batchnorm_backward,
  quantize_int8, matmul_int8, conv2d_int8, dequantize_int32,
};

