// The Optimizer base class (torch.optim.Optimizer): parameter groups with per-group options,
// per-parameter state, zeroGrad, and a state dict with PyTorch's structure.
//
// State dict format. stateDict() returns
//   { state: { 0: { step: 3, exp_avg: Tensor, exp_avg_sq: Tensor }, ... },
//     param_groups: [ { lr: 0.001, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, ..., params: [0, 1] }, ... ] }
// with PyTorch's key names (snake_case), because it is a serialisation format: a checkpoint
// written by hydranet reads like PyTorch's, and converting one from PyTorch needs no renaming.
// Parameters are numbered in group order as in PyTorch. The live objects that user code touches
// (constructor options, optimizer.paramGroups[i], optimizer.state) use camelCase (`weightDecay`,
// `expAvg`); stateDict/loadStateDict translate. Two differences from PyTorch: `step` is a plain
// number (PyTorch keeps a float tensor; a 1-element tensor is accepted on load), and the state
// tensors are views sharing memory with the live state (like PyTorch's references, but disposing
// them does not free the optimizer's copy). loadStateDict copies every tensor.
import { KernelBuffer, Tensor, isTensor } from '../tensor';
import { enableGrad } from '../autograd';
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';

/** Per-parameter state: tensors (moments, buffers) and numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

/** A resolved parameter group: the optimizer's options plus its parameters (and any extra keys). */
export type ParamGroup<O> = O & { params: Tensor[]; [extra: string]: unknown };

/** What the constructor and addParamGroup accept for a group: params plus any option overrides. */
export type ParamGroupInput<O> = Partial<O> & { params: Tensor | Iterable<Tensor>; [extra: string]: unknown };

export type ParamsInput<O> = Iterable<Tensor> | readonly ParamGroupInput<O>[];

export interface OptimizerStateDict {
  state: Record<string, Record<string, unknown>>;
  param_groups: Record<string, unknown>[];
}

export function camelToSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function snakeToCamel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

// Option values are numbers, booleans, null, strings or arrays of those; copy arrays.
function copyValue(v: unknown): unknown {
  return Array.isArray(v) ? v.map(copyValue) : v;
}

/** Check helpers for option validation, with messages naming the optimizer and option. */
export const check = {
  nonNegative(op: string, arg: string, v: unknown): void {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw argRangeError(op, arg, 'a non-negative finite number', describeValue(v));
  },
  finite(op: string, arg: string, v: unknown): void {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw argTypeError(op, arg, 'a finite number', describeValue(v));
  },
  unitInterval(op: string, arg: string, v: unknown, closed = false): void {
    if (typeof v !== 'number' || !(v >= 0 && (closed ? v <= 1 : v < 1))) throw argRangeError(op, arg, `a number in [0, 1${closed ? ']' : ')'}`, describeValue(v));
  },
  boolean(op: string, arg: string, v: unknown): void {
    if (typeof v !== 'boolean') throw argTypeError(op, arg, 'a boolean', describeValue(v));
  },
};

export abstract class Optimizer<O extends object> {
  /** The constructor's options with every default filled in. */
  readonly defaults: Readonly<O>;
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state (moments, momentum buffers, step counts), created by step(). */
  readonly state = new Map<Tensor, ParamState>();

  /**
   * @param defaultOptions every option with its default value (its keys are the known options)
   * @param options what the user passed
   */
  constructor(params: ParamsInput<O>, defaultOptions: O, options: Partial<O>) {
    const op = this.constructor.name;
    if (options === null || typeof options !== 'object') throw argTypeError(op, 'options', 'an object', describeValue(options));
    for (const key of Object.keys(options)) {
      if (!(key in defaultOptions)) {
        throw argTypeError(op, 'options', `an object with keys among ${Object.keys(defaultOptions).join(', ')}`, `an unknown option '${key}'`);
      }
    }
    const defaults = { ...defaultOptions } as O;
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (defaults as Record<string, unknown>)[k] = copyValue(v);
    this.validateOptions(defaults, '');
    this.defaults = Object.freeze(defaults);

    if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) {
      throw argTypeError(op, 'params', 'an iterable of tensors or of parameter groups {params, ...}', describeValue(params));
    }
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw argRangeError(op, 'params', 'a non-empty list of parameters', 'an empty list');
    if (isTensor(list[0])) this.addParamGroup({ params: list as Tensor[] } as unknown as ParamGroupInput<O>);
    else list.forEach((g) => this.addParamGroup(g as ParamGroupInput<O>));
  }

  /** Throws a RangeError/TypeError naming the bad option (`prefix` locates a group). */
  protected abstract validateOptions(options: O, prefix: string): void;

  /** One update of every parameter that has a gradient. */
  protected abstract update(): void;

  /**
   * Adds a group of parameters with its own options (the others come from the defaults), e.g. a
   * head trained with a larger lr.
   */
  addParamGroup(group: ParamGroupInput<O>): void {
    const op = this.constructor.name;
    const where = `paramGroups[${this.paramGroups.length}]`;
    if (group === null || typeof group !== 'object' || !('params' in group)) {
      throw argTypeError(op, where, 'a parameter group {params, ...options}', describeValue(group));
    }
    const raw = group.params;
    if (raw instanceof Set) throw argTypeError(op, `${where}.params`, 'an ordered list of tensors (not a Set)', 'a Set');
    const params = isTensor(raw) ? [raw] : raw !== null && typeof raw === 'object' && Symbol.iterator in raw ? [...raw] : null;
    if (!params) throw argTypeError(op, `${where}.params`, 'a tensor or a list of tensors', describeValue(raw));
    if (params.length === 0) throw argRangeError(op, `${where}.params`, 'a non-empty list of parameters', 'an empty list');
    const existing = new Set(this.paramGroups.flatMap((g) => g.params));
    const seen = new Set<Tensor>();
    params.forEach((p, i) => {
      const arg = `${where}.params[${i}]`;
      if (!isTensor(p)) throw argTypeError(op, arg, 'a Tensor', describeValue(p));
      if (p.dtype !== 'float32') throw argTypeError(op, arg, 'a float32 tensor', `an ${p.dtype} tensor${p.name ? ` (${p.name})` : ''}`);
      if (p.gradFn && p.gradFn.backward) throw argTypeError(op, arg, 'a leaf tensor (a non-leaf tensor cannot be optimized)', `the output of '${p.gradFn.op}'`);
      if (seen.has(p)) throw argRangeError(op, arg, 'a parameter listed once in its group', `a repeat${p.name ? ` of ${p.name}` : ''}`);
      if (existing.has(p)) throw argRangeError(op, arg, 'a parameter in one group only', `one already in another group${p.name ? ` (${p.name})` : ''}`);
      seen.add(p);
    });
    // The options in the defaults' order, then any extra keys the group carries.
    const resolved: Record<string, unknown> = {};
    const given = group as Record<string, unknown>;
    for (const [k, v] of Object.entries(this.defaults)) resolved[k] = copyValue(given[k] !== undefined ? given[k] : v);
    for (const [k, v] of Object.entries(group)) if (k !== 'params' && v !== undefined && !(k in resolved)) resolved[k] = copyValue(v);
    this.validateOptions(resolved as O, `${where}.`);
    resolved.params = params;
    this.paramGroups.push(resolved as ParamGroup<O>);
  }

  /**
   * Performs one optimization step. With a closure (which recomputes the loss and calls
   * backward), evaluates it first with gradients enabled and returns its value.
   */
  step(closure?: () => number | Tensor): number | undefined {
    let loss: number | undefined;
    if (closure !== undefined) {
      if (typeof closure !== 'function') throw argTypeError(`${this.constructor.name}.step`, 'closure', 'a function', describeValue(closure));
      const value = enableGrad(closure);
      loss = isTensor(value) ? value.item() : value;
    }
    this.update();
    return loss;
  }

  /** Clears every parameter's gradient: to null (the default, as in PyTorch 2), or to zeros. */
  zeroGrad({ setToNone = true } = {}): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (!p.grad) continue;
        if (setToNone) p.grad = null;
        else p.grad.fill_(0);
      }
    }
  }

  /** The parameter's state, created empty on first use. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /**
   * The parameter's gradient as kernel input (host array, or device buffer on CUDA), checked
   * against the parameter's shape and device.
   */
  protected gradOf(p: Tensor): KernelBuffer | null {
    const g = p.grad;
    if (!g) return null;
    const op = `${this.constructor.name}.step`;
    const what = `the gradient of ${p.name ?? 'a parameter'}`;
    if (g.numel !== p.numel || g.ndim !== p.ndim) throw argRangeError(op, what, `shape ${shapeString(p.shape)}`, `shape ${shapeString(g.shape)}`);
    if (g.device !== p.device) throw argRangeError(op, what, `a tensor on ${p.device} like the parameter`, `a tensor on ${g.device}`);
    return g.buffer(op, what);
  }

  /** PyTorch's layout (see the file comment); tensors are views of the live state. */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((group) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(group)) if (k !== 'params') out[camelToSnake(k)] = copyValue(v);
      out.params = group.params.map((p) => {
        if (!index.has(p)) index.set(p, index.size);
        return index.get(p)!;
      });
      return out;
    });
    const state: Record<string, Record<string, unknown>> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i === undefined) continue;
      const entry: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s)) entry[camelToSnake(k)] = isTensor(v) ? v.detach() : v;
      state[String(i)] = entry;
    }
    return { state, param_groups: paramGroups };
  }

  /** Which state keys this optimizer keeps (camelCase) and whether each is a tensor or a number. */
  protected abstract stateKeys(): Record<string, 'tensor' | 'number'>;

  /**
   * Restores options and state from stateDict() output (this optimizer's or another with the same
   * group sizes). Everything is validated first; on error nothing changes. Tensors are copied.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const op = `${this.constructor.name}.loadStateDict`;
    if (stateDict === null || typeof stateDict !== 'object') throw argTypeError(op, 'stateDict', 'an object {state, param_groups}', describeValue(stateDict));
    const { state, param_groups: groups } = stateDict;
    if (!Array.isArray(groups)) throw argTypeError(op, 'stateDict.param_groups', 'an array', describeValue(groups));
    if (state === null || typeof state !== 'object') throw argTypeError(op, 'stateDict.state', 'an object', describeValue(state));
    if (groups.length !== this.paramGroups.length) {
      throw argRangeError(op, 'stateDict.param_groups', `${this.paramGroups.length} group(s), as this optimizer has`, `${groups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    const newOptions: Record<string, unknown>[] = [];
    groups.forEach((saved, gi) => {
      const where = `stateDict.param_groups[${gi}]`;
      if (saved === null || typeof saved !== 'object' || !Array.isArray(saved.params)) throw argTypeError(op, where, 'an object with a params array', describeValue(saved));
      const current = this.paramGroups[gi].params;
      const ids = saved.params as unknown[];
      if (ids.length !== current.length) {
        throw argRangeError(op, `${where}.params`, `${current.length} parameters, as this optimizer's group ${gi} has`, `${ids.length}`);
      }
      ids.forEach((id, k) => {
        if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw argTypeError(op, `${where}.params[${k}]`, 'a parameter index', describeValue(id));
        if (byIndex.has(id)) throw argRangeError(op, `${where}.params[${k}]`, 'an index used once', String(id));
        byIndex.set(id, current[k]);
      });
      const options: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(saved)) if (k !== 'params') options[snakeToCamel(k)] = copyValue(v);
      // Options newer than the checkpoint take their defaults (PyTorch's __setstate__ does this).
      for (const [k, v] of Object.entries(this.defaults)) if (!(k in options)) options[k] = copyValue(v);
      this.validateOptions(options as O, `${where}.`);
      newOptions.push(options);
    });

    const keys = this.stateKeys();
    const newState = new Map<Tensor, ParamState>();
    for (const [id, entry] of Object.entries(state)) {
      const where = `stateDict.state[${id}]`;
      const p = byIndex.get(Number(id));
      if (!p) throw argRangeError(op, where, `the state of a parameter index in param_groups (0..${byIndex.size - 1})`, `index ${id}`);
      if (entry === null || typeof entry !== 'object') throw argTypeError(op, where, 'an object', describeValue(entry));
      const s: ParamState = {};
      for (const [savedKey, v] of Object.entries(entry)) {
        const key = snakeToCamel(savedKey);
        const kind = keys[key];
        if (!kind) throw argRangeError(op, `${where}.${savedKey}`, `one of ${Object.keys(keys).map(camelToSnake).join(', ')}`, 'an unknown state key');
        if (kind === 'number') {
          const n = isTensor(v) && v.numel === 1 ? v.item() : v;
          if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw argTypeError(op, `${where}.${savedKey}`, 'a non-negative number', describeValue(v));
          s[key] = n;
        } else if (v !== null && v !== undefined) {
          const t = v as { shape?: unknown; data?: unknown };
          if (typeof t !== 'object' || !Array.isArray(t.shape) || !(t.data instanceof Float32Array)) {
            throw argTypeError(op, `${where}.${savedKey}`, 'a float32 tensor', describeValue(v));
          }
          if (shapeString(t.shape as number[]) !== shapeString(p.shape) || t.data.length !== p.numel) {
            throw argRangeError(op, `${where}.${savedKey}`, `shape ${shapeString(p.shape)} (the parameter${p.name ? ` ${p.name}` : ''})`, `shape ${shapeString(t.shape as number[])}`);
          }
          s[key] = new Tensor(t.data.slice(), p.shape).to(p.device);
        }
      }
      newState.set(p, s);
    }

    this.paramGroups.forEach((group, gi) => {
      const record = group as Record<string, unknown>;
      for (const k of Object.keys(record)) if (k !== 'params') delete record[k];
      Object.assign(record, newOptions[gi]);
    });
    this.state.clear();
    for (const [p, s] of newState) this.state.set(p, s);
  }
}
