/**
 * IMTL-G: impartial gradient balancing.
 *
 * Liu, Li, Kuang, Xue, Chen, Yang, Liao, Zhang, "Towards Impartial Multi-task Learning",
 * ICLR 2021, the gradient-balance part IMTL-G and its closed form for α. Find the aggregated
 * gradient g = Σ_t α_t g_t, Σ_t α_t = 1, whose projections onto every unit task gradient
 * u_t = g_t / ||g_t|| are equal
 * (g · u_1 = g · u_t for all t). With D = [g_1 - g_2, …, g_1 - g_T]ᵀ and
 * U = [u_1 - u_2, …, u_1 - u_T]ᵀ, the closed form is
 *
 *     α_{2:T} = g_1 Uᵀ (D Uᵀ)⁻¹,   α_1 = 1 - Σ_{t>=2} α_t.
 *
 * Everything is formed from the Gram matrix: (D Uᵀ)_st = (g_1 - g_s)·(u_1 - u_t). `weights` are
 * the α (they sum to 1; they may be negative, as in the paper). When D Uᵀ is singular (e.g. two
 * parallel gradients) the minimum-norm least-squares solution replaces the inverse. Tasks with a
 * zero gradient have no direction to balance: they get α_t = 0 and the others are balanced
 * among themselves (all zero: direction 0, weights 1/T).
 *
 * The paper applies IMTL-G to the gradients of the shared feature z, hence
 * `gradientLevel: 'representation'`. This is the gradient half of IMTL; its loss half (IMTL-L,
 * learned loss scales) is not included.
 */

import { GramStrategy, combineResult } from './common';
import { solveLeastSquares, solveLinear, transpose, type Matrix } from './linalg';
import type { CombineResult, GradientInput, GradientLevel, GradientWeighting, StepContext, TaskLosses } from './types';
import { checkOptions, GRADIENT_LEVELS, oneOfOption } from './validate';

const OP = 'mtl.weighting.imtl';

/** IMTL-G's α for Gram matrix M (T×T). */
export function imtlWeights(M: Matrix): Float64Array {
  const T = M.length;
  const alpha = new Float64Array(T);
  const live: number[] = [];
  for (let t = 0; t < T; t++) if (M[t][t] > 0) live.push(t);
  if (live.length === 0) return alpha.fill(1 / T);
  if (live.length === 1) {
    alpha[live[0]] = 1;
    return alpha;
  }
  const n = live.map((t) => Math.sqrt(M[t][t]));
  const m = live.length - 1;
  const first = live[0];
  // g_a · u_b = M_ab / n_b, over the live tasks (index 0 plays the role of task 1).
  const gu = (a: number, b: number): number => M[live[a]][live[b]] / n[b];
  const rhs = new Float64Array(m); // (g_1 Uᵀ)_t = g_1·(u_1 - u_t)
  const A: Matrix = []; // (D Uᵀ)_st = (g_1 - g_s)·(u_1 - u_t)
  for (let s = 1; s <= m; s++) {
    const row: number[] = [];
    for (let t = 1; t <= m; t++) row.push(gu(0, 0) - gu(0, t) - gu(s, 0) + gu(s, t));
    A.push(row);
  }
  for (let t = 1; t <= m; t++) rhs[t - 1] = gu(0, 0) - gu(0, t);
  // α A = rhs (row vector) ⇔ Aᵀ αᵀ = rhsᵀ.
  const At = transpose(A);
  const x = solveLinear(At, rhs) ?? solveLeastSquares(At, rhs);
  let rest = 0;
  for (let t = 1; t <= m; t++) {
    alpha[live[t]] = x[t - 1];
    rest += x[t - 1];
  }
  alpha[first] = 1 - rest;
  return alpha;
}

export interface ImtlOptions {
  gradientLevel?: GradientLevel;
}

export class Imtl extends GramStrategy implements GradientWeighting {
  readonly name = 'imtl';
  readonly kind = 'gradient' as const;
  readonly gradientLevel: GradientLevel;

  constructor(options?: ImtlOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['gradientLevel']);
    this.gradientLevel = oneOfOption(OP, 'gradientLevel', o.gradientLevel, GRADIENT_LEVELS, 'representation');
  }

  combine(input: GradientInput, losses?: TaskLosses, ctx?: StepContext): CombineResult {
    const { rows, gram } = this.combineInputs(input, losses, ctx);
    return combineResult(rows, imtlWeights(gram));
  }
}

export function imtl(options?: ImtlOptions): Imtl {
  return new Imtl(options);
}
