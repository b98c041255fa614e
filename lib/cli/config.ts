// The training configuration: defaults, presets, a JSON config file and command-line flags merged
// in that order, then checked as a whole. Every problem is a ConfigError whose message names the
// key, what it expects and what it got (and, for a misspelt key or name, the closest valid one).
import * as fs from 'fs';
import type { LossName } from '../mtl/task_loss';
import * as weightingStrategies from '../mtl/weighting';
import { DATASETS, DATASET_NAMES } from './datasets';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const MODEL_NAMES = ['seed', 'lenet'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
export const LOSS_NAMES: readonly LossName[] = ['crossEntropy', 'mse', 'l1', 'bceWithLogits'];
export const WEIGHTING_NAMES = [
  'static', 'equal', 'uncertainty', 'dwa', 'rlw', 'gradNorm', 'mgda', 'pcgrad', 'cagrad', 'imtl', 'nashMtl', 'alignedMtl',
] as const;
export type WeightingName = (typeof WEIGHTING_NAMES)[number];
export const OPTIMIZER_NAMES = ['adam', 'adamw', 'sgd'] as const;
/** none; step: lr × gamma every stepSize epochs; cosine: per step down to 0 over the run; onecycle: per step, peak = lr. */
export const SCHEDULER_NAMES = ['none', 'step', 'cosine', 'onecycle'] as const;

export interface TaskConfig {
  loss: LossName;
  /** λ_t (static weighting only). */
  weight?: number;
}

export interface TrainConfig {
  /** Run name; the output folder defaults to runs/<name>. */
  name: string;
  out: string;
  model: ModelName;
  /** Seed model: channels of its two convolutions. */
  widths: [number, number];
  /** LeNet: the paper's dropouts. */
  dropout: boolean;
  dataset: string;
  /** Seed of the MultiMNIST partner draw (the data set itself, not the training order). */
  dataSeed: number;
  trainLimit: number | null;
  testLimit: number | null;
  tasks: Record<string, TaskConfig>;
  weighting: WeightingName;
  weightingOptions: Record<string, unknown>;
  gradientLevel: 'representation' | 'parameters' | null;
  optimizer: (typeof OPTIMIZER_NAMES)[number];
  lr: number;
  momentum: number;
  weightDecay: number;
  scheduler: (typeof SCHEDULER_NAMES)[number];
  /** StepLR: epochs per decay and the factor. */
  stepSize: number;
  gamma: number;
  epochs: number;
  batchSize: number;
  /** Native kernel threads; null: every core. */
  threads: number | null;
  /** Seeds parameter init, dropout and the shuffle. */
  seed: number;
  /** Record the running losses in metrics.json every this many steps. */
  logEvery: number;
  /** Test images kept in samples.json for the report. */
  samples: number;
  /** Export model.onnx and check it in onnxruntime-node. */
  onnx: boolean;
}

export const DEFAULTS: TrainConfig = {
  name: 'run',
  out: '',
  model: 'seed',
  widths: [32, 64],
  dropout: false,
  dataset: 'multimnist',
  dataSeed: 0,
  trainLimit: null,
  testLimit: null,
  tasks: { left: { loss: 'crossEntropy' }, right: { loss: 'crossEntropy' }, seg: { loss: 'crossEntropy' } },
  weighting: 'static',
  weightingOptions: {},
  gradientLevel: null,
  optimizer: 'adam',
  lr: 1e-3,
  momentum: 0.9,
  weightDecay: 0,
  scheduler: 'none',
  stepSize: 1,
  gamma: 0.1,
  epochs: 2,
  batchSize: 128,
  threads: null,
  seed: 0,
  logEvery: 10,
  samples: 16,
  onnx: true,
};

/** Named starting points; a config file and flags override them. */
export const PRESETS: Record<string, Partial<Record<keyof TrainConfig, unknown>>> = {
  // The first job a user runs: the seed model on MultiMNIST, 3 epochs on 2 cores. The one-cycle
  // schedule and λ_seg = 2 (the pixel loss is mostly easy background) reach the demo's targets
  // (left >= 96%, right >= 94.5%, mIoU >= 0.70) with a margin; see docs/cli.md.
  demo: {
    name: 'demo', model: 'seed', widths: [32, 64], dataset: 'multimnist', epochs: 3, batchSize: 128, optimizer: 'adam', lr: 3e-3,
    scheduler: 'onecycle', tasks: { left: { weight: 1 }, right: { weight: 1 }, seg: { weight: 2 } }, weighting: 'static', threads: 2, seed: 0,
  },
  // Sener & Koltun's LeNet with equal weights (W2), the paper's dropouts on.
  lenet: {
    name: 'lenet', model: 'lenet', dropout: true, dataset: 'multimnist', batchSize: 256, lr: 1e-3, optimizer: 'adam', epochs: 10,
    tasks: ['left', 'right'], weighting: 'equal',
  },
};

const KEYS = Object.keys(DEFAULTS) as (keyof TrainConfig)[];

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

export function didYouMean(value: string, options: readonly string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const o of options) {
    const d = distance(value, o);
    if (d < bestD) [best, bestD] = [o, d];
  }
  return bestD <= Math.max(2, Math.floor(best.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v));

function oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    const hint = typeof value === 'string' ? didYouMean(value, allowed) : '';
    throw new ConfigError(`${key}: unknown value ${show(value)}${hint}; expected one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function integer(key: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(`${key}: expected an integer >= ${min}, got ${show(value)}`);
  }
  return value;
}

function positive(key: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new ConfigError(`${key}: expected a finite number ${allowZero ? '>= 0' : '> 0'}, got ${show(value)}`);
  }
  return value;
}

function limit(key: string, value: unknown): number | null {
  return value === null || value === undefined ? null : integer(key, value, 1);
}

function checkTasks(raw: unknown, dataset: string): Record<string, TaskConfig> {
  const info = DATASETS[dataset];
  const available = Object.keys(info.tasks);
  let entries: [string, unknown][];
  if (Array.isArray(raw)) entries = raw.map((name) => [String(name), {}]);
  else if (raw && typeof raw === 'object') entries = Object.entries(raw);
  else throw new ConfigError(`tasks: expected a list of task names or an object {task: {loss, weight?}}, got ${show(raw)}`);
  if (entries.length === 0) throw new ConfigError(`tasks: expected at least one task of data set '${dataset}' (${available.join(', ')})`);
  const out: Record<string, TaskConfig> = {};
  for (const [name, spec] of entries) {
    if (!available.includes(name)) {
      throw new ConfigError(`tasks: unknown task '${name}' for data set '${dataset}'${didYouMean(name, available)}; its tasks are ${available.join(', ')}`);
    }
    if (out[name]) throw new ConfigError(`tasks: task '${name}' is listed twice`);
    const s = (typeof spec === 'number' ? { weight: spec } : spec ?? {}) as Record<string, unknown>;
    if (typeof s !== 'object' || Array.isArray(s)) throw new ConfigError(`tasks.${name}: expected an object {loss?, weight?} or a weight, got ${show(spec)}`);
    for (const key of Object.keys(s)) {
      if (key !== 'loss' && key !== 'weight') throw new ConfigError(`tasks.${name}: unknown key '${key}'${didYouMean(key, ['loss', 'weight'])}; expected loss, weight`);
    }
    const task = info.tasks[name];
    const loss = s.loss === undefined ? task.losses[0] : s.loss;
    if (typeof loss !== 'string' || !(LOSS_NAMES as readonly string[]).includes(loss)) {
      const hint = typeof loss === 'string' ? didYouMean(loss, LOSS_NAMES) : '';
      throw new ConfigError(`tasks.${name}.loss: unknown loss ${show(loss)}${hint}; expected one of ${LOSS_NAMES.join(', ')}`);
    }
    if (!task.losses.includes(loss as LossName)) {
      throw new ConfigError(`tasks.${name}.loss: '${loss}' does not fit the ${task.kind} targets of '${name}' (class indices); use ${task.losses.join(' or ')}`);
    }
    const entry: TaskConfig = { loss: loss as LossName };
    if (s.weight !== undefined) entry.weight = positive(`tasks.${name}.weight`, s.weight, true);
    out[name] = entry;
  }
  return out;
}

/** Checks a merged config; returns it with every field typed and the output folder resolved. */
export function validateConfig(raw: Record<string, unknown>): TrainConfig {
  for (const key of Object.keys(raw)) {
    if (!(KEYS as string[]).includes(key)) throw new ConfigError(`unknown config key '${key}'${didYouMean(key, KEYS)}`);
  }
  const c = { ...DEFAULTS, ...raw } as Record<string, unknown>;
  const name = c.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new ConfigError(`name: expected letters, digits, '.', '_' or '-', got ${show(name)}`);
  }
  const model = oneOf('model', c.model, MODEL_NAMES);
  const dataset = oneOf('dataset', c.dataset, DATASET_NAMES);
  const tasks = checkTasks(c.tasks, dataset);
  const info = DATASETS[dataset];
  if (model === 'lenet') {
    const seg = Object.keys(tasks).find((t) => info.tasks[t].kind !== 'classification');
    if (seg) throw new ConfigError(`tasks: model 'lenet' has classification heads only; remove '${seg}' or use model 'seed'`);
    if (info.imageSize !== 28 || info.inChannels !== 1) throw new ConfigError(`model: 'lenet' takes 1x28x28 images; data set '${dataset}' has ${info.inChannels}x${info.imageSize}x${info.imageSize}`);
  }
  if (model === 'seed' && Object.keys(tasks).filter((t) => info.tasks[t].kind === 'segmentation').length > 1) {
    throw new ConfigError("tasks: model 'seed' has one segmentation head");
  }
  const widths = c.widths;
  if (!Array.isArray(widths) || widths.length !== 2) throw new ConfigError(`widths: expected two channel counts [c1, c2], got ${show(widths)}`);
  widths.forEach((w, i) => integer(`widths[${i}]`, w, 1));
  if (typeof c.dropout !== 'boolean') throw new ConfigError(`dropout: expected true or false, got ${show(c.dropout)}`);
  const weighting = oneOf('weighting', c.weighting, WEIGHTING_NAMES);
  if (weighting !== 'static') {
    const weighted = Object.entries(tasks).find(([, t]) => t.weight !== undefined);
    if (weighted) {
      throw new ConfigError(`tasks.${weighted[0]}.weight: loss weights are for weighting 'static'; '${weighting}' chooses the weights itself (drop the weights or use --weighting static)`);
    }
  }
  const weightingOptions = c.weightingOptions;
  if (!weightingOptions || typeof weightingOptions !== 'object' || Array.isArray(weightingOptions)) {
    throw new ConfigError(`weightingOptions: expected an object, got ${show(weightingOptions)}`);
  }
  if (Object.keys(weightingOptions).length > 0) {
    if (weighting === 'static' || weighting === 'equal') {
      throw new ConfigError(`weightingOptions: weighting '${weighting}' has no options${weighting === 'static' ? ' (its weights are tasks.<name>.weight, or --loss-weights)' : ''}`);
    }
    // Building the strategy checks its options now, not after the data has loaded.
    try {
      (weightingStrategies as unknown as Record<string, (o: object) => unknown>)[weighting](weightingOptions);
    } catch (error) {
      throw new ConfigError(`weightingOptions: ${(error as Error).message}`);
    }
  }
  const gradientLevel = c.gradientLevel === null ? null : oneOf('gradientLevel', c.gradientLevel, ['representation', 'parameters'] as const);
  const config: TrainConfig = {
    name,
    out: typeof c.out === 'string' && c.out !== '' ? c.out : `runs/${name}`,
    model,
    widths: [widths[0], widths[1]],
    dropout: c.dropout,
    dataset,
    dataSeed: integer('dataSeed', c.dataSeed, 0),
    trainLimit: limit('trainLimit', c.trainLimit),
    testLimit: limit('testLimit', c.testLimit),
    tasks,
    weighting,
    weightingOptions: weightingOptions as Record<string, unknown>,
    gradientLevel,
    optimizer: oneOf('optimizer', c.optimizer, OPTIMIZER_NAMES),
    lr: positive('lr', c.lr),
    momentum: positive('momentum', c.momentum, true),
    weightDecay: positive('weightDecay', c.weightDecay, true),
    scheduler: oneOf('scheduler', c.scheduler, SCHEDULER_NAMES),
    stepSize: integer('stepSize', c.stepSize, 1),
    gamma: positive('gamma', c.gamma),
    epochs: integer('epochs', c.epochs, 1),
    batchSize: integer('batchSize', c.batchSize, 1),
    threads: c.threads === null ? null : integer('threads', c.threads, 1),
    seed: integer('seed', c.seed, 0),
    logEvery: integer('logEvery', c.logEvery, 1),
    samples: integer('samples', c.samples, 0),
    onnx: typeof c.onnx === 'boolean' ? c.onnx : (() => { throw new ConfigError(`onnx: expected true or false, got ${show(c.onnx)}`); })(),
  };
  if (config.momentum >= 1) throw new ConfigError(`momentum: expected a number in [0, 1), got ${config.momentum}`);
  return config;
}

/** Reads a JSON config file; a missing file or bad JSON is a ConfigError naming the file. */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `config file not found: ${file}` : `cannot read config file ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`config file ${file}: expected a JSON object {"epochs": 2, ...}, got ${show(value)}`);
  return value as Record<string, unknown>;
}

export interface ConfigSources {
  /** A preset name (a "preset" key in the file works too; the flag wins). */
  preset?: string;
  /** A JSON config file. */
  file?: string;
  /** Values from command-line flags (undefined ones are ignored). */
  flags?: Record<string, unknown>;
  /** λ_t per task from --loss-weights, applied to the resolved task list. */
  lossWeights?: Record<string, number>;
}

/** Merges preset < config file < flags, applies the loss weights, and validates. */
export function resolveConfig(sources: ConfigSources): TrainConfig {
  const { preset: presetInFile, ...fileValues } = sources.file ? readConfigFile(sources.file) : {};
  const presetName = sources.preset ?? (presetInFile === undefined ? undefined : String(presetInFile));
  let preset: Record<string, unknown> = {};
  if (presetName !== undefined) {
    const p = PRESETS[presetName];
    if (!p) throw new ConfigError(`preset: unknown preset '${presetName}'${didYouMean(presetName, Object.keys(PRESETS))}; expected one of ${Object.keys(PRESETS).join(', ')}`);
    preset = p;
  }
  const merged: Record<string, unknown> = { ...preset, ...fileValues };
  for (const [k, v] of Object.entries(sources.flags ?? {})) if (v !== undefined) merged[k] = v;
  // A preset's λ_t belong to its static weighting: another strategy chosen on top drops them.
  const tasksFromPreset = merged.tasks === preset.tasks && preset.tasks !== undefined;
  if (tasksFromPreset && merged.weighting !== undefined && merged.weighting !== 'static' && merged.tasks && typeof merged.tasks === 'object' && !Array.isArray(merged.tasks)) {
    merged.tasks = Object.fromEntries(Object.entries(merged.tasks as Record<string, Record<string, unknown>>).map(([t, { weight: _w, ...rest }]) => [t, rest]));
  }
  if (sources.lossWeights && Object.keys(sources.lossWeights).length > 0) {
    const raw = merged.tasks ?? DEFAULTS.tasks;
    const tasks: Record<string, unknown> = Array.isArray(raw)
      ? Object.fromEntries(raw.map((t) => [String(t), {}]))
      : { ...(raw as Record<string, unknown>) };
    for (const [task, weight] of Object.entries(sources.lossWeights)) {
      if (!(task in tasks)) throw new ConfigError(`loss weights: '${task}' is not one of the tasks being trained (${Object.keys(tasks).join(', ')})`);
      const spec = tasks[task];
      tasks[task] = { ...(spec && typeof spec === 'object' ? spec : {}), weight };
    }
    merged.tasks = tasks;
  }
  return validateConfig(merged);
}
