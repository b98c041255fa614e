// fit(): the multi-task training loop. Each step runs the model's forward and one
// WeightedOptimizer.step (all task losses, the weighting strategy, backward, update), then
// yields to the event loop (setImmediate) so a server keeps answering while it trains. After
// each epoch: the scheduler steps, the test split is evaluated, onEpoch is awaited.
import { argRangeError, argTypeError, describeValue } from '../errors';
import type { Batch, DataLoader } from '../data/dataloader';
import { MultiTaskModel } from '../mtl/model';
import { WeightedOptimizer } from '../mtl/weighted_optimizer';
import type { LRScheduler } from '../optim';
import type { Tensor } from '../tensor';
import { EvalTask, TaskMetrics, evaluate } from './evaluate';
import { EpochProgress, TrainingState, restoreTrainingState, trainingState } from './state';

export interface StepInfo {
  /** 0-based epoch and batch within it; `step` counts optimizer steps from 1 over the run. */
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  /** Samples in this batch. */
  size: number;
  /** This step's unweighted task losses, the weights used, and Σ w_t L_t. */
  losses: Record<string, number>;
  weights: Record<string, number>;
  total: number;
  /** Mean task losses over the epoch so far (sample-weighted). */
  runningLoss: Record<string, number>;
  /** Wall seconds of this epoch's training so far and the throughput they give. */
  seconds: number;
  imagesPerSecond: number;
}

export interface EpochInfo {
  /** 0-based. */
  epoch: number;
  steps: number;
  images: number;
  /** Wall seconds of the epoch's training (evaluation excluded) and throughput. */
  seconds: number;
  imagesPerSecond: number;
  /** Mean task losses and mean weights over the epoch. */
  trainLoss: Record<string, number>;
  weights: Record<string, number>;
  /** Test metrics after the epoch (when `test` was given) and the seconds they took. */
  test?: TaskMetrics;
  evalSeconds?: number;
  /** The resumable state at the end of this epoch (a fresh copy per call). */
  state(): TrainingState;
}

export interface FitOptions {
  model: MultiTaskModel;
  optimizer: WeightedOptimizer;
  /** The training batches; its seed and epoch fix the order (resumable). */
  loader: DataLoader;
  /** Total epochs of the run (a resumed run continues up to it). */
  epochs: number;
  /** The learning-rate scheduler, stepped after every epoch (default) or every step. */
  scheduler?: LRScheduler | null;
  schedulerInterval?: 'epoch' | 'step';
  /** Evaluated after every epoch. */
  test?: { loader: Iterable<Batch> | AsyncIterable<Batch>; tasks: Record<string, EvalTask>; maxBatches?: number };
  /** Continue from a state saved by an earlier run (EpochInfo.state() / hn.save / hn.load). */
  resume?: TrainingState;
  /** Train on at most this many batches per epoch (quick runs); default all. */
  maxBatchesPerEpoch?: number;
  onStep?: (info: StepInfo) => void | Promise<void>;
  onEpoch?: (info: EpochInfo) => void | Promise<void>;
  /** Stops after the current step; fit then resolves with what it finished. */
  signal?: AbortSignal;
}

export interface FitResult {
  epochs: EpochInfo[];
  /** False when the signal stopped the run early. */
  completed: boolean;
  /** The state where the run stopped (resume from it to go on). */
  state(): TrainingState;
}

const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

function emptyProgress(tasks: readonly string[]): EpochProgress {
  const zeros = () => Object.fromEntries(tasks.map((t) => [t, 0]));
  return { lossSums: zeros(), weightSums: zeros(), images: 0, steps: 0, seconds: 0 };
}

function means(sums: Record<string, number>, n: number): Record<string, number> {
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, n > 0 ? v / n : NaN]));
}

function checkOptions(o: FitOptions): void {
  const op = 'train.fit';
  if (!o || typeof o !== 'object') throw argTypeError(op, 'options', '{model, optimizer, loader, epochs}', describeValue(o));
  if (!(o.model instanceof MultiTaskModel)) throw argTypeError(op, 'model', 'an hn.mtl.MultiTaskModel', describeValue(o.model));
  if (!(o.optimizer instanceof WeightedOptimizer)) throw argTypeError(op, 'optimizer', 'an hn.mtl.WeightedOptimizer', describeValue(o.optimizer));
  if (o.optimizer.model !== o.model) throw argRangeError(op, 'optimizer', 'a WeightedOptimizer of this model', 'one of another model');
  if (!o.loader || typeof o.loader.setEpoch !== 'function' || !o.loader.dataset) throw argTypeError(op, 'loader', 'an hn.data.DataLoader', describeValue(o.loader));
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw argRangeError(op, 'epochs', 'an integer >= 1', describeValue(o.epochs));
  if (o.schedulerInterval !== undefined && o.schedulerInterval !== 'epoch' && o.schedulerInterval !== 'step') {
    throw argRangeError(op, 'schedulerInterval', "'epoch' or 'step'", describeValue(o.schedulerInterval));
  }
  if (o.maxBatchesPerEpoch !== undefined && (!Number.isInteger(o.maxBatchesPerEpoch) || o.maxBatchesPerEpoch < 1)) {
    throw argRangeError(op, 'maxBatchesPerEpoch', 'an integer >= 1', describeValue(o.maxBatchesPerEpoch));
  }
  const targets = Object.keys(o.loader.dataset.targets);
  for (const task of o.optimizer.taskNames) {
    if (!targets.includes(task)) throw argRangeError(op, 'loader', `a data set with a '${task}' target`, `targets ${targets.join(', ')}`);
  }
}

/**
 * Trains `model` for `epochs` epochs.
 * @example
 *   const result = await hn.train.fit({ model, optimizer: wopt, loader: trainLoader, epochs: 2,
 *     test: { loader: testLoader, tasks: { left: { kind: 'classification' } } },
 *     onEpoch: (e) => console.log(e.epoch, e.trainLoss, e.test) });
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  checkOptions(options);
  const { model, optimizer, loader, scheduler = null } = options;
  const perStep = options.schedulerInterval === 'step';
  const tasks = optimizer.taskNames;
  const parts = { model, optimizer, scheduler, loader };
  const batches = Math.min(loader.length, options.maxBatchesPerEpoch ?? Infinity);

  let epoch = 0;
  let skip = 0;
  let progress = emptyProgress(tasks);
  if (options.resume) {
    restoreTrainingState(options.resume, parts);
    epoch = options.resume.epoch;
    skip = options.resume.batch;
    // A state saved after an epoch's last step (skip = batches) skips to its end-of-epoch work.
    progress = structuredClone(options.resume.progress);
  }
  const done: EpochInfo[] = [];
  let position = { epoch, batch: skip };
  const snapshot = () => trainingState(parts, position.epoch, position.batch, progress);

  for (; epoch < options.epochs; epoch++) {
    if (skip === 0) progress = emptyProgress(tasks);
    optimizer.setEpoch(epoch);
    loader.setEpoch(epoch);
    model.train();
    // Throughput is wall time of the training loop (batch gathering included, evaluation not).
    const epochStart = process.hrtime.bigint();
    const secondsBefore = progress.seconds;
    let b = 0;
    for await (const batch of loader) {
      if (b >= batches) break;
      if (b < skip) {
        batch.x.dispose();
        b++;
        continue;
      }
      const targets: Record<string, Tensor> = {};
      for (const t of tasks) targets[t] = batch.targets[t as keyof typeof batch.targets];
      const outputs = model.forward(batch.x);
      const result = optimizer.step(outputs, targets);
      if (perStep) scheduler?.step();
      const size = batch.x.shape[0];
      batch.x.dispose();
      for (const t of Object.values(batch.targets)) t.dispose();
      progress.seconds = secondsBefore + Number(process.hrtime.bigint() - epochStart) / 1e9;
      progress.images += size;
      progress.steps++;
      for (const t of tasks) {
        progress.lossSums[t] += result.losses[t] * size;
        progress.weightSums[t] += result.weights[t] * size;
      }
      b++;
      position = { epoch, batch: b };
      if (options.onStep) {
        await options.onStep({
          epoch, batch: b - 1, batches, step: result.step, size, losses: result.losses, weights: result.weights, total: result.total,
          runningLoss: means(progress.lossSums, progress.images), seconds: progress.seconds, imagesPerSecond: progress.images / progress.seconds,
        });
      }
      if (options.signal?.aborted) return { epochs: done, completed: false, state: snapshot };
      await breathe();
    }
    skip = 0;
    if (!perStep) scheduler?.step();
    const finished = epoch;
    const info: EpochInfo = {
      epoch,
      steps: progress.steps,
      images: progress.images,
      seconds: progress.seconds,
      imagesPerSecond: progress.images / progress.seconds,
      trainLoss: means(progress.lossSums, progress.images),
      weights: means(progress.weightSums, progress.images),
      state: () => trainingState(parts, finished + 1, 0, emptyProgress(tasks)),
    };
    if (options.test) {
      const started = process.hrtime.bigint();
      info.test = await evaluate(model, options.test.loader, options.test.tasks, { maxBatches: options.test.maxBatches });
      info.evalSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    }
    position = { epoch: epoch + 1, batch: 0 };
    progress = emptyProgress(tasks);
    done.push(info);
    if (options.onEpoch) await options.onEpoch(info);
    if (options.signal?.aborted) return { epochs: done, completed: epoch + 1 >= options.epochs, state: snapshot };
  }
  return { epochs: done, completed: true, state: snapshot };
}
