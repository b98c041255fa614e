import { isTensor } from '../../tensor';
// Argument checks shared by the weighting strategies. Every message names the op, the argument,
// what was expected and what came, e.g.
//   "mtl.weighting.static: expected weights['depth'] to be a finite number >= 0, got -1".

import type { GradientMatrix, GradientRow, StepContext, TaskLosses, GradientInput } from './types';

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as Float32Array).length}`;
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'null prototype'})`;
  if (typeof value === 'string') return `'${value}'`;
  return String(value);
}

export function typeError(op: string, arg: string, expected: string, actual: string): TypeError {
  return new TypeError(`${op}: expected ${arg} to be ${expected}, got ${actual}`);
}

export function rangeError(op: string, arg: string, expected: string, actual: string): RangeError {
  return new RangeError(`${op}: expected ${arg} to be ${expected}, got ${actual}`);
}

/** A finite number within [min, max] (bounds inclusive unless `exclusiveMin`). */
export function checkNumber(
  op: string,
  arg: string,
  value: unknown,
  opts: { min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean } = {},
): number {
  const what = opts.integer ? 'an integer' : 'a finite number';
  if (typeof value !== 'number') throw typeError(op, arg, what, describe(value));
  const { min = -Infinity, max = Infinity, exclusiveMin = false } = opts;
  const bound = [
    min > -Infinity ? `${exclusiveMin ? '>' : '>='} ${min}` : '',
    max < Infinity ? `<= ${max}` : '',
  ].filter(Boolean).join(' and ');
  const expected = bound ? `${what} ${bound}` : what;
  if (!Number.isFinite(value) || (opts.integer && !Number.isInteger(value))) {
    throw rangeError(op, arg, expected, String(value));
  }
  if (value < min || (exclusiveMin && value === min) || value > max) {
    throw rangeError(op, arg, expected, String(value));
  }
  return value;
}

export function checkOneOf<T extends string>(op: string, arg: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw typeError(op, arg, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, describe(value));
  }
  return value as T;
}

export function checkOptions(op: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw typeError(op, 'options', 'an object', describe(options));
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw typeError(op, 'options', `an object with keys among ${known.join(', ')}`, `unknown option '${key}'`);
    }
  }
  return options as Record<string, unknown>;
}

export function checkTaskNames(op: string, taskNames: unknown): string[] {
  if (!Array.isArray(taskNames) || taskNames.length === 0) {
    throw typeError(op, 'taskNames', 'a non-empty array of task names', describe(taskNames));
  }
  const seen = new Set<string>();
  taskNames.forEach((name, i) => {
    if (typeof name !== 'string' || name.length === 0) {
      throw typeError(op, `taskNames[${i}]`, 'a non-empty string', describe(name));
    }
    if (seen.has(name)) throw rangeError(op, 'taskNames', 'distinct names', `'${name}' twice`);
    seen.add(name);
  });
  return [...taskNames];
}

export function genericTaskNames(count: number): string[] {
  return Array.from({ length: count }, (_, t) => `task${t}`);
}

function isArrayLikeOfNumbers(value: unknown): value is ArrayLike<number> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/**
 * Reads per-task losses (array in task order, or object keyed by task name) into a Float64Array
 * in task order. `positive` demands L_t > 0 (ratios and divisions by the loss).
 */
export function readLosses(
  op: string,
  losses: TaskLosses | undefined,
  taskNames: readonly string[],
  opts: { positive?: boolean } = {},
): Float64Array {
  const T = taskNames.length;
  const out = new Float64Array(T);
  if (losses === undefined || losses === null) {
    throw typeError(op, 'losses', `the ${T} task losses (an array or an object keyed by task name)`, describe(losses));
  }
  if (isArrayLikeOfNumbers(losses)) {
    if (losses.length !== T) {
      throw rangeError(op, 'losses', `${T} values (one per task: ${taskNames.join(', ')})`, `${losses.length}`);
    }
    for (let t = 0; t < T; t++) out[t] = losses[t];
  } else if (typeof losses === 'object') {
    const record = losses as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!taskNames.includes(key)) {
        throw rangeError(op, 'losses', `keys among the tasks ${taskNames.join(', ')}`, `unknown task '${key}'`);
      }
    }
    taskNames.forEach((name, t) => {
      if (!(name in record)) throw rangeError(op, 'losses', `a loss for every task`, `none for task '${name}'`);
      const v = record[name];
      if (typeof v !== 'number') throw typeError(op, `losses['${name}']`, 'a number', describe(v));
      out[t] = v;
    });
  } else {
    throw typeError(op, 'losses', 'an array or an object keyed by task name', describe(losses));
  }
  for (let t = 0; t < T; t++) {
    const v = out[t];
    const bad = typeof v !== 'number' || !Number.isFinite(v) || (opts.positive ? v <= 0 : false);
    if (bad) {
      throw rangeError(op, `losses['${taskNames[t]}']`, opts.positive ? 'a finite number > 0' : 'a finite number', String(v));
    }
  }
  return out;
}

export function readContext(op: string, ctx: StepContext | undefined): StepContext {
  if (ctx === undefined) return {};
  if (ctx === null || typeof ctx !== 'object') throw typeError(op, 'ctx', 'an object {step?, epoch?}', describe(ctx));
  if (ctx.step !== undefined) checkNumber(op, 'ctx.step', ctx.step, { min: 0, integer: true });
  if (ctx.epoch !== undefined) checkNumber(op, 'ctx.epoch', ctx.epoch, { min: 0, integer: true });
  return ctx;
}

/**
 * Checks the shape of G: T rows (`expectedTasks` when the strategy is initialised), each an
 * array or typed array of the same length P >= 1. Values are checked later, through the Gram
 * matrix (a non-finite entry makes it non-finite), so that no extra pass over G is spent.
 */
/** A T×P tensor becomes T row views of its storage (no copy); arrays of rows pass through. */
export function gradientRows(op: string, G: GradientInput): GradientMatrix {
  if (!isTensor(G)) return G;
  if (G.ndim !== 2) throw rangeError(op, 'G', 'a 2-D tensor [tasks, P] or an array of rows', `a tensor of shape [${G.shape.join(', ')}]`);
  const data = G.floatData(op, 'G');
  const [T, P] = G.shape;
  return Array.from({ length: T }, (_, t) => data.subarray(t * P, (t + 1) * P));
}

export function readGradients(
  op: string,
  G: GradientMatrix,
  taskNames: readonly string[] | null,
): { rows: readonly GradientRow[]; tasks: number; size: number } {
  if (!Array.isArray(G)) {
    throw typeError(op, 'G', 'an array of task gradients (Float32Array[] or number[][], one row per task)', describe(G));
  }
  const T = G.length;
  if (taskNames !== null && T !== taskNames.length) {
    throw rangeError(op, 'G', `${taskNames.length} rows (one per task: ${taskNames.join(', ')})`, `${T} rows`);
  }
  if (T === 0) throw rangeError(op, 'G', 'at least one row', '0 rows');
  let P = -1;
  for (let t = 0; t < T; t++) {
    const row = G[t];
    if (!isArrayLikeOfNumbers(row)) throw typeError(op, `G[${t}]`, 'a Float32Array, Float64Array or number[]', describe(row));
    if (P < 0) P = row.length;
    else if (row.length !== P) {
      throw rangeError(op, `G[${t}]`, `length ${P} (all rows the same length, like G[0])`, `length ${row.length}`);
    }
  }
  if (P === 0) throw rangeError(op, 'G', 'rows of length >= 1', 'rows of length 0');
  return { rows: G, tasks: T, size: P };
}

/** Names the first non-finite entry of G (called only once the Gram matrix showed one exists). */
export function nonFiniteGradientError(op: string, rows: readonly GradientRow[], taskNames: readonly string[]): RangeError {
  for (let t = 0; t < rows.length; t++) {
    const row = rows[t];
    for (let k = 0; k < row.length; k++) {
      const v = row[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        return rangeError(op, `G[${t}][${k}] (task '${taskNames[t]}')`, 'a finite number', String(v));
      }
    }
  }
  return rangeError(op, 'G', 'gradients whose dot products fit in float64', 'an overflow in G Gᵀ');
}

/**
 * Task names for a strategy used before `init`: the keys of a losses object, or task0 … task{T-1}
 * for a losses array.
 */
export function inferTaskNames(op: string, losses: TaskLosses | undefined): string[] {
  if (losses === undefined || losses === null) {
    throw new TypeError(`${op}: call init(taskNames) first, or pass the task losses so that the number of tasks is known`);
  }
  if (isArrayLikeOfNumbers(losses)) return genericTaskNames(losses.length);
  if (typeof losses === 'object') return checkTaskNames(op, Object.keys(losses));
  throw typeError(op, 'losses', 'an array or an object keyed by task name', describe(losses));
}

/** An optional numeric option: `fallback` when undefined, else checked like `checkNumber`. */
export function numberOption(
  op: string,
  name: string,
  value: unknown,
  fallback: number,
  opts: { min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean } = {},
): number {
  return value === undefined ? fallback : checkNumber(op, `options.${name}`, value, opts);
}

/** An optional string option among `allowed`: `fallback` when undefined. */
export function oneOfOption<T extends string>(op: string, name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  return value === undefined ? fallback : checkOneOf(op, `options.${name}`, value, allowed);
}

export const GRADIENT_LEVELS = ['representation', 'parameters'] as const;
