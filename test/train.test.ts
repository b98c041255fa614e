// hn.train: evaluate() against metrics computed by hand, fit() callbacks and records, and resuming
// from a saved training state (at an epoch boundary and mid-epoch) reproducing the uninterrupted
// run bit for bit — weights, optimizer moments, learned strategy parameters and dropout masks.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import type { TrainingState } from '../lib/train';

const { models, train, data, mtl } = hn;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hn-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const trainSet = data.multiMnist({ split: 'train', limit: 192 });
const testSet = data.multiMnist({ split: 'test', limit: 100 });
const evalTasks = { left: { kind: 'classification' as const }, right: { kind: 'classification' as const }, seg: { kind: 'segmentation' as const } };

function seedRun(seed = 0) {
  hn.manualSeed(seed);
  const model = models.seedNet({ widths: [4, 8] });
  const optimizer = new mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr: 3e-3 }), {
    tasks: { left: { loss: 'crossEntropy' }, right: { loss: 'crossEntropy' }, seg: { loss: 'crossEntropy', weight: 0.5 } },
  });
  return { model, optimizer, loader: new data.DataLoader(trainSet, { batchSize: 64, shuffle: true, seed: 7 }) };
}

describe('evaluate', () => {
  it('equals accuracy, mean IoU and pixel accuracy computed over the whole split at once', async () => {
    const { model } = seedRun(1);
    const metrics = await train.evaluate(model, new data.DataLoader(testSet, { batchSize: 32 }), evalTasks);
    model.eval();
    const x = new hn.Tensor(testSet.inputs.data.slice(), testSet.inputs.shape);
    const out = hn.noGrad(() => model.forward(x));
    model.train();
    for (const task of ['left', 'right'] as const) {
      const predicted = mtl.argmaxClasses(out[task]);
      const truth = testSet.targets[task].data;
      let right = 0;
      for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) right++;
      expect(metrics[task].accuracy).toBeCloseTo(right / truth.length, 12);
    }
    const cm = new mtl.ConfusionMatrix(3);
    cm.update(out.seg, new hn.Tensor(testSet.targets.seg.data.slice(), testSet.targets.seg.shape));
    expect(metrics.seg.miou).toBeCloseTo(cm.meanIou(), 12);
    expect(metrics.seg.pixelAccuracy).toBeCloseTo(cm.accuracy(), 12);
    expect(model.training).toBe(true);
  });

  it('stops after maxBatches and rejects tasks the model or the data lack', async () => {
    const { model } = seedRun(1);
    let seen = 0;
    await train.evaluate(model, new data.DataLoader(testSet, { batchSize: 10 }), { left: { kind: 'classification' } },
      { maxBatches: 2, onBatch: () => { seen++; } });
    expect(seen).toBe(2);
    await expect(train.evaluate(model, new data.DataLoader(testSet, { batchSize: 10 }), { depth: { kind: 'regression' } }))
      .rejects.toThrow(/evaluate: expected tasks\.depth to be a task with a head \(heads: left, right, seg\)/);
    await expect(train.evaluate(model, new data.DataLoader(testSet), { left: { kind: 'ranking' as never } }))
      .rejects.toThrow(/tasks\.left\.kind/);
    const mnist = data.mnist({ split: 'test', limit: 8 }).toDataset();
    await expect(train.evaluate(model, new data.DataLoader(mnist, { batchSize: 4 }), { left: { kind: 'classification' } }))
      .rejects.toThrow(/batches with a 'left' target/);
  });
});

describe('fit', () => {
  it('trains, calls back every step and epoch, and evaluates after each epoch', async () => {
    const { model, optimizer, loader } = seedRun(2);
    const steps: number[] = [];
    const epochs: hn.train.EpochInfo[] = [];
    const result = await train.fit({
      model, optimizer, loader, epochs: 2,
      test: { loader: new data.DataLoader(testSet, { batchSize: 50 }), tasks: evalTasks },
      onStep: (s) => {
        steps.push(s.step);
        expect(s.batches).toBe(3);
        expect(Object.keys(s.losses)).toEqual(['left', 'right', 'seg']);
        expect(s.weights).toEqual({ left: 1, right: 1, seg: 0.5 });
      },
      onEpoch: (e) => { epochs.push(e); },
    });
    expect(result.completed).toBe(true);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    expect(epochs.map((e) => [e.epoch, e.steps, e.images])).toEqual([[0, 3, 192], [1, 3, 192]]);
    expect(epochs[1].trainLoss.left).toBeLessThan(epochs[0].trainLoss.left);
    expect(epochs[1].test?.seg.miou).toBeGreaterThan(0);
    expect(epochs[0].imagesPerSecond).toBeGreaterThan(0);
  });

  it('rejects a bad set-up with the option named', async () => {
    const { model, optimizer, loader } = seedRun(0);
    await expect(train.fit({ model, optimizer, loader, epochs: 0 })).rejects.toThrow(/train\.fit: expected epochs to be an integer >= 1, got (number )?0/);
    const other = seedRun(0);
    await expect(train.fit({ model, optimizer: other.optimizer, loader, epochs: 1 })).rejects.toThrow(/a WeightedOptimizer of this model/);
    const mnist = new data.DataLoader(data.mnist({ split: 'test', limit: 8 }).toDataset());
    await expect(train.fit({ model, optimizer, loader: mnist, epochs: 1 })).rejects.toThrow(/a data set with a 'left' target/);
  });
});

/** LeNet with dropout and uncertainty weighting: every kind of state a resume must restore. */
function lenetRun(seed: number) {
  hn.manualSeed(seed);
  const model = models.multiMnistLeNet({ dropout: true });
  const adam = new hn.optim.Adam(model.parameters(), { lr: 2e-3 });
  const optimizer = new mtl.WeightedOptimizer(model, adam, {
    tasks: { left: { loss: 'crossEntropy' }, right: { loss: 'crossEntropy' } }, weighting: mtl.weighting.uncertainty(),
  });
  const scheduler = new hn.optim.StepLR(adam as never, { stepSize: 1, gamma: 0.5 });
  return { model, optimizer, scheduler, loader: new data.DataLoader(trainSet, { batchSize: 32, shuffle: true, seed: 3 }) };
}

function weightsOf(run: ReturnType<typeof lenetRun>): number[] {
  const out: number[] = [];
  for (const t of Object.values(run.model.stateDict())) out.push(...t.data);
  out.push(...run.optimizer.stateDict().strategyParameters!);
  return out;
}

function saveAndLoad(state: TrainingState, name: string): TrainingState {
  const file = path.join(tmp, name);
  hn.save(state as unknown as hn.CheckpointRecord, file);
  return hn.load<TrainingState>(file);
}

describe('resuming from a training state', () => {
  it('at an epoch boundary: the same weights as the uninterrupted run', async () => {
    const straight = lenetRun(5);
    await train.fit({ ...straight, epochs: 2 });

    const first = lenetRun(5);
    let saved: TrainingState | null = null;
    await train.fit({ ...first, epochs: 1, onEpoch: (e) => { saved = e.state(); } });
    const resumed = lenetRun(99); // another init: everything must come from the state
    const result = await train.fit({ ...resumed, epochs: 2, resume: saveAndLoad(saved!, 'epoch.safetensors') });
    expect(result.epochs.map((e) => e.epoch)).toEqual([1]);
    expect(weightsOf(resumed)).toEqual(weightsOf(straight));
    expect(resumed.scheduler.getLastLr()).toEqual(straight.scheduler.getLastLr());
  });

  it('mid-epoch (stopped by an AbortSignal): the same weights and epoch loss as the uninterrupted run', async () => {
    const straight = lenetRun(6);
    const full = await train.fit({ ...straight, epochs: 2 });

    const first = lenetRun(6);
    const controller = new AbortController();
    const stopped = await train.fit({
      ...first, epochs: 2, signal: controller.signal,
      onStep: (s) => { if (s.epoch === 1 && s.batch === 1) controller.abort(); },
    });
    expect(stopped.completed).toBe(false);
    const state = saveAndLoad(stopped.state(), 'mid.safetensors');
    expect([state.epoch, state.batch]).toEqual([1, 2]);
    const resumed = lenetRun(0);
    const result = await train.fit({ ...resumed, epochs: 2, resume: state });
    expect(weightsOf(resumed)).toEqual(weightsOf(straight));
    expect(result.epochs[0].trainLoss).toEqual(full.epochs[1].trainLoss);
    expect(result.epochs[0].images).toBe(192);
  });

  it('refuses a state from another data order', async () => {
    const run = lenetRun(1);
    let saved: TrainingState | null = null;
    await train.fit({ ...run, epochs: 1, maxBatchesPerEpoch: 1, onEpoch: (e) => { saved = e.state(); } });
    const other = lenetRun(1);
    const loader = new data.DataLoader(trainSet, { batchSize: 32, shuffle: true, seed: 4 });
    await expect(train.fit({ ...other, loader, epochs: 2, resume: saved! })).rejects.toThrow(/state\.data \(seed\)/);
  });
});
