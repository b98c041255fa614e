// 2-D convolution and transposed convolution (torch.nn.functional.conv2d / conv_transpose2d),
// NCHW, on the native im2col + SGEMM kernels (native/cpu/conv.cc). Each op's backward is made of
// the other op's kernels: conv2d's input gradient is a transposed convolution and vice versa.
import { isAnomalyEnabled } from '../anomaly';
import { isTracing, needsGrad, record } from '../autograd';
import { argRangeError, argTypeError, checkInt, checkPair, describeValue, shapeString } from '../errors';
import { bindings } from '../native';
import { Device, KernelBuffer, Tensor, isTensor } from '../tensor';
import { commonDevice, kernelsFor } from './device';
import { relu } from './elementwise';
import { maxPool2d } from './pool';

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
/** The CPU addon's fused inference forwards (bindings/conv.cc); epilogue 1 relu, 2 relu + 2x2 max pool. */
interface FusedConvBindings {
  conv2dForwardFused(xShape: number[], wShape: readonly number[], stride: Pair, padding: number[], dilation: Pair, groups: number,
    x: KernelBuffer, w: KernelBuffer, bias: KernelBuffer | null, y: KernelBuffer, epilogue: number): void;
  convTranspose2dForwardFused(xShape: number[], wShape: readonly number[], stride: Pair, padding: Pair, outputPadding: Pair,
    dilation: Pair, groups: number, x: KernelBuffer, w: KernelBuffer, bias: KernelBuffer | null, y: KernelBuffer,
    epilogue: number): void;
}
const native = bindings<ConvBindings & FusedConvBindings>();

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

// detail() is only called for the message: building it on every call cost more than the check.
function checkOutputSize(op: string, out: Pair, detail: () => string): void {
  if (out[0] < 1 || out[1] < 1) {
    throw argRangeError(op, 'output size', 'at least 1x1', `${out[0]}x${out[1]} (computed from ${detail()})`);
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

interface Conv2dGeometry {
  dims: number[];
  bias: Tensor | null;
  device: Device;
  kernels: ConvBindings;
  stride: Pair;
  /** [top, left, bottom, right] */
  pad: number[];
  dilation: Pair;
  groups: number;
  outC: number;
  out: Pair;
  /** The output shape (3-D for an unbatched input). */
  outShape: number[];
}

function conv2dGeometry(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, options: unknown): Conv2dGeometry {
  const opts = checkOptions(op, options, ['stride', 'padding', 'dilation', 'groups']);
  const { dims, batched, bias: b } = checkOperands(op, x, weight, bias, '[outChannels, inChannels/groups, kH, kW]');
  const device = commonDevice(op, [['input', x], ['weight', weight], ['bias', b]]);
  const kernels = device === 'cpu' ? native : kernelsFor<ConvBindings>(op, device);
  const [, C, H, W] = dims;
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
  checkOutputSize(op, out, () => {
    const padText = pad[0] === pad[2] && pad[1] === pad[3] ? pad.slice(0, 2) : pad;
    return `input ${H}x${W}, kernel ${kH}x${kW}, stride ${list(stride)}, padding ${list(padText)}, dilation ${list(dilation)}`;
  });
  const outShape = batched ? [dims[0], outC, out[0], out[1]] : [outC, out[0], out[1]];
  return { dims, bias: b, device, kernels, stride, pad, dilation, groups, outC, out, outShape };
}

/**
 * 2-D convolution (torch.nn.functional.conv2d): x [N, C_in, H, W] (or [C_in, H, W]), weight
 * [C_out, C_in/groups, kH, kW], bias [C_out] → [N, C_out, H_out, W_out].
 * @example F.conv2d(x, w, b, { padding: 1 }) // 3x3 kernel: same spatial size
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: Conv2dOptions): Tensor {
  const op = 'conv2d';
  const { dims, bias: b, device, kernels: k, stride, pad, dilation, groups, outShape } = conv2dGeometry(op, x, weight, bias, options);
  const y = Tensor.uninitialized(outShape, device);
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

interface ConvTranspose2dGeometry {
  dims: number[];
  bias: Tensor | null;
  device: Device;
  kernels: ConvBindings;
  stride: Pair;
  padding: Pair;
  outputPadding: Pair;
  dilation: Pair;
  groups: number;
  outShape: number[];
}

function convTranspose2dGeometry(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined,
  options: unknown): ConvTranspose2dGeometry {
  const opts = checkOptions(op, options, ['stride', 'padding', 'outputPadding', 'dilation', 'groups']);
  const { dims, batched, bias: b } = checkOperands(op, x, weight, bias, '[inChannels, outChannels/groups, kH, kW]');
  const device = commonDevice(op, [['input', x], ['weight', weight], ['bias', b]]);
  const kernels = device === 'cpu' ? native : kernelsFor<ConvBindings>(op, device);
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
  checkOutputSize(op, out, () => `input ${H}x${W}, kernel ${kH}x${kW}, stride ${list(stride)}, padding ${list(padding)}, ` +
    `outputPadding ${list(outputPadding)}, dilation ${list(dilation)}`);
  const outShape = batched ? [N, outC, out[0], out[1]] : [outC, out[0], out[1]];
  return { dims, bias: b, device, kernels, stride, padding, outputPadding, dilation, groups, outShape };
}

/**
 * 2-D transposed convolution (torch.nn.functional.conv_transpose2d): x [N, C_in, H, W] (or
 * [C_in, H, W]), weight [C_in, C_out/groups, kH, kW], bias [C_out] → [N, C_out, H_out, W_out]
 * with H_out = (H-1)·stride - 2·padding + dilation·(kH-1) + outputPadding + 1.
 * @example F.convTranspose2d(x, w, null, { stride: 2 }) // 2x2 kernel: doubles H and W
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: ConvTranspose2dOptions): Tensor {
  const op = 'convTranspose2d';
  const { dims, bias: b, device, kernels: k, stride, padding, outputPadding, dilation, groups, outShape } =
    convTranspose2dGeometry(op, x, weight, bias, options);
  const y = Tensor.uninitialized(outShape, device);
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

// ---- Inference: fused epilogues ----------------------------------------------------------------

/** What a fused forward applies to the layer's output: relu, or relu then a 2x2/stride-2 max pool. */
export type ConvEpilogue = 'relu' | 'reluMaxPool2x2';
const EPILOGUE_CODE: Record<ConvEpilogue, number> = { relu: 1, reluMaxPool2x2: 2 };

function checkEpilogue(op: string, epilogue: unknown, allowed: readonly ConvEpilogue[]): ConvEpilogue {
  if (!allowed.includes(epilogue as ConvEpilogue)) {
    throw argRangeError(op, 'epilogue', allowed.map((e) => `'${e}'`).join(' or '), describeValue(epilogue));
  }
  return epilogue as ConvEpilogue;
}

/**
 * True when the fused native pass can stand in for the ops: a CPU tensor, nothing to record
 * (no gradient needed, not tracing for export, anomaly mode off, whose per-op checks need the
 * separate ops).
 */
function canFuse(device: string, inputs: readonly (Tensor | null)[]): boolean {
  return device === 'cpu' && !needsGrad(inputs) && !isTracing() && !isAnomalyEnabled();
}

/**
 * Inference: relu(conv2d(x, w, b)), or maxPool2d(relu(conv2d(x, w, b)), {kernelSize: 2}), in one
 * native pass: the AVX-512 kernels apply the relu in registers and pool the block they just
 * computed while it is in cache, so the full-size activation never reaches memory and no argmax
 * is kept. Same values as the ops run one by one (which is what happens when a gradient is
 * needed, while tracing for export, in anomaly mode or off the CPU).
 * @example hn.noGrad(() => conv2dFused(x, w, b, { padding: 1 }, 'reluMaxPool2x2')) // [N,C,32,32] -> [N,Cout,16,16]
 */
export function conv2dFused(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, options: Conv2dOptions | undefined,
  epilogue: ConvEpilogue): Tensor {
  // Named `fn`, not `op`: these functions never record a node of their own (with a gradient to
  // keep they record the plain ops), so there is no op for the ONNX exporter to convert.
  const fn = 'conv2dFused';
  const kind = checkEpilogue(fn, epilogue, ['relu', 'reluMaxPool2x2']);
  const g = conv2dGeometry(fn, x, weight, bias, options);
  if (kind === 'reluMaxPool2x2' && (g.out[0] < 2 || g.out[1] < 2)) {
    throw argRangeError(fn, 'output size', 'at least 2x2 for the 2x2 max pool', `${g.out[0]}x${g.out[1]}`);
  }
  if (!canFuse(g.device, [x, weight, g.bias])) {
    const y = relu(conv2d(x, weight, bias, options));
    return kind === 'relu' ? y : maxPool2d(y, { kernelSize: 2 });
  }
  const shape = [...g.outShape];
  if (kind === 'reluMaxPool2x2') {
    shape[shape.length - 2] = Math.floor(g.out[0] / 2);
    shape[shape.length - 1] = Math.floor(g.out[1] / 2);
  }
  const y = Tensor.uninitialized(shape);
  native.conv2dForwardFused(g.dims, weight.shape, g.stride, g.pad, g.dilation, g.groups, x.buffer(fn, 'input'),
    weight.buffer(fn, 'weight'), g.bias ? g.bias.buffer(fn, 'bias') : null, y.buffer(), EPILOGUE_CODE[kind]);
  return y;
}

/**
 * Inference: relu(convTranspose2d(x, w, b)) in one native pass (the relu applied in registers by
 * the AVX-512 2x2/stride-2 kernel, one pass over the fresh output otherwise). Same values as the
 * two ops; they run one by one when a gradient is needed, while tracing, in anomaly mode or off
 * the CPU.
 */
export function convTranspose2dFused(x: Tensor, weight: Tensor, bias: Tensor | null | undefined,
  options: ConvTranspose2dOptions | undefined, epilogue: 'relu'): Tensor {
  const fn = 'convTranspose2dFused'; // not `op`: see conv2dFused
  const kind = checkEpilogue(fn, epilogue, ['relu']);
  const g = convTranspose2dGeometry(fn, x, weight, bias, options);
  if (!canFuse(g.device, [x, weight, g.bias])) return relu(convTranspose2d(x, weight, bias, options));
  const y = Tensor.uninitialized(g.outShape);
  native.convTranspose2dForwardFused(g.dims, weight.shape, g.stride, g.padding, g.outputPadding, g.dilation, g.groups,
    x.buffer(fn, 'input'), weight.buffer(fn, 'weight'), g.bias ? g.bias.buffer(fn, 'bias') : null, y.buffer(),
    EPILOGUE_CODE[kind]);
  return y;
}
