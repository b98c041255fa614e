// nn layers: PyTorch's default init (bounds from its fan rule), forward through the functional
// ops, train/eval behaviour of Dropout and BatchNorm2d, constructor checks, nn.init.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { maxAbsDiff } from './helpers/gradcheck';

const { nn, F } = hn;

function stats(t: hn.Tensor): { maxAbs: number; mean: number; std: number } {
  const d = t.data;
  let s = 0, s2 = 0, m = 0;
  for (let i = 0; i < d.length; i++) {
    s += d[i];
    s2 += d[i] * d[i];
    m = Math.max(m, Math.abs(d[i]));
  }
  const mean = s / d.length;
  return { maxAbs: m, mean, std: Math.sqrt(s2 / d.length - mean * mean) };
}

// U(-b, b): every |value| <= b, and with >= 1000 draws the largest is above 0.99 b (a miss has
// probability 0.99^1000 < 1e-4; the seed is fixed anyway). std is b/sqrt(3) within 5%.
function expectUniformBound(t: hn.Tensor, bound: number, what: string): void {
  const { maxAbs, std } = stats(t);
  expect(maxAbs, `${what} max |w|`).toBeLessThanOrEqual(Math.fround(bound));
  if (t.numel >= 1000) {
    expect(maxAbs, `${what} max |w|`).toBeGreaterThan(0.99 * bound);
    expect(Math.abs(std - bound / Math.sqrt(3)) / (bound / Math.sqrt(3)), `${what} std`).toBeLessThan(0.05);
  } else {
    expect(maxAbs, `${what} max |w|`).toBeGreaterThan(0.8 * bound);
  }
}

describe('default initialisation (PyTorch reset_parameters)', () => {
  it('Linear: weight and bias in U(±1/sqrt(inFeatures))', () => {
    hn.manualSeed(11);
    const lin = new nn.Linear(50, 40);
    expectUniformBound(lin.weight, 1 / Math.sqrt(50), 'weight');
    expectUniformBound(lin.bias!, 1 / Math.sqrt(50), 'bias');
  });

  it('Conv2d: fanIn = (in/groups)·kH·kW', () => {
    hn.manualSeed(12);
    const conv = new nn.Conv2d(16, 32, [3, 2], { groups: 4 });
    expect(conv.weight.shape).toEqual([32, 4, 3, 2]);
    expectUniformBound(conv.weight, 1 / Math.sqrt(4 * 6), 'weight');
    expectUniformBound(conv.bias!, 1 / Math.sqrt(4 * 6), 'bias');
  });

  it('ConvTranspose2d: weight [in, out/groups, kH, kW] and fanIn = weight.shape[1]·kH·kW', () => {
    hn.manualSeed(13);
    const deconv = new nn.ConvTranspose2d(32, 8, 3, { groups: 2, stride: 2 });
    expect(deconv.weight.shape).toEqual([32, 4, 3, 3]);
    // fanIn = 4·9 = 36 (not in/groups·9 = 144).
    expectUniformBound(deconv.weight, 1 / 6, 'weight');
    expect(deconv.bias!.shape).toEqual([8]);
    expectUniformBound(deconv.bias!, 1 / 6, 'bias');
  });

  it('BatchNorm2d: weight 1, bias 0, running stats 0/1, counter 0', () => {
    const bn = new nn.BatchNorm2d(3);
    expect(Array.from(bn.weight!.data)).toEqual([1, 1, 1]);
    expect(Array.from(bn.bias!.data)).toEqual([0, 0, 0]);
    expect(Array.from(bn.runningMean!.data)).toEqual([0, 0, 0]);
    expect(Array.from(bn.runningVar!.data)).toEqual([1, 1, 1]);
    expect(bn.numBatchesTracked!.item()).toBe(0);
  });

  it('hn.manualSeed makes init reproducible', () => {
    hn.manualSeed(5);
    const a = new nn.Conv2d(3, 4, 3);
    hn.manualSeed(5);
    const b = new nn.Conv2d(3, 4, 3);
    const c = new nn.Conv2d(3, 4, 3);
    expect(Array.from(b.weight.data)).toEqual(Array.from(a.weight.data));
    expect(Array.from(b.bias!.data)).toEqual(Array.from(a.bias!.data));
    expect(Array.from(c.weight.data)).not.toEqual(Array.from(a.weight.data));
  });
});

describe('nn.init', () => {
  const { init } = nn;

  it("calculateGain follows PyTorch's table", () => {
    expect(init.calculateGain('linear')).toBe(1);
    expect(init.calculateGain('conv_transpose2d')).toBe(1);
    expect(init.calculateGain('sigmoid')).toBe(1);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(init.calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15);
    expect(init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(init.calculateGain('selu')).toBe(0.75);
    expect(() => init.calculateGain('gelu' as never)).toThrow(/calculateGain: expected nonlinearity/);
  });

  it('fans: dim 1 in, dim 0 out, times the receptive field', () => {
    expect(init.calculateFanInAndFanOut(hn.zeros([8, 3, 5, 2]))).toEqual({ fanIn: 30, fanOut: 80 });
    expect(init.calculateFanInAndFanOut(hn.zeros([7, 4]))).toEqual({ fanIn: 4, fanOut: 7 });
    expect(() => init.calculateFanInAndFanOut(hn.zeros([7]))).toThrow(/expected tensor to be a tensor with at least 2 dims.*got shape \[7\]/);
  });

  it('xavierUniform_ / xavierNormal_ use sqrt(2/(fanIn+fanOut))', () => {
    hn.manualSeed(21);
    const w = init.xavierUniform_(hn.zeros([60, 40]), 2);
    expectUniformBound(w, 2 * Math.sqrt(6 / 100), 'xavierUniform_');
    const n = init.xavierNormal_(hn.zeros([100, 60]));
    expect(Math.abs(stats(n).std / Math.sqrt(2 / 160) - 1)).toBeLessThan(0.05);
  });

  it('kaimingUniform_ / kaimingNormal_ use gain/sqrt(fan) with the chosen mode', () => {
    hn.manualSeed(22);
    const u = init.kaimingUniform_(hn.zeros([40, 50]), { nonlinearity: 'relu' });
    expectUniformBound(u, Math.sqrt(3) * Math.SQRT2 / Math.sqrt(50), 'kaimingUniform_');
    const n = init.kaimingNormal_(hn.zeros([100, 30, 2, 2]), { mode: 'fan_out', nonlinearity: 'relu' });
    expect(Math.abs(stats(n).std / (Math.SQRT2 / Math.sqrt(400)) - 1)).toBeLessThan(0.05);
    expect(Math.abs(stats(n).mean)).toBeLessThan(0.01);
    expect(() => init.kaimingNormal_(hn.zeros([2, 2]), { mode: 'fan' as never })).toThrow(/kaimingNormal_: expected mode to be 'fan_in' or 'fan_out'/);
  });

  it('uniform_, normal_, constant_, zeros_, ones_', () => {
    hn.manualSeed(23);
    const u = init.uniform_(hn.zeros([2000]), -0.5, 1.5);
    expect(Math.min(...u.data)).toBeGreaterThanOrEqual(-0.5);
    expect(Math.max(...u.data)).toBeLessThanOrEqual(1.5);
    expect(Math.abs(stats(u).mean - 0.5)).toBeLessThan(0.05);
    const n = init.normal_(hn.zeros([4000]), 3, 0.5);
    expect(Math.abs(stats(n).mean - 3)).toBeLessThan(0.05);
    expect(Math.abs(stats(n).std - 0.5)).toBeLessThan(0.03);
    expect(Array.from(init.constant_(hn.zeros([3]), 0.25).data)).toEqual([0.25, 0.25, 0.25]);
    expect(Array.from(init.ones_(hn.zeros([2])).data)).toEqual([1, 1]);
    expect(Array.from(init.zeros_(hn.ones([2])).data)).toEqual([0, 0]);
    expect(() => init.uniform_(hn.zeros([2]), 1, 0)).toThrow(/uniform_: expected b to be a number >= a \(1\), got 0/);
    expect(() => init.zeros_(hn.zeros([2], { dtype: 'int32' }))).toThrow(/zeros_: expected tensor to be a float32 tensor/);
  });
});

describe('layer forwards', () => {
  it('Linear, Conv2d and ConvTranspose2d call the functional ops with their settings', () => {
    hn.manualSeed(31);
    const x = hn.randn([2, 4, 7, 6]);
    const lin = new nn.Linear(6, 3);
    expect(maxAbsDiff(lin.forward(x).data, F.linear(x, lin.weight, lin.bias).data)).toBe(0);
    const conv = new nn.Conv2d(4, 6, 3, { stride: [2, 1], padding: 1, dilation: [1, 2], groups: 2 });
    const y = conv.forward(x);
    expect(y.shape).toEqual([2, 6, 4, 4]);
    expect(maxAbsDiff(y.data, F.conv2d(x, conv.weight, conv.bias, { stride: [2, 1], padding: 1, dilation: [1, 2], groups: 2 }).data)).toBe(0);
    const deconv = new nn.ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 });
    expect(deconv.forward(x).shape).toEqual([2, 2, 14, 12]);
    expect(new nn.Conv2d(4, 2, 1, { bias: false }).bias).toBeNull();
  });

  it('ConvTranspose2d.forward(x, outputSize) picks the output padding', () => {
    const deconv = new nn.ConvTranspose2d(3, 2, 3, { stride: 2, padding: 1 });
    const x = hn.randn([1, 3, 5, 5]);
    expect(deconv.forward(x).shape).toEqual([1, 2, 9, 9]);
    expect(deconv.forward(x, [10, 9]).shape).toEqual([1, 2, 10, 9]);
    expect(deconv.forward(x, [1, 2, 9, 10]).shape).toEqual([1, 2, 9, 10]);
    expect(() => deconv.forward(x, [11, 9])).toThrow(/ConvTranspose2d.forward: expected outputSize\[0\] to be an integer in \[9, 10\]/);
  });

  it('pooling, flatten and activations', () => {
    const x = hn.tensor([...Array(32).keys()].map((v) => v - 10), { shape: [1, 2, 4, 4] });
    const mp = new nn.MaxPool2d(2).forward(x);
    expect(mp.shape).toEqual([1, 2, 2, 2]);
    expect(Array.from(mp.data)).toEqual([-5, -3, 3, 5, 11, 13, 19, 21]);
    const ap = new nn.AvgPool2d(2, { stride: 2 }).forward(x);
    expect(Array.from(ap.data)).toEqual([-7.5, -5.5, 0.5, 2.5, 8.5, 10.5, 16.5, 18.5]);
    expect(new nn.AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: false }).forward(x).shape).toEqual([1, 2, 4, 4]);
    expect(new nn.MaxPool2d(3, { stride: 2, ceilMode: true }).forward(x).shape).toEqual([1, 2, 2, 2]);
    expect(new nn.Flatten().forward(x).shape).toEqual([1, 32]);
    expect(new nn.Flatten(0, 2).forward(x).shape).toEqual([8, 4]);
    const v = hn.tensor([-2, 0, 3]);
    expect(Array.from(new nn.ReLU().forward(v).data)).toEqual([0, 0, 3]);
    expect(new nn.Sigmoid().forward(v).data[1]).toBe(0.5);
    expect(new nn.Tanh().forward(v).data[2]).toBeCloseTo(Math.tanh(3), 6);
  });

  it('a conv net trains end to end: every parameter gets a gradient', () => {
    hn.manualSeed(32);
    const net = new nn.Sequential(
      new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.ConvTranspose2d(4, 2, 2, { stride: 2 }), new nn.Flatten(), new nn.Linear(2 * 8 * 8, 3),
    );
    const out = net.forward(hn.randn([2, 1, 8, 8]));
    expect(out.shape).toEqual([2, 3]);
    out.sum().backward();
    for (const [name, p] of net.namedParameters()) expect(p.grad, name).not.toBeNull();
  });
});

describe('train and eval', () => {
  it('Dropout zeroes and rescales in training, is the identity in eval', () => {
    hn.manualSeed(41);
    const drop = new nn.Dropout(0.25);
    const x = hn.ones([4000]);
    const y = drop.forward(x).data;
    const zeros = y.filter((v) => v === 0).length;
    expect(Math.abs(zeros / 4000 - 0.25)).toBeLessThan(0.03);
    expect(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6)).toBe(true);
    drop.eval();
    expect(Array.from(drop.forward(x).data).every((v) => v === 1)).toBe(true);
  });

  it('Dropout2d drops whole channels in training only', () => {
    hn.manualSeed(42);
    const drop = new nn.Dropout2d(0.5);
    const x = hn.ones([4, 16, 3, 3]);
    const y = drop.forward(x).data;
    let dropped = 0;
    for (let c = 0; c < 64; c++) {
      const plane = y.subarray(c * 9, c * 9 + 9);
      expect(plane.every((v) => v === plane[0])).toBe(true);
      if (plane[0] === 0) dropped++;
      else expect(plane[0]).toBe(2);
    }
    expect(dropped).toBeGreaterThan(16);
    expect(dropped).toBeLessThan(48);
    const seq = new nn.Sequential(drop).eval();
    expect(Array.from(seq.forward(x).data).every((v) => v === 1)).toBe(true);
  });

  it('BatchNorm2d: batch statistics and running updates in training, running statistics in eval', () => {
    hn.manualSeed(43);
    const bn = new nn.BatchNorm2d(2, { momentum: 0.2 });
    bn.weight!.data.set([2, 0.5]);
    bn.bias!.data.set([1, -1]);
    const x = hn.randn([3, 2, 2, 2]).mul(3).add(1);
    const y = bn.forward(x);
    const xd = x.data;
    const chan = (c: number): number[] => [0, 1, 2].flatMap((n) => Array.from(xd.subarray(n * 8 + c * 4, n * 8 + c * 4 + 4)));
    for (const c of [0, 1]) {
      const v = chan(c);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const varB = v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
      const varU = (varB * v.length) / (v.length - 1);
      expect(bn.runningMean!.data[c]).toBeCloseTo(0.2 * mean, 5);
      expect(bn.runningVar!.data[c]).toBeCloseTo(0.8 + 0.2 * varU, 5);
      const w = [2, 0.5][c], b = [1, -1][c];
      expect(y.data[c * 4]).toBeCloseTo(((xd[c * 4] - mean) / Math.sqrt(varB + 1e-5)) * w + b, 4);
    }
    expect(bn.numBatchesTracked!.item()).toBe(1);
    bn.forward(x);
    expect(bn.numBatchesTracked!.item()).toBe(2);
    bn.eval();
    const rm = Array.from(bn.runningMean!.data), rv = Array.from(bn.runningVar!.data);
    const z = bn.forward(x);
    expect(bn.numBatchesTracked!.item()).toBe(2);
    expect(Array.from(bn.runningMean!.data)).toEqual(rm);
    expect(z.data[5]).toBeCloseTo(((xd[5] - rm[1]) / Math.sqrt(rv[1] + 1e-5)) * 0.5 - 1, 4);
  });

  it('BatchNorm2d momentum null is a cumulative average', () => {
    const bn = new nn.BatchNorm2d(1, { momentum: null, affine: false });
    expect([...bn.parameters()]).toEqual([]);
    bn.forward(hn.full([2, 1, 1, 2], 4));
    expect(bn.runningMean!.data[0]).toBeCloseTo(4, 6);
    bn.forward(hn.full([2, 1, 1, 2], 1));
    expect(bn.runningMean!.data[0]).toBeCloseTo(2.5, 6);
    expect(bn.numBatchesTracked!.item()).toBe(2);
  });

  it('BatchNorm2d without running stats uses batch statistics in eval too', () => {
    const bn = new nn.BatchNorm2d(2, { trackRunningStats: false }).eval();
    expect(Object.keys(bn.stateDict())).toEqual(['weight', 'bias']);
    expect(bn.runningMean).toBeNull();
    const y = bn.forward(hn.tensor([1, 3, 10, 30], { shape: [2, 2, 1, 1] }));
    expect(Array.from(y.data).map((v) => Math.round(v * 1000) / 1000)).toEqual([-1, -1, 1, 1]);
    expect(() => bn.forward(hn.zeros([2, 3, 1, 1]))).toThrow(/BatchNorm2d.forward: expected input to be a 4-D tensor \[N, 2, H, W\], got shape \[2, 3, 1, 1\]/);
  });
});

describe('constructor checks', () => {
  it.each<[string, () => unknown, RegExp]>([
    ['conv groups', () => new nn.Conv2d(3, 8, 3, { groups: 2 }), /Conv2d: expected inChannels to be divisible by groups \(2\), got 3/],
    ['conv out groups', () => new nn.ConvTranspose2d(4, 6, 3, { groups: 4 }), /ConvTranspose2d: expected outChannels to be divisible by groups \(4\), got 6/],
    ['kernel', () => new nn.Conv2d(3, 8, 0), /Conv2d: expected kernelSize to be an integer >= 1, got 0/],
    ['padding mode', () => new nn.Conv2d(3, 8, 3, { paddingMode: 'reflect' as never }), /Conv2d: expected paddingMode to be 'zeros'/],
    ['output padding', () => new nn.ConvTranspose2d(3, 8, 3, { stride: 2, outputPadding: 2 }), /ConvTranspose2d: expected outputPadding\[0\] to be smaller than stride \(2\) or dilation \(1\), got 2/],
    ['linear size', () => new nn.Linear(-1, 2), /Linear: expected inFeatures to be an integer >= 0, got -1/],
    ['dropout p', () => new nn.Dropout(1.5), /Dropout: expected p to be a probability in \[0, 1\], got number 1.5/],
    ['pool padding', () => new nn.MaxPool2d(2, { padding: 2 }), /MaxPool2d: expected padding\[0\] to be at most half the kernel size \(1\), got 2/],
    ['bn eps', () => new nn.BatchNorm2d(3, { eps: 0 }), /BatchNorm2d: expected eps to be a positive number, got number 0/],
    ['bn momentum', () => new nn.BatchNorm2d(3, { momentum: 2 }), /BatchNorm2d: expected momentum to be a number in \[0, 1\] or null/],
  ])('%s', (_, make, message) => {
    expect(make).toThrow(message);
  });
});
