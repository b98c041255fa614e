// Reductions over dims: sum and mean (PyTorch semantics: dims may be negative, keepdim optional).
import { record } from '../autograd';
import { argRangeError, argTypeError, describeValue } from '../errors';
import { bindings } from '../native';
import { KernelBuffer, Tensor, isTensor } from '../tensor';
import { broadcastStrides } from './broadcast';
import { kernelsFor, scalarOn } from './device';

interface ReduceBindings {
  reduceSum(x: KernelBuffer, shape: readonly number[], mask: number[], scale: number, out: KernelBuffer): void;
  binaryForward(kind: number, a: KernelBuffer, aStrides: number[], b: KernelBuffer, bStrides: number[], out: KernelBuffer, shape: readonly number[]): void;
}
const native = bindings<ReduceBindings>();

/** Normalises dim arguments into a 0/1 mask over x's dims. */
export function dimsMask(op: string, ndim: number, dim: number | readonly number[] | undefined): number[] {
  const mask = new Array(ndim).fill(dim === undefined ? 1 : 0);
  if (dim === undefined) return mask;
  const dims = typeof dim === 'number' ? [dim] : dim;
  if (!Array.isArray(dims) && typeof dim !== 'number') throw argTypeError(op, 'dim', 'an integer or an array of integers', describeValue(dim));
  for (const d of dims) {
    if (!Number.isInteger(d) || d < -Math.max(ndim, 1) || d >= Math.max(ndim, 1)) {
      throw argRangeError(op, 'dim', `an integer in [${-Math.max(ndim, 1)}, ${Math.max(ndim, 1) - 1}]`, describeValue(d));
    }
    const k = d < 0 ? d + ndim : d;
    if (ndim === 0) continue;
    if (mask[k]) throw argRangeError(op, 'dim', 'distinct dims', `dim ${d} repeated`);
    mask[k] = 1;
  }
  return mask;
}

function reduce(op: 'sum' | 'mean', x: Tensor, dim: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  if (!isTensor(x)) throw argTypeError(op, 'input', 'a tensor', describeValue(x));
  const data = x.buffer(op, 'input');
  const k = x.device === 'cpu' ? native : kernelsFor<ReduceBindings>(op, x.device);
  const mask = dimsMask(op, x.ndim, dim);
  let count = 1;
  const kept: number[] = [];
  const keptDims: number[] = [];
  x.shape.forEach((d, i) => {
    if (mask[i]) {
      count *= d;
      keptDims.push(1);
    } else {
      kept.push(d);
      keptDims.push(d);
    }
  });
  const scale = op === 'mean' ? 1 / count : 1;
  const outShape = keepdim ? keptDims : kept;
  const out = Tensor.empty(outShape, 'float32', x.device);
  k.reduceSum(data, x.shape, mask, scale, out.buffer());
  if (op === 'mean' && count === 0) out.fill_(NaN);
  return record(out, op, { dims: mask, keepdim }, [x], (g) => {
    // Broadcast g (viewed with kept dims as size 1) back over x, times the mean's scale.
    const gx = Tensor.empty(x.shape, 'float32', x.device);
    const factor = x.device === 'cpu' ? null : scalarOn(scale, x.device);
    const ones = factor ? factor.buffer() : new Float32Array([scale]);
    k.binaryForward(2, g.buffer(op, 'gradOutput'), broadcastStrides(keptDims, x.shape), ones, x.shape.map(() => 0), gx.buffer(), x.shape);
    factor?.dispose();
    return [gx];
  });
}

export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return reduce('sum', x, dim, keepdim);
}

export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return reduce('mean', x, dim, keepdim);
}
