// The helpers under the weighting strategies: the dense T×T linear algebra (Jacobi eigen
// solver, linear solves, simplex projection, Gram matrix) and the seeded PRNG.

import { describe, expect, it } from 'vitest';
import {
  gramMatrix,
  matMul,
  projectOntoSimplex,
  solveLeastSquares,
  solveLinear,
  symmetricEigen,
  transpose,
  weightedRowSum,
  type Matrix,
} from '../lib/mtl/weighting/linalg';
import { Rng } from '../lib/mtl/weighting/rng';

function randomMatrix(rng: Rng, rows: number, cols: number): Matrix {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
}

function maxAbsDiff(A: Matrix, B: Matrix): number {
  let m = 0;
  A.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - B[i][j])))));
  return m;
}

describe('symmetricEigen (cyclic Jacobi)', () => {
  it('reconstructs M = V diag(λ) Vᵀ with orthonormal V and sorted λ', () => {
    const rng = new Rng(1);
    for (const n of [1, 2, 3, 5, 8]) {
      const A = randomMatrix(rng, n, n + 2);
      const M = matMul(A, transpose(A));
      const { values, vectors } = symmetricEigen(M);
      for (let k = 1; k < n; k++) expect(values[k]).toBeLessThanOrEqual(values[k - 1]);
      const VtV = matMul(transpose(vectors), vectors);
      const identity = VtV.map((row, i) => row.map((_, j) => (i === j ? 1 : 0)));
      expect(maxAbsDiff(VtV, identity)).toBeLessThan(1e-13);
      const diag = vectors.map((_, i) => vectors.map((__, j) => (i === j ? values[i] : 0)));
      const rebuilt = matMul(matMul(vectors, diag), transpose(vectors));
      expect(maxAbsDiff(rebuilt, M)).toBeLessThan(1e-12 * (1 + values[0]));
    }
  });

  it('finds known eigenvalues, including repeated and zero ones', () => {
    // [[2,1],[1,2]]: eigenvalues 3 and 1 with vectors (1,1)/√2 and (1,-1)/√2.
    const { values, vectors } = symmetricEigen([[2, 1], [1, 2]]);
    expect(values[0]).toBeCloseTo(3, 14);
    expect(values[1]).toBeCloseTo(1, 14);
    expect(Math.abs(vectors[0][0])).toBeCloseTo(Math.SQRT1_2, 14);
    // Rank one: v vᵀ with v = (1, 2, 2) has eigenvalues 9, 0, 0.
    const v = [1, 2, 2];
    const rankOne = symmetricEigen(v.map((a) => v.map((b) => a * b))).values;
    expect(rankOne[0]).toBeCloseTo(9, 13);
    expect(Math.abs(rankOne[1])).toBeLessThan(1e-14);
    expect(Math.abs(rankOne[2])).toBeLessThan(1e-14);
  });
});

describe('linear solves', () => {
  it('solveLinear solves with pivoting and reports singular systems', () => {
    // Needs a row swap (the (0,0) pivot is 0); by hand: x = (1, 2, 3) gives b = (7, 3, 6).
    const x = solveLinear([[0, 2, 1], [1, 1, 0], [3, 0, 1]], [7, 3, 6]) as Float64Array;
    expect(x).not.toBeNull();
    [1, 2, 3].forEach((v, i) => expect(x[i]).toBeCloseTo(v, 14));
    expect(solveLinear([[1, 2], [2, 4]], [1, 2])).toBeNull();
  });

  it('solveLeastSquares gives the minimum-norm solution of singular systems', () => {
    // x1 + x2 = 2 (twice): minimum-norm solution (1, 1).
    const x = solveLeastSquares([[1, 1], [1, 1]], [2, 2]);
    expect(x[0]).toBeCloseTo(1, 12);
    expect(x[1]).toBeCloseTo(1, 12);
  });
});

describe('projectOntoSimplex', () => {
  it('matches the KKT characterisation: x = max(y - θ, 0), Σx = 1', () => {
    expect(Array.from(projectOntoSimplex([0.2, 0.3, 0.5]))).toEqual([0.2, 0.3, 0.5]);
    const p = projectOntoSimplex([2, 0, -1]);
    expect(Array.from(p)).toEqual([1, 0, 0]);
    const q = projectOntoSimplex([0.5, 0.5, 0.5]);
    q.forEach((v) => expect(v).toBeCloseTo(1 / 3, 15));
    const rng = new Rng(3);
    for (let trial = 0; trial < 50; trial++) {
      const y = Array.from({ length: 6 }, () => 2 * rng.normal());
      const x = projectOntoSimplex(y);
      expect(Math.abs(x.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-14);
      // One θ for every positive component, and y_i <= θ wherever x_i = 0.
      const support = [...x.keys()].filter((i) => x[i] > 0);
      const theta = y[support[0]] - x[support[0]];
      for (const i of support) expect(y[i] - x[i]).toBeCloseTo(theta, 13);
      for (let i = 0; i < 6; i++) if (x[i] === 0) expect(y[i]).toBeLessThanOrEqual(theta + 1e-13);
    }
  });
});

describe('gramMatrix and weightedRowSum', () => {
  it('agree with direct float64 loops across block boundaries', () => {
    const rng = new Rng(4);
    const P = 4096 * 2 + 17; // crosses the 4096-column blocks
    const rows = [0, 1, 2].map(() => Float32Array.from({ length: P }, () => rng.normal()));
    const M = gramMatrix(rows);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < P; k++) s += rows[i][k] * rows[j][k];
        expect(M[i][j]).toBeCloseTo(s, 8);
        expect(M[i][j]).toBe(M[j][i]);
      }
    }
    const d = weightedRowSum(rows, [0.5, -2, 0]);
    expect(d).toBeInstanceOf(Float32Array);
    for (const k of [0, 4096, P - 1]) expect(d[k]).toBeCloseTo(Math.fround(0.5 * rows[0][k] - 2 * rows[1][k]), 6);
  });
});

describe('Rng (xoshiro128** seeded by splitmix32)', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
    for (const x of xs) expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
    expect(new Rng(2 ** 40).nextUint32()).not.toBe(new Rng(0).nextUint32()); // high bits count
    expect(() => new Rng(NaN)).toThrow(/seed to be a finite number/);
  });

  it('uniform, normal, below and shuffle have the right distributions', () => {
    const rng = new Rng(7);
    const n = 20000;
    let sum = 0;
    let sumNormal = 0;
    let sumSquares = 0;
    const counts = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
      const z = rng.normal();
      sumNormal += z;
      sumSquares += z * z;
      counts[rng.below(3)] += 1;
    }
    // Standard errors: uniform mean 0.002, normal mean 0.007, variance 0.01, counts ~67.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(sumNormal / n)).toBeLessThan(0.03);
    expect(Math.abs(sumSquares / n - 1)).toBeLessThan(0.05);
    for (const count of counts) expect(Math.abs(count - n / 3)).toBeLessThan(350);
    const items = [0, 1, 2, 3, 4, 5, 6, 7];
    const shuffled = rng.shuffle([...items]);
    expect([...shuffled].sort((p, q) => p - q)).toEqual(items);
    // Every position gets every item about equally often.
    const firsts = new Array(4).fill(0);
    for (let i = 0; i < 8000; i++) firsts[rng.shuffle([0, 1, 2, 3])[0]] += 1;
    for (const f of firsts) expect(Math.abs(f - 2000)).toBeLessThan(200);
  });
});
