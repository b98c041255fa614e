/**
 * Nash-MTL: the Nash bargaining solution between tasks.
 *
 * Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik, Fetaya, "Multi-Task Learning as a
 * Bargaining Game", ICML 2022, Sec. 3 (the characterisation of the bargaining solution; their
 * G has the task gradients as columns, so their Gᵀ G α = 1/α is our G Gᵀ α = 1/α). The
 * bargaining direction is Δθ = Σ_t α_t g_t with α > 0 solving
 *
 *     G Gᵀ α = 1 / α        (element-wise: (G Gᵀ α)_t · α_t = 1 for every t)
 *
 * so that g_t · Δθ = 1/α_t > 0: every task improves to first order. The authors reach it by a
 * sequence of convex approximations with cvxpy; we use the fact that the equation is the
 * stationarity condition of the strictly convex, self-concordant function
 *
 *     φ(α) = ½ αᵀ (G Gᵀ) α - Σ_t log α_t
 *
 * and minimise φ by damped Newton (Hessian G Gᵀ + diag(1/α²), backtracking line search that
 * keeps α > 0), to |α_t (G Gᵀ α)_t - 1| <= 1e-12 (or a Newton decrement at rounding level).
 * A solution exists iff 0 is not in the convex hull of the gradients. When it is (Pareto
 * stationarity) φ is unbounded below and no direction improves every task: the bargaining
 * solution is then the disagreement point, direction 0 and α = 0. Tasks with a zero gradient
 * cannot satisfy the equation; they get α_t = 0.
 *
 * As in the authors' code (defaults): the Gram matrix is divided by its Frobenius norm before
 * solving (`normalizeGram: true`; α then equals √||GGᵀ||_F times the solution for GGᵀ itself, so
 * the step scales with the gradients), α is recomputed every `updateWeightsEvery` (1) calls of
 * `combine` and reused in between, and the direction is clipped to norm `maxNorm` (1.0, as their
 * `clip_grad_norm_` of the shared parameters; 0 disables), the clipping scaling `weights` too.
 * Default `gradientLevel: 'parameters'` (the authors do not support representation gradients).
 */

import { GramStrategy, combineResult } from './common';
import { frobeniusNorm, matVec, solveLinear, type Matrix } from './linalg';
import { minNormElement } from './mgda';
import type { CombineResult, GradientInput, GradientLevel, GradientWeighting, StepContext, TaskLosses } from './types';
import { checkOptions, GRADIENT_LEVELS, numberOption, oneOfOption } from './validate';

const OP = 'mtl.weighting.nashMtl';

export interface NashSolution {
  /** α, length T (0 for tasks with a zero gradient). */
  alpha: Float64Array;
  /** max_t |α_t (M α)_t - 1| over the tasks with a non-zero gradient, for M without ridge. */
  residual: number;
  /** The ridge added to M (0 unless Newton failed on a non-stationary but extreme case). */
  ridge: number;
  iterations: number;
  /** True when 0 is in the convex hull of the gradients: then α = 0 (see `solveNashBargaining`). */
  paretoStationary: boolean;
}

interface NewtonResult {
  alpha: Float64Array;
  converged: boolean;
  iterations: number;
}

function newtonNash(M: Matrix, ridge: number, maxIterations: number, tolerance: number): NewtonResult {
  const n = M.length;
  const A = M.map((row, i) => row.map((v, j) => (i === j ? v + ridge : v)));
  let alpha = Float64Array.from(A, (row, i) => 1 / Math.sqrt(row[i]));
  const phi = (a: Float64Array): number => {
    const Ma = matVec(A, a);
    let s = 0;
    for (let i = 0; i < n; i++) s += 0.5 * a[i] * Ma[i] - Math.log(a[i]);
    return s;
  };
  let f = phi(alpha);
  for (let it = 0; it < maxIterations; it++) {
    const Ma = matVec(A, alpha);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(alpha[i] * Ma[i] - 1));
    if (worst <= tolerance) return { alpha, converged: true, iterations: it };
    const grad = Float64Array.from(Ma, (v, i) => v - 1 / alpha[i]);
    const H = A.map((row, i) => row.map((v, j) => (i === j ? v + 1 / (alpha[i] * alpha[i]) : v)));
    const step = solveLinear(H, grad.map((g) => -g));
    if (step === null) break;
    // Newton decrement² = ∇φᵀ H⁻¹ ∇φ ≈ 2 (φ - φ*): at ~1e-24 the iterate is as good as float64
    // allows, even when |α_t (Mα)_t - 1| cannot reach `tolerance` (huge, ill-conditioned α).
    let decrement = 0;
    for (let i = 0; i < n; i++) decrement -= grad[i] * step[i];
    if (decrement <= 1e-24) return { alpha, converged: true, iterations: it };
    // Largest t <= 1 keeping α > 0 (with a margin), then Armijo backtracking on φ.
    let t = 1;
    for (let i = 0; i < n; i++) if (step[i] < 0) t = Math.min(t, -0.99 * alpha[i] / step[i]);
    let next = alpha;
    let fNext = f;
    let accepted = false;
    for (let k = 0; k < 60; k++) {
      next = Float64Array.from(alpha, (a, i) => a + t * step[i]);
      fNext = phi(next);
      if (fNext <= f - 1e-4 * t * decrement) {
        accepted = true;
        break;
      }
      t /= 2;
    }
    // No decrease although the model predicts one: φ's values are at rounding level. Converged
    // if the decrement says so, stuck otherwise.
    if (!accepted) return { alpha, converged: decrement <= 1e-12, iterations: it };
    alpha = next;
    f = fNext;
    // Unbounded φ (Pareto stationary): α runs off to infinity along a null direction of M.
    if (!Number.isFinite(f) || alpha.some((a, i) => a * Math.sqrt(A[i][i]) > 1e12)) break;
  }
  return { alpha, converged: false, iterations: maxIterations };
}

/**
 * Solves M α = 1/α, α > 0, for a Gram matrix M (see the module comment). When the gradients
 * are Pareto stationary (0 in their convex hull, found by MGDA's min-norm solver to
 * ||Σ α_t g_t||² <= 1e-12 max_t ||g_t||²) no solution exists and no direction improves every
 * task: the bargaining solution is the disagreement point, α = 0 (`paretoStationary`).
 */
export function solveNashBargaining(M: Matrix, opts: { maxIterations?: number; tolerance?: number } = {}): NashSolution {
  const { maxIterations = 100, tolerance = 1e-12 } = opts;
  const T = M.length;
  const live: number[] = [];
  for (let t = 0; t < T; t++) if (M[t][t] > 0) live.push(t);
  const alpha = new Float64Array(T);
  const none = { alpha, residual: 0, ridge: 0, iterations: 0, paretoStationary: live.length === 0 };
  if (live.length === 0) return none;
  const sub = live.map((i) => live.map((j) => M[i][j]));
  let solved = newtonNash(sub, 0, maxIterations, tolerance);
  let ridge = 0;
  if (!solved.converged) {
    const scale = Math.max(...live.map((t) => M[t][t]));
    if (minNormElement(sub, { tolerance: 1e-15 }).normSquared <= 1e-12 * scale) return { ...none, paretoStationary: true };
    // Not stationary yet Newton failed (extreme conditioning): the smallest ridge that works.
    const meanDiag = live.reduce((s, t) => s + M[t][t], 0) / live.length;
    for (const delta of [1e-12, 1e-10, 1e-8, 1e-6, 1e-4]) {
      ridge = delta * meanDiag;
      solved = newtonNash(sub, ridge, maxIterations, tolerance);
      if (solved.converged) break;
    }
  }
  live.forEach((t, i) => (alpha[t] = solved.alpha[i]));
  const Ma = matVec(M, alpha);
  let residual = 0;
  for (const t of live) residual = Math.max(residual, Math.abs(alpha[t] * Ma[t] - 1));
  return { alpha, residual, ridge, iterations: solved.iterations, paretoStationary: false };
}

export interface NashMtlOptions {
  /** Divide G Gᵀ by its Frobenius norm before solving (default true, as the authors' code). */
  normalizeGram?: boolean;
  /** Clip the direction to this norm (default 1.0; 0 disables). */
  maxNorm?: number;
  /** Recompute α every this many `combine` calls, reuse it in between (default 1). */
  updateWeightsEvery?: number;
  /** Newton iteration cap per ridge attempt (default 100). */
  maxIterations?: number;
  gradientLevel?: GradientLevel;
}

export class NashMtl extends GramStrategy implements GradientWeighting {
  readonly name = 'nashMtl';
  readonly kind = 'gradient' as const;
  readonly gradientLevel: GradientLevel;
  readonly normalizeGram: boolean;
  readonly maxNorm: number;
  readonly updateWeightsEvery: number;
  private readonly maxIterations: number;
  private calls = 0;
  private previousAlpha: Float64Array | null = null;

  constructor(options?: NashMtlOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['normalizeGram', 'maxNorm', 'updateWeightsEvery', 'maxIterations', 'gradientLevel']);
    if (o.normalizeGram !== undefined && typeof o.normalizeGram !== 'boolean') {
      throw new TypeError(`${OP}: expected options.normalizeGram to be a boolean, got ${String(o.normalizeGram)}`);
    }
    this.normalizeGram = (o.normalizeGram as boolean | undefined) ?? true;
    this.maxNorm = numberOption(OP, 'maxNorm', o.maxNorm, 1, { min: 0 });
    this.updateWeightsEvery = numberOption(OP, 'updateWeightsEvery', o.updateWeightsEvery, 1, { min: 1, integer: true });
    this.maxIterations = numberOption(OP, 'maxIterations', o.maxIterations, 100, { min: 1, integer: true });
    this.gradientLevel = oneOfOption(OP, 'gradientLevel', o.gradientLevel, GRADIENT_LEVELS, 'parameters');
  }

  override init(taskNames: readonly string[]): this {
    super.init(taskNames);
    this.calls = 0;
    this.previousAlpha = null;
    return this;
  }

  combine(input: GradientInput, losses?: TaskLosses, ctx?: StepContext): CombineResult {
    const { rows, gram } = this.combineInputs(input, losses, ctx);
    let alpha: Float64Array;
    if (this.previousAlpha === null || this.calls % this.updateWeightsEvery === 0) {
      const norm = frobeniusNorm(gram);
      const M = this.normalizeGram && norm > 0 ? gram.map((row) => row.map((v) => v / norm)) : gram;
      alpha = solveNashBargaining(M, { maxIterations: this.maxIterations }).alpha;
      this.previousAlpha = alpha;
    } else {
      alpha = this.previousAlpha;
    }
    this.calls += 1;
    const weights = Float64Array.from(alpha);
    if (this.maxNorm > 0) {
      const Ma = matVec(gram, weights);
      let sq = 0;
      for (let t = 0; t < weights.length; t++) sq += weights[t] * Ma[t];
      const norm = Math.sqrt(Math.max(sq, 0));
      if (norm > this.maxNorm) for (let t = 0; t < weights.length; t++) weights[t] *= this.maxNorm / norm;
    }
    return combineResult(rows, weights);
  }
}

export function nashMtl(options?: NashMtlOptions): NashMtl {
  return new NashMtl(options);
}
