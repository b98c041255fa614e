// Loss functions (torch.nn.functional): crossEntropy and nllLoss over class indices, and the
// point-wise mseLoss, l1Loss, smoothL1Loss, huberLoss and binaryCrossEntropyWithLogits.
import { record } from '../autograd';
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';
import { bindings } from '../native';
import { KernelBuffer, Tensor, isTensor, numelOf } from '../tensor';
import { broadcastShapes } from './broadcast';
import { commonDevice, kernelsFor, scalarOn } from './device';
import { binaryRaw } from './elementwise';

interface LossTotals {
  loss: number;
  weight: number;
}

/**
 * The loss bindings over host arrays on the CPU (F = Float32Array, I = Int32Array) and their CUDA
 * twins over device buffers (bindings/cuda_loss.cc, F = I = KernelBuffer; the forwards there
 * wait for the device to return their totals, docs/cuda.md). The point-wise weight and posWeight
 * are KernelBuffers on both (expandTo's result).
 */
interface LossBindings<F, I> {
  crossEntropyForward(logits: F, target: I, weight: F | null, dims: number[],
    ignoreIndex: number, labelSmoothing: number, lse: F, rowLoss: F): LossTotals;
  crossEntropyBackward(logits: F, target: I, weight: F | null, lse: F,
    gradRow: F | null, gradScale: number, dims: number[], ignoreIndex: number, labelSmoothing: number,
    gradLogits: F): void;
  nllLossForward(logProbs: F, target: I, weight: F | null, dims: number[],
    ignoreIndex: number, rowLoss: F): LossTotals;
  nllLossBackward(target: I, weight: F | null, gradRow: F | null, gradScale: number,
    dims: number[], ignoreIndex: number, gradLogProbs: F): void;
  pointwiseLossForward(kind: number, input: F, target: F, weight: KernelBuffer | null,
    posWeight: KernelBuffer | null, beta: number, out: F | null): number;
  pointwiseLossBackward(kind: number, input: F, target: F, weight: KernelBuffer | null,
    posWeight: KernelBuffer | null, beta: number, gradOut: F | null, gradScale: number,
    gradInput: F | null, gradTarget: F | null): void;
}
const native = bindings<LossBindings<Float32Array, Int32Array>>();
type CudaLossBindings = LossBindings<KernelBuffer, KernelBuffer>;

export type Reduction = 'mean' | 'sum' | 'none';

export interface NllLossOptions {
  /** Per-class weights, a float32 tensor of shape [C]. */
  weight?: Tensor | null;
  /** Targets equal to this contribute neither loss nor gradient (default -100). */
  ignoreIndex?: number;
  reduction?: Reduction;
}

export interface CrossEntropyOptions extends NllLossOptions {
  /** In [0, 1]: mixes the one-hot target with the uniform distribution (default 0). */
  labelSmoothing?: number;
}

export interface ReductionOptions {
  reduction?: Reduction;
}

// ---- Argument checks ----------------------------------------------------------------------------

function checkReduction(op: string, value: unknown): Reduction {
  if (value === undefined) return 'mean';
  if (value !== 'mean' && value !== 'sum' && value !== 'none') {
    throw argTypeError(op, 'reduction', "'mean', 'sum' or 'none'", describeValue(value));
  }
  return value;
}

function checkOptions(op: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw argTypeError(op, 'options', 'an object', describeValue(options));
  return options as Record<string, unknown>;
}

function checkFloatTensor(op: string, arg: string, t: unknown): Tensor {
  if (!isTensor(t)) throw argTypeError(op, arg, 'a tensor', describeValue(t));
  t.buffer(op, arg);
  return t;
}

function checkNumber(op: string, arg: string, value: unknown, fallback: number, min: number, max: number, range: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw argTypeError(op, arg, 'a number', describeValue(value));
  if (value < min || value > max) throw argRangeError(op, arg, range, String(value));
  return value;
}

/** Row-major index of flat position i in `shape`, for error messages. */
function positionString(shape: readonly number[], i: number): string {
  if (shape.length === 0) return '';
  const idx: number[] = new Array(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return `[${idx.join(', ')}]`;
}

interface ClassProblem {
  /** [N, C, S]: batch, classes, product of the spatial dims. */
  dims: number[];
  target: Int32Array;
  weight: Float32Array | null;
  ignoreIndex: number;
  reduction: Reduction;
  /** Shape of the 'none' output (the target's shape). */
  rowShape: readonly number[];
}

/** Checks (input, target, weight, ignoreIndex, reduction) of crossEntropy / nllLoss as PyTorch. */
function classProblem(op: string, input: unknown, target: unknown, opts: Record<string, unknown>): ClassProblem {
  const x = checkFloatTensor(op, 'input', input);
  if (!isTensor(target)) throw argTypeError(op, 'target', 'an int32 tensor of class indices', describeValue(target));
  if (target.dtype !== 'int32') {
    throw argTypeError(op, 'target', 'an int32 tensor of class indices', `a ${target.dtype} tensor of shape ${shapeString(target.shape)}`);
  }
  commonDevice(op, [['input', x], ['target', target]]);
  if (x.ndim === 0) throw argRangeError(op, 'input', 'a tensor of shape [C], [N, C] or [N, C, d1, ...]', 'a 0-D tensor');
  // [C] with a 0-D target is one sample (PyTorch's unbatched case).
  const expectedTarget = x.ndim === 1 ? [] : [x.shape[0], ...x.shape.slice(2)];
  if (shapeString(target.shape) !== shapeString(expectedTarget)) {
    const layout = x.ndim === 1 ? '[] (a 0-D tensor)' : x.ndim === 2 ? '[N]' : '[N, d1, ...]';
    throw argRangeError(op, 'target', `of shape ${layout} = ${shapeString(expectedTarget)} for input of shape ${shapeString(x.shape)}`,
      shapeString(target.shape));
  }
  const C = x.ndim === 1 ? x.shape[0] : x.shape[1];
  const N = x.ndim === 1 ? 1 : x.shape[0];
  const S = numelOf(x.shape.slice(2));
  if (C < 1) throw argRangeError(op, 'input', 'at least one class', `shape ${shapeString(x.shape)}`);
  let weight: Float32Array | null = null;
  if (opts.weight !== undefined && opts.weight !== null) {
    const w = checkFloatTensor(op, 'weight', opts.weight);
    if (w.ndim !== 1 || w.shape[0] !== C) {
      throw argRangeError(op, 'weight', `a 1-D tensor of ${C} class weights`, `shape ${shapeString(w.shape)}`);
    }
    weight = w.isCuda ? null : w.floatData(op, 'weight');
  }
  const ignoreIndex = opts.ignoreIndex === undefined ? -100 : opts.ignoreIndex;
  if (typeof ignoreIndex !== 'number' || !Number.isInteger(ignoreIndex) || Math.abs(ignoreIndex) > 2 ** 31 - 1) {
    throw argTypeError(op, 'ignoreIndex', 'an int32 integer', describeValue(ignoreIndex));
  }
  const reduction = checkReduction(op, opts.reduction);
  // CUDA labels stay on the device: the CUDA binding checks them (it copies them back once).
  const t = target.isCuda ? new Int32Array(0) : target.data as Int32Array;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (v !== ignoreIndex && (v < 0 || v >= C)) {
      throw argRangeError(op, `target${positionString(target.shape, i)}`, `a class index in [0, ${C}) or ignoreIndex ${ignoreIndex}`, String(v));
    }
  }
  return { dims: [N, C, S], target: t, weight, ignoreIndex, reduction, rowShape: target.shape };
}

/** The loss tensor for a reduction: the row losses ('none') or their sum / mean (0-D). */
function reduceRows(reduction: Reduction, rowLoss: Float32Array, rowShape: readonly number[], total: number, divisor: number): Tensor {
  if (reduction === 'none') return new Tensor(rowLoss, rowShape);
  return new Tensor(new Float32Array([reduction === 'sum' ? total : total / divisor]), []);
}

/** Backward's (per-row gradient, scalar scale) for a reduction. */
function gradRows(reduction: Reduction, g: Tensor, divisor: number): [Float32Array | null, number] {
  if (reduction === 'none') return [g.floatData(), 0];
  const scale = g.item();
  return [null, reduction === 'sum' ? scale : scale / divisor];
}

// ---- Class-index losses -----------------------------------------------------------------------

/**
 * Cross entropy between logits [N, C] (or [N, C, d1, ...], or [C]) and int32 class targets [N]
 * (or [N, d1, ...], or []): log-softmax and NLL fused in one native pass. 'mean' divides by the
 * summed weights of the targets that are not ignored, as PyTorch.
 * @example hn.F.crossEntropy(logits, hn.tensor([2, 0], { dtype: 'int32' }), { labelSmoothing: 0.1 })
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const opts = checkOptions(op, options);
  const p = classProblem(op, input, target, opts);
  const labelSmoothing = checkNumber(op, 'labelSmoothing', opts.labelSmoothing, 0, 0, 1, 'in [0, 1]');
  const device = commonDevice(op, [['input', input], ['target', target], ['weight', isTensor(opts.weight) ? opts.weight : null]]);
  if (device !== 'cpu') return crossEntropyOnDevice(input, target, isTensor(opts.weight) ? opts.weight : null, p, labelSmoothing);
  const rows = p.dims[0] * p.dims[2];
  const lse = new Float32Array(rows);
  const rowLoss = new Float32Array(rows);
  const totals = native.crossEntropyForward(input.floatData(), p.target, p.weight, p.dims, p.ignoreIndex, labelSmoothing, lse, rowLoss);
  const out = reduceRows(p.reduction, rowLoss, p.rowShape, totals.loss, totals.weight);
  const weightTensor = isTensor(opts.weight) ? opts.weight : null;
  const attrs = { ignoreIndex: p.ignoreIndex, reduction: p.reduction, labelSmoothing, hasWeight: weightTensor !== null };
  return record(out, op, attrs, weightTensor ? [input, target, weightTensor] : [input, target], (g) => {
    const [gradRow, scale] = gradRows(p.reduction, g, totals.weight);
    const gx = Tensor.empty(input.shape);
    native.crossEntropyBackward(input.floatData(), p.target, p.weight, lse, gradRow, scale, p.dims, p.ignoreIndex,
      labelSmoothing, gx.data as Float32Array);
    return [gx, null, null];
  });
}

/**
 * A class-index loss on CUDA tensors, the same semantics through the CUDA kernels: `forward`
 * writes the row losses and returns the totals (it waits for the device), `backward` writes the
 * input gradient from the per-row upstream gradient ('none') or the scalar scale.
 */
function classLossOnDevice(op: string, input: Tensor, target: Tensor, weight: Tensor | null, p: ClassProblem,
  attrs: Record<string, unknown>, forward: (rowLoss: KernelBuffer) => LossTotals,
  backward: (gradRow: KernelBuffer | null, scale: number, gradInput: KernelBuffer) => void): Tensor {
  const device = input.device;
  const rowLoss = Tensor.empty(p.rowShape, 'float32', device);
  const totals = forward(rowLoss.buffer());
  let out = rowLoss;
  if (p.reduction !== 'none') {
    rowLoss.dispose();
    out = scalarOn(p.reduction === 'sum' ? totals.loss : totals.loss / totals.weight, device);
  }
  return record(out, op, attrs, weight ? [input, target, weight] : [input, target], (g) => {
    // 'sum' / 'mean': the upstream gradient is a scalar; reading it waits for the device.
    const gradRow = p.reduction === 'none' ? g.buffer(op, 'gradOutput') : null;
    const scale = p.reduction === 'none' ? 0 : p.reduction === 'sum' ? g.item() : g.item() / totals.weight;
    const gx = Tensor.empty(input.shape, 'float32', device);
    backward(gradRow, scale, gx.buffer());
    return [gx, null, null];
  });
}

/** crossEntropy on CUDA tensors: log-softmax's log-sum-exp per row is kept for the backward. */
function crossEntropyOnDevice(input: Tensor, target: Tensor, weight: Tensor | null, p: ClassProblem, labelSmoothing: number): Tensor {
  const op = 'crossEntropy';
  const k = kernelsFor<CudaLossBindings>(op, input.device);
  const lse = Tensor.empty([p.dims[0] * p.dims[2]], 'float32', input.device);
  const w = weight ? weight.buffer(op, 'weight') : null;
  const attrs = { ignoreIndex: p.ignoreIndex, reduction: p.reduction, labelSmoothing, hasWeight: weight !== null };
  return classLossOnDevice(op, input, target, weight, p, attrs,
    (rowLoss) => k.crossEntropyForward(input.buffer(op, 'input'), target.intBuffer(op, 'target'), w, p.dims, p.ignoreIndex,
      labelSmoothing, lse.buffer(), rowLoss),
    (gradRow, scale, gx) => k.crossEntropyBackward(input.buffer(op, 'input'), target.intBuffer(op, 'target'), w, lse.buffer(),
      gradRow, scale, p.dims, p.ignoreIndex, labelSmoothing, gx));
}

/** nllLoss on CUDA tensors. */
function nllLossOnDevice(input: Tensor, target: Tensor, weight: Tensor | null, p: ClassProblem): Tensor {
  const op = 'nllLoss';
  const k = kernelsFor<CudaLossBindings>(op, input.device);
  const w = weight ? weight.buffer(op, 'weight') : null;
  const attrs = { ignoreIndex: p.ignoreIndex, reduction: p.reduction, hasWeight: weight !== null };
  return classLossOnDevice(op, input, target, weight, p, attrs,
    (rowLoss) => k.nllLossForward(input.buffer(op, 'input'), target.intBuffer(op, 'target'), w, p.dims, p.ignoreIndex, rowLoss),
    (gradRow, scale, gx) => k.nllLossBackward(target.intBuffer(op, 'target'), w, gradRow, scale, p.dims, p.ignoreIndex, gx));
}

/**
 * Negative log-likelihood of log-probabilities [N, C] (or [N, C, d1, ...], or [C]) at int32
 * class targets: -weight[t] * input[n, t]. Same options as crossEntropy, without smoothing.
 * @example hn.F.nllLoss(hn.F.logSoftmax(logits, 1), target)
 */
export function nllLoss(input: Tensor, target: Tensor, options: NllLossOptions = {}): Tensor {
  const op = 'nllLoss';
  const opts = checkOptions(op, options);
  const p = classProblem(op, input, target, opts);
  const weightTensor = isTensor(opts.weight) ? opts.weight : null;
  const device = commonDevice(op, [['input', input], ['target', target], ['weight', weightTensor]]);
  if (device !== 'cpu') return nllLossOnDevice(input, target, weightTensor, p);
  const rowLoss = new Float32Array(p.dims[0] * p.dims[2]);
  const totals = native.nllLossForward(input.floatData(), p.target, p.weight, p.dims, p.ignoreIndex, rowLoss);
  const out = reduceRows(p.reduction, rowLoss, p.rowShape, totals.loss, totals.weight);
  const attrs = { ignoreIndex: p.ignoreIndex, reduction: p.reduction, hasWeight: weightTensor !== null };
  return record(out, op, attrs, weightTensor ? [input, target, weightTensor] : [input, target], (g) => {
    const [gradRow, scale] = gradRows(p.reduction, g, totals.weight);
    const gx = Tensor.empty(input.shape);
    native.nllLossBackward(p.target, p.weight, gradRow, scale, p.dims, p.ignoreIndex, gx.data as Float32Array);
    return [gx, null, null];
  });
}

// ---- Point-wise losses ------------------------------------------------------------------------

const Kind = { mse: 0, l1: 1, smoothL1: 2, huber: 3, bceWithLogits: 4 } as const;

/** weight / posWeight broadcast to the input's shape (materialised: the kernel reads n values). */
function expandTo(op: string, arg: string, value: unknown, shape: readonly number[]): KernelBuffer | null {
  if (value === undefined || value === null) return null;
  const t = checkFloatTensor(op, arg, value);
  let ok = t.ndim <= shape.length;
  if (ok) {
    try {
      ok = shapeString(broadcastShapes(op, t.shape, shape)) === shapeString(shape);
    } catch {
      ok = false;
    }
  }
  if (!ok) throw argRangeError(op, arg, `broadcastable to the input shape ${shapeString(shape)}`, `shape ${shapeString(t.shape)}`);
  if (shapeString(t.shape) === shapeString(shape)) return t.buffer(op, arg);
  return binaryRaw('add', t, Tensor.empty(shape, 'float32', t.device)).buffer(op, arg);
}

function pointwise(op: string, kind: number, input: unknown, target: unknown, opts: Record<string, unknown>, beta: number,
  weight: KernelBuffer | null = null, posWeight: KernelBuffer | null = null, extraAttrs: Record<string, unknown> = {},
  extraInputs: Tensor[] = []): Tensor {
  const x = checkFloatTensor(op, 'input', input);
  const t = checkFloatTensor(op, 'target', target);
  if (shapeString(x.shape) !== shapeString(t.shape)) {
    throw argRangeError(op, 'target', `of the input's shape ${shapeString(x.shape)} (no broadcasting)`, `shape ${shapeString(t.shape)}`);
  }
  const reduction = checkReduction(op, opts.reduction);
  const device = commonDevice(op, [['input', x], ['target', t], ...extraInputs.map((e) => ['weight or posWeight', e] as const)]);
  if (device !== 'cpu') return pointwiseOnDevice(op, kind, x, t, reduction, beta, weight, posWeight, extraAttrs, extraInputs);
  const perElement = reduction === 'none' ? Tensor.empty(x.shape) : null;
  const total = native.pointwiseLossForward(kind, x.floatData(), t.floatData(), weight, posWeight, beta,
    perElement ? (perElement.data as Float32Array) : null);
  const n = x.numel;
  const out = perElement ?? new Tensor(new Float32Array([reduction === 'sum' ? total : total / n]), []);
  return record(out, op, { reduction, ...extraAttrs }, [x, t, ...extraInputs], (g) => {
    const [gradOut, scale] = gradRows(reduction, g, n);
    const gx = x.requiresGrad ? Tensor.empty(x.shape) : null;
    const gt = t.requiresGrad ? Tensor.empty(t.shape) : null;
    native.pointwiseLossBackward(kind, x.floatData(), t.floatData(), weight, posWeight, beta, gradOut, scale,
      gx ? (gx.data as Float32Array) : null, gt ? (gt.data as Float32Array) : null);
    return [gx, gt, ...extraInputs.map(() => null)];
  });
}

/** A point-wise loss on CUDA tensors: the same semantics through the CUDA kernels. */
function pointwiseOnDevice(op: string, kind: number, x: Tensor, t: Tensor, reduction: Reduction, beta: number,
  weight: KernelBuffer | null, posWeight: KernelBuffer | null, extraAttrs: Record<string, unknown>, extraInputs: Tensor[]): Tensor {
  const device = x.device;
  const k = kernelsFor<CudaLossBindings>(op, device);
  const perElement = reduction === 'none' ? Tensor.empty(x.shape, 'float32', device) : null;
  const total = k.pointwiseLossForward(kind, x.buffer(op, 'input'), t.buffer(op, 'target'), weight, posWeight, beta,
    perElement ? perElement.buffer() : null);
  const n = x.numel;
  const out = perElement ?? scalarOn(reduction === 'sum' ? total : total / n, device);
  return record(out, op, { reduction, ...extraAttrs }, [x, t, ...extraInputs], (g) => {
    // 'sum' / 'mean': the upstream gradient is a scalar; reading it waits for the device.
    const gradOut = reduction === 'none' ? g.buffer(op, 'gradOutput') : null;
    const scale = reduction === 'none' ? 0 : reduction === 'sum' ? g.item() : g.item() / n;
    const gx = x.requiresGrad ? Tensor.empty(x.shape, 'float32', device) : null;
    const gt = t.requiresGrad ? Tensor.empty(t.shape, 'float32', device) : null;
    k.pointwiseLossBackward(kind, x.buffer(), t.buffer(), weight, posWeight, beta, gradOut, scale, gx ? gx.buffer() : null,
      gt ? gt.buffer() : null);
    return [gx, gt, ...extraInputs.map(() => null)];
  });
}

/**
 * Mean squared error (x - t)^2; target must have the input's shape.
 * @example hn.F.mseLoss(prediction, target, { reduction: 'sum' })
 */
export function mseLoss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  return pointwise('mseLoss', Kind.mse, input, target, checkOptions('mseLoss', options), 0);
}

/** Mean absolute error |x - t|. */
export function l1Loss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  return pointwise('l1Loss', Kind.l1, input, target, checkOptions('l1Loss', options), 0);
}

/** 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = x - t; beta = 1 by default). */
export function smoothL1Loss(input: Tensor, target: Tensor, options: ReductionOptions & { beta?: number } = {}): Tensor {
  const op = 'smoothL1Loss';
  const opts = checkOptions(op, options);
  const beta = checkNumber(op, 'beta', opts.beta, 1, 0, Number.MAX_VALUE, 'a finite non-negative number');
  return pointwise(op, Kind.smoothL1, input, target, opts, beta, null, null, { beta });
}

/** 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere (delta = 1 by default). */
export function huberLoss(input: Tensor, target: Tensor, options: ReductionOptions & { delta?: number } = {}): Tensor {
  const op = 'huberLoss';
  const opts = checkOptions(op, options);
  const delta = checkNumber(op, 'delta', opts.delta, 1, Number.MIN_VALUE, Number.MAX_VALUE, 'a finite positive number');
  return pointwise(op, Kind.huber, input, target, opts, delta, null, null, { delta });
}

export interface BceWithLogitsOptions extends ReductionOptions {
  /** Rescales each element's loss; broadcast to the input's shape. */
  weight?: Tensor | null;
  /** Weight of the positive term, e.g. one per class [C]; broadcast to the input's shape. */
  posWeight?: Tensor | null;
}

/**
 * Binary cross entropy on logits, in the stable form max(x, 0) - x t + log(1 + exp(-|x|))
 * (with posWeight: (1 - t) x + (1 + (posWeight - 1) t) log(1 + exp(-x))). No gradient flows to
 * weight or posWeight.
 * @example hn.F.binaryCrossEntropyWithLogits(logits, labels, { posWeight: hn.tensor([3]) })
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  const opts = checkOptions(op, options);
  const x = checkFloatTensor(op, 'input', input);
  const weight = expandTo(op, 'weight', opts.weight, x.shape);
  const posWeight = expandTo(op, 'posWeight', opts.posWeight, x.shape);
  // The original (unexpanded) tensors are recorded as inputs x, target, weight?, posWeight?.
  const extra = [opts.weight, opts.posWeight].filter(isTensor);
  return pointwise(op, Kind.bceWithLogits, input, target, opts, 0, weight, posWeight,
    { hasWeight: weight !== null, hasPosWeight: posWeight !== null }, extra);
}
