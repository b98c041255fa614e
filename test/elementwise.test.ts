import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { gradcheck, maxAbsDiff, randomInput } from './helpers/gradcheck';

const gen = new hn.Generator(Date.now() % 100000);

describe('broadcasting arithmetic', () => {
  it('matches a plain reference and PyTorch broadcasting rules', () => {
    const a = randomInput(gen, [2, 1, 3], false);
    const b = randomInput(gen, [4, 1], false);
    const out = a.add(b);
    expect(out.shape).toEqual([2, 4, 3]);
    const ad = a.data, bd = b.data, od = out.data;
    for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) {
      expect(od[i * 12 + j * 3 + k]).toBeCloseTo(ad[i * 3 + k] + bd[j], 6);
    }
  });

  it.each(['add', 'sub', 'mul', 'div'] as const)('%s gradients (broadcast both ways)', (op) => {
    const a = randomInput(gen, [3, 1, 5]);
    const b = randomInput(gen, [4, 1], true, 0.5, 1.5);
    gradcheck((x, y) => x[op](y), [a, b]);
    gradcheck((x) => x[op](2.5), [a]);
  });

  it('rejects shapes that do not broadcast, naming both', () => {
    expect(() => hn.tensor([1, 2, 3]).add(hn.tensor([1, 2]))).toThrow(/add: expected shapes to be broadcastable shapes, got \[3\] and \[2\]/);
  });

  it('rejects int32 tensors in float ops', () => {
    expect(() => hn.tensor([1, 2], { dtype: 'int32' }).add(1)).toThrow(TypeError);
  });
});

describe('unary maps', () => {
  it.each(['exp', 'neg', 'abs', 'relu', 'sigmoid', 'tanh'] as const)('%s gradient', (op) => {
    const x = randomInput(gen, [3, 7]);
    // keep |x| away from 0 where abs/relu have a kink
    const d = x.data;
    for (let i = 0; i < d.length; i++) if (Math.abs(d[i]) < 0.05) d[i] = 0.3;
    gradcheck((t) => t[op](), [x]);
  });

  it('log, sqrt and pow gradients on positive inputs', () => {
    const x = randomInput(gen, [4, 3], true, 0.5, 2);
    gradcheck((t) => t.log(), [x]);
    gradcheck((t) => t.sqrt(), [x]);
    gradcheck((t) => t.pow(3), [x]);
    gradcheck((t) => t.pow(-0.5), [x]);
  });

  it('sigmoid is stable on large inputs', () => {
    const y = hn.tensor([-1000, -50, 0, 50, 1000]).sigmoid().toArray();
    expect(Array.from(y)).toEqual([0, expect.any(Number), 0.5, 1, 1]);
    expect(y[1]).toBeGreaterThan(0);
  });
});

describe('reductions', () => {
  it('sum and mean over dims match a reference', () => {
    const x = randomInput(gen, [2, 3, 4, 5], false);
    const s = x.sum([0, 2]);
    expect(s.shape).toEqual([3, 5]);
    const ref = new Float64Array(15);
    const d = x.data;
    for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let c = 0; c < 4; c++) for (let e = 0; e < 5; e++) {
      ref[b * 5 + e] += d[((a * 3 + b) * 4 + c) * 5 + e];
    }
    expect(maxAbsDiff(s.data, ref)).toBeLessThan(1e-5);
    expect(x.mean().item()).toBeCloseTo(Array.from(d).reduce((p, q) => p + q, 0) / d.length, 5);
    expect(x.mean(-1, true).shape).toEqual([2, 3, 4, 1]);
  });

  it('gradients of sum and mean', () => {
    const x = randomInput(gen, [3, 4, 5]);
    gradcheck((t) => t.sum(1), [x]);
    gradcheck((t) => t.mean([0, 2], true), [x]);
    gradcheck((t) => t.mean(), [x]);
  });

  it('rejects bad dims', () => {
    expect(() => hn.zeros([2, 3]).sum(2)).toThrow(/sum: expected dim to be an integer in \[-2, 1\], got number 2/);
  });
});

describe('shape ops', () => {
  it('reshape infers -1 and shares storage; concat along a dim', () => {
    const x = randomInput(gen, [2, 6]);
    const y = x.reshape(3, -1);
    expect(y.shape).toEqual([3, 4]);
    const a = randomInput(gen, [2, 3, 2]);
    const b = randomInput(gen, [2, 1, 2]);
    const c = hn.concat([a, b], 1);
    expect(c.shape).toEqual([2, 4, 2]);
    expect(c.toList()).toEqual([
      [...(a.toList() as number[][][])[0], ...(b.toList() as number[][][])[0]],
      [...(a.toList() as number[][][])[1], ...(b.toList() as number[][][])[1]],
    ]);
    gradcheck((p, q) => hn.concat([p, q], 1), [a, b]);
    gradcheck((p) => p.reshape(4, 3).flatten(), [x]);
  });

  it('rejects impossible reshapes', () => {
    expect(() => hn.zeros([2, 3]).reshape(4, -1)).toThrow(RangeError);
    expect(() => hn.zeros([2, 3]).reshape(5)).toThrow(/6 elements/);
  });
});

describe('tensor lifecycle', () => {
  it('dispose releases storage and later use is a clear error', () => {
    const t = hn.randn([4, 4]);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(() => t.add(1)).toThrow(/disposed tensor/);
  });

  it('a view keeps storage alive until it is disposed too', () => {
    const t = hn.ones([2, 2]);
    const v = t.reshape(4);
    t.dispose();
    expect(v.sum().item()).toBe(4);
    v.dispose();
    expect(v.isDisposed).toBe(true);
  });

  it('gradients accumulate across backward calls and do not alias', () => {
    const x = hn.tensor([1, 2, 3], { requiresGrad: true });
    const y = hn.tensor([4, 5, 6], { requiresGrad: true });
    x.add(y).sum().backward();
    x.add(y).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([2, 2, 2]);
    expect(x.grad).not.toBe(y.grad);
    x.grad!.data.fill(0);
    expect(Array.from(y.grad!.data)).toEqual([2, 2, 2]);
  });

  it('noGrad records nothing', () => {
    const x = hn.tensor([1, 2], { requiresGrad: true });
    const y = hn.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
  });
});

describe('multi-root backward', () => {
  it('walks shared ancestors once with the summed gradient', () => {
    const x = hn.tensor([1, 2, 3], { requiresGrad: true });
    const shared = x.mul(2);
    const a = shared.mul(3);
    const b = shared.add(1).sum();
    hn.backward([a, b], [hn.tensor([1, 1, 1]), hn.tensor(2)]);
    // d/dx of (Σ 6x) + 2·Σ(2x + 1) = 6 + 4
    expect(Array.from(x.grad!.data)).toEqual([10, 10, 10]);
  });
});

describe('leaf gradients own their memory', () => {
  it('a view of one leaf gradient is never another leaf gradient', () => {
    const w = hn.tensor([1, 2, 3, 4], { requiresGrad: true });
    const x = hn.tensor([[1, 1], [1, 1]], { requiresGrad: true });
    // add passes the same gradient to both inputs; reshape's backward views it for x
    const y = x.reshape(4).add(w);
    y.sum().backward();
    y.sum().backward(); // accumulates in place into both .grads
    expect(Array.from(w.grad!.data)).toEqual([2, 2, 2, 2]);
    expect(Array.from(x.grad!.data)).toEqual([2, 2, 2, 2]);
  });
});
