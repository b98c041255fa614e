// `hydranet bench`: training and inference throughput of a model on this machine, on random
// inputs and labels of the right shapes (the data pipeline is not timed). Figures are medians
// over repeats of `steps` steps after `warmup` untimed ones.
import type { Output } from './progress';
import { noGrad } from '../autograd';
import { multiMnistLeNet } from '../models/lenet';
import { seedNet } from '../models/seed_net';
import type { MultiTaskModel } from '../mtl/model';
import { WeightedOptimizer } from '../mtl/weighted_optimizer';
import { Adam } from '../optim';
import { manualSeed } from '../random';
import { cpuFeatures, getNumThreads, setNumThreads } from '../runtime';
import { Tensor, randint, randn } from '../tensor';
import { ConfigError, MODEL_NAMES } from './config';

export interface BenchOptions {
  model?: string;
  widths?: [number, number];
  batchSize?: number;
  steps?: number;
  warmup?: number;
  repeats?: number;
  threads?: number;
  json?: boolean;
}

export interface BenchResult {
  model: string;
  batchSize: number;
  threads: number;
  avx2: boolean;
  trainStepsPerSecond: number;
  trainImagesPerSecond: number;
  inferenceImagesPerSecond: number;
  inferenceImagesPerSecondBatch1: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function timeIt(n: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function positiveInt(key: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`${key}: expected an integer >= 1, got ${JSON.stringify(v)}`);
  return v;
}

export function runBench(options: BenchOptions, out: Output = process.stdout): BenchResult {
  const name = options.model ?? 'seed';
  if (!(MODEL_NAMES as readonly string[]).includes(name)) throw new ConfigError(`model: unknown value '${name}'; expected one of ${MODEL_NAMES.join(', ')}`);
  const B = positiveInt('batchSize', options.batchSize, name === 'lenet' ? 256 : 128);
  const steps = positiveInt('steps', options.steps, 10);
  const warmup = positiveInt('warmup', options.warmup ?? 2, 2);
  const repeats = positiveInt('repeats', options.repeats, 3);
  if (options.threads !== undefined) setNumThreads(positiveInt('threads', options.threads, 1));
  manualSeed(0);
  const model: MultiTaskModel = name === 'lenet' ? multiMnistLeNet() : seedNet(options.widths ? { widths: options.widths } : {});
  const tasks = model.taskNames;
  const specs = Object.fromEntries(tasks.map((t) => [t, { loss: 'crossEntropy' as const }]));
  const wopt = new WeightedOptimizer(model, new Adam(model.parameters(), { lr: 1e-3 }), { tasks: specs });
  const x = randn([B, 1, 28, 28]);
  const targets: Record<string, Tensor> = {};
  for (const t of tasks) targets[t] = t === 'seg' ? randint(0, 3, [B, 28, 28]) : randint(0, 10, [B]);

  const step = () => { wopt.step(model.forward(x), targets); };
  for (let i = 0; i < warmup; i++) step();
  const train = median(Array.from({ length: repeats }, () => timeIt(steps, step)));
  model.eval();
  const x1 = randn([1, 1, 28, 28]);
  const infer = median(Array.from({ length: repeats }, () => timeIt(steps, () => noGrad(() => model.forward(x)))));
  const infer1 = median(Array.from({ length: repeats }, () => timeIt(steps * 8, () => noGrad(() => model.forward(x1)))));
  const result: BenchResult = {
    model: name === 'seed' ? `seed [${(options.widths ?? [32, 64]).join(', ')}]` : 'lenet',
    batchSize: B,
    threads: getNumThreads(),
    avx2: cpuFeatures().avx2,
    trainStepsPerSecond: steps / train,
    trainImagesPerSecond: (steps * B) / train,
    inferenceImagesPerSecond: (steps * B) / infer,
    inferenceImagesPerSecondBatch1: (steps * 8) / infer1,
  };
  if (options.json) {
    out.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    out.write(`${result.model} on MultiMNIST-shaped input, batch ${B}, ${result.threads} threads${result.avx2 ? ' (AVX2)' : ''}\n`);
    out.write(`  train      ${result.trainStepsPerSecond.toFixed(2)} steps/s  ${result.trainImagesPerSecond.toFixed(0)} images/s\n`);
    out.write(`  inference  ${result.inferenceImagesPerSecond.toFixed(0)} images/s (batch ${B})  ${result.inferenceImagesPerSecondBatch1.toFixed(0)} images/s (batch 1)\n`);
  }
  return result;
}
