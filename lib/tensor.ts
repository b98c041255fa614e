// Tensor: an n-d array (float32 or int32) on a device, with an autograd node when it is the
// result of a recorded op. CPU memory is an ArrayBuffer V8 allocates and accounts for; native
// kernels borrow its pointer for the length of a call. CUDA memory is an opaque device buffer
// handle (a block of the caching allocator, bindings/cuda_memory.cc), freed by dispose() or,
// failing that, by the handle's finaliser; reading it (toArray, item) copies it to the host.
import { GradNode, runBackwardMany } from './autograd';
import { addon } from './native';
import { argRangeError, argTypeError, describeValue, shapeString } from './errors';
import { defaultGenerator } from './random';
import { cuda } from './runtime';
import * as elementwise from './ops/elementwise';
import * as reduce from './ops/reduce';
import * as shapeOps from './ops/shape';
import * as linalg from './ops/linalg';
// Registers the fused conv2d -> maxPool2d (-> relu) backward with the sweep.
import './ops/conv_pool_backward';

export type DType = 'float32' | 'int32';
export type Device = 'cpu' | `cuda:${number}`;
export type TypedStorage = Float32Array | Int32Array;
/** Opaque handle of a CUDA device buffer (an N-API external from the addon). */
export type DeviceHandle = object & { readonly __hydranetDeviceBuffer: never };
/** What a kernel binding takes for one array: host memory, or a device buffer on CUDA. */
export type KernelBuffer = Float32Array | Int32Array | DeviceHandle;

interface CudaMemoryBindings {
  alloc(length: number, dtype: DType, device: number): DeviceHandle;
  free(handle: DeviceHandle): void;
  upload(handle: DeviceHandle, array: TypedStorage): void;
  download(handle: DeviceHandle, array: TypedStorage): void;
  copy(dst: DeviceHandle, src: DeviceHandle): void;
}

/** The addon's CUDA memory functions; a clear error when this build has none. */
export function cudaMemory(op: string): CudaMemoryBindings {
  const table = (addon as unknown as { cuda?: CudaMemoryBindings }).cuda;
  if (!table || typeof table.alloc !== 'function') {
    throw argRangeError(op, 'device', "'cpu' (this build of hydranet has no CUDA kernels)", 'a CUDA device');
  }
  return table;
}

/** Device memory of a CUDA tensor. */
export interface DeviceStorage {
  handle: DeviceHandle | null;
  length: number;
  dtype: DType;
  index: number;
}

export interface TensorOptions {
  shape?: readonly number[];
  dtype?: DType;
  requiresGrad?: boolean;
  device?: Device | 'cuda';
}

/** Memory shared by a tensor and its views (reshape, detach); freed when the last one disposes. */
export class Storage {
  refs = 1;
  constructor(public array: TypedStorage | null, public device: DeviceStorage | null = null) {}

  release(): void {
    if (--this.refs > 0) return;
    if (this.device) {
      const handle = this.device.handle;
      this.device.handle = null;
      if (handle) cudaMemory('dispose').free(handle);
      return;
    }
    if (!this.array) return;
    const buffer = this.array.buffer;
    this.array = null;
    (addon.detachBuffer as (b: ArrayBufferLike) => void)(buffer);
  }
}

// Tensor.serial of the next tensor created (the backward sweep frees only gradients it created).
let nextTensorSerial = 0;

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
  /** @internal Creation order: increasing over the process's tensors. */
  readonly serial = nextTensorSerial++;
  private storage: Storage;
  private disposed = false;

  /** Low level: wraps storage without copying. Use hn.tensor() and friends instead. */
  constructor(storage: Storage | TypedStorage, shape: readonly number[], device: Device = 'cpu') {
    this.storage = storage instanceof Storage ? storage : new Storage(storage);
    const { array, device: onDevice } = this.storage;
    if (onDevice ? !onDevice.handle : !array) {
      throw argTypeError('Tensor', 'storage', 'live memory', 'a disposed tensor');
    }
    this.shape = Object.freeze([...shape]);
    const length = onDevice ? onDevice.length : array!.length;
    this.dtype = onDevice ? onDevice.dtype : array instanceof Int32Array ? 'int32' : 'float32';
    this.device = onDevice ? `cuda:${onDevice.index}` : device;
    this.requiresGrad = false;
    if (numelOf(shape) !== length) {
      throw argRangeError('Tensor', 'shape', `${length} elements`, `${shapeString(shape)} (${numelOf(shape)})`);
    }
  }

  /**
   * Zero-filled tensor; on the CPU V8 allocates and zeroes the memory, on CUDA the caching
   * allocator hands out a block that is cleared on the device's stream.
   */
  static empty(shape: readonly number[], dtype: DType = 'float32', device: Device = 'cpu'): Tensor {
    const n = numelOf(shape);
    if (device === 'cpu') return new Tensor(dtype === 'int32' ? new Int32Array(n) : new Float32Array(n), shape);
    const index = cudaIndex('empty', device);
    const handle = cudaMemory('empty').alloc(n, dtype, index);
    return new Tensor(new Storage(null, { handle, length: n, dtype, index }), shape);
  }

  /**
   * A float32 tensor whose contents are unspecified, for kernels that overwrite every element:
   * on the CPU its ArrayBuffer is allocated without the zero fill (Buffer.allocUnsafeSlow gives an
   * ArrayBuffer of its own, exactly this long, V8-owned like any other). Small ones take the
   * ordinary path; on CUDA it is Tensor.empty.
   */
  static uninitialized(shape: readonly number[], device: Device = 'cpu'): Tensor {
    if (device !== 'cpu') return Tensor.empty(shape, 'float32', device);
    const n = numelOf(shape);
    if (n < 4096) return new Tensor(new Float32Array(n), shape);
    return new Tensor(new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n), shape);
  }

  /** True for a tensor in CUDA device memory. */
  get isCuda(): boolean {
    return this.storage.device !== null;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  get isDisposed(): boolean {
    const { array, device } = this.storage;
    return this.disposed || (device ? device.handle === null : array === null);
  }

  /** The live storage (borrowed, not copied). Throws on a disposed tensor and on a CUDA tensor. */
  get data(): TypedStorage {
    if (this.storage.device) {
      throw argTypeError('tensor', 'tensor', "a CPU tensor (read a CUDA tensor with toArray() or .to('cpu'))",
        `a tensor on ${this.device}`);
    }
    const array = this.storage.array;
    if (this.disposed || !array) {
      throw argTypeError('tensor', 'tensor', 'a live tensor', `a disposed tensor of shape ${shapeString(this.shape)}`);
    }
    return array;
  }

  /**
   * Float32 storage; throws a TypeError naming `op` for int32 tensors, and for CUDA tensors (an
   * op that reads host memory has no CUDA kernel).
   */
  floatData(op = 'tensor', arg = 'input'): Float32Array {
    if (this.storage.device) {
      throw argTypeError(op, arg, `a CPU tensor (${op} has no CUDA kernel yet; move the tensor with .to('cpu'))`,
        `a tensor on ${this.device}`);
    }
    const data = this.data;
    if (!(data instanceof Float32Array)) throw argTypeError(op, arg, 'a float32 tensor', `an ${this.dtype} tensor`);
    return data;
  }

  /**
   * @internal What a kernel binding takes for this float32 tensor: its host array on the CPU, its
   * device buffer handle on CUDA (the op picks the matching kernel table, lib/ops/device.ts).
   */
  buffer(op = 'tensor', arg = 'input'): KernelBuffer {
    const device = this.storage.device;
    if (!device) return this.floatData(op, arg);
    if (this.dtype !== 'float32') throw argTypeError(op, arg, 'a float32 tensor', `an ${this.dtype} tensor`);
    return this.liveHandle(op, arg);
  }

  /** @internal As buffer(), for int32 tensors (class labels, indices). */
  intBuffer(op = 'tensor', arg = 'input'): KernelBuffer {
    if (this.dtype !== 'int32') throw argTypeError(op, arg, 'an int32 tensor', `a ${this.dtype} tensor`);
    return this.storage.device ? this.liveHandle(op, arg) : this.data;
  }

  private liveHandle(op: string, arg: string): DeviceHandle {
    const handle = this.storage.device?.handle;
    if (this.disposed || !handle) {
      throw argTypeError(op, arg, 'a live tensor', `a disposed tensor of shape ${shapeString(this.shape)}`);
    }
    return handle;
  }

  /** A typed-array copy of the values (from a CUDA tensor: a copy to the host, which waits for the device). */
  toArray(): TypedStorage {
    const device = this.storage.device;
    if (!device) return this.data.slice();
    const out = this.dtype === 'int32' ? new Int32Array(this.numel) : new Float32Array(this.numel);
    if (out.length > 0) cudaMemory('toArray').download(this.liveHandle('toArray', 'tensor'), out);
    return out;
  }

  /**
   * Overwrites the values with src's (torch.Tensor.copy_ without broadcasting or dtype conversion:
   * same shape and dtype; either tensor on any device). Not recorded by autograd, like fill_.
   */
  copy_(src: Tensor): this {
    const op = 'copy_';
    if (!isTensor(src)) throw argTypeError(op, 'src', 'a tensor', describeValue(src));
    if (src.dtype !== this.dtype) throw argTypeError(op, 'src', `a ${this.dtype} tensor like self`, `a ${src.dtype} tensor`);
    if (shapeString(src.shape) !== shapeString(this.shape)) {
      throw argRangeError(op, 'src', `shape ${shapeString(this.shape)} like self`, `shape ${shapeString(src.shape)}`);
    }
    if (src.storage === this.storage) return this;
    if (!this.storage.device) {
      this.data.set(src.storage.device ? src.toArray() : src.data);
    } else if (this.numel > 0) {
      const handle = this.liveHandle(op, 'self');
      if (src.storage.device) cudaMemory(op).copy(handle, src.liveHandle(op, 'src'));
      else cudaMemory(op).upload(handle, src.data);
    }
    return this;
  }

  /** Sets every element to `value` in place (both devices). */
  fill_(value: number): this {
    if (!this.storage.device) {
      this.data.fill(value);
      return this;
    }
    const host = this.dtype === 'int32' ? new Int32Array(this.numel) : new Float32Array(this.numel);
    if (value !== 0) host.fill(value);
    if (host.length > 0) cudaMemory('fill_').upload(this.liveHandle('fill_', 'tensor'), host);
    return this;
  }

  /** The values as nested JS arrays (for printing and tests). */
  toList(): unknown {
    const flat = Array.from(this.toArray());
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return flat[offset];
      const stride = numelOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  item(): number {
    const data = this.storage.device ? this.toArray() : this.data;
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
    if (this.isDisposed) throw argTypeError('tensor', 'tensor', 'a live tensor', `a disposed tensor of shape ${shapeString(this.shape)}`);
    this.storage.refs++;
    return this.storage;
  }

  /**
   * This tensor on `device` ('cpu', 'cuda' = 'cuda:0', 'cuda:N'): itself when already there, else
   * a copy without autograd history (like PyTorch's leaf .to()). Copies to the host wait for the
   * device; copies to a device are queued on its stream.
   */
  to(device: Device | 'cuda'): Tensor {
    const target = checkDevice('to', device);
    if (target === this.device) return this;
    if (target === 'cpu') return new Tensor(this.toArray(), this.shape);
    const out = Tensor.empty(this.shape, this.dtype, target);
    const handle = out.liveHandle('to', 'output');
    if (this.storage.device) {
      cudaMemory('to').copy(handle, this.liveHandle('to', 'tensor'));
    } else if (out.numel > 0) {
      cudaMemory('to').upload(handle, this.data);
    }
    return out;
  }

  /** Shorthand for to('cuda:N'). */
  cuda(index = 0): Tensor {
    return this.to(`cuda:${index}`);
  }

  /** Shorthand for to('cpu'). */
  cpu(): Tensor {
    return this.to('cpu');
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
      seed = full(this.shape, 1, { device: this.device });
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

const accumulators = {
  add: elementwise.addRaw,
  addInto: elementwise.addInto,
  clone: elementwise.clone,
  nextSerial: (): number => nextTensorSerial,
};

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

/** 'cpu', or 'cuda:N' for an existing device ('cuda' means 'cuda:0'); a clear error otherwise. */
export function checkDevice(op: string, device: unknown): Device {
  if (device === undefined || device === 'cpu') return 'cpu';
  const match = typeof device === 'string' ? /^cuda(?::(\d+))?$/.exec(device) : null;
  if (!match) throw argRangeError(op, 'device', "'cpu' or 'cuda:N'", describeValue(device));
  const count = cuda.deviceCount();
  if (count === 0) {
    const reason = cuda.status().reason;
    throw argRangeError(op, 'device', `'cpu' (this tensor cannot live on CUDA: no CUDA device available${reason ? `: ${reason}` : ''})`, `'${device}'`);
  }
  const index = match[1] === undefined ? 0 : Number(match[1]);
  if (index >= count) throw argRangeError(op, 'device', `'cpu' or 'cuda:N' with N < ${count}`, `'${device}'`);
  return `cuda:${index}`;
}

function cudaIndex(op: string, device: Device): number {
  const checked = checkDevice(op, device);
  return checked === 'cpu' ? 0 : Number(checked.slice(5));
}

function finish(t: Tensor, opts: TensorOptions | undefined, op: string): Tensor {
  const device = checkDevice(op, opts?.device);
  let out = t;
  if (device !== 'cpu') {
    out = t.to(device);
    t.dispose();
  }
  if (opts?.requiresGrad) out.requiresGrad_(true);
  return out;
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
