import type { Tensor } from '../../tensor';
/**
 * The contract between hydranet's multi-task weighting strategies (this folder) and whoever
 * trains with them (`WeightedOptimizer`, or a user's own loop).
 *
 * Notation: T tasks, P shared numbers (the shared parameters, or the shared representation of a
 * batch flattened), L_t the loss of task t, g_t = ∇L_t the gradient of task t over those P numbers.
 *
 * Two kinds of strategy:
 *
 * - `kind: 'loss'` (static, equal, uncertainty, dwa, rlw): `weights(losses, ctx)` returns one
 *   weight w_t per task; the integrator minimises Σ_t w_t L_t (plus, for strategies with learned
 *   parameters, the regulariser documented by the strategy). No gradient matrix is needed.
 *
 * - `kind: 'gradient'` (gradNorm, mgda, pcgrad, cagrad, imtl, nashMtl, alignedMtl):
 *   `combine(G, losses?, ctx?)` takes the task-gradient matrix G (T rows of P numbers) and returns
 *   `{direction, weights}` with, for every strategy here,
 *
 *       direction = Σ_t weights[t] · G[t]      (computed in float64, stored as float32)
 *
 *   `direction` is the gradient-like vector to hand to the optimizer in place of ∇(Σ_t L_t) for
 *   the P shared numbers (the optimizer *subtracts* it: it is a descent direction, not a step).
 *   Because of the identity above, an integrator working at `gradientLevel: 'representation'`
 *   can instead back-propagate Σ_t weights[t] · L_t through the shared trunk: that gives the
 *   trunk parameters exactly the gradient that `direction` at the representation implies, and
 *   the task heads their own loss gradients scaled by their weights.
 *
 * Every gradient strategy computes only from the Gram matrix G Gᵀ (T×T, float64; GradNorm needs
 * only its diagonal) and one weighted sum of the rows: T(T+1)/2 dot products of length P plus one
 * pass to form `direction`, and no copy of G. Rows may be Float32Array, Float64Array or number[];
 * an integrator holding a Tensor passes its rows (e.g. slices of `t.toArray()`).
 *
 * Life cycle: `init(taskNames)` fixes the task order (it also resets all state: epoch averages,
 * learned parameters, random streams, reference losses) and returns the strategy. Strategies
 * other than `static` initialise themselves on first use if `init` was never called: with the
 * keys of a losses object, or with `task0 … task{T-1}` (T from G or from a losses array), which
 * is handy for inspecting a single `combine` step. Errors are TypeError/RangeError whose message
 * names the strategy and method, the argument (and task), what was expected and what came.
 */

/** One task's gradient: P numbers. */
export type GradientRow = Float32Array | Float64Array | readonly number[];

/** T task gradients of P numbers each (rows = tasks, in `taskNames` order). */
export type GradientMatrix = readonly GradientRow[];

/** What combine() accepts: rows, or a T×P float32 Tensor. */
export type GradientInput = GradientMatrix | Tensor;

/**
 * Per-task losses: an array in `taskNames` order, or an object keyed by task name
 * (every task present, no unknown names).
 */
export type TaskLosses = ArrayLike<number> | Readonly<Record<string, number>>;

/** Where training is: `step` counts optimizer steps from 0, `epoch` counts epochs from 0. */
export interface StepContext {
  step?: number;
  epoch?: number;
}

/**
 * Where the task gradients are taken. 'parameters': with respect to the shared parameters
 * (exact, costs T backward passes through the trunk). 'representation': with respect to the
 * shared representation z (MGDA-UB's upper bound; one backward through the trunk). Each factory
 * sets its paper's default; pass `{gradientLevel}` to override. It is a hint for the integrator:
 * the math here is the same for both.
 */
export type GradientLevel = 'representation' | 'parameters';

/** The result of one gradient-combination step. */
export interface CombineResult {
  /** The combined update direction, length P; equals Σ_t weights[t] · G[t]. */
  direction: Float32Array;
  /** The effective weight of each task, length T (see each strategy for what they mean). */
  weights: number[];
}

interface StrategyBase {
  /** A stable identifier: 'static', 'equal', 'uncertainty', 'dwa', 'rlw', 'gradNorm', 'mgda', ... */
  readonly name: string;
  /** The task names fixed by `init` (empty before). */
  readonly taskNames: readonly string[];
  /** Fixes the task order and resets every piece of state; returns the strategy itself. */
  init(taskNames: readonly string[]): this;
}

/** A strategy that weights the task losses. */
export interface LossWeighting extends StrategyBase {
  readonly kind: 'loss';
  /**
   * The task weights for this step. Strategies that track losses (dwa) record `losses` here, so
   * call it once per optimizer step with the step's (unweighted) task losses.
   */
  weights(losses?: TaskLosses, ctx?: StepContext): number[];
}

/** A strategy that combines task gradients. */
export interface GradientWeighting extends StrategyBase {
  readonly kind: 'gradient';
  /** Its paper's default gradient level, or the user's override. */
  readonly gradientLevel: GradientLevel;
  /** One combination step: see the module comment for the contract. */
  combine(G: GradientInput, losses?: TaskLosses, ctx?: StepContext): CombineResult;
}

/**
 * A strategy with parameters of its own (uncertainty's log-variances, GradNorm's task weights).
 * The integrator owns their training: it updates `parameters` in place with the gradient the
 * strategy reports (typically with the same optimizer as the model), then calls `afterUpdate()`.
 */
export interface LearnedParameters {
  /** The live parameter vector, length T, in `taskNames` order; update it in place. */
  readonly parameters: Float64Array;
  /** Hook to run after each in-place update (GradNorm renormalises; uncertainty does nothing). */
  afterUpdate(): void;
}

export type WeightingStrategy = LossWeighting | GradientWeighting;
