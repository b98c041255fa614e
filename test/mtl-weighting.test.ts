// Multi-task weighting strategies (lib/mtl/weighting): each step against a case worked out by
// hand or by brute force, learned-parameter gradients against finite differences, bad input,
// and a property test on random gradient matrices. Pure TypeScript: no native addon needed.
//
// Tolerances: directions are float32, so hand cases compare to ~1e-6 relative; solver outputs
// (float64) are compared to 1e-9 unless a grid search is involved (then the grid's resolution).

import { describe, expect, it } from 'vitest';
import * as weighting from '../lib/mtl/weighting';
import { Rng } from '../lib/mtl/weighting/rng';

type Rows = number[][];

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

function gram(rows: readonly ArrayLike<number>[]): number[][] {
  return rows.map((a) => rows.map((b) => dot(a, b)));
}

/** Σ_t w_t rows[t] in float64. */
function combination(rows: readonly ArrayLike<number>[], w: ArrayLike<number>): number[] {
  const out = new Array<number>(rows[0].length).fill(0);
  rows.forEach((row, t) => {
    for (let k = 0; k < row.length; k++) out[k] += w[t] * row[k];
  });
  return out;
}

function randomRows(seed: number, T: number, P: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: T }, () => Float32Array.from({ length: P }, () => rng.normal()));
}

/** Every point of the simplex in T = 3 dimensions on a grid of step 1/n. */
function* simplexGrid3(n: number): Generator<[number, number, number]> {
  for (let i = 0; i <= n; i++) for (let j = 0; j <= n - i; j++) yield [i / n, j / n, (n - i - j) / n];
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tol) {
      throw new Error(`entry ${i}: got ${actual[i]}, expected ${expected[i]} (tolerance ${tol}); all: [${Array.from(actual)}] vs [${Array.from(expected)}]`);
    }
  }
}

describe('static and equal', () => {
  it('returns the given weights in task order', () => {
    const s = weighting.static({ depth: 0.5, seg: 2 }).init(['seg', 'depth']);
    expect(s.kind).toBe('loss');
    expect(s.weights()).toEqual([2, 0.5]);
    expect(s.weights({ seg: 1, depth: 3 }, { step: 0, epoch: 0 })).toEqual([2, 0.5]);
    expect(weighting.equal().init(['a', 'b', 'c']).weights([1, 2, 3])).toEqual([1, 1, 1]);
  });

  it('rejects bad weights and task names, naming the task', () => {
    expect(() => weighting.static({ seg: -1 })).toThrow(/static: expected weights\['seg'\] to be a finite number >= 0, got -1/);
    expect(() => weighting.static({ seg: NaN })).toThrow(RangeError);
    expect(() => weighting.static({ seg: NaN })).toThrow(/weights\['seg'\].*got NaN/);
    expect(() => weighting.static({ seg: Infinity })).toThrow(/weights\['seg'\]/);
    expect(() => weighting.static({ seg: '1' as unknown as number })).toThrow(TypeError);
    expect(() => weighting.static({ seg: 1 }).init(['seg', 'depth'])).toThrow(/none for task 'depth'/);
    expect(() => weighting.static({ seg: 1, normals: 1 }).init(['seg'])).toThrow(/unknown task 'normals'/);
    expect(() => weighting.static({ seg: 1 }).weights()).toThrow(/call init\(taskNames\) first/);
    expect(() => weighting.equal().init(['a', 'a'])).toThrow(/distinct names, got 'a' twice/);
    expect(() => weighting.equal().init([])).toThrow(/non-empty array of task names/);
  });

  it('checks the losses against the tasks', () => {
    const s = weighting.static({ a: 1, b: 1 }).init(['a', 'b']);
    expect(() => s.weights([1, 2, 3])).toThrow(/expected losses to be 2 values \(one per task: a, b\), got 3/);
    expect(() => s.weights({ a: 1, c: 2 })).toThrow(/unknown task 'c'/);
    expect(() => s.weights({ a: 1 })).toThrow(/none for task 'b'/);
    expect(() => s.weights([1, NaN])).toThrow(/losses\['b'\] to be a finite number, got NaN/);
    expect(() => s.weights([1, 2], { epoch: -1 })).toThrow(/ctx.epoch/);
  });
});

describe('uncertainty (Kendall et al. 2018, ½ exp(-s) L + ½ s)', () => {
  it('weights are ½ exp(-s) and the log-variance gradient matches finite differences', () => {
    const u = weighting.uncertainty().init(['a', 'b', 'c']);
    expect(u.weights()).toEqual([0.5, 0.5, 0.5]);
    u.parameters.set([0.3, -1.2, 2]);
    expectClose(u.weights(), [0.5 * Math.exp(-0.3), 0.5 * Math.exp(1.2), 0.5 * Math.exp(-2)], 1e-15);
    const losses = [0.7, 2.5, 0.05];
    const analytic = u.objectiveGradient(losses);
    const h = 1e-6;
    const numeric = [0, 1, 2].map((t) => {
      const s0 = u.parameters[t];
      u.parameters[t] = s0 + h;
      const up = u.objective(losses);
      u.parameters[t] = s0 - h;
      const down = u.objective(losses);
      u.parameters[t] = s0;
      return (up - down) / (2 * h);
    });
    expectClose(analytic, numeric, 1e-8);
    // The objective for fixed losses is minimised at s = log L: the gradient vanishes there.
    u.parameters.set(losses.map(Math.log));
    expectClose(u.objectiveGradient(losses), [0, 0, 0], 1e-15);
    expect(weighting.uncertainty({ initLogVariance: -0.5 }).init(['a']).weights()[0]).toBeCloseTo(0.5 * Math.exp(0.5), 15);
  });
});

describe('DWA (Liu et al. 2019)', () => {
  it('is 1 for the first two epochs, then K·softmax(ratio / T) of the last two epoch averages', () => {
    const d = weighting.dwa().init(['a', 'b']);
    // Epoch 0 averages [2, 4] (steps [1, 4] and [3, 4]); epoch 1 averages [1, 4].
    expect(d.weights([1, 4], { epoch: 0 })).toEqual([1, 1]);
    expect(d.weights([3, 4], { epoch: 0 })).toEqual([1, 1]);
    expect(d.weights([1, 4], { epoch: 1 })).toEqual([1, 1]);
    expectClose(d.averageLosses(0) as Float64Array, [2, 4], 0);
    // Ratios [1/2, 4/4]; 2·e^{0.25}/(e^{0.25}+e^{0.5}) = 0.875647, 2·e^{0.5}/(…) = 1.124353.
    expectClose(d.weights([9, 9], { epoch: 2 }), [0.8756469982284038, 1.1243530017715964], 1e-12);
    // Within epoch 2 the weights do not move (they depend on epochs 0 and 1 only).
    expectClose(d.weights([5, 1], { epoch: 2 }), [0.8756469982284038, 1.1243530017715964], 1e-12);
  });

  it('uses the temperature and K = 3', () => {
    const d = weighting.dwa({ temperature: 2 }).init(['a', 'b', 'c']);
    d.weights([2, 4, 1], { epoch: 0 });
    d.weights([1, 4, 1.5], { epoch: 1 });
    // Ratios [0.5, 1, 1.5]; 3·softmax([0.25, 0.5, 0.75]).
    expectClose(d.weights([1, 1, 1], { epoch: 2 }), [0.7628256377713969, 0.9794875073995101, 1.2576868548290934], 1e-12);
  });

  it('rejects a missing or decreasing epoch and zero averages', () => {
    const d = weighting.dwa().init(['a', 'b']);
    expect(() => d.weights([1, 1])).toThrow(/ctx.epoch to be the current epoch/);
    d.weights([1, 1], { epoch: 3 });
    expect(() => d.weights([1, 1], { epoch: 2 })).toThrow(/>= 3 \(epochs never go back\)/);
    const z = weighting.dwa().init(['a', 'b']);
    z.weights([0, 1], { epoch: 0 });
    z.weights([1, 1], { epoch: 1 });
    expect(() => z.weights([1, 1], { epoch: 2 })).toThrow(/average loss of task 'a' in epoch 0/);
    expect(() => weighting.dwa({ temperature: 0 })).toThrow(/temperature to be a finite number > 0/);
  });
});

describe('RLW (Lin et al. 2021)', () => {
  it('draws softmax(z), z ~ N(0, I) from the seeded stream, reproducibly', () => {
    const r = weighting.rlw({ seed: 7 }).init(['a', 'b', 'c']);
    const rng = new Rng(7);
    for (let step = 0; step < 3; step++) {
      const z = [rng.normal(), rng.normal(), rng.normal()];
      const e = z.map(Math.exp);
      const sum = e[0] + e[1] + e[2];
      expectClose(r.weights([1, 1, 1], { step }), e.map((v) => v / sum), 1e-15);
    }
    const again = weighting.rlw({ seed: 7 }).init(['a', 'b', 'c']);
    const first = again.weights();
    again.init(['a', 'b', 'c']); // init restarts the stream
    expect(again.weights()).toEqual(first);
    expect(weighting.rlw({ seed: 8 }).init(['a', 'b', 'c']).weights()).not.toEqual(first);
  });

  it('weights are positive, sum to 1 and average 1/T', () => {
    const r = weighting.rlw({ seed: 123 }).init(['a', 'b', 'c', 'd']);
    const mean = [0, 0, 0, 0];
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const w = r.weights();
      expect(w.every((v) => v > 0)).toBe(true);
      expect(Math.abs(w.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      w.forEach((v, t) => (mean[t] += v / n));
    }
    // Each weight has standard deviation < 0.3, so its mean over 4000 draws is within 0.02.
    for (const m of mean) expect(Math.abs(m - 0.25)).toBeLessThan(0.02);
  });
});

describe('GradNorm (Chen et al. 2018)', () => {
  it('matches a hand-computed objective and gradient', () => {
    const g = weighting.gradNorm({ alpha: 1.5 }).init(['a', 'b']);
    const G = [[3, 0], [0, 4]];
    // First call fixes L(0) = [1, 2]; weights are 1, direction the plain sum.
    const first = g.combine(G, [1, 2]);
    expectClose(first.direction, [3, 4], 0);
    expect(first.weights).toEqual([1, 1]);
    // L = [0.5, 1.5]: L̃ = [0.5, 0.75], r = [0.8, 1.2]; Ḡ = (3 + 4)/2; targets = 3.5 r^1.5.
    const targets = [3.5 * 0.8 ** 1.5, 3.5 * 1.2 ** 1.5];
    expectClose(g.targets(G, [0.5, 1.5]), targets, 1e-12);
    expect(g.objective(G, [0.5, 1.5])).toBeCloseTo(Math.abs(3 - targets[0]) + Math.abs(4 - targets[1]), 12);
    // 3 > 2.5044 and 4 < 4.6009: ∂/∂w = [+||g_1||, -||g_2||].
    expectClose(g.objectiveGradient(G, [0.5, 1.5]), [3, -4], 0);
  });

  it('weight gradient matches finite differences of L_grad with the targets held fixed', () => {
    const G = randomRows(11, 3, 20);
    const g = weighting.gradNorm({ alpha: 0.7 }).init(['a', 'b', 'c']);
    g.combine(G, [2.0, 1.0, 0.5]); // L(0)
    g.parameters.set([0.6, 1.7, 0.7]);
    const losses = [1.5, 0.4, 0.45];
    const targets = g.targets(G, losses);
    const analytic = g.objectiveGradient(G, losses);
    const h = 1e-6;
    const numeric = [0, 1, 2].map((t) => {
      const w0 = g.parameters[t];
      g.parameters[t] = w0 + h;
      const up = g.objective(G, losses, targets);
      g.parameters[t] = w0 - h;
      const down = g.objective(G, losses, targets);
      g.parameters[t] = w0;
      return (up - down) / (2 * h);
    });
    for (let t = 0; t < 3; t++) {
      // Away from the kinks of |·| (checked), where the derivative is exact up to rounding.
      expect(Math.abs(g.parameters[t] * norm(G[t]) - targets[t])).toBeGreaterThan(1e-3);
    }
    expectClose(analytic, numeric, 1e-6);
    // The direction uses the current weights; afterUpdate renormalises them to sum T.
    expectClose(g.combine(G).direction, combination(G, [0.6, 1.7, 0.7]), 1e-5);
    g.afterUpdate();
    expectClose(g.parameters, [0.6, 1.7, 0.7].map((w) => (3 * w) / 3.0), 1e-15);
    g.parameters.set([1, 2, 3]);
    g.afterUpdate();
    expectClose(g.parameters, [0.5, 1, 1.5], 1e-15);
  });

  it('needs positive losses', () => {
    const g = weighting.gradNorm().init(['a', 'b']);
    expect(() => g.objectiveGradient([[1], [1]], [0, 1])).toThrow(/losses\['a'\] to be a finite number > 0, got 0/);
  });
});

describe('MGDA-UB (Sener & Koltun 2018)', () => {
  it('two tasks: the closed form', () => {
    // min_γ ||γ (1,0) + (1-γ)(0,2)||² = γ² + 4(1-γ)²  →  γ = 0.8, d = (0.8, 0.4).
    const r = weighting.mgda().combine([new Float32Array([1, 0]), new Float32Array([0, 2])]);
    expectClose(r.weights, [0.8, 0.2], 1e-15);
    expectClose(r.direction, [0.8, 0.4], 1e-7);
    // Both tasks improve by exactly ||d||² = 0.8 (the min-norm point is equiangular here).
    expect(weighting.minNormTwo(1, 0, 4)).toBeCloseTo(0.8, 15);
    // A clipped case: g_2 = 2 g_1, the min-norm point is g_1 itself.
    expectClose(weighting.mgda().combine([[1, 0], [2, 0]]).weights, [1, 0], 0);
    // Equal gradients: any γ; we take ½.
    expectClose(weighting.mgda().combine([[1, 1], [1, 1]]).weights, [0.5, 0.5], 0);
  });

  it('three tasks: Frank-Wolfe matches a brute-force grid search over the simplex', () => {
    for (const seed of [1, 2, 3]) {
      const G = randomRows(seed, 3, 4);
      const M = gram(G);
      const sol = weighting.minNormElement(M);
      let best = Infinity;
      for (const a of simplexGrid3(400)) best = Math.min(best, dot(a, M.map((row) => dot(row, a))));
      // The solver is never worse than the grid, and the grid is within its resolution of it.
      expect(sol.normSquared).toBeLessThanOrEqual(best + 1e-12);
      expect(best - sol.normSquared).toBeLessThan(1e-3 * (M[0][0] + M[1][1] + M[2][2]));
      const d = combination(G, sol.alpha);
      for (const g of G) expect(dot(g, d)).toBeGreaterThanOrEqual(sol.normSquared - 1e-9);
    }
    // The optimum strictly inside the simplex: 0 = ⅓(1,0) + ⅓(0,1) + ⅓(-1,-1), the unique α.
    const inside = weighting.mgda().combine([[1, 0], [0, 1], [-1, -1]]);
    expectClose(inside.weights, [1 / 3, 1 / 3, 1 / 3], 1e-9);
    expectClose(inside.direction, [0, 0], 1e-9);
  });

  it('normalisations divide g_t by 1, ||g_t||, L_t or L_t ||g_t|| and keep d a descent direction', () => {
    const G = [[3, 0], [0, 1]];
    // 'l2': unit gradients (1,0),(0,1) → α = (½, ½); weights α/||g|| = (1/6, 1/2); d = (½, ½).
    const l2 = weighting.mgda({ normalization: 'l2' }).combine(G);
    expectClose(l2.weights, [1 / 6, 1 / 2], 1e-15);
    expectClose(l2.direction, [0.5, 0.5], 1e-7);
    // 'loss' with L = (3, 1) gives the same normalised gradients here.
    expectClose(weighting.mgda({ normalization: 'loss' }).combine(G, [3, 1]).weights, [1 / 6, 1 / 2], 1e-15);
    // 'loss+' with L = (1, 2): ĝ = (1,0), (0,½) → α = (0.2, 0.8), weights (0.2/3, 0.8/2).
    expectClose(weighting.mgda({ normalization: 'loss+' }).combine(G, [1, 2]).weights, [0.2 / 3, 0.4], 1e-15);
    expect(() => weighting.mgda({ normalization: 'loss' }).combine(G)).toThrow(/expected losses to be the 2 task losses/);
    expect(() => weighting.mgda({ normalization: 'max' as 'l2' })).toThrow(/one of 'none', 'l2', 'loss', 'loss\+'/);
  });
});

describe('PCGrad (Yu et al. 2020)', () => {
  it('projects two conflicting 2-D gradients as worked out by hand', () => {
    // g1 = (1,0), g2 = (-1,1): g1·g2 = -1 < 0.
    // g1' = g1 - (-1/2) g2 = (0.5, 0.5);  g2' = g2 - (-1/1) g1 = (0, 1);  Δ = (0.5, 1.5).
    // In terms of the originals: Δ = 2 g1 + 1.5 g2.
    const r = weighting.pcgrad().combine([new Float32Array([1, 0]), new Float32Array([-1, 1])]);
    expectClose(r.direction, [0.5, 1.5], 1e-7);
    expectClose(r.weights, [2, 1.5], 1e-15);
    const mean = weighting.pcgrad({ reduction: 'mean' }).combine([[1, 0], [-1, 1]]);
    expectClose(mean.direction, [0.25, 0.75], 1e-7);
    // Without conflict nothing is projected: the plain sum.
    expectClose(weighting.pcgrad().combine([[1, 0], [1, 1]]).weights, [1, 1], 0);
  });

  it('coefficients reproduce Algorithm 1 run on the vectors, for a given order', () => {
    const G = randomRows(5, 4, 6).map((row) => Array.from(row));
    const orders = [[3, 1, 2], [2, 0, 3], [1, 3, 0], [0, 2, 1]];
    const C = weighting.pcgradCoefficients(gram(G), (i) => orders[i]);
    G.forEach((gi, i) => {
      const pc = [...gi];
      for (const j of orders[i]) {
        const c = dot(pc, G[j]);
        if (c < 0) for (let k = 0; k < pc.length; k++) pc[k] -= (c / dot(G[j], G[j])) * G[j][k];
      }
      expectClose(combination(G, C[i]), pc, 1e-12);
      // After its last projection, the vector no longer conflicts with that task.
      const last = orders[i][orders[i].length - 1];
      expect(dot(pc, G[last])).toBeGreaterThanOrEqual(-1e-12);
    });
  });

  it('the random order is reproducible by seed', () => {
    const G = randomRows(9, 5, 3);
    const a = weighting.pcgrad({ seed: 3 }).combine(G).weights;
    expect(weighting.pcgrad({ seed: 3 }).combine(G).weights).toEqual(a);
  });
});

describe('CAGrad (Liu et al. 2021)', () => {
  it('the dual solution matches a brute-force search of F over the simplex, and strong duality holds', () => {
    for (const [seed, c] of [[21, 0.4], [22, 0.9], [23, 2]] as const) {
      const G = randomRows(seed, 3, 5).map((row) => Array.from(row));
      const M = gram(G);
      const dual = weighting.cagradDual(M, c);
      let best = Infinity;
      for (const w of simplexGrid3(300)) best = Math.min(best, weighting.cagradObjective(M, c, w));
      expect(dual.objective).toBeLessThanOrEqual(best + 1e-9);
      expect(best - dual.objective).toBeLessThan(1e-2 * Math.sqrt(M[0][0] + M[1][1] + M[2][2]));
      // Primal: d* = g0 + λ g_w lies on the ball ||d - g0|| = c||g0||, and min_t g_t·d* = F(w*).
      const g0 = combination(G, [1 / 3, 1 / 3, 1 / 3]);
      const dStar = combination(G, [0, 1, 2].map((t) => 1 / 3 + dual.lambda * dual.w[t]));
      expect(norm(dStar.map((v, k) => v - g0[k]))).toBeCloseTo(c * norm(g0), 9);
      expect(Math.min(...G.map((g) => dot(g, dStar)))).toBeCloseTo(dual.objective, 7);
      // The strategy returns d*/(1 + c²).
      const r = weighting.cagrad({ c }).combine(G.map((row) => Float64Array.from(row)));
      expectClose(r.direction, dStar.map((v) => v / (1 + c * c)), 1e-5);
      expectClose(weighting.cagrad({ c, rescale: 0 }).combine(G).direction, dStar, 1e-5);
      expectClose(weighting.cagrad({ c, rescale: 2 }).combine(G).direction, dStar.map((v) => v / (1 + c)), 1e-5);
    }
  });

  it('two tasks by hand: orthogonal unit gradients', () => {
    // g1 = (1,0), g2 = (0,1): by symmetry w* = (½, ½), g_w = g0 = (½, ½), ||g0|| = 1/√2,
    // λ = c ||g0|| / ||g_w|| = c, d* = (1 + c) g0; returned d*/(1 + c²).
    const c = 0.4;
    const r = weighting.cagrad({ c }).combine([[1, 0], [0, 1]]);
    expectClose(r.weights, [(0.5 + c * 0.5) / (1 + c * c), (0.5 + c * 0.5) / (1 + c * c)], 1e-9);
    // c = 0: the average gradient.
    expectClose(weighting.cagrad({ c: 0, rescale: 0 }).combine([[1, 0], [3, 1]]).direction, [2, 0.5], 1e-7);
  });
});

describe('IMTL-G (Liu et al. 2021)', () => {
  it('two tasks by hand', () => {
    // g1 = (1,0), g2 = (0,2): α1 g1 + α2 g2 = (α1, 2α2) with equal projections on (1,0), (0,1)
    // and α1 + α2 = 1 → α = (2/3, 1/3), d = (2/3, 2/3).
    const r = weighting.imtl().combine([[1, 0], [0, 2]]);
    expectClose(r.weights, [2 / 3, 1 / 3], 1e-12);
    expectClose(r.direction, [2 / 3, 2 / 3], 1e-7);
  });

  it('the aggregated gradient has equal projections on every unit task gradient', () => {
    for (const [seed, T, P] of [[31, 3, 7], [32, 4, 10], [33, 5, 5]] as const) {
      const G = randomRows(seed, T, P);
      const r = weighting.imtl().combine(G);
      expect(Math.abs(r.weights.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      const d = combination(G, r.weights);
      const projections = G.map((g) => dot(d, g) / norm(g));
      for (const p of projections) expect(Math.abs(p - projections[0])).toBeLessThan(1e-9 * Math.abs(projections[0]) + 1e-12);
    }
  });
});

describe('Nash-MTL (Navon et al. 2022)', () => {
  it('solves G Gᵀ α = 1/α', () => {
    // Diagonal by hand: M = diag(1, 4) → α = (1, ½), d = (1, 1).
    const hand = weighting.nashMtl({ normalizeGram: false, maxNorm: 0 }).combine([[1, 0], [0, 2]]);
    expectClose(hand.weights, [1, 0.5], 1e-12);
    expectClose(hand.direction, [1, 1], 1e-7);
    // A coupled 3-task case.
    const G = [[1, 0.5, 0], [0.2, 1, 0.3], [-0.4, 0.1, 2]];
    const M = gram(G);
    const { alpha, residual, ridge, paretoStationary } = weighting.solveNashBargaining(M);
    expect(ridge).toBe(0);
    expect(paretoStationary).toBe(false);
    expect(residual).toBeLessThan(1e-10);
    alpha.forEach((a, t) => {
      expect(a).toBeGreaterThan(0);
      expect(Math.abs(dot(M[t], alpha) - 1 / a)).toBeLessThan(1e-6);
    });
    const r = weighting.nashMtl({ normalizeGram: false, maxNorm: 0 }).combine(G);
    expectClose(r.weights, alpha, 1e-12);
  });

  it('defaults: Frobenius-normalised Gram and direction clipped to norm 1', () => {
    const G = [[10, 0], [0, 20]];
    const M = gram(G); // diag(100, 400), ||M||_F = √170000
    const f = Math.sqrt(100 ** 2 + 400 ** 2);
    const r = weighting.nashMtl({ maxNorm: 0 }).combine(G);
    // (M/f) α = 1/α on a diagonal: α_t = √(f / M_tt).
    expectClose(r.weights, [Math.sqrt(f / 100), Math.sqrt(f / 400)], 1e-9);
    const clipped = weighting.nashMtl().combine(G);
    expect(norm(clipped.direction)).toBeCloseTo(1, 6);
    expectClose(clipped.weights.map((w) => w / clipped.weights[0]), [1, 0.5], 1e-12);
  });

  it('returns the disagreement point (direction 0) when the gradients are Pareto stationary', () => {
    // 0 = ⅓(1,0) + ⅓(0,1) + ⅓(-1,-1): G Gᵀ α = 1/α has no solution, no direction helps all.
    const G = [[1, 0], [0, 1], [-1, -1]];
    const sol = weighting.solveNashBargaining(gram(G));
    expect(sol.paretoStationary).toBe(true);
    expectClose(sol.alpha, [0, 0, 0], 0);
    expectClose(weighting.nashMtl().combine(G).direction, [0, 0], 0);
    // CAGrad with c >= 1 agrees (its ball then holds d = 0); MGDA's min-norm point is 0 too.
    expectClose(weighting.cagrad({ c: 1.5 }).combine(G).direction, [0, 0], 0);
    expectClose(weighting.mgda().combine(G).direction, [0, 0], 1e-9);
  });

  it('reuses α between updates when asked', () => {
    const n = weighting.nashMtl({ normalizeGram: false, maxNorm: 0, updateWeightsEvery: 2 });
    const a = n.combine([[1, 0], [0, 2]]).weights;
    expect(n.combine([[5, 0], [0, 1]]).weights).toEqual(a);
    expect(n.combine([[5, 0], [0, 1]]).weights).not.toEqual(a);
  });
});

describe('Aligned-MTL (Senushkin et al. 2023)', () => {
  function singularValues(rows: number[][]): number[] {
    const { eigenvalues } = weighting.alignedMtlTransform(gram(rows));
    return Array.from(eigenvalues, Math.sqrt);
  }

  it('the aligned gradients B G have equal singular values (the smallest of G)', () => {
    for (const [seed, T, P] of [[41, 3, 6], [42, 4, 4], [43, 5, 3]] as const) {
      const G = randomRows(seed, T, P).map((row) => Array.from(row));
      const { B, scale, eigenvalues } = weighting.alignedMtlTransform(gram(G));
      expect(scale).toBeCloseTo(Math.sqrt(eigenvalues[eigenvalues.length - 1]), 12);
      const aligned = B.map((b) => combination(G, b));
      const sv = singularValues(aligned);
      expect(sv.length).toBe(Math.min(T, P)); // rank is kept
      for (const s of sv) expect(Math.abs(s - scale)).toBeLessThan(1e-9 * scale);
      // direction = Σ_t (B G)_t and weights = B 1.
      const r = weighting.alignedMtl().combine(G);
      expectClose(r.direction, combination(aligned, new Array(T).fill(1)), 1e-5);
    }
  });

  it('scale modes median and rmse', () => {
    const G = [[3, 0, 0], [0, 2, 0], [0, 0, 1]]; // singular values 3, 2, 1
    expect(weighting.alignedMtlTransform(gram(G), 'median').scale).toBeCloseTo(2, 12);
    expect(weighting.alignedMtlTransform(gram(G), 'rmse').scale).toBeCloseTo(Math.sqrt(14 / 3), 12);
    // With 'min', B = diag(1/3, 1/2, 1): the aligned gradients are the unit vectors.
    expectClose(weighting.alignedMtl().combine(G).weights, [1 / 3, 1 / 2, 1], 1e-12);
  });
});

describe('bad gradient matrices', () => {
  const all = (): weighting.GradientWeighting[] => [
    weighting.gradNorm(), weighting.mgda(), weighting.pcgrad(), weighting.cagrad(),
    weighting.imtl(), weighting.nashMtl(), weighting.alignedMtl(),
  ];

  it('reject wrong row counts, ragged rows, non-finite entries and bad types', () => {
    for (const s of all()) {
      s.init(['a', 'b']);
      expect(() => s.combine([[1, 2]]), s.name).toThrow(new RegExp(`${s.name}.combine: expected G to be 2 rows \\(one per task: a, b\\), got 1 rows`));
      expect(() => s.combine([[1, 2], [1, 2, 3]]), s.name).toThrow(/expected G\[1\] to be length 2 \(all rows the same length, like G\[0\]\), got length 3/);
      expect(() => s.combine([[1, 2], [NaN, 0]]), s.name).toThrow(/G\[1\]\[0\] \(task 'b'\) to be a finite number, got NaN/);
      expect(() => s.combine([[1, 2], [0, Infinity]]), s.name).toThrow(RangeError);
      expect(() => s.combine([[], []]), s.name).toThrow(/rows of length >= 1/);
      expect(() => s.combine('G' as unknown as number[][]), s.name).toThrow(TypeError);
      expect(() => s.combine([[1, 2], 'x' as unknown as number[]]), s.name).toThrow(/G\[1\] to be a Float32Array, Float64Array or number\[\]/);
      expect(() => s.combine([[1, 2], [3, 4]], { a: 1, z: 2 }), s.name).toThrow(/unknown task 'z'/);
    }
    expect(() => weighting.cagrad({ c: -1 })).toThrow(/options.c to be a finite number >= 0, got -1/);
    expect(() => weighting.pcgrad({ seed: 1.5 })).toThrow(/options.seed to be an integer/);
    expect(() => weighting.mgda({ normalisation: 'l2' } as unknown as weighting.MgdaOptions)).toThrow(/unknown option 'normalisation'/);
  });

  it('initialise themselves from G when init was never called', () => {
    const s = weighting.pcgrad();
    s.combine([[1], [2], [3]]);
    expect(s.taskNames).toEqual(['task0', 'task1', 'task2']);
    expect(() => s.combine([[1], [2]])).toThrow(/3 rows/);
  });

  it('report each paper\'s default gradient level, overridable', () => {
    expect(weighting.mgda().gradientLevel).toBe('representation');
    expect(weighting.imtl().gradientLevel).toBe('representation');
    for (const s of [weighting.pcgrad(), weighting.cagrad(), weighting.nashMtl(), weighting.alignedMtl(), weighting.gradNorm()]) {
      expect(s.gradientLevel).toBe('parameters');
    }
    expect(weighting.pcgrad({ gradientLevel: 'representation' }).gradientLevel).toBe('representation');
  });
});

describe('property: random gradient matrices', () => {
  // A fresh seed for every case (1000 + index); each failure message names its seed.
  const shapes = [[2, 3], [2, 40], [3, 5], [3, 2], [4, 12], [4, 3], [5, 3], [6, 30], [6, 4], [8, 100]] as const;
  const cases = shapes.flatMap(([T, P], i) => [0, 1, 2, 3, 4, 5].map((k) => ({ seed: 1000 + 6 * i + k, T, P })));

  it('every direction is finite and equals Σ_t weights[t] G[t]', () => {
    for (const { seed, T, P } of cases) {
      const G = randomRows(seed, T, P);
      const losses = Array.from({ length: T }, (_, t) => 0.5 + t);
      const strategies: weighting.GradientWeighting[] = [
        weighting.gradNorm(), weighting.mgda(), weighting.mgda({ normalization: 'loss+' }), weighting.pcgrad({ seed }),
        weighting.cagrad(), weighting.imtl(), weighting.nashMtl(), weighting.alignedMtl(),
      ];
      for (const s of strategies) {
        const r = s.combine(G, losses);
        const label = `${s.name} seed ${seed} T=${T} P=${P}`;
        expect(r.direction.length, label).toBe(P);
        expect(r.weights.length, label).toBe(T);
        expect(r.direction.every(Number.isFinite), label).toBe(true);
        expect(r.weights.every(Number.isFinite), label).toBe(true);
        const expected = combination(G, r.weights);
        const scale = Math.max(1e-30, ...expected.map(Math.abs));
        for (let k = 0; k < P; k++) expect(Math.abs(r.direction[k] - expected[k]), label).toBeLessThan(1e-6 * scale);
      }
    }
  });

  it('degenerate matrices (a zero row, duplicate rows, rank 1) still give finite, consistent steps', () => {
    const base = randomRows(77, 3, 6).map((row) => Array.from(row));
    const matrices: Rows[] = [
      [base[0], new Array(6).fill(0), base[2]],
      [base[0], base[0], base[1]],
      [base[0], base[0].map((v) => 2 * v), base[0].map((v) => 0.5 * v)],
      [new Array(6).fill(0), new Array(6).fill(0), new Array(6).fill(0)],
    ];
    for (const [m, G] of matrices.entries()) {
      for (const s of [weighting.gradNorm(), weighting.mgda({ normalization: 'l2' }), weighting.pcgrad(), weighting.cagrad(),
        weighting.cagrad({ c: 2 }), weighting.imtl(), weighting.nashMtl(), weighting.alignedMtl()]) {
        const r = s.combine(G, [1, 2, 3]);
        const label = `${s.name} matrix ${m}`;
        expect(r.weights.every(Number.isFinite), label).toBe(true);
        const expected = combination(G, r.weights);
        const scale = Math.max(1e-30, ...expected.map(Math.abs));
        for (let k = 0; k < 6; k++) expect(Math.abs(r.direction[k] - expected[k]), label).toBeLessThan(1e-6 * scale);
      }
    }
    // Parallel gradients: IMTL balances them (equal projections on the one direction).
    const parallel = weighting.imtl().combine(matrices[2]);
    expect(Math.abs(parallel.weights.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9);
  });

  it('weights do not depend on the scale of G (directions scale with it)', () => {
    const G = randomRows(78, 4, 9).map((row) => Array.from(row));
    for (const s of [1e-12, 1e12]) {
      const scaled = G.map((row) => row.map((v) => v * s));
      for (const make of [() => weighting.mgda(), () => weighting.pcgrad(), () => weighting.cagrad(), () => weighting.imtl(), () => weighting.alignedMtl()]) {
        const a = make().combine(G);
        const b = make().combine(scaled);
        expectClose(b.weights, a.weights, 1e-7 * Math.max(...a.weights.map(Math.abs)));
        expectClose(Array.from(b.direction, (v) => v / s), a.direction, 1e-5 * Math.max(...Array.from(a.direction, Math.abs)));
      }
      // Nash-MTL on the normalised Gram: α ∝ 1/s·√||GGᵀ||_F ∝ 1, so the direction scales with s.
      const a = weighting.nashMtl({ maxNorm: 0 }).combine(G);
      const b = weighting.nashMtl({ maxNorm: 0 }).combine(scaled);
      expectClose(b.weights, a.weights, 1e-7 * Math.max(...a.weights.map(Math.abs)));
    }
  });

  it('MGDA, CAGrad (c >= 1) and Nash-MTL never increase a task loss to first order', () => {
    for (const { seed, T, P } of cases) {
      const G = randomRows(seed, T, P);
      const M = gram(G);
      const scale = Math.max(...M.map((row, t) => row[t]));
      const tol = 1e-9 * scale;
      const label = `seed ${seed} T=${T} P=${P}`;
      // MGDA (every normalisation): g_t·d >= ||d||² >= 0 at the min-norm point (of the scaled
      // gradients, hence >= 0 for the raw ones).
      for (const normalization of ['none', 'l2', 'loss', 'loss+'] as const) {
        const r = weighting.mgda({ normalization }).combine(G, Array.from({ length: T }, (_, t) => 1 + t));
        const d = combination(G, r.weights);
        for (const g of G) expect(dot(g, d), `mgda ${normalization} ${label}`).toBeGreaterThanOrEqual(-tol);
        if (normalization === 'none') {
          for (const g of G) expect(dot(g, d), label).toBeGreaterThanOrEqual(dot(d, d) - tol);
        }
      }
      // CAGrad: for c >= 1 every task improves; for any c the worst task does at least as well
      // as under the average gradient (g0 is feasible): min g·d* >= min g·g0.
      for (const c of [1, 1.5]) {
        const d = weighting.cagrad({ c }).combine(G).direction;
        for (const g of G) expect(dot(g, d), `cagrad c=${c} ${label}`).toBeGreaterThanOrEqual(-1e-6 * scale);
      }
      const g0 = combination(G, new Array(T).fill(1 / T));
      const d04 = combination(G, weighting.cagrad({ c: 0.4, rescale: 0 }).combine(G).weights);
      expect(Math.min(...G.map((g) => dot(g, d04))), label).toBeGreaterThanOrEqual(Math.min(...G.map((g) => dot(g, g0))) - tol);
      // Nash-MTL: g_t·d = 1/α_t > 0 (up to the tiny ridge when the gradients are Pareto stationary).
      const nash = weighting.nashMtl({ maxNorm: 0, normalizeGram: false }).combine(G);
      const dn = combination(G, nash.weights);
      for (const g of G) expect(dot(g, dn), `nash ${label}`).toBeGreaterThanOrEqual(-1e-6 * Math.sqrt(scale));
    }
  });
});
