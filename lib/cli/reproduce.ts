// `hydranet reproduce multimnist`: Sener & Koltun's MultiMNIST table (NeurIPS 2018, "Multi-Task
// Learning as Multi-Objective Optimization") with their LeNet (W2 in WORKLOADS.md, their dropouts
// on): single-task baselines, uniform scaling, uncertainty weighting, GradNorm and MGDA-UB, each a
// full `hydranet train` run in its own folder, then one table with the paper's figures beside ours.
//
// Training follows the authors' script where it is known (batch 256, the learning rate times 0.85
// every 10 epochs, 100 epochs, MGDA-UB on the representation with 'loss+' normalisation); the
// optimizer (Adam, lr 1e-3; --optimizer/--lr change it) is our choice, stated in the table's notes.
import type { Output } from './progress';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../io/atomic_write';
import { ConfigError, TrainConfig, validateConfig } from './config';
import { formatSeconds } from './progress';
import type { MetricsDocument } from './run_files';
import { runTraining } from './train_command';

/** Test accuracy (%) as printed in the paper's MultiMNIST table. */
export const PAPER_MULTIMNIST: Record<string, { label: string; left: number; right: number }> = {
  single: { label: 'Single task', left: 97.23, right: 95.90 },
  equal: { label: 'Uniform scaling', left: 96.46, right: 94.99 },
  uncertainty: { label: 'Kendall et al. 2018 (uncertainty)', left: 96.47, right: 95.29 },
  gradNorm: { label: 'GradNorm', left: 96.27, right: 94.84 },
  mgda: { label: 'MGDA-UB', left: 97.26, right: 95.90 },
};
export const METHODS = Object.keys(PAPER_MULTIMNIST);
export const PAPER_EPOCHS = 100;
export const DOC_START = '<!-- reproduce:multimnist:start -->';
export const DOC_END = '<!-- reproduce:multimnist:end -->';

export interface ReproduceOptions {
  epochs?: number;
  methods?: string[];
  out?: string;
  doc?: string;
  trainLimit?: number;
  testLimit?: number;
  threads?: number;
  seed?: number;
  optimizer?: string;
  lr?: number;
  plain?: boolean;
}

export interface MethodResult {
  method: string;
  left: number | null;
  right: number | null;
  seconds: number;
  runs: string[];
}

/** The runs of one method: single task trains one network per digit. */
function runsOf(method: string): { name: string; tasks: string[]; weighting: string; weightingOptions: object; gradientLevel: string | null }[] {
  switch (method) {
    case 'single':
      return ['left', 'right'].map((t) => ({ name: `single-${t}`, tasks: [t], weighting: 'static', weightingOptions: {}, gradientLevel: null }));
    case 'mgda':
      return [{ name: 'mgda', tasks: ['left', 'right'], weighting: 'mgda', weightingOptions: { normalization: 'loss+' }, gradientLevel: 'representation' }];
    default:
      return [{ name: method, tasks: ['left', 'right'], weighting: method, weightingOptions: {}, gradientLevel: null }];
  }
}

export function baseConfig(options: ReproduceOptions, epochs: number, out: string): Record<string, unknown> {
  return {
    model: 'lenet', dropout: true, dataset: 'multimnist', batchSize: 256, optimizer: options.optimizer ?? 'adam', lr: options.lr ?? 1e-3, momentum: 0.9,
    scheduler: 'step', stepSize: 10, gamma: 0.85, epochs, seed: options.seed ?? 0, onnx: false, logEvery: 20,
    trainLimit: options.trainLimit ?? null, testLimit: options.testLimit ?? null, threads: options.threads ?? null, out,
  };
}

const pct = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));

export function resultsTable(results: MethodResult[], epochs: number, note: string): string {
  const lines = [
    `| Method | Left digit (paper) | Left digit (hydranet) | Right digit (paper) | Right digit (hydranet) |`,
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    const p = PAPER_MULTIMNIST[r.method];
    lines.push(`| ${p.label} | ${p.left.toFixed(2)} | ${pct(r.left)} | ${p.right.toFixed(2)} | ${pct(r.right)} |`);
  }
  lines.push('', `Test accuracy (%) after the last of ${epochs} epochs (the paper: ${PAPER_EPOCHS}). ${note}`);
  return lines.join('\n');
}

function lastTest(runDir: string, task: string): number | null {
  const doc = JSON.parse(fs.readFileSync(path.join(runDir, 'metrics.json'), 'utf8')) as MetricsDocument;
  const v = doc.epochs[doc.epochs.length - 1]?.test?.[task]?.accuracy;
  return typeof v === 'number' ? 100 * v : null;
}

function writeDoc(file: string, table: string): void {
  const block = `${DOC_START}\n${table}\n${DOC_END}`;
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const start = text.indexOf(DOC_START);
  const end = text.indexOf(DOC_END);
  const next = start >= 0 && end > start
    ? text.slice(0, start) + block + text.slice(end + DOC_END.length)
    : `${text}${text && !text.endsWith('\n') ? '\n' : ''}\n${block}\n`;
  writeFileAtomic(file, Buffer.from(next, 'utf8'));
}

export async function runReproduce(table: string, options: ReproduceOptions, out: Output = process.stdout): Promise<MethodResult[]> {
  if (table !== 'multimnist') throw new ConfigError(`reproduce: unknown table '${table}'; available: multimnist`);
  const methods = options.methods ?? METHODS;
  for (const m of methods) {
    if (!METHODS.includes(m)) throw new ConfigError(`--methods: unknown method '${m}'; expected some of ${METHODS.join(', ')}`);
  }
  const epochs = options.epochs ?? PAPER_EPOCHS;
  const root = options.out ?? 'runs/reproduce-multimnist';
  // Check every run's config before the first one starts: a typo must not surface hours later.
  const plans = methods.map((method) => ({
    method,
    runs: runsOf(method).map((r) => ({
      dir: path.join(root, r.name),
      config: validateConfig({ ...baseConfig(options, epochs, path.join(root, r.name)), name: `multimnist-${r.name}`, tasks: r.tasks,
        weighting: r.weighting, weightingOptions: r.weightingOptions, gradientLevel: r.gradientLevel }),
      task: r.tasks.length === 1 ? r.tasks[0] : null,
    })),
  }));
  const results: MethodResult[] = [];
  for (const plan of plans) {
    const started = process.hrtime.bigint();
    for (const run of plan.runs) {
      out.write(`\n== ${PAPER_MULTIMNIST[plan.method].label}${run.task ? ` (${run.task} digit)` : ''}: ${run.dir}\n`);
      await runTraining(run.config as TrainConfig, { out, plain: options.plain });
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const accuracy = (task: string) => {
      const run = plan.runs.find((r) => r.task === null || r.task === task);
      return run ? lastTest(run.dir, task) : null;
    };
    results.push({ method: plan.method, left: accuracy('left'), right: accuracy('right'), seconds, runs: plan.runs.map((r) => r.dir) });
  }
  const sample = options.trainLimit || options.testLimit
    ? ` Short check on ${options.trainLimit ?? 60000} train / ${options.testLimit ?? 10000} test images: not comparable with the paper.`
    : '';
  const optimizer = options.optimizer ?? 'adam';
  const settings = `${optimizer === 'adam' ? 'Adam' : optimizer === 'adamw' ? 'AdamW' : 'SGD'} (lr ${options.lr ?? 1e-3}${optimizer === 'sgd' ? ', momentum 0.9' : ''})`;
  const note = `LeNet with the paper's dropouts, batch 256, ${settings}, lr × 0.85 every 10 epochs, seed ${options.seed ?? 0}.${sample}`;
  const tableText = resultsTable(results, epochs, note);
  fs.mkdirSync(root, { recursive: true });
  writeFileAtomic(path.join(root, 'results.md'), Buffer.from(`${tableText}\n`, 'utf8'));
  writeFileAtomic(path.join(root, 'results.json'), Buffer.from(`${JSON.stringify({ epochs, paper: PAPER_MULTIMNIST, results, note }, null, 2)}\n`, 'utf8'));
  if (options.doc) writeDoc(options.doc, tableText);
  out.write(`\n${tableText}\n\nwrote ${path.join(root, 'results.md')} and results.json`
    + `${options.doc ? ` and the table in ${options.doc}` : ''} (${formatSeconds(results.reduce((s, r) => s + r.seconds, 0))})\n`);
  return results;
}
