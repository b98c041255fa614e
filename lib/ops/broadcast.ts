// PyTorch/NumPy broadcasting: shapes align on the right; a dim of 1 stretches.
import { argRangeError, shapeString } from '../errors';

export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const ndim = Math.max(a.length, b.length);
  const out: number[] = new Array(ndim);
  for (let i = 0; i < ndim; i++) {
    const da = a[a.length - ndim + i] ?? 1;
    const db = b[b.length - ndim + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw argRangeError(op, 'shapes', 'broadcastable shapes', `${shapeString(a)} and ${shapeString(b)} (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Element strides of a contiguous tensor of `shape` viewed as `outShape` (0 on broadcast dims). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = outShape.length - shape.length + i;
    strides[j] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/** Dims of outShape that must be summed to bring a gradient back to `shape`. */
export function reducedDims(shape: readonly number[], outShape: readonly number[]): number[] {
  const mask: number[] = [];
  const offset = outShape.length - shape.length;
  for (let j = 0; j < outShape.length; j++) {
    const i = j - offset;
    mask.push(i < 0 || (shape[i] === 1 && outShape[j] !== 1) ? 1 : 0);
  }
  return mask;
}
