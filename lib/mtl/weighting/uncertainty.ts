/**
 * Uncertainty weighting: task weights from learned homoscedastic uncertainties.
 *
 * Kendall, Gal, Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
 * Geometry and Semantics", CVPR 2018, Sec. 3.2. We use their Gaussian-likelihood (regression)
 * objective L = 1/(2σ_1²) L_1 + 1/(2σ_2²) L_2 + log σ_1 σ_2, extended to T tasks and written with
 * the log-variance s_t = log σ_t² that the paper trains for numerical stability, for every task
 * (also classification ones, whose exact form drops the ½), as LibMTL's `UW` does:
 *
 *     L_total(θ, s) = Σ_t  ½ exp(-s_t) · L_t(θ)  +  ½ s_t
 *
 * - `weights()` = ½ exp(-s_t): the weights of the task losses for the model's gradient.
 * - `parameters` = s (Float64Array, length T, default init s_t = 0, i.e. σ_t = 1 and weight ½).
 * - `objective(losses)` = L_total at the given loss values; `objectiveGradient(losses)` =
 *   ∂L_total/∂s_t = ½ (1 - exp(-s_t) L_t), with the losses held fixed (the model's parameters get
 *   their gradient through `weights()`). The optimum for fixed losses is s_t = log L_t.
 *
 * The integrator updates `parameters` in place with its optimizer (the paper trains s jointly
 * with the network), then calls `afterUpdate()` (a no-op here, kept for a uniform interface).
 */

import { TaskStrategy } from './common';
import type { LearnedParameters, LossWeighting, StepContext, TaskLosses } from './types';
import { checkOptions, inferTaskNames, numberOption, readContext, readLosses } from './validate';

const OP = 'mtl.weighting.uncertainty';

export interface UncertaintyOptions {
  /** Initial log-variance s_t = log σ_t² of every task (default 0). */
  initLogVariance?: number;
}

export class UncertaintyWeighting extends TaskStrategy implements LossWeighting, LearnedParameters {
  readonly name = 'uncertainty';
  readonly kind = 'loss' as const;
  private readonly initLogVariance: number;
  private logVariances = new Float64Array(0);

  constructor(options?: UncertaintyOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['initLogVariance']);
    this.initLogVariance = numberOption(OP, 'initLogVariance', o.initLogVariance, 0);
  }

  /** The log-variances s_t = log σ_t² (live; update in place). */
  get parameters(): Float64Array {
    return this.logVariances;
  }

  override init(taskNames: readonly string[]): this {
    super.init(taskNames);
    this.logVariances = new Float64Array(taskNames.length).fill(this.initLogVariance);
    return this;
  }

  private ensureInit(op: string, losses: TaskLosses | undefined): void {
    if (!this.tasks.initialised) this.init(inferTaskNames(op, losses));
  }

  private checkedParameters(op: string): Float64Array {
    this.logVariances.forEach((s, t) => {
      if (!Number.isFinite(s)) {
        throw new RangeError(`${op}: log-variance of task '${this.tasks.names[t]}' is ${s}; the optimizer diverged`);
      }
    });
    return this.logVariances;
  }

  /** ½ exp(-s_t) per task. `losses` (optional) is only checked. */
  weights(losses?: TaskLosses, ctx?: StepContext): number[] {
    const op = `${OP}.weights`;
    this.ensureInit(op, losses);
    readContext(op, ctx);
    if (losses !== undefined) readLosses(op, losses, this.tasks.names);
    return Array.from(this.checkedParameters(op), (s) => 0.5 * Math.exp(-s));
  }

  /** Σ_t ½ exp(-s_t) L_t + ½ s_t. */
  objective(losses: TaskLosses): number {
    const op = `${OP}.objective`;
    this.ensureInit(op, losses);
    const L = readLosses(op, losses, this.tasks.names);
    const s = this.checkedParameters(op);
    let total = 0;
    for (let t = 0; t < L.length; t++) total += 0.5 * Math.exp(-s[t]) * L[t] + 0.5 * s[t];
    return total;
  }

  /** ∂objective/∂s_t = ½ (1 - exp(-s_t) L_t), losses held fixed. */
  objectiveGradient(losses: TaskLosses): Float64Array {
    const op = `${OP}.objectiveGradient`;
    this.ensureInit(op, losses);
    const L = readLosses(op, losses, this.tasks.names);
    const s = this.checkedParameters(op);
    return Float64Array.from(L, (l, t) => 0.5 * (1 - Math.exp(-s[t]) * l));
  }

  afterUpdate(): void {
    // Nothing to project: s is unconstrained.
  }
}

export function uncertainty(options?: UncertaintyOptions): UncertaintyWeighting {
  return new UncertaintyWeighting(options);
}
