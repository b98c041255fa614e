// Adam (Kingma & Ba, 2015) with AMSGrad and L2 or decoupled weight decay (torch.optim.Adam).
// Each parameter's update is one call of the fused native kernel adam_step
// (native/cpu/optim.cc), which also serves AdamW.
import { KernelBuffer, Tensor } from '../tensor';
import { kernelsFor } from '../ops/device';
import { bindings } from '../native';
import { argRangeError, argTypeError, describeValue } from '../errors';
import { Optimizer, ParamsInput, check } from './optimizer';

interface AdamBindings {
  adamStep(param: KernelBuffer, grad: KernelBuffer, expAvg: KernelBuffer, expAvgSq: KernelBuffer, maxExpAvgSq: KernelBuffer | null,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupledWeightDecay: boolean,
    amsgrad: boolean, maximize: boolean, step: number): void;
}
const native = bindings<AdamBindings>();

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
  /** AdamW's weight decay (θ ← θ·(1 − lr·weightDecay)) instead of adding weightDecay·θ to g. */
  decoupledWeightDecay: boolean;
}

export const ADAM_DEFAULTS: AdamOptions = {
  lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, decoupledWeightDecay: false,
};

/**
 * Adam, PyTorch's algorithm: with g = ∇ (negated when maximize) and t the step count,
 *   g ← g + weightDecay·θ  (or θ ← θ·(1 − lr·weightDecay) when decoupled);
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  amsgrad: v̄ ← max(v̄, v), used for v;
 *   θ ← θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps).
 * @example const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}, defaults: AdamOptions = ADAM_DEFAULTS) {
    super(params, defaults, options);
  }

  protected validateOptions(o: AdamOptions, prefix: string): void {
    const op = this.constructor.name;
    check.nonNegative(op, `${prefix}lr`, o.lr);
    if (!Array.isArray(o.betas) || o.betas.length !== 2) throw argTypeError(op, `${prefix}betas`, 'a pair [beta1, beta2]', describeValue(o.betas));
    check.unitInterval(op, `${prefix}betas[0]`, o.betas[0]);
    check.unitInterval(op, `${prefix}betas[1]`, o.betas[1]);
    check.nonNegative(op, `${prefix}eps`, o.eps);
    check.nonNegative(op, `${prefix}weightDecay`, o.weightDecay);
    check.boolean(op, `${prefix}amsgrad`, o.amsgrad);
    check.boolean(op, `${prefix}maximize`, o.maximize);
    check.boolean(op, `${prefix}decoupledWeightDecay`, o.decoupledWeightDecay);
  }

  protected stateKeys(): Record<string, 'tensor' | 'number'> {
    return { step: 'number', expAvg: 'tensor', expAvgSq: 'tensor', maxExpAvgSq: 'tensor' };
  }

  protected update(): void {
    const op = `${this.constructor.name}.step`;
    for (const group of this.paramGroups) {
      const { lr, betas, eps, weightDecay, amsgrad, maximize, decoupledWeightDecay } = group;
      for (const p of group.params) {
        const grad = this.gradOf(p);
        if (!grad) continue;
        const state = this.stateOf(p);
        // A new state gets its keys in PyTorch's order: step, exp_avg, exp_avg_sq, max_exp_avg_sq.
        state.step ??= 0;
        // State lives on the parameter's device.
        const expAvg = (state.expAvg ??= Tensor.empty(p.shape, 'float32', p.device)) as Tensor;
        const expAvgSq = (state.expAvgSq ??= Tensor.empty(p.shape, 'float32', p.device)) as Tensor;
        const maxExpAvgSq = amsgrad ? ((state.maxExpAvgSq ??= Tensor.empty(p.shape, 'float32', p.device)) as Tensor) : null;
        const step = (state.step as number) + 1;
        if (step > 2 ** 31 - 1) throw argRangeError(op, 'step', 'at most 2^31 - 1 steps per parameter', String(step));
        const k = p.device === 'cpu' ? native : kernelsFor<AdamBindings>(op, p.device);
        k.adamStep(p.buffer(op, p.name ?? 'parameter'), grad, expAvg.buffer(op, 'expAvg'), expAvgSq.buffer(op, 'expAvgSq'),
          maxExpAvgSq ? maxExpAvgSq.buffer(op, 'maxExpAvgSq') : null, lr, betas[0], betas[1], eps, weightDecay,
          decoupledWeightDecay, amsgrad, maximize, step);
        state.step = step;
      }
    }
  }
}
