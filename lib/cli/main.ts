#!/usr/bin/env node
// The `hydranet` command line: train, eval, export, bench, reproduce. Each has --help.
// Exit codes: 0 success, 1 failure (including an ONNX mismatch), 2 a bad config or argument,
// 130 training stopped by Ctrl-C (its state saved for --resume).
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, DEFAULTS, MODEL_NAMES, OPTIMIZER_NAMES, PRESETS, SCHEDULER_NAMES, WEIGHTING_NAMES, resolveConfig } from './config';
import { DATASET_NAMES } from './datasets';
import type { Output } from './progress';

export interface CliIo {
  stdout: Output;
  stderr: Output;
}

/** What an action reports back to main(): 1 when the run finished but a check failed. */
interface RunState {
  code: number;
}

/** A flag's text as a number when it is one; otherwise the text, so the config check names it. */
function numeric(value: string): number | string {
  return value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function pair(value: string): unknown {
  const parts = list(value).map(numeric);
  return parts.length === 2 ? parts : value;
}

/** "left=1,seg=0.5" -> {left: 1, seg: 0.5}. */
function weights(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list(value)) {
    const [task, w, ...rest] = item.split('=');
    const n = Number(w);
    if (!task || w === undefined || rest.length > 0 || w.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new ConfigError(`--loss-weights: expected task=weight pairs like left=1,seg=0.5 with weights >= 0, got '${item}'`);
    }
    out[task.trim()] = n;
  }
  return out;
}

function jsonObject(flag: string, value: string): Record<string, unknown> {
  try {
    const v = JSON.parse(value) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new ConfigError(`${flag}: expected a JSON object like '{"alpha": 1.5}', got '${value}'`);
}

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag}: expected an integer >= 1, got '${value}'`);
    return n;
  };
}

/**
 * The program. Output goes to `io`, and commander never exits the process itself (exitOverride):
 * main() turns its errors into exit codes, so tests can run commands in-process.
 */
export function buildProgram(io: CliIo = { stdout: process.stdout, stderr: process.stderr }, state: RunState = { code: 0 }): Command {
  const program = new Command('hydranet')
    .description('hydranet: multi-task deep learning for Node.js')
    .exitOverride()
    .showHelpAfterError('(add --help for additional information)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error:/, 'hydranet: error:')),
    });
  const out = io.stdout;

  program.command('train')
    .description('train a multi-task model; writes checkpoints, model.onnx, metrics.json, samples.json and report.html into the run folder')
    .option('-c, --config <file>', 'JSON config file (keys as below in camelCase, e.g. {"epochs": 2, "tasks": ["left", "seg"]})')
    .option('-p, --preset <name>', `start from a preset: ${Object.keys(PRESETS).join(', ')}`)
    .option('--name <name>', `run name; output goes to runs/<name> (default "${DEFAULTS.name}")`)
    .option('-o, --out <dir>', 'output folder (default runs/<name>)')
    .addOption(new Option('--model <name>', `model (default ${DEFAULTS.model})`).choices(MODEL_NAMES))
    .option('--widths <c1,c2>', `seed model: channels of its two convolutions (default ${DEFAULTS.widths.join(',')})`, pair)
    .option('--dropout', "lenet: the paper's dropouts (p = 0.5, no rescaling)")
    .option('--no-dropout', 'lenet: no dropout')
    .addOption(new Option('--dataset <name>', `data set (default ${DEFAULTS.dataset})`).choices(DATASET_NAMES))
    .option('--data-seed <n>', 'seed of the MultiMNIST partner draw (default 0)', numeric)
    .option('--tasks <list>', 'tasks to train, comma-separated (multimnist: left,right,seg; mnist: label)', list)
    .option('--loss-weights <list>', 'λ per task for static weighting, e.g. left=1,right=1,seg=0.5 (default 1)', weights)
    .option('--weighting <name>', `task weighting strategy: ${WEIGHTING_NAMES.join(', ')} (default static)`)
    .option('--weighting-options <json>', 'options of the strategy as JSON, e.g. \'{"alpha": 1.5}\'', (v) => jsonObject('--weighting-options', v))
    .addOption(new Option('--gradient-level <level>', 'where gradient strategies take task gradients').choices(['representation', 'parameters']))
    .addOption(new Option('--optimizer <name>', `optimizer (default ${DEFAULTS.optimizer})`).choices(OPTIMIZER_NAMES))
    .option('--lr <x>', `learning rate (default ${DEFAULTS.lr})`, numeric)
    .option('--momentum <x>', `SGD momentum (default ${DEFAULTS.momentum})`, numeric)
    .option('--weight-decay <x>', 'weight decay (default 0)', numeric)
    .addOption(new Option('--scheduler <name>', 'learning-rate schedule: step (× gamma every step-size epochs), cosine (to 0 over the run), onecycle (peak = lr); default none').choices(SCHEDULER_NAMES))
    .option('--step-size <n>', 'step scheduler: epochs per decay (default 1)', numeric)
    .option('--gamma <x>', 'step scheduler: decay factor (default 0.1)', numeric)
    .option('-e, --epochs <n>', `epochs (default ${DEFAULTS.epochs})`, numeric)
    .option('-b, --batch-size <n>', `batch size (default ${DEFAULTS.batchSize})`, numeric)
    .option('-t, --threads <n>', 'kernel threads (default: every core)', numeric)
    .option('--seed <n>', 'seed of initialisation, dropout and shuffling (default 0)', numeric)
    .option('--train-limit <n>', 'train on the first n training images only', numeric)
    .option('--test-limit <n>', 'evaluate on the first n test images only', numeric)
    .option('--log-every <n>', `record running losses every n steps in metrics.json (default ${DEFAULTS.logEvery})`, numeric)
    .option('--samples <n>', `test images kept in samples.json for the report (default ${DEFAULTS.samples})`, numeric)
    .option('--no-onnx', 'skip the ONNX export and its onnxruntime check')
    .option('--resume <path>', 'continue a run: its folder (uses config.json and last.safetensors) or a last.safetensors file')
    .option('--max-steps <n>', 'train at most n steps per epoch (quick checks)', positiveInt('--max-steps'))
    .option('--plain', 'plain progress lines even on a terminal')
    .addHelpText('after', `
Examples:
  hydranet train --preset demo                       the seed model on MultiMNIST, 2 epochs
  hydranet train --tasks left,right --model lenet --weighting mgda --epochs 10
  hydranet train --config my-run.json --epochs 5     a config file, one value overridden
Precedence: preset < config file < flags.`)
    .action(async (opts: Record<string, unknown>) => {
      const { resolveResume } = await import('./resume');
      const { runTraining } = await import('./train_command');
      const flags: Record<string, unknown> = {
        name: opts.name, out: opts.out, model: opts.model, widths: opts.widths, dataset: opts.dataset, dataSeed: opts.dataSeed,
        tasks: opts.tasks, weighting: opts.weighting, weightingOptions: opts.weightingOptions, gradientLevel: opts.gradientLevel,
        optimizer: opts.optimizer, lr: opts.lr, momentum: opts.momentum, weightDecay: opts.weightDecay, scheduler: opts.scheduler,
        stepSize: opts.stepSize, gamma: opts.gamma, epochs: opts.epochs, batchSize: opts.batchSize, threads: opts.threads, seed: opts.seed,
        trainLimit: opts.trainLimit, testLimit: opts.testLimit, logEvery: opts.logEvery, samples: opts.samples,
      };
      // --dropout/--no-dropout leave dropout undefined unless given; --no-onnx only turns it off.
      flags.dropout = opts.dropout;
      if (opts.onnx === false) flags.onnx = false;
      const resume = opts.resume ? resolveResume(String(opts.resume)) : null;
      const config = resolveConfig({
        preset: opts.preset as string | undefined,
        file: (opts.config as string | undefined) ?? resume?.configFile,
        flags: { ...flags, out: flags.out ?? resume?.runDir },
        lossWeights: opts.lossWeights as Record<string, number> | undefined,
      });
      // Ctrl-C stops after the current step and saves the state to resume from.
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      try {
        const result = await runTraining(config, {
          out, resume: resume?.stateFile, plain: opts.plain === true, maxBatchesPerEpoch: opts.maxSteps as number | undefined, signal: controller.signal,
        });
        if (result.interrupted) state.code = 130;
        else if (result.onnx && !result.onnx.passed) state.code = 1;
      } finally {
        process.removeListener('SIGINT', stop);
      }
    });

  program.command('eval')
    .description("test metrics of a run's checkpoint")
    .argument('<runDir>', 'a run folder written by `hydranet train`')
    .option('--checkpoint <file>', 'weights to evaluate (default <runDir>/best.safetensors)')
    .option('--test-limit <n>', 'the first n test images only', positiveInt('--test-limit'))
    .option('-b, --batch-size <n>', 'batch size (default 256)', positiveInt('--batch-size'))
    .option('-t, --threads <n>', 'kernel threads', positiveInt('--threads'))
    .option('--json', 'print JSON')
    .action(async (runDir: string, opts: Record<string, unknown>) => {
      const { runEval } = await import('./eval_command');
      await runEval(runDir, opts, out);
    });

  program.command('export')
    .description('write a checkpoint as ONNX and check it in onnxruntime-node')
    .argument('<target>', 'a run folder written by `hydranet train`, or a checkpoint file (.safetensors) with --model')
    .option('--model <config>', 'with a checkpoint file: the training config that built it (JSON file or preset name)')
    .option('--checkpoint <file>', 'with a run folder: weights to export (default <runDir>/best.safetensors)')
    .option('-o, --out <file>', 'ONNX file (default <runDir>/model.onnx, or the checkpoint name with .onnx)')
    .option('--opset <n>', 'ONNX opset, 13 to 21 (default 13)', positiveInt('--opset'))
    .option('--no-check', 'skip the onnxruntime comparison')
    .action(async (runDir: string, opts: Record<string, unknown>) => {
      const { runExport } = await import('./export_command');
      const check = await runExport(runDir, {
        checkpoint: opts.checkpoint as string | undefined, model: opts.model as string | undefined, out: opts.out as string | undefined, opset: opts.opset as number | undefined, check: opts.check !== false,
      }, out);
      if (check && !check.passed) state.code = 1;
    });

  program.command('bench')
    .description('training and inference throughput of a model on this machine (random MultiMNIST-shaped data)')
    .addOption(new Option('--model <name>', 'model (default seed)').choices(MODEL_NAMES))
    .option('--widths <c1,c2>', 'seed model widths (default 32,64)', (v) => {
      const p = pair(v);
      if (!Array.isArray(p) || !p.every((n) => Number.isInteger(n) && (n as number) > 0)) throw new ConfigError(`--widths: expected two positive integers like 32,64, got '${v}'`);
      return p;
    })
    .option('-b, --batch-size <n>', 'batch size (default 128 for seed, 256 for lenet)', positiveInt('--batch-size'))
    .option('--steps <n>', 'timed steps per repeat (default 10)', positiveInt('--steps'))
    .option('--repeats <n>', 'repeats; the median is reported (default 3)', positiveInt('--repeats'))
    .option('-t, --threads <n>', 'kernel threads (default: every core)', positiveInt('--threads'))
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, unknown>) => {
      const { runBench } = await import('./bench_command');
      runBench(opts, out);
    });

  program.command('reproduce')
    .description("reproduce a paper's table; multimnist: Sener & Koltun (NeurIPS 2018), MultiMNIST with their LeNet")
    .argument('<table>', 'which table: multimnist')
    .option('-e, --epochs <n>', 'epochs per method (the paper: 100)', positiveInt('--epochs'))
    .option('--methods <list>', 'methods to run (default: single,equal,uncertainty,gradNorm,mgda)', list)
    .option('-o, --out <dir>', 'output folder (default runs/reproduce-multimnist)')
    .option('--doc <file>', 'also write the results table into this markdown file (between its result markers)')
    .option('--train-limit <n>', 'train on the first n images only (short checks)', positiveInt('--train-limit'))
    .option('--test-limit <n>', 'test on the first n images only', positiveInt('--test-limit'))
    .option('-t, --threads <n>', 'kernel threads', positiveInt('--threads'))
    .option('--seed <n>', 'seed (default 0)', numeric)
    .addOption(new Option('--optimizer <name>', 'optimizer (default adam)').choices(OPTIMIZER_NAMES))
    .option('--lr <x>', 'learning rate (default 0.001)', numeric)
    .option('--plain', 'plain progress lines even on a terminal')
    .action(async (table: string, opts: Record<string, unknown>) => {
      const { runReproduce } = await import('./reproduce');
      await runReproduce(table, opts, out);
    });

  return program;
}

/** Runs the command line; resolves with the exit code (0 ok, 1 failure, 2 bad config or usage). */
export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const state: RunState = { code: 0 };
  try {
    await buildProgram(io, state).parseAsync([...argv], { from: 'user' });
    return state.code;
  } catch (error) {
    // Commander has printed its own message (or the help) already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ConfigError) {
      io.stderr.write(`hydranet: error: ${error.message}\n`);
      return 2;
    }
    // Anything else is a failure of the run itself (set HYDRANET_DEBUG for the stack).
    const e = error as Error;
    io.stderr.write(`hydranet: error: ${e?.message ?? String(error)}\n${process.env.HYDRANET_DEBUG ? `${e?.stack}\n` : ''}`);
    return 1;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
