// Optimizer kernels (optimized): sgd_step and adamw_step, in place over one flat buffer, f32x4 main
// loops with scalar tails. Bias corrections are computed by the caller (f64) and passed in.

import { SIMD, madd } from './simd';

// params, grads, momentumBuf are (n). g = grad + wd·p; with momentum: buf = m·buf + g,
// g = nesterov ? g + m·buf : buf; p −= lr·g. momentum = 0 leaves buf untouched.
export function sgd_step(params: usize, grads: usize, buf: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32, nesterov: bool): void {
  let i = 0;
  if (SIMD) {
    const vlr = f32x4.splat(-lr), vm = f32x4.splat(momentum), vwd = f32x4.splat(weightDecay);
    if (momentum == 0) {
      for (; i + 4 <= n; i += 4) {
        const b = <usize>i << 2;
        const p = v128.load(params + b);
        v128.store(params + b, madd(vlr, madd(vwd, p, v128.load(grads + b)), p));
      }
    } else if (!nesterov) {
      for (; i + 4 <= n; i += 4) {
        const b = <usize>i << 2;
        const p = v128.load(params + b);
        const m = madd(vm, v128.load(buf + b), madd(vwd, p, v128.load(grads + b)));
        v128.store(buf + b, m);
        v128.store(params + b, madd(vlr, m, p));
      }
    } else {
      for (; i + 4 <= n; i += 4) {
        const b = <usize>i << 2;
        const p = v128.load(params + b);
        const g = madd(vwd, p, v128.load(grads + b));
        const m = madd(vm, v128.load(buf + b), g);
        v128.store(buf + b, m);
        v128.store(params + b, madd(vlr, madd(vm, m, g), p));
      }
    }
  }
  for (; i < n; i++) {
    const b = <usize>i << 2;
    const p = load<f32>(params + b);
    let g = load<f32>(grads + b) + weightDecay * p;
    if (momentum != 0) {
      const m = momentum * load<f32>(buf + b) + g;
      store<f32>(buf + b, m);
      g = nesterov ? g + momentum * m : m;
    }
    store<f32>(params + b, p - lr * g);
  }
}

// params, grads, m, v are (n). p −= lr·wd·p; m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²;
// p −= lr·(m/bc1)/(sqrt(v/bc2) + eps), bc1 = 1 − b1^step, bc2 = 1 − b2^step.
// The hyper-parameters come in as f64 (JS numbers) and every constant derived from them is
// computed in f64 and rounded to f32 once, as in native/optim.cc: 1 − b2 from an f32-rounded
// b2 = 0.999 is 0.00099998713, which made v 1.29e-5 too small and every update ~6.5e-6 too
// large (found by test/parity.test.ts against PyTorch).
export function adamw_step(params: usize, grads: usize, m: usize, v: usize, n: i32, lr: f64, beta1: f64, beta2: f64, eps: f64, weightDecay: f64, bc1: f64, bc2: f64): void {
  const decay = <f32>(1.0 - lr * weightDecay);
  const b1 = <f32>beta1, b2 = <f32>beta2, c1 = <f32>(1.0 - beta1), c2 = <f32>(1.0 - beta2);
  const stepSize = <f32>(lr / bc1), ib2 = <f32>(1.0 / bc2), e = <f32>eps;
  let i = 0;
  if (SIMD) {
    const vdec = f32x4.splat(decay), vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2);
    const vstep = f32x4.splat(stepSize), vib2 = f32x4.splat(ib2), veps = f32x4.splat(e);
    for (; i + 4 <= n; i += 4) {
      const b = <usize>i << 2;
      const g = v128.load(grads + b);
      const mi = f32x4.add(f32x4.mul(vb1, v128.load(m + b)), f32x4.mul(vc1, g));
      const vi = f32x4.add(f32x4.mul(vb2, v128.load(v + b)), f32x4.mul(vc2, f32x4.mul(g, g)));
      v128.store(m + b, mi);
      v128.store(v + b, vi);
      const den = f32x4.add(f32x4.sqrt(f32x4.mul(vi, vib2)), veps);
      const p = f32x4.mul(v128.load(params + b), vdec);
      v128.store(params + b, f32x4.sub(p, f32x4.div(f32x4.mul(vstep, mi), den)));
    }
  }
  for (; i < n; i++) {
    const b = <usize>i << 2;
    const g = load<f32>(grads + b);
    const mi = b1 * load<f32>(m + b) + c1 * g;
    const vi = b2 * load<f32>(v + b) + c2 * g * g;
    store<f32>(m + b, mi);
    store<f32>(v + b, vi);
    const p = load<f32>(params + b) * decay;
    store<f32>(params + b, p - (stepSize * mi) / (Mathf.sqrt(vi * ib2) + e));
  }
}
