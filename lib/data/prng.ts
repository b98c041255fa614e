// Seeded random numbers for data sets and loaders: xoshiro128** (Blackman & Vigna), seeded
// through splitmix64. Kept apart from the global generator (hn.manualSeed) so that building a
// data set or shuffling a loader never moves the stream that parameter init and dropout use.

const MASK64 = (1n << 64n) - 1n;

/** One step of splitmix64 as a pure mixing function of a 64-bit value. */
function mix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function checkSeed(op: string, seed: number): bigint {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`${op}: expected seed to be a non-negative safe integer, got ${String(seed)}`);
  }
  return BigInt(seed);
}

export class Xoshiro128 {
  private readonly s = new Uint32Array(4);

  /**
   * `stream` selects an independent sequence for the same seed (a loader's epoch, say):
   * the state is splitmix64(splitmix64(seed) ^ stream), expanded by splitmix64.
   */
  constructor(seed: number, stream = 0) {
    let x = mix64(checkSeed('Xoshiro128', seed)) ^ checkSeed('Xoshiro128', stream);
    for (let i = 0; i < 4; i += 2) {
      x = mix64(x);
      this.s[i] = Number(x & 0xffffffffn);
      this.s[i + 1] = Number(x >> 32n);
    }
    // The all-zero state is the one fixed point of xoshiro; splitmix64 output makes it
    // astronomically unlikely, but never let it through.
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** A generator with the given raw state (reference vectors in tests). */
  static fromState(state: readonly [number, number, number, number]): Xoshiro128 {
    const g = new Xoshiro128(0);
    for (let i = 0; i < 4; i++) g.s[i] = state[i] >>> 0;
    return g;
  }

  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform integer in [0, n), n <= 2^32, without modulo bias (rejects the ragged top). */
  nextBelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
      throw new RangeError(`Xoshiro128.nextBelow: expected n to be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }
}

/** In-place Fisher-Yates shuffle driven by `rng`. */
export function shuffleInPlace(values: Int32Array, rng: Xoshiro128): Int32Array {
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const v = values[i];
    values[i] = values[j];
    values[j] = v;
  }
  return values;
}
