// The backward sweep frees each gradient that flowed through the graph as soon as the node it
// fed has run (lib/autograd.ts), and nothing else: seeds, leaf and retained .grad tensors, the
// gradients returned at sinks, gradients still waiting for another input, and any tensor a
// backward function returns that existed before the sweep stay alive, and every value is the
// same as without the release.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { record } from '../lib/autograd';
import { Tensor, backwardToSinks } from '../lib/tensor';

/** y = x, recording the gradient its backward receives. */
function spy(x: Tensor, seen: Tensor[]): Tensor {
  const out = hn.tensor(x.data as Float32Array, { shape: [...x.shape] });
  return record(out, 'spy', {}, [x], (g) => {
    seen.push(g);
    return [g.mul(1)];
  });
}

describe('gradient memory in the backward sweep', () => {
  it('frees intermediate gradients once consumed, keeps seeds and leaf gradients', () => {
    const x = hn.tensor([1, -2, 3, 4], { requiresGrad: true });
    const seen: Tensor[] = [];
    const y = spy(x.mul(3), seen).mul(2);
    const seed = hn.tensor([1, 1, 1, 1]);
    y.backward(seed);
    expect(seen).toHaveLength(1);
    expect(seen[0].isDisposed).toBe(true); // made by mul's backward, consumed by spy's
    expect(seed.isDisposed).toBe(false);
    expect(Array.from(x.grad!.data)).toEqual([6, 6, 6, 6]);
  });

  it('keeps a gradient routed to several inputs until the last one used it', () => {
    const x = hn.tensor([1, 2, 3], { requiresGrad: true });
    const w = hn.tensor([0.5, 0.5, 0.5], { requiresGrad: true });
    const seen: Tensor[] = [];
    const a = spy(x.mul(w), seen);
    // a + a: add's backward hands the same gradient object to both of its inputs.
    const z = a.add(a).mul(hn.tensor([1, 10, 100]));
    z.sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([1, 10, 100]);
    expect(Array.from(w.grad!.data)).toEqual([2, 40, 600]);
    expect(seen[0].isDisposed).toBe(true);
  });

  it('keeps retained gradients, gradients at sinks and tensors a backward returns from outside the sweep', () => {
    const x = hn.tensor([1, 2], { requiresGrad: true });
    const mid = x.mul(2).retainGrad();
    mid.mul(5).sum().backward();
    expect(mid.grad!.isDisposed).toBe(false);
    expect(Array.from(mid.grad!.data)).toEqual([5, 5]);

    const h = x.mul(3);
    const [atSink] = backwardToSinks([h.mul(4).sum()], [hn.tensor(1)], [h]);
    expect(atSink!.isDisposed).toBe(false);
    expect(Array.from(atSink!.data)).toEqual([4, 4]);

    // A custom op whose backward returns a tensor made before the sweep: never freed by it.
    const constant = hn.tensor([7, 8]);
    const base = x.mul(2);
    const out = record(hn.tensor([0, 0]), 'constantGrad', {}, [base], () => [constant]);
    x.grad = null;
    out.sum().backward();
    expect(constant.isDisposed).toBe(false);
    expect(Array.from(x.grad!.data)).toEqual([14, 16]);
  });

  it('a second backward through the same graph sees its saved tensors intact and accumulates', () => {
    const x = hn.tensor([0.5, -1.5, 2], { requiresGrad: true });
    const w = hn.tensor([2, 3, -1], { requiresGrad: true });
    const loss = x.mul(w).relu().mul(x).sum();
    loss.backward();
    const first = Array.from(x.grad!.data);
    loss.backward();
    expect(Array.from(x.grad!.data)).toEqual(first.map((v) => 2 * v));
    expect(first).toEqual([2, 0, 0]);
  });

  it('WeightedOptimizer steps equal plain backward steps (conv trunk, two heads, Adam)', () => {
    hn.manualSeed(3);
    const model = new hn.mtl.MultiTaskModel({
      shared: new hn.nn.Sequential(new hn.nn.Conv2d(1, 4, 3), new hn.nn.MaxPool2d(2), new hn.nn.ReLU(), new hn.nn.Flatten(), new hn.nn.Linear(36, 8), new hn.nn.ReLU()),
      heads: { a: new hn.nn.Linear(8, 3), b: new hn.nn.Linear(8, 2) },
    });
    const opt = new hn.mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr: 0.01 }), {
      tasks: { a: { loss: 'crossEntropy' }, b: { loss: 'crossEntropy' } },
    });
    const x = hn.randn([5, 1, 8, 8]);
    const targets = { a: hn.tensor(new Int32Array([0, 1, 2, 0, 1]), { dtype: 'int32' }), b: hn.tensor(new Int32Array([1, 0, 1, 1, 0]), { dtype: 'int32' }) };
    // Reference: the same steps with plain backward calls from the same initial parameters.
    const initial = [...model.parameters()].map((p) => (p.data as Float32Array).slice());
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) losses.push(opt.step(model.forward(x), targets).total);
    for (const p of model.parameters()) expect(p.isDisposed).toBe(false);
    const trained = [...model.parameters()].map((p) => (p.data as Float32Array).slice());
    [...model.parameters()].forEach((p, i) => (p.data as Float32Array).set(initial[i]));
    const opt2 = new hn.optim.Adam(model.parameters(), { lr: 0.01 });
    for (let i = 0; i < 3; i++) {
      opt2.zeroGrad();
      const out = model.forward(x);
      const total = hn.F.crossEntropy(out.a, targets.a).add(hn.F.crossEntropy(out.b, targets.b));
      expect(total.item()).toBeCloseTo(losses[i], 5);
      total.backward();
      opt2.step();
    }
    [...model.parameters()].forEach((p, i) => {
      const d = p.data as Float32Array;
      for (let j = 0; j < d.length; j++) expect(d[j]).toBeCloseTo(trained[i][j], 5);
    });
  });
});
