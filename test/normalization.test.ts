// batchNorm2d / batchNorm1d against a plain reference (training and eval, running-stat updates
// over several steps), gradients by finite differences, dropout and dropout2d, and bad input.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { gradcheck, maxAbsDiff, randomInput } from './helpers/gradcheck';

const seed = Date.now() % 100000;
const gen = new hn.Generator(seed);

// Per-channel mean and biased / unbiased variance of x [N, C, ...] in double.
function channelStats(x: ArrayLike<number>, shape: number[]): { mean: number[]; biased: number[]; unbiased: number[] } {
  const [N, C] = shape;
  const HW = shape.slice(2).reduce((a, b) => a * b, 1);
  const M = N * HW;
  const mean: number[] = [], biased: number[] = [], unbiased: number[] = [];
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s += x[(n * C + c) * HW + i];
    const m = s / M;
    let q = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) q += (x[(n * C + c) * HW + i] - m) ** 2;
    mean.push(m);
    biased.push(q / M);
    unbiased.push(q / (M - 1));
  }
  return { mean, biased, unbiased };
}

// y = (x - mean) / sqrt(var + eps) * w + b, per channel.
function refNormalize(x: ArrayLike<number>, shape: number[], mean: number[], variance: number[], eps: number,
  w: ArrayLike<number> | null, b: ArrayLike<number> | null): Float64Array {
  const [N, C] = shape;
  const HW = shape.slice(2).reduce((a, c) => a * c, 1);
  const out = new Float64Array(x.length);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < HW; i++) {
    const k = (n * C + c) * HW + i;
    out[k] = ((x[k] - mean[c]) / Math.sqrt(variance[c] + eps)) * (w ? w[c] : 1) + (b ? b[c] : 0);
  }
  return out;
}

describe(`batchNorm2d (seed ${seed})`, () => {
  it('training: batch statistics normalise; running stats follow PyTorch over several steps', () => {
    const shape = [3, 4, 5, 6];
    const C = 4;
    const runningMean = hn.zeros([C]);
    const runningVar = hn.ones([C]);
    const weight = randomInput(gen, [C], false, 0.5, 1.5);
    const bias = randomInput(gen, [C], false);
    const refMean = new Array(C).fill(0);
    const refVar = new Array(C).fill(1);
    const momentum = 0.3;
    for (let step = 0; step < 4; step++) {
      const x = randomInput(gen, shape, false, -2 + step, 3 + step);
      const y = hn.F.batchNorm2d(x, runningMean, runningVar, weight, bias, { training: true, momentum, eps: 1e-5 });
      const stats = channelStats(x.data, shape);
      expect(maxAbsDiff(y.data, refNormalize(x.data, shape, stats.mean, stats.biased, 1e-5, weight.data, bias.data))).toBeLessThan(2e-5);
      for (let c = 0; c < C; c++) {
        refMean[c] = (1 - momentum) * refMean[c] + momentum * stats.mean[c];
        refVar[c] = (1 - momentum) * refVar[c] + momentum * stats.unbiased[c];
      }
      expect(maxAbsDiff(runningMean.data, refMean)).toBeLessThan(1e-5);
      expect(maxAbsDiff(runningVar.data, refVar)).toBeLessThan(1e-5);
    }
    // Eval uses the running statistics and leaves them alone.
    const x = randomInput(gen, shape, false);
    const before = runningVar.toArray();
    const y = hn.F.batchNorm2d(x, runningMean, runningVar, weight, bias, { training: false });
    expect(maxAbsDiff(y.data, refNormalize(x.data, shape, refMean, refVar, 1e-5, weight.data, bias.data))).toBeLessThan(2e-5);
    expect(Array.from(runningVar.data)).toEqual(Array.from(before));
  });

  it('training without running statistics, and without weight / bias', () => {
    const shape = [2, 3, 4, 4];
    const x = randomInput(gen, shape, false, -3, 5);
    const y = hn.F.batchNorm2d(x, null, null, null, null, { training: true, eps: 1e-3 });
    const s = channelStats(x.data, shape);
    expect(maxAbsDiff(y.data, refNormalize(x.data, shape, s.mean, s.biased, 1e-3, null, null))).toBeLessThan(2e-5);
  });

  it('gradients match finite differences in training and eval modes', () => {
    const x = randomInput(gen, [3, 2, 3, 3]);
    const w = randomInput(gen, [2], true, 0.5, 1.5);
    const b = randomInput(gen, [2]);
    const rm = randomInput(gen, [2], false);
    const rv = randomInput(gen, [2], false, 0.5, 2);
    gradcheck((a, ww, bb) => hn.F.batchNorm2d(a, null, null, ww, bb, { training: true }), [x, w, b], { maxElements: 60 });
    gradcheck((a, ww, bb) => hn.F.batchNorm2d(a, rm, rv, ww, bb, { training: false }), [x, w, b], { maxElements: 60 });
    gradcheck((a) => hn.F.batchNorm2d(a, null, null, null, null, { training: true }), [x], { maxElements: 60 });
  });

  it('eval backward uses the statistics of its forward, even after later updates', () => {
    const x = randomInput(gen, [2, 2, 2, 2]);
    const rm = hn.tensor([0.5, -0.5]);
    const rv = hn.tensor([4, 0.25]);
    const y = hn.F.batchNorm2d(x, rm, rv, null, null, { training: false });
    hn.F.batchNorm2d(randomInput(gen, [2, 2, 2, 2], false), rm, rv, null, null, { training: true });
    y.sum().backward();
    const g = x.grad!.data;
    for (let k = 0; k < 16; k++) expect(g[k]).toBeCloseTo(1 / Math.sqrt((Math.floor(k / 4) % 2 === 0 ? 4 : 0.25) + 1e-5), 5);
  });

  it('records inputs x, weight, bias, runningMean, runningVar (present ones) and {training, momentum, eps}', () => {
    const x = randomInput(gen, [2, 3, 2, 2]);
    const w = hn.ones([3], { requiresGrad: true });
    const rm = hn.zeros([3]);
    const rv = hn.ones([3]);
    const y = hn.F.batchNorm2d(x, rm, rv, w, null, { training: true, momentum: 0.2 });
    expect(y.gradFn!.op).toBe('batchNorm2d');
    expect(y.gradFn!.inputs).toEqual([x, w, rm, rv]);
    expect(y.gradFn!.inputs[2]).toBe(rm);
    expect(y.gradFn!.attrs).toMatchObject({ training: true, momentum: 0.2, eps: 1e-5 });
  });

  it('batchNorm1d on [N, C] and [N, C, L]', () => {
    for (const shape of [[6, 3], [4, 3, 5]]) {
      const x = randomInput(gen, shape, true);
      const y = hn.F.batchNorm1d(x, null, null, null, null, { training: true });
      const s = channelStats(x.data, shape);
      expect(maxAbsDiff(y.data, refNormalize(x.data, shape, s.mean, s.biased, 1e-5, null, null))).toBeLessThan(2e-5);
      gradcheck((a) => hn.F.batchNorm1d(a, null, null, null, null, { training: true }), [x], { maxElements: 40 });
    }
  });

  it('rejects bad input', () => {
    const x = hn.zeros([2, 3, 4, 4]);
    const c3 = hn.zeros([3]);
    expect(() => hn.F.batchNorm2d(hn.zeros([2, 3, 4]), c3, c3)).toThrow(/batchNorm2d: expected input to be a 4-D \[N, C, H, W\] tensor, got shape \[2, 3, 4\]/);
    expect(() => hn.F.batchNorm2d(x, hn.zeros([4]), c3)).toThrow(/runningMean to be a 1-D tensor of 3 values/);
    expect(() => hn.F.batchNorm2d(x, c3, c3, hn.ones([2]))).toThrow(/weight/);
    expect(() => hn.F.batchNorm2d(x, null, null)).toThrow(/evaluation mode/);
    expect(() => hn.F.batchNorm2d(x, c3, null, null, null, { training: true })).toThrow(/both tensors or both null/);
    expect(() => hn.F.batchNorm2d(hn.zeros([1, 3, 1, 1]), null, null, null, null, { training: true })).toThrow(/more than 1 value per channel/);
    expect(() => hn.F.batchNorm2d(hn.zeros([2, 3, 4, 4], { dtype: 'int32' }), c3, c3)).toThrow(TypeError);
    expect(() => hn.F.batchNorm2d(x, c3, c3, null, null, { eps: -1 })).toThrow(/eps/);
    expect(() => hn.F.batchNorm1d(hn.zeros([2]), null, null, null, null, { training: true })).toThrow(/batchNorm1d/);
    // The binding checks again.
    expect(() => addon.batchNormForward(new Float32Array(4), [1, 2, 2], null, null, null, null, false, 0.1, 1e-5,
      new Float32Array(4), new Float32Array(2), new Float32Array(2))).toThrow(TypeError);
    expect(() => addon.batchNormForward(new Float32Array(4), [1, 2, 2], null, null, new Float32Array(3), new Float32Array(2), true, 0.1,
      1e-5, new Float32Array(4), new Float32Array(2), new Float32Array(2))).toThrow(RangeError);
  });
});

describe(`dropout (seed ${seed})`, () => {
  it('zeroes about p of the elements and scales the rest by 1 / (1 - p)', () => {
    const n = 100000;
    const p = 0.3;
    const x = hn.ones([n]);
    const y = hn.F.dropout(x, { p }).data;
    let zeros = 0, misScaled = 0;
    for (let i = 0; i < n; i++) {
      if (y[i] === 0) zeros++;
      else if (Math.abs(y[i] - 1 / (1 - p)) > 1e-6) misScaled++;
    }
    expect(misScaled).toBe(0);
    // Binomial(n, p): 5 standard deviations is about 0.0072 here.
    expect(Math.abs(zeros / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
  });

  it('hn.manualSeed reproduces the mask', () => {
    const x = randomInput(gen, [50]);
    hn.manualSeed(42);
    const a = hn.F.dropout(x).toArray();
    hn.manualSeed(42);
    const b = hn.F.dropout(x).toArray();
    const c = hn.F.dropout(x).toArray();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('identity when not training or p = 0; zeros when p = 1', () => {
    const x = randomInput(gen, [4, 5]);
    expect(hn.F.dropout(x, { training: false })).toBe(x);
    expect(hn.F.dropout(x, { p: 0 })).toBe(x);
    expect(hn.F.dropout2d(randomInput(gen, [2, 3, 2, 2]), { p: 0.5, training: false }).gradFn).toBeNull();
    const y = hn.F.dropout(x, { p: 1 });
    expect(Array.from(y.toArray()).every((v) => v === 0)).toBe(true);
    y.sum().backward();
    expect(Array.from(x.grad!.toArray()).every((v) => v === 0)).toBe(true);
  });

  it('gradient is the same mask, scaled', () => {
    const x = randomInput(gen, [200], true, 0.5, 1);
    const y = hn.F.dropout(x, { p: 0.4 });
    y.backward(hn.ones([200]));
    for (let i = 0; i < 200; i++) expect(x.grad!.data[i]).toBeCloseTo(y.data[i] / x.data[i], 5);
    expect(y.gradFn!.attrs).toEqual({ p: 0.4, training: true });
  });

  it('dropout2d zeroes whole channels', () => {
    const x = randomInput(gen, [4, 8, 3, 3], true, 0.5, 1);
    const y = hn.F.dropout2d(x, { p: 0.5 });
    let dropped = 0;
    for (let plane = 0; plane < 32; plane++) {
      const ratios = Array.from({ length: 9 }, (_, i) => y.data[plane * 9 + i] / x.data[plane * 9 + i]);
      const r = ratios[0];
      expect(r === 0 || Math.abs(r - 2) < 1e-6).toBe(true);
      for (const v of ratios) expect(v).toBeCloseTo(r, 5);
      if (r === 0) dropped++;
    }
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(32);
    y.backward(hn.ones([4, 8, 3, 3]));
    expect(maxAbsDiff(x.grad!.data, Array.from(y.data, (v, i) => v / x.data[i]))).toBeLessThan(1e-5);
    expect(hn.F.dropout2d(randomInput(gen, [2, 3, 5]), { p: 0.5 }).shape).toEqual([2, 3, 5]);
  });

  it('validates p, training and ranks', () => {
    const x = hn.zeros([2, 2]);
    expect(() => hn.F.dropout(x, { p: 1.5 })).toThrow(/dropout: expected p to be a probability in \[0, 1\], got 1.5/);
    expect(() => hn.F.dropout(x, { p: -0.1 })).toThrow(RangeError);
    expect(() => hn.F.dropout(x, { p: NaN })).toThrow(TypeError);
    expect(() => hn.F.dropout(x, { training: 1 as unknown as boolean })).toThrow(/training/);
    expect(() => hn.F.dropout2d(x, { p: 0.5 })).toThrow(/dropout2d: expected input to be a 4-D/);
    expect(() => hn.F.dropout2d(hn.zeros([1, 2, 2, 2]), { p: 2 })).toThrow(RangeError);
  });
});
