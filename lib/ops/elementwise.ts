// Element-wise ops: broadcasting binary arithmetic and unary maps, each with its chain rule.
import { record } from '../autograd';
import { argTypeError, describeValue } from '../errors';
import { bindings } from '../native';
import { DeviceHandle, KernelBuffer, Tensor, cudaMemory, isTensor } from '../tensor';
import { broadcastShapes, broadcastStrides, reducedDims } from './broadcast';
import { commonDevice, kernelsFor } from './device';

// One table per device (lib/ops/device.ts): arrays are host arrays or device buffer handles.
interface ElementwiseBindings {
  binaryForward(kind: number, a: KernelBuffer, aStrides: number[], b: KernelBuffer, bStrides: number[], out: KernelBuffer, shape: readonly number[]): void;
  unaryForward(kind: number, x: KernelBuffer, y: KernelBuffer, scalar: number): void;
  unaryBackward(kind: number, x: KernelBuffer, y: KernelBuffer, gradOutput: KernelBuffer, gradInput: KernelBuffer, scalar: number): void;
  axpy(alpha: number, x: KernelBuffer, y: KernelBuffer): void;
  reduceSum(x: KernelBuffer, shape: readonly number[], mask: number[], scale: number, out: KernelBuffer): void;
}
const native = bindings<ElementwiseBindings>();
const kernels = (op: string, t: Tensor): ElementwiseBindings => (t.device === 'cpu' ? native : kernelsFor<ElementwiseBindings>(op, t.device));

export const Binary = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 } as const;
export const Unary = {
  neg: 0, exp: 1, log: 2, sqrt: 3, abs: 4, relu: 5, sigmoid: 6, tanh: 7, pow: 8, addScalar: 9, mulScalar: 10, reciprocal: 11,
} as const;

function asTensor(op: string, arg: string, value: Tensor | number): Tensor | number {
  if (typeof value === 'number') return value;
  if (!isTensor(value)) throw argTypeError(op, arg, 'a tensor or a number', describeValue(value));
  value.buffer(op, arg);
  return value;
}

/** a op b with broadcasting, no autograd (the kernels behind add/sub/mul/div). */
export function binaryRaw(op: keyof typeof Binary, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(op, a.shape, b.shape);
  const device = commonDevice(op, [['input', a], ['other', b]]);
  const out = Tensor.uninitialized(shape, device);
  kernels(op, out).binaryForward(Binary[op], a.buffer(op, 'input'), broadcastStrides(a.shape, shape),
    b.buffer(op, 'other'), broadcastStrides(b.shape, shape), out.buffer(), shape);
  return out;
}

export function unaryRaw(op: keyof typeof Unary, x: Tensor, scalar = 0): Tensor {
  const out = Tensor.uninitialized(x.shape, x.device);
  kernels(op, x).unaryForward(Unary[op], x.buffer(op, 'input'), out.buffer(), scalar);
  return out;
}

/** Sums a broadcast gradient back to `shape`. */
export function sumToShape(grad: Tensor, shape: readonly number[]): Tensor {
  const mask = reducedDims(shape, grad.shape);
  if (!mask.includes(1)) return grad.shape.length === shape.length ? grad : new Tensor(grad.shareStorage(), shape);
  const out = Tensor.empty(shape, 'float32', grad.device);
  kernels('sumToShape', grad).reduceSum(grad.buffer('sumToShape', 'grad'), grad.shape, mask, 1, out.buffer());
  return out;
}

export function addRaw(a: Tensor, b: Tensor): Tensor {
  return binaryRaw('add', a, b);
}

/** target += grad, in place (shapes must match). */
export function addInto(target: Tensor, grad: Tensor): void {
  commonDevice('addInto', [['target', target], ['grad', grad]]);
  kernels('addInto', target).axpy(1, grad.buffer('addInto', 'grad'), target.buffer('addInto', 'target'));
}

export function clone(x: Tensor): Tensor {
  let out: Tensor;
  if (x.device === 'cpu') {
    out = new Tensor(x.data.slice(), x.shape);
  } else {
    out = Tensor.empty(x.shape, x.dtype, x.device);
    const handle = (t: Tensor): DeviceHandle => (t.dtype === 'int32' ? t.intBuffer('clone', 'input') : t.buffer('clone', 'input')) as DeviceHandle;
    if (x.numel > 0) cudaMemory('clone').copy(handle(out), handle(x));
  }
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
    const gx = Tensor.uninitialized(x.shape, x.device);
    kernels(name, x).unaryBackward(Unary[op], x.buffer(), out.buffer(), g.buffer(name, 'gradOutput'), gx.buffer(), scalar);
    return [gx];
  });
}

export const neg = (x: Tensor): Tensor => unary('neg', 'neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', 'exp', x);
export const log = (x: Tensor): Tensor => unary('log', 'log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', 'sqrt', x);
export const abs = (x: Tensor): Tensor => unary('abs', 'abs', x);
export const relu = (x: Tensor): Tensor => unary('relu', 'relu', x);

/**
 * @internal relu over x's own memory, no autograd: for a fresh intermediate that nothing else
 * can see (nn.Sequential, grad disabled, right after a layer that allocated it). Returns x.
 */
export function reluInPlace(x: Tensor): Tensor {
  kernels('relu', x).unaryForward(Unary.relu, x.buffer('relu', 'input'), x.buffer('relu', 'input'), 0);
  return x;
}
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
