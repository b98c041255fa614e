// `hydranet export <runDir>` or `hydranet export <checkpoint> --model <config>`: a checkpoint as
// an ONNX file (dynamic batch), checked in onnxruntime-node on test images unless --no-check.
import type { Output } from './progress';
import * as fs from 'fs';
import * as path from 'path';
import { exportModel } from '../onnx/export';
import { Tensor } from '../tensor';
import { ConfigError, TrainConfig, resolveConfig } from './config';
import { DATASETS } from './datasets';
import { OnnxCheck, exportAndCheck } from './onnx_check';
import { loadModel, readRunConfig } from './run_folder';
import { BEST_FILE, ONNX_FILE } from './train_command';

export interface ExportCommandOptions {
  checkpoint?: string;
  /** With a checkpoint file as the target: the training config (JSON file or preset name) that built it. */
  model?: string;
  out?: string;
  opset?: number;
  check?: boolean;
}

/** A run folder (its config.json and best checkpoint), or a checkpoint file plus --model. */
function resolveTarget(target: string, options: ExportCommandOptions): { config: TrainConfig; checkpoint: string; defaultOut: string } {
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) {
    if (options.model !== undefined) throw new ConfigError('--model: only with a checkpoint file; a run folder has its own config.json');
    return { config: readRunConfig(target), checkpoint: options.checkpoint ?? path.join(target, BEST_FILE), defaultOut: path.join(target, ONNX_FILE) };
  }
  if (!fs.existsSync(target)) throw new ConfigError(`export: no run folder or checkpoint file at ${target}`);
  if (options.checkpoint !== undefined) throw new ConfigError('--checkpoint: only with a run folder; the checkpoint file is the argument');
  if (options.model === undefined) {
    throw new ConfigError(`--model: a checkpoint file needs the training config that built it (a JSON config file or a preset name such as 'demo'), e.g. hydranet export ${target} --model config.json`);
  }
  const isFile = fs.existsSync(options.model);
  const config = resolveConfig(isFile ? { file: options.model } : { preset: options.model });
  return { config, checkpoint: target, defaultOut: target.replace(/\.safetensors$/, '') + '.onnx' };
}

export async function runExport(target: string, options: ExportCommandOptions, out: Output = process.stdout): Promise<OnnxCheck | null> {
  const { config, checkpoint: source, defaultOut } = resolveTarget(target, options);
  const { model, file: checkpoint } = loadModel(config, source);
  const file = options.out ?? defaultOut;
  const info = DATASETS[config.dataset];
  if (options.opset !== undefined && (!Number.isInteger(options.opset) || options.opset < 13 || options.opset > 21)) {
    throw new ConfigError(`opset: expected an integer from 13 to 21, got ${JSON.stringify(options.opset)}`);
  }
  if (options.check === false) {
    const example = new Tensor(new Float32Array(info.inChannels * info.imageSize * info.imageSize), [1, info.inChannels, info.imageSize, info.imageSize]);
    const result = exportModel(model, example, file, { dynamicBatch: true, inputNames: ['image'], ...(options.opset !== undefined ? { opset: options.opset } : {}) });
    out.write(`wrote ${file} (opset ${result.opset}, ${result.nodeCount} nodes) from ${checkpoint}\n`);
    return null;
  }
  const test = info.load('test', { seed: config.dataSeed, limit: 64 });
  const [, C, H, W] = test.inputs.shape;
  const images = new Tensor(test.inputs.data.slice(0, test.length * C * H * W), [test.length, C, H, W]);
  const check = await exportAndCheck(model, images, file, options.opset);
  out.write(`${file} (opset ${check.opset}) vs hydranet on ${check.images} test images: max |diff| ${check.maxAbsDiff.toExponential(2)}, `
    + `relative ${check.maxRelativeDiff.toExponential(2)} (tolerance ${check.tolerance}) -> ${check.passed ? 'OK' : 'MISMATCH'}\n`);
  return check;
}
