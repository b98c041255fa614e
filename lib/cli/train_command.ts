// `hydranet train`: one training run from a config, writing its folder:
//   config.json        the resolved config (what `eval`, `export` and `--resume` read back)
//   best.safetensors   the weights of the best epoch (a plain state dict, PyTorch-readable)
//   last.safetensors   the full training state after the last epoch (for --resume)
//   model.onnx         the best weights as ONNX, checked in onnxruntime-node on test images
//   metrics.json, samples.json, report.html
import * as fs from 'fs';
import * as path from 'path';
import { saveAsync, load } from '../io/checkpoint';
import { writeFileAtomic } from '../io/atomic_write';
import { writeReport } from '../report';
import { cpuFeatures, getNumThreads } from '../runtime';
import { Tensor } from '../tensor';
import { selectionScore, TaskMetrics } from '../train/evaluate';
import { fit } from '../train/fit';
import type { TrainingState } from '../train/state';
import { ConfigError, TrainConfig } from './config';
import { OnnxCheck, exportAndCheck } from './onnx_check';
import { Output, createProgress, formatSeconds } from './progress';
import { MetricsDocument, MetricsLog, roundMetrics, writeSamples } from './run_files';
import { evalTasks, setupRun, taskRecords } from './setup';

export const CONFIG_FILE = 'config.json';
export const BEST_FILE = 'best.safetensors';
export const LAST_FILE = 'last.safetensors';
export const ONNX_FILE = 'model.onnx';
/** Test images the ONNX file is checked on. */
const ONNX_CHECK_IMAGES = 64;

export interface TrainRunOptions {
  /** Where lines go (default process.stdout). */
  out?: Output;
  /** Plain progress lines even on a TTY. */
  plain?: boolean;
  /** A training state (last.safetensors) to continue from. */
  resume?: string;
  /** Stop training after this many batches per epoch (quick checks and tests). */
  maxBatchesPerEpoch?: number;
  /** Stops training after the current step (the CLI wires Ctrl-C to it); the state is saved. */
  signal?: AbortSignal;
}

export interface TrainRunResult {
  runDir: string;
  final: Record<string, unknown>;
  bestEpoch: number;
  wallSeconds: number;
  onnx: OnnxCheck | null;
  /** True when the signal stopped training; last.safetensors then holds the mid-epoch state. */
  interrupted: boolean;
}

export function formatMetrics(metrics: TaskMetrics): string {
  return Object.entries(metrics)
    .map(([task, m]) => `${task} ${Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}`)
    .join(' | ');
}

function countParameters(model: { parameters(): Iterable<Tensor> }): number {
  let n = 0;
  for (const p of model.parameters()) n += p.numel;
  return n;
}

export async function runTraining(config: TrainConfig, options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const out = options.out ?? process.stdout;
  const say = (line: string) => out.write(`${line}\n`);
  const wallStart = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - wallStart) / 1e9;
  const runDir = config.out;

  let resume: TrainingState | undefined;
  let previous: MetricsDocument | undefined;
  if (options.resume) {
    if (!fs.existsSync(options.resume)) throw new ConfigError(`resume: no training state at ${options.resume}`);
    resume = load<TrainingState>(options.resume);
    const metricsFile = path.join(runDir, 'metrics.json');
    if (fs.existsSync(metricsFile)) previous = JSON.parse(fs.readFileSync(metricsFile, 'utf8')) as MetricsDocument;
  }

  const dataStart = process.hrtime.bigint();
  const run = setupRun(config, options.maxBatchesPerEpoch);
  const { model, optimizer, trainLoader, testLoader, test, info } = run;
  const dataSeconds = Number(process.hrtime.bigint() - dataStart) / 1e9;
  fs.mkdirSync(runDir, { recursive: true });
  const tasks = evalTasks(config);
  const taskNames = Object.keys(config.tasks);
  const batches = Math.min(trainLoader.length, options.maxBatchesPerEpoch ?? Infinity);
  say(`hydranet train: ${config.name} -> ${runDir}`);
  say(`  model ${config.model}${config.model === 'seed' ? ` (widths ${config.widths.join(', ')})` : config.dropout ? ' (paper dropouts)' : ''}, `
    + `${countParameters(model).toLocaleString('en-US')} parameters; tasks ${taskNames.join(', ')}; weighting ${config.weighting}`);
  say(`  data ${config.dataset}: ${run.train.length} train / ${test.length} test images (ready in ${dataSeconds.toFixed(1)}s)`);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  say(`  ${config.optimizer} lr ${config.lr}${config.scheduler === 'none' ? '' : ` (${config.scheduler} schedule)`}, ${plural(config.epochs, 'epoch')} x ${plural(batches, 'step')}`
    + ` of ${config.batchSize}, ${plural(getNumThreads(), 'thread')}${cpuFeatures().avx2 ? ' (AVX2)' : ''}`);

  writeFileAtomic(path.join(runDir, CONFIG_FILE), Buffer.from(`${JSON.stringify(config, null, 2)}\n`, 'utf8'));
  const environment = { node: process.version, platform: `${process.platform}-${process.arch}`, threads: getNumThreads(), avx2: cpuFeatures().avx2 };
  const log = new MetricsLog(runDir, config, taskRecords(config), environment, previous);

  let best = { score: -Infinity, epoch: 0, test: {} as TaskMetrics, weights: null as Record<string, Tensor> | null };
  if (previous && fs.existsSync(path.join(runDir, BEST_FILE))) {
    // A resumed run keeps competing with the best epoch it had already saved.
    for (const record of previous.epochs) {
      if (record.epoch > (resume?.epoch ?? 0) || !record.test) continue;
      const score = selectionScore(record.test, tasks);
      if (score > best.score) best = { score, epoch: record.epoch, test: record.test, weights: null };
    }
    if (best.epoch > 0) best.weights = load<Record<string, Tensor>>(path.join(runDir, BEST_FILE));
  }
  const progress = createProgress(out, options.plain);
  let lastEpoch = -1;

  const result = await fit({
    signal: options.signal,
    model,
    optimizer,
    loader: trainLoader,
    epochs: config.epochs,
    scheduler: run.scheduler,
    schedulerInterval: run.schedulerInterval,
    test: { loader: testLoader, tasks },
    resume,
    maxBatchesPerEpoch: options.maxBatchesPerEpoch,
    onStep: (s) => {
      if (s.epoch !== lastEpoch) {
        lastEpoch = s.epoch;
        progress.epochStart(s.epoch, config.epochs, s.batches);
      }
      progress.step(s);
      log.step(s.step, s.epoch, s.losses, s.weights, config.logEvery);
    },
    onEpoch: async (e) => {
      progress.epochEnd();
      const record = log.epoch(e);
      const score = selectionScore(e.test ?? {}, tasks);
      const improved = score > best.score;
      say(`epoch ${e.epoch + 1}/${config.epochs}: ${formatSeconds(e.seconds)} train (${e.imagesPerSecond.toFixed(0)} img/s), `
        + `${formatSeconds(e.evalSeconds ?? 0)} test | ${formatMetrics(e.test ?? {})}${improved ? ' *' : ''}`);
      if (improved) {
        const weights = Object.fromEntries(Object.entries(model.stateDict()).map(([k, v]) => [k, v.clone()]));
        best = { score, epoch: record.epoch, test: e.test ?? {}, weights };
        await saveAsync(weights, path.join(runDir, BEST_FILE), { metadata: { format: 'pt', epoch: String(record.epoch) } });
      }
      await saveAsync(e.state(), path.join(runDir, LAST_FILE));
      log.write();
    },
  });

  if (!result.completed) {
    progress.epochEnd();
    const state = result.state();
    await saveAsync(state, path.join(runDir, LAST_FILE));
    log.write();
    say(`\nstopped at epoch ${state.epoch + 1} step ${state.batch}; saved ${path.join(runDir, LAST_FILE)}. Continue with: hydranet train --resume ${runDir}`);
    return { runDir, final: {}, bestEpoch: best.epoch, wallSeconds: elapsed(), onnx: null, interrupted: true };
  }

  // The folder's model is the best epoch's: samples, ONNX and the final metrics all use it.
  if (best.weights) model.loadStateDict(best.weights);
  writeSamples(runDir, model, test, tasks, config.samples, info.denormalize);
  let onnx: OnnxCheck | null = null;
  if (config.onnx) {
    const n = Math.min(ONNX_CHECK_IMAGES, test.length);
    const [, C, H, W] = test.inputs.shape;
    const images = new Tensor(test.inputs.data.slice(0, n * C * H * W), [n, C, H, W]);
    onnx = await exportAndCheck(model, images, path.join(runDir, ONNX_FILE));
    say(`onnx: ${ONNX_FILE} (opset ${onnx.opset}) in onnxruntime-node on ${onnx.images} test images: max |diff| ${onnx.maxAbsDiff.toExponential(2)}, `
      + `relative ${onnx.maxRelativeDiff.toExponential(2)} (tolerance ${onnx.tolerance}), predictions agree ${(100 * onnx.predictionAgreement).toFixed(2)}%`
      + ` -> ${onnx.passed ? 'OK' : 'MISMATCH'}`);
  }
  // Totals over every epoch of the run, a resumed run's earlier ones included.
  const trainSeconds = log.doc.epochs.reduce((sum, e) => sum + e.seconds, 0);
  const trainImages = log.doc.epochs.reduce((sum, e) => sum + e.seconds * e.imagesPerSecond, 0);
  const final: Record<string, unknown> = {
    ...roundMetrics(best.test),
    bestEpoch: best.epoch,
    seconds: Number(trainSeconds.toFixed(3)),
    imagesPerSecond: trainSeconds > 0 ? Number((trainImages / trainSeconds).toFixed(1)) : null,
    wallSeconds: Number(elapsed().toFixed(3)),
  };
  if (onnx) {
    final.onnx = {
      maxAbsDiff: onnx.maxAbsDiff, maxRelativeDiff: onnx.maxRelativeDiff, predictionAgreement: onnx.predictionAgreement,
      images: onnx.images, tolerance: onnx.tolerance, passed: onnx.passed, opset: onnx.opset, file: ONNX_FILE,
    };
  }
  log.setFinal(final);
  log.write();
  const report = writeReport(runDir);
  const wallSeconds = elapsed();
  say(`final (best epoch ${best.epoch}): ${formatMetrics(best.test)}`);
  say(`done in ${formatSeconds(wallSeconds)} (training ${formatSeconds(trainSeconds)}, ${(trainImages / Math.max(trainSeconds, 1e-9)).toFixed(0)} img/s); `
    + `wrote ${[BEST_FILE, LAST_FILE, config.onnx ? ONNX_FILE : null, 'metrics.json', 'samples.json', path.basename(report)].filter(Boolean).join(', ')} in ${runDir}`);
  return { runDir, final, bestEpoch: best.epoch, wallSeconds, onnx, interrupted: false };
}
