// Seeded PRNG (xoshiro128**) with a serializable state, used for init, dropout and shuffling.
// The whole state is four uint32s, so checkpoints can store it and resume bit-exactly.

export class Rng {
  private s: Uint32Array;
  private spare: number | null = null;

  constructor(seed: number | number[] = 0) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) this.setState(seed);
    else {
      // splitmix32 expansion of the seed
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.s[i] = (z ^ (z >>> 16)) >>> 0;
      }
      if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
    }
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller; the spare value is part of the state). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** Serializable state: four uint32s, plus the Box–Muller spare when one is pending. */
  getState(): number[] {
    const st = [...this.s];
    if (this.spare !== null) st.push(this.spare);
    return st;
  }

  setState(st: number[]): void {
    if (!Array.isArray(st) || (st.length !== 4 && st.length !== 5) || st.slice(0, 4).some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new RangeError(`RNG state must be 4 uint32s (+ optional spare normal), got ${JSON.stringify(st)}`);
    }
    this.s.set(st.slice(0, 4));
    this.spare = st.length === 5 ? st[4] : null;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
