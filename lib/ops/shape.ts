// Shape ops: reshape/view (sharing storage), flatten, concat.
import { record } from '../autograd';
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';
import { Device, KernelBuffer, Tensor, isTensor, numelOf } from '../tensor';
import { commonDevice, kernelsFor } from './device';

// The CUDA block copy (bindings/cuda_ops.cc; the CPU copies with typed-array set()):
// dst[dstOffset + r * dstLd + c] = src[srcOffset + r * srcLd + c] for r < rows, c < cols.
interface CopyBindings {
  copyBlocks(dst: KernelBuffer, dstOffset: number, dstLd: number, src: KernelBuffer, srcOffset: number, srcLd: number,
    rows: number, cols: number): void;
}

/** Resolves one -1 entry, checks the element count. */
export function inferReshape(op: string, from: readonly number[], to: readonly number[]): number[] {
  const n = numelOf(from);
  let unknown = -1;
  let known = 1;
  to.forEach((d, i) => {
    if (d === -1) {
      if (unknown >= 0) throw argRangeError(op, 'shape', 'at most one -1', shapeString(to));
      unknown = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw argRangeError(op, `shape[${i}]`, 'a non-negative integer or -1', describeValue(d));
    } else {
      known *= d;
    }
  });
  const out = [...to];
  if (unknown >= 0) {
    if (known === 0 || n % known !== 0) throw argRangeError(op, 'shape', `a shape compatible with ${n} elements (input ${shapeString(from)})`, shapeString(to));
    out[unknown] = n / known;
  }
  if (numelOf(out) !== n) throw argRangeError(op, 'shape', `a shape with ${n} elements (input ${shapeString(from)})`, `${shapeString(to)} (${numelOf(out)} elements)`);
  return out;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  if (!isTensor(x)) throw argTypeError('reshape', 'input', 'a tensor', describeValue(x));
  const target = inferReshape('reshape', x.shape, shape);
  return view(x, target, 'reshape', { shape: target });
}

/** A tensor sharing x's storage with another shape, recorded as `op`. */
function view(x: Tensor, target: readonly number[], op: string, attrs: Record<string, unknown>): Tensor {
  const out = new Tensor(x.shareStorage(), target, x.device);
  return record(out, op, attrs, [x], (g) => [new Tensor(g.shareStorage(), x.shape)]);
}

export function flatten(x: Tensor, startDim = 1, endDim = -1): Tensor {
  if (!isTensor(x)) throw argTypeError('flatten', 'input', 'a tensor', describeValue(x));
  const nd = Math.max(x.ndim, 1);
  const s = startDim < 0 ? startDim + nd : startDim;
  const e = endDim < 0 ? endDim + nd : endDim;
  if (!Number.isInteger(s) || s < 0 || s >= nd) throw argRangeError('flatten', 'startDim', `a dim in [${-nd}, ${nd - 1}]`, String(startDim));
  if (!Number.isInteger(e) || e < s || e >= nd) throw argRangeError('flatten', 'endDim', `a dim in [startDim, ${nd - 1}]`, String(endDim));
  if (x.ndim === 0) return reshape(x, [1]);
  const shape = [...x.shape.slice(0, s), numelOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return view(x, shape, 'flatten', { shape, startDim: s, endDim: e });
}

/** Concatenates along `dim` (PyTorch's torch.cat). */
export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  const op = 'concat';
  if (!Array.isArray(tensors as unknown) || tensors.length === 0) throw argTypeError(op, 'tensors', 'a non-empty array of tensors', describeValue(tensors));
  tensors.forEach((t, i) => {
    if (!isTensor(t)) throw argTypeError(op, `tensors[${i}]`, 'a tensor', describeValue(t));
  });
  const first = tensors[0];
  const nd = first.ndim;
  if (nd === 0) throw argRangeError(op, 'tensors[0]', 'a tensor with at least one dim', 'a scalar');
  const d = dim < 0 ? dim + nd : dim;
  if (!Number.isInteger(d) || d < 0 || d >= nd) throw argRangeError(op, 'dim', `a dim in [${-nd}, ${nd - 1}]`, String(dim));
  tensors.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw argTypeError(op, `tensors[${i}]`, `dtype ${first.dtype}`, t.dtype);
    if (t.ndim !== nd || t.shape.some((s, k) => k !== d && s !== first.shape[k])) {
      throw argRangeError(op, `tensors[${i}]`, `shape matching ${shapeString(first.shape)} except in dim ${d}`, shapeString(t.shape));
    }
  });
  const device = commonDevice(op, tensors.map((t, i) => [`tensors[${i}]`, t] as const));
  const outer = numelOf(first.shape.slice(0, d));
  const inner = numelOf(first.shape.slice(d + 1));
  const sizes = tensors.map((t) => t.shape[d]);
  const total = sizes.reduce((a, b) => a + b, 0);
  const shape = [...first.shape];
  shape[d] = total;
  if (device !== 'cpu') return concatOnDevice(tensors, d, shape, { outer, inner, sizes, total }, device);
  const out = Tensor.empty(shape, first.dtype);
  const dst = out.data;
  let offset = 0;
  tensors.forEach((t, i) => {
    const src = t.data;
    const block = sizes[i] * inner;
    for (let o = 0; o < outer; o++) dst.set(src.subarray(o * block, (o + 1) * block), o * total * inner + offset * inner);
    offset += sizes[i];
  });
  return record(out, op, { dim: d }, tensors, (g) => {
    const gd = g.data;
    let off = 0;
    return tensors.map((t, i) => {
      const block = sizes[i] * inner;
      const gi = Tensor.empty(t.shape);
      const gdst = gi.data;
      for (let o = 0; o < outer; o++) gdst.set(gd.subarray(o * total * inner + off * inner, o * total * inner + off * inner + block), o * block);
      off += sizes[i];
      return gi;
    });
  });
}

interface ConcatLayout {
  /** Product of the dims before the concat dim: the blocks each input contributes. */
  outer: number;
  /** Product of the dims after it. */
  inner: number;
  /** Each input's size along the concat dim, and their sum. */
  sizes: number[];
  total: number;
}

/**
 * concat on a CUDA device: one block copy per input (outer rows of sizes[i] * inner elements into
 * the output rows of total * inner), and per input gradient the same copy back.
 */
function concatOnDevice(tensors: readonly Tensor[], d: number, shape: number[], l: ConcatLayout, device: Device): Tensor {
  const op = 'concat';
  const k = kernelsFor<CopyBindings>(op, device);
  const buffer = (t: Tensor, arg: string): KernelBuffer => (t.dtype === 'int32' ? t.intBuffer(op, arg) : t.buffer(op, arg));
  const out = Tensor.empty(shape, tensors[0].dtype, device);
  const rowLength = l.total * l.inner;
  let offset = 0;
  tensors.forEach((t, i) => {
    const block = l.sizes[i] * l.inner;
    k.copyBlocks(buffer(out, 'output'), offset * l.inner, rowLength, buffer(t, `tensors[${i}]`), 0, block, l.outer, block);
    offset += l.sizes[i];
  });
  return record(out, op, { dim: d }, tensors, (g) => {
    const gd = g.buffer(op, 'gradOutput');
    let off = 0;
    return tensors.map((t, i) => {
      const block = l.sizes[i] * l.inner;
      const gi = Tensor.empty(t.shape, 'float32', device);
      k.copyBlocks(gi.buffer(), 0, block, gd, off * l.inner, rowLength, l.outer, block);
      off += l.sizes[i];
      return gi;
    });
  });
}
