// Inverted dropout (torch.nn.functional.dropout / dropout2d): kept values are scaled by
// 1 / (1 - p) so the expectation is unchanged and evaluation is the identity. Masks come from the
// global generator, so hn.manualSeed reproduces them; for a CUDA input the mask is drawn the same
// way on the host and uploaded, so one seed gives the same mask on both devices.
import { record } from '../autograd';
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';
import { defaultGenerator } from '../random';
import { Tensor, isTensor } from '../tensor';
import { hostTensorOn } from './device';
import { binaryRaw } from './elementwise';

export interface DropoutOptions {
  /** Probability of zeroing an element (or a channel), in [0, 1]; default 0.5. */
  p?: number;
  /** Identity when false; default true (as torch.nn.functional.dropout). */
  training?: boolean;
}

function checkOptions(op: string, options: unknown): { p: number; training: boolean } {
  if (typeof options !== 'object' || options === null) throw argTypeError(op, 'options', 'an object', describeValue(options));
  const { p = 0.5, training = true } = options as DropoutOptions;
  if (typeof p !== 'number' || Number.isNaN(p)) throw argTypeError(op, 'p', 'a probability in [0, 1]', describeValue(p));
  if (p < 0 || p > 1) throw argRangeError(op, 'p', 'a probability in [0, 1]', String(p));
  if (typeof training !== 'boolean') throw argTypeError(op, 'training', 'a boolean', describeValue(training));
  return { p, training };
}

/**
 * n mask values: 0 with probability p, `keep` otherwise. Drop when uniform() < p, i.e. when its
 * 24-bit integer k < p * 2^24: the same draws as defaultGenerator.uniform(), without the division
 * (the loop is the cost of dropout). Also the unscaled masks of the MultiMNIST LeNet (keep = 1).
 */
export function bernoulliMask(n: number, p: number, keep: number): Float32Array {
  const mask = new Float32Array(n);
  const threshold = Math.ceil(p * 16777216);
  const gen = defaultGenerator;
  for (let i = 0; i < n; i++) mask[i] = gen.nextUint32() >>> 8 < threshold ? 0 : keep;
  return mask;
}

/** Inverted dropout's mask: kept values are 1 / (1 - p) (all 0 when p = 1). */
function sampleMask(n: number, p: number): Float32Array {
  return bernoulliMask(n, p, p === 1 ? 0 : 1 / (1 - p));
}

function applyMask(op: string, x: Tensor, mask: Tensor, attrs: { p: number; training: boolean }): Tensor {
  const out = binaryRaw('mul', x, mask);
  return record(out, op, attrs, [x], (g) => [binaryRaw('mul', g, mask)]);
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p).
 * @example hn.F.dropout(x, { p: 0.2, training: model.training })
 */
export function dropout(x: Tensor, options: DropoutOptions = {}): Tensor {
  const op = 'dropout';
  if (!isTensor(x)) throw argTypeError(op, 'input', 'a tensor', describeValue(x));
  x.buffer(op, 'input');
  const attrs = checkOptions(op, options);
  if (!attrs.training || attrs.p === 0) return x;
  return applyMask(op, x, hostTensorOn(sampleMask(x.numel, attrs.p), x.shape, x.device), attrs);
}

/**
 * Zeroes whole channels: one draw per (n, c) of x [N, C, H, W] (or of a 3-D [N, C, L], which
 * PyTorch also reads as batched), scaling kept channels by 1 / (1 - p).
 * @example hn.F.dropout2d(features, { p: 0.5, training: true })
 */
export function dropout2d(x: Tensor, options: DropoutOptions = {}): Tensor {
  const op = 'dropout2d';
  if (!isTensor(x)) throw argTypeError(op, 'input', 'a tensor', describeValue(x));
  x.buffer(op, 'input');
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw argRangeError(op, 'input', 'a 4-D [N, C, H, W] (or 3-D [N, C, L]) tensor', `shape ${shapeString(x.shape)}`);
  }
  const attrs = checkOptions(op, options);
  if (!attrs.training || attrs.p === 0) return x;
  const maskShape = [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)];
  return applyMask(op, x, hostTensorOn(sampleMask(x.shape[0] * x.shape[1], attrs.p), maskShape, x.device), attrs);
}
