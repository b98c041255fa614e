/**
 * MGDA-UB: the multiple-gradient descent direction, the min-norm point of the convex hull.
 *
 * Sener, Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018, Sec. 3.
 * Each step solves their min-norm problem
 *
 *     min_α || Σ_t α_t g_t ||²   subject to  α_t >= 0, Σ_t α_t = 1
 *
 * whose solution d = Σ_t α_t g_t satisfies g_t · d >= ||d||² for every t (a common descent
 * direction), or d = 0 at a Pareto-stationary point.
 * - Two tasks: the closed form of their Algorithm 1,
 *       α_1 = clip( (g_2 - g_1) · g_2 / ||g_1 - g_2||², 0, 1 ),  α_2 = 1 - α_1.
 * - More tasks: Frank-Wolfe on the Gram matrix (their Algorithm 2: move towards the vertex
 *   e_t with the smallest (Mα)_t, exact line search), started from the best pair like their
 *   code, plus "away steps" (Lacoste-Julien & Jaggi, NeurIPS 2015) so that it converges
 *   linearly when the optimum lies on a face; it stops when the duality gap
 *   αᵀMα - min_t (Mα)_t falls below `tolerance` · max_t M_tt, which bounds how far any
 *   g_t · d can fall below ||d||².
 *
 * "UB": the paper applies this to the gradients of the shared representation z (an upper
 * bound of the parameter problem), hence `gradientLevel: 'representation'` by default.
 *
 * Normalisation (their `gradient_normalizers`): each g_t is divided by n_t before solving, with
 * n_t = 1 ('none', the default), ||g_t|| ('l2'), L_t ('loss') or L_t·||g_t|| ('loss+'); the
 * losses are required for the last two. The returned `weights` are α_t / n_t, so that
 * direction = Σ_t α_t (g_t / n_t) is the min-norm point of the normalised gradients and hence a
 * common descent direction of the raw ones too. (Their training script instead re-applies α to
 * the raw losses; that is `weights[t] * n_t`, should an integrator want it.) A zero gradient
 * keeps n_t = 1.
 */

import { GramStrategy, combineResult } from './common';
import { matVec, type Matrix } from './linalg';
import type { CombineResult, GradientInput, GradientLevel, GradientWeighting, StepContext, TaskLosses } from './types';
import { checkOptions, GRADIENT_LEVELS, numberOption, oneOfOption } from './validate';

const OP = 'mtl.weighting.mgda';

export type MgdaNormalization = 'none' | 'l2' | 'loss' | 'loss+';

/**
 * argmin over γ in [0, 1] of ||γ a + (1 - γ) b||² given aa = a·a, ab = a·b, bb = b·b
 * (Algorithm 1 of Sener & Koltun). Identical vectors give γ = ½.
 */
export function minNormTwo(aa: number, ab: number, bb: number): number {
  if (ab >= aa && ab >= bb) return 0.5; // a = b (up to rounding): any γ, take the middle
  if (ab >= aa) return 1;
  if (ab >= bb) return 0;
  return (bb - ab) / (aa + bb - 2 * ab);
}

export interface MinNormResult {
  /** The minimiser α on the simplex. */
  alpha: Float64Array;
  /** ||Σ α_t g_t||² = αᵀMα. */
  normSquared: number;
  /** Frank-Wolfe iterations used (0 for one or two tasks). */
  iterations: number;
}

/**
 * The min-norm element of the convex hull of the vectors whose Gram matrix is M (T×T,
 * symmetric positive semi-definite): argmin_{α in simplex} αᵀ M α.
 */
export function minNormElement(M: Matrix, opts: { maxIterations?: number; tolerance?: number } = {}): MinNormResult {
  const T = M.length;
  const { maxIterations = 2000, tolerance = 1e-12 } = opts;
  const alpha = new Float64Array(T);
  if (T === 1) {
    alpha[0] = 1;
    return { alpha, normSquared: M[0][0], iterations: 0 };
  }
  // Start from the best pair (their `_min_norm_2d`); for T = 2 it is the exact answer.
  let best = Infinity;
  for (let i = 0; i < T; i++) {
    for (let j = i + 1; j < T; j++) {
      const g = minNormTwo(M[i][i], M[i][j], M[j][j]);
      const cost = g * g * M[i][i] + 2 * g * (1 - g) * M[i][j] + (1 - g) * (1 - g) * M[j][j];
      if (cost < best) {
        best = cost;
        alpha.fill(0);
        alpha[i] = g;
        alpha[j] = 1 - g;
      }
    }
  }
  if (T === 2) return { alpha, normSquared: Math.max(best, 0), iterations: 0 };

  let scale = 0;
  for (let t = 0; t < T; t++) scale = Math.max(scale, M[t][t]);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const Ma = matVec(M, alpha);
    let aMa = 0;
    for (let t = 0; t < T; t++) aMa += alpha[t] * Ma[t];
    // Frank-Wolfe vertex s (smallest (Mα)_s) and away vertex a (largest (Mα)_a with α_a > 0).
    let s = 0;
    let a = -1;
    for (let t = 0; t < T; t++) {
      if (Ma[t] < Ma[s]) s = t;
      if (alpha[t] > 0 && (a < 0 || Ma[t] > Ma[a])) a = t;
    }
    const gapFw = aMa - Ma[s];
    if (gapFw <= tolerance * scale) break;
    const gapAway = Ma[a] - aMa;
    // Move along d (FW: e_s - α, away: α - e_a) by the exact minimiser of the quadratic.
    let slope: number;
    let curvature: number;
    let gammaMax: number;
    const towards = gapFw >= gapAway || alpha[a] >= 1;
    if (towards) {
      slope = -gapFw;
      curvature = M[s][s] - 2 * Ma[s] + aMa;
      gammaMax = 1;
    } else {
      slope = -gapAway;
      curvature = aMa - 2 * Ma[a] + M[a][a];
      gammaMax = alpha[a] / (1 - alpha[a]);
    }
    const gamma = curvature > 0 ? Math.min(gammaMax, -slope / curvature) : gammaMax;
    if (!(gamma > 0)) break;
    if (towards) {
      for (let t = 0; t < T; t++) alpha[t] *= 1 - gamma;
      alpha[s] += gamma;
    } else {
      for (let t = 0; t < T; t++) alpha[t] *= 1 + gamma;
      alpha[a] -= gamma;
      if (gamma === gammaMax || alpha[a] < 0) alpha[a] = 0; // drop step: vertex leaves the support
    }
  }
  let normSquared = 0;
  const Ma = matVec(M, alpha);
  for (let t = 0; t < T; t++) normSquared += alpha[t] * Ma[t];
  return { alpha, normSquared: Math.max(normSquared, 0), iterations };
}

export interface MgdaOptions {
  normalization?: MgdaNormalization;
  gradientLevel?: GradientLevel;
  /** Frank-Wolfe iteration cap (default 2000; each is O(T²)). */
  maxIterations?: number;
  /** Duality-gap tolerance relative to max_t ||g_t||² (default 1e-12). */
  tolerance?: number;
}

export class Mgda extends GramStrategy implements GradientWeighting {
  readonly name = 'mgda';
  readonly kind = 'gradient' as const;
  readonly gradientLevel: GradientLevel;
  readonly normalization: MgdaNormalization;
  private readonly maxIterations: number;
  private readonly tolerance: number;

  constructor(options?: MgdaOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['normalization', 'gradientLevel', 'maxIterations', 'tolerance']);
    this.normalization = oneOfOption(OP, 'normalization', o.normalization, ['none', 'l2', 'loss', 'loss+'], 'none');
    this.gradientLevel = oneOfOption(OP, 'gradientLevel', o.gradientLevel, GRADIENT_LEVELS, 'representation');
    this.maxIterations = numberOption(OP, 'maxIterations', o.maxIterations, 2000, { min: 1, integer: true });
    this.tolerance = numberOption(OP, 'tolerance', o.tolerance, 1e-12, { min: 0 });
  }

  combine(input: GradientInput, losses?: TaskLosses, ctx?: StepContext): CombineResult {
    const needsLoss = this.normalization === 'loss' || this.normalization === 'loss+';
    const { rows, gram, tasks: T, losses: L } = this.combineInputs(input, losses, ctx, { positiveLosses: needsLoss });
    const n = new Float64Array(T).fill(1);
    for (let t = 0; t < T; t++) {
      const norm = Math.sqrt(gram[t][t]);
      if (this.normalization === 'l2' && norm > 0) n[t] = norm;
      if (this.normalization === 'loss') n[t] = (L as Float64Array)[t];
      if (this.normalization === 'loss+' && norm > 0) n[t] = (L as Float64Array)[t] * norm;
    }
    const scaled = gram.map((row, i) => row.map((v, j) => v / (n[i] * n[j])));
    const { alpha } = minNormElement(scaled, { maxIterations: this.maxIterations, tolerance: this.tolerance });
    return combineResult(rows, Float64Array.from(alpha, (a, t) => a / n[t]));
  }
}

export function mgda(options?: MgdaOptions): Mgda {
  return new Mgda(options);
}
