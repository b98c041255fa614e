/**
 * Random Loss Weighting (RLW).
 *
 * Lin, Ye, Zhang, Tsang, "Reasonable Effectiveness of Random Weighting: A Litmus Test for
 * Multi-Task Learning", TMLR 2022 (arXiv:2111.10603, 2021). Each step draws fresh weights
 *
 *     λ = softmax(λ̃),   λ̃ ~ N(0, I_T)
 *
 * (the normal distribution with softmax normalisation, the variant the paper and LibMTL's `RLW`
 * use by default), so λ_t > 0 and Σ_t λ_t = 1. The draws come from a seeded xoshiro128** stream
 * (`seed`, default 0): the same seed gives the same sequence of weights; `init` restarts it.
 */

import { TaskStrategy, softmax } from './common';
import { Rng } from './rng';
import type { LossWeighting, StepContext, TaskLosses } from './types';
import { checkOptions, inferTaskNames, numberOption, readContext, readLosses } from './validate';

const OP = 'mtl.weighting.rlw';

export interface RlwOptions {
  /** Seed of the random stream (default 0). */
  seed?: number;
}

export class RandomLossWeighting extends TaskStrategy implements LossWeighting {
  readonly name = 'rlw';
  readonly kind = 'loss' as const;
  readonly seed: number;
  private rng: Rng;

  constructor(options?: RlwOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['seed']);
    this.seed = numberOption(OP, 'seed', o.seed, 0, { integer: true });
    this.rng = new Rng(this.seed);
  }

  override init(taskNames: readonly string[]): this {
    super.init(taskNames);
    this.rng = new Rng(this.seed);
    return this;
  }

  /** A fresh draw softmax(z), z ~ N(0, I). `losses` (optional) is only checked. */
  weights(losses?: TaskLosses, ctx?: StepContext): number[] {
    const op = `${OP}.weights`;
    if (!this.tasks.initialised) this.init(inferTaskNames(op, losses));
    readContext(op, ctx);
    if (losses !== undefined) readLosses(op, losses, this.tasks.names);
    const z = this.tasks.names.map(() => this.rng.normal());
    return Array.from(softmax(z));
  }
}

export function rlw(options?: RlwOptions): RandomLossWeighting {
  return new RandomLossWeighting(options);
}
