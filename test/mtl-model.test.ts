// MultiTaskModel and WeightedOptimizer: the fused path against the unfused ops, strategies wired
// end to end, and bad input.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { maxAbsDiff } from './helpers/gradcheck';

const { nn, mtl, F } = hn;

function buildModel(seed: number): hn.mtl.MultiTaskModel {
  hn.manualSeed(seed);
  return new mtl.MultiTaskModel({
    shared: new nn.Sequential(new nn.Conv2d(2, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2)),
    heads: {
      cls: new nn.Sequential(new nn.Flatten(), new nn.Linear(4 * 4 * 4, 3)),
      seg: new nn.Sequential(new nn.ConvTranspose2d(4, 5, 2, { stride: 2 })),
      reg: new nn.Sequential(new nn.Flatten(), new nn.Linear(64, 2)),
    },
  });
}

function batch(seed: number, n = 6) {
  const gen = new hn.Generator(seed);
  const x = hn.zeros([n, 2, 8, 8]);
  gen.fillNormal(x.data as Float32Array);
  const cls = hn.tensor(Int32Array.from({ length: n }, () => Math.floor(gen.uniform() * 3)));
  const seg = hn.tensor(Int32Array.from({ length: n * 64 }, () => (gen.uniform() < 0.1 ? 255 : Math.floor(gen.uniform() * 5))), { shape: [n, 8, 8] });
  const reg = hn.zeros([n, 2]);
  gen.fillNormal(reg.data as Float32Array);
  return { x, targets: { cls, seg, reg } };
}

const tasks = {
  cls: { loss: 'crossEntropy' as const, weight: 1 },
  seg: { loss: 'crossEntropy' as const, weight: 0.5, ignoreIndex: 255 },
  reg: { loss: 'mse' as const, weight: 2 },
};

/** The same tasks without λ_t, for strategies that choose the weights. */
const unweightedTasks = {
  cls: { loss: 'crossEntropy' as const },
  seg: { loss: 'crossEntropy' as const, ignoreIndex: 255 },
  reg: { loss: 'mse' as const },
};

function gradsOf(model: hn.nn.Module): Map<string, Float32Array> {
  return new Map([...model.namedParameters()].map(([n, p]) => [n, (p.grad?.data ?? new Float32Array(p.numel)) as Float32Array]));
}

describe('MultiTaskModel', () => {
  it('runs the trunk once and names state like PyTorch', () => {
    const model = buildModel(1);
    let calls = 0;
    const trunk = model.shared;
    const original = trunk.forward.bind(trunk);
    trunk.forward = (x: hn.Tensor) => {
      calls++;
      return original(x);
    };
    const out = model.forward(batch(2).x);
    expect(calls).toBe(1);
    expect(Object.keys(out)).toEqual(['cls', 'seg', 'reg']);
    expect(out.seg.shape).toEqual([6, 5, 8, 8]);
    expect(Object.keys(model.stateDict())).toEqual([
      'shared.0.weight', 'shared.0.bias', 'heads.cls.1.weight', 'heads.cls.1.bias', 'heads.seg.0.weight', 'heads.seg.0.bias', 'heads.reg.1.weight', 'heads.reg.1.bias',
    ]);
  });
});

describe('WeightedOptimizer', () => {
  it('static weights: losses and every gradient equal Σ λ_t L_t through the unfused ops', () => {
    const { x, targets } = batch(3);
    const fusedModel = buildModel(7);
    const plainModel = buildModel(7);
    // lr 0 keeps the parameters, so the gradients the step produced can be compared.
    const wopt = new mtl.WeightedOptimizer(fusedModel, new hn.optim.SGD(fusedModel.parameters(), { lr: 0 }), { tasks });
    const result = wopt.step(fusedModel.forward(x), targets);

    const out = plainModel.forward(x);
    const lCls = F.crossEntropy(out.cls, targets.cls);
    const lSeg = F.crossEntropy(out.seg, targets.seg, { ignoreIndex: 255 });
    const lReg = F.mseLoss(out.reg, targets.reg);
    lCls.mul(1).add(lSeg.mul(0.5)).add(lReg.mul(2)).backward();

    expect(result.losses.cls).toBeCloseTo(lCls.item(), 5);
    expect(result.losses.seg).toBeCloseTo(lSeg.item(), 5);
    expect(result.losses.reg).toBeCloseTo(lReg.item(), 5);
    expect(result.weights).toEqual({ cls: 1, seg: 0.5, reg: 2 });
    const a = gradsOf(fusedModel);
    const b = gradsOf(plainModel);
    for (const [name, g] of a) expect(maxAbsDiff(g, b.get(name)!), name).toBeLessThan(1e-5);
  });

  it('gradient strategies at both levels give the trunk the combined direction', () => {
    for (const level of ['representation', 'parameters'] as const) {
      const { x, targets } = batch(4);
      const model = buildModel(11);
      const strategy = mtl.weighting.mgda();
      const wopt = new mtl.WeightedOptimizer(model, new hn.optim.SGD(model.parameters(), { lr: 0 }), { tasks: unweightedTasks, weighting: strategy, gradientLevel: level });
      const r = wopt.step(model.forward(x), targets);
      const w = [r.weights.cls, r.weights.seg, r.weights.reg];
      expect(w.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      // The trunk's gradient must be that of Σ_t w_t L_t.
      const ref = buildModel(11);
      const out = ref.forward(x);
      const total = F.crossEntropy(out.cls, targets.cls).mul(w[0])
        .add(F.crossEntropy(out.seg, targets.seg, { ignoreIndex: 255 }).mul(w[1]))
        .add(F.mseLoss(out.reg, targets.reg).mul(w[2]));
      total.backward();
      const got = gradsOf(model);
      const want = gradsOf(ref);
      for (const name of ['shared.0.weight', 'shared.0.bias']) {
        expect(maxAbsDiff(got.get(name)!, want.get(name)!), `${level} ${name}`).toBeLessThan(1e-4);
      }
    }
  });

  it('trains with every strategy without producing NaN', () => {
    const strategies = ['equal', 'uncertainty', 'dwa', 'rlw', 'gradNorm', 'mgda', 'pcgrad', 'cagrad', 'imtl', 'nashMtl', 'alignedMtl'] as const;
    for (const name of strategies) {
      const model = buildModel(5);
      const factory = (mtl.weighting as unknown as Record<string, () => hn.mtl.weighting.WeightingStrategy>)[name];
      const wopt = new mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr: 1e-2 }), { tasks: unweightedTasks, weighting: factory() });
      const { x, targets } = batch(6);
      let first = 0;
      let last = 0;
      for (let i = 0; i < 15; i++) {
        wopt.setEpoch(Math.floor(i / 5));
        const r = wopt.step(model.forward(x), targets);
        expect(Number.isFinite(r.total), name).toBe(true);
        const sum = r.losses.cls + r.losses.seg + r.losses.reg;
        if (i === 0) first = sum;
        last = sum;
      }
      expect(last, name).toBeLessThan(first);
    }
  });

  it('rejects a target without a head, outputs not from forward, bad masks and bad tasks', () => {
    const model = buildModel(1);
    const { x, targets } = batch(1);
    const wopt = new mtl.WeightedOptimizer(model, new hn.optim.SGD(model.parameters(), { lr: 0.1 }), { tasks });
    expect(() => wopt.step(model.forward(x), { ...targets, depth: hn.zeros([6]) })).toThrow(/targets.depth.*task with a head/);
    expect(() => hn.noGrad(() => wopt.step(model.forward(x), targets))).toThrow(/gradient history/);
    expect(() => wopt.step(model.forward(x), targets, { masks: { cls: hn.ones([5]) } })).toThrow(/masks.cls.*\[6\]/);
    expect(() => new mtl.WeightedOptimizer(model, new hn.optim.SGD(model.parameters(), { lr: 0.1 }), { tasks: { ...tasks, depth: { loss: 'mse' } } })).toThrow(/tasks.depth/);
    expect(() => new mtl.WeightedOptimizer(model, new hn.optim.SGD(model.parameters(), { lr: 0.1 }), { tasks: { cls: tasks.cls } })).toThrow(/missing 'seg'/);
    expect(() => new mtl.WeightedOptimizer(model, new hn.optim.SGD(model.parameters(), { lr: 0.1 }), { tasks, weighting: mtl.weighting.static({ cls: 1, seg: 1 }) })).toThrow(/reg/);
    expect(() => mtl.weighting.static({ cls: 1, seg: NaN, reg: 1 })).toThrow(/seg/);
    expect(() => new mtl.WeightedOptimizer(model, new hn.optim.SGD(model.parameters(), { lr: 0.1 }), { tasks, weighting: mtl.weighting.mgda() })).toThrow(/tasks.cls.weight/);
    expect(() => mtl.weighting.static({ cls: 1, seg: -1, reg: 1 })).toThrow(/seg/);
    const bad = { ...targets, seg: hn.zeros([6, 8, 8], { dtype: 'int32' }) };
    bad.seg.data[3] = 9;
    expect(() => wopt.step(model.forward(x), bad)).toThrow(/task 'seg' targets/);
    expect(() => wopt.step(model.forward(x), { ...targets, cls: hn.zeros([6, 3]) })).toThrow(/targets.cls/);
  });

  it('masks drop a task for the samples that lack its label', () => {
    const model = buildModel(2);
    const { x, targets } = batch(8);
    const wopt = new mtl.WeightedOptimizer(model, new hn.optim.SGD(model.parameters(), { lr: 0 }), { tasks });
    const mask = hn.tensor([1, 0, 1, 0, 1, 1]);
    const r = wopt.step(model.forward(x), targets, { masks: { reg: mask } });
    const out = buildModel(2).forward(x);
    const keep = [0, 2, 4, 5];
    const regRows = hn.tensor(keep.flatMap((i) => Array.from(out.reg.data.slice(i * 2, i * 2 + 2))), { shape: [4, 2] });
    const regTargets = hn.tensor(keep.flatMap((i) => Array.from(targets.reg.data.slice(i * 2, i * 2 + 2))), { shape: [4, 2] });
    expect(r.losses.reg).toBeCloseTo(F.mseLoss(regRows, regTargets).item(), 5);
  });
});
