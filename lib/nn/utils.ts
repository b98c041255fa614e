// hn.nn.utils: gradient clipping with PyTorch's semantics (torch.nn.utils.clip_grad_norm_ and
// clip_grad_value_). Every pass over a gradient is a native kernel; JS only loops over parameters.
//
//   loss.backward();
//   const norm = hn.nn.utils.clipGradNorm_(model.parameters(), 1.0); // total norm before clipping
//   optimizer.step();
import { argRangeError, argTypeError, describeValue } from '../errors';
import { bindings } from '../native';
import { sumAll } from '../ops/sum_all';
import { Tensor, isTensor } from '../tensor';

interface ClipBindings {
  binaryForward(kind: number, a: Float32Array, aStrides: number[], b: Float32Array, bStrides: number[], out: Float32Array, shape: readonly number[]): void;
  unaryForward(kind: number, x: Float32Array, y: Float32Array, scalar: number): void;
}
const native = bindings<ClipBindings>();
const MUL = 2, MAXIMUM = 4, MINIMUM = 5; // BinaryKind
const ABS = 4, POW = 8; // UnaryKind

export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or ±Inf instead of scaling by it (PyTorch's error_if_nonfinite). */
  errorIfNonfinite?: boolean;
}

/** The .grad arrays of the parameters that have one. */
function gradients(op: string, parameters: Tensor | Iterable<Tensor>): Float32Array[] {
  const list = isTensor(parameters) ? [parameters] : parameters;
  if (list === null || typeof list !== 'object' || typeof (list as Iterable<Tensor>)[Symbol.iterator] !== 'function') {
    throw argTypeError(op, 'parameters', 'a tensor or an iterable of tensors (e.g. model.parameters())', describeValue(parameters));
  }
  const out: Float32Array[] = [];
  let i = 0;
  for (const p of list as Iterable<Tensor>) {
    if (!isTensor(p)) throw argTypeError(op, `parameters[${i}]`, 'a tensor', describeValue(p));
    if (p.grad) out.push(p.grad.floatData(op, `parameters[${i}].grad`));
    i++;
  }
  return out;
}

/** max |x| by halving: max(x[0:m], x[n-m:n]) into x[0:m], log2(n) native passes; x is scratch. */
function maxInPlace(x: Float32Array): number {
  let n = x.length;
  while (n > 1) {
    const m = n >> 1;
    const low = x.subarray(0, m);
    native.binaryForward(MAXIMUM, low, [1], x.subarray(n - m, n), [1], low, [m]);
    n -= m;
  }
  return x[0];
}

/** ‖g‖_p of one gradient; `scratch` holds at least g.length floats. */
function vectorNorm(g: Float32Array, p: number, scratch: Float32Array): number {
  if (g.length === 0) return 0;
  const tmp = scratch.subarray(0, g.length);
  if (p === 2) {
    native.binaryForward(MUL, g, [1], g, [1], tmp, [g.length]);
    return Math.sqrt(sumAll(tmp));
  }
  native.unaryForward(ABS, g, tmp, 0);
  if (p === Infinity) return maxInPlace(tmp);
  if (p !== 1) native.unaryForward(POW, tmp, tmp, p);
  return sumAll(tmp) ** (1 / p);
}

function normOrder(op: string, normType: unknown): number {
  if (normType === 'inf') return Infinity;
  if (typeof normType !== 'number' || Number.isNaN(normType) || normType <= 0) {
    throw argRangeError(op, 'normType', "a positive number, Infinity or 'inf'", describeValue(normType));
  }
  return normType;
}

/**
 * Scales the gradients in place so that their total norm (the norm of all of them concatenated)
 * is at most `maxNorm`, and returns that total norm, measured before clipping, as a scalar tensor.
 * Like PyTorch: the scale is maxNorm / (total + 1e-6), capped at 1; a NaN or infinite total
 * scales the gradients by NaN/0 unless `errorIfNonfinite` asks for an error; parameters without
 * a gradient are skipped.
 * @example const total = hn.nn.utils.clipGradNorm_(model.parameters(), 5).item();
 */
export function clipGradNorm_(parameters: Tensor | Iterable<Tensor>, maxNorm: number, normType: number | 'inf' = 2,
  { errorIfNonfinite = false }: ClipGradNormOptions = {}): Tensor {
  const op = 'clipGradNorm_';
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw argTypeError(op, 'maxNorm', 'a number', describeValue(maxNorm));
  const p = normOrder(op, normType);
  const grads = gradients(op, parameters);
  if (grads.length === 0) return new Tensor(new Float32Array([0]), []);
  const scratch = new Float32Array(Math.max(...grads.map((g) => g.length)));
  const norms = grads.map((g) => vectorNorm(g, p, scratch));
  const total = p === Infinity ? Math.max(...norms) : p === 2 ? Math.sqrt(norms.reduce((s, v) => s + v * v, 0))
    : norms.reduce((s, v) => s + v ** p, 0) ** (1 / p);
  // PyTorch computes and returns the norm in float32.
  const total32 = Math.fround(total);
  if (errorIfNonfinite && !Number.isFinite(total32)) {
    throw new RangeError(`${op}: the total norm of order ${p} of the gradients is ${total32}, so they cannot be clipped; `
      + 'pass {errorIfNonfinite: false} to scale them by it anyway');
  }
  // Math.min keeps NaN as torch.clamp does: a NaN total makes every gradient NaN, as in PyTorch.
  const scale = Math.min(maxNorm / (total32 + 1e-6), 1);
  // (binaryForward with a broadcast scalar: unaryForward's scalar must be finite.)
  const factor = new Float32Array([scale]);
  if (scale !== 1) for (const g of grads) if (g.length > 0) native.binaryForward(MUL, g, [1], factor, [0], g, [g.length]);
  return new Tensor(new Float32Array([total32]), []);
}

/** Clamps every gradient element to [-clipValue, clipValue] in place (PyTorch's clip_grad_value_). */
export function clipGradValue_(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  const op = 'clipGradValue_';
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue) || clipValue < 0) {
    throw argRangeError(op, 'clipValue', 'a non-negative number', describeValue(clipValue));
  }
  const high = new Float32Array([clipValue]);
  const low = new Float32Array([-clipValue]);
  for (const g of gradients(op, parameters)) {
    if (g.length === 0) continue;
    native.binaryForward(MINIMUM, g, [1], high, [0], g, [g.length]);
    native.binaryForward(MAXIMUM, g, [1], low, [0], g, [g.length]);
  }
}
