// The resumable state of a training run, as one checkpoint record (hn.save writes it as a
// safetensors file: the tensors by dotted name, the rest as JSON metadata):
//   model, optimizer, weightedOptimizer (steps, epoch, learned strategy parameters), scheduler,
//   position (epoch and batch within it), the data order (loader seed, shuffle, batch size: the
//   order of epoch e depends only on these and e), the global generator (dropout masks), and the
//   running sums of the epoch in progress. Restoring it and continuing gives the same batches,
//   masks and updates as the uninterrupted run.
import { argRangeError, argTypeError, describeValue } from '../errors';
import type { DataLoader } from '../data/dataloader';
import type { MultiTaskModel } from '../mtl/model';
import type { WeightedOptimizer } from '../mtl/weighted_optimizer';
import type { LRScheduler, OptimizerStateDict, SchedulerStateDict } from '../optim';
import { defaultGenerator } from '../random';
import type { Tensor } from '../tensor';

export const TRAINING_STATE_FORMAT = 'hydranet.training/1';

export interface EpochProgress {
  /** Σ over the epoch's finished steps of each task's loss times the batch size. */
  lossSums: Record<string, number>;
  weightSums: Record<string, number>;
  images: number;
  steps: number;
  /** Training seconds spent in the epoch so far (evaluation excluded). */
  seconds: number;
}

export interface TrainingState {
  format: string;
  model: Record<string, Tensor>;
  optimizer: OptimizerStateDict;
  weightedOptimizer: ReturnType<WeightedOptimizer['stateDict']>;
  scheduler: SchedulerStateDict | null;
  /** The epoch to run next (0-based) and how many of its batches are done. */
  epoch: number;
  batch: number;
  data: { seed: number; shuffle: boolean; batchSize: number; length: number };
  /** The global generator's state (hn.manualSeed's stream). */
  rng: number[];
  progress: EpochProgress;
}

export interface TrainingParts {
  model: MultiTaskModel;
  optimizer: WeightedOptimizer;
  scheduler?: LRScheduler | null;
  loader: DataLoader;
}

/** Captures the state (tensors are copies: later training steps do not change it). */
export function trainingState(parts: TrainingParts, epoch: number, batch: number, progress: EpochProgress): TrainingState {
  const model: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(parts.model.stateDict())) model[k] = v.clone();
  const optimizer = parts.optimizer.optimizer.stateDict();
  for (const entry of Object.values(optimizer.state)) {
    for (const [k, v] of Object.entries(entry)) if (v && typeof v === 'object' && 'clone' in v) entry[k] = (v as Tensor).clone();
  }
  return {
    format: TRAINING_STATE_FORMAT,
    model,
    optimizer,
    weightedOptimizer: parts.optimizer.stateDict(),
    scheduler: parts.scheduler ? parts.scheduler.stateDict() : null,
    epoch,
    batch,
    data: { seed: parts.loader.seed, shuffle: parts.loader.shuffle, batchSize: parts.loader.batchSize, length: parts.loader.dataset.length },
    rng: defaultGenerator.getState(),
    progress: structuredClone(progress),
  };
}

/** Loads `state` into the parts after checking that it belongs to this run's set-up. */
export function restoreTrainingState(state: TrainingState, parts: TrainingParts): void {
  const op = 'train.restoreTrainingState';
  if (!state || typeof state !== 'object' || state.format !== TRAINING_STATE_FORMAT) {
    throw argTypeError(op, 'state', `a training state record (format '${TRAINING_STATE_FORMAT}')`, describeValue((state as { format?: unknown })?.format ?? state));
  }
  const { data } = state;
  const loader = parts.loader;
  const mismatch = [
    ['seed', data.seed, loader.seed], ['shuffle', data.shuffle, loader.shuffle],
    ['batchSize', data.batchSize, loader.batchSize], ['dataset length', data.length, loader.dataset.length],
  ].find(([, a, b]) => a !== b);
  if (mismatch) {
    throw argRangeError(op, `state.data (${mismatch[0]})`, `the loader's ${String(mismatch[2])} (resume with the same data and batch size)`, String(mismatch[1]));
  }
  if (!Number.isInteger(state.epoch) || state.epoch < 0) throw argRangeError(op, 'state.epoch', 'a non-negative integer', describeValue(state.epoch));
  if (!Number.isInteger(state.batch) || state.batch < 0 || state.batch > loader.length) {
    throw argRangeError(op, 'state.batch', `an integer in [0, ${loader.length}]`, describeValue(state.batch));
  }
  if (!!state.scheduler !== !!parts.scheduler) {
    throw argRangeError(op, 'state.scheduler', parts.scheduler ? 'a scheduler state (this run has a scheduler)' : 'null (this run has no scheduler)', state.scheduler ? 'a scheduler state' : 'null');
  }
  parts.model.loadStateDict(state.model);
  parts.optimizer.optimizer.loadStateDict(state.optimizer);
  parts.optimizer.loadStateDict(state.weightedOptimizer);
  if (parts.scheduler && state.scheduler) parts.scheduler.loadStateDict(state.scheduler);
  if (!Array.isArray(state.rng) || state.rng.length !== 5) throw argRangeError(op, 'state.rng', 'the 5 numbers of a generator state', describeValue(state.rng));
  defaultGenerator.setState(state.rng);
}
