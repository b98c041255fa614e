// The dropouts of Sener & Koltun's MultiMNIST LeNet (their multi_lenet.py): masks of Bernoulli(1-p)
// zeros and ones applied in training only and *not* rescaled by 1/(1-p) (unlike nn.Dropout), so
// evaluation sees larger activations than training did; a reproduction of their table keeps this.
// Masks come from the global generator (hn.manualSeed; drawn on the host and uploaded for a CUDA
// input, so one seed gives the same masks on both devices), and in evaluation both modules are the
// identity, so nothing of them reaches an ONNX export.
import { argRangeError, shapeString } from '../errors';
import { Module } from '../nn';
import { checkDropoutP } from '../nn/dropout';
import { hostTensorOn } from '../ops/device';
import { bernoulliMask } from '../ops/dropout';
import { mul } from '../ops/elementwise';
import { Tensor } from '../tensor';

/**
 * Zeroes whole channels of x [N, C, H, W] with one mask [1, C, 1, 1] shared by every sample of the
 * batch (the paper's `dropout2dwithmask`), without rescaling.
 */
export class SharedChannelDropout extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    this.p = checkDropoutP('SharedChannelDropout', p);
  }

  override forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (x.ndim !== 4) throw argRangeError('SharedChannelDropout', 'input', 'a 4-D tensor [N, C, H, W]', `shape ${shapeString(x.shape)}`);
    const C = x.shape[1];
    return mul(x, hostTensorOn(bernoulliMask(C, this.p, 1), [1, C, 1, 1], x.device));
  }

  override extraRepr(): string {
    return `p=${this.p}, shared across the batch, no rescaling`;
  }
}

/** Zeroes each element with probability p, without rescaling (the paper's head dropout). */
export class UnscaledDropout extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    this.p = checkDropoutP('UnscaledDropout', p);
  }

  override forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return mul(x, hostTensorOn(bernoulliMask(x.numel, this.p, 1), x.shape, x.device));
  }

  override extraRepr(): string {
    return `p=${this.p}, no rescaling`;
  }
}
