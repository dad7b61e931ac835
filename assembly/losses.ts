// Loss kernels (optimized), each fused with its gradient: kd_loss, cross_entropy, mse. f32x4 main
// loops with scalar tails; per-row log-sum-exp and loss totals in f64. Return the loss.

import { SIMD, exp4, hsum } from './simd';
import { rowMax, rowSumExp } from './softmax';

// dS, s, t are (N,K). loss = alpha·(T² | 1)·mean_n KL(softmax(t/T) ‖ softmax(s/T));
// dS = (dS if accumulate) + alpha·(T | 1/T)·(p_s − p_t)/N.
export function kd_loss(dS: usize, s: usize, t: usize, N: i32, K: i32, T: f32, alpha: f32, scaleT2: bool, accumulate: bool): f64 {
  if (N == 0) return 0;
  const Td = <f64>T;
  const invT: f32 = <f32>(1.0 / Td);
  const lossScale = <f64>alpha * (scaleT2 ? Td * Td : 1.0) / <f64>N;
  const gradScale: f32 = <f32>(<f64>alpha * (scaleT2 ? Td : 1.0 / Td) / <f64>N);
  let total: f64 = 0;
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>K) << 2;
    const zs = s + off, zt = t + off, d = dS + off;
    const ms = rowMax(zs, K, invT), mt = rowMax(zt, K, invT);
    const lseS64 = <f64>ms + Math.log(rowSumExp(zs, K, invT, ms));
    const lseT64 = <f64>mt + Math.log(rowSumExp(zt, K, invT, mt));
    const lseS = <f32>lseS64, lseT = <f32>lseT64;
    let k = 0;
    if (SIMD) {
      const vi = f32x4.splat(invT), vls = f32x4.splat(lseS), vlt = f32x4.splat(lseT), vg = f32x4.splat(gradScale);
      let kl = f32x4.splat(0);
      for (; k + 4 <= K; k += 4) {
        const b = <usize>k << 2;
        const logPs = f32x4.sub(f32x4.mul(v128.load(zs + b), vi), vls);
        const logPt = f32x4.sub(f32x4.mul(v128.load(zt + b), vi), vlt);
        const ps = exp4(logPs), pt = exp4(logPt);
        kl = f32x4.add(kl, f32x4.mul(pt, f32x4.sub(logPt, logPs)));
        let g = f32x4.mul(vg, f32x4.sub(ps, pt));
        if (accumulate) g = f32x4.add(v128.load(d + b), g);
        v128.store(d + b, g);
      }
      total += hsum(kl);
    }
    for (; k < K; k++) {
      const b = <usize>k << 2;
      const logPs = <f64>(load<f32>(zs + b) * invT) - lseS64;
      const logPt = <f64>(load<f32>(zt + b) * invT) - lseT64;
      const ps = Math.exp(logPs), pt = Math.exp(logPt);
      if (pt > 0) total += pt * (logPt - logPs);
      let g = gradScale * <f32>(ps - pt);
      if (accumulate) g += load<f32>(d + b);
      store<f32>(d + b, g);
    }
  }
  return total * lossScale;
}

// dlogits, logits are (N,K); labels is (N) int32. loss = weight·mean_n −log softmax(z_n)[y_n];
// dlogits = (dlogits if accumulate) + weight·(softmax(z) − onehot(y))/N.
export function cross_entropy(dlogits: usize, logits: usize, labels: usize, N: i32, K: i32, weight: f32, accumulate: bool): f64 {
  if (N == 0) return 0;
  const scale64 = <f64>weight / <f64>N;
  const scale = <f32>scale64;
  let total: f64 = 0;
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>K) << 2;
    const z = logits + off, d = dlogits + off;
    const y = load<i32>(labels + (<usize>n << 2));
    const mx = rowMax(z, K, 1);
    const lse64 = <f64>mx + Math.log(rowSumExp(z, K, 1, mx));
    const lse = <f32>lse64;
    total += lse64 - <f64>load<f32>(z + (<usize>y << 2));
    let k = 0;
    if (SIMD) {
      const vl = f32x4.splat(lse), vs = f32x4.splat(scale);
      for (; k + 4 <= K; k += 4) {
        const b = <usize>k << 2;
        let g = f32x4.mul(vs, exp4(f32x4.sub(v128.load(z + b), vl)));
        if (accumulate) g = f32x4.add(v128.load(d + b), g);
        v128.store(d + b, g);
      }
    }
    for (; k < K; k++) {
      const b = <usize>k << 2;
      let g = scale * <f32>Math.exp(<f64>load<f32>(z + b) - lse64);
      if (accumulate) g += load<f32>(d + b);
      store<f32>(d + b, g);
    }
    const yb = d + (<usize>y << 2);
    store<f32>(yb, load<f32>(yb) - scale);
  }
  return total * scale64;
}

// dpred, pred, target are (n). loss = weight·mean (pred − target)²; dpred = (dpred if accumulate) + weight·2(pred − target)/n.
export function mse(dpred: usize, pred: usize, target: usize, n: i32, weight: f32, accumulate: bool): f64 {
  if (n == 0) return 0;
  const gs: f32 = <f32>(<f64>weight * 2.0 / <f64>n);
  let total: f64 = 0;
  let i = 0;
  if (SIMD) {
    const vg = f32x4.splat(gs);
    while (i + 4 <= n) {
      // f32 partial sums over blocks of at most 256 vectors, then f64.
      let acc = f32x4.splat(0);
      const end = min(n - 3, i + 1024);
      for (; i < end; i += 4) {
        const b = <usize>i << 2;
        const dd = f32x4.sub(v128.load(pred + b), v128.load(target + b));
        acc = f32x4.add(acc, f32x4.mul(dd, dd));
        let g = f32x4.mul(vg, dd);
        if (accumulate) g = f32x4.add(v128.load(dpred + b), g);
        v128.store(dpred + b, g);
      }
      total += hsum(acc);
    }
  }
  for (; i < n; i++) {
    const b = <usize>i << 2;
    const dd = load<f32>(pred + b) - load<f32>(target + b);
    total += <f64>dd * <f64>dd;
    let g = gs * dd;
    if (accumulate) g += load<f32>(dpred + b);
    store<f32>(dpred + b, g);
  }
  return <f64>weight * total / <f64>n;
}
