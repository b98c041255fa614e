// A fresh seed per run (printed by the tests on failure) and the random helpers built on it.
import * as hn from '../../lib/index';

export interface Seeded {
  seed: number;
  gen: hn.Generator;
  /** An integer in [lo, hi]. */
  randInt(lo: number, hi: number): number;
  /** n uniform values in [-1, 1). */
  randomArray(n: number): Float32Array;
}

export function seeded(seed = Date.now() % 1_000_000): Seeded {
  const gen = new hn.Generator(seed);
  return {
    seed,
    gen,
    randInt: (lo, hi) => lo + Math.floor(gen.uniform() * (hi - lo + 1)),
    randomArray: (n) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = 2 * gen.uniform() - 1;
      return a;
    },
  };
}
