// nn.Module: the base class of every layer and model (torch.nn.Module's semantics, camelCase).
//
// Registration. A module owns three ordered registries: parameters, buffers and child modules.
// Entries get there two ways, and both keep the order in which they happened (PyTorch's order):
//   - explicitly: `this.weight = this.registerParameter('weight', t)`, `registerBuffer(name, t,
//     {persistent})`, `this.conv = this.registerModule('conv', new Conv2d(...))`; each returns
//     its value, so a typed field can hold it;
//   - by assignment: an own field holding a Module, or a leaf Tensor with requiresGrad (a
//     parameter), is registered under the field's name the next time the module is inspected
//     (parameters(), stateDict(), a register* call, ...), in the order the fields were first
//     defined (for declared class fields: declaration order). Buffers are never discovered: a tensor that is state but not trained needs
//     registerBuffer (as in PyTorch, where only nn.Parameter values are picked up).
// Reassigning a registered field (`this.fc = new Linear(...)`) replaces the entry in place; a
// parameter or buffer slot may hold null (e.g. `bias` of a layer built with {bias: false}) and is
// then skipped. Plain arrays of modules are not looked into: use ModuleList, as in PyTorch.
//
// Calling. A TypeScript class instance cannot be called like a function, so where PyTorch writes
// `model(x)` hydranet writes `model.forward(x)` (or `model.call(x)`, the same thing).
import { Tensor, isTensor, TypedStorage, DType } from '../tensor';
import { argTypeError, describeValue, shapeString } from '../errors';
import type { Device } from '../tensor';
import { scopeForwardsOf } from '../module_scope';

type Kind = 'parameter' | 'buffer' | 'module';

/** A state dict value: a Tensor, or anything shaped like one (e.g. a decoded safetensors entry). */
export interface TensorLike {
  readonly shape: readonly number[];
  readonly dtype?: DType;
  readonly data: TypedStorage;
}

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const RESERVED = new Set(['training']);

function checkName(op: string, name: unknown): string {
  if (typeof name !== 'string') throw argTypeError(op, 'name', 'a string', describeValue(name));
  if (name === '' || name.includes('.')) {
    throw argTypeError(op, 'name', 'a non-empty name without "."', `'${name}'`);
  }
  if (RESERVED.has(name)) throw argTypeError(op, 'name', 'a name that is not a Module attribute', `'${name}'`);
  return name;
}

function isLeafParameter(value: unknown): value is Tensor {
  return isTensor(value) && value.requiresGrad && value.gradFn === null;
}

export class Module {
  /** True in training mode (the default); switched by train()/eval(). */
  training = true;
  // The registries, name -> value, in registration order. Private so that field discovery
  // never sees them (ES private fields are not own enumerable keys).
  readonly #parameters = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #nonPersistent = new Set<string>();
  readonly #modules = new Map<string, Module | null>();

  constructor() {
    // Each class's forward runs inside its module's scope, so anomaly mode can name the module
    // an op ran in (done once per class; instances get no own properties).
    scopeForwardsOf(new.target.prototype, Module.prototype);
  }

  /** The computation. Subclasses override it with their own signature. */
  forward(..._inputs: unknown[]): unknown {
    throw new Error(`${this.constructor.name}: missing the required forward() method`);
  }

  /** Same as forward(): the closest TypeScript gets to PyTorch's `module(x)`. */
  call(...inputs: Parameters<this['forward']>): ReturnType<this['forward']> {
    return (this.forward as (...a: unknown[]) => unknown)(...inputs) as ReturnType<this['forward']>;
  }

  // ---- Registration ---------------------------------------------------------------------

  /** Registers a parameter (a Tensor, or null for an absent optional one); returns it. */
  registerParameter<T extends Tensor | null>(name: string, param: T): T {
    const op = `${this.constructor.name}.registerParameter`;
    checkName(op, name);
    if (param !== null && !isTensor(param)) throw argTypeError(op, name, 'a Tensor or null', describeValue(param));
    if (param && param.dtype !== 'float32') throw argTypeError(op, name, 'a float32 tensor', `an ${param.dtype} tensor`);
    if (param && param.gradFn) throw argTypeError(op, name, 'a leaf tensor (parameters cannot be the result of an op; use .detach())', 'a non-leaf tensor');
    this.sync();
    this.checkFree(op, name, 'parameter');
    if (param) param.name = name;
    this.#parameters.set(name, param);
    this.exposeField(name, param);
    return param;
  }

  /**
   * Registers a buffer: state that is saved but not trained (BatchNorm's running statistics).
   * Non-persistent buffers are left out of stateDict().
   */
  registerBuffer<T extends Tensor | null>(name: string, buffer: T, { persistent = true } = {}): T {
    const op = `${this.constructor.name}.registerBuffer`;
    checkName(op, name);
    if (buffer !== null && !isTensor(buffer)) throw argTypeError(op, name, 'a Tensor or null', describeValue(buffer));
    this.sync();
    this.checkFree(op, name, 'buffer');
    this.#buffers.set(name, buffer);
    if (persistent) this.#nonPersistent.delete(name);
    else this.#nonPersistent.add(name);
    this.exposeField(name, buffer);
    return buffer;
  }

  /** Registers a child module (or null); returns it. */
  registerModule<T extends Module | null>(name: string, module: T): T {
    const op = `${this.constructor.name}.registerModule`;
    checkName(op, name);
    if (module !== null && !(module instanceof Module)) throw argTypeError(op, name, 'a Module or null', describeValue(module));
    this.sync();
    this.checkFree(op, name, 'module');
    this.#modules.set(name, module);
    this.exposeField(name, module);
    return module;
  }

  /** PyTorch's add_module. */
  addModule<T extends Module | null>(name: string, module: T): T {
    return this.registerModule(name, module);
  }

  /** The registered parameter/buffer/module called `name` on this module (not nested). */
  protected getRegistered(kind: Kind, name: string): Tensor | Module | null | undefined {
    this.sync();
    return this.registry(kind).get(name) as Tensor | Module | null | undefined;
  }

  /** Registered children in order, null slots and repeats included (Sequential runs them all). */
  protected moduleEntries(): [string, Module | null][] {
    this.sync();
    return [...this.#modules];
  }

  /** Removes a child module entry (containers renumber with it). */
  protected unregisterModule(name: string): void {
    this.#modules.delete(name);
    if (Object.prototype.hasOwnProperty.call(this, name)) delete (this as Record<string, unknown>)[name];
  }

  private registry(kind: Kind): Map<string, unknown> {
    return kind === 'parameter' ? this.#parameters : kind === 'buffer' ? this.#buffers : this.#modules;
  }

  private checkFree(op: string, name: string, kind: Kind): void {
    for (const other of ['parameter', 'buffer', 'module'] as Kind[]) {
      if (other !== kind && this.registry(other).has(name)) {
        throw argTypeError(op, 'name', `a name not already used by a ${other}`, `'${name}'`);
      }
    }
  }

  // Makes `module.name` work for explicitly registered entries when no field or method of that
  // name exists (a ModuleDict key 'train' stays reachable through get('train') only).
  private exposeField(name: string, value: unknown): void {
    const self = this as Record<string, unknown>;
    const own = Object.prototype.hasOwnProperty.call(this, name);
    if ((own && (self[name] === undefined || self[name] === null || isTensor(self[name]) || self[name] instanceof Module)) || !(name in this)) {
      self[name] = value;
    }
  }

  // Field discovery: registers new Module / leaf-parameter fields and picks up reassignments.
  private sync(): void {
    const self = this as Record<string, unknown>;
    for (const key of Object.keys(this)) {
      if (key === 'training') continue;
      const value = self[key];
      if (value === undefined) continue;
      if (this.#modules.has(key)) {
        if (value === null || value instanceof Module) this.#modules.set(key, value);
      } else if (this.#parameters.has(key)) {
        if (value === null || isTensor(value)) {
          if (value && value.name === undefined) value.name = key;
          this.#parameters.set(key, value);
        }
      } else if (this.#buffers.has(key)) {
        if (value === null || isTensor(value)) this.#buffers.set(key, value);
      } else if (value instanceof Module) {
        this.#modules.set(key, value);
      } else if (isLeafParameter(value)) {
        if (value.name === undefined) value.name = key;
        this.#parameters.set(key, value);
      }
    }
  }

  // ---- Traversal ------------------------------------------------------------------------

  /** Direct children with their names, in registration order. */
  *namedChildren(): Generator<[string, Module]> {
    this.sync();
    const seen = new Set<Module>();
    for (const [name, m] of this.#modules) {
      if (m && !seen.has(m)) {
        seen.add(m);
        yield [name, m];
      }
    }
  }

  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module and every descendant, pre-order, with dotted names ('' for this one). */
  *namedModules(prefix = '', memo: Set<Module> = new Set()): Generator<[string, Module]> {
    if (memo.has(this)) return;
    memo.add(this);
    yield [prefix, this];
    this.sync();
    for (const [name, m] of this.#modules) {
      if (!m) continue;
      yield* m.namedModules(prefix ? `${prefix}.${name}` : name, memo);
    }
  }

  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /**
   * Parameters with dotted names ('shared.0.weight'), each module's own first, then its
   * children's, in registration order; a parameter shared by two modules appears once. Sets each
   * parameter's `.name` to the name seen from this module.
   */
  *namedParameters({ prefix = '', recurse = true } = {}): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods = recurse ? this.namedModules(prefix) : ([[prefix, this]] as Iterable<[string, Module]>);
    for (const [modName, m] of mods) {
      m.sync();
      for (const [name, p] of m.#parameters) {
        if (!p || seen.has(p)) continue;
        seen.add(p);
        const full = modName ? `${modName}.${name}` : name;
        p.name = full;
        yield [full, p];
      }
    }
  }

  *parameters({ recurse = true } = {}): Generator<Tensor> {
    for (const [, p] of this.namedParameters({ recurse })) yield p;
  }

  /** Buffers with dotted names ('1.running_mean'), in the same order as parameters. */
  *namedBuffers({ prefix = '', recurse = true } = {}): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods = recurse ? this.namedModules(prefix) : ([[prefix, this]] as Iterable<[string, Module]>);
    for (const [modName, m] of mods) {
      m.sync();
      for (const [name, b] of m.#buffers) {
        if (!b || seen.has(b)) continue;
        seen.add(b);
        yield [modName ? `${modName}.${name}` : name, b];
      }
    }
  }

  *buffers({ recurse = true } = {}): Generator<Tensor> {
    for (const [, b] of this.namedBuffers({ recurse })) yield b;
  }

  /** The module at a dotted path ('heads.seg.2'); '' is this module. */
  getSubmodule(target: string): Module {
    if (target === '') return this;
    let m: Module = this;
    const walked: string[] = [];
    for (const part of target.split('.')) {
      m.sync();
      const next = m.#modules.get(part);
      if (!next) {
        throw argTypeError(`${this.constructor.name}.getSubmodule`, 'target', `a path of submodules`, `'${target}' (${m.constructor.name}${walked.length ? ` at '${walked.join('.')}'` : ''} has no submodule '${part}')`);
      }
      walked.push(part);
      m = next;
    }
    return m;
  }

  /** Calls fn on every submodule (children first) and on this module, like PyTorch's apply. */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  // ---- Modes and gradients --------------------------------------------------------------

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw argTypeError(`${this.constructor.name}.train`, 'mode', 'a boolean', describeValue(mode));
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Sets requiresGrad on every parameter (freezing with false); returns this. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  /** Clears gradients: to null (the default, like PyTorch 2), or to zeros in place. */
  zeroGrad({ setToNone = true } = {}): void {
    for (const p of this.parameters()) {
      if (!p.grad) continue;
      if (setToNone) p.grad = null;
      else p.grad.data.fill(0);
    }
  }

  /**
   * Moves parameters and buffers to `device` (tensors already there stay the same objects, so an
   * optimizer built on them keeps working). Returns this.
   */
  to(device: Device | 'cuda'): this {
    for (const m of this.modules()) {
      m.sync();
      for (const kind of ['parameter', 'buffer'] as const) {
        const reg = m.registry(kind) as Map<string, Tensor | null>;
        for (const [name, t] of reg) {
          if (!t) continue;
          const moved = t.to(device);
          if (moved === t) continue;
          moved.requiresGrad = t.requiresGrad;
          moved.name = t.name;
          reg.set(name, moved);
          if (Object.prototype.hasOwnProperty.call(m, name)) (m as unknown as Record<string, unknown>)[name] = moved;
        }
      }
    }
    return this;
  }

  // ---- State dict -----------------------------------------------------------------------

  /**
   * Parameters and persistent buffers by dotted name, in PyTorch's order and with its key names
   * ('conv.weight', 'bn.running_mean', 'bn.num_batches_tracked'). Values share memory with the
   * module (detached views, like PyTorch); clone them for a snapshot.
   */
  stateDict({ prefix = '' } = {}): StateDict {
    const out: StateDict = {};
    const visit = (m: Module, pre: string): void => {
      m.sync();
      for (const [name, p] of m.#parameters) {
        if (!p) continue;
        p.name = pre + name;
        out[pre + name] = p.detach();
      }
      for (const [name, b] of m.#buffers) {
        if (b && !m.#nonPersistent.has(name)) out[pre + name] = b.detach();
      }
      for (const [name, child] of m.#modules) if (child) visit(child, `${pre}${name}.`);
    };
    visit(this, prefix);
    return out;
  }

  // Every persistent entry (parameters and buffers), as live tensors, by dotted name.
  private stateEntries(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, pre: string): void => {
      m.sync();
      for (const [name, p] of m.#parameters) if (p) out.set(pre + name, p);
      for (const [name, b] of m.#buffers) if (b && !m.#nonPersistent.has(name)) out.set(pre + name, b);
      for (const [name, child] of m.#modules) if (child) visit(child, `${pre}${name}.`);
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies values from a state dict into this module's parameters and buffers, in place (an
   * optimizer holding the parameters keeps working). Values may be Tensors or {shape, dtype,
   * data} records (a decoded safetensors file). Everything is checked before anything is
   * copied: a shape or dtype mismatch always throws, naming the key and both sides; with strict
   * (the default) missing and unexpected keys throw too, listing them. Returns the keys that did
   * not match.
   */
  loadStateDict(stateDict: Record<string, Tensor | TensorLike>, { strict = true } = {}): LoadStateDictResult {
    const op = `${this.constructor.name}.loadStateDict`;
    if (stateDict === null || typeof stateDict !== 'object') throw argTypeError(op, 'stateDict', 'an object of tensors by name', describeValue(stateDict));
    const own = this.stateEntries();
    const given = stateDict instanceof Map ? Object.fromEntries(stateDict as Map<string, TensorLike>) : stateDict;
    const missingKeys = [...own.keys()].filter((k) => !Object.prototype.hasOwnProperty.call(given, k));
    const unexpectedKeys = Object.keys(given).filter((k) => !own.has(k));
    const problems: string[] = [];
    const copies: [Tensor, TypedStorage][] = [];
    for (const [key, target] of own) {
      if (!Object.prototype.hasOwnProperty.call(given, key)) continue;
      const src = given[key];
      // A CUDA tensor's values are read back to the host (state dicts cross devices, as in PyTorch).
      const data = isTensor(src) && !src.isDisposed && src.device !== 'cpu' ? src.toArray() : src?.data;
      if (!src || typeof src !== 'object' || !Array.isArray(src.shape) || !ArrayBuffer.isView(data)) {
        problems.push(`${key}: expected a tensor, got ${describeValue(src)}`);
        continue;
      }
      const srcDtype: DType = isTensor(src) ? src.dtype : (src.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32'));
      if (shapeString(src.shape) !== shapeString(target.shape)) {
        problems.push(`size mismatch for ${key}: copying a tensor of shape ${shapeString(src.shape)} from the state dict, the shape in the current model is ${shapeString(target.shape)}`);
      } else if (srcDtype !== target.dtype || !(target.dtype === 'int32' ? data instanceof Int32Array : data instanceof Float32Array)) {
        problems.push(`dtype mismatch for ${key}: copying a ${srcDtype} tensor (${data.constructor.name}) from the state dict, the dtype in the current model is ${target.dtype}`);
      } else if (data.length !== target.numel) {
        problems.push(`${key}: the data holds ${data.length} values, its shape ${shapeString(src.shape)} needs ${target.numel}`);
      } else {
        copies.push([target, data]);
      }
    }
    if (strict) {
      if (missingKeys.length) problems.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
      if (unexpectedKeys.length) problems.splice(missingKeys.length ? 1 : 0, 0, `Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    }
    if (problems.length) {
      throw new Error(`${op}: error(s) in loading the state dict for ${this.constructor.name} (nothing was copied):\n\t${problems.join('\n\t')}`);
    }
    for (const [target, data] of copies) target.copy_(new Tensor(data, target.shape));
    return { missingKeys, unexpectedKeys };
  }

  // ---- Printing -------------------------------------------------------------------------

  /** One line of this module's own settings, shown by toString() (e.g. 'in=3, out=8'). */
  extraRepr(): string {
    return '';
  }

  toString(): string {
    const children = [...this.namedChildren()];
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (children.length === 0) return `${head})`;
    const lines = children.map(([name, m]) => `  (${name}): ${m.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }
}

/**
 * Makes a trainable leaf tensor (what nn.Parameter is in PyTorch): `data` itself when it is a
 * leaf, else a detached view sharing its memory, with requiresGrad set. Assigning the result to a
 * Module field registers it.
 */
export function Parameter(data: Tensor, requiresGrad = true): Tensor {
  if (!isTensor(data)) throw argTypeError('Parameter', 'data', 'a Tensor', describeValue(data));
  const p = data.gradFn ? data.detach() : data;
  p.requiresGrad_(requiresGrad);
  return p;
}
