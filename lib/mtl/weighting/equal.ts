/**
 * Equal weighting (EW): λ_t = 1 for every task, i.e. the plain sum Σ_t L_t (LibMTL's `EW`).
 * The baseline every paper of this folder compares against.
 */

import { TaskStrategy } from './common';
import type { LossWeighting, StepContext, TaskLosses } from './types';
import { inferTaskNames, readContext, readLosses } from './validate';

const OP = 'mtl.weighting.equal';

export class EqualWeighting extends TaskStrategy implements LossWeighting {
  readonly name = 'equal';
  readonly kind = 'loss' as const;

  constructor() {
    super(OP);
  }

  /** Ones, one per task. Needs `init` or `losses` (to know T). */
  weights(losses?: TaskLosses, ctx?: StepContext): number[] {
    readContext(`${OP}.weights`, ctx);
    if (!this.tasks.initialised) {
      this.init(inferTaskNames(`${OP}.weights`, losses));
    }
    if (losses !== undefined) readLosses(`${OP}.weights`, losses, this.tasks.names);
    return this.tasks.names.map(() => 1);
  }
}

export function equal(): EqualWeighting {
  return new EqualWeighting();
}
