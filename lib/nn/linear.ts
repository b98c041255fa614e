// Linear: y = x Wᵀ + b, weight [outFeatures, inFeatures] (torch.nn.Linear).
import { Tensor } from '../tensor';
import { checkInt } from '../errors';
import { linear } from '../functional';
import { Module } from './module';
import { defaultLayerInit } from './init';

export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * Weight and bias start as PyTorch's: U(−1/√inFeatures, 1/√inFeatures), drawn from the global
 * generator.
 * @example const fc = new nn.Linear(320, 50); fc.forward(x) // x [N, 320] -> [N, 50]
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, { bias = true }: LinearOptions = {}) {
    super();
    this.inFeatures = checkInt('Linear', 'inFeatures', inFeatures, 0);
    this.outFeatures = checkInt('Linear', 'outFeatures', outFeatures, 0);
    this.weight = this.registerParameter('weight', Tensor.empty([outFeatures, inFeatures]).requiresGrad_());
    this.bias = this.registerParameter('bias', bias ? Tensor.empty([outFeatures]).requiresGrad_() : null);
    this.resetParameters();
  }

  resetParameters(): void {
    defaultLayerInit(this.weight, this.bias);
  }

  override forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** Returns its input unchanged (torch.nn.Identity), a placeholder in containers. */
export class Identity extends Module {
  override forward(input: Tensor): Tensor {
    return input;
  }
}
