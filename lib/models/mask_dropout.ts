// The dropouts of Sener & Koltun's MultiMNIST LeNet (their multi_lenet.py): masks of Bernoulli(1-p)
// zeros and ones applied in training only and *not* rescaled by 1/(1-p) (unlike nn.Dropout), so
// evaluation sees larger activations than training did; a reproduction of their table keeps this.
// Masks come from the global generator (hn.manualSeed; drawn on the host and uploaded for a CUDA
// input, so one seed gives the same masks on both devices), and in evaluation both modules are the
// identity, so nothing of them reaches an ONNX export.
import { argRangeError, describeValue, shapeString } from '../errors';
import { Module } from '../nn';
import { hostTensorOn } from '../ops/device';
import { mul } from '../ops/elementwise';
import { defaultGenerator } from '../random';
import { Tensor } from '../tensor';

function checkP(op: string, p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw argRangeError(op, 'p', 'a probability in [0, 1]', describeValue(p));
  return p;
}

/** n values, each 0 with probability p and 1 otherwise (24-bit uniforms, as F.dropout draws). */
function keepMask(n: number, p: number): Float32Array {
  const mask = new Float32Array(n);
  const threshold = Math.ceil(p * 16777216);
  for (let i = 0; i < n; i++) mask[i] = defaultGenerator.nextUint32() >>> 8 < threshold ? 0 : 1;
  return mask;
}

/**
 * Zeroes whole channels of x [N, C, H, W] with one mask [1, C, 1, 1] shared by every sample of the
 * batch (the paper's `dropout2dwithmask`), without rescaling.
 */
export class SharedChannelDropout extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    this.p = checkP('SharedChannelDropout', p);
  }

  override forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    if (x.ndim !== 4) throw argRangeError('SharedChannelDropout', 'input', 'a 4-D tensor [N, C, H, W]', `shape ${shapeString(x.shape)}`);
    const C = x.shape[1];
    return mul(x, hostTensorOn(keepMask(C, this.p), [1, C, 1, 1], x.device));
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
    this.p = checkP('UnscaledDropout', p);
  }

  override forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return mul(x, hostTensorOn(keepMask(x.numel, this.p), x.shape, x.device));
  }

  override extraRepr(): string {
    return `p=${this.p}, no rescaling`;
  }
}
