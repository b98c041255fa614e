/**
 * PCGrad: "gradient surgery" that removes the conflicting components between task gradients.
 *
 * Yu, Kumar, Gupta, Levine, Hausman, Finn, "Gradient Surgery for Multi-Task Learning",
 * NeurIPS 2020, Algorithm 1. For each task i, start from g_i^PC = g_i and, for every other task
 * j in a random order, if g_i^PC · g_j < 0 project g_i^PC onto the normal plane of g_j:
 *
 *     g_i^PC ← g_i^PC - (g_i^PC · g_j / ||g_j||²) g_j
 *
 * then Δθ = Σ_i g_i^PC (`reduction: 'sum'`, the paper's; `'mean'` divides by T, as some ports
 * do). Projections always subtract multiples of the *original* g_j, so every g_i^PC is a linear
 * combination Σ_j c_ij g_j; we run the algorithm on those coefficients and the Gram matrix
 * (g_i^PC · g_j = Σ_k c_ik (G Gᵀ)_kj) and return the effective task weights
 * weights[j] = Σ_i c_ij, which reproduce the direction exactly: direction = Σ_j weights[j] g_j.
 *
 * The order of j is a fresh shuffle for each i, drawn from a seeded xoshiro128** stream
 * (`seed`, default 0; `init` restarts it). Default `gradientLevel: 'parameters'`.
 */

import { GramStrategy, combineResult } from './common';
import { Rng } from './rng';
import type { CombineResult, GradientInput, GradientLevel, GradientWeighting, StepContext, TaskLosses } from './types';
import { checkOptions, GRADIENT_LEVELS, numberOption, oneOfOption } from './validate';
import type { Matrix } from './linalg';

const OP = 'mtl.weighting.pcgrad';

/**
 * The PCGrad coefficients for Gram matrix M: row i holds c_i with g_i^PC = Σ_j c_ij g_j.
 * `order(i)` returns the order in which the other tasks are visited for task i.
 */
export function pcgradCoefficients(M: Matrix, order: (i: number) => readonly number[]): Matrix {
  const T = M.length;
  const C: Matrix = [];
  for (let i = 0; i < T; i++) {
    const c = new Array<number>(T).fill(0);
    c[i] = 1;
    for (const j of order(i)) {
      if (j === i || !(M[j][j] > 0)) continue; // a zero g_j has nothing to conflict with
      let conflict = 0;
      for (let k = 0; k < T; k++) conflict += c[k] * M[k][j];
      if (conflict < 0) c[j] -= conflict / M[j][j];
    }
    C.push(c);
  }
  return C;
}

export interface PcgradOptions {
  reduction?: 'sum' | 'mean';
  seed?: number;
  gradientLevel?: GradientLevel;
}

export class PcGrad extends GramStrategy implements GradientWeighting {
  readonly name = 'pcgrad';
  readonly kind = 'gradient' as const;
  readonly gradientLevel: GradientLevel;
  readonly reduction: 'sum' | 'mean';
  readonly seed: number;
  private rng: Rng;

  constructor(options?: PcgradOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['reduction', 'seed', 'gradientLevel']);
    this.reduction = oneOfOption(OP, 'reduction', o.reduction, ['sum', 'mean'], 'sum');
    this.seed = numberOption(OP, 'seed', o.seed, 0, { integer: true });
    this.gradientLevel = oneOfOption(OP, 'gradientLevel', o.gradientLevel, GRADIENT_LEVELS, 'parameters');
    this.rng = new Rng(this.seed);
  }

  override init(taskNames: readonly string[]): this {
    super.init(taskNames);
    this.rng = new Rng(this.seed);
    return this;
  }

  combine(input: GradientInput, losses?: TaskLosses, ctx?: StepContext): CombineResult {
    const { rows, gram, tasks: T } = this.combineInputs(input, losses, ctx);
    const C = pcgradCoefficients(gram, (i) => this.rng.shuffle(Array.from({ length: T }, (_, j) => j).filter((j) => j !== i)));
    const weights = new Float64Array(T);
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) weights[j] += C[i][j];
    if (this.reduction === 'mean') for (let j = 0; j < T; j++) weights[j] /= T;
    return combineResult(rows, weights);
  }
}

export function pcgrad(options?: PcgradOptions): PcGrad {
  return new PcGrad(options);
}
