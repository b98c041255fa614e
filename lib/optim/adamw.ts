// AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, torch.optim.AdamW's
// defaults (weightDecay 1e-2). Same fused kernel as Adam.
import { argRangeError } from '../errors';
import { ADAM_DEFAULTS, Adam, AdamOptions } from './adam';
import type { ParamsInput } from './optimizer';

export type AdamWOptions = AdamOptions;

const ADAMW_DEFAULTS: AdamOptions = { ...ADAM_DEFAULTS, weightDecay: 1e-2, decoupledWeightDecay: true };

/**
 * θ ← θ·(1 − lr·weightDecay), then Adam's update without the L2 term.
 * @example const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
 */
export class AdamW extends Adam {
  constructor(params: ParamsInput<AdamOptions>, options: Partial<Omit<AdamOptions, 'decoupledWeightDecay'>> = {}) {
    super(params, options, ADAMW_DEFAULTS);
  }

  protected override validateOptions(o: AdamOptions, prefix: string): void {
    super.validateOptions(o, prefix);
    if (o.decoupledWeightDecay !== true) {
      throw argRangeError('AdamW', `${prefix}decoupledWeightDecay`, 'true (use Adam for L2 weight decay)', String(o.decoupledWeightDecay));
    }
  }
}
