// End to end: a small conv net with BatchNorm learns a fixed synthetic task, and training resumed
// from a checkpoint follows the uninterrupted loss trajectory exactly.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';

const { nn, F } = hn;

/** 8×8 single-channel images holding one bright 3×3 square; the label is the quadrant it is in. */
function quadrantTask(n: number, seed: number) {
  const gen = new hn.Generator(seed);
  const x = hn.zeros([n, 1, 8, 8]);
  const y = hn.zeros([n], { dtype: 'int32' });
  const xd = x.data;
  for (let i = 0; i < n; i++) {
    const label = Math.floor(gen.uniform() * 4);
    const top = (label >> 1) * 4 + Math.floor(gen.uniform() * 2);
    const left = (label & 1) * 4 + Math.floor(gen.uniform() * 2);
    for (let p = 0; p < 64; p++) xd[i * 64 + p] = 0.1 * gen.normal();
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) xd[i * 64 + (top + r) * 8 + left + c] += 1;
    y.data[i] = label;
  }
  return { x, y };
}

function net(): hn.nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(8, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(32, 4),
  );
}

function step(model: hn.nn.Module, opt: hn.optim.Adam, x: hn.Tensor, y: hn.Tensor): number {
  opt.zeroGrad();
  const loss = F.crossEntropy(model.forward(x) as hn.Tensor, y);
  loss.backward();
  opt.step();
  return loss.item();
}

describe('end-to-end training', () => {
  it('a conv net with BatchNorm gets the training loss below 0.1 within 60 Adam steps and generalises', () => {
    hn.manualSeed(3);
    const model = net();
    const opt = new hn.optim.Adam(model.parameters(), { lr: 0.01 });
    const { x, y } = quadrantTask(128, 1);
    let loss = Infinity;
    for (let i = 0; i < 60; i++) loss = step(model, opt, x, y);
    expect(loss).toBeLessThan(0.1);
    // eval mode uses the running statistics: held-out accuracy must be high too
    model.eval();
    const test = quadrantTask(200, 2);
    const predicted = hn.mtl.argmaxClasses(hn.noGrad(() => model.forward(test.x) as hn.Tensor));
    const right = predicted.filter((p, i) => p === test.y.data[i]).length;
    expect(right / 200).toBeGreaterThan(0.95);
  });

  it('resuming from a checkpoint continues the same loss trajectory', () => {
    const { x, y } = quadrantTask(64, 5);
    hn.manualSeed(11);
    const straight = net();
    const straightOpt = new hn.optim.Adam(straight.parameters(), { lr: 0.01 });
    const expected = Array.from({ length: 12 }, () => step(straight, straightOpt, x, y));

    hn.manualSeed(11);
    const first = net();
    const firstOpt = new hn.optim.Adam(first.parameters(), { lr: 0.01 });
    const losses = Array.from({ length: 6 }, () => step(first, firstOpt, x, y));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hn-resume-')), 'ckpt.safetensors');
    hn.save({ model: first.stateDict(), optimizer: firstOpt.stateDict() as unknown as hn.CheckpointValue, step: 6 }, file);

    hn.manualSeed(999); // a different init, fully overwritten by the checkpoint
    const resumed = net();
    const resumedOpt = new hn.optim.Adam(resumed.parameters(), { lr: 0.01 });
    const record = hn.load(file) as { model: Record<string, hn.Tensor>; optimizer: unknown; step: number };
    resumed.loadStateDict(record.model);
    resumedOpt.loadStateDict(record.optimizer as never);
    expect(record.step).toBe(6);
    for (let i = 0; i < 6; i++) losses.push(step(resumed, resumedOpt, x, y));
    expect(losses).toEqual(expected);
  });
});
