// The one seeded random generator of hydranet: xoshiro128** (Blackman & Vigna 2018), all 32-bit
// integer arithmetic (Math.imul, >>> 0), so a seed reproduces bit for bit on every platform.
// Two seeding schemes fill its state:
// - splitmix32 of a 32-bit fold of the seed: `new Generator(seed)` / `manualSeed`, the global
//   generator behind randn/rand, parameter init and dropout (hn.manualSeed), and the
//   mtl.weighting stream (lib/mtl/weighting/rng.ts);
// - splitmix64 of (seed, stream): `Generator.fromSplitMix64`, the data sets' and loaders' streams
//   (lib/data/prng.ts), kept apart so that data never moves the global stream.
// Draws come in two precisions: `uniform`/`normal` use 24-bit uniforms (exact in float32), and
// `uniformFloat64`/`normalFloat64` 53-bit ones (exact in float64).

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

function checkSplitMix64Input(op: string, arg: string, value: number): bigint {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${op}: expected ${arg} to be a non-negative safe integer, got ${String(value)}`);
  }
  return BigInt(value);
}

export class Generator {
  private readonly s = new Uint32Array(4);
  private spareNormal: number | null = null;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /**
   * A generator seeded by splitmix64: `stream` selects an independent sequence for the same seed
   * (a loader's epoch, say). The state is splitmix64(splitmix64(seed) ^ stream), expanded by
   * splitmix64. Both must be non-negative safe integers.
   */
  static fromSplitMix64(seed: number, stream = 0): Generator {
    const g = new Generator();
    g.seedSplitMix64(seed, stream, 'Generator.fromSplitMix64');
    return g;
  }

  /** Reseeds by splitmix32 of the seed's 32-bit fold (|seed|'s low word xor its high word). */
  manualSeed(seed: number): void {
    this.seedSplitMix32((Math.floor(Math.abs(seed)) >>> 0) ^ Math.floor(seed / 2 ** 32));
  }

  /** Fills the state with four consecutive splitmix32 outputs after the 32-bit `key`. */
  protected seedSplitMix32(key: number): void {
    let x = key;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    this.seeded();
  }

  /** The splitmix64 scheme of `fromSplitMix64`; `op` names the caller in errors. */
  protected seedSplitMix64(seed: number, stream: number, op: string): void {
    let x = mix64(checkSplitMix64Input(op, 'seed', seed)) ^ checkSplitMix64Input(op, 'stream', stream);
    for (let i = 0; i < 4; i += 2) {
      x = mix64(x);
      this.s[i] = Number(x & 0xffffffffn);
      this.s[i + 1] = Number(x >> 32n);
    }
    this.seeded();
  }

  private seeded(): void {
    // The all-zero state is the one fixed point of xoshiro. Neither scheme can produce it
    // (splitmix outputs of distinct counters are distinct), but never let it through.
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
    this.spareNormal = null;
  }

  /** Full generator state, for checkpoints that resume bit for bit. */
  getState(): number[] {
    return [...this.s, this.spareNormal === null ? NaN : this.spareNormal];
  }

  /** Restores `getState()`: four state words and the cached normal (NaN: none). */
  setState(state: readonly number[]): void {
    for (let i = 0; i < 4; i++) this.s[i] = state[i] >>> 0;
    this.spareNormal = Number.isNaN(state[4]) ? null : state[4];
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 bits, exactly representable in float32. */
  uniform(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Uniform in [0, 1) with 53 random bits (two draws). */
  uniformFloat64(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal draw by Box-Muller on 24-bit uniforms. */
  normal(): number {
    if (this.spareNormal !== null) return this.takeSpareNormal();
    let u = 0;
    while (u === 0) u = this.uniform();
    return this.boxMuller(u, this.uniform());
  }

  /** Standard normal draw by Box-Muller on 53-bit uniforms. */
  normalFloat64(): number {
    if (this.spareNormal !== null) return this.takeSpareNormal();
    return this.boxMuller(1 - this.uniformFloat64(), this.uniformFloat64()); // (0, 1]: log stays finite
  }

  /** Returns one normal of the pair for u in (0, 1], v in [0, 1) and keeps the other for the next call. */
  private boxMuller(u: number, v: number): number {
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  private takeSpareNormal(): number {
    const v = this.spareNormal as number;
    this.spareNormal = null;
    return v;
  }

  /** Uniform integer in [0, n), n <= 2^32, without modulo bias (rejects the ragged top). */
  below(n: number, op = 'Generator.below'): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) {
      throw new RangeError(`${op}: expected n to be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Fisher-Yates shuffle, in place; returns `items`. */
  shuffle<A extends { length: number; [index: number]: unknown }>(items: A): A {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const v = items[i];
      items[i] = items[j];
      items[j] = v;
    }
    return items;
  }

  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    const span = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + span * this.uniform();
    return out;
  }

  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }
}

export const defaultGenerator = new Generator(0);

/** Seeds the global generator (parameter init, randn, rand, dropout). */
export function manualSeed(seed: number): void {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new TypeError(`manualSeed: expected seed to be a finite number, got ${String(seed)}`);
  }
  defaultGenerator.manualSeed(seed);
}

/**
 * The global generator's state, JSON-safe (it goes into a checkpoint record as it is):
 * [s0, s1, s2, s3] and, when a normal sample is cached, that sample fifth. Like
 * torch.get_rng_state(): restoring it with setRngState makes dropout, randn and init continue
 * exactly where they were.
 * @example hn.save({ model: model.stateDict(), rng: hn.getRngState() }, 'ckpt.safetensors');
 */
export function getRngState(): number[] {
  const [s0, s1, s2, s3, spare] = defaultGenerator.getState();
  return Number.isNaN(spare) ? [s0, s1, s2, s3] : [s0, s1, s2, s3, spare];
}

/** Restores what getRngState returned. */
export function setRngState(state: readonly number[]): void {
  const op = 'setRngState';
  if (!Array.isArray(state) || (state.length !== 4 && state.length !== 5)) {
    throw new TypeError(`${op}: expected state to be the array getRngState() returned (4 or 5 numbers), got ${Array.isArray(state) ? `${state.length} values` : typeof state}`);
  }
  state.slice(0, 4).forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${op}: expected state[${i}] to be a uint32, got ${String(v)}`);
  });
  if (state.every((v, i) => i >= 4 || v === 0)) throw new RangeError(`${op}: expected a non-zero generator state, got all zeros`);
  if (state.length === 5 && !Number.isFinite(state[4])) throw new RangeError(`${op}: expected state[4] (the cached normal sample) to be finite, got ${String(state[4])}`);
  defaultGenerator.setState([state[0], state[1], state[2], state[3], state.length === 5 ? state[4] : NaN]);
}
