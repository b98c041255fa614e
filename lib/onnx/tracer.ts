// Runs a model's forward under autograd.trace (eval mode, no gradients) and returns the recorded
// graph: its outputs by name, every tensor reached from them in topological order, and the module
// path each node was recorded in (for node names and error messages).
import { noGrad, trace } from '../autograd';
import { wrapForward } from '../module_scope';
import { describeValue } from '../errors';
import { Tensor, isTensor } from '../tensor';

/** What exportModel needs of a model: forward, and optionally the nn.Module conveniences. */
export interface Exportable {
  forward(...inputs: Tensor[]): unknown;
  training?: boolean;
  eval?(): unknown;
  namedModules?(): Iterable<[string, unknown]>;
}

export type OutputKind = 'tensor' | 'array' | 'object';

export interface TracedGraph {
  readonly inputs: readonly Tensor[];
  readonly kind: OutputKind;
  /** Object keys (kind 'object'), indices as strings (kind 'array'), or [''] (kind 'tensor'). */
  readonly keys: readonly string[];
  readonly outputs: readonly Tensor[];
  /** Every tensor reached from the outputs, inputs before the nodes that read them. */
  readonly order: readonly Tensor[];
  readonly index: ReadonlyMap<Tensor, number>;
  /** Module path of the node that made each tensor (absent at the top level). */
  readonly scopes: ReadonlyMap<Tensor, string>;
}

interface ModuleLike {
  forward: (...args: unknown[]) => unknown;
  training?: boolean;
}

function isModuleLike(value: unknown): value is ModuleLike {
  return typeof value === 'object' && value !== null && typeof (value as ModuleLike).forward === 'function';
}

/** [path, module] for the model and every submodule ('' is the model itself). */
function listModules(model: Exportable): [string, ModuleLike][] {
  if (typeof model.namedModules !== 'function') return [['', model as unknown as ModuleLike]];
  const list: [string, ModuleLike][] = [];
  for (const entry of model.namedModules()) {
    if (Array.isArray(entry) && typeof entry[0] === 'string' && isModuleLike(entry[1])) list.push([entry[0], entry[1]]);
  }
  if (!list.some(([, m]) => m === (model as unknown))) list.unshift(['', model as unknown as ModuleLike]);
  return list;
}

/** Tensors inside a forward's argument or result (a tensor, an array or a plain object of them). */
function tensorsIn(value: unknown, out: Tensor[] = [], depth = 0): Tensor[] {
  if (isTensor(value)) out.push(value);
  else if (depth < 3 && Array.isArray(value)) for (const v of value) tensorsIn(v, out, depth + 1);
  else if (depth < 3 && value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) tensorsIn(v, out, depth + 1);
  }
  return out;
}

/**
 * Labels with `path` the unlabeled tensors recorded between a module call's arguments and its
 * results. Submodules return first, so they claim their own nodes before their parent does.
 */
function labelCall(path: string, args: readonly unknown[], result: unknown, scopes: Map<Tensor, string>): void {
  const stops = new Set(tensorsIn(args));
  const seen = new Set<Tensor>();
  const stack = tensorsIn(result);
  while (stack.length > 0) {
    const t = stack.pop() as Tensor;
    if (seen.has(t) || stops.has(t) || !t.gradFn) continue;
    seen.add(t);
    if (!scopes.has(t)) scopes.set(t, path);
    for (const input of t.gradFn.inputs) stack.push(input);
  }
}

/**
 * Wraps each submodule's forward (an own property on the instance, removed afterwards) so that
 * nodes learn their module path. Returns the function that undoes it.
 */
function installScopeHooks(modules: readonly [string, ModuleLike][], scopes: Map<Tensor, string>): () => void {
  const undo: (() => void)[] = [];
  for (const [path, module] of modules) {
    if (path === '') continue;
    undo.push(wrapForward(module, (original, self, args) => {
      const result = original.apply(self, args);
      labelCall(path, args, result, scopes);
      return result;
    }));
  }
  return () => undo.forEach((u) => u());
}

/** Runs fn with the model in eval mode, restoring every module's own training flag afterwards. */
function inEvalMode<T>(model: Exportable, modules: readonly [string, ModuleLike][], fn: () => T): T {
  const saved = modules.map(([, m]) => m.training);
  if (typeof model.eval === 'function') model.eval();
  try {
    return fn();
  } finally {
    modules.forEach(([, m], i) => {
      const flag = saved[i];
      if (typeof flag === 'boolean' && m.training !== flag) m.training = flag;
    });
  }
}

/** An error from the model's own forward, prefixed with what the exporter was doing. */
function forwardError(err: unknown, inputs: readonly Tensor[]): Error {
  const shapes = inputs.map((t) => `[${t.shape.join(', ')}] (${t.dtype})`).join(', ');
  const message = `onnx.exportModel: model.forward failed on the example input ${shapes}: ${err instanceof Error ? err.message : String(err)}`;
  const Ctor = err instanceof TypeError ? TypeError : err instanceof RangeError ? RangeError : Error;
  return new Ctor(message, { cause: err });
}

function normaliseOutputs(result: unknown): { kind: OutputKind; keys: string[]; outputs: Tensor[] } {
  const bad = (what: string): TypeError =>
    new TypeError(`onnx.exportModel: expected model.forward to return a tensor, an array of tensors or an object of tensors, got ${what}`);
  if (isTensor(result)) return { kind: 'tensor', keys: [''], outputs: [result] };
  if (Array.isArray(result)) {
    if (result.length === 0) throw bad('an empty array');
    result.forEach((t, i) => { if (!isTensor(t)) throw bad(`${describeValue(t)} at index ${i}`); });
    return { kind: 'array', keys: result.map((_, i) => String(i)), outputs: result as Tensor[] };
  }
  if (result !== null && typeof result === 'object' && !ArrayBuffer.isView(result)) {
    const entries = Object.entries(result);
    if (entries.length === 0) throw bad('an empty object');
    for (const [k, t] of entries) if (!isTensor(t)) throw bad(`${describeValue(t)} under key '${k}'`);
    return { kind: 'object', keys: entries.map(([k]) => k), outputs: entries.map(([, t]) => t as Tensor) };
  }
  throw bad(describeValue(result));
}

/** Post-order walk from the outputs, stopping at the graph inputs and at leaves (no node). */
function topologicalOrder(outputs: readonly Tensor[], inputs: readonly Tensor[]): Tensor[] {
  const isInput = new Set(inputs);
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  for (const root of outputs) {
    if (visited.has(root)) continue;
    visited.add(root);
    // Iterative: deep models must not overflow the JS stack.
    const stack: [Tensor, number][] = [[root, 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [t, next] = top;
      const children = !isInput.has(t) && t.gradFn ? t.gradFn.inputs : [];
      if (next < children.length) {
        top[1] = next + 1;
        const child = children[next];
        if (!visited.has(child)) {
          visited.add(child);
          stack.push([child, 0]);
        }
      } else {
        order.push(t);
        stack.pop();
      }
    }
  }
  return order;
}

/** Traces model.forward(...inputs) in eval mode with gradients off. */
export function traceModel(model: Exportable, inputs: readonly Tensor[]): TracedGraph {
  const modules = listModules(model);
  const scopes = new Map<Tensor, string>();
  const result = inEvalMode(model, modules, () => {
    const uninstall = installScopeHooks(modules, scopes);
    try {
      return noGrad(() => trace(() => model.forward(...inputs)));
    } catch (err) {
      throw forwardError(err, inputs);
    } finally {
      uninstall();
    }
  });
  const { kind, keys, outputs } = normaliseOutputs(result);
  const order = topologicalOrder(outputs, inputs);
  return { inputs, kind, keys, outputs, order, index: new Map(order.map((t, i) => [t, i])), scopes };
}
