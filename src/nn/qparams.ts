// Quantization parameters (in nn, below io, so that model files and int8 inference can use it):
// the one definition of how float32 values become int8/uint8, shared by
// post-training quantization, the fake-quant of quantization-aware training and int8 inference, so
// that a QAT model converted to int8 computes what its training forward computed.
//
// - Activations: uint8, per tensor, asymmetric: q = clamp(round_half_even(f32(x·invScale)) + zeroPoint, 0, 255)
//   (the quantize_int8 kernel), x ≈ (q − zeroPoint)·scale. The range always contains 0, so 0 (zero
//   padding, ReLU's zeros) is exact.
// - Weights: int8, per output channel, symmetric (zero point 0), in [−127, 127]: scale[c] = max|w_c|/127.
//   −128 is never used, so negating a weight never overflows and |Σ a·w| ≤ 255·127·K.

import { roundHalfEven } from '../kernels/reference.js';
import type { F32 } from '../kernels/signatures.js';

/** A tensor's float range, as observed on calibration data (or by QAT's observers). */
export interface ActRange {
  min: number;
  max: number;
}

/** Per-tensor uint8 quantization of activations. */
export interface ActQParams {
  scale: number;
  /** float32(1/scale): what the kernels multiply by. */
  invScale: number;
  zeroPoint: number;
}

/** uint8 parameters covering [min, max] widened to contain 0 (a degenerate range gives scale 1). */
export function activationQParams(r: ActRange): ActQParams {
  if (!Number.isFinite(r.min) || !Number.isFinite(r.max) || r.min > r.max) throw new RangeError(`activation range [${r.min}, ${r.max}] is not a finite range`);
  const lo = Math.min(0, r.min), hi = Math.max(0, r.max);
  const scale = hi - lo > 1e-12 ? Math.fround((hi - lo) / 255) : 1;
  const zeroPoint = Math.min(255, Math.max(0, roundHalfEven(-lo / scale)));
  return { scale, invScale: Math.fround(1 / scale), zeroPoint };
}

/** Weights quantized per output channel: q (OC, fan) int8 in [−127, 127], scale (OC), wsum (OC) = Σ q over the row. */
export interface QuantWeights {
  q: Int8Array;
  scale: Float32Array;
  wsum: Int32Array;
}

/** Symmetric per-channel int8 weights of w (OC rows of fan values each; a Dense (out,in) or a Conv (OC, C/groups·k·k)). */
export function quantizeWeights(w: F32, OC: number, fan: number): QuantWeights {
  if (w.length < OC * fan) throw new RangeError(`weights have ${w.length} values, expected ${OC}×${fan}`);
  const q = new Int8Array(OC * fan), scale = new Float32Array(OC), wsum = new Int32Array(OC);
  for (let c = 0; c < OC; c++) {
    let m = 0;
    for (let i = 0; i < fan; i++) m = Math.max(m, Math.abs(w[c * fan + i]));
    if (!Number.isFinite(m)) throw new RangeError(`weights of output channel ${c} are not finite`);
    const s = m > 0 ? Math.fround(m / 127) : 1;
    scale[c] = s;
    let sum = 0;
    for (let i = 0; i < fan; i++) {
      const v = Math.min(127, Math.max(-127, roundHalfEven(Math.fround(w[c * fan + i] / s))));
      q[c * fan + i] = v;
      sum += v;
    }
    wsum[c] = sum;
  }
  return { q, scale, wsum };
}

/** out = the float32 values the int8 weights stand for: q·scale[c] (QAT's fake-quantized weights). */
export function dequantizeWeights(out: F32, qw: QuantWeights, OC: number, fan: number): void {
  for (let c = 0; c < OC; c++) for (let i = 0; i < fan; i++) out[c * fan + i] = qw.q[c * fan + i] * qw.scale[c];
}

/** out = fake-quantized activations: (quantize_int8(x) − zeroPoint)·scale, elementwise (out may alias x). */
export function fakeQuantActivations(out: F32, x: F32, n: number, p: ActQParams): void {
  for (let i = 0; i < n; i++) {
    const v = Math.fround(x[i] * p.invScale);
    const r = Number.isNaN(v) ? 0 : v > 512 ? 512 : v < -512 ? -512 : roundHalfEven(v);
    const q = Math.min(255, Math.max(0, r + p.zeroPoint));
    out[i] = (q - p.zeroPoint) * p.scale;
  }
}
