// SGD with momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD). Each
// parameter's update is one call of the fused native kernel sgd_step (native/cpu/optim.cc).
import type { KernelBuffer, Tensor } from '../tensor';
import { kernelsFor } from '../ops/device';
import { Tensor as TensorClass } from '../tensor';
import { bindings } from '../native';
import { argRangeError } from '../errors';
import { Optimizer, ParamsInput, check } from './optimizer';

interface SgdBindings {
  sgdStep(param: KernelBuffer, grad: KernelBuffer, momentumBuffer: KernelBuffer | null, lr: number, momentum: number,
    dampening: number, weightDecay: number, nesterov: boolean, maximize: boolean, firstStep: boolean): void;
}
const native = bindings<SgdBindings>();

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

const DEFAULTS: SGDOptions = { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };

/**
 * Stochastic gradient descent, PyTorch's algorithm: with g = ∇ (negated when maximize),
 *   g ← g + weightDecay·θ;  b ← momentum·b + (1 − dampening)·g  (b ← g at the first step);
 *   g ← nesterov ? g + momentum·b : b;  θ ← θ − lr·g.
 * @example const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, DEFAULTS, options);
  }

  protected validateOptions(o: SGDOptions, prefix: string): void {
    const op = 'SGD';
    check.nonNegative(op, `${prefix}lr`, o.lr);
    check.nonNegative(op, `${prefix}momentum`, o.momentum);
    check.finite(op, `${prefix}dampening`, o.dampening);
    check.nonNegative(op, `${prefix}weightDecay`, o.weightDecay);
    check.boolean(op, `${prefix}nesterov`, o.nesterov);
    check.boolean(op, `${prefix}maximize`, o.maximize);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw argRangeError(op, `${prefix}nesterov`, 'used with momentum > 0 and dampening = 0 (Nesterov momentum needs both)',
        `nesterov with momentum ${o.momentum} and dampening ${o.dampening}`);
    }
  }

  protected stateKeys(): Record<string, 'tensor' | 'number'> {
    return { momentumBuffer: 'tensor' };
  }

  protected update(): void {
    for (const group of this.paramGroups) {
      const { lr, momentum, dampening, weightDecay, nesterov, maximize } = group;
      for (const p of group.params) {
        const grad = this.gradOf(p);
        if (!grad) continue;
        let buffer: KernelBuffer | null = null;
        let firstStep = false;
        if (momentum !== 0) {
          const state = this.stateOf(p);
          let b = state.momentumBuffer as Tensor | undefined;
          if (!b) {
            b = TensorClass.empty(p.shape, 'float32', p.device);
            state.momentumBuffer = b;
            firstStep = true;
          }
          buffer = b.buffer('SGD.step', 'momentumBuffer');
        }
        const k = p.device === 'cpu' ? native : kernelsFor<SgdBindings>('SGD.step', p.device);
        k.sgdStep(p.buffer('SGD.step', p.name ?? 'parameter'), grad, buffer, lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep);
      }
    }
  }
}
