// The files of a run folder that describe it: metrics.json (config, tasks, per-epoch and per-step
// records, final results) and samples.json (a few test images with targets and predictions), in
// the layout lib/report reads. Both are rewritten atomically, metrics.json after every epoch, so
// an interrupted run still leaves a readable record.
import * as path from 'path';
import { noGrad } from '../autograd';
import type { ArrayDataset } from '../data/dataset';
import { writeFileAtomic } from '../io/atomic_write';
import { argmaxClasses } from '../mtl/metrics';
import type { MultiTaskModel } from '../mtl/model';
import { Tensor } from '../tensor';
import type { TaskKind, TaskMetrics } from '../train/evaluate';
import type { EpochInfo } from '../train/fit';

export const METRICS_FILE = 'metrics.json';
export const SAMPLES_FILE = 'samples.json';

/** An epoch as metrics.json keeps it: fit's EpochInfo figures (rounded), its epoch counted from 1. */
export type EpochRecord = Pick<EpochInfo, 'seconds' | 'imagesPerSecond' | 'trainLoss' | 'weights' | 'test' | 'evalSeconds'> & {
  epoch: number;
};

export interface StepRecord {
  step: number;
  epoch: number;
  losses: Record<string, number>;
  weights: Record<string, number>;
}

export interface MetricsDocument {
  config: object;
  tasks: Record<string, object>;
  environment: object;
  epochs: EpochRecord[];
  steps: StepRecord[];
  final?: Record<string, unknown>;
}

/** Rounds for JSON: 6 significant digits are plenty for losses and metrics. */
function round(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(6)) : v;
}

function roundMap<T extends Record<string, number>>(m: T): T {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v)])) as T;
}

export function roundMetrics(m: TaskMetrics): TaskMetrics {
  return Object.fromEntries(Object.entries(m).map(([t, v]) => [t, roundMap(v)]));
}

/** Collects a run's records and writes metrics.json. */
export class MetricsLog {
  readonly doc: MetricsDocument;
  private window: { losses: Record<string, number>; weights: Record<string, number>; n: number } | null = null;

  constructor(readonly runDir: string, config: object, tasks: Record<string, object>, environment: object, previous?: MetricsDocument) {
    this.doc = previous
      ? { ...previous, config, tasks, environment }
      : { config, tasks, environment, epochs: [], steps: [] };
  }

  /** Adds a step; every `every` steps the mean losses and weights of the window become a record. */
  step(step: number, epoch: number, losses: Record<string, number>, weights: Record<string, number>, every: number): void {
    const w = (this.window ??= { losses: {}, weights: {}, n: 0 });
    for (const [t, v] of Object.entries(losses)) w.losses[t] = (w.losses[t] ?? 0) + v;
    for (const [t, v] of Object.entries(weights)) w.weights[t] = (w.weights[t] ?? 0) + v;
    w.n++;
    if (step % every !== 0) return;
    const mean = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([t, v]) => [t, round(v / w.n)]));
    this.doc.steps.push({ step, epoch: epoch + 1, losses: mean(w.losses), weights: mean(w.weights) });
    this.window = null;
  }

  epoch(info: EpochInfo): EpochRecord {
    const record: EpochRecord = {
      epoch: info.epoch + 1,
      seconds: round(info.seconds),
      imagesPerSecond: round(info.imagesPerSecond),
      trainLoss: roundMap(info.trainLoss),
      weights: roundMap(info.weights),
    };
    if (info.test) record.test = roundMetrics(info.test);
    if (info.evalSeconds !== undefined) record.evalSeconds = round(info.evalSeconds);
    // A resumed run replaces what it redoes.
    this.doc.epochs = this.doc.epochs.filter((e) => e.epoch < record.epoch);
    this.doc.steps = this.doc.steps.filter((s) => s.epoch <= record.epoch);
    this.doc.epochs.push(record);
    return record;
  }

  setFinal(final: Record<string, unknown>): void {
    this.doc.final = final;
  }

  write(): void {
    writeFileAtomic(path.join(this.runDir, METRICS_FILE), Buffer.from(`${JSON.stringify(this.doc, null, 1)}\n`, 'utf8'));
  }
}

export interface SampleTask {
  kind: TaskKind;
}

/**
 * samples.json: the first `count` test images (pixels back in 0..1), each task's targets and the
 * model's predictions (class per image, or a class per pixel for segmentation).
 */
export function writeSamples(runDir: string, model: MultiTaskModel, test: ArrayDataset, tasks: Record<string, SampleTask>,
  count: number, denormalize: (v: number) => number): void {
  const n = Math.min(count, test.length);
  const [, C, H, W] = test.inputs.shape;
  const per = C * H * W;
  const x = new Tensor(test.inputs.data.slice(0, n * per), [n, C, H, W]);
  const wasTraining = model.training;
  model.eval();
  const outputs = noGrad(() => model.forward(x));
  model.train(wasTraining);
  const images: number[][] = [];
  for (let i = 0; i < n; i++) {
    images.push(Array.from(test.inputs.data.subarray(i * per, (i + 1) * per), (v) => Math.round(denormalize(v) * 1000) / 1000));
  }
  const targets: Record<string, unknown[]> = {};
  const predictions: Record<string, unknown[]> = {};
  for (const [name, task] of Object.entries(tasks)) {
    const target = test.targets[name];
    if (task.kind === 'regression') {
      const per = outputs[name].numel / n;
      targets[name] = Array.from({ length: n }, (_, i) => (per === 1 ? target.data[i] : Array.from(target.data.subarray(i * per, (i + 1) * per))));
      predictions[name] = Array.from({ length: n }, (_, i) => (per === 1 ? outputs[name].data[i] : Array.from(outputs[name].data.subarray(i * per, (i + 1) * per))));
      continue;
    }
    const predicted = argmaxClasses(outputs[name]);
    if (task.kind === 'segmentation') {
      const S = H * W;
      targets[name] = Array.from({ length: n }, (_, i) => Array.from(target.data.subarray(i * S, (i + 1) * S)));
      predictions[name] = Array.from({ length: n }, (_, i) => Array.from(predicted.subarray(i * S, (i + 1) * S)));
    } else {
      targets[name] = Array.from(target.data.subarray(0, n));
      predictions[name] = Array.from(predicted);
    }
  }
  const doc = { imageSize: [H, W], images, targets, predictions };
  writeFileAtomic(path.join(runDir, SAMPLES_FILE), Buffer.from(`${JSON.stringify(doc)}\n`, 'utf8'));
}
