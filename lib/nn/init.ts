// nn.init: in-place initialisers with PyTorch's gain and fan rules (torch.nn.init). They draw
// from the global generator (hn.manualSeed) unless given one, and record no autograd history.
import { Tensor, isTensor } from '../tensor';
import { Generator, defaultGenerator } from '../random';
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

function target(op: string, t: unknown): Float32Array {
  if (!isTensor(t)) throw argTypeError(op, 'tensor', 'a Tensor', describeValue(t));
  return t.floatData(op, 'tensor');
}

function finite(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw argTypeError(op, arg, 'a finite number', describeValue(v));
  return v;
}

/**
 * The recommended gain for a nonlinearity (torch.nn.init.calculate_gain): 1 for linear/conv/
 * sigmoid, 5/3 for tanh, √2 for relu, √(2 / (1 + slope²)) for leaky_relu (slope defaults to
 * 0.01), 3/4 for selu.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d':
    case 'conv_transpose1d': case 'conv_transpose2d': case 'conv_transpose3d': case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param === undefined ? 0.01 : finite('calculateGain', 'param', param);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw argRangeError('calculateGain', 'nonlinearity', "'linear', 'conv2d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu', ...", describeValue(nonlinearity));
  }
}

/**
 * PyTorch's fan rule: dim 1 is the input maps, dim 0 the output maps, the remaining dims the
 * receptive field. So fanIn = shape[1]·∏shape[2:], fanOut = shape[0]·∏shape[2:]. For a
 * ConvTranspose2d weight [in, out/groups, kH, kW] fanIn is therefore (out/groups)·kH·kW.
 */
export function calculateFanInAndFanOut(tensor: Tensor, op = 'calculateFanInAndFanOut'): { fanIn: number; fanOut: number } {
  if (!isTensor(tensor)) throw argTypeError(op, 'tensor', 'a Tensor', describeValue(tensor));
  if (tensor.ndim < 2) {
    throw argRangeError(op, 'tensor', 'a tensor with at least 2 dims (fan in and fan out cannot be computed for fewer)', `shape ${shapeString(tensor.shape)}`);
  }
  let receptive = 1;
  for (let d = 2; d < tensor.ndim; d++) receptive *= tensor.shape[d];
  return { fanIn: tensor.shape[1] * receptive, fanOut: tensor.shape[0] * receptive };
}

function fan(op: string, tensor: Tensor, mode: FanMode): number {
  if (mode !== 'fan_in' && mode !== 'fan_out') throw argRangeError(op, 'mode', "'fan_in' or 'fan_out'", describeValue(mode));
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor, op);
  return mode === 'fan_in' ? fanIn : fanOut;
}

/** Fills with U(a, b). */
export function uniform_(tensor: Tensor, a = 0, b = 1, generator: Generator = defaultGenerator): Tensor {
  const data = target('uniform_', tensor);
  finite('uniform_', 'a', a);
  finite('uniform_', 'b', b);
  if (a > b) throw argRangeError('uniform_', 'b', `a number >= a (${a})`, String(b));
  generator.fillUniform(data, a, b);
  return tensor;
}

/** Fills with N(mean, std²). */
export function normal_(tensor: Tensor, mean = 0, std = 1, generator: Generator = defaultGenerator): Tensor {
  const data = target('normal_', tensor);
  finite('normal_', 'mean', mean);
  if (finite('normal_', 'std', std) < 0) throw argRangeError('normal_', 'std', 'a non-negative number', String(std));
  generator.fillNormal(data, mean, std);
  return tensor;
}

export function constant_(tensor: Tensor, value: number): Tensor {
  target('constant_', tensor).fill(finite('constant_', 'value', value));
  return tensor;
}

export function zeros_(tensor: Tensor): Tensor {
  target('zeros_', tensor).fill(0);
  return tensor;
}

export function ones_(tensor: Tensor): Tensor {
  target('ones_', tensor).fill(1);
  return tensor;
}

export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}

/**
 * He et al. (2015) uniform: U(−bound, bound) with bound = gain·√(3 / fan). The layers' default
 * init uses a = √5, which gives bound = 1/√fanIn.
 */
export function kaimingUniform_(tensor: Tensor, { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', generator = defaultGenerator }: KaimingOptions = {}): Tensor {
  const data = target('kaimingUniform_', tensor);
  const f = fan('kaimingUniform_', tensor, mode);
  if (f === 0) return tensor; // PyTorch warns and leaves a zero-element tensor alone
  const bound = Math.sqrt(3) * (calculateGain(nonlinearity, finite('kaimingUniform_', 'a', a)) / Math.sqrt(f));
  generator.fillUniform(data, -bound, bound);
  return tensor;
}

/** He et al. (2015) normal: N(0, std²) with std = gain / √fan. */
export function kaimingNormal_(tensor: Tensor, { a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', generator = defaultGenerator }: KaimingOptions = {}): Tensor {
  const data = target('kaimingNormal_', tensor);
  const f = fan('kaimingNormal_', tensor, mode);
  if (f === 0) return tensor;
  generator.fillNormal(data, 0, calculateGain(nonlinearity, finite('kaimingNormal_', 'a', a)) / Math.sqrt(f));
  return tensor;
}

/** Glorot & Bengio (2010) uniform: U(−a, a) with a = gain·√(6 / (fanIn + fanOut)). */
export function xavierUniform_(tensor: Tensor, gain = 1, generator: Generator = defaultGenerator): Tensor {
  const data = target('xavierUniform_', tensor);
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor, 'xavierUniform_');
  const bound = Math.sqrt(3) * finite('xavierUniform_', 'gain', gain) * Math.sqrt(2 / (fanIn + fanOut));
  generator.fillUniform(data, -bound, bound);
  return tensor;
}

/** Glorot & Bengio (2010) normal: N(0, std²) with std = gain·√(2 / (fanIn + fanOut)). */
export function xavierNormal_(tensor: Tensor, gain = 1, generator: Generator = defaultGenerator): Tensor {
  const data = target('xavierNormal_', tensor);
  const { fanIn, fanOut } = calculateFanInAndFanOut(tensor, 'xavierNormal_');
  generator.fillNormal(data, 0, finite('xavierNormal_', 'gain', gain) * Math.sqrt(2 / (fanIn + fanOut)));
  return tensor;
}

/** The default init of Linear/Conv2d/ConvTranspose2d (their reset_parameters in PyTorch). */
export function defaultLayerInit(weight: Tensor, bias: Tensor | null): void {
  // kaiming_uniform_(a=√5): gain √(2/6) = 1/√3, so bound = √3·(1/√3)/√fanIn = 1/√fanIn.
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const { fanIn } = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}
