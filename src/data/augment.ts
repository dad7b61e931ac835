// Image augmentation: random translations by up to `maxShift` pixels (Hinton et al.'s jitter),
// seeded per batch so a resumed run draws the same shifts. Vacated pixels take the image's
// top-left value (the background of MNIST-like data, raw or normalized).

import { ConfigError } from '../errors.js';
import { Rng } from '../nn/rng.js';

export interface AugmentConfig {
  /** Largest shift in pixels along each axis (e.g. 2). */
  shift: number;
}

/** Side of the square images with `features` pixels, or an error naming the shape. */
export function imageSide(features: number): number {
  const side = Math.round(Math.sqrt(features));
  if (side * side !== features) throw new ConfigError(`augmentation needs square single-channel images; ${features} features is not a square`);
  return side;
}

/** Shifts each of the N images in x (N, side²) in place by its own random (dx, dy). */
export function shiftImages(x: Float32Array, N: number, side: number, maxShift: number, seed: number): void {
  if (!(Number.isInteger(maxShift) && maxShift >= 0)) throw new ConfigError(`augmentation shift must be a non-negative integer, got ${maxShift}`);
  if (maxShift === 0) return;
  const rng = new Rng(seed);
  const F = side * side, tmp = new Float32Array(F);
  for (let i = 0; i < N; i++) {
    const dx = rng.int(2 * maxShift + 1) - maxShift, dy = rng.int(2 * maxShift + 1) - maxShift;
    if (dx === 0 && dy === 0) continue;
    const img = x.subarray(i * F, (i + 1) * F);
    tmp.fill(img[0]);
    for (let r = 0; r < side; r++) {
      const sr = r - dy;
      if (sr < 0 || sr >= side) continue;
      for (let c = 0; c < side; c++) {
        const sc = c - dx;
        if (sc >= 0 && sc < side) tmp[r * side + c] = img[sr * side + sc];
      }
    }
    img.set(tmp);
  }
}
