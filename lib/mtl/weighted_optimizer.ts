// WeightedOptimizer: one multi-task training step. Every task loss and its gradient at the head
// output come from one fused native call; a weighting strategy turns them into one update of the
// shared trunk; the wrapped optimizer applies it.
import { argRangeError, argTypeError, describeValue } from '../errors';
import { bindings } from '../native';
import { Optimizer } from '../optim';
import { KernelBuffer, Tensor, backward, backwardToSinks, fromTypedArray, isTensor } from '../tensor';
import { kernelsFor } from '../ops/device';
import { MultiTaskModel, MultiTaskOutputs, trunkSplitOf } from './model';
import { fusedMultiTaskLoss, normalizeTasks, TaskSpec } from './task_loss';
import * as weighting from './weighting';
import type { GradientLevel, GradientWeighting, LearnedParameters, WeightingStrategy } from './weighting';

interface ScaleBindings {
  unaryForward(kind: number, x: KernelBuffer, y: KernelBuffer, scalar: number): void;
}
const native = bindings<ScaleBindings>();
const MUL_SCALAR = 10;

/** t *= factor in place, on the tensor's device (element-wise: reading and writing one buffer is safe). */
function scaleInPlace(t: Tensor, factor: number): void {
  if (factor === 1) return;
  const k = t.device === 'cpu' ? native : kernelsFor<ScaleBindings>('WeightedOptimizer.step', t.device);
  k.unaryForward(MUL_SCALAR, t.buffer(), t.buffer(), factor);
}

/**
 * A gradient as a host array for the strategies' math (pure TypeScript over T x P rows): the
 * storage itself on the CPU, a copy from a CUDA tensor (which waits for the device).
 */
function hostRow(t: Tensor): Float32Array {
  return (t.isCuda ? t.toArray() : t.data) as Float32Array;
}

export interface WeightedOptimizerOptions {
  /** {taskName: {loss, weight?, ignoreIndex?, reduction?}}: one entry per head. */
  tasks: Record<string, TaskSpec>;
  /** Default: static weights from each task's `weight` (1 when absent). */
  weighting?: WeightingStrategy;
  /** Overrides the strategy's default level for gradient strategies. */
  gradientLevel?: GradientLevel;
  /** Learning rate for a strategy's own parameters (uncertainty, GradNorm); default: the optimizer's. */
  strategyLr?: number;
}

export interface StepOptions {
  /** Per-task float [N] masks: 0 marks a sample with no label for that task. */
  masks?: Record<string, Tensor>;
  /** The epoch (0-based) for strategies that work per epoch (DWA); default: the last set by setEpoch. */
  epoch?: number;
}

export interface StepResult {
  /** Unweighted loss of each task. */
  losses: Record<string, number>;
  /** The weight each task got this step. */
  weights: Record<string, number>;
  /** Σ_t weights[t] · losses[t]. */
  total: number;
  /** Optimizer steps taken so far, this one included. */
  step: number;
}

function isLearned(strategy: WeightingStrategy): strategy is WeightingStrategy & LearnedParameters & { objectiveGradient(...args: unknown[]): Float64Array } {
  return (strategy as Partial<LearnedParameters>).parameters instanceof Float64Array && typeof (strategy as { objectiveGradient?: unknown }).objectiveGradient === 'function';
}

/**
 * Trains a MultiTaskModel on Σ_t λ_t L_t or on a combination of the task gradients.
 *
 * step(outputs, targets) clears the model's gradients, computes the losses and output gradients
 * in one fused call, then:
 * - loss strategies (static, equal, uncertainty, DWA, RLW): one backward of Σ_t w_t L_t;
 * - gradient strategies at 'representation' level: one cheap backward per head to get each
 *   task's gradient at the shared representation z, combine, one backward through the trunk;
 * - at 'parameters' level: additionally one trunk backward per task to get each task's gradient
 *   over the shared parameters, combine, and write the direction into their .grad.
 * Heads always receive their own task's gradient (times w_t for loss strategies and GradNorm,
 * unweighted for the gradient-combining methods, as LibMTL does), then the optimizer steps.
 */
export class WeightedOptimizer {
  readonly model: MultiTaskModel;
  readonly optimizer: Optimizer<object>;
  readonly strategy: WeightingStrategy;
  readonly taskNames: string[];
  readonly gradientLevel: GradientLevel | null;
  private readonly specs: Required<TaskSpec>[];
  private readonly strategyParams: Tensor | null = null;
  private steps = 0;
  private epoch = 0;

  constructor(model: MultiTaskModel, optimizer: Optimizer<object>, options: WeightedOptimizerOptions) {
    const op = 'WeightedOptimizer';
    if (!(model instanceof MultiTaskModel)) throw argTypeError(op, 'model', 'a MultiTaskModel', describeValue(model));
    if (!(optimizer instanceof Optimizer)) throw argTypeError(op, 'optimizer', 'an hn.optim optimizer', describeValue(optimizer));
    if (!options || typeof options !== 'object') throw argTypeError(op, 'options', '{tasks, weighting?}', describeValue(options));
    const tasks = normalizeTasks(op, options.tasks);
    const heads = model.taskNames;
    for (const name of Object.keys(tasks)) {
      if (!heads.includes(name)) throw argRangeError(op, `tasks.${name}`, `a task with a head (heads: ${heads.join(', ')})`, `'${name}'`);
    }
    for (const head of heads) {
      if (!tasks[head]) throw argRangeError(op, 'tasks', `an entry for every head (missing '${head}')`, `tasks for ${Object.keys(tasks).join(', ')}`);
    }
    this.model = model;
    this.optimizer = optimizer;
    this.taskNames = heads;
    this.specs = heads.map((n) => tasks[n]);
    // λ_t belongs to static weighting; every other strategy chooses the weights itself.
    if (options.weighting && options.weighting.name !== 'static') {
      for (const [name, spec] of Object.entries(options.tasks)) {
        if (spec && spec.weight !== undefined) {
          throw argRangeError(op, `tasks.${name}.weight`, `unset with the '${options.weighting.name}' strategy (task weights are for static weighting)`, describeValue(spec.weight));
        }
      }
    }
    const strategy = options.weighting ?? weighting.static(Object.fromEntries(heads.map((n) => [n, tasks[n].weight])));
    if (!strategy || (strategy.kind !== 'loss' && strategy.kind !== 'gradient')) {
      throw argTypeError(op, 'weighting', "a strategy from hn.mtl.weighting (or an object with kind 'loss' | 'gradient')", describeValue(strategy));
    }
    this.strategy = strategy.init(heads);
    if (strategy.kind === 'gradient') {
      const level = options.gradientLevel ?? strategy.gradientLevel;
      if (level !== 'representation' && level !== 'parameters') throw argRangeError(op, 'gradientLevel', "'representation' or 'parameters'", describeValue(level));
      this.gradientLevel = level;
    } else {
      if (options.gradientLevel !== undefined) throw argRangeError(op, 'gradientLevel', `unset for the loss strategy '${strategy.name}'`, describeValue(options.gradientLevel));
      this.gradientLevel = null;
    }
    if (isLearned(this.strategy)) {
      this.strategyParams = fromTypedArray(Float32Array.from(this.strategy.parameters), [this.strategy.parameters.length]).requiresGrad_(true);
      this.strategyParams.name = `weighting.${this.strategy.name}`;
      const group: Record<string, unknown> = { params: [this.strategyParams], weightDecay: 0 };
      if (options.strategyLr !== undefined) group.lr = options.strategyLr;
      optimizer.addParamGroup(group as never);
    }
  }

  /** Tells epoch-based strategies (DWA) that a new epoch began. */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw argRangeError('WeightedOptimizer.setEpoch', 'epoch', 'a non-negative integer', describeValue(epoch));
    this.epoch = epoch;
  }

  step(outputs: MultiTaskOutputs, targets: Record<string, Tensor>, options: StepOptions = {}): StepResult {
    const op = 'WeightedOptimizer.step';
    if (!outputs || typeof outputs !== 'object') throw argTypeError(op, 'outputs', 'the object returned by model.forward(x)', describeValue(outputs));
    if (!targets || typeof targets !== 'object') throw argTypeError(op, 'targets', '{taskName: Tensor}', describeValue(targets));
    for (const key of Object.keys(targets)) {
      if (!this.taskNames.includes(key)) throw argRangeError(op, `targets.${key}`, `a target for a task with a head (${this.taskNames.join(', ')})`, `a target for '${key}'`);
    }
    const outs = this.taskNames.map((n) => {
      const o = outputs[n];
      if (!isTensor(o)) throw argTypeError(op, `outputs.${n}`, 'a tensor (the head output)', describeValue(o));
      if (!o.requiresGrad) throw argTypeError(op, `outputs.${n}`, 'a tensor with gradient history (run model.forward outside noGrad)', 'one without');
      return o;
    });
    const tgts = this.taskNames.map((n) => {
      const t = targets[n];
      if (!isTensor(t)) throw argTypeError(op, `targets.${n}`, 'a tensor', describeValue(t));
      return t;
    });
    const split = trunkSplitOf(outputs);
    if (!split) throw argTypeError(op, 'outputs', 'the object returned by this model\'s forward(x) in training (grad enabled)', 'outputs without the trunk split');
    const masks = this.taskNames.map((n) => options.masks?.[n] ?? null);
    const epoch = options.epoch ?? this.epoch;
    const ctx = { step: this.steps, epoch };

    this.model.zeroGrad();
    if (this.strategyParams) this.strategyParams.grad = null;

    const strategy = this.strategy;
    const lossNames = strategy.kind === 'loss' ? strategy.name : '';
    // Static and equal weights do not depend on this step's losses: fold them into the fused call.
    const preWeights = lossNames === 'static' || lossNames === 'equal' ? (strategy as weighting.LossWeighting).weights(undefined, ctx) : null;
    const fused = fusedMultiTaskLoss(op, this.taskNames, this.specs, outs, tgts, preWeights ?? this.taskNames.map(() => 1), masks);
    const losses = fused.losses;
    let weights: number[];

    if (strategy.kind === 'loss') {
      weights = preWeights ?? strategy.weights(losses, ctx);
      if (!preWeights) fused.grads.forEach((g, t) => scaleInPlace(g, weights[t]));
      const [atRepresentation] = backwardToSinks(outs, fused.grads, [split.headInput]);
      this.backwardTrunk(split, atRepresentation);
    } else {
      weights = this.gradientStep(strategy, split, outs, fused.grads, losses, ctx);
    }

    if (this.strategyParams && isLearned(strategy)) {
      const grad = strategy.kind === 'loss'
        ? strategy.objectiveGradient(losses)
        : strategy.objectiveGradient(this.lastGradients ?? [], losses);
      this.strategyParams.grad = fromTypedArray(Float32Array.from(grad), [grad.length]);
    }
    this.optimizer.step();
    if (this.strategyParams && isLearned(strategy)) {
      strategy.parameters.set(this.strategyParams.data);
      strategy.afterUpdate();
      (this.strategyParams.data as Float32Array).set(strategy.parameters);
    }
    this.lastGradients = null;
    this.steps++;
    const total = losses.reduce((sum, l, t) => sum + weights[t] * l, 0);
    return {
      losses: Object.fromEntries(this.taskNames.map((n, t) => [n, losses[t]])),
      weights: Object.fromEntries(this.taskNames.map((n, t) => [n, weights[t]])),
      total,
      step: this.steps,
    };
  }

  private lastGradients: Float32Array[] | null = null;

  private backwardTrunk(split: { representation: Tensor }, grad: Tensor | null): void {
    if (grad && split.representation.requiresGrad) backward([split.representation], [grad]);
  }

  private gradientStep(strategy: GradientWeighting, split: { representation: Tensor; headInput: Tensor },
    outs: Tensor[], grads: Tensor[], losses: number[], ctx: { step: number; epoch: number }): number[] {
    // One backward per head: its task's gradient at the shared representation.
    const repGrads: Tensor[] = outs.map((out, t) => {
      const [g] = backwardToSinks([out], [grads[t]], [split.headInput]);
      return g ?? Tensor.empty(split.headInput.shape, 'float32', split.headInput.device);
    });
    const z = split.representation;
    let result;
    if (this.gradientLevel === 'representation') {
      const rows = repGrads.map(hostRow);
      this.lastGradients = rows;
      result = strategy.combine(rows, losses, ctx);
      this.backwardTrunk(split, fromTypedArray(result.direction, z.shape).to(z.device));
    } else {
      // One trunk backward per task: its gradient over the shared parameters, flattened.
      const shared = this.model.sharedParameters();
      const P = shared.reduce((n, p) => n + p.numel, 0);
      const rows = repGrads.map((g) => {
        for (const p of shared) p.grad = null;
        this.backwardTrunk(split, g);
        const row = new Float32Array(P);
        let offset = 0;
        for (const p of shared) {
          if (p.grad) row.set(hostRow(p.grad), offset);
          offset += p.numel;
        }
        return row;
      });
      this.lastGradients = rows;
      result = strategy.combine(rows, losses, ctx);
      let offset = 0;
      for (const p of shared) {
        p.grad = fromTypedArray(result.direction.slice(offset, offset + p.numel), p.shape).to(p.device);
        offset += p.numel;
      }
    }
    // GradNorm trains Σ w_t L_t: its heads take weighted gradients too.
    if (strategy.name === 'gradNorm') {
      this.taskNames.forEach((name, t) => {
        for (const p of this.model.headParameters(name)) if (p.grad) scaleInPlace(p.grad, result.weights[t]);
      });
    }
    return result.weights;
  }

  /** Steps, epoch and the strategy's learned parameters (the optimizer saves its own state). */
  stateDict(): { step: number; epoch: number; strategy: string; strategyParameters: number[] | null } {
    return {
      step: this.steps,
      epoch: this.epoch,
      strategy: this.strategy.name,
      strategyParameters: isLearned(this.strategy) ? Array.from(this.strategy.parameters) : null,
    };
  }

  loadStateDict(state: { step: number; epoch: number; strategy: string; strategyParameters: number[] | null }): void {
    const op = 'WeightedOptimizer.loadStateDict';
    if (!state || state.strategy !== this.strategy.name) throw argRangeError(op, 'state.strategy', `'${this.strategy.name}'`, describeValue(state?.strategy));
    this.steps = state.step;
    this.epoch = state.epoch;
    if (isLearned(this.strategy) && state.strategyParameters) {
      if (state.strategyParameters.length !== this.strategy.parameters.length) {
        throw argRangeError(op, 'state.strategyParameters', `${this.strategy.parameters.length} values`, `${state.strategyParameters.length}`);
      }
      this.strategy.parameters.set(state.strategyParameters);
      (this.strategyParams!.data as Float32Array).set(this.strategy.parameters);
    }
  }
}
