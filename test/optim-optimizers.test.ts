// SGD, Adam and AdamW against the published update rules (PyTorch's documentation pseudo-code),
// computed here in float64 on small tensors. The kernels compute in float32, so after three steps
// on O(1) values the two agree to ~1e-6; the tolerance is 2e-5 absolute (a wrong term in any
// formula moves the result by >= 1e-3 with these settings).
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';

const { SGD, Adam, AdamW } = hn.optim;
const TOL = 2e-5;

const THETA0 = [0.5, -1.2, 2.0, 0.3, -0.05];
// A gradient that depends on the parameter and on the step, so the steps interact.
function gradAt(theta: readonly number[], k: number): number[] {
  return theta.map((t, i) => 0.8 * t * t - 0.4 * k + 0.25 * i - 0.3);
}

function makeParam(values = THETA0): hn.Tensor {
  return hn.tensor(values).requiresGrad_();
}

function runOptimizer(opt: hn.optim.Optimizer<object>, p: hn.Tensor, steps: number, grads = gradAt): number[][] {
  const history: number[][] = [];
  for (let k = 1; k <= steps; k++) {
    p.grad = hn.tensor(grads(Array.from(p.data), k));
    opt.step();
    history.push(Array.from(p.data));
  }
  return history;
}

function expectClose(actual: number[][], expected: number[][], tol = TOL): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, k) => row.forEach((v, i) => {
    if (Math.abs(v - expected[k][i]) > tol) expect.fail(`step ${k + 1}, element ${i}: got ${v}, expected ${expected[k][i]} (tol ${tol})`);
  }));
}

interface SgdRefOptions { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean; maximize?: boolean }

// torch.optim.SGD documentation, per element.
function sgdReference(o: SgdRefOptions, steps: number, grads = gradAt): number[][] {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, maximize = false } = o;
  const theta = [...THETA0];
  let b: number[] | null = null;
  const out: number[][] = [];
  for (let t = 1; t <= steps; t++) {
    const g = grads(theta.map((x) => Math.fround(x)), t).map((x) => (maximize ? -x : x));
    for (let i = 0; i < theta.length; i++) {
      if (weightDecay !== 0) g[i] += weightDecay * theta[i];
    }
    if (momentum !== 0) {
      b = t > 1 && b ? b.map((bi, i) => momentum * bi + (1 - dampening) * g[i]) : [...g];
      for (let i = 0; i < g.length; i++) g[i] = nesterov ? g[i] + momentum * b[i] : b[i];
    }
    for (let i = 0; i < theta.length; i++) theta[i] -= lr * g[i];
    out.push([...theta]);
  }
  return out;
}

interface AdamRefOptions { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; maximize?: boolean; decoupled?: boolean }

// torch.optim.Adam / AdamW documentation, per element (AMSGrad keeps the max of v, as
// PyTorch's implementation does, and divides its square root by √(1 − β2^t)).
function adamReference(o: AdamRefOptions, steps: number, grads = gradAt): number[][] {
  const { lr, betas: [b1, b2] = [0.9, 0.999], eps = 1e-8, weightDecay = 0, amsgrad = false, maximize = false, decoupled = false } = o;
  const theta = [...THETA0];
  const n = theta.length;
  const m = new Array(n).fill(0), v = new Array(n).fill(0), vMax = new Array(n).fill(0);
  const out: number[][] = [];
  for (let t = 1; t <= steps; t++) {
    const g = grads(theta.map((x) => Math.fround(x)), t).map((x) => (maximize ? -x : x));
    for (let i = 0; i < n; i++) {
      if (decoupled) theta[i] *= 1 - lr * weightDecay;
      else if (weightDecay !== 0) g[i] += weightDecay * theta[i];
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const mHat = m[i] / (1 - b1 ** t);
      let second = v[i];
      if (amsgrad) second = vMax[i] = Math.max(vMax[i], v[i]);
      const vHat = second / (1 - b2 ** t);
      theta[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
    out.push([...theta]);
  }
  return out;
}

describe('SGD', () => {
  it.each<[string, SgdRefOptions]>([
    ['plain', { lr: 0.1 }],
    ['momentum', { lr: 0.1, momentum: 0.9 }],
    ['momentum + dampening', { lr: 0.1, momentum: 0.9, dampening: 0.3 }],
    ['nesterov', { lr: 0.05, momentum: 0.8, nesterov: true }],
    ['weight decay + momentum', { lr: 0.1, momentum: 0.5, weightDecay: 0.2 }],
    ['maximize + momentum + weight decay', { lr: 0.1, momentum: 0.9, weightDecay: 0.1, maximize: true }],
  ])('%s: three steps match the published update', (_, o) => {
    const p = makeParam();
    const got = runOptimizer(new SGD([p], o), p, 3);
    expectClose(got, sgdReference(o, 3));
  });

  it('the first momentum step sets the buffer to g, not (1 - dampening) g', () => {
    const p = makeParam([1, 2]);
    const opt = new SGD([p], { lr: 0.5, momentum: 0.9, dampening: 0.5 });
    p.grad = hn.tensor([0.2, -0.4]);
    opt.step();
    // θ = θ - lr·g exactly as plain SGD on the first step.
    expect(Array.from(p.data)).toEqual([Math.fround(1 - 0.5 * 0.2), Math.fround(2 + 0.5 * 0.4)]);
    expect(Array.from((opt.state.get(p)!.momentumBuffer as hn.Tensor).data)).toEqual([Math.fround(0.2), Math.fround(-0.4)]);
    // Second step: b = 0.9·b + 0.5·g.
    p.grad = hn.tensor([0.2, -0.4]);
    opt.step();
    const b = [0.9 * 0.2 + 0.5 * 0.2, 0.9 * -0.4 + 0.5 * -0.4];
    expect(p.data[0]).toBeCloseTo(1 - 0.1 - 0.5 * b[0], 6);
    expect(p.data[1]).toBeCloseTo(2 + 0.2 - 0.5 * b[1], 6);
  });

  it('skips parameters without a gradient and uses per-group options', () => {
    const a = makeParam([1, 1]);
    const b = makeParam([1, 1]);
    const c = makeParam([1, 1]);
    const opt = new SGD([{ params: [a] }, { params: [b, c], lr: 1 }], { lr: 0.1 });
    a.grad = hn.tensor([1, 2]);
    b.grad = hn.tensor([1, 2]);
    opt.step();
    expect(Array.from(a.data)).toEqual([Math.fround(0.9), Math.fround(0.8)]);
    expect(Array.from(b.data)).toEqual([0, -1]);
    expect(Array.from(c.data)).toEqual([1, 1]);
    expect(opt.paramGroups[0].lr).toBe(0.1);
    expect(opt.paramGroups[1].lr).toBe(1);
    expect(opt.paramGroups[1].momentum).toBe(0);
  });
});

describe('Adam and AdamW', () => {
  // Large then small gradients: v decays, so AMSGrad's max(v) differs from v by step 2.
  const decaying = (theta: readonly number[], k: number): number[] => theta.map((t, i) => (k === 1 ? 3 : 0.05) * (1 + 0.3 * i) + 0.1 * t);

  it.each<[string, AdamRefOptions]>([
    ['plain', { lr: 0.1 }],
    ['betas + eps', { lr: 0.05, betas: [0.5, 0.7], eps: 1e-3 }],
    ['L2 weight decay', { lr: 0.1, weightDecay: 0.3 }],
    ['maximize', { lr: 0.1, maximize: true }],
  ])('Adam %s: three steps match the published update (with bias correction)', (_, o) => {
    const p = makeParam();
    const { decoupled: _d, ...options } = o;
    expectClose(runOptimizer(new Adam([p], options), p, 3), adamReference(o, 3));
  });

  it('Adam amsgrad keeps the max of v and differs from plain Adam', () => {
    const o: AdamRefOptions = { lr: 0.1, betas: [0.9, 0.9], amsgrad: true };
    const p = makeParam();
    const got = runOptimizer(new Adam([p], { lr: 0.1, betas: [0.9, 0.9], amsgrad: true }), p, 3, decaying);
    expectClose(got, adamReference(o, 3, decaying));
    const plain = adamReference({ ...o, amsgrad: false }, 3, decaying);
    expect(Math.abs(got[2][0] - plain[2][0])).toBeGreaterThan(1e-3);
  });

  it.each<[string, AdamRefOptions]>([
    ['default decay', { lr: 0.1, weightDecay: 1e-2, decoupled: true }],
    ['strong decay', { lr: 0.1, weightDecay: 0.5, decoupled: true }],
    ['amsgrad', { lr: 0.1, weightDecay: 0.2, decoupled: true, amsgrad: true, betas: [0.9, 0.9] }],
  ])('AdamW %s: decoupled decay θ ← θ(1 − lr·λ) then Adam', (_, o) => {
    const p = makeParam();
    const grads = o.amsgrad ? decaying : gradAt;
    const got = runOptimizer(new AdamW([p], { lr: o.lr, weightDecay: o.weightDecay, amsgrad: o.amsgrad ?? false, betas: o.betas }), p, 3, grads);
    expectClose(got, adamReference(o, 3, grads));
    // Decoupled decay is not L2 decay.
    const l2 = adamReference({ ...o, decoupled: false }, 3, grads);
    expect(Math.max(...got[2].map((v, i) => Math.abs(v - l2[2][i])))).toBeGreaterThan(1e-3);
  });

  it('AdamW defaults to weightDecay 1e-2 and Adam to 0', () => {
    const p = makeParam();
    expect(new AdamW([p]).defaults.weightDecay).toBe(1e-2);
    expect(new Adam([p]).defaults.weightDecay).toBe(0);
    expect(new Adam([p]).defaults.betas).toEqual([0.9, 0.999]);
  });

  it('first Adam step is lr·g/(|g| + eps) exactly as the bias-corrected formula gives', () => {
    const p = makeParam([1, -1, 0.5]);
    const opt = new Adam([p], { lr: 0.01 });
    p.grad = hn.tensor([0.3, -2, 1e-3]);
    opt.step();
    const g = [0.3, -2, 1e-3];
    [1, -1, 0.5].forEach((t, i) => expect(p.data[i]).toBeCloseTo(t - (0.01 * g[i]) / (Math.abs(g[i]) + 1e-8), 6));
    expect(opt.state.get(p)!.step).toBe(1);
  });

  it('large tensors (parallel chunks) match the reference element for element', () => {
    const n = 200_003;
    const gen = new hn.Generator(7);
    const theta = new Float32Array(n);
    gen.fillNormal(theta);
    const p = hn.tensor(theta).requiresGrad_();
    const opt = new AdamW([p], { lr: 0.01, weightDecay: 0.1, amsgrad: true });
    const grads: Float32Array[] = [];
    for (let k = 0; k < 3; k++) {
      const g = new Float32Array(n);
      gen.fillNormal(g);
      grads.push(g);
      p.grad = hn.tensor(g);
      opt.step();
    }
    const m = new Float64Array(n), v = new Float64Array(n), vMax = new Float64Array(n), th = Float64Array.from(theta);
    for (let t = 1; t <= 3; t++) {
      for (let i = 0; i < n; i++) {
        const g = grads[t - 1][i];
        th[i] *= 1 - 0.01 * 0.1;
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        vMax[i] = Math.max(vMax[i], v[i]);
        th[i] -= (0.01 / (1 - 0.9 ** t)) * m[i] / (Math.sqrt(vMax[i] / (1 - 0.999 ** t)) + 1e-8);
      }
    }
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(p.data[i] - th[i]));
    expect(worst).toBeLessThan(TOL);
  });
});

describe('fused updates', () => {
  afterEach(() => vi.restoreAllMocks());

  it('each parameter is one native call, with no element-wise ops from JS', () => {
    const params = [makeParam(), hn.tensor([[1, 2], [3, 4]]).requiresGrad_(), hn.tensor([0.1]).requiresGrad_()];
    params.forEach((p) => (p.grad = hn.full([...p.shape], 0.5)));
    const adam = vi.spyOn(addon, 'adamStep');
    const sgd = vi.spyOn(addon, 'sgdStep');
    const binary = vi.spyOn(addon, 'binaryForward');
    const unary = vi.spyOn(addon, 'unaryForward');
    new AdamW(params, { amsgrad: true }).step();
    new SGD(params, { momentum: 0.9, nesterov: true, weightDecay: 0.1 }).step();
    expect(adam).toHaveBeenCalledTimes(3);
    expect(sgd).toHaveBeenCalledTimes(3);
    expect(binary).not.toHaveBeenCalled();
    expect(unary).not.toHaveBeenCalled();
  });
});

describe('zeroGrad', () => {
  it('sets gradients to null by default, or zeros them in place', () => {
    const p = makeParam();
    const opt = new SGD([p]);
    p.grad = hn.ones([5]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
    const g = hn.ones([5]);
    p.grad = g;
    opt.zeroGrad({ setToNone: false });
    expect(p.grad).toBe(g);
    expect(Array.from(g.data)).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('optimizer state dict', () => {
  function trained(): { opt: hn.optim.Adam; params: hn.Tensor[] } {
    const params = [makeParam(), hn.tensor([[0.5, -0.5], [1, 2]]).requiresGrad_()];
    const opt = new Adam([{ params: [params[0]] }, { params: [params[1]], lr: 0.01, amsgrad: true }], { lr: 0.1, weightDecay: 0.01 });
    for (let k = 1; k <= 2; k++) {
      params.forEach((p) => (p.grad = hn.tensor(gradAt(Array.from(p.data), k), { shape: [...p.shape] })));
      opt.step();
    }
    return { opt, params };
  }

  it("uses PyTorch's structure and key names", () => {
    const { opt } = trained();
    const sd = opt.stateDict();
    expect(Object.keys(sd)).toEqual(['state', 'param_groups']);
    expect(Object.keys(sd.state)).toEqual(['0', '1']);
    expect(Object.keys(sd.state['0']).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'step']);
    expect(Object.keys(sd.state['1']).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    expect(sd.state['0'].step).toBe(2);
    expect(sd.param_groups).toEqual([
      { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01, amsgrad: false, maximize: false, decoupled_weight_decay: false, params: [0] },
      { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01, amsgrad: true, maximize: false, decoupled_weight_decay: false, params: [1] },
    ]);
  });

  it('round-trips exactly: a restored optimizer continues bit for bit', () => {
    const { opt, params } = trained();
    const sd = opt.stateDict();
    const clones = params.map((p) => hn.tensor(p.toArray(), { shape: [...p.shape] }).requiresGrad_());
    const restored = new Adam([{ params: [clones[0]] }, { params: [clones[1]] }]);
    restored.loadStateDict(sd);
    const again = restored.stateDict();
    expect(again.param_groups).toEqual(sd.param_groups);
    for (const id of Object.keys(sd.state)) {
      for (const [k, v] of Object.entries(sd.state[id])) {
        const w = again.state[id][k];
        if (v instanceof hn.Tensor) expect(Array.from((w as hn.Tensor).data)).toEqual(Array.from(v.data));
        else expect(w).toBe(v);
      }
    }
    // The loaded state is a copy, not an alias.
    expect((restored.state.get(clones[0])!.expAvg as hn.Tensor).data).not.toBe((opt.state.get(params[0])!.expAvg as hn.Tensor).data);
    for (let k = 3; k <= 4; k++) {
      params.forEach((p, i) => {
        const g = gradAt(Array.from(p.data), k);
        p.grad = hn.tensor(g, { shape: [...p.shape] });
        clones[i].grad = hn.tensor(g, { shape: [...p.shape] });
      });
      opt.step();
      restored.step();
    }
    params.forEach((p, i) => expect(Array.from(clones[i].data)).toEqual(Array.from(p.data)));
  });

  it('SGD momentum buffers round-trip too', () => {
    const p = makeParam();
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    runOptimizer(opt, p, 2);
    const q = hn.tensor(p.toArray()).requiresGrad_();
    const other = new SGD([q], { lr: 0.5 });
    other.loadStateDict(opt.stateDict());
    expect(other.paramGroups[0].momentum).toBe(0.9);
    expect(other.paramGroups[0].lr).toBe(0.1);
    runOptimizer(opt, p, 1);
    runOptimizer(other, q, 1);
    expect(Array.from(q.data)).toEqual(Array.from(p.data));
  });

  it('rejects state dicts that do not fit, changing nothing', () => {
    const { opt } = trained();
    const sd = opt.stateDict();
    const one = new Adam([makeParam()]);
    expect(() => one.loadStateDict(sd)).toThrow(/Adam.loadStateDict: expected stateDict.param_groups to be 1 group\(s\), as this optimizer has, got 2/);
    const wrongShape = new Adam([{ params: [makeParam()] }, { params: [hn.zeros([4]).requiresGrad_()] }]);
    expect(() => wrongShape.loadStateDict(sd)).toThrow(/stateDict.state\[1\].exp_avg.*shape \[4\].*got shape \[2, 2\]/);
    expect(wrongShape.state.size).toBe(0);
    const sgd = new SGD([{ params: [makeParam()] }, { params: [hn.zeros([2, 2]).requiresGrad_()] }]);
    expect(() => sgd.loadStateDict(sd)).toThrow(/SGD.loadStateDict: expected stateDict.state\[0\]\.\w+ to be one of momentum_buffer/);
  });
});

describe('option validation', () => {
  const p = () => makeParam();
  it.each<[string, () => unknown, RegExp]>([
    ['negative lr', () => new Adam([p()], { lr: -1 }), /Adam: expected lr to be a non-negative finite number, got number -1/],
    ['beta1 = 1', () => new Adam([p()], { betas: [1, 0.9] }), /Adam: expected betas\[0\] to be a number in \[0, 1\), got number 1/],
    ['beta2 < 0', () => new AdamW([p()], { betas: [0.9, -0.1] }), /AdamW: expected betas\[1\] to be a number in \[0, 1\)/],
    ['bad betas', () => new Adam([p()], { betas: 0.9 as unknown as [number, number] }), /Adam: expected betas to be a pair/],
    ['negative eps', () => new Adam([p()], { eps: -1e-8 }), /Adam: expected eps to be a non-negative/],
    ['negative weight decay', () => new SGD([p()], { weightDecay: -0.1 }), /SGD: expected weightDecay to be a non-negative/],
    ['negative momentum', () => new SGD([p()], { momentum: -0.9 }), /SGD: expected momentum to be a non-negative/],
    ['nesterov without momentum', () => new SGD([p()], { nesterov: true }), /SGD: expected nesterov to be used with momentum > 0 and dampening = 0/],
    ['nesterov with dampening', () => new SGD([p()], { nesterov: true, momentum: 0.9, dampening: 0.1 }), /nesterov/],
    ['unknown option', () => new SGD([p()], { momentun: 0.9 } as never), /SGD: expected options to be an object with keys among lr, momentum.*got an unknown option 'momentun'/],
    ['group lr', () => new SGD([{ params: [p()] }, { params: [p()], lr: -2 }]), /SGD: expected paramGroups\[1\].lr to be a non-negative/],
    ['empty params', () => new SGD([]), /SGD: expected params to be a non-empty list of parameters, got an empty list/],
    ['not tensors', () => new SGD([{ params: [1 as never] }]), /SGD: expected paramGroups\[0\].params\[0\] to be a Tensor/],
    ['non-leaf', () => new SGD([p().mul(2)]), /SGD: expected paramGroups\[0\].params\[0\] to be a leaf tensor.*got the output of 'mul'/],
    ['duplicate in groups', () => { const t = p(); return new SGD([{ params: [t] }, { params: [t] }]); }, /SGD: expected paramGroups\[1\].params\[0\] to be a parameter in one group only/],
    ['AdamW without decoupling', () => new AdamW([p()], { decoupledWeightDecay: false } as never), /AdamW: expected decoupledWeightDecay to be true/],
  ])('%s', (_, make, message) => {
    expect(make).toThrow(message);
  });

  it('gradient of the wrong shape is named', () => {
    const q = makeParam();
    q.name = 'fc.weight';
    q.grad = hn.zeros([4]);
    expect(() => new SGD([q]).step()).toThrow(/SGD.step: expected the gradient of fc.weight to be shape \[5\], got shape \[4\]/);
  });

  it('step(closure) evaluates the closure with gradients on and returns the loss', () => {
    const q = makeParam([2]);
    const opt = new SGD([q], { lr: 0.25 });
    const loss = hn.noGrad(() => opt.step(() => {
      opt.zeroGrad();
      const l = q.mul(q).sum();
      l.backward();
      return l;
    }));
    expect(loss).toBe(4);
    expect(q.data[0]).toBe(1); // 2 - 0.25 * 4
  });
});
