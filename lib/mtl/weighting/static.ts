/**
 * Static weighting: fixed, user-chosen λ_t; the integrator minimises Σ_t λ_t L_t.
 *
 * @example
 *   const w = mtl.weighting.static({ segmentation: 1, depth: 0.5 }).init(['segmentation', 'depth']);
 *   w.weights(); // [1, 0.5]
 */

import { TaskStrategy } from './common';
import type { LossWeighting, StepContext, TaskLosses } from './types';
import { checkNumber, describe, rangeError, readContext, readLosses, typeError } from './validate';

const OP = 'mtl.weighting.static';

export class StaticWeighting extends TaskStrategy implements LossWeighting {
  readonly name = 'static';
  readonly kind = 'loss' as const;
  private readonly lambdas: Readonly<Record<string, number>>;
  private current: number[] = [];

  constructor(lambdas: Readonly<Record<string, number>>) {
    super(OP);
    if (lambdas === null || typeof lambdas !== 'object' || Array.isArray(lambdas)) {
      throw typeError(OP, 'weights', 'an object {taskName: λ}', describe(lambdas));
    }
    const copy: Record<string, number> = {};
    for (const [name, value] of Object.entries(lambdas)) {
      copy[name] = checkNumber(OP, `weights['${name}']`, value, { min: 0 });
    }
    if (Object.keys(copy).length === 0) throw rangeError(OP, 'weights', 'a weight for at least one task', 'an empty object');
    this.lambdas = copy;
  }

  override init(taskNames: readonly string[]): this {
    super.init(taskNames);
    for (const name of Object.keys(this.lambdas)) {
      if (!this.tasks.names.includes(name)) {
        throw rangeError(`${OP}.init`, 'weights', `keys among the tasks ${this.tasks.names.join(', ')}`, `unknown task '${name}'`);
      }
    }
    this.current = this.tasks.names.map((name) => {
      if (!(name in this.lambdas)) throw rangeError(`${OP}.init`, 'weights', 'a weight for every task', `none for task '${name}'`);
      return this.lambdas[name];
    });
    return this;
  }

  /** λ in task order. `losses`, when given, is only checked for shape. */
  weights(losses?: TaskLosses, ctx?: StepContext): number[] {
    if (!this.tasks.initialised) {
      throw new Error(`${OP}.weights: call init(taskNames) first, so that the weights can be put in task order`);
    }
    readContext(`${OP}.weights`, ctx);
    if (losses !== undefined) readLosses(`${OP}.weights`, losses, this.tasks.names);
    return [...this.current];
  }
}

/** Fixed weights `{taskName: λ}`: every task must be given, each λ finite and >= 0. */
export function staticWeights(lambdas: Readonly<Record<string, number>>): StaticWeighting {
  return new StaticWeighting(lambdas);
}
