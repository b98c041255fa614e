// Per-task metrics and the multi-task figure Δm, so runs can be compared.
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';
import { Tensor, isTensor, numelOf } from '../tensor';

function checkPair(op: string, logits: Tensor, target: Tensor): { N: number; C: number; S: number } {
  if (!isTensor(logits)) throw argTypeError(op, 'logits', 'a tensor', describeValue(logits));
  if (!isTensor(target)) throw argTypeError(op, 'target', 'a tensor', describeValue(target));
  if (logits.ndim < 2) throw argRangeError(op, 'logits', 'a tensor [N, C, ...]', `shape ${shapeString(logits.shape)}`);
  const expected = [logits.shape[0], ...logits.shape.slice(2)];
  if (target.dtype !== 'int32' || shapeString(target.shape) !== shapeString(expected)) {
    throw argRangeError(op, 'target', `an int32 tensor of shape ${shapeString(expected)}`, `${target.dtype} ${shapeString(target.shape)}`);
  }
  return { N: logits.shape[0], C: logits.shape[1], S: numelOf(logits.shape.slice(2)) };
}

/** Predicted class per position: argmax over dim 1 of [N, C, ...] logits → Int32Array [N, ...]. */
export function argmaxClasses(logits: Tensor): Int32Array {
  const [N, C] = logits.shape;
  const S = numelOf(logits.shape.slice(2));
  const x = logits.floatData('argmaxClasses', 'logits');
  const out = new Int32Array(N * S);
  for (let n = 0; n < N; n++) {
    for (let s = 0; s < S; s++) {
      let best = 0;
      let bestValue = x[n * C * S + s];
      for (let c = 1; c < C; c++) {
        const v = x[(n * C + c) * S + s];
        if (v > bestValue) {
          bestValue = v;
          best = c;
        }
      }
      out[n * S + s] = best;
    }
  }
  return out;
}

/**
 * Accumulates a confusion matrix over batches: accuracy for classification, pixel accuracy and
 * mean IoU for segmentation. Positions whose target equals ignoreIndex are skipped.
 */
export class ConfusionMatrix {
  readonly counts: Float64Array;
  constructor(readonly numClasses: number, readonly ignoreIndex = -100) {
    this.counts = new Float64Array(numClasses * numClasses);
  }

  update(logits: Tensor, target: Tensor): void {
    const { C } = checkPair('ConfusionMatrix.update', logits, target);
    if (C !== this.numClasses) throw argRangeError('ConfusionMatrix.update', 'logits', `${this.numClasses} classes in dim 1`, `${C}`);
    const predicted = argmaxClasses(logits);
    const truth = target.data;
    for (let i = 0; i < truth.length; i++) {
      const y = truth[i];
      if (y === this.ignoreIndex) continue;
      if (y < 0 || y >= C) throw argRangeError('ConfusionMatrix.update', 'target', `classes in [0, ${C})`, `${y} at position ${i}`);
      this.counts[y * C + predicted[i]]++;
    }
  }

  /** Fraction of counted positions predicted right (accuracy, or pixel accuracy). */
  accuracy(): number {
    let right = 0;
    let total = 0;
    for (let c = 0; c < this.numClasses; c++) right += this.counts[c * this.numClasses + c];
    for (const v of this.counts) total += v;
    return total === 0 ? NaN : right / total;
  }

  /** IoU per class: TP / (TP + FP + FN); NaN for a class absent from both truth and predictions. */
  iouPerClass(): number[] {
    const C = this.numClasses;
    return Array.from({ length: C }, (_, c) => {
      const tp = this.counts[c * C + c];
      let fp = 0;
      let fn = 0;
      for (let k = 0; k < C; k++) {
        if (k === c) continue;
        fp += this.counts[k * C + c];
        fn += this.counts[c * C + k];
      }
      const denominator = tp + fp + fn;
      return denominator === 0 ? NaN : tp / denominator;
    });
  }

  /** Mean IoU over the classes that occur (as torchmetrics' JaccardIndex with absent classes skipped). */
  meanIou(): number {
    const present = this.iouPerClass().filter((v) => !Number.isNaN(v));
    return present.length === 0 ? NaN : present.reduce((a, b) => a + b, 0) / present.length;
  }
}

/** Mean squared and mean absolute error accumulated over batches. */
export class RegressionErrors {
  private squared = 0;
  private absolute = 0;
  private count = 0;

  update(prediction: Tensor, target: Tensor): void {
    const p = prediction.floatData('RegressionErrors.update', 'prediction');
    const t = target.floatData('RegressionErrors.update', 'target');
    if (shapeString(prediction.shape) !== shapeString(target.shape)) {
      throw argRangeError('RegressionErrors.update', 'target', `shape ${shapeString(prediction.shape)}`, `shape ${shapeString(target.shape)}`);
    }
    for (let i = 0; i < p.length; i++) {
      const d = p[i] - t[i];
      this.squared += d * d;
      this.absolute += Math.abs(d);
    }
    this.count += p.length;
  }

  mse(): number {
    return this.count === 0 ? NaN : this.squared / this.count;
  }

  mae(): number {
    return this.count === 0 ? NaN : this.absolute / this.count;
  }
}

export interface MetricValue {
  value: number;
  /** true when a higher value is better (accuracy, mIoU); false for errors (MSE, MAE). */
  higherIsBetter: boolean;
}

/**
 * Δm (Maninis et al., CVPR 2019; Vandenhende et al., TPAMI 2021): the mean relative change of
 * every metric of every task against its single-task baseline, in percent, signed so that
 * positive is better: Δm = 100/K · Σ_k (−1)^{l_k} (M_k − B_k) / B_k with l_k = 1 when lower is better.
 */
export function deltaM(model: Record<string, MetricValue>, baseline: Record<string, MetricValue>): number {
  const keys = Object.keys(baseline);
  if (keys.length === 0) throw argRangeError('deltaM', 'baseline', 'at least one metric', 'none');
  let total = 0;
  for (const key of keys) {
    const b = baseline[key];
    const m = model[key];
    if (!m) throw argRangeError('deltaM', 'model', `a value for metric '${key}'`, 'none');
    if (b.value === 0 || !Number.isFinite(b.value)) throw argRangeError('deltaM', `baseline.${key}`, 'a finite non-zero value', String(b.value));
    const relative = (m.value - b.value) / Math.abs(b.value);
    total += b.higherIsBetter ? relative : -relative;
  }
  return (100 * total) / keys.length;
}
