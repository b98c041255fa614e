// BatchNorm2d (torch.nn.BatchNorm2d). Buffers, with PyTorch's state-dict names: running_mean
// (zeros), running_var (ones) and num_batches_tracked, a scalar that PyTorch stores as int64 and
// hydranet as int32 (tensors here are float32 or int32; 2^31 batches is out of reach).
import { Tensor } from '../tensor';
import { argRangeError, argTypeError, checkInt, describeValue, shapeString } from '../errors';
import { batchNorm2d } from '../functional';
import { Module } from './module';

export interface BatchNorm2dOptions {
  eps?: number;
  /** Weight of the new batch statistic in the running averages; null for a cumulative average. */
  momentum?: number | null;
  /** Learn a per-channel scale (weight, init 1) and shift (bias, init 0). */
  affine?: boolean;
  /** Keep running statistics for evaluation; without them batch statistics are used always. */
  trackRunningStats?: boolean;
}

function checkBool(op: string, arg: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw argTypeError(op, arg, 'a boolean', describeValue(v));
  return v;
}

/**
 * Normalises each channel of an [N, C, H, W] input over (N, H, W): by the batch statistics in
 * training mode (updating the running ones), by the running statistics in eval mode.
 */
export class BatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(numFeatures: number, { eps = 1e-5, momentum = 0.1, affine, trackRunningStats }: BatchNorm2dOptions = {}) {
    super();
    const op = 'BatchNorm2d';
    this.numFeatures = checkInt(op, 'numFeatures', numFeatures, 1);
    if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw argRangeError(op, 'eps', 'a positive number', describeValue(eps));
    if (momentum !== null && (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))) {
      throw argRangeError(op, 'momentum', 'a number in [0, 1] or null', describeValue(momentum));
    }
    this.eps = eps;
    this.momentum = momentum;
    this.affine = checkBool(op, 'affine', affine, true);
    this.trackRunningStats = checkBool(op, 'trackRunningStats', trackRunningStats, true);
    const c = this.numFeatures;
    this.weight = this.registerParameter('weight', this.affine ? Tensor.empty([c]).requiresGrad_() : null);
    this.bias = this.registerParameter('bias', this.affine ? Tensor.empty([c]).requiresGrad_() : null);
    const track = this.trackRunningStats;
    this.registerBuffer('running_mean', track ? Tensor.empty([c]) : null);
    this.registerBuffer('running_var', track ? Tensor.empty([c]) : null);
    this.registerBuffer('num_batches_tracked', track ? Tensor.empty([], 'int32') : null);
    this.resetParameters();
  }

  get runningMean(): Tensor | null {
    return this.getRegistered('buffer', 'running_mean') as Tensor | null;
  }

  get runningVar(): Tensor | null {
    return this.getRegistered('buffer', 'running_var') as Tensor | null;
  }

  get numBatchesTracked(): Tensor | null {
    return this.getRegistered('buffer', 'num_batches_tracked') as Tensor | null;
  }

  /** running_mean = 0, running_var = 1, num_batches_tracked = 0. */
  resetRunningStats(): void {
    this.runningMean?.data.fill(0);
    this.runningVar?.data.fill(1);
    this.numBatchesTracked?.data.fill(0);
  }

  resetParameters(): void {
    this.resetRunningStats();
    this.weight?.data.fill(1);
    this.bias?.data.fill(0);
  }

  override forward(input: Tensor): Tensor {
    const op = 'BatchNorm2d.forward';
    if (!(input instanceof Tensor)) throw argTypeError(op, 'input', 'a Tensor', describeValue(input));
    if (input.ndim !== 4 || input.shape[1] !== this.numFeatures) {
      throw argRangeError(op, 'input', `a 4-D tensor [N, ${this.numFeatures}, H, W]`, `shape ${shapeString(input.shape)}`);
    }
    // PyTorch's BatchNorm forward: count the batch, pick the averaging factor, and use batch
    // statistics in training mode or whenever there are no running ones.
    let factor = this.momentum ?? 0;
    const counter = this.numBatchesTracked;
    if (this.training && this.trackRunningStats && counter) {
      // item() / fill_ work on either device (on CUDA, item() waits for the device).
      const count = (counter.isCuda ? counter.item() : counter.data[0]) + 1;
      if (counter.isCuda) counter.fill_(count);
      else counter.data[0] = count;
      factor = this.momentum === null ? 1 / count : this.momentum;
    }
    const runningMean = this.runningMean;
    const runningVar = this.runningVar;
    const useBatchStats = this.training || (runningMean === null && runningVar === null);
    const passRunning = !this.training || this.trackRunningStats;
    return batchNorm2d(input, passRunning ? runningMean : null, passRunning ? runningVar : null, this.weight, this.bias, {
      training: useBatchStats, momentum: factor, eps: this.eps,
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}
