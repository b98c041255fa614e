// Conv2d and ConvTranspose2d (torch.nn semantics). Weights: Conv2d [out, in/groups, kH, kW];
// ConvTranspose2d [in, out/groups, kH, kW]. Default init is PyTorch's reset_parameters:
// kaiming_uniform_(a=√5) on the weight (bound 1/√fanIn) and U(±1/√fanIn) on the bias, where fanIn
// follows PyTorch's fan rule (for the transposed weight: (out/groups)·kH·kW).
import { Tensor } from '../tensor';
import { argRangeError, argTypeError, checkInt, checkPair, describeValue, shapeString } from '../errors';
import { conv2d, convTranspose2d } from '../functional';
import { Module } from './module';
import { defaultLayerInit } from './init';

type Pair = number | [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  /** Only 'zeros' (PyTorch's default) is supported. */
  paddingMode?: 'zeros';
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
}

function checkGroups(op: string, inChannels: number, outChannels: number, groups: unknown): number {
  const g = checkInt(op, 'groups', groups, 1);
  if (inChannels % g !== 0) throw argRangeError(op, 'inChannels', `divisible by groups (${g})`, String(inChannels));
  if (outChannels % g !== 0) throw argRangeError(op, 'outChannels', `divisible by groups (${g})`, String(outChannels));
  return g;
}

function checkPaddingMode(op: string, mode: unknown): void {
  if (mode !== undefined && mode !== 'zeros') throw argRangeError(op, 'paddingMode', "'zeros' (the only mode supported)", describeValue(mode));
}

/** Shared state of the two convolutions. */
abstract class ConvNd extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight!: Tensor;
  bias!: Tensor | null;

  constructor(op: string, inChannels: number, outChannels: number, kernelSize: Pair, o: Conv2dOptions) {
    super();
    this.inChannels = checkInt(op, 'inChannels', inChannels, 1);
    this.outChannels = checkInt(op, 'outChannels', outChannels, 1);
    this.kernelSize = checkPair(op, 'kernelSize', kernelSize, 1);
    this.stride = checkPair(op, 'stride', o.stride ?? 1, 1);
    this.padding = checkPair(op, 'padding', o.padding ?? 0, 0);
    this.dilation = checkPair(op, 'dilation', o.dilation ?? 1, 1);
    this.groups = checkGroups(op, this.inChannels, this.outChannels, o.groups ?? 1);
    checkPaddingMode(op, o.paddingMode);
    if (o.bias !== undefined && typeof o.bias !== 'boolean') throw argTypeError(op, 'bias', 'a boolean', describeValue(o.bias));
  }

  protected createParameters(weightShape: number[], bias: boolean): void {
    this.weight = this.registerParameter('weight', Tensor.empty(weightShape).requiresGrad_());
    this.bias = this.registerParameter('bias', bias ? Tensor.empty([this.outChannels]).requiresGrad_() : null);
    this.resetParameters();
  }

  resetParameters(): void {
    defaultLayerInit(this.weight, this.bias);
  }

  protected baseRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize}]`, `stride=[${this.stride}]`];
    if (this.padding.some((p) => p !== 0)) parts.push(`padding=[${this.padding}]`);
    if (this.dilation.some((d) => d !== 1)) parts.push(`dilation=[${this.dilation}]`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (this.bias === null) parts.push('bias=false');
    return parts.join(', ');
  }
}

/**
 * 2-D convolution over NCHW input.
 * @example const conv = new nn.Conv2d(3, 64, 3, { padding: 1 }); conv.forward(x) // [N,3,H,W] -> [N,64,H,W]
 */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: Conv2dOptions = {}) {
    super('Conv2d', inChannels, outChannels, kernelSize, options);
    this.createParameters([this.outChannels, this.inChannels / this.groups, ...this.kernelSize], options.bias ?? true);
  }

  override forward(input: Tensor): Tensor {
    return conv2d(input, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups,
    });
  }

  override extraRepr(): string {
    return this.baseRepr();
  }
}

/**
 * 2-D transposed convolution (the gradient of Conv2d with respect to its input), NCHW.
 * forward(x, outputSize?) picks the outputPadding that gives outputSize ([H, W] or [N, C, H, W]),
 * as PyTorch's output_size argument does.
 * @example new nn.ConvTranspose2d(128, 64, 2, { stride: 2 }) // [N,128,8,8] -> [N,64,16,16]
 */
export class ConvTranspose2d extends ConvNd {
  readonly outputPadding: [number, number];

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options: ConvTranspose2dOptions = {}) {
    super('ConvTranspose2d', inChannels, outChannels, kernelSize, options);
    this.outputPadding = checkPair('ConvTranspose2d', 'outputPadding', options.outputPadding ?? 0, 0);
    for (let d = 0; d < 2; d++) {
      if (this.outputPadding[d] >= this.stride[d] && this.outputPadding[d] >= this.dilation[d]) {
        throw argRangeError('ConvTranspose2d', `outputPadding[${d}]`, `smaller than stride (${this.stride[d]}) or dilation (${this.dilation[d]})`, String(this.outputPadding[d]));
      }
    }
    this.createParameters([this.inChannels, this.outChannels / this.groups, ...this.kernelSize], options.bias ?? true);
  }

  override forward(input: Tensor, outputSize?: readonly number[]): Tensor {
    const outputPadding = outputSize === undefined ? this.outputPadding : this.paddingFor(input, outputSize);
    return convTranspose2d(input, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding, dilation: this.dilation, groups: this.groups,
    });
  }

  // PyTorch's _output_padding: the extra rows/cols that turn the smallest output into outputSize.
  private paddingFor(input: Tensor, outputSize: readonly number[]): [number, number] {
    const op = 'ConvTranspose2d.forward';
    if (!Array.isArray(outputSize) || (outputSize.length !== 2 && outputSize.length !== 4)) {
      throw argTypeError(op, 'outputSize', 'an array [H, W] or [N, C, H, W]', describeValue(outputSize));
    }
    if (input.ndim !== 4) throw argRangeError(op, 'input', 'a 4-D tensor [N, C, H, W]', `shape ${shapeString(input.shape)}`);
    const size = outputSize.slice(-2);
    const out: [number, number] = [0, 0];
    for (let d = 0; d < 2; d++) {
      const min = (input.shape[d + 2] - 1) * this.stride[d] - 2 * this.padding[d] + this.dilation[d] * (this.kernelSize[d] - 1) + 1;
      const max = min + this.stride[d] - 1;
      if (!Number.isInteger(size[d]) || size[d] < min || size[d] > max) {
        throw argRangeError(op, `outputSize[${outputSize.length - 2 + d}]`, `an integer in [${min}, ${max}] for input ${shapeString(input.shape)}`, describeValue(size[d]));
      }
      out[d] = size[d] - min;
    }
    return out;
  }

  override extraRepr(): string {
    const extra = this.outputPadding.some((p) => p !== 0) ? `, outputPadding=[${this.outputPadding}]` : '';
    return this.baseRepr() + extra;
  }
}
