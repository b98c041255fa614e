// Tensor: an n-d array (float32 or int32) on a device, with an autograd node when it is the
// result of a recorded op. CPU memory is an ArrayBuffer V8 allocates and accounts for; native
// kernels borrow its pointer for the length of a call.
import { GradNode, runBackwardMany } from './autograd';
import { addon } from './native';
import { argRangeError, argTypeError, describeValue, shapeString } from './errors';
import { defaultGenerator } from './random';
import * as elementwise from './ops/elementwise';
import * as reduce from './ops/reduce';
import * as shapeOps from './ops/shape';
import * as linalg from './ops/linalg';

export type DType = 'float32' | 'int32';
export type Device = 'cpu' | `cuda:${number}`;
export type TypedStorage = Float32Array | Int32Array;

export interface TensorOptions {
  shape?: readonly number[];
  dtype?: DType;
  requiresGrad?: boolean;
  device?: Device | 'cuda';
}

/** Memory shared by a tensor and its views (reshape, detach); freed when the last one disposes. */
export class Storage {
  refs = 1;
  constructor(public array: TypedStorage | null) {}

  release(): void {
    if (--this.refs > 0 || !this.array) return;
    const buffer = this.array.buffer;
    this.array = null;
    (addon.detachBuffer as (b: ArrayBufferLike) => void)(buffer);
  }
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  gradFn: GradNode | null = null;
  /** Non-leaf tensors keep their .grad only when asked (retainGrad()). */
  retainsGrad = false;
  /** Set by nn.Module for parameters: their dotted name, used in error messages and export. */
  name: string | undefined = undefined;
  private storage: Storage;
  private disposed = false;

  /** Low level: wraps storage without copying. Use hn.tensor() and friends instead. */
  constructor(storage: Storage | TypedStorage, shape: readonly number[], device: Device = 'cpu') {
    this.storage = storage instanceof Storage ? storage : new Storage(storage);
    const array = this.storage.array;
    if (!array) throw argTypeError('Tensor', 'storage', 'live memory', 'a disposed tensor');
    this.shape = Object.freeze([...shape]);
    this.dtype = array instanceof Int32Array ? 'int32' : 'float32';
    this.device = device;
    this.requiresGrad = false;
    if (numelOf(shape) !== array.length) {
      throw argRangeError('Tensor', 'shape', `${array.length} elements`, `${shapeString(shape)} (${numelOf(shape)})`);
    }
  }

  /** Uninitialised-free (zero-filled) tensor; V8 allocates and zeroes the memory. */
  static empty(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    const n = numelOf(shape);
    return new Tensor(dtype === 'int32' ? new Int32Array(n) : new Float32Array(n), shape);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  get isDisposed(): boolean {
    return this.disposed || this.storage.array === null;
  }

  /** The live storage (borrowed, not copied). Throws on a disposed tensor. */
  get data(): TypedStorage {
    const array = this.storage.array;
    if (this.disposed || !array) {
      throw argTypeError('tensor', 'tensor', 'a live tensor', `a disposed tensor of shape ${shapeString(this.shape)}`);
    }
    return array;
  }

  /** Float32 storage; throws a TypeError naming `op` for int32 tensors. */
  floatData(op = 'tensor', arg = 'input'): Float32Array {
    const data = this.data;
    if (!(data instanceof Float32Array)) throw argTypeError(op, arg, 'a float32 tensor', `an ${this.dtype} tensor`);
    return data;
  }

  /** A typed-array copy of the values. */
  toArray(): TypedStorage {
    return this.data.slice();
  }

  /** The values as nested JS arrays (for printing and tests). */
  toList(): unknown {
    const flat = Array.from(this.data);
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return flat[offset];
      const stride = numelOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  item(): number {
    const data = this.data;
    if (data.length !== 1) throw argRangeError('item', 'tensor', 'a tensor with one element', `shape ${shapeString(this.shape)}`);
    return data[0];
  }

  /** Releases the memory now (shared views keep it until they are disposed too). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gradFn = null;
    this.storage.release();
  }

  /** Shares storage, no autograd history. */
  detach(): Tensor {
    const out = new Tensor(this.shareStorage(), this.shape, this.device);
    return out;
  }

  clone(): Tensor {
    return elementwise.clone(this);
  }

  /** @internal Identifies the memory: views of one tensor return the same object. */
  get storageKey(): object {
    return this.storage;
  }

  /** @internal A new reference to this tensor's storage (for views). */
  shareStorage(): Storage {
    if (this.isDisposed) this.data; // throws the disposed error
    this.storage.refs++;
    return this.storage;
  }

  to(device: Device | 'cuda'): Tensor {
    const target = device === 'cuda' ? 'cuda:0' : device;
    if (target === this.device) return this;
    if (target === 'cpu') return this;
    throw argRangeError('to', 'device', "'cpu' (CUDA tensors need a CUDA build and a GPU)", `'${device}'`);
  }

  requiresGrad_(flag = true): this {
    if (flag && this.dtype !== 'float32') throw argTypeError('requiresGrad_', 'tensor', 'a float32 tensor', `an ${this.dtype} tensor`);
    this.requiresGrad = flag;
    return this;
  }

  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /** Backpropagates from this tensor; a scalar needs no gradient argument. */
  backward(gradient?: Tensor): void {
    if (!this.requiresGrad) {
      throw argTypeError('backward', 'tensor', 'a tensor that requires grad', 'one that does not (no input requires grad, or it was computed under noGrad)');
    }
    let seed = gradient;
    if (!seed) {
      if (this.numel !== 1) throw argRangeError('backward', 'gradient', `given for a non-scalar output of shape ${shapeString(this.shape)}`, 'none');
      seed = full(this.shape, 1);
    } else if (shapeString(seed.shape) !== shapeString(this.shape)) {
      throw argRangeError('backward', 'gradient', `shape ${shapeString(this.shape)}`, `shape ${shapeString(seed.shape)}`);
    }
    runBackwardMany([this], [seed], accumulators);
  }

  // Arithmetic (broadcasting, PyTorch semantics).
  add(other: Tensor | number): Tensor { return elementwise.add(this, other); }
  sub(other: Tensor | number): Tensor { return elementwise.sub(this, other); }
  mul(other: Tensor | number): Tensor { return elementwise.mul(this, other); }
  div(other: Tensor | number): Tensor { return elementwise.div(this, other); }
  neg(): Tensor { return elementwise.neg(this); }
  exp(): Tensor { return elementwise.exp(this); }
  log(): Tensor { return elementwise.log(this); }
  sqrt(): Tensor { return elementwise.sqrt(this); }
  abs(): Tensor { return elementwise.abs(this); }
  pow(exponent: number): Tensor { return elementwise.pow(this, exponent); }
  relu(): Tensor { return elementwise.relu(this); }
  sigmoid(): Tensor { return elementwise.sigmoid(this); }
  tanh(): Tensor { return elementwise.tanh(this); }

  sum(dim?: number | readonly number[], keepdim = false): Tensor { return reduce.sum(this, dim, keepdim); }
  mean(dim?: number | readonly number[], keepdim = false): Tensor { return reduce.mean(this, dim, keepdim); }

  matmul(other: Tensor): Tensor { return linalg.matmul(this, other); }

  reshape(...shape: (number | readonly number[])[]): Tensor { return shapeOps.reshape(this, flattenShapeArgs(shape)); }
  view(...shape: (number | readonly number[])[]): Tensor { return shapeOps.reshape(this, flattenShapeArgs(shape)); }
  flatten(startDim = 0, endDim = -1): Tensor { return shapeOps.flatten(this, startDim, endDim); }

  toString(): string {
    return `Tensor(shape=${shapeString(this.shape)}, dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

const accumulators = { add: elementwise.addRaw, addInto: elementwise.addInto, clone: elementwise.clone };

/**
 * Backpropagates from several outputs at once, each with its gradient (torch.autograd.backward):
 * shared parts of the graph are walked once with the summed gradient.
 */
export function backward(tensors: readonly Tensor[], gradients: readonly Tensor[]): void {
  if (tensors.length !== gradients.length) {
    throw argRangeError('backward', 'gradients', `one gradient per tensor (${tensors.length})`, `${gradients.length}`);
  }
  tensors.forEach((t, i) => {
    if (!t.requiresGrad) throw argTypeError('backward', `tensors[${i}]`, 'a tensor that requires grad', 'one that does not');
    if (shapeString(gradients[i].shape) !== shapeString(t.shape)) {
      throw argRangeError('backward', `gradients[${i}]`, `shape ${shapeString(t.shape)}`, `shape ${shapeString(gradients[i].shape)}`);
    }
  });
  runBackwardMany(tensors, gradients, accumulators);
}

/**
 * @internal Backward from `tensors` that stops at `sinks` and returns the gradient that reached
 * each sink (null where none did). Leaves before the sinks accumulate .grad as usual.
 */
export function backwardToSinks(tensors: readonly Tensor[], gradients: readonly Tensor[], sinks: readonly Tensor[]): (Tensor | null)[] {
  const captured = runBackwardMany(tensors, gradients, accumulators, new Set(sinks));
  return sinks.map((s) => captured.get(s) ?? null);
}

function flattenShapeArgs(args: readonly (number | readonly number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return [...(args[0] as number[])];
  return args as number[];
}

// ---- Creation -------------------------------------------------------------------------------

function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw argTypeError(op, 'shape', 'an array of non-negative integers', describeValue(shape));
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw argRangeError(op, `shape[${i}]`, 'a non-negative integer', describeValue(d));
    }
  });
  const n = numelOf(shape as number[]);
  if (n > 2 ** 32) throw argRangeError(op, 'shape', 'at most 2^32 elements', `${shapeString(shape as number[])} (${n})`);
  return shape as number[];
}

function checkDevice(op: string, device: unknown): Device {
  if (device === undefined || device === 'cpu') return 'cpu';
  if (typeof device === 'string' && /^cuda(:\d+)?$/.test(device)) {
    throw argRangeError(op, 'device', "'cpu' (this tensor cannot live on CUDA: no CUDA device available)", `'${device}'`);
  }
  throw argRangeError(op, 'device', "'cpu' or 'cuda:N'", describeValue(device));
}

function finish(t: Tensor, opts: TensorOptions | undefined, op: string): Tensor {
  checkDevice(op, opts?.device);
  if (opts?.requiresGrad) t.requiresGrad_(true);
  return t;
}

type NestedNumbers = number | readonly NestedNumbers[];

function inferShape(data: NestedNumbers, op: string): number[] {
  const shape: number[] = [];
  let level: NestedNumbers = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = (level as readonly NestedNumbers[])[0];
    if (level === undefined) break;
  }
  if (level !== undefined && typeof level !== 'number') {
    throw argTypeError(op, 'data', 'numbers or nested arrays of numbers', describeValue(level));
  }
  return shape;
}

/**
 * Creates a tensor from a typed array (copied), a number or nested arrays.
 * @example hn.tensor([[1, 2], [3, 4]]) // shape [2, 2], float32
 * @example hn.tensor(new Int32Array([3, 1]), { dtype: 'int32' })
 */
export function tensor(data: TypedStorage | NestedNumbers | ArrayLike<number>, opts: TensorOptions = {}): Tensor {
  const op = 'tensor';
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
  if (dtype !== 'float32' && dtype !== 'int32') throw argTypeError(op, 'dtype', "'float32' or 'int32'", describeValue(dtype));
  let flat: ArrayLike<number>;
  let shape: number[];
  if (typeof data === 'number') {
    flat = [data];
    shape = [];
  } else if (ArrayBuffer.isView(data)) {
    flat = data as unknown as ArrayLike<number>;
    shape = [flat.length];
  } else if (Array.isArray(data)) {
    shape = inferShape(data as NestedNumbers, op);
    flat = (data as unknown[]).flat(Infinity) as number[];
    if (flat.length !== numelOf(shape)) throw argRangeError(op, 'data', `a rectangular nested array of shape ${shapeString(shape)}`, `${flat.length} numbers (ragged)`);
  } else {
    throw argTypeError(op, 'data', 'a typed array, a number or nested arrays', describeValue(data));
  }
  if (opts.shape) {
    shape = checkShape(op, opts.shape);
    if (numelOf(shape) !== flat.length) throw argRangeError(op, 'shape', `a shape with ${flat.length} elements`, `${shapeString(shape)} (${numelOf(shape)})`);
  }
  const storage = dtype === 'int32' ? new Int32Array(flat.length) : new Float32Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (typeof v !== 'number') throw argTypeError(op, `data[${i}]`, 'a number', describeValue(v));
    if (dtype === 'int32' && !Number.isInteger(v)) throw argRangeError(op, `data[${i}]`, 'an integer for an int32 tensor', String(v));
    storage[i] = v;
  }
  return finish(new Tensor(storage, shape), opts, op);
}

export function full(shape: readonly number[], value: number, opts: Omit<TensorOptions, 'shape'> = {}): Tensor {
  const s = checkShape('full', shape);
  const t = Tensor.empty(s, opts.dtype ?? 'float32');
  if (value !== 0) t.data.fill(value);
  return finish(t, opts, 'full');
}

export function zeros(shape: readonly number[], opts: Omit<TensorOptions, 'shape'> = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: readonly number[], opts: Omit<TensorOptions, 'shape'> = {}): Tensor {
  return full(shape, 1, opts);
}

/** Standard normal samples from the global generator (hn.manualSeed). */
export function randn(shape: readonly number[], opts: Omit<TensorOptions, 'shape' | 'dtype'> = {}): Tensor {
  const t = Tensor.empty(checkShape('randn', shape));
  defaultGenerator.fillNormal(t.data as Float32Array);
  return finish(t, opts, 'randn');
}

/** Uniform samples in [0, 1) from the global generator. */
export function rand(shape: readonly number[], opts: Omit<TensorOptions, 'shape' | 'dtype'> = {}): Tensor {
  const t = Tensor.empty(checkShape('rand', shape));
  defaultGenerator.fillUniform(t.data as Float32Array);
  return finish(t, opts, 'rand');
}

/** Integers in [low, high) as an int32 tensor (class labels for tests and demos). */
export function randint(low: number, high: number, shape: readonly number[]): Tensor {
  const t = Tensor.empty(checkShape('randint', shape), 'int32');
  const data = t.data;
  for (let i = 0; i < data.length; i++) data[i] = low + Math.floor(defaultGenerator.uniform() * (high - low));
  return t;
}

/** Wraps an existing typed array without copying (the tensor borrows it). */
export function fromTypedArray(data: TypedStorage, shape: readonly number[]): Tensor {
  return new Tensor(data, checkShape('fromTypedArray', shape));
}

export function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}
