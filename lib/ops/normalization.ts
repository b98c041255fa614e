// Batch normalisation (torch.nn.functional.batch_norm) for [N, C, H, W] (batchNorm2d) and
// [N, C] / [N, C, L] (batchNorm1d) inputs.
import { record } from '../autograd';
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';
import { bindings } from '../native';
import { KernelBuffer, Tensor, isTensor, numelOf } from '../tensor';
import { commonDevice, kernelsFor } from './device';

interface BatchNormBindings {
  batchNormForward(x: KernelBuffer, dims: number[], weight: KernelBuffer | null, bias: KernelBuffer | null,
    runningMean: KernelBuffer | null, runningVar: KernelBuffer | null, training: boolean, momentum: number, eps: number,
    y: KernelBuffer, saveMean: KernelBuffer, saveInvstd: KernelBuffer): void;
  batchNormBackward(x: KernelBuffer, gradOutput: KernelBuffer, dims: number[], weight: KernelBuffer | null,
    saveMean: KernelBuffer, saveInvstd: KernelBuffer, training: boolean, gradInput: KernelBuffer | null,
    gradWeight: KernelBuffer | null, gradBias: KernelBuffer | null): void;
}
const native = bindings<BatchNormBindings>();

export interface BatchNormOptions {
  /** Normalise with the batch statistics and update the running ones (default false, as PyTorch). */
  training?: boolean;
  /** Weight of the new batch statistic in the running averages (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

function checkChannelTensor(op: string, arg: string, value: unknown, C: number): Tensor | null {
  if (value === undefined || value === null) return null;
  if (!isTensor(value)) throw argTypeError(op, arg, `a float32 tensor of shape [${C}] or null`, describeValue(value));
  value.buffer(op, arg);
  if (value.ndim !== 1 || value.shape[0] !== C) {
    throw argRangeError(op, arg, `a 1-D tensor of ${C} values (one per channel)`, `shape ${shapeString(value.shape)}`);
  }
  return value;
}

function checkFinite(op: string, arg: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw argTypeError(op, arg, 'a finite number', describeValue(value));
  return value;
}

function batchNorm(op: string, x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null,
  bias: Tensor | null, options: BatchNormOptions): Tensor {
  const C = x.shape[1];
  const rm = checkChannelTensor(op, 'runningMean', runningMean, C);
  const rv = checkChannelTensor(op, 'runningVar', runningVar, C);
  const w = checkChannelTensor(op, 'weight', weight, C);
  const b = checkChannelTensor(op, 'bias', bias, C);
  if (typeof options !== 'object' || options === null) throw argTypeError(op, 'options', 'an object', describeValue(options));
  const trainingOption = options.training ?? false;
  if (typeof trainingOption !== 'boolean') throw argTypeError(op, 'training', 'a boolean', describeValue(trainingOption));
  const training: boolean = trainingOption;
  const momentum = checkFinite(op, 'momentum', options.momentum, 0.1);
  const eps = checkFinite(op, 'eps', options.eps, 1e-5);
  if (eps < 0) throw argRangeError(op, 'eps', 'a non-negative number', String(eps));
  if ((rm === null) !== (rv === null)) {
    throw argTypeError(op, 'runningMean and runningVar', 'both tensors or both null', rm ? 'only runningMean' : 'only runningVar');
  }
  if (!training && rm === null) {
    throw argTypeError(op, 'runningMean and runningVar', 'tensors in evaluation mode (training: false)', 'null');
  }
  const dims = [x.shape[0], C, numelOf(x.shape.slice(2))];
  if (training && dims[0] * dims[2] < 2) {
    throw argRangeError(op, 'input', `more than 1 value per channel when training (shape ${shapeString(x.shape)})`,
      `${dims[0] * dims[2]}`);
  }
  const device = commonDevice(op, [['input', x], ['weight', w], ['bias', b], ['runningMean', rm], ['runningVar', rv]]);
  const k = device === 'cpu' ? native : kernelsFor<BatchNormBindings>(op, device);
  const out = Tensor.empty(x.shape, 'float32', device);
  const saveMean = Tensor.empty([C], 'float32', device);
  const saveInvstd = Tensor.empty([C], 'float32', device);
  // The running statistics are updated in place (training) by the kernel.
  k.batchNormForward(x.buffer(op, 'input'), dims, w?.buffer() ?? null, b?.buffer() ?? null,
    rm?.buffer() ?? null, rv?.buffer() ?? null, training, momentum, eps, out.buffer(), saveMean.buffer(), saveInvstd.buffer());
  const inputs = [x, w, b, rm, rv].filter((t): t is Tensor => t !== null);
  // hasWeight / hasBias tell the exporter which optional inputs are present.
  const attrs = { training, momentum, eps, hasWeight: w !== null, hasBias: b !== null };
  return record(out, op, attrs, inputs, (g) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape, 'float32', device) : null;
    const gw = w?.requiresGrad ? Tensor.empty([C], 'float32', device) : null;
    const gb = b?.requiresGrad ? Tensor.empty([C], 'float32', device) : null;
    k.batchNormBackward(x.buffer(), g.buffer(op, 'gradOutput'), dims, w?.buffer() ?? null, saveMean.buffer(), saveInvstd.buffer(),
      training, gx?.buffer() ?? null, gw?.buffer() ?? null, gb?.buffer() ?? null);
    const grads: (Tensor | null)[] = [gx];
    if (w) grads.push(gw);
    if (b) grads.push(gb);
    if (rm) grads.push(null, null);
    return grads;
  });
}

function checkInput(op: string, x: unknown, ranks: readonly number[], layout: string): Tensor {
  if (!isTensor(x)) throw argTypeError(op, 'input', 'a tensor', describeValue(x));
  x.buffer(op, 'input');
  if (!ranks.includes(x.ndim)) throw argRangeError(op, 'input', `a ${layout} tensor`, `shape ${shapeString(x.shape)}`);
  return x;
}

/**
 * Batch normalisation of x [N, C, H, W] per channel. Training: batch mean and biased variance
 * normalise; the running statistics (when given) move by `momentum` toward the batch mean and the
 * unbiased variance, in place. Eval: the running statistics normalise.
 * @example hn.F.batchNorm2d(x, runningMean, runningVar, gamma, beta, { training: true })
 */
export function batchNorm2d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null = null,
  bias: Tensor | null = null, options: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm2d';
  return batchNorm(op, checkInput(op, x, [4], '4-D [N, C, H, W]'), runningMean, runningVar, weight, bias, options);
}

/** batchNorm2d's rule for x [N, C] or [N, C, L] (torch.nn.BatchNorm1d). */
export function batchNorm1d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null = null,
  bias: Tensor | null = null, options: BatchNormOptions = {}): Tensor {
  const op = 'batchNorm1d';
  return batchNorm(op, checkInput(op, x, [2, 3], '2-D [N, C] or 3-D [N, C, L]'), runningMean, runningVar, weight, bias, options);
}
