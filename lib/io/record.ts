/**
 * Checkpoint "records": nested plain objects and arrays mixing tensors with numbers, strings,
 * booleans and null, e.g. {model: stateDict, optimizer: {state: {...}, paramGroups: [...]}, epoch: 3}.
 *
 * In the safetensors file each tensor is a tensor named by its dotted path ("model.fc.weight"), so
 * any safetensors reader sees plain weights. Everything else goes, as JSON, into `__metadata__`
 * under RECORD_METADATA_KEY:
 *   {"version": 1, "tree": <the record with null where tensors and non-finite numbers were>,
 *    "tensors": [[path, tensorName], ...], "numbers": [[path, "NaN" | "Infinity" | "-Infinity"], ...]}
 * Paths are arrays of object keys (strings) and array indices (numbers), so keys that contain dots
 * round-trip exactly. Object properties holding `undefined` are skipped, as JSON.stringify does.
 */
import { SafetensorsError, defineOwn } from './safetensors';

export const RECORD_METADATA_KEY = 'hydranet.record';
const RECORD_VERSION = 1;

/** What saving needs from a tensor; hydranet's Tensor has it, so do look-alikes. */
export interface TensorLike {
  readonly shape: readonly number[];
  readonly dtype: string;
  toArray(): Float32Array | Int32Array;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type PathStep = string | number;

export interface FlatRecord<T> {
  /** Tensors by their name in the file. */
  tensors: Map<string, T>;
  /** The JSON for RECORD_METADATA_KEY, or undefined for a plain state dict (flat names -> tensors). */
  recordJson: string | undefined;
}

export function isTensorLike(value: unknown): value is TensorLike {
  const t = value as TensorLike;
  return typeof value === 'object' && value !== null && Array.isArray(t.shape)
    && typeof t.dtype === 'string' && typeof t.toArray === 'function';
}

/** Splits a state dict or record into named tensors and (for records) the JSON skeleton. */
export function flattenRecord(value: object, op: string): FlatRecord<TensorLike> {
  if (!isPlainObject(value)) {
    throw new TypeError(`${op}: expected a state dict or a plain object record, got ${describe(value)}`);
  }
  const tensors = new Map<string, TensorLike>();
  const entries = Object.entries(value);
  if (entries.every(([, v]) => isTensorLike(v))) {
    // A plain state dict stays a plain safetensors file, names untouched.
    for (const [name, t] of entries) tensors.set(name, t as TensorLike);
    return { tensors, recordJson: undefined };
  }

  const tensorPaths: [PathStep[], string][] = [];
  const numbers: [PathStep[], string][] = [];
  const pathOfName = new Map<string, PathStep[]>();
  const open = new Set<object>();
  const walk = (v: unknown, path: PathStep[]): Json => {
    if (isTensorLike(v)) {
      const name = path.join('.');
      const other = pathOfName.get(name);
      if (other) {
        throw new RangeError(`${op}: tensors at paths ${JSON.stringify(other)} and ${JSON.stringify(path)} would both be named `
          + `${JSON.stringify(name)} in the file; rename one of the keys`);
      }
      pathOfName.set(name, path);
      tensors.set(name, v);
      tensorPaths.push([path, name]);
      return null;
    }
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') {
      if (Number.isFinite(v)) return v;
      numbers.push([path, String(v)]); // JSON has no NaN/Infinity (think bestLoss = Infinity)
      return null;
    }
    if (Array.isArray(v) || isPlainObject(v)) {
      if (open.has(v)) throw new TypeError(`${op}: ${showPath(path)} refers back to an enclosing object (a cycle)`);
      open.add(v);
      let out: Json;
      if (Array.isArray(v)) {
        out = Array.from({ length: v.length }, (_, i) => {
          if (!(i in v) || v[i] === undefined) throw new TypeError(`${op}: ${showPath([...path, i])} is undefined (arrays may not have holes)`);
          return walk(v[i], [...path, i]);
        });
      } else {
        out = {};
        for (const [key, child] of Object.entries(v)) {
          if (child !== undefined) defineOwn(out, key, walk(child, [...path, key]));
        }
      }
      open.delete(v);
      return out;
    }
    throw new TypeError(`${op}: expected ${showPath(path)} to be a tensor, number, string, boolean, null, `
      + `array or plain object, got ${describe(v)}`);
  };
  const tree = walk(value, []);
  const recordJson = JSON.stringify({ version: RECORD_VERSION, tree, tensors: tensorPaths, numbers });
  return { tensors, recordJson };
}

/**
 * Rebuilds what flattenRecord split. `recordJson` undefined means a plain state dict: the tensors
 * themselves. Throws a SafetensorsError naming `source` when the record does not match the tensors.
 */
export function assembleRecord<T>(tensors: Map<string, T>, recordJson: string | undefined, source: string): Record<string, unknown> {
  if (recordJson === undefined) {
    const flat: Record<string, unknown> = {};
    for (const [name, t] of tensors) defineOwn(flat, name, t);
    return flat;
  }
  const bad = (what: string) => new SafetensorsError(`load: ${source}: ${RECORD_METADATA_KEY} metadata ${what}`);
  let record: { version?: unknown; tree?: unknown; tensors?: unknown; numbers?: unknown };
  try {
    record = JSON.parse(recordJson);
  } catch (err) {
    throw bad(`is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(record)) throw bad('is not an object');
  if (record.version !== RECORD_VERSION) {
    throw bad(`has version ${describe(record.version)}; this hydranet reads version ${RECORD_VERSION}`);
  }
  const tree = record.tree;
  if (!isPlainObject(tree)) throw bad('has no object "tree"');
  const placed = new Set<string>();
  for (const [path, name] of pairs(record.tensors, 'tensors', bad)) {
    const t = tensors.get(name);
    if (t === undefined) throw bad(`names tensor ${JSON.stringify(name)}, which the file does not hold`);
    if (placed.has(name)) throw bad(`places tensor ${JSON.stringify(name)} twice`);
    placed.add(name);
    place(tree, path, t, bad);
  }
  for (const [path, text] of pairs(record.numbers, 'numbers', bad)) {
    if (text !== 'NaN' && text !== 'Infinity' && text !== '-Infinity') throw bad(`has the number ${JSON.stringify(text)}`);
    place(tree, path, Number(text), bad);
  }
  for (const name of tensors.keys()) {
    if (!placed.has(name)) throw bad(`does not place tensor ${JSON.stringify(name)} (file edited by another tool?)`);
  }
  return tree;
}

function pairs(list: unknown, field: string, bad: (what: string) => Error): [PathStep[], string][] {
  const ok = Array.isArray(list) && list.every((item) => Array.isArray(item) && item.length === 2
    && Array.isArray(item[0]) && item[0].length > 0 && typeof item[1] === 'string'
    && item[0].every((s: unknown) => typeof s === 'string' || (typeof s === 'number' && Number.isSafeInteger(s) && s >= 0)));
  if (!ok) throw bad(`has a malformed "${field}" list (expected [[path, string], ...])`);
  return list as [PathStep[], string][];
}

/** Puts `value` where the tree holds a null placeholder at `path`. */
function place(tree: unknown, path: PathStep[], value: unknown, bad: (what: string) => Error): void {
  let node = tree;
  for (let i = 0; i < path.length; i++) {
    const step = path[i];
    const container = typeof step === 'number' ? Array.isArray(node) : isPlainObject(node);
    const holder = node as Record<PathStep, unknown>;
    if (!container || !Object.prototype.hasOwnProperty.call(holder, step)) {
      throw bad(`has a path ${showPath(path)} that does not exist in the tree`);
    }
    if (i === path.length - 1) {
      if (holder[step] !== null) throw bad(`path ${showPath(path)} does not point at a placeholder`);
      defineOwn(holder, step, value);
    }
    node = holder[step];
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function showPath(path: PathStep[]): string {
  return path.length === 0 ? 'the top level' : JSON.stringify(path.join('.'));
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  return `${typeof value} ${String(value)}`;
}
