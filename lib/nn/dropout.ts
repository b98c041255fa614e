// Dropout (element-wise) and Dropout2d (whole channels): active in training mode only, scaling
// the kept values by 1/(1-p) as PyTorch does. Masks come from the global generator.
import type { Tensor } from '../tensor';
import { argRangeError, describeValue } from '../errors';
import { dropout, dropout2d } from '../functional';
import { Module } from './module';

/** p of a dropout module: a probability in [0, 1] (also the MultiMNIST LeNet's masks). */
export function checkDropoutP(op: string, p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw argRangeError(op, 'p', 'a probability in [0, 1]', describeValue(p));
  }
  return p;
}

export class Dropout extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    this.p = checkDropoutP('Dropout', p);
  }

  override forward(input: Tensor): Tensor {
    return dropout(input, { p: this.p, training: this.training });
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/** Zeroes whole channels of an [N, C, H, W] input (each (n, c) plane kept with probability 1-p). */
export class Dropout2d extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    this.p = checkDropoutP('Dropout2d', p);
  }

  override forward(input: Tensor): Tensor {
    return dropout2d(input, { p: this.p, training: this.training });
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
