import { describe, expect, it } from 'vitest';
import { Xoshiro128, shuffleInPlace } from '../lib/data/prng';

describe('Xoshiro128 (xoshiro128**)', () => {
  it('matches the reference outputs of Blackman & Vigna for state {1, 2, 3, 4}', () => {
    const g = Xoshiro128.fromState([1, 2, 3, 4]);
    expect([g.nextUint32(), g.nextUint32(), g.nextUint32(), g.nextUint32()]).toEqual([11520, 0, 5927040, 70819200]);
  });

  it('is reproducible per (seed, stream) and differs across seeds and streams', () => {
    const draw = (seed: number, stream = 0) => {
      const g = new Xoshiro128(seed, stream);
      return Array.from({ length: 8 }, () => g.nextUint32());
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
    expect(draw(1, 0)).not.toEqual(draw(1, 1));
    expect(draw(2 ** 53 - 1)).not.toEqual(draw(2 ** 53 - 2)); // high bits of the seed count
    expect(() => new Xoshiro128(-1)).toThrow(/Xoshiro128: expected seed to be a non-negative safe integer, got -1/);
  });

  it('nextBelow stays in range and is unbiased for a range that does not divide 2^32', () => {
    const g = new Xoshiro128(7);
    const n = 3;
    const counts = [0, 0, 0];
    const draws = 30000;
    for (let i = 0; i < draws; i++) counts[g.nextBelow(n)]++;
    // expected 10000 each, sd ~82: 5 sd bounds
    for (const c of counts) expect(Math.abs(c - draws / n)).toBeLessThan(410);
    for (let i = 0; i < 1000; i++) {
      const v = g.nextBelow(60000);
      expect(Number.isInteger(v) && v >= 0 && v < 60000).toBe(true);
    }
    expect(g.nextBelow(1)).toBe(0);
    expect(() => g.nextBelow(0)).toThrow(RangeError);
  });

  it('shuffleInPlace returns a permutation', () => {
    const v = new Int32Array(100).map((_, i) => i);
    shuffleInPlace(v, new Xoshiro128(3));
    expect([...v].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(v)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
