// Flatten: merges dims startDim..endDim into one (torch.nn.Flatten; note its default startDim = 1
// keeps the batch dim, unlike torch.flatten's 0).
import type { Tensor } from '../tensor';
import { argTypeError, describeValue } from '../errors';
import { flatten } from '../functional';
import { Module } from './module';

export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  constructor(startDim = 1, endDim = -1) {
    super();
    for (const [arg, v] of [['startDim', startDim], ['endDim', endDim]] as const) {
      if (!Number.isInteger(v)) throw argTypeError('Flatten', arg, 'an integer', describeValue(v));
    }
    this.startDim = startDim;
    this.endDim = endDim;
  }

  override forward(input: Tensor): Tensor {
    return flatten(input, this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}
