/**
 * hydranet's multi-task weighting strategies: `hn.mtl.weighting`.
 *
 * Loss weighting (`kind: 'loss'`, `weights(losses, {step, epoch})`):
 *   static({name: λ}), equal(), uncertainty(), dwa({temperature}), rlw({seed})
 * Gradient combination (`kind: 'gradient'`, `combine(G, losses?) => {direction, weights}`):
 *   gradNorm({alpha}), mgda({normalization}), pcgrad({seed}), cagrad({c}), imtl(),
 *   nashMtl({maxNorm}), alignedMtl({scale})
 * See ./types.ts for the contract, and each file for its paper, equations and defaults.
 *
 * @example
 *   const strategy = mtl.weighting.cagrad({ c: 0.4 }).init(['segmentation', 'depth']);
 *   const { direction, weights } = strategy.combine([gSeg, gDepth]); // Float32Array rows
 */

export type {
  CombineResult,
  GradientLevel,
  GradientMatrix,
  GradientRow,
  GradientWeighting,
  LearnedParameters,
  LossWeighting,
  StepContext,
  TaskLosses,
  WeightingStrategy,
} from './types';

export { staticWeights, staticWeights as static, StaticWeighting } from './static';
export { equal, EqualWeighting } from './equal';
export { uncertainty, UncertaintyWeighting, type UncertaintyOptions } from './uncertainty';
export { dwa, DynamicWeightAverage, type DwaOptions } from './dwa';
export { rlw, RandomLossWeighting, type RlwOptions } from './rlw';
export { gradNorm, GradNorm, type GradNormOptions } from './gradnorm';
export { mgda, Mgda, minNormElement, minNormTwo, type MgdaNormalization, type MgdaOptions, type MinNormResult } from './mgda';
export { pcgrad, PcGrad, pcgradCoefficients, type PcgradOptions } from './pcgrad';
export { cagrad, CaGrad, cagradDual, cagradObjective, type CagradDualResult, type CagradOptions } from './cagrad';
export { imtl, Imtl, imtlWeights, type ImtlOptions } from './imtl';
export { nashMtl, NashMtl, solveNashBargaining, type NashMtlOptions, type NashSolution } from './nash-mtl';
export {
  alignedMtl,
  AlignedMtl,
  alignedMtlTransform,
  type AlignedMtlOptions,
  type AlignedScale,
  type AlignedTransform,
} from './aligned-mtl';
export { Rng } from './rng';
