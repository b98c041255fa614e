// 2-D max and average pooling (torch.nn.functional.max_pool2d / avg_pool2d), NCHW.
import { record } from '../autograd';
import { argRangeError, argTypeError, checkPair, describeValue, shapeString } from '../errors';
import { bindings } from '../native';
import { KernelBuffer, Tensor, isTensor } from '../tensor';
import { kernelsFor } from './device';

type Pair = [number, number];
type IntOrPair = number | readonly [number, number];

interface PoolBindings {
  maxPool2dForward(x: KernelBuffer, shape: number[], kernelSize: Pair, stride: Pair, padding: Pair, dilation: Pair,
    ceilMode: boolean, y: KernelBuffer, indices: KernelBuffer): void;
  maxPool2dBackward(gradOutput: KernelBuffer, indices: KernelBuffer, shape: number[], kernelSize: Pair, stride: Pair,
    padding: Pair, dilation: Pair, ceilMode: boolean, gradInput: KernelBuffer): void;
  avgPool2dForward(x: KernelBuffer, shape: number[], kernelSize: Pair, stride: Pair, padding: Pair, ceilMode: boolean,
    countIncludePad: boolean, divisorOverride: number, y: KernelBuffer): void;
  avgPool2dBackward(gradOutput: KernelBuffer, shape: number[], kernelSize: Pair, stride: Pair, padding: Pair,
    ceilMode: boolean, countIncludePad: boolean, divisorOverride: number, gradInput: KernelBuffer): void;
}
const native = bindings<PoolBindings>();
const kernels = (op: string, x: Tensor): PoolBindings => (x.device === 'cpu' ? native : kernelsFor<PoolBindings>(op, x.device));

export interface MaxPool2dOptions {
  kernelSize: IntOrPair;
  /** Defaults to kernelSize. */
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  dilation?: IntOrPair;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  kernelSize: IntOrPair;
  /** Defaults to kernelSize. */
  stride?: IntOrPair | null;
  padding?: IntOrPair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  /** Divide every window by this instead of its size. */
  divisorOverride?: number | null;
}

/**
 * PyTorch's pooling output size: floor((in + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1; in
 * ceil mode the last window must start inside the input or the left padding.
 */
export function poolOutputSize(input: number, kernel: number, stride: number, padding: number, dilation: number,
  ceilMode: boolean): number {
  let out = Math.floor((input + 2 * padding - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= input + padding) out--;
  return out;
}

interface PoolGeometry {
  /** [N, C, H, W] (N = 1 for a 3-D input). */
  dims: number[];
  outShape: number[];
  kernelSize: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  ceilMode: boolean;
}

function checkBool(op: string, arg: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw argTypeError(op, arg, 'a boolean', describeValue(value));
  return value;
}

function geometry(op: string, x: unknown, options: MaxPool2dOptions | AvgPool2dOptions | undefined,
  dilationOption: unknown): PoolGeometry {
  if (!isTensor(x)) throw argTypeError(op, 'input', 'a tensor', describeValue(x));
  x.buffer(op, 'input');
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw argRangeError(op, 'input', 'a 3-D [C, H, W] or 4-D [N, C, H, W] tensor', `shape ${shapeString(x.shape)}`);
  }
  if (typeof options !== 'object' || options === null) {
    throw argTypeError(op, 'options', 'an object with kernelSize', describeValue(options));
  }
  const kernelSize = checkPair(op, 'kernelSize', options.kernelSize, 1);
  const stride = options.stride === undefined || options.stride === null ? kernelSize : checkPair(op, 'stride', options.stride, 1);
  const padding = checkPair(op, 'padding', options.padding ?? 0, 0);
  const dilation = checkPair(op, 'dilation', dilationOption ?? 1, 1);
  const ceilMode = checkBool(op, 'ceilMode', options.ceilMode, false);
  if (padding[0] > Math.floor(kernelSize[0] / 2) || padding[1] > Math.floor(kernelSize[1] / 2)) {
    throw argRangeError(op, 'padding', `at most half of kernelSize ${shapeString(kernelSize)}`, shapeString(padding));
  }
  const dims = x.ndim === 4 ? [...x.shape] : [1, ...x.shape];
  const [H, W] = [dims[2], dims[3]];
  const outH = poolOutputSize(H, kernelSize[0], stride[0], padding[0], dilation[0], ceilMode);
  const outW = poolOutputSize(W, kernelSize[1], stride[1], padding[1], dilation[1], ceilMode);
  if (outH < 1 || outW < 1) {
    throw argRangeError(op, 'output size', `at least [1, 1] for input [H, W] = ${shapeString([H, W])} with kernelSize ` +
      `${shapeString(kernelSize)}, stride ${shapeString(stride)}, padding ${shapeString(padding)}, dilation ` +
      `${shapeString(dilation)}`, shapeString([outH, outW]));
  }
  const outShape = [...x.shape.slice(0, -2), outH, outW];
  return { dims, outShape, kernelSize, stride, padding, dilation, ceilMode };
}

/**
 * Max over each window; padding counts as -inf. Backward routes each output gradient to the
 * window's argmax (the first maximum on ties).
 * @example hn.F.maxPool2d(x, { kernelSize: 2 }) // [N, C, H, W] -> [N, C, H/2, W/2]
 */
export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  const op = 'maxPool2d';
  const g = geometry(op, x, options, options?.dilation);
  const out = Tensor.uninitialized(g.outShape, x.device);
  const indices = Tensor.empty(g.outShape, 'int32', x.device);
  kernels(op, x).maxPool2dForward(x.buffer(op, 'input'), g.dims, g.kernelSize, g.stride, g.padding, g.dilation, g.ceilMode,
    out.buffer(), indices.intBuffer());
  const attrs = { kernelSize: g.kernelSize, stride: g.stride, padding: g.padding, dilation: g.dilation, ceilMode: g.ceilMode };
  return record(out, op, attrs, [x], (grad) => {
    const gx = Tensor.uninitialized(x.shape, x.device);
    kernels(op, x).maxPool2dBackward(grad.buffer(op, 'gradOutput'), indices.intBuffer(), g.dims, g.kernelSize, g.stride,
      g.padding, g.dilation, g.ceilMode, gx.buffer());
    return [gx];
  });
}

interface ReluBindings {
  unaryForward(kind: number, x: KernelBuffer, y: KernelBuffer, scalar: number): void;
  unaryBackward(kind: number, x: KernelBuffer, y: KernelBuffer, gradOutput: KernelBuffer, gradInput: KernelBuffer, scalar: number): void;
}
const RELU = 5; // Unary.relu of ./elementwise

/**
 * maxPool2d(relu(x)) computed as relu(maxPool2d(x)): max commutes with the non-decreasing relu,
 * so the relu runs on the pooled tensor (a quarter of the elements for 2x2 windows) and the
 * full-size relu output is never materialised. Gradients are those of the unfused pair: the
 * output gradient, masked where the output is not positive (relu's rule), goes to each window's
 * argmax (where the unfused relu output ties at 0 the mask is 0 as well). CPU tensors;
 * nn.Sequential uses it for a ReLU followed by a MaxPool2d (never while tracing for export).
 */
export function reluMaxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor {
  const op = 'maxPool2d';
  const g = geometry(op, x, options, options?.dilation);
  if (x.device !== 'cpu') throw argTypeError('reluMaxPool2d', 'input', 'a CPU tensor', `a tensor on ${x.device}`);
  const relu = bindings<ReluBindings>();
  const out = Tensor.uninitialized(g.outShape);
  const indices = Tensor.empty(g.outShape, 'int32');
  native.maxPool2dForward(x.buffer(op, 'input'), g.dims, g.kernelSize, g.stride, g.padding, g.dilation, g.ceilMode,
    out.buffer(), indices.intBuffer());
  relu.unaryForward(RELU, out.buffer(), out.buffer(), 0);
  const attrs = { kernelSize: g.kernelSize, stride: g.stride, padding: g.padding, dilation: g.dilation, ceilMode: g.ceilMode };
  return record(out, 'reluMaxPool2d', attrs, [x], (grad) => {
    const masked = Tensor.uninitialized(out.shape);
    relu.unaryBackward(RELU, out.buffer(), out.buffer(), grad.buffer(op, 'gradOutput'), masked.buffer(), 0);
    const gx = Tensor.uninitialized(x.shape);
    native.maxPool2dBackward(masked.buffer(), indices.intBuffer(), g.dims, g.kernelSize, g.stride, g.padding, g.dilation,
      g.ceilMode, gx.buffer());
    return [gx];
  });
}

/**
 * Mean over each window. countIncludePad divides by the window size clipped to the padded input
 * (otherwise by the number of input elements in it); divisorOverride replaces both.
 * @example hn.F.avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1 })
 */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const op = 'avgPool2d';
  const g = geometry(op, x, options, 1);
  const countIncludePad = checkBool(op, 'countIncludePad', options.countIncludePad, true);
  const divisorOverride = options.divisorOverride ?? null;
  if (divisorOverride !== null) {
    if (typeof divisorOverride !== 'number' || !Number.isInteger(divisorOverride)) {
      throw argTypeError(op, 'divisorOverride', 'a positive integer or null', describeValue(divisorOverride));
    }
    if (divisorOverride < 1 || divisorOverride > 2 ** 31 - 1) {
      throw argRangeError(op, 'divisorOverride', 'a positive integer or null', String(divisorOverride));
    }
  }
  const divisor = divisorOverride ?? 0;
  const out = Tensor.uninitialized(g.outShape, x.device);
  kernels(op, x).avgPool2dForward(x.buffer(op, 'input'), g.dims, g.kernelSize, g.stride, g.padding, g.ceilMode,
    countIncludePad, divisor, out.buffer());
  const attrs = {
    kernelSize: g.kernelSize, stride: g.stride, padding: g.padding, ceilMode: g.ceilMode, countIncludePad, divisorOverride,
  };
  return record(out, op, attrs, [x], (grad) => {
    const gx = Tensor.uninitialized(x.shape, x.device);
    kernels(op, x).avgPool2dBackward(grad.buffer(op, 'gradOutput'), g.dims, g.kernelSize, g.stride, g.padding, g.ceilMode,
      countIncludePad, divisor, gx.buffer());
    return [gx];
  });
}
