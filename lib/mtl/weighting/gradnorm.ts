/**
 * GradNorm: learned task weights that balance the tasks' gradient norms and training rates.
 *
 * Chen, Badrinarayanan, Lee, Rabinovich, "GradNorm: Gradient Normalization for Adaptive Loss
 * Balancing in Deep Multitask Networks", ICML 2018, Sec. 3 (the target gradient norm
 * Ḡ_W · r_i^α and the loss L_grad) and Algorithm 1. With W the chosen
 * shared weights (the paper: the last shared layer, hence `gradientLevel: 'parameters'`) and
 * g_i = ∇_W L_i the rows of G:
 *
 *     G_W^(i)   = ||∇_W (w_i L_i)|| = |w_i| · ||g_i||          Ḡ_W = mean_i G_W^(i)
 *     L̃_i      = L_i(t) / L_i(0)                               r_i = L̃_i / mean_j L̃_j
 *     target_i  = Ḡ_W · r_i^α                                   (treated as a constant)
 *     L_grad(w) = Σ_i | G_W^(i) - target_i |
 *
 * What is differentiated (as in the paper): L_grad with respect to the weights w only, the
 * targets held fixed, so
 *
 *     ∂L_grad/∂w_i = sign(G_W^(i) - target_i) · sign(w_i) · ||g_i||        (sign(0) = 0)
 *
 * (`objectiveGradient`). The model's own gradient is that of Σ_i w_i L_i: `combine` returns
 * direction = Σ_i w_i g_i and weights = w. After the integrator's optimizer has updated
 * `parameters` (= w, initialised to 1) in place, `afterUpdate()` renormalises them so that
 * Σ_i w_i = T, as the paper does after every step.
 *
 * L_i(0) is taken from the first call that passes losses (or from `initialLosses`); `init`
 * forgets it. α (default 1.5) sets the strength of the restoring force towards equal training
 * rates. (LibMTL parametrises w by a softmax instead; we keep the paper's direct weights.)
 */

import { TaskStrategy } from './common';
import { weightedRowSum } from './linalg';
import type {
  CombineResult,
  GradientLevel,
  GradientMatrix,
  GradientWeighting,
  LearnedParameters,
  StepContext,
  TaskLosses, GradientInput } from './types';
import {
  checkOptions,
  genericTaskNames,
  GRADIENT_LEVELS,
  nonFiniteGradientError,
  numberOption,
  oneOfOption,
  rangeError,
  readContext,
  readGradients,
  readLosses, gradientRows } from './validate';

const OP = 'mtl.weighting.gradNorm';

export interface GradNormOptions {
  /** Asymmetry α >= 0 (default 1.5, the paper's NYUv2 value). */
  alpha?: number;
  /** Override of the default 'parameters' (gradients at the last shared layer). */
  gradientLevel?: GradientLevel;
  /** The reference losses L_i(0); by default, the losses of the first call that has them. */
  initialLosses?: TaskLosses;
}

export class GradNorm extends TaskStrategy implements GradientWeighting, LearnedParameters {
  readonly name = 'gradNorm';
  readonly kind = 'gradient' as const;
  readonly gradientLevel: GradientLevel;
  readonly alpha: number;
  private readonly givenInitialLosses: TaskLosses | undefined;
  private w = new Float64Array(0);
  private L0: Float64Array | null = null;

  constructor(options?: GradNormOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['alpha', 'gradientLevel', 'initialLosses']);
    this.alpha = numberOption(OP, 'alpha', o.alpha, 1.5, { min: 0 });
    this.gradientLevel = oneOfOption(OP, 'gradientLevel', o.gradientLevel, GRADIENT_LEVELS, 'parameters');
    this.givenInitialLosses = o.initialLosses as TaskLosses | undefined;
  }

  /** The task weights w (live; update in place, then call `afterUpdate`). */
  get parameters(): Float64Array {
    return this.w;
  }

  /** The reference losses L_i(0), once known. */
  get initialLosses(): Float64Array | null {
    return this.L0;
  }

  override init(taskNames: readonly string[]): this {
    super.init(taskNames);
    this.w = new Float64Array(taskNames.length).fill(1);
    this.L0 = this.givenInitialLosses === undefined
      ? null
      : readLosses(`${OP}.init`, this.givenInitialLosses, this.tasks.names, { positive: true });
    return this;
  }

  /** ||g_i|| per task (float64), with the shape and finiteness of G checked. */
  gradientNorms(G: GradientMatrix, op = `${OP}.gradientNorms`): Float64Array {
    const { rows, tasks: T } = readGradients(op, G, this.tasks.initialised ? this.tasks.names : null);
    if (!this.tasks.initialised) this.init(genericTaskNames(T));
    const norms = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      const row = rows[t];
      let s = 0;
      for (let k = 0; k < row.length; k++) s += row[k] * row[k];
      if (!Number.isFinite(s)) throw nonFiniteGradientError(op, rows, this.tasks.names);
      norms[t] = Math.sqrt(s);
    }
    return norms;
  }

  private checkedWeights(op: string): Float64Array {
    this.w.forEach((v, t) => {
      if (!Number.isFinite(v)) throw new RangeError(`${op}: weight of task '${this.tasks.names[t]}' is ${v}; the optimizer diverged`);
    });
    return this.w;
  }

  private lossRatios(op: string, losses: TaskLosses | undefined): Float64Array {
    const L = readLosses(op, losses, this.tasks.names, { positive: true });
    if (this.L0 === null) this.L0 = Float64Array.from(L);
    const relative = Float64Array.from(L, (l, t) => l / (this.L0 as Float64Array)[t]);
    const mean = relative.reduce((a, b) => a + b, 0) / relative.length;
    return Float64Array.from(relative, (l) => l / mean);
  }

  /** direction = Σ_i w_i g_i, weights = w. Records L_i(0) if `losses` is the first seen. */
  combine(input: GradientInput, losses?: TaskLosses, ctx?: StepContext): CombineResult {
    const op = `${OP}.combine`;
    const G = gradientRows(op, input);
    this.gradientNorms(G, op); // checks G (and initialises on first use)
    readContext(op, ctx);
    if (losses !== undefined) this.lossRatios(op, losses);
    const w = this.checkedWeights(op);
    return { direction: weightedRowSum(G, w), weights: Array.from(w) };
  }

  /** target_i = Ḡ_W · r_i^α at the current weights. */
  targets(G: GradientMatrix, losses: TaskLosses): Float64Array {
    const op = `${OP}.targets`;
    const norms = this.gradientNorms(G, op);
    return this.targetsFrom(op, norms, losses);
  }

  private targetsFrom(op: string, norms: Float64Array, losses: TaskLosses): Float64Array {
    const r = this.lossRatios(op, losses);
    const w = this.checkedWeights(op);
    let mean = 0;
    for (let t = 0; t < norms.length; t++) mean += Math.abs(w[t]) * norms[t];
    mean /= norms.length;
    return Float64Array.from(r, (ri) => mean * ri ** this.alpha);
  }

  /** L_grad = Σ_i |(|w_i| ||g_i||) - target_i|; `targets` defaults to those of the current w. */
  objective(G: GradientMatrix, losses: TaskLosses, targets?: ArrayLike<number>): number {
    const op = `${OP}.objective`;
    const norms = this.gradientNorms(G, op);
    const goal = targets === undefined ? this.targetsFrom(op, norms, losses) : this.checkTargets(op, targets);
    const w = this.checkedWeights(op);
    let total = 0;
    for (let t = 0; t < norms.length; t++) total += Math.abs(Math.abs(w[t]) * norms[t] - goal[t]);
    return total;
  }

  /** ∂L_grad/∂w_i with the targets held fixed (see the module comment). */
  objectiveGradient(G: GradientMatrix, losses: TaskLosses): Float64Array {
    const op = `${OP}.objectiveGradient`;
    const norms = this.gradientNorms(G, op);
    const goal = this.targetsFrom(op, norms, losses);
    const w = this.w;
    return Float64Array.from(norms, (n, t) => Math.sign(Math.abs(w[t]) * n - goal[t]) * Math.sign(w[t]) * n);
  }

  private checkTargets(op: string, targets: ArrayLike<number>): ArrayLike<number> {
    if (targets.length !== this.tasks.names.length) {
      throw rangeError(op, 'targets', `${this.tasks.names.length} values`, String(targets.length));
    }
    return targets;
  }

  /** Renormalises w so that Σ_i w_i = T (paper, Algorithm 1). */
  afterUpdate(): void {
    const op = `${OP}.afterUpdate`;
    const w = this.checkedWeights(op);
    const sum = w.reduce((a, b) => a + b, 0);
    if (!(sum > 0)) throw new RangeError(`${op}: expected the task weights to have a positive sum to renormalise, got ${sum}`);
    const scale = w.length / sum;
    for (let t = 0; t < w.length; t++) w[t] *= scale;
  }
}

export function gradNorm(options?: GradNormOptions): GradNorm {
  return new GradNorm(options);
}
