// softmax and logSoftmax along any dim (torch.softmax / torch.log_softmax), numerically stable.
import { record } from '../autograd';
import { argRangeError, argTypeError, describeValue } from '../errors';
import { bindings } from '../native';
import { KernelBuffer, Tensor, isTensor, numelOf } from '../tensor';
import { kernelsFor } from './device';

interface SoftmaxBindings {
  softmaxForward(x: KernelBuffer, dims: number[], log: boolean, y: KernelBuffer): void;
  softmaxBackward(y: KernelBuffer, gradOutput: KernelBuffer, dims: number[], log: boolean, gradInput: KernelBuffer): void;
}
const native = bindings<SoftmaxBindings>();

/** x viewed as [outer, size of dim, inner] around `dim` (a 0-D tensor is [1, 1, 1]). */
export function splitAtDim(op: string, x: Tensor, dim: unknown): { dim: number; dims: number[] } {
  const nd = Math.max(x.ndim, 1);
  if (typeof dim !== 'number' || !Number.isInteger(dim)) {
    throw argTypeError(op, 'dim', `an integer in [${-nd}, ${nd - 1}]`, describeValue(dim));
  }
  if (dim < -nd || dim >= nd) throw argRangeError(op, 'dim', `an integer in [${-nd}, ${nd - 1}]`, String(dim));
  if (x.ndim === 0) return { dim: 0, dims: [1, 1, 1] };
  const d = dim < 0 ? dim + nd : dim;
  return { dim: d, dims: [numelOf(x.shape.slice(0, d)), x.shape[d], numelOf(x.shape.slice(d + 1))] };
}

function softmaxOp(op: 'softmax' | 'logSoftmax', x: Tensor, dim: number): Tensor {
  if (!isTensor(x)) throw argTypeError(op, 'input', 'a tensor', describeValue(x));
  const xd = x.buffer(op, 'input');
  const k = x.device === 'cpu' ? native : kernelsFor<SoftmaxBindings>(op, x.device);
  const split = splitAtDim(op, x, dim);
  const log = op === 'logSoftmax';
  const out = Tensor.empty(x.shape, 'float32', x.device);
  k.softmaxForward(xd, split.dims, log, out.buffer());
  // Backward needs only the output: y (softmax) or log y (logSoftmax).
  return record(out, op, { dim: split.dim }, [x], (g) => {
    const gx = Tensor.empty(x.shape, 'float32', x.device);
    k.softmaxBackward(out.buffer(), g.buffer(op, 'gradOutput'), split.dims, log, gx.buffer());
    return [gx];
  });
}

/**
 * exp(x - max) / sum(exp(x - max)) along `dim`.
 * @example hn.F.softmax(hn.tensor([[1, 2, 3]]), -1) // rows sum to 1
 */
export function softmax(x: Tensor, dim: number): Tensor {
  return softmaxOp('softmax', x, dim);
}

/**
 * x - max - log(sum(exp(x - max))) along `dim`: log(softmax(x)) without its underflow.
 * @example hn.F.logSoftmax(logits, 1)
 */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return softmaxOp('logSoftmax', x, dim);
}
