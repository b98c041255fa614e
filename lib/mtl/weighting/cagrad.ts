/**
 * CAGrad: conflict-averse gradient descent.
 *
 * Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task Learning",
 * NeurIPS 2021, Sec. 3 (the primal problem, its dual and the closed-form d*; Algorithm 1).
 * With g_0 = (1/T) Σ_t g_t the
 * average gradient, the update direction maximises the worst task improvement within a ball
 * around g_0:
 *
 *     max_d min_t g_t · d   subject to  ||d - g_0|| <= c ||g_0||
 *
 * Its dual is a convex problem over the simplex, solved here on the Gram matrix M = G Gᵀ:
 *
 *     w* = argmin_{w in simplex} F(w),  F(w) = g_w · g_0 + c ||g_0|| ||g_w||,  g_w = Σ_t w_t g_t
 *
 * and the primal solution is d* = g_0 + (c ||g_0|| / ||g_w*||) g_w*. As in the authors' code,
 * the returned direction is rescaled: d* / (1 + c²) (`rescale: 1`, default), d* (`0`) or
 * d* / (1 + c) (`2`). The effective task weights are therefore
 *
 *     weights[t] = (1/T + λ w*_t) / s,   λ = c ||g_0|| / ||g_w*||,   s the rescale factor.
 *
 * The authors solve the dual with SciPy's SLSQP; we use accelerated projected gradient on the
 * simplex finished by Newton steps on the active face (F is convex; the square root is smoothed
 * by 1e-18·max M_tt, negligible), to a certified gap far below SLSQP's tolerance.
 * Guarantees: min_t g_t · d* >= min_t g_t · g_0 (g_0 is feasible), and for c >= 1,
 * g_t · d* >= 0 for every t (the ball holds 0, so
 * F(w) >= (c - 1)||g_0|| ||g_w|| >= 0). The formula for d* needs g_w* != 0. When c >= 1 and 0
 * is in the convex hull of the gradients (Pareto stationary), F* = 0 is attained at g_w = 0 and
 * d* = 0 is the primal optimum: we return direction 0 and zero weights. (For c < 1 that kink is
 * essentially never the minimiser; should ||g_w*|| vanish anyway, λ = 0 and d = g_0.)
 * Default c = 0.4 (the paper's NYUv2 / Cityscapes value) and `gradientLevel: 'parameters'`.
 */

import { GramStrategy, combineResult } from './common';
import { matVec, projectOntoSimplex, quadraticForm, solveLeastSquares, solveLinear, type Matrix } from './linalg';
import { minNormElement } from './mgda';
import type { CombineResult, GradientInput, GradientLevel, GradientWeighting, StepContext, TaskLosses } from './types';
import { checkOptions, GRADIENT_LEVELS, numberOption, oneOfOption } from './validate';

const OP = 'mtl.weighting.cagrad';

export interface CagradDualResult {
  /** The dual minimiser w* on the simplex. */
  w: Float64Array;
  /** F(w*). */
  objective: number;
  /** λ = c ||g_0|| / ||g_w*|| (0 when g_w* = 0). */
  lambda: number;
  iterations: number;
  /** True when c >= 1 and 0 is in the hull of the gradients: then d* = 0 (see `cagradDual`). */
  paretoStationary: boolean;
}

/** F(w) = wᵀ M 1/T + c ||g_0|| sqrt(wᵀ M w) for Gram matrix M (exact, no smoothing). */
export function cagradObjective(M: Matrix, c: number, w: ArrayLike<number>): number {
  const T = M.length;
  let total = 0;
  for (const row of M) for (const v of row) total += v;
  const g0Norm = Math.sqrt(Math.max(total, 0)) / T;
  const Mw = matVec(M, w);
  let linear = 0;
  let quad = 0;
  for (let t = 0; t < T; t++) {
    let rowMean = 0;
    for (let k = 0; k < T; k++) rowMean += M[t][k];
    linear += w[t] * rowMean / T;
    quad += w[t] * Mw[t];
  }
  return linear + c * g0Norm * Math.sqrt(Math.max(quad, 0));
}

/**
 * Solves CAGrad's dual over the simplex for Gram matrix M and radius factor c >= 0.
 *
 * Accelerated projected gradient (FISTA with backtracking and function-value restarts) brings
 * the Frank-Wolfe gap ∇F(w)·w - min_t ∂F/∂w_t (an upper bound on F(w) - F*) down to about
 * √ε, where comparisons of F's values stop being informative; from there Newton steps on the
 * KKT system of the current face (which only use gradients and the Hessian) take it to
 * `tolerance` · max_t M_tt. When c >= 1 and 0 lies in the convex hull of the gradients (checked
 * with MGDA's min-norm solver), F* = 0 is attained at g_w = 0, the kink of F: the minimiser is
 * that hull point, λ = 0 and `paretoStationary: true`.
 */
export function cagradDual(M: Matrix, c: number, opts: { maxIterations?: number; tolerance?: number } = {}): CagradDualResult {
  const T = M.length;
  const { maxIterations = 10000, tolerance = 1e-13 } = opts;
  let total = 0;
  let scale = 0;
  for (let i = 0; i < T; i++) {
    scale = Math.max(scale, M[i][i]);
    for (let j = 0; j < T; j++) total += M[i][j];
  }
  const g0Norm = Math.sqrt(Math.max(total, 0)) / T;
  const k = c * g0Norm;
  const finish = (w: Float64Array, iterations: number, paretoStationary: boolean): CagradDualResult => {
    const gwNorm = Math.sqrt(Math.max(quadraticForm(M, w), 0));
    const lambda = !paretoStationary && gwNorm > 1e-12 * Math.sqrt(scale) ? k / gwNorm : 0;
    return { w, objective: cagradObjective(M, c, w), lambda, iterations, paretoStationary };
  };
  if (scale === 0 || T === 1 || k === 0) {
    // No gradient, one task, or c = 0 (d = g_0): any w will do; keep the uniform one.
    return finish(new Float64Array(T).fill(1 / T), 0, false);
  }
  if (c >= 1) {
    const hull = minNormElement(M, { tolerance: 1e-15 });
    if (hull.normSquared <= 1e-12 * scale) return finish(hull.alpha, hull.iterations, true);
  }
  const b = Float64Array.from(M, (row) => row.reduce((s, v) => s + v, 0) / T); // M 1/T = G g_0
  const eps = 1e-18 * scale; // smoothing of sqrt(wᵀMw) at g_w = 0; changes F by <= k·1e-9·√scale
  interface Point { w: Float64Array; f: number; grad: Float64Array; Mw: Float64Array; root: number; gap: number }
  const evaluate = (w: Float64Array): Point => {
    const Mw = matVec(M, w);
    let linear = 0;
    let quad = 0;
    for (let t = 0; t < T; t++) {
      linear += w[t] * b[t];
      quad += w[t] * Mw[t];
    }
    const root = Math.sqrt(Math.max(quad, 0) + eps);
    const grad = Float64Array.from(b, (bt, t) => bt + (k * Mw[t]) / root);
    let minGrad = Infinity;
    let wGrad = 0;
    for (let t = 0; t < T; t++) {
      minGrad = Math.min(minGrad, grad[t]);
      wGrad += grad[t] * w[t];
    }
    return { w, f: linear + k * root, grad, Mw, root, gap: wGrad - minGrad };
  };
  const done = (p: Point): boolean => p.gap <= tolerance * scale;

  // Newton on the face {w_t = 0 for t outside the support, Σ w = 1}: solve
  // [H_SS 1; 1ᵀ 0] [Δ; ν] = [-∇F_S; 0],  H = k (M / r - (Mw)(Mw)ᵀ / r³),  r = sqrt(wᵀMw),
  // stepping at most to the boundary of the simplex.
  const polish = (start: Point): Point => {
    let best = start;
    let p = start;
    for (let round = 0; round < 8 && !done(best); round++) {
      const S: number[] = [];
      for (let t = 0; t < T; t++) if (p.w[t] > 0) S.push(t);
      const n = S.length;
      const K: Matrix = Array.from({ length: n + 1 }, () => new Array<number>(n + 1).fill(0));
      const r3 = p.root * p.root * p.root;
      S.forEach((i, a) => {
        S.forEach((j, bb) => (K[a][bb] = k * (M[i][j] / p.root - (p.Mw[i] * p.Mw[j]) / r3)));
        K[a][a] += 1e-14 * k * scale / p.root; // keeps flat directions (singular M) solvable
        K[a][n] = 1;
        K[n][a] = 1;
      });
      const rhs = [...S.map((i) => -p.grad[i]), 0];
      const sol = solveLinear(K, rhs) ?? solveLeastSquares(K, rhs);
      let t = 1;
      S.forEach((i, a) => {
        if (sol[a] < 0) t = Math.min(t, -p.w[i] / sol[a]);
      });
      const w = Float64Array.from(p.w);
      S.forEach((i, a) => (w[i] = Math.max(0, w[i] + t * sol[a])));
      const sum = w.reduce((x, y) => x + y, 0);
      for (let i = 0; i < T; i++) w[i] /= sum;
      p = evaluate(w);
      if (p.gap < best.gap) best = p;
    }
    return best;
  };

  let x = evaluate(new Float64Array(T).fill(1 / T));
  let best = x;
  let y = x;
  let momentum = 1;
  let L = scale * (1 + c);
  let iterations = 0;
  for (; iterations < maxIterations && !done(best); iterations++) {
    if (x.gap < best.gap) best = x;
    if (best.gap <= 1e-7 * scale && iterations % 20 === 0) {
      const polished = polish(best);
      if (polished.gap < best.gap) best = polished;
      if (done(best)) break;
    }
    let next: Point;
    for (;;) {
      next = evaluate(projectOntoSimplex(Float64Array.from(y.w, (v, t) => v - y.grad[t] / L)));
      let model = y.f;
      let moved = 0;
      for (let t = 0; t < T; t++) {
        const d = next.w[t] - y.w[t];
        model += y.grad[t] * d + 0.5 * L * d * d;
        moved = Math.max(moved, Math.abs(d));
      }
      // Sufficient decrease, or a step at rounding level (F's values can no longer tell).
      if (next.f <= model + 1e-15 * Math.abs(y.f) || moved <= 1e-15) break;
      L *= 2;
    }
    if (next.f > x.f && y !== x) {
      // Function-value restart (O'Donoghue & Candès 2015): drop the momentum, retry from x.
      y = x;
      momentum = 1;
      continue;
    }
    const nextMomentum = (1 + Math.sqrt(1 + 4 * momentum * momentum)) / 2;
    const beta = (momentum - 1) / nextMomentum;
    const previous = x;
    x = next;
    y = beta === 0 ? next : evaluate(Float64Array.from(next.w, (v, t) => v + beta * (v - previous.w[t])));
    momentum = nextMomentum;
    L *= 0.9; // let the step grow back after a cautious backtrack
  }
  if (x.gap < best.gap) best = x;
  return finish(best.w, iterations, false);
}

export interface CagradOptions {
  /** Radius factor c >= 0 of the ball around g_0 (default 0.4). */
  c?: number;
  /** Divide d* by 1 (0), 1 + c² (1, default) or 1 + c (2), as the authors' `rescale`. */
  rescale?: 0 | 1 | 2;
  gradientLevel?: GradientLevel;
  /** Dual solver iteration cap (default 10000; each is O(T²)). */
  maxIterations?: number;
}

export class CaGrad extends GramStrategy implements GradientWeighting {
  readonly name = 'cagrad';
  readonly kind = 'gradient' as const;
  readonly gradientLevel: GradientLevel;
  readonly c: number;
  readonly rescale: 0 | 1 | 2;
  private readonly maxIterations: number;

  constructor(options?: CagradOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['c', 'rescale', 'gradientLevel', 'maxIterations']);
    this.c = numberOption(OP, 'c', o.c, 0.4, { min: 0 });
    if (o.rescale !== undefined && o.rescale !== 0 && o.rescale !== 1 && o.rescale !== 2) {
      throw new TypeError(`${OP}: expected options.rescale to be 0, 1 or 2, got ${String(o.rescale)}`);
    }
    this.rescale = (o.rescale ?? 1) as 0 | 1 | 2;
    this.gradientLevel = oneOfOption(OP, 'gradientLevel', o.gradientLevel, GRADIENT_LEVELS, 'parameters');
    this.maxIterations = numberOption(OP, 'maxIterations', o.maxIterations, 10000, { min: 1, integer: true });
  }

  combine(input: GradientInput, losses?: TaskLosses, ctx?: StepContext): CombineResult {
    const { rows, gram, tasks: T } = this.combineInputs(input, losses, ctx);
    const { w, lambda, paretoStationary } = cagradDual(gram, this.c, { maxIterations: this.maxIterations });
    if (paretoStationary) return combineResult(rows, new Float64Array(T)); // d* = 0
    const s = this.rescale === 0 ? 1 : this.rescale === 1 ? 1 + this.c * this.c : 1 + this.c;
    return combineResult(rows, Float64Array.from(w, (wt) => (1 / T + lambda * wt) / s));
  }
}

export function cagrad(options?: CagradOptions): CaGrad {
  return new CaGrad(options);
}
