// softmax and logSoftmax along any dim (torch.softmax / torch.log_softmax), numerically stable.
import { record } from '../autograd';
import { argRangeError, argTypeError, describeValue } from '../errors';
import { bindings } from '../native';
import { Tensor, isTensor, numelOf } from '../tensor';

interface SoftmaxBindings {
  softmaxForward(x: Float32Array, dims: number[], log: boolean, y: Float32Array): void;
  softmaxBackward(y: Float32Array, gradOutput: Float32Array, dims: number[], log: boolean, gradInput: Float32Array): void;
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
  const xd = x.floatData(op, 'input');
  const split = splitAtDim(op, x, dim);
  const log = op === 'logSoftmax';
  const out = Tensor.empty(x.shape);
  native.softmaxForward(xd, split.dims, log, out.data as Float32Array);
  // Backward needs only the output: y (softmax) or log y (logSoftmax).
  return record(out, op, { dim: split.dim }, [x], (g) => {
    const gx = Tensor.empty(x.shape);
    native.softmaxBackward(out.floatData(), g.floatData(), split.dims, log, gx.data as Float32Array);
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
