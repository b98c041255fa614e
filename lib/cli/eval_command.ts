// `hydranet eval <runDir>`: the test metrics of a run's checkpoint.
import type { Output } from './progress';
import { DataLoader } from '../data/dataloader';
import { setNumThreads } from '../runtime';
import { evaluate, TaskMetrics } from '../train/evaluate';
import { ConfigError } from './config';
import { DATASETS } from './datasets';
import { loadRunModel, readRunConfig } from './run_folder';
import { roundMetrics } from './run_files';
import { evalTasks } from './setup';
import { formatMetrics } from './train_command';

export interface EvalCommandOptions {
  checkpoint?: string;
  testLimit?: number;
  batchSize?: number;
  threads?: number;
  json?: boolean;
}

export async function runEval(runDir: string, options: EvalCommandOptions, out: Output = process.stdout): Promise<TaskMetrics> {
  const config = readRunConfig(runDir);
  for (const [key, v] of Object.entries({ testLimit: options.testLimit, batchSize: options.batchSize, threads: options.threads })) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ConfigError(`${key}: expected an integer >= 1, got ${JSON.stringify(v)}`);
  }
  if (options.threads) setNumThreads(options.threads);
  const { model, file } = loadRunModel(runDir, config, options.checkpoint);
  const test = DATASETS[config.dataset].load('test', { seed: config.dataSeed, limit: options.testLimit ?? config.testLimit ?? undefined });
  const started = process.hrtime.bigint();
  const metrics = roundMetrics(await evaluate(model, new DataLoader(test, { batchSize: options.batchSize ?? 256 }), evalTasks(config)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (options.json) out.write(`${JSON.stringify({ checkpoint: file, images: test.length, seconds, metrics }, null, 2)}\n`);
  else out.write(`${file} on ${test.length} ${config.dataset} test images (${seconds.toFixed(1)}s): ${formatMetrics(metrics)}\n`);
  return metrics;
}
