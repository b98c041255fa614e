// Seeded random numbers for data sets and loaders: the shared xoshiro128** generator
// (lib/random.ts) seeded through splitmix64. A generator of its own, apart from the global one
// (hn.manualSeed), so that building a data set or shuffling a loader never moves the stream that
// parameter init and dropout use.

import { Generator } from '../random';

export class Xoshiro128 extends Generator {
  /**
   * `stream` selects an independent sequence for the same seed (a loader's epoch, say):
   * the state is splitmix64(splitmix64(seed) ^ stream), expanded by splitmix64.
   */
  constructor(seed: number, stream = 0) {
    super();
    this.seedSplitMix64(seed, stream, 'Xoshiro128');
  }

  /** A generator with the given raw state (reference vectors in tests). */
  static fromState(state: readonly [number, number, number, number]): Xoshiro128 {
    const g = new Xoshiro128(0);
    g.setState([...state, NaN]);
    return g;
  }

  /** Uniform integer in [0, n), n <= 2^32, without modulo bias. */
  nextBelow(n: number): number {
    return this.below(n, 'Xoshiro128.nextBelow');
  }
}

/** In-place Fisher-Yates shuffle driven by `rng`. */
export function shuffleInPlace(values: Int32Array, rng: Xoshiro128): Int32Array {
  return rng.shuffle(values);
}
