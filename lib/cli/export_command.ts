// `hydranet export <runDir>`: the run's checkpoint as an ONNX file (dynamic batch), checked in
// onnxruntime-node on test images unless --no-check.
import type { Output } from './progress';
import * as path from 'path';
import { exportModel } from '../onnx/export';
import { Tensor } from '../tensor';
import { ConfigError } from './config';
import { DATASETS } from './datasets';
import { OnnxCheck, exportAndCheck } from './onnx_check';
import { loadRunModel, readRunConfig } from './run_folder';
import { ONNX_FILE } from './train_command';

export interface ExportCommandOptions {
  checkpoint?: string;
  out?: string;
  opset?: number;
  check?: boolean;
}

export async function runExport(runDir: string, options: ExportCommandOptions, out: Output = process.stdout): Promise<OnnxCheck | null> {
  const config = readRunConfig(runDir);
  const { model, file: checkpoint } = loadRunModel(runDir, config, options.checkpoint);
  const file = options.out ?? path.join(runDir, ONNX_FILE);
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
