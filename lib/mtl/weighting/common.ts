// Plumbing shared by the strategies: task-name bookkeeping, the checked Gram matrix of G, and
// turning task weights into a result.

import { gramMatrix, isFiniteMatrix, weightedRowSum, type Matrix } from './linalg';
import type { CombineResult, GradientMatrix, GradientRow } from './types';
import { checkTaskNames, genericTaskNames, nonFiniteGradientError, readGradients } from './validate';

/** Holds the task names; initialises itself with generic names on first use if asked to. */
export class TaskList {
  names: string[] = [];

  set(op: string, taskNames: readonly string[]): void {
    this.names = checkTaskNames(op, taskNames);
  }

  get initialised(): boolean {
    return this.names.length > 0;
  }
}

export interface CheckedGradients {
  rows: readonly GradientRow[];
  /** G Gᵀ in float64, T×T. */
  gram: Matrix;
  tasks: number;
  size: number;
}

/**
 * Checks G, initialises the strategy with generic names if it never was (through `init`), and
 * returns its Gram matrix (which also proves every entry finite).
 */
export function checkedGram(
  op: string,
  G: GradientMatrix,
  tasks: TaskList,
  init: (names: string[]) => void,
): CheckedGradients {
  const { rows, tasks: T, size } = readGradients(op, G, tasks.initialised ? tasks.names : null);
  if (!tasks.initialised) init(genericTaskNames(T));
  const gram = gramMatrix(rows);
  if (!isFiniteMatrix(gram)) throw nonFiniteGradientError(op, rows, tasks.names);
  return { rows, gram, tasks: T, size };
}

export function combineResult(rows: readonly GradientRow[], weights: ArrayLike<number>): CombineResult {
  return { direction: weightedRowSum(rows, weights), weights: Array.from(weights) };
}

/** softmax(x / temperature), computed stably. */
export function softmax(x: ArrayLike<number>, temperature = 1): Float64Array {
  const n = x.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[i] / temperature);
  const out = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    out[i] = Math.exp(x[i] / temperature - max);
    sum += out[i];
  }
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}
