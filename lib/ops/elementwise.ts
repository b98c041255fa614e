// Element-wise ops: broadcasting binary arithmetic and unary maps, each with its chain rule.
import { record } from '../autograd';
import { argTypeError, describeValue } from '../errors';
import { bindings } from '../native';
import { Tensor, isTensor } from '../tensor';
import { broadcastShapes, broadcastStrides, reducedDims } from './broadcast';

interface ElementwiseBindings {
  binaryForward(kind: number, a: Float32Array, aStrides: number[], b: Float32Array, bStrides: number[], out: Float32Array, shape: readonly number[]): void;
  unaryForward(kind: number, x: Float32Array, y: Float32Array, scalar: number): void;
  unaryBackward(kind: number, x: Float32Array, y: Float32Array, gradOutput: Float32Array, gradInput: Float32Array, scalar: number): void;
  axpy(alpha: number, x: Float32Array, y: Float32Array): void;
  reduceSum(x: Float32Array, shape: readonly number[], mask: number[], scale: number, out: Float32Array): void;
}
const native = bindings<ElementwiseBindings>();

export const Binary = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 } as const;
export const Unary = {
  neg: 0, exp: 1, log: 2, sqrt: 3, abs: 4, relu: 5, sigmoid: 6, tanh: 7, pow: 8, addScalar: 9, mulScalar: 10, reciprocal: 11,
} as const;

function asTensor(op: string, arg: string, value: Tensor | number): Tensor | number {
  if (typeof value === 'number') return value;
  if (!isTensor(value)) throw argTypeError(op, arg, 'a tensor or a number', describeValue(value));
  value.floatData(op, arg);
  return value;
}

/** a op b with broadcasting, no autograd (the kernels behind add/sub/mul/div). */
export function binaryRaw(op: keyof typeof Binary, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = Tensor.empty(shape);
  native.binaryForward(Binary[op], a.floatData(op, 'input'), broadcastStrides(a.shape, shape),
    b.floatData(op, 'other'), broadcastStrides(b.shape, shape), out.data as Float32Array, shape);
  return out;
}

export function unaryRaw(op: keyof typeof Unary, x: Tensor, scalar = 0): Tensor {
  const out = Tensor.empty(x.shape);
  native.unaryForward(Unary[op], x.floatData(op, 'input'), out.data as Float32Array, scalar);
  return out;
}

/** Sums a broadcast gradient back to `shape`. */
export function sumToShape(grad: Tensor, shape: readonly number[]): Tensor {
  const mask = reducedDims(shape, grad.shape);
  if (!mask.includes(1)) return grad.shape.length === shape.length ? grad : new Tensor(grad.shareStorage(), shape);
  const out = Tensor.empty(shape);
  native.reduceSum(grad.floatData(), grad.shape, mask, 1, out.data as Float32Array);
  return out;
}

export function addRaw(a: Tensor, b: Tensor): Tensor {
  return binaryRaw('add', a, b);
}

/** target += grad, in place (shapes must match). */
export function addInto(target: Tensor, grad: Tensor): void {
  native.axpy(1, grad.floatData('addInto', 'grad'), target.floatData('addInto', 'target'));
}

export function clone(x: Tensor): Tensor {
  const out = new Tensor(x.data.slice(), x.shape);
  return record(out, 'clone', {}, [x], (g) => [g]);
}

function scalarTensor(v: number): Tensor {
  return new Tensor(new Float32Array([v]), []);
}

export function add(a: Tensor, b: Tensor | number): Tensor {
  asTensor('add', 'input', a);
  const other = asTensor('add', 'other', b);
  if (typeof other === 'number') {
    const out = unaryRaw('addScalar', a, other);
    return record(out, 'add', { scalar: other }, [a], (g) => [g]);
  }
  const out = binaryRaw('add', a, other);
  return record(out, 'add', {}, [a, other], (g) => [sumToShape(g, a.shape), sumToShape(g, other.shape)]);
}

export function sub(a: Tensor, b: Tensor | number): Tensor {
  asTensor('sub', 'input', a);
  const other = asTensor('sub', 'other', b);
  if (typeof other === 'number') {
    const out = unaryRaw('addScalar', a, -other);
    return record(out, 'sub', { scalar: other }, [a], (g) => [g]);
  }
  const out = binaryRaw('sub', a, other);
  return record(out, 'sub', {}, [a, other], (g) => [
    sumToShape(g, a.shape),
    other.requiresGrad ? sumToShape(unaryRaw('neg', g), other.shape) : null,
  ]);
}

export function mul(a: Tensor, b: Tensor | number): Tensor {
  asTensor('mul', 'input', a);
  const other = asTensor('mul', 'other', b);
  if (typeof other === 'number') {
    const out = unaryRaw('mulScalar', a, other);
    return record(out, 'mul', { scalar: other }, [a], (g) => [unaryRaw('mulScalar', g, other)]);
  }
  const out = binaryRaw('mul', a, other);
  return record(out, 'mul', {}, [a, other], (g) => [
    a.requiresGrad ? sumToShape(binaryRaw('mul', g, other), a.shape) : null,
    other.requiresGrad ? sumToShape(binaryRaw('mul', g, a), other.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor | number): Tensor {
  asTensor('div', 'input', a);
  const other = asTensor('div', 'other', b);
  if (typeof other === 'number') {
    const out = unaryRaw('mulScalar', a, 1 / other);
    return record(out, 'div', { scalar: other }, [a], (g) => [unaryRaw('mulScalar', g, 1 / other)]);
  }
  const out = binaryRaw('div', a, other);
  return record(out, 'div', {}, [a, other], (g) => [
    a.requiresGrad ? sumToShape(binaryRaw('div', g, other), a.shape) : null,
    // d(a/b)/db = -a/b^2 = -out/b
    other.requiresGrad ? sumToShape(unaryRaw('neg', binaryRaw('div', binaryRaw('mul', g, out), other)), other.shape) : null,
  ]);
}

function unary(op: keyof typeof Unary, name: string, x: Tensor, scalar = 0, attrs: Record<string, unknown> = {}): Tensor {
  if (!isTensor(x)) throw argTypeError(name, 'input', 'a tensor', describeValue(x));
  const out = unaryRaw(op, x, scalar);
  return record(out, name, attrs, [x], (g) => {
    const gx = Tensor.empty(x.shape);
    native.unaryBackward(Unary[op], x.floatData(), out.floatData(), g.floatData(), gx.data as Float32Array, scalar);
    return [gx];
  });
}

export const neg = (x: Tensor): Tensor => unary('neg', 'neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', 'exp', x);
export const log = (x: Tensor): Tensor => unary('log', 'log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', 'sqrt', x);
export const abs = (x: Tensor): Tensor => unary('abs', 'abs', x);
export const relu = (x: Tensor): Tensor => unary('relu', 'relu', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', 'sigmoid', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', 'tanh', x);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', 'reciprocal', x);

export function pow(x: Tensor, exponent: number): Tensor {
  if (typeof exponent !== 'number' || !Number.isFinite(exponent)) {
    throw argTypeError('pow', 'exponent', 'a finite number', describeValue(exponent));
  }
  return unary('pow', 'pow', x, exponent, { exponent });
}

export { scalarTensor };
