// Containers: Sequential (children named '0', '1', ...; forward chains them), ModuleList (an
// indexed list of children, no forward) and ModuleDict (children by key, in insertion order).
import { Tensor, isTensor } from '../tensor';
import { argRangeError, argTypeError, describeValue } from '../errors';
import { isGradEnabled, isTracing } from '../autograd';
import { reluInPlace } from '../ops/elementwise';
import { reluMaxPool2d } from '../ops/pool';
import { Module } from './module';
import { ReLU, Sigmoid, Tanh } from './activation';
import { AvgPool2d, MaxPool2d } from './pooling';
import { Conv2d, ConvTranspose2d } from './conv';
import { Identity, Linear } from './linear';
import { Flatten } from './flatten';
import { BatchNorm2d } from './normalization';
import { Dropout, Dropout2d } from './dropout';
import { fusedConvForward, isPlainMaxPool2x2 } from './conv_fusion';

// An instance of exactly this class (not a subclass) whose forward is the class's own.
function isExactly(m: Module, cls: abstract new (...args: never[]) => Module): boolean {
  return Object.getPrototypeOf(m) === cls.prototype && !Object.prototype.hasOwnProperty.call(m, 'forward');
}

// Built-in modules whose forward keeps no reference to its input or its output and returns a
// fresh tensor, a view, or the input itself.
const KEEPS_NOTHING: (abstract new (...args: never[]) => Module)[] = [
  Conv2d, ConvTranspose2d, Linear, ReLU, Sigmoid, Tanh, MaxPool2d, AvgPool2d, Flatten, BatchNorm2d, Dropout, Dropout2d,
  Identity,
];

function keepsNothing(m: Module): boolean {
  return KEEPS_NOTHING.some((cls) => isExactly(m, cls));
}

function checkModule(op: string, arg: string, value: unknown): Module {
  if (!(value instanceof Module)) throw argTypeError(op, arg, 'a Module', describeValue(value));
  return value;
}

// Shared by Sequential and ModuleList: children stored under their index as a string.
class IndexedModules extends Module {
  #items: Module[] = [];

  protected setItems(op: string, modules: readonly Module[]): void {
    modules.forEach((m, i) => checkModule(op, `modules[${i}]`, m));
    for (let i = 0; i < this.#items.length; i++) this.unregisterModule(String(i));
    this.#items = [...modules];
    this.#items.forEach((m, i) => this.registerModule(String(i), m));
  }

  protected get items(): readonly Module[] {
    return this.#items;
  }

  get length(): number {
    return this.#items.length;
  }

  /** The module at `index`; negative indices count from the end. */
  at(index: number): Module {
    const n = this.#items.length;
    if (!Number.isInteger(index) || index < -n || index >= n) {
      throw argRangeError(`${this.constructor.name}.at`, 'index', `an integer in [${-n}, ${n - 1}]`, describeValue(index));
    }
    return this.#items[index < 0 ? index + n : index];
  }

  /** Adds a module at the end; returns this. */
  append(module: Module): this {
    checkModule(`${this.constructor.name}.append`, 'module', module);
    this.#items.push(module);
    this.registerModule(String(this.#items.length - 1), module);
    return this;
  }

  extend(modules: Iterable<Module>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** Inserts before `index` and renumbers the following modules (PyTorch's ModuleList.insert). */
  insert(index: number, module: Module): void {
    const op = `${this.constructor.name}.insert`;
    checkModule(op, 'module', module);
    const n = this.#items.length;
    if (!Number.isInteger(index) || index < -n || index > n) throw argRangeError(op, 'index', `an integer in [${-n}, ${n}]`, describeValue(index));
    const items = [...this.#items];
    items.splice(index < 0 ? index + n : index, 0, module);
    this.setItems(op, items);
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.#items[Symbol.iterator]();
  }
}

/**
 * Runs its modules in order, each output feeding the next.
 * @example const net = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * @example new nn.Sequential({ conv: new nn.Conv2d(3, 8, 3), act: new nn.ReLU() }) // named children
 */
export class Sequential extends Module {
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const op = 'Sequential';
    const first = modules[0] as unknown;
    if (modules.length === 1 && first !== null && typeof first === 'object' && !(first instanceof Module)) {
      for (const [name, m] of Object.entries(first as Record<string, Module>)) this.registerModule(name, checkModule(op, name, m));
    } else {
      (modules as Module[]).forEach((m, i) => this.registerModule(String(i), checkModule(op, `modules[${i}]`, m)));
    }
  }

  // Children in order; a module listed twice runs twice, as in PyTorch.
  private steps(): Module[] {
    return this.moduleEntries().map(([, m]) => m).filter((m): m is Module => m !== null);
  }

  get length(): number {
    return this.steps().length;
  }

  /** The module at `index` in order; negative indices count from the end. */
  at(index: number): Module {
    const steps = this.steps();
    const n = steps.length;
    if (!Number.isInteger(index) || index < -n || index >= n) {
      throw argRangeError('Sequential.at', 'index', `an integer in [${-n}, ${n - 1}]`, describeValue(index));
    }
    return steps[index < 0 ? index + n : index];
  }

  /** Adds a module at the end under the next index; returns this. */
  append(module: Module): this {
    this.registerModule(String(this.moduleEntries().length), checkModule('Sequential.append', 'module', module));
    return this;
  }

  override forward(input: Tensor): Tensor;
  override forward(input: unknown): unknown;
  override forward(input: unknown): unknown {
    const steps = this.steps();
    // Fusions (as an inference engine's graph optimiser would do), never while tracing for
    // ONNX export, and only over modules of exactly these classes with their own forward:
    // - ReLU then MaxPool2d: pool first, relu on the pooled quarter (F.reluMaxPool2d; same
    //   values and gradients), the full-size relu output never exists;
    // - with grad disabled, Conv2d/ConvTranspose2d then ReLU (and a MaxPool2d(2) after a
    //   Conv2d): one native call with the relu (and pool) in the kernel's store
    //   (./conv_fusion.ts); Linear then ReLU: relu in place on the layer's fresh output, which
    //   nothing else holds.
    const fuse = !isTracing();
    // Inference (grad disabled, not tracing): an intermediate that a step of KEEPS_NOTHING made
    // and the next such step has consumed is disposed at once (a view made from it keeps the
    // memory), so its buffer returns to the allocator while it is still in cache and the next
    // output of that size reuses it, as an inference engine's arena would. Never the input, never
    // the output, never a tensor a module of another class made or saw.
    const release = fuse && !isGradEnabled();
    let owned = false; // x was made by a KEEPS_NOTHING step of this forward
    let x = input;
    for (let i = 0; i < steps.length; i++) {
      const m = steps[i];
      const next = steps[i + 1];
      const before = x;
      let used = 1; // steps this turn ran (more when fused)
      if (fuse && next && isTensor(x) && x.device === 'cpu' && x.dtype === 'float32') {
        if (isExactly(m, ReLU) && isExactly(next, MaxPool2d)) {
          const { kernelSize, stride, padding, dilation, ceilMode } = next as MaxPool2d;
          x = reluMaxPool2d(x, { kernelSize, stride, padding, dilation, ceilMode });
          used = 2;
        } else if (!isGradEnabled() && isExactly(next, ReLU) && (isExactly(m, Conv2d) || isExactly(m, ConvTranspose2d))) {
          // One native call: relu (and a following 2x2 max pool) applied as the kernel stores.
          const after = steps[i + 2];
          const pool = isExactly(m, Conv2d) && after !== undefined && isExactly(after, MaxPool2d) && isPlainMaxPool2x2(after as MaxPool2d);
          x = fusedConvForward(m as Conv2d | ConvTranspose2d, x, pool);
          used = pool ? 3 : 2;
        } else if (!isGradEnabled() && isExactly(next, ReLU) && isExactly(m, Linear)) {
          const y = (m.forward as (v: unknown) => unknown).call(m, x);
          if (isTensor(y) && y !== x && y.device === 'cpu') {
            x = reluInPlace(y);
            used = 2;
          } else {
            x = y;
          }
        } else {
          x = (m.forward as (v: unknown) => unknown).call(m, x);
        }
      } else {
        x = (m.forward as (v: unknown) => unknown).call(m, x);
      }
      if (x !== before) {
        const known = steps.slice(i, i + used).every(keepsNothing);
        if (release && owned && known && isTensor(before)) before.dispose();
        owned = release && known && isTensor(x);
      }
      i += used - 1;
    }
    return x;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.steps()[Symbol.iterator]();
  }
}

/** A list of modules registered as children '0', '1', ...; it has no forward of its own. */
export class ModuleList extends IndexedModules {
  constructor(modules: Iterable<Module> = []) {
    super();
    this.setItems('ModuleList', [...modules]);
  }
}

/** Modules by key (insertion order), registered as children under their keys. */
export class ModuleDict extends Module {
  #keys: string[] = [];

  constructor(modules: Record<string, Module> | Iterable<[string, Module]> = {}) {
    super();
    this.update(modules);
  }

  get size(): number {
    return this.#keys.length;
  }

  get length(): number {
    return this.#keys.length;
  }

  has(key: string): boolean {
    return this.#keys.includes(key);
  }

  get(key: string): Module {
    const m = this.has(key) ? this.getRegistered('module', key) : undefined;
    if (!(m instanceof Module)) throw argRangeError('ModuleDict.get', 'key', `one of ${JSON.stringify(this.#keys)}`, `'${key}'`);
    return m;
  }

  set(key: string, module: Module): this {
    this.registerModule(key, checkModule('ModuleDict.set', key, module));
    if (!this.#keys.includes(key)) this.#keys.push(key);
    return this;
  }

  delete(key: string): boolean {
    if (!this.has(key)) return false;
    this.unregisterModule(key);
    this.#keys = this.#keys.filter((k) => k !== key);
    return true;
  }

  update(modules: Record<string, Module> | Iterable<[string, Module]>): this {
    if (modules === null || typeof modules !== 'object') throw argTypeError('ModuleDict', 'modules', 'an object or iterable of [key, Module]', describeValue(modules));
    const entries = Symbol.iterator in modules ? [...(modules as Iterable<[string, Module]>)] : Object.entries(modules);
    for (const [key, m] of entries) this.set(key, m);
    return this;
  }

  keys(): string[] {
    return [...this.#keys];
  }

  values(): Module[] {
    return this.#keys.map((k) => this.get(k));
  }

  entries(): [string, Module][] {
    return this.#keys.map((k) => [k, this.get(k)]);
  }

  [Symbol.iterator](): Iterator<string> {
    return this.keys()[Symbol.iterator]();
  }
}
