// The `hydranet` CLI, run in-process through main(argv, io): --help of every command, clear
// errors (exit code 2) for bad configs, and a one-epoch training run on a slice that writes every
// output file, which eval and export then read back.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../lib/cli/main';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => { out += s; return true; } },
    stderr: { write: (s: string) => { err += s; return true; } },
  });
  return { code, out, err };
}

function configFile(name: string, value: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

describe('hydranet --help', () => {
  it('lists the commands', async () => {
    const { code, out } = await run('--help');
    expect(code).toBe(0);
    for (const command of ['train', 'eval', 'export', 'bench', 'reproduce']) expect(out).toContain(command);
  });

  it.each([
    ['train', ['--config <file>', '--preset <name>', '--tasks <list>', '--loss-weights <list>', '--weighting <name>', '--optimizer <name>',
      '--lr <x>', '--epochs <n>', '--batch-size <n>', '--threads <n>', '--seed <n>', '--out <dir>', '--resume <path>']],
    ['eval', ['<runDir>', '--checkpoint <file>', '--json']],
    ['export', ['<target>', '--model <config>', '--opset <n>', '--no-check']],
    ['bench', ['--model <name>', '--batch-size <n>', '--steps <n>']],
    ['reproduce', ['<table>', '--epochs <n>', '--methods <list>', '--doc <file>']],
  ])('%s --help shows its options', async (command, options) => {
    const { code, out } = await run(command, '--help');
    expect(code).toBe(0);
    for (const option of options) expect(out).toContain(option);
  });
});

describe('hydranet train: bad configs fail fast with a clear message and exit code 2', () => {
  it.each([
    [['--tasks', 'left,middle'], /tasks: unknown task 'middle' for data set 'multimnist'; its tasks are left, right, seg/],
    [['--tasks', 'lfet'], /unknown task 'lfet'.*\(did you mean 'left'\?\)/],
    [['--config', 'CONFIG:unknown-loss'], /tasks\.seg\.loss: unknown loss 'dice'; expected one of crossEntropy, mse, l1, bceWithLogits/],
    [['--config', 'CONFIG:wrong-loss'], /tasks\.left\.loss: 'mse' does not fit the classification targets of 'left'/],
    [['--config', path.join(os.tmpdir(), 'no-such-dir', 'missing.json')], /config file not found: .*missing\.json/],
    [['--config', 'CONFIG:bad-json'], /config file .*bad-json\.json is not valid JSON/],
    [['--config', 'CONFIG:unknown-key'], /unknown config key 'epoch' \(did you mean 'epochs'\?\)/],
    [['--epochs', '0'], /epochs: expected an integer >= 1, got 0/],
    [['--lr', 'fast'], /lr: expected a finite number > 0, got 'fast'/],
    [['--weighting', 'mgdaa'], /weighting: unknown value 'mgdaa' \(did you mean 'mgda'\?\)/],
    [['--weighting', 'mgda', '--loss-weights', 'left=2'], /tasks\.left\.weight: loss weights are for weighting 'static'/],
    [['--loss-weights', 'depth=1'], /loss weights: 'depth' is not one of the tasks being trained \(left, right, seg\)/],
    [['--loss-weights', 'left=-1'], /--loss-weights: expected task=weight pairs/],
    [['--model', 'lenet'], /model 'lenet' has classification heads only; remove 'seg'/],
    [['--preset', 'dmeo'], /unknown preset 'dmeo' \(did you mean 'demo'\?\)/],
    [['--weighting', 'gradNorm', '--weighting-options', '{"alfa": 1}'], /weightingOptions: .*unknown option 'alfa'/],
  ])('%j', async (args, message) => {
    const files: Record<string, unknown> = {
      'unknown-loss': { tasks: { left: { loss: 'crossEntropy' }, seg: { loss: 'dice' } } },
      'wrong-loss': { tasks: { left: { loss: 'mse' } } },
      'bad-json': '{"epochs": 2,',
      'unknown-key': { epoch: 3 },
    };
    const argv = args.map((a) => (a.startsWith('CONFIG:') ? configFile(`${a.slice(7)}.json`, files[a.slice(7)]) : a));
    const { code, err, out } = await run('train', ...argv, '--out', path.join(tmp, 'never'));
    expect(err).toMatch(message);
    expect(err).toMatch(/^hydranet: error: /);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  it('reports an unknown flag with a hint', async () => {
    const { code, err } = await run('train', '--epoch', '2');
    expect(code).toBe(2);
    expect(err).toMatch(/unknown option '--epoch'/);
  });
});

describe('hydranet train on a slice', () => {
  const runDir = path.join(tmp, 'slice');

  it('trains one epoch and writes every output file', async () => {
    const config = configFile('slice.json', { name: 'slice', widths: [4, 8], tasks: { left: {}, right: {}, seg: { weight: 0.5 } }, samples: 4 });
    const { code, out, err } = await run('train', '--config', config, '--epochs', '1', '--batch-size', '64', '--train-limit', '256',
      '--test-limit', '96', '--threads', '2', '--log-every', '2', '--out', runDir);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/epoch 1\/1 step 4\/4 \| \d+ img\/s \| ETA 0s \| left \d\.\d{4}  right \d\.\d{4}  seg \d\.\d{4}/);
    expect(out).toMatch(/onnx: model\.onnx .* -> OK/);
    for (const file of ['config.json', 'best.safetensors', 'last.safetensors', 'model.onnx', 'metrics.json', 'samples.json', 'report.html']) {
      expect(fs.existsSync(path.join(runDir, file)), file).toBe(true);
    }
    const metrics = JSON.parse(fs.readFileSync(path.join(runDir, 'metrics.json'), 'utf8'));
    expect(metrics.config).toMatchObject({ name: 'slice', model: 'seed', dataset: 'multimnist', epochs: 1, batchSize: 64, widths: [4, 8] });
    expect(metrics.tasks).toEqual({
      left: { loss: 'crossEntropy', kind: 'classification', classes: 10, weight: 1 },
      right: { loss: 'crossEntropy', kind: 'classification', classes: 10, weight: 1 },
      seg: { loss: 'crossEntropy', kind: 'segmentation', classes: 3, weight: 0.5 },
    });
    expect(metrics.epochs).toHaveLength(1);
    const epoch = metrics.epochs[0];
    expect(epoch).toMatchObject({ epoch: 1, weights: { left: 1, right: 1, seg: 0.5 } });
    expect(epoch.seconds).toBeGreaterThan(0);
    expect(epoch.imagesPerSecond).toBeGreaterThan(0);
    expect(Object.keys(epoch.trainLoss)).toEqual(['left', 'right', 'seg']);
    expect(Object.keys(epoch.test.left)).toEqual(['accuracy']);
    expect(Object.keys(epoch.test.seg)).toEqual(['miou', 'pixelAccuracy']);
    expect(metrics.steps.map((s: { step: number }) => s.step)).toEqual([2, 4]);
    expect(metrics.steps[0]).toMatchObject({ epoch: 1, weights: { left: 1, right: 1, seg: 0.5 } });
    expect(metrics.final.left).toEqual(epoch.test.left);
    expect(metrics.final.seg).toEqual(epoch.test.seg);
    expect(metrics.final.seconds).toBeGreaterThan(0);
    expect(metrics.final.imagesPerSecond).toBeGreaterThan(0);
    expect(metrics.final.onnx.maxAbsDiff).toBeLessThan(1e-3);
    expect(metrics.final.onnx.passed).toBe(true);

    const samples = JSON.parse(fs.readFileSync(path.join(runDir, 'samples.json'), 'utf8'));
    expect(samples.imageSize).toEqual([28, 28]);
    expect(samples.images).toHaveLength(4);
    expect(samples.images[0]).toHaveLength(784);
    expect(Math.min(...samples.images[0])).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples.images[0])).toBeLessThanOrEqual(1);
    expect(samples.targets.left).toHaveLength(4);
    expect(samples.predictions.right).toHaveLength(4);
    expect(samples.targets.seg[0]).toHaveLength(784);
    expect(samples.predictions.seg[3]).toHaveLength(784);
    expect(fs.readFileSync(path.join(runDir, 'report.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/);
  });

  it('eval reads the run back and gives the recorded test metrics', async () => {
    const { code, out } = await run('eval', runDir, '--json', '--test-limit', '96');
    expect(code).toBe(0);
    const result = JSON.parse(out);
    const metrics = JSON.parse(fs.readFileSync(path.join(runDir, 'metrics.json'), 'utf8'));
    expect(result.metrics).toEqual({ left: metrics.final.left, right: metrics.final.right, seg: metrics.final.seg });
    expect((await run('eval', path.join(tmp, 'nope'))).err).toMatch(/run folder not found/);
  });

  it('export writes and checks an ONNX file', async () => {
    const file = path.join(tmp, 'exported.onnx');
    const { code, out } = await run('export', runDir, '--out', file, '--opset', '17');
    expect(code).toBe(0);
    expect(out).toMatch(/opset 17.*-> OK/);
    expect(fs.statSync(file).size).toBeGreaterThan(1000);
  });

  it('export takes a checkpoint file with --model <config>, and says when --model is missing', async () => {
    const checkpoint = path.join(runDir, 'best.safetensors');
    const file = path.join(tmp, 'from-checkpoint.onnx');
    const { code, out } = await run('export', checkpoint, '--model', path.join(runDir, 'config.json'), '--out', file);
    expect(code).toBe(0);
    expect(out).toMatch(/-> OK/);
    expect(fs.statSync(file).size).toBeGreaterThan(1000);
    const missing = await run('export', checkpoint);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--model: a checkpoint file needs the training config/);
  });

  it('resumes from the run folder and continues to more epochs', async () => {
    const { code, out } = await run('train', '--resume', runDir, '--epochs', '2', '--no-onnx');
    expect(code).toBe(0);
    expect(out).not.toMatch(/epoch 1\/2 step/);
    expect(out).toMatch(/epoch 2\/2 step 4\/4/);
    const metrics = JSON.parse(fs.readFileSync(path.join(runDir, 'metrics.json'), 'utf8'));
    expect(metrics.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
    expect(metrics.config.epochs).toBe(2);
  });
});
