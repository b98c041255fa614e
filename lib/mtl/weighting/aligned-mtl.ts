/**
 * Aligned-MTL: align the task gradients so that their matrix has condition number 1.
 *
 * Senushkin, Patakin, Kuznetsov, Konushin, "Independent Component Alignment for Multi-Task
 * Learning", CVPR 2023, Algorithm 1 (and the authors' ProcrustesSolver). With the Gram matrix M = G Gᵀ = V Λ Vᵀ
 * (eigenvalues λ_1 >= … >= λ_R > 0 kept, R the numerical rank), the aligned gradients are
 *
 *     Ĝ = B G,   B = σ · V_R Λ_R^{-1/2} V_Rᵀ   (T×T, symmetric)
 *
 * so that Ĝ Ĝᵀ = σ² V_R V_Rᵀ: all non-zero singular values of Ĝ equal σ. The scale σ is
 * √λ_R ('min', the paper's default: the smallest singular value of G), the lower median of
 * √λ ('median', like torch.median) or √(mean λ) ('rmse'), as in the authors' code. The update is
 * the sum of the aligned gradients (their code, with unit task weights):
 *
 *     direction = Σ_t Ĝ_t = Σ_t weights[t] g_t,   weights = B 1   (B is symmetric)
 *
 * The rank tolerance is theirs: λ > λ_max · T · ε_float32. The eigen-decomposition is Jacobi's
 * (lib/mtl/weighting/linalg.ts). Default `gradientLevel: 'parameters'` (the paper's
 * Aligned-MTL; its "-UB" variant uses the shared representation).
 */

import { GramStrategy, combineResult } from './common';
import { symmetricEigen, type Matrix } from './linalg';
import type { CombineResult, GradientInput, GradientLevel, GradientWeighting, StepContext, TaskLosses } from './types';
import { checkOptions, GRADIENT_LEVELS, oneOfOption } from './validate';

const OP = 'mtl.weighting.alignedMtl';
const FLOAT32_EPSILON = 2 ** -23;

export type AlignedScale = 'min' | 'median' | 'rmse';

export interface AlignedTransform {
  /** B (T×T): the aligned gradients are B G. */
  B: Matrix;
  /** The kept eigenvalues λ_1 >= … >= λ_R of G Gᵀ. */
  eigenvalues: Float64Array;
  /** σ, the common singular value of the aligned gradients. */
  scale: number;
}

/** B for Gram matrix M (zero matrix when every gradient is zero). */
export function alignedMtlTransform(M: Matrix, scaleMode: AlignedScale = 'min'): AlignedTransform {
  const T = M.length;
  const { values, vectors } = symmetricEigen(M);
  const tol = Math.max(values[0], 0) * T * FLOAT32_EPSILON;
  let R = 0;
  while (R < T && values[R] > tol) R++;
  const kept = values.slice(0, R);
  const B: Matrix = Array.from({ length: T }, () => new Array<number>(T).fill(0));
  if (R === 0) return { B, eigenvalues: kept, scale: 0 };
  let scale: number;
  if (scaleMode === 'min') scale = Math.sqrt(kept[R - 1]);
  else if (scaleMode === 'median') scale = Math.sqrt(kept[R - 1 - Math.floor((R - 1) / 2)]); // lower median
  else scale = Math.sqrt(kept.reduce((a, b) => a + b, 0) / R);
  for (let k = 0; k < R; k++) {
    const f = scale / Math.sqrt(kept[k]);
    for (let i = 0; i < T; i++) {
      const vik = vectors[i][k] * f;
      for (let j = 0; j < T; j++) B[i][j] += vik * vectors[j][k];
    }
  }
  return { B, eigenvalues: kept, scale };
}

export interface AlignedMtlOptions {
  scale?: AlignedScale;
  gradientLevel?: GradientLevel;
}

export class AlignedMtl extends GramStrategy implements GradientWeighting {
  readonly name = 'alignedMtl';
  readonly kind = 'gradient' as const;
  readonly gradientLevel: GradientLevel;
  readonly scale: AlignedScale;

  constructor(options?: AlignedMtlOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['scale', 'gradientLevel']);
    this.scale = oneOfOption(OP, 'scale', o.scale, ['min', 'median', 'rmse'], 'min');
    this.gradientLevel = oneOfOption(OP, 'gradientLevel', o.gradientLevel, GRADIENT_LEVELS, 'parameters');
  }

  combine(input: GradientInput, losses?: TaskLosses, ctx?: StepContext): CombineResult {
    const { rows, gram } = this.combineInputs(input, losses, ctx);
    const { B } = alignedMtlTransform(gram, this.scale);
    return combineResult(rows, B.map((row) => row.reduce((a, b) => a + b, 0)));
  }
}

export function alignedMtl(options?: AlignedMtlOptions): AlignedMtl {
  return new AlignedMtl(options);
}
