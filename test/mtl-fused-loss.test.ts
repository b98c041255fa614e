// The fused multi-loss kernel against references computed here in double precision.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { fusedMultiTaskLoss, normalizeTasks } from '../lib/mtl/task_loss';
import { maxAbsDiff } from './helpers/gradcheck';

const seed = Date.now() % 100000;
const gen = new hn.Generator(seed);

function randomLogits(shape: number[], scale = 3): hn.Tensor {
  const t = hn.zeros(shape);
  gen.fillUniform(t.data as Float32Array, -scale, scale);
  return t;
}

function randomLabels(shape: number[], classes: number, ignoreIndex?: number): hn.Tensor {
  const t = hn.zeros(shape, { dtype: 'int32' });
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = ignoreIndex !== undefined && gen.uniform() < 0.2 ? ignoreIndex : Math.floor(gen.uniform() * classes);
  return t;
}

/** Cross-entropy over [N, C, S] logits in double: mean over counted positions, and its gradient. */
function referenceCrossEntropy(logits: hn.Tensor, labels: hn.Tensor, weight: number, ignoreIndex: number, mask?: Float32Array, reduction: 'mean' | 'sum' = 'mean') {
  const [N, C] = logits.shape;
  const S = logits.numel / (N * C);
  const x = logits.data, y = labels.data;
  const grad = new Float64Array(x.length);
  let loss = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    if (mask && mask[n] === 0) continue;
    for (let s = 0; s < S; s++) {
      const label = y[n * S + s];
      if (label === ignoreIndex) continue;
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, x[(n * C + c) * S + s]);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(x[(n * C + c) * S + s] - max);
      const lse = Math.log(sum) + max;
      loss += lse - x[(n * C + label) * S + s];
      for (let c = 0; c < C; c++) grad[(n * C + c) * S + s] = Math.exp(x[(n * C + c) * S + s] - lse) - (c === label ? 1 : 0);
      count++;
    }
  }
  const scale = reduction === 'mean' ? (count ? 1 / count : 0) : 1;
  return { loss: loss * scale, grad: grad.map((g) => g * scale * weight), count };
}

function referenceRegression(kind: 'mse' | 'l1' | 'bceWithLogits', out: hn.Tensor, target: hn.Tensor, weight: number, mask?: Float32Array) {
  const N = out.shape[0];
  const S = out.numel / N;
  const x = out.data, y = target.data;
  const grad = new Float64Array(x.length);
  let loss = 0;
  let count = 0;
  for (let n = 0; n < N; n++) {
    if (mask && mask[n] === 0) continue;
    for (let s = 0; s < S; s++) {
      const i = n * S + s;
      const d = x[i] - y[i];
      if (kind === 'mse') {
        loss += d * d;
        grad[i] = 2 * d;
      } else if (kind === 'l1') {
        loss += Math.abs(d);
        grad[i] = Math.sign(d);
      } else {
        loss += Math.log1p(Math.exp(x[i])) - x[i] * y[i];
        grad[i] = 1 / (1 + Math.exp(-x[i])) - y[i];
      }
      count++;
    }
  }
  return { loss: loss / count, grad: grad.map((g) => (g / count) * weight), count };
}

describe('fused multi-task loss', () => {
  it(`matches the per-task references for every loss kind, with masks and ignoreIndex (seed ${seed})`, () => {
    const N = 7;
    const cls = randomLogits([N, 10]);
    const clsY = randomLabels([N], 10);
    const seg = randomLogits([N, 5, 6, 9]);
    const segY = randomLabels([N, 6, 9], 5, 255);
    const reg = randomLogits([N, 4], 1);
    const regY = randomLogits([N, 4], 1);
    const l1 = randomLogits([N, 3], 1);
    const l1Y = randomLogits([N, 3], 1);
    const bce = randomLogits([N, 2, 3], 4);
    const bceY = hn.rand([N, 2, 3]);
    const mask = new Float32Array(N).map(() => (gen.uniform() < 0.3 ? 0 : 1));
    mask[0] = 1;
    const tasks = normalizeTasks('test', {
      cls: { loss: 'crossEntropy' }, seg: { loss: 'crossEntropy', ignoreIndex: 255 }, reg: { loss: 'mse' },
      l1: { loss: 'l1' }, bce: { loss: 'bceWithLogits' },
    });
    const names = Object.keys(tasks);
    const weights = [1, 0.5, 2, 0.25, 1.5];
    const result = fusedMultiTaskLoss('test', names, names.map((n) => tasks[n]), [cls, seg, reg, l1, bce], [clsY, segY, regY, l1Y, bceY],
      weights, [null, hn.tensor(mask), hn.tensor(mask), null, null]);
    const refs = [
      referenceCrossEntropy(cls, clsY, weights[0], -100),
      referenceCrossEntropy(seg, segY, weights[1], 255, mask),
      referenceRegression('mse', reg, regY, weights[2], mask),
      referenceRegression('l1', l1, l1Y, weights[3]),
      referenceRegression('bceWithLogits', bce, bceY, weights[4]),
    ];
    refs.forEach((ref, t) => {
      expect(Math.abs(result.losses[t] - ref.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref.loss)));
      expect(result.counts[t]).toBe(ref.count);
      expect(maxAbsDiff(result.grads[t].data, ref.grad)).toBeLessThan(1e-5);
    });
  });

  it('sum reduction and a batch with no labels for a task', () => {
    const logits = randomLogits([3, 4]);
    const labels = hn.tensor(new Int32Array([-100, -100, -100]));
    const tasks = normalizeTasks('test', { a: { loss: 'crossEntropy' }, b: { loss: 'crossEntropy', reduction: 'sum' } });
    const y = randomLabels([3], 4);
    const r = fusedMultiTaskLoss('test', ['a', 'b'], [tasks.a, tasks.b], [logits, logits], [labels, y], [1, 1]);
    expect(r.losses[0]).toBe(0);
    expect(Array.from(r.grads[0].data).every((v) => v === 0)).toBe(true);
    const ref = referenceCrossEntropy(logits, y, 1, -100, undefined, 'sum');
    expect(r.losses[1]).toBeCloseTo(ref.loss, 5);
  });

  it('is stable for huge logits', () => {
    const logits = hn.tensor([[1000, -1000, 0], [-5e4, 5e4, 1]]);
    const y = hn.tensor(new Int32Array([0, 0]));
    const tasks = normalizeTasks('test', { a: { loss: 'crossEntropy' } });
    const r = fusedMultiTaskLoss('test', ['a'], [tasks.a], [logits], [y], [1]);
    // row 0: lse = 1000, loss 0; row 1: lse = 5e4, loss 1e5; mean 5e4
    expect(r.losses[0]).toBeCloseTo(5e4, 0);
    expect(Array.from(r.grads[0].data).every(Number.isFinite)).toBe(true);
  });

  it('rejects labels out of range, wrong target shapes and bad weights with clear errors', () => {
    const tasks = normalizeTasks('test', { seg: { loss: 'crossEntropy' } });
    const logits = randomLogits([2, 3, 4, 4]);
    const bad = randomLabels([2, 4, 4], 3);
    bad.data[5] = 3;
    expect(() => fusedMultiTaskLoss('test', ['seg'], [tasks.seg], [logits], [bad], [1])).toThrow(/task 'seg' targets.*\[0, 3\).*got 3 at flat position 5/);
    expect(() => fusedMultiTaskLoss('test', ['seg'], [tasks.seg], [logits], [randomLabels([2, 4], 3)], [1])).toThrow(/expected targets.seg to be shape \[2, 4, 4\]/);
    expect(() => fusedMultiTaskLoss('test', ['seg'], [tasks.seg], [logits], [randomLabels([2, 4, 4], 3)], [NaN])).toThrow(RangeError);
    expect(() => normalizeTasks('test', { a: { loss: 'hinge' } })).toThrow(/tasks.a.loss/);
    expect(() => normalizeTasks('test', { a: { loss: 'mse', weight: -1 } })).toThrow(/tasks.a.weight/);
  });
});

describe('fused multi-task loss against the unfused hn.F losses', () => {
  it('losses and gradients agree to 1e-5 for every loss kind (per-pixel CE with ignoreIndex included)', () => {
    const F = hn.F;
    const N = 5;
    const cls = randomLogits([N, 7]);
    const clsY = randomLabels([N], 7);
    const seg = randomLogits([N, 4, 5, 6]);
    const segY = randomLabels([N, 5, 6], 4, 255);
    const mse = randomLogits([N, 3], 1);
    const mseY = randomLogits([N, 3], 1);
    const l1 = randomLogits([N, 2, 2], 1);
    const l1Y = randomLogits([N, 2, 2], 1);
    const bce = randomLogits([N, 4], 4);
    const bceY = hn.rand([N, 4]);
    const outputs = [cls, seg, mse, l1, bce];
    const targets = [clsY, segY, mseY, l1Y, bceY];
    const weights = [1.5, 0.5, 2, 1, 0.75];
    const tasks = normalizeTasks('test', {
      cls: { loss: 'crossEntropy' }, seg: { loss: 'crossEntropy', ignoreIndex: 255 }, mse: { loss: 'mse' }, l1: { loss: 'l1' }, bce: { loss: 'bceWithLogits' },
    });
    const names = Object.keys(tasks);
    const fused = fusedMultiTaskLoss('test', names, names.map((n) => tasks[n]), outputs, targets, weights);
    const unfused = [
      (x: hn.Tensor) => F.crossEntropy(x, clsY),
      (x: hn.Tensor) => F.crossEntropy(x, segY, { ignoreIndex: 255 }),
      (x: hn.Tensor) => F.mseLoss(x, mseY),
      (x: hn.Tensor) => F.l1Loss(x, l1Y),
      (x: hn.Tensor) => F.binaryCrossEntropyWithLogits(x, bceY),
    ];
    unfused.forEach((loss, t) => {
      const x = outputs[t].detach().requiresGrad_(true);
      const value = loss(x).mul(weights[t]);
      value.backward();
      expect(Math.abs(fused.losses[t] * weights[t] - value.item()), names[t]).toBeLessThan(1e-5 * Math.max(1, Math.abs(value.item())));
      expect(maxAbsDiff(fused.grads[t].data, x.grad!.data), names[t]).toBeLessThan(1e-5);
    });
  });
});
