// The seeded random stream behind RLW's weights and PCGrad's task order, so that a run with the
// same seed reproduces bit for bit on every platform: the shared xoshiro128** generator
// (lib/random.ts) seeded through splitmix32, drawing 53-bit uniforms and normals.

import { Generator } from '../../random';

export class Rng extends Generator {
  constructor(seed = 0) {
    if (typeof seed !== 'number' || !Number.isFinite(seed)) {
      throw new TypeError(`mtl.weighting.Rng: expected seed to be a finite number, got ${String(seed)}`);
    }
    super(seed);
  }

  /** Folds the seed's low and high 32-bit words (two's complement), then splitmix32. */
  override manualSeed(seed: number): void {
    this.seedSplitMix32((Math.trunc(seed) >>> 0) ^ (Math.floor(seed / 2 ** 32) >>> 0));
  }

  /** Uniform in [0, 1) with 53 random bits. */
  override uniform(): number {
    return this.uniformFloat64();
  }

  /** Standard normal draw (Box-Muller; the second value of each pair is kept for the next call). */
  override normal(): number {
    return this.normalFloat64();
  }

  /** A uniform integer in [0, n), without modulo bias (rejection sampling). */
  override below(n: number): number {
    return super.below(n, 'mtl.weighting.Rng.below');
  }
}
