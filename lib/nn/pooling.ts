// MaxPool2d and AvgPool2d (torch.nn semantics: stride defaults to kernelSize).
import type { Tensor } from '../tensor';
import { argRangeError, argTypeError, checkInt, checkPair, describeValue } from '../errors';
import { avgPool2d, maxPool2d } from '../functional';
import { Module } from './module';

type Pair = number | [number, number];

export interface MaxPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: Pair | null;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: Pair | null;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

function checkBool(op: string, arg: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw argTypeError(op, arg, 'a boolean', describeValue(v));
  return v;
}

// PyTorch: padding must be at most half the (dilated) kernel, or a window could lie in padding only.
function checkPadding(op: string, padding: [number, number], kernel: [number, number], dilation: [number, number] = [1, 1]): void {
  for (let d = 0; d < 2; d++) {
    const effective = dilation[d] * (kernel[d] - 1) + 1;
    if (padding[d] * 2 > effective) {
      throw argRangeError(op, `padding[${d}]`, `at most half the kernel size (${Math.floor(effective / 2)})`, String(padding[d]));
    }
  }
}

/** @example new nn.MaxPool2d(2) // [N,C,32,32] -> [N,C,16,16] */
export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly ceilMode: boolean;

  constructor(kernelSize: Pair, { stride, padding = 0, dilation = 1, ceilMode }: MaxPool2dOptions = {}) {
    super();
    const op = 'MaxPool2d';
    this.kernelSize = checkPair(op, 'kernelSize', kernelSize, 1);
    this.stride = stride == null ? this.kernelSize : checkPair(op, 'stride', stride, 1);
    this.padding = checkPair(op, 'padding', padding, 0);
    this.dilation = checkPair(op, 'dilation', dilation, 1);
    this.ceilMode = checkBool(op, 'ceilMode', ceilMode, false);
    checkPadding(op, this.padding, this.kernelSize, this.dilation);
  }

  override forward(input: Tensor): Tensor {
    return maxPool2d(input, {
      kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode,
    });
  }

  override extraRepr(): string {
    return `kernelSize=[${this.kernelSize}], stride=[${this.stride}], padding=[${this.padding}], dilation=[${this.dilation}], ceilMode=${this.ceilMode}`;
  }
}

/** @example new nn.AvgPool2d(2) // [N,C,32,32] -> [N,C,16,16] */
export class AvgPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
  readonly divisorOverride: number | null;

  constructor(kernelSize: Pair, { stride, padding = 0, ceilMode, countIncludePad, divisorOverride = null }: AvgPool2dOptions = {}) {
    super();
    const op = 'AvgPool2d';
    this.kernelSize = checkPair(op, 'kernelSize', kernelSize, 1);
    this.stride = stride == null ? this.kernelSize : checkPair(op, 'stride', stride, 1);
    this.padding = checkPair(op, 'padding', padding, 0);
    this.ceilMode = checkBool(op, 'ceilMode', ceilMode, false);
    this.countIncludePad = checkBool(op, 'countIncludePad', countIncludePad, true);
    this.divisorOverride = divisorOverride === null ? null : checkInt(op, 'divisorOverride', divisorOverride, 1);
    checkPadding(op, this.padding, this.kernelSize);
  }

  override forward(input: Tensor): Tensor {
    return avgPool2d(input, {
      kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, ceilMode: this.ceilMode,
      countIncludePad: this.countIncludePad, divisorOverride: this.divisorOverride,
    });
  }

  override extraRepr(): string {
    return `kernelSize=[${this.kernelSize}], stride=[${this.stride}], padding=[${this.padding}]`;
  }
}
