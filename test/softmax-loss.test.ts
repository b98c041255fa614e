// softmax / logSoftmax and the loss functions against direct formulas evaluated in double,
// gradients by finite differences, and bad input.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { gradcheck, maxAbsDiff, randomInput } from './helpers/gradcheck';

const seed = Date.now() % 100000;
const gen = new hn.Generator(seed);
const int32 = (values: number[], shape?: number[]): hn.Tensor => hn.tensor(values, { dtype: 'int32', shape });
const randomLabels = (n: number, C: number, ignoreIndex?: number): number[] =>
  Array.from({ length: n }, () => (ignoreIndex !== undefined && gen.uniform() < 0.2 ? ignoreIndex : Math.floor(gen.uniform() * C)));

// Reference softmax along `dim` of a contiguous tensor, in double.
function refSoftmax(x: ArrayLike<number>, shape: number[], dim: number, log: boolean): Float64Array {
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const D = shape[dim];
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const out = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
    const at = (d: number): number => (o * D + d) * inner + i;
    let max = -Infinity;
    for (let d = 0; d < D; d++) max = Math.max(max, x[at(d)]);
    let sum = 0;
    for (let d = 0; d < D; d++) sum += Math.exp(x[at(d)] - max);
    for (let d = 0; d < D; d++) out[at(d)] = log ? x[at(d)] - max - Math.log(sum) : Math.exp(x[at(d)] - max) / sum;
  }
  return out;
}

describe(`softmax / logSoftmax (seed ${seed})`, () => {
  it('matches the reference over every dim; softmax rows sum to 1', () => {
    const shape = [3, 4, 5];
    const x = randomInput(gen, shape, false, -5, 5);
    for (const dim of [0, 1, 2, -1, -3]) {
      const d = dim < 0 ? dim + 3 : dim;
      const y = hn.F.softmax(x, dim);
      expect(maxAbsDiff(y.data, refSoftmax(x.data, shape, d, false))).toBeLessThan(1e-6);
      expect(maxAbsDiff(hn.F.logSoftmax(x, dim).data, refSoftmax(x.data, shape, d, true))).toBeLessThan(1e-5);
      const sums = y.sum(d);
      expect(maxAbsDiff(sums.data, new Float64Array(sums.numel).fill(1))).toBeLessThan(1e-6);
      expect(y.gradFn).toBeNull();
    }
  });

  it('is numerically stable for large logits', () => {
    const x = hn.tensor([[1000, 1001, 1002], [-1000, -1000, -1000]]);
    const y = hn.F.softmax(x, 1).toArray();
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const s = e[0] + e[1] + e[2];
    expect(maxAbsDiff(y, [e[0] / s, e[1] / s, e[2] / s, 1 / 3, 1 / 3, 1 / 3])).toBeLessThan(1e-6);
    const ly = hn.F.logSoftmax(x, 1).toArray();
    expect(ly[2]).toBeCloseTo(-Math.log(s), 5);
    expect(Array.from(ly).every(Number.isFinite)).toBe(true);
  });

  it('handles a 0-D tensor (softmax = 1)', () => {
    expect(hn.F.softmax(hn.tensor(3), 0).item()).toBe(1);
    expect(hn.F.logSoftmax(hn.tensor(3), -1).item()).toBe(0);
  });

  it('gradients match finite differences on every dim', () => {
    const x = randomInput(gen, [2, 3, 4], true, -2, 2);
    for (const dim of [0, 1, 2]) {
      gradcheck((t) => hn.F.softmax(t, dim), [x]);
      gradcheck((t) => hn.F.logSoftmax(t, dim), [x]);
    }
    // Inner extent above the kernel's 64-lane block.
    const wide = randomInput(gen, [2, 3, 70], true, -2, 2);
    gradcheck((t) => hn.F.softmax(t, 1), [wide], { maxElements: 40 });
  });

  it('records {dim} normalised to a non-negative dim', () => {
    const y = hn.F.logSoftmax(randomInput(gen, [2, 3]), -1);
    expect(y.gradFn!.op).toBe('logSoftmax');
    expect(y.gradFn!.attrs).toEqual({ dim: 1 });
  });

  it('rejects bad dims and int32 input', () => {
    const x = hn.zeros([2, 3]);
    expect(() => hn.F.softmax(x, 2)).toThrow(/softmax: expected dim to be an integer in \[-2, 1\], got 2/);
    expect(() => hn.F.logSoftmax(x, 0.5)).toThrow(TypeError);
    expect(() => (hn.F.softmax as (t: hn.Tensor) => hn.Tensor)(x)).toThrow(/dim/);
    expect(() => hn.F.softmax(hn.zeros([2], { dtype: 'int32' }), 0)).toThrow(/softmax: expected input to be a float32 tensor/);
  });
});

// ---- Cross entropy ------------------------------------------------------------------------------

interface CeRefOptions {
  weight?: number[];
  ignoreIndex?: number;
  labelSmoothing?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

// PyTorch's definition, directly: per row (n, spatial s), lse = log sum_c exp(x_c);
// loss = (1 - e) w_t (lse - x_t) + e / C sum_c w_c (lse - x_c); 'mean' divides by sum w_t.
function refCrossEntropy(x: ArrayLike<number>, shape: number[], target: number[], o: CeRefOptions = {}): number[] {
  const [N, C] = shape;
  const S = shape.slice(2).reduce((a, b) => a * b, 1);
  const e = o.labelSmoothing ?? 0;
  const ignore = o.ignoreIndex ?? -100;
  const w = (c: number): number => (o.weight ? o.weight[c] : 1);
  const rows: number[] = [];
  let total = 0, weightSum = 0;
  for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) {
    const t = target[n * S + s];
    if (t === ignore) {
      rows.push(0);
      continue;
    }
    const xc = (c: number): number => x[(n * C + c) * S + s];
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, xc(c));
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(xc(c) - max);
    const lse = max + Math.log(sum);
    let smooth = 0;
    for (let c = 0; c < C; c++) smooth += w(c) * (lse - xc(c));
    const loss = (1 - e) * w(t) * (lse - xc(t)) + (e / C) * smooth;
    rows.push(loss);
    total += loss;
    weightSum += w(t);
  }
  if (o.reduction === 'none') return rows;
  return [o.reduction === 'sum' ? total : total / weightSum];
}

describe(`crossEntropy (seed ${seed})`, () => {
  it('matches a known value', () => {
    // -log softmax([1, 2, 3])[2] = log(e + e^2 + e^3) - 3
    const loss = hn.F.crossEntropy(hn.tensor([[1, 2, 3]]), int32([2])).item();
    expect(loss).toBeCloseTo(Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 3, 6);
  });

  it('matches the direct log-sum-exp formula: weights, ignoreIndex, smoothing, every reduction', () => {
    const N = 7, C = 5;
    const x = randomInput(gen, [N, C], false, -3, 3);
    const weight = Array.from({ length: C }, () => 0.2 + gen.uniform());
    const target = randomLabels(N, C, -100);
    target[0] = 1; // at least one row counts
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const labelSmoothing of [0, 0.15]) {
        for (const useWeight of [false, true]) {
          const opts = { reduction, labelSmoothing, weight: useWeight ? hn.tensor(weight) : undefined };
          const out = hn.F.crossEntropy(x, int32(target), opts);
          const ref = refCrossEntropy(x.data, [N, C], target, { reduction, labelSmoothing, weight: useWeight ? weight : undefined });
          expect(out.shape).toEqual(reduction === 'none' ? [N] : []);
          expect(maxAbsDiff(out.data, ref)).toBeLessThan(2e-5);
        }
      }
    }
  });

  it('handles a custom ignoreIndex that is also a valid class', () => {
    const x = randomInput(gen, [6, 4], false);
    const target = [0, 1, 2, 3, 2, 1];
    const out = hn.F.crossEntropy(x, int32(target), { ignoreIndex: 2 });
    expect(out.item()).toBeCloseTo(refCrossEntropy(x.data, [6, 4], target, { ignoreIndex: 2 })[0], 5);
  });

  it('spatial case [N, C, d1, d2] with [N, d1, d2] targets', () => {
    const shape = [2, 3, 4, 5];
    const x = randomInput(gen, shape, false, -2, 2);
    const target = randomLabels(2 * 4 * 5, 3, 7);
    const weight = [0.5, 2, 1.5];
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const out = hn.F.crossEntropy(x, int32(target, [2, 4, 5]), { reduction, ignoreIndex: 7, labelSmoothing: 0.1, weight: hn.tensor(weight) });
      expect(out.shape).toEqual(reduction === 'none' ? [2, 4, 5] : []);
      const ref = refCrossEntropy(x.data, shape, target, { reduction, ignoreIndex: 7, labelSmoothing: 0.1, weight });
      expect(maxAbsDiff(out.data, ref)).toBeLessThan(2e-5);
    }
    // Above the kernel's 64-lane block along the spatial dim, and [N, C, L].
    const long = randomInput(gen, [2, 3, 150], false);
    const labels = randomLabels(300, 3);
    expect(maxAbsDiff(hn.F.crossEntropy(long, int32(labels, [2, 150]), { reduction: 'none' }).data,
      refCrossEntropy(long.data, [2, 3, 150], labels, { reduction: 'none' }))).toBeLessThan(2e-5);
  });

  it('unbatched [C] logits with a 0-D target', () => {
    const x = hn.tensor([0.5, -1, 2]);
    expect(hn.F.crossEntropy(x, hn.tensor(1, { dtype: 'int32' })).item()).toBeCloseTo(refCrossEntropy(x.data, [1, 3], [1])[0], 6);
  });

  it("'mean' over only ignored targets is NaN with a zero gradient (PyTorch)", () => {
    const x = randomInput(gen, [3, 4]);
    const loss = hn.F.crossEntropy(x, int32([-100, -100, -100]));
    expect(Number.isNaN(loss.item())).toBe(true);
    loss.backward();
    expect(Array.from(x.grad!.toArray()).every((v) => v === 0)).toBe(true);
  });

  it('gradient = softmax - onehot, scaled; matches finite differences in every mode', () => {
    const x = randomInput(gen, [5, 4], true, -2, 2);
    const target = int32([0, 3, -100, 1, 3]);
    const weight = hn.tensor([0.5, 1.5, 1, 2]);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      gradcheck((t) => hn.F.crossEntropy(t, target, { reduction }), [x]);
      gradcheck((t) => hn.F.crossEntropy(t, target, { reduction, weight, labelSmoothing: 0.2 }), [x]);
    }
    const spatial = randomInput(gen, [2, 3, 3, 2], true, -2, 2);
    const st = int32(randomLabels(12, 3, -100), [2, 3, 2]);
    gradcheck((t) => hn.F.crossEntropy(t, st, { weight: hn.tensor([1, 2, 0.5]), labelSmoothing: 0.1 }), [spatial]);
    // The plain case in closed form: (softmax - onehot) / N.
    const y = randomInput(gen, [3, 4]);
    hn.F.crossEntropy(y, int32([1, 0, 2])).backward();
    const p = refSoftmax(y.data, [3, 4], 1, false);
    [1, 0, 2].forEach((t, n) => { p[n * 4 + t] -= 1; });
    expect(maxAbsDiff(y.grad!.data, p.map((v) => v / 3))).toBeLessThan(1e-6);
  });

  it('records its options', () => {
    const out = hn.F.crossEntropy(randomInput(gen, [2, 3]), int32([0, 1]), { labelSmoothing: 0.1 });
    expect(out.gradFn!.op).toBe('crossEntropy');
    expect(out.gradFn!.attrs).toEqual({ ignoreIndex: -100, reduction: 'mean', labelSmoothing: 0.1, hasWeight: false });
  });

  it('rejects bad input with clear errors', () => {
    const x = hn.zeros([2, 3]);
    expect(() => hn.F.crossEntropy(x, int32([0, 3]))).toThrow(RangeError);
    expect(() => hn.F.crossEntropy(x, int32([0, 3]))).toThrow(/crossEntropy: expected target\[1\] to be a class index in \[0, 3\) or ignoreIndex -100, got 3/);
    expect(() => hn.F.crossEntropy(hn.zeros([2, 3, 2]), int32([0, 1, 2, -1], [2, 2]))).toThrow(/target\[1, 1\].*got -1/);
    expect(() => hn.F.crossEntropy(x, int32([0, 1, 1]))).toThrow(/crossEntropy: expected target to be of shape \[N\] = \[2\] for input of shape \[2, 3\], got \[3\]/);
    expect(() => hn.F.crossEntropy(hn.zeros([2, 3, 4]), int32([0, 1]))).toThrow(/target.*\[2, 4\]/);
    expect(() => hn.F.crossEntropy(hn.zeros([2, 3], { dtype: 'int32' }), int32([0, 1]))).toThrow(/crossEntropy: expected input to be a float32 tensor, got an int32 tensor/);
    expect(() => hn.F.crossEntropy(x, hn.tensor([0, 1]))).toThrow(/expected target to be an int32 tensor of class indices, got a float32 tensor/);
    expect(() => hn.F.crossEntropy(hn.tensor(1), int32([0]))).toThrow(RangeError);
    expect(() => hn.F.crossEntropy(x, int32([0, 1]), { weight: hn.ones([2]) })).toThrow(/weight to be a 1-D tensor of 3 class weights/);
    expect(() => hn.F.crossEntropy(x, int32([0, 1]), { labelSmoothing: 1.5 })).toThrow(/labelSmoothing/);
    expect(() => hn.F.crossEntropy(x, int32([0, 1]), { reduction: 'avg' as 'mean' })).toThrow(/reduction/);
  });

  it('the bindings check targets too: RangeError, never a crash', () => {
    const rowLoss = new Float32Array(2), lse = new Float32Array(2);
    expect(() => addon.crossEntropyForward(new Float32Array(6), new Int32Array([0, 5]), null, [2, 3, 1], -100, 0, lse, rowLoss))
      .toThrow(/target\[1\].*got 5/);
    expect(() => addon.crossEntropyBackward(new Float32Array(6), new Int32Array([-7, 0]), null, lse, null, 1, [2, 3, 1], -100, 0,
      new Float32Array(6))).toThrow(RangeError);
    expect(() => addon.nllLossForward(new Float32Array(6), new Int32Array([0, 1]), new Float32Array(2), [2, 3, 1], -100, rowLoss))
      .toThrow(/weight/);
  });
});

describe(`nllLoss (seed ${seed})`, () => {
  it('equals crossEntropy on logSoftmax, every reduction, weights and ignoreIndex', () => {
    const x = randomInput(gen, [4, 3, 5], false, -2, 2);
    const target = int32(randomLabels(20, 3, 1), [4, 5]);
    const weight = hn.tensor([2, 0.5, 1]);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const a = hn.F.nllLoss(hn.F.logSoftmax(x, 1), target, { reduction, weight, ignoreIndex: 1 });
      const b = hn.F.crossEntropy(x, target, { reduction, weight, ignoreIndex: 1 });
      expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-5);
    }
    // -w[t] * input[n, t] directly
    const lp = hn.tensor([[-1, -2, -3], [-0.5, -0.25, -4]]);
    expect(hn.F.nllLoss(lp, int32([2, 0]), { weight: hn.tensor([1, 1, 3]), reduction: 'sum' }).item()).toBeCloseTo(9.5, 6);
    expect(hn.F.nllLoss(lp, int32([2, 0]), { weight: hn.tensor([1, 1, 3]) }).item()).toBeCloseTo(9.5 / 4, 6);
  });

  it('gradients match finite differences', () => {
    const x = randomInput(gen, [4, 3]);
    const target = int32([0, 2, -100, 1]);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      gradcheck((t) => hn.F.nllLoss(t, target, { reduction, weight: hn.tensor([1, 2, 3]) }), [x]);
    }
  });

  it('rejects out-of-range labels', () => {
    expect(() => hn.F.nllLoss(hn.zeros([2, 3]), int32([0, 9]))).toThrow(/nllLoss: expected target\[1\].*got 9/);
  });
});

// ---- Point-wise losses --------------------------------------------------------------------------

const softplus = (v: number): number => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
const refs: Record<string, (x: number, t: number) => number> = {
  mseLoss: (x, t) => (x - t) ** 2,
  l1Loss: (x, t) => Math.abs(x - t),
  smoothL1Loss: (x, t) => (Math.abs(x - t) < 0.5 ? (0.5 * (x - t) ** 2) / 0.5 : Math.abs(x - t) - 0.25),
  huberLoss: (x, t) => (Math.abs(x - t) < 0.5 ? 0.5 * (x - t) ** 2 : 0.5 * (Math.abs(x - t) - 0.25)),
  binaryCrossEntropyWithLogits: (x, t) => softplus(x) - x * t,
};
const pointwiseOps = {
  mseLoss: (x: hn.Tensor, t: hn.Tensor, reduction: 'mean' | 'sum' | 'none') => hn.F.mseLoss(x, t, { reduction }),
  l1Loss: (x: hn.Tensor, t: hn.Tensor, reduction: 'mean' | 'sum' | 'none') => hn.F.l1Loss(x, t, { reduction }),
  smoothL1Loss: (x: hn.Tensor, t: hn.Tensor, reduction: 'mean' | 'sum' | 'none') => hn.F.smoothL1Loss(x, t, { reduction, beta: 0.5 }),
  huberLoss: (x: hn.Tensor, t: hn.Tensor, reduction: 'mean' | 'sum' | 'none') => hn.F.huberLoss(x, t, { reduction, delta: 0.5 }),
  binaryCrossEntropyWithLogits: (x: hn.Tensor, t: hn.Tensor, reduction: 'mean' | 'sum' | 'none') =>
    hn.F.binaryCrossEntropyWithLogits(x, t, { reduction }),
};

describe(`point-wise losses (seed ${seed})`, () => {
  it.each(Object.keys(pointwiseOps))('%s matches its formula for every reduction, and its gradients', (name) => {
    const op = pointwiseOps[name as keyof typeof pointwiseOps];
    const x = randomInput(gen, [3, 4, 5], true, -2, 2);
    const t = name === 'binaryCrossEntropyWithLogits' ? randomInput(gen, [3, 4, 5], true, 0, 1) : randomInput(gen, [3, 4, 5], true, -2, 2);
    // Keep |x - t| off the kinks (0 and beta) so finite differences are valid.
    const xd = x.data, td = t.data;
    for (let i = 0; i < xd.length; i++) {
      const d = Math.abs(xd[i] - td[i]);
      if (d < 0.05 || Math.abs(d - 0.5) < 0.05) xd[i] = td[i] + 0.3;
    }
    const elems = Array.from(xd, (v, i) => refs[name](v, td[i]));
    const sum = elems.reduce((a, b) => a + b, 0);
    expect(maxAbsDiff(op(x, t, 'none').data, elems)).toBeLessThan(1e-5);
    expect(op(x, t, 'sum').item()).toBeCloseTo(sum, 3);
    expect(op(x, t, 'mean').item()).toBeCloseTo(sum / elems.length, 5);
    for (const reduction of ['mean', 'sum', 'none'] as const) gradcheck((a, b) => op(a, b, reduction), [x, t]);
  });

  it('binaryCrossEntropyWithLogits: naive formula, weight and posWeight broadcast, stability', () => {
    const x = randomInput(gen, [4, 3], true, -3, 3);
    const t = randomInput(gen, [4, 3], false, 0, 1);
    const weight = randomInput(gen, [4, 1], false, 0.5, 2);
    const posWeight = hn.tensor([0.5, 2, 3]);
    const out = hn.F.binaryCrossEntropyWithLogits(x, t, { weight, posWeight, reduction: 'none' });
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    const ref = Array.from(x.data, (v, i) => {
      const pw = posWeight.data[i % 3], w = weight.data[Math.floor(i / 3)], y = t.data[i];
      return -w * (pw * y * Math.log(sig(v)) + (1 - y) * Math.log(1 - sig(v)));
    });
    expect(maxAbsDiff(out.data, ref)).toBeLessThan(1e-5);
    gradcheck((a) => hn.F.binaryCrossEntropyWithLogits(a, t, { weight, posWeight }), [x]);
    const tg = randomInput(gen, [4, 3], true, 0, 1);
    gradcheck((b) => hn.F.binaryCrossEntropyWithLogits(x, b, { posWeight, reduction: 'sum' }), [tg]);
    const extreme = hn.F.binaryCrossEntropyWithLogits(hn.tensor([100, -100, 100, -100]), hn.tensor([1, 0, 0, 1]), { reduction: 'none' });
    expect(maxAbsDiff(extreme.data, [0, 0, 100, 100])).toBeLessThan(1e-4);
    expect(() => hn.F.binaryCrossEntropyWithLogits(x, t, { posWeight: hn.ones([4]) })).toThrow(/posWeight to be broadcastable to the input shape \[4, 3\], got shape \[4\]/);
  });

  it('rejects target shape mismatches, int32 tensors and bad options', () => {
    const x = hn.zeros([2, 3]);
    expect(() => hn.F.mseLoss(x, hn.zeros([3]))).toThrow(/mseLoss: expected target to be of the input's shape \[2, 3\] \(no broadcasting\), got shape \[3\]/);
    expect(() => hn.F.l1Loss(x, hn.zeros([2, 3], { dtype: 'int32' }))).toThrow(TypeError);
    expect(() => hn.F.binaryCrossEntropyWithLogits(x, hn.zeros([2, 1]))).toThrow(RangeError);
    expect(() => hn.F.smoothL1Loss(x, x, { beta: -1 })).toThrow(/beta/);
    expect(() => hn.F.huberLoss(x, x, { delta: 0 })).toThrow(/delta/);
    expect(() => hn.F.mseLoss(x, x, { reduction: 'max' as 'sum' })).toThrow(/reduction/);
  });
});
