// Turns a checked TrainConfig into the objects a run needs: data, model, optimizer, weighting
// strategy, scheduler, and the task tables for evaluation and metrics.json.
import { DataLoader } from '../data/dataloader';
import type { ArrayDataset } from '../data/dataset';
import { multiMnistLeNet } from '../models/lenet';
import { seedNet } from '../models/seed_net';
import type { MultiTaskModel } from '../mtl/model';
import { WeightedOptimizer } from '../mtl/weighted_optimizer';
import * as weighting from '../mtl/weighting';
import type { WeightingStrategy } from '../mtl/weighting';
import { Adam, AdamW, CosineAnnealingLR, LRScheduler, OneCycleLR, Optimizer, SGD, StepLR } from '../optim';
import { manualSeed } from '../random';
import { setNumThreads } from '../runtime';
import type { EvalTask } from '../train/evaluate';
import { ConfigError, TrainConfig } from './config';
import { DATASETS, DatasetInfo } from './datasets';

/** How metrics.json describes a task. */
export interface TaskRecord {
  loss: string;
  kind: string;
  classes: number;
  weight?: number;
}

export function evalTasks(config: TrainConfig): Record<string, EvalTask> {
  const info = DATASETS[config.dataset];
  return Object.fromEntries(Object.keys(config.tasks).map((t) => [t, { kind: info.tasks[t].kind, classes: info.tasks[t].classes }]));
}

export function taskRecords(config: TrainConfig): Record<string, TaskRecord> {
  const info = DATASETS[config.dataset];
  return Object.fromEntries(Object.entries(config.tasks).map(([t, spec]) => {
    const record: TaskRecord = { loss: spec.loss, kind: info.tasks[t].kind, classes: info.tasks[t].classes };
    if (config.weighting === 'static') record.weight = spec.weight ?? 1;
    return [t, record];
  }));
}

export function buildModel(config: TrainConfig): MultiTaskModel {
  const info = DATASETS[config.dataset];
  const names = Object.keys(config.tasks);
  if (config.model === 'lenet') return multiMnistLeNet({ dropout: config.dropout, tasks: names });
  const classTasks = names.filter((t) => info.tasks[t].kind === 'classification');
  const seg = names.find((t) => info.tasks[t].kind === 'segmentation');
  const classes = new Set(classTasks.map((t) => info.tasks[t].classes));
  if (classes.size > 1) throw new ConfigError(`model 'seed': its classification heads share one class count; tasks ${classTasks.join(', ')} differ`);
  return seedNet({
    inChannels: info.inChannels,
    imageSize: info.imageSize,
    widths: config.widths,
    classTasks,
    numClasses: classTasks.length > 0 ? info.tasks[classTasks[0]].classes : 10,
    segClasses: seg ? info.tasks[seg].classes : 0,
    segTask: seg ?? 'seg',
  });
}

export function buildStrategy(config: TrainConfig): WeightingStrategy {
  const factories = weighting as unknown as Record<string, (options?: object) => WeightingStrategy>;
  if (config.weighting === 'static') {
    return weighting.static(Object.fromEntries(Object.entries(config.tasks).map(([t, s]) => [t, s.weight ?? 1])));
  }
  try {
    return factories[config.weighting](Object.keys(config.weightingOptions).length > 0 ? config.weightingOptions : undefined);
  } catch (error) {
    throw new ConfigError(`weightingOptions: ${(error as Error).message}`);
  }
}

export function buildOptimizer(config: TrainConfig, model: MultiTaskModel): Optimizer<object> {
  const params = model.parameters();
  if (config.optimizer === 'sgd') return new SGD(params, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay }) as Optimizer<object>;
  if (config.optimizer === 'adamw') return new AdamW(params, { lr: config.lr, weightDecay: config.weightDecay }) as Optimizer<object>;
  return new Adam(params, { lr: config.lr, weightDecay: config.weightDecay }) as Optimizer<object>;
}

/** The scheduler and when fit steps it ('cosine' and 'onecycle' move the lr every step). */
export function buildScheduler(config: TrainConfig, optimizer: Optimizer<object>, stepsPerEpoch: number): { scheduler: LRScheduler | null; interval: 'epoch' | 'step' } {
  const opt = optimizer as unknown as Optimizer<{ lr: number }>;
  const totalSteps = Math.max(1, config.epochs * stepsPerEpoch);
  switch (config.scheduler) {
    case 'step': return { scheduler: new StepLR(opt, { stepSize: config.stepSize, gamma: config.gamma }), interval: 'epoch' };
    case 'cosine': return { scheduler: new CosineAnnealingLR(opt, { tMax: totalSteps }), interval: 'step' };
    case 'onecycle': return { scheduler: new OneCycleLR(opt, { maxLr: config.lr, totalSteps }), interval: 'step' };
    default: return { scheduler: null, interval: 'epoch' };
  }
}

export interface RunParts {
  info: DatasetInfo;
  train: ArrayDataset;
  test: ArrayDataset;
  trainLoader: DataLoader;
  testLoader: DataLoader;
  model: MultiTaskModel;
  optimizer: WeightedOptimizer;
  scheduler: LRScheduler | null;
  schedulerInterval: 'epoch' | 'step';
}

/**
 * Seeds, threads, data, model and optimizers, in an order that makes a run reproducible.
 * `maxBatchesPerEpoch` shortens epochs (quick checks); per-step schedules are sized to it.
 */
export function setupRun(config: TrainConfig, maxBatchesPerEpoch = Infinity): RunParts {
  if (config.threads !== null) setNumThreads(config.threads);
  manualSeed(config.seed);
  const info = DATASETS[config.dataset];
  // Model and optimizer first: their config errors surface before the data takes time to load.
  const model = buildModel(config);
  const base = buildOptimizer(config, model);
  let wopt: WeightedOptimizer;
  try {
    wopt = new WeightedOptimizer(model, base, {
      tasks: config.tasks,
      weighting: buildStrategy(config),
      ...(config.gradientLevel ? { gradientLevel: config.gradientLevel } : {}),
    });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError((error as Error).message);
  }
  const train = info.load('train', { seed: config.dataSeed, limit: config.trainLimit ?? undefined });
  const test = info.load('test', { seed: config.dataSeed, limit: config.testLimit ?? undefined });
  const trainLoader = new DataLoader(train, { batchSize: config.batchSize, shuffle: true, seed: config.seed });
  const { scheduler, interval } = buildScheduler(config, base, Math.min(trainLoader.length, maxBatchesPerEpoch));
  return {
    info,
    train,
    test,
    trainLoader,
    testLoader: new DataLoader(test, { batchSize: Math.max(config.batchSize, 256) }),
    model,
    optimizer: wopt,
    scheduler,
    schedulerInterval: interval,
  };
}
