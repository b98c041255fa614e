// Plumbing shared by the strategies: task-name bookkeeping (the base classes), the checked Gram
// matrix of G, and turning task weights into a result.

import { gramMatrix, isFiniteMatrix, weightedRowSum, type Matrix } from './linalg';
import type { CombineResult, GradientInput, GradientMatrix, GradientRow, StepContext, TaskLosses } from './types';
import {
  checkTaskNames,
  genericTaskNames,
  gradientRows,
  nonFiniteGradientError,
  readContext,
  readGradients,
  readLosses,
} from './validate';

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

/**
 * What every strategy shares: the task names, fixed by `init`. A strategy with state of its own
 * extends `init` to reset it after `super.init`. `op` ('mtl.weighting.<name>') starts its errors.
 */
export abstract class TaskStrategy {
  protected readonly tasks = new TaskList();

  protected constructor(protected readonly op: string) {}

  get taskNames(): readonly string[] {
    return this.tasks.names;
  }

  init(taskNames: readonly string[]): this {
    this.tasks.set(`${this.op}.init`, taskNames);
    return this;
  }
}

export interface CombineInputs extends CheckedGradients {
  /** The losses in task order; null when none were given (and none were required). */
  losses: Float64Array | null;
}

/** A gradient strategy that computes from the Gram matrix G Gᵀ. */
export abstract class GramStrategy extends TaskStrategy {
  /**
   * The checks every `combine` starts with, in this order: G (rows, or a T×P tensor whose rows
   * are views), its shape (initialising the strategy on first use), the Gram matrix (which proves
   * G finite), `ctx`, then the losses: checked when given, or required and > 0 with
   * `positiveLosses` (for strategies that divide by them).
   */
  protected combineInputs(
    input: GradientInput,
    losses: TaskLosses | undefined,
    ctx: StepContext | undefined,
    opts: { positiveLosses?: boolean } = {},
  ): CombineInputs {
    const op = `${this.op}.combine`;
    const checked = checkedGram(op, gradientRows(op, input), this.tasks, (names) => this.init(names));
    readContext(op, ctx);
    const read = opts.positiveLosses || losses !== undefined;
    const L = read ? readLosses(op, losses, this.tasks.names, { positive: opts.positiveLosses }) : null;
    return { ...checked, losses: L };
  }
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
