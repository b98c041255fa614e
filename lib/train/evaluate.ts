// evaluate(model, loader, tasks): per-task test metrics of a multi-task model over a whole loader,
// in eval mode and without gradients. Classification: accuracy; segmentation: mean IoU and pixel
// accuracy (confusion matrix over every pixel of the split); regression: MSE and MAE.
import { noGrad } from '../autograd';
import { argRangeError, argTypeError, describeValue } from '../errors';
import { ConfusionMatrix, RegressionErrors } from '../mtl/metrics';
import type { MultiTaskModel } from '../mtl/model';
import type { Batch } from '../data/dataloader';
import type { Tensor } from '../tensor';

export type TaskKind = 'classification' | 'segmentation' | 'regression';

export interface EvalTask {
  kind: TaskKind;
  /** Classes of a classification/segmentation task; default: dim 1 of the head's output. */
  classes?: number;
  /** Targets equal to it are not counted (default -100, as the losses). */
  ignoreIndex?: number;
}

/** {task: {metric: value}}, e.g. {left: {accuracy: 0.97}, seg: {miou: 0.74, pixelAccuracy: 0.95}}. */
export type TaskMetrics = Record<string, Record<string, number>>;

export interface EvaluateOptions {
  /** Stop after this many batches (quick checks); default: the whole loader. */
  maxBatches?: number;
  /** Called after each batch with the batch's outputs (e.g. to keep sample predictions). */
  onBatch?: (batch: Batch, outputs: Record<string, Tensor>) => void;
}

/** The primary metric of each kind, higher is better (how a "best" epoch is chosen). */
export const PRIMARY_METRIC: Record<TaskKind, { name: string; higherIsBetter: boolean }> = {
  classification: { name: 'accuracy', higherIsBetter: true },
  segmentation: { name: 'miou', higherIsBetter: true },
  regression: { name: 'mse', higherIsBetter: false },
};

type Accumulator = { update(out: Tensor, target: Tensor): void; result(): Record<string, number> };

function accumulator(name: string, task: EvalTask, out: Tensor): Accumulator {
  if (task.kind === 'regression') {
    const errors = new RegressionErrors();
    return { update: (o, t) => errors.update(o, t), result: () => ({ mse: errors.mse(), mae: errors.mae() }) };
  }
  const classes = task.classes ?? out.shape[1];
  const cm = new ConfusionMatrix(classes, task.ignoreIndex ?? -100);
  if (task.kind === 'classification') {
    if (out.ndim !== 2) throw argRangeError('evaluate', `outputs.${name}`, 'logits [N, C] for a classification task', `shape [${out.shape.join(', ')}]`);
    return { update: (o, t) => cm.update(o, t), result: () => ({ accuracy: cm.accuracy() }) };
  }
  if (out.ndim !== 4) throw argRangeError('evaluate', `outputs.${name}`, 'logits [N, C, H, W] for a segmentation task', `shape [${out.shape.join(', ')}]`);
  return { update: (o, t) => cm.update(o, t), result: () => ({ miou: cm.meanIou(), pixelAccuracy: cm.accuracy() }) };
}

function checkTasks(tasks: unknown): Record<string, EvalTask> {
  if (!tasks || typeof tasks !== 'object' || Array.isArray(tasks) || Object.keys(tasks).length === 0) {
    throw argTypeError('evaluate', 'tasks', "an object {task: {kind: 'classification' | 'segmentation' | 'regression', classes?}}", describeValue(tasks));
  }
  for (const [name, task] of Object.entries(tasks as Record<string, EvalTask>)) {
    if (!task || !(task.kind in PRIMARY_METRIC)) {
      throw argRangeError('evaluate', `tasks.${name}.kind`, "'classification', 'segmentation' or 'regression'", describeValue(task?.kind));
    }
  }
  return tasks as Record<string, EvalTask>;
}

/**
 * Runs the model over `loader` (any iterable of batches, e.g. hn.data.DataLoader) and returns the
 * metrics of every task in `tasks`. The model is put in eval mode and restored afterwards; the
 * event loop gets a turn between batches.
 * @example
 *   const metrics = await hn.train.evaluate(model, testLoader, {
 *     left: { kind: 'classification' }, seg: { kind: 'segmentation' } });
 *   metrics.left.accuracy; metrics.seg.miou
 */
export async function evaluate(model: MultiTaskModel, loader: Iterable<Batch> | AsyncIterable<Batch>, tasks: Record<string, EvalTask>,
  options: EvaluateOptions = {}): Promise<TaskMetrics> {
  const specs = checkTasks(tasks);
  const names = Object.keys(specs);
  const heads = model.taskNames;
  for (const name of names) {
    if (!heads.includes(name)) throw argRangeError('evaluate', `tasks.${name}`, `a task with a head (heads: ${heads.join(', ')})`, `'${name}'`);
  }
  const wasTraining = model.training;
  model.eval();
  const accumulators: Record<string, Accumulator> = {};
  let batches = 0;
  try {
    for await (const batch of loader as AsyncIterable<Batch>) {
      const outputs = noGrad(() => model.forward(batch.x));
      for (const name of names) {
        const target = batch.targets[name];
        if (!target) throw argRangeError('evaluate', 'loader', `batches with a '${name}' target`, `targets ${Object.keys(batch.targets).join(', ')}`);
        accumulators[name] ??= accumulator(name, specs[name], outputs[name]);
        accumulators[name].update(outputs[name], target);
      }
      options.onBatch?.(batch, outputs);
      batches++;
      if (options.maxBatches !== undefined && batches >= options.maxBatches) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    model.train(wasTraining);
  }
  if (batches === 0) throw argRangeError('evaluate', 'loader', 'at least one batch', 'an empty loader');
  return Object.fromEntries(names.map((n) => [n, accumulators[n].result()]));
}

/** One number per run to pick the best epoch: the mean primary metric, errors counted negatively. */
export function selectionScore(metrics: TaskMetrics, tasks: Record<string, EvalTask>): number {
  let total = 0;
  let count = 0;
  for (const [name, task] of Object.entries(tasks)) {
    const primary = PRIMARY_METRIC[task.kind];
    const v = metrics[name]?.[primary.name];
    if (v === undefined || Number.isNaN(v)) continue;
    total += primary.higherIsBetter ? v : -v;
    count++;
  }
  return count === 0 ? -Infinity : total / count;
}
