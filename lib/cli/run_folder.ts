// Reading a finished run folder back: its config and the model with the weights of a checkpoint.
import * as fs from 'fs';
import * as path from 'path';
import { load } from '../io/checkpoint';
import type { MultiTaskModel } from '../mtl/model';
import type { Tensor } from '../tensor';
import { ConfigError, TrainConfig, readConfigFile, validateConfig } from './config';
import { buildModel } from './setup';
import { BEST_FILE, CONFIG_FILE } from './train_command';

export function readRunConfig(runDir: string): TrainConfig {
  if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) throw new ConfigError(`run folder not found: ${runDir}`);
  const file = path.join(runDir, CONFIG_FILE);
  if (!fs.existsSync(file)) throw new ConfigError(`no ${CONFIG_FILE} in ${runDir}: is it a run folder written by \`hydranet train\`?`);
  const { preset: _preset, ...values } = readConfigFile(file);
  return validateConfig(values);
}

/** The run's model with weights from `checkpoint` (default: the run's best.safetensors). */
export function loadRunModel(runDir: string, config: TrainConfig, checkpoint?: string): { model: MultiTaskModel; file: string } {
  return loadModel(config, checkpoint ?? path.join(runDir, BEST_FILE));
}

/** The model `config` describes, with the weights of a checkpoint file (state dict or training state). */
export function loadModel(config: TrainConfig, file: string): { model: MultiTaskModel; file: string } {
  if (!fs.existsSync(file)) throw new ConfigError(`checkpoint not found: ${file}`);
  const model = buildModel(config);
  let weights = load<Record<string, unknown>>(file);
  // A training state (last.safetensors) holds the weights under "model".
  if (weights.format === 'hydranet.training/1' && weights.model && typeof weights.model === 'object') weights = weights.model as Record<string, unknown>;
  try {
    model.loadStateDict(weights as Record<string, Tensor>);
  } catch (error) {
    throw new ConfigError(`checkpoint ${file} does not fit the configured model: ${(error as Error).message}`);
  }
  model.eval();
  return { model, file };
}
