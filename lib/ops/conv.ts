// 2-D convolution and transposed convolution (torch.nn.functional.conv2d / conv_transpose2d),
// NCHW, on the native im2col + SGEMM kernels (native/cpu/conv.cc). Each op's backward is made of
// the other op's kernels: conv2d's input gradient is a transposed convolution and vice versa.
import { record } from '../autograd';
import { argRangeError, argTypeError, checkInt, checkPair, describeValue, shapeString } from '../errors';
import { bindings } from '../native';
import { KernelBuffer, Tensor, isTensor } from '../tensor';
import { commonDevice, kernelsFor } from './device';

type Pair = [number, number];
type IntOrPair = number | readonly [number, number];

interface ConvBindings {
  conv2dForward(xShape: number[], wShape: readonly number[], stride: Pair, padding: number[], dilation: Pair, groups: number,
    x: KernelBuffer, w: KernelBuffer, bias: KernelBuffer | null, y: KernelBuffer): void;
  conv2dBackwardData(xShape: number[], wShape: readonly number[], stride: Pair, padding: number[], dilation: Pair, groups: number,
    gradY: KernelBuffer, w: KernelBuffer, gradX: KernelBuffer): void;
  conv2dBackwardWeight(xShape: number[], wShape: readonly number[], stride: Pair, padding: number[], dilation: Pair, groups: number,
    x: KernelBuffer, gradY: KernelBuffer, gradW: KernelBuffer | null, gradBias: KernelBuffer | null): void;
  convTranspose2dForward(xShape: number[], wShape: readonly number[], stride: Pair, padding: Pair, outputPadding: Pair,
    dilation: Pair, groups: number, x: KernelBuffer, w: KernelBuffer, bias: KernelBuffer | null, y: KernelBuffer): void;
  convTranspose2dBackwardData(xShape: number[], wShape: readonly number[], stride: Pair, padding: Pair, outputPadding: Pair,
    dilation: Pair, groups: number, gradY: KernelBuffer, w: KernelBuffer, gradX: KernelBuffer): void;
  convTranspose2dBackwardWeight(xShape: number[], wShape: readonly number[], stride: Pair, padding: Pair, outputPadding: Pair,
    dilation: Pair, groups: number, x: KernelBuffer, gradY: KernelBuffer, gradW: KernelBuffer | null,
    gradBias: KernelBuffer | null): void;
}
const native = bindings<ConvBindings>();

export interface Conv2dOptions {
  stride?: IntOrPair;
  /**
   * Zero padding on both sides of each dim, or 'valid' (none) or 'same' (output size = input size;
   * stride 1 only; an odd total puts the extra row/column at the bottom/right, as PyTorch does).
   */
  padding?: IntOrPair | 'same' | 'valid';
  dilation?: IntOrPair;
  groups?: number;
}

export interface ConvTranspose2dOptions {
  stride?: IntOrPair;
  padding?: IntOrPair;
  /** Extra rows/columns added at the bottom/right of the output; each < stride or < dilation. */
  outputPadding?: IntOrPair;
  dilation?: IntOrPair;
  groups?: number;
}

/** floor((in + padBegin + padEnd - dilation·(kernel-1) - 1) / stride) + 1 (PyTorch's rule). */
export function conv2dOutputSize(input: number, kernel: number, stride: number, padBegin: number, padEnd: number,
  dilation: number): number {
  return Math.floor((input + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** (in-1)·stride - 2·padding + dilation·(kernel-1) + outputPadding + 1 (PyTorch's rule). */
export function convTranspose2dOutputSize(input: number, kernel: number, stride: number, padding: number,
  outputPadding: number, dilation: number): number {
  return (input - 1) * stride - 2 * padding + dilation * (kernel - 1) + outputPadding + 1;
}

function checkOptions(op: string, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw argTypeError(op, 'options', `an object with ${allowed.join(', ')}`, describeValue(options));
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw argTypeError(op, 'options', `an object with only ${allowed.join(', ')}`, `unknown option '${key}'`);
  }
  return options as Record<string, unknown>;
}

/** A live float32 tensor, or a TypeError naming the op and argument. */
function checkTensor(op: string, arg: string, t: unknown): Tensor {
  if (!isTensor(t)) throw argTypeError(op, arg, 'a tensor', describeValue(t));
  if (t.isDisposed) throw argTypeError(op, arg, 'a live tensor', `a disposed tensor of shape ${shapeString(t.shape)}`);
  t.buffer(op, arg);
  return t;
}

interface Operands {
  /** The input as [N, C, H, W] (N = 1 for an unbatched [C, H, W] input). */
  dims: number[];
  batched: boolean;
  bias: Tensor | null;
}

/** Checks x (3-D or 4-D), weight (4-D with the given layout) and bias ([biasLength]). */
function checkOperands(op: string, x: unknown, weight: unknown, bias: unknown, weightLayout: string): Operands {
  const input = checkTensor(op, 'input', x);
  const w = checkTensor(op, 'weight', weight);
  if (input.ndim !== 3 && input.ndim !== 4) {
    throw argRangeError(op, 'input', 'a 3-D [C, H, W] or 4-D [N, C, H, W] tensor', `shape ${shapeString(input.shape)}`);
  }
  const dims = input.ndim === 4 ? [...input.shape] : [1, ...input.shape];
  if (dims[1] < 1 || dims[2] < 1 || dims[3] < 1) {
    throw argRangeError(op, 'input', 'a tensor with non-zero channels, height and width', `shape ${shapeString(input.shape)}`);
  }
  if (w.ndim !== 4 || w.shape.some((d) => d < 1)) {
    throw argRangeError(op, 'weight', `a 4-D tensor ${weightLayout}`, `shape ${shapeString(w.shape)}`);
  }
  const b = bias === undefined || bias === null ? null : checkTensor(op, 'bias', bias);
  return { dims, batched: input.ndim === 4, bias: b };
}

function checkBias(op: string, bias: Tensor | null, channels: number): void {
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== channels)) {
    throw argRangeError(op, 'bias', `a 1-D tensor of shape [${channels}] (the output channels)`, `shape ${shapeString(bias.shape)}`);
  }
}

function checkGroups(op: string, value: unknown, channels: number, channelsName: string): number {
  const groups = checkInt(op, 'groups', value ?? 1, 1);
  if (channels % groups !== 0) {
    throw argRangeError(op, 'groups', `a divisor of ${channelsName} (${channels})`, String(groups));
  }
  return groups;
}

const list = (v: readonly number[]): string => `[${v.join(', ')}]`;

function checkOutputSize(op: string, out: Pair, detail: string): void {
  if (out[0] < 1 || out[1] < 1) {
    throw argRangeError(op, 'output size', 'at least 1x1', `${out[0]}x${out[1]} (computed from ${detail})`);
  }
}

/** [top, left, bottom, right] from an int, a pair, 'valid' or 'same'. */
function resolvePadding(op: string, value: unknown, kernel: Pair, stride: Pair, dilation: Pair): number[] {
  if (value === 'valid') return [0, 0, 0, 0];
  if (value === 'same') {
    if (stride[0] !== 1 || stride[1] !== 1) {
      throw argRangeError(op, 'stride', "1 when padding is 'same' (PyTorch does not support 'same' for strided convolutions)", list(stride));
    }
    // Total padding d·(k-1) keeps the size; PyTorch puts the odd row/column at the end.
    const total = [dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)];
    const begin = [Math.floor(total[0] / 2), Math.floor(total[1] / 2)];
    return [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]];
  }
  if (typeof value === 'string') throw argRangeError(op, 'padding', "an integer, a pair of integers, 'same' or 'valid'", describeValue(value));
  const p = checkPair(op, 'padding', value ?? 0, 0);
  return [p[0], p[1], p[0], p[1]];
}

/**
 * 2-D convolution (torch.nn.functional.conv2d): x [N, C_in, H, W] (or [C_in, H, W]), weight
 * [C_out, C_in/groups, kH, kW], bias [C_out] → [N, C_out, H_out, W_out].
 * @example F.conv2d(x, w, b, { padding: 1 }) // 3x3 kernel: same spatial size
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: Conv2dOptions): Tensor {
  const op = 'conv2d';
  const opts = checkOptions(op, options, ['stride', 'padding', 'dilation', 'groups']);
  const { dims, batched, bias: b } = checkOperands(op, x, weight, bias, '[outChannels, inChannels/groups, kH, kW]');
  const device = commonDevice(op, [['input', x], ['weight', weight], ['bias', b]]);
  const k = device === 'cpu' ? native : kernelsFor<ConvBindings>(op, device);
  const [N, C, H, W] = dims;
  const [outC, inPerGroup, kH, kW] = weight.shape;
  const stride = checkPair(op, 'stride', opts.stride ?? 1, 1);
  const dilation = checkPair(op, 'dilation', opts.dilation ?? 1, 1);
  const groups = checkGroups(op, opts.groups, outC, 'outChannels (weight.shape[0])');
  if (inPerGroup * groups !== C) {
    throw argRangeError(op, 'input channels', `${inPerGroup * groups} (weight.shape[1] * groups)`, String(C));
  }
  checkBias(op, b, outC);
  const pad = resolvePadding(op, opts.padding, [kH, kW], stride, dilation);
  const out: Pair = [
    conv2dOutputSize(H, kH, stride[0], pad[0], pad[2], dilation[0]),
    conv2dOutputSize(W, kW, stride[1], pad[1], pad[3], dilation[1]),
  ];
  const padText = pad[0] === pad[2] && pad[1] === pad[3] ? pad.slice(0, 2) : pad;
  checkOutputSize(op, out, `input ${H}x${W}, kernel ${kH}x${kW}, stride ${list(stride)}, padding ${list(padText)}, dilation ${list(dilation)}`);

  const y = Tensor.uninitialized(batched ? [N, outC, out[0], out[1]] : [outC, out[0], out[1]], device);
  k.conv2dForward(dims, weight.shape, stride, pad, dilation, groups,
    x.buffer(op, 'input'), weight.buffer(op, 'weight'), b ? b.buffer(op, 'bias') : null, y.buffer());

  // Pairs for the exporter; asymmetric 'same' padding is [top, left, bottom, right] (ONNX's pads).
  const padding = pad[0] === pad[2] && pad[1] === pad[3] ? [pad[0], pad[1]] : pad;
  const inputs = b ? [x, weight, b] : [x, weight];
  return record(y, op, { stride, padding, dilation, groups }, inputs, (g) => {
    const gy = g.buffer(op, 'gradOutput');
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = Tensor.uninitialized(x.shape, device);
      k.conv2dBackwardData(dims, weight.shape, stride, pad, dilation, groups, gy,
        weight.buffer(op, 'weight'), gx.buffer());
    }
    const gw = weight.requiresGrad ? Tensor.uninitialized(weight.shape, device) : null;
    const gb = b && b.requiresGrad ? Tensor.uninitialized(b.shape, device) : null;
    if (gw || gb) {
      k.conv2dBackwardWeight(dims, weight.shape, stride, pad, dilation, groups, x.buffer(op, 'input'), gy,
        gw ? gw.buffer() : null, gb ? gb.buffer() : null);
    }
    return b ? [gx, gw, gb] : [gx, gw];
  });
}

/**
 * 2-D transposed convolution (torch.nn.functional.conv_transpose2d): x [N, C_in, H, W] (or
 * [C_in, H, W]), weight [C_in, C_out/groups, kH, kW], bias [C_out] → [N, C_out, H_out, W_out]
 * with H_out = (H-1)·stride - 2·padding + dilation·(kH-1) + outputPadding + 1.
 * @example F.convTranspose2d(x, w, null, { stride: 2 }) // 2x2 kernel: doubles H and W
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: ConvTranspose2dOptions): Tensor {
  const op = 'convTranspose2d';
  const opts = checkOptions(op, options, ['stride', 'padding', 'outputPadding', 'dilation', 'groups']);
  const { dims, batched, bias: b } = checkOperands(op, x, weight, bias, '[inChannels, outChannels/groups, kH, kW]');
  const device = commonDevice(op, [['input', x], ['weight', weight], ['bias', b]]);
  const k = device === 'cpu' ? native : kernelsFor<ConvBindings>(op, device);
  const [N, C, H, W] = dims;
  const [inC, outPerGroup, kH, kW] = weight.shape;
  const stride = checkPair(op, 'stride', opts.stride ?? 1, 1);
  if (typeof opts.padding === 'string') throw argRangeError(op, 'padding', 'an integer or a pair of integers', describeValue(opts.padding));
  const padding = checkPair(op, 'padding', opts.padding ?? 0, 0);
  const outputPadding = checkPair(op, 'outputPadding', opts.outputPadding ?? 0, 0);
  const dilation = checkPair(op, 'dilation', opts.dilation ?? 1, 1);
  for (let d = 0; d < 2; d++) {
    if (outputPadding[d] >= stride[d] && outputPadding[d] >= dilation[d]) {
      throw argRangeError(op, `outputPadding[${d}]`, `smaller than stride (${stride[d]}) or dilation (${dilation[d]})`, String(outputPadding[d]));
    }
  }
  if (inC !== C) throw argRangeError(op, 'input channels', `${inC} (weight.shape[0])`, String(C));
  const groups = checkGroups(op, opts.groups, C, 'input channels');
  const outC = outPerGroup * groups;
  checkBias(op, b, outC);
  const out: Pair = [
    convTranspose2dOutputSize(H, kH, stride[0], padding[0], outputPadding[0], dilation[0]),
    convTranspose2dOutputSize(W, kW, stride[1], padding[1], outputPadding[1], dilation[1]),
  ];
  checkOutputSize(op, out, `input ${H}x${W}, kernel ${kH}x${kW}, stride ${list(stride)}, padding ${list(padding)}, outputPadding ${list(outputPadding)}, dilation ${list(dilation)}`);

  const y = Tensor.uninitialized(batched ? [N, outC, out[0], out[1]] : [outC, out[0], out[1]], device);
  k.convTranspose2dForward(dims, weight.shape, stride, padding, outputPadding, dilation, groups,
    x.buffer(op, 'input'), weight.buffer(op, 'weight'), b ? b.buffer(op, 'bias') : null, y.buffer());

  const inputs = b ? [x, weight, b] : [x, weight];
  return record(y, op, { stride, padding, outputPadding, dilation, groups }, inputs, (g) => {
    const gy = g.buffer(op, 'gradOutput');
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = Tensor.uninitialized(x.shape, device);
      k.convTranspose2dBackwardData(dims, weight.shape, stride, padding, outputPadding, dilation, groups, gy,
        weight.buffer(op, 'weight'), gx.buffer());
    }
    const gw = weight.requiresGrad ? Tensor.uninitialized(weight.shape, device) : null;
    const gb = b && b.requiresGrad ? Tensor.uninitialized(b.shape, device) : null;
    if (gw || gb) {
      k.convTranspose2dBackwardWeight(dims, weight.shape, stride, padding, outputPadding, dilation, groups,
        x.buffer(op, 'input'), gy, gw ? gw.buffer() : null, gb ? gb.buffer() : null);
    }
    return b ? [gx, gw, gb] : [gx, gw];
  });
}
