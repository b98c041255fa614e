/**
 * Dynamic Weight Average (DWA).
 *
 * Liu, Johns, Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019, the Dynamic
 * Weight Average rule of Sec. 3 (also the authors' MTAN code):
 *
 *     λ_k(t) = K · exp(w_k(t-1) / T) / Σ_i exp(w_i(t-1) / T),   w_k(t-1) = L_k(t-1) / L_k(t-2)
 *
 * where L_k(t) is the average training loss of task k over epoch t, K the number of tasks and T
 * the temperature (default 2, the paper's). For the first two epochs (t = 0, 1) w_k = 1, so every
 * λ_k = 1.
 *
 * `weights(losses, {epoch})` needs the current epoch (counted from 0, never decreasing) and
 * records the step's unweighted task losses into that epoch's average, so call it once per
 * training step. The weights of epoch e use the averages of epochs e-1 and e-2; when an epoch
 * without any recorded step sits in between, the two latest epochs that have records are used.
 */

import { TaskStrategy, softmax } from './common';
import type { LossWeighting, StepContext, TaskLosses } from './types';
import {
  checkOptions,
  inferTaskNames,
  numberOption,
  rangeError,
  readContext,
  readLosses,
  typeError,
} from './validate';

const OP = 'mtl.weighting.dwa';

export interface DwaOptions {
  /** Softmax temperature T (> 0, default 2). */
  temperature?: number;
}

interface EpochRecord {
  epoch: number;
  sums: Float64Array;
  count: number;
}

export class DynamicWeightAverage extends TaskStrategy implements LossWeighting {
  readonly name = 'dwa';
  readonly kind = 'loss' as const;
  readonly temperature: number;
  private history: EpochRecord[] = [];

  constructor(options?: DwaOptions) {
    super(OP);
    const o = checkOptions(OP, options, ['temperature']);
    this.temperature = numberOption(OP, 'temperature', o.temperature, 2, { min: 0, exclusiveMin: true });
  }

  override init(taskNames: readonly string[]): this {
    super.init(taskNames);
    this.history = [];
    return this;
  }

  /** Average loss of each task over `epoch` so far (undefined if nothing was recorded then). */
  averageLosses(epoch: number): Float64Array | undefined {
    const record = this.history.find((r) => r.epoch === epoch);
    return record && Float64Array.from(record.sums, (s) => s / record.count);
  }

  weights(losses?: TaskLosses, ctx?: StepContext): number[] {
    const op = `${OP}.weights`;
    if (!this.tasks.initialised) this.init(inferTaskNames(op, losses));
    const { epoch } = readContext(op, ctx);
    if (epoch === undefined) throw typeError(op, 'ctx.epoch', 'the current epoch (an integer >= 0)', 'undefined');
    const L = readLosses(op, losses, this.tasks.names);
    const last = this.history[this.history.length - 1];
    if (last && epoch < last.epoch) throw rangeError(op, 'ctx.epoch', `>= ${last.epoch} (epochs never go back)`, String(epoch));
    let current = last;
    if (!current || current.epoch !== epoch) {
      current = { epoch, sums: new Float64Array(L.length), count: 0 };
      this.history.push(current);
      if (this.history.length > 3) this.history.shift(); // only e, e-1, e-2 are ever needed
    }
    for (let t = 0; t < L.length; t++) current.sums[t] += L[t];
    current.count += 1;

    const T = L.length;
    if (epoch < 2 || this.history.length < 3) return new Array<number>(T).fill(1);
    const [older, previous] = this.history; // the two recorded epochs before the current one
    const ratio = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      const before = older.sums[t] / older.count;
      const after = previous.sums[t] / previous.count;
      ratio[t] = after / before;
      if (!Number.isFinite(ratio[t])) {
        const arg = `the average loss of task '${this.tasks.names[t]}' in epoch ${older.epoch}`;
        throw rangeError(op, arg, 'non-zero (DWA divides by it)', String(before));
      }
    }
    return Array.from(softmax(ratio, this.temperature), (p) => T * p);
  }
}

export function dwa(options?: DwaOptions): DynamicWeightAverage {
  return new DynamicWeightAverage(options);
}
