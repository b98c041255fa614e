// Anomaly mode (hn.detectAnomaly) and gradient clipping (hn.nn.utils.clipGradNorm_ / clipGradValue_).
import { afterEach, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';

const { nn } = hn;

afterEach(() => hn.detectAnomaly(false));

function thrown(fn: () => unknown): hn.AnomalyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof hn.AnomalyError) return err;
    throw err;
  }
  throw new Error('expected an AnomalyError, nothing was thrown');
}

/**
 * loss = 1e20 · Σ conv(x, w) with a 1x1 kernel w = 1e-30 and x = ±1e30: every forward value is
 * finite, but the weight gradient Σ x · 1e20 overflows.
 */
class Net extends nn.Module {
  shared = new nn.Sequential(new nn.Conv2d(1, 1, 1, { bias: false }));

  override forward(x: hn.Tensor): hn.Tensor {
    return (this.shared.forward(x) as hn.Tensor).mul(1e20).sum();
  }
}

function overflowingNet(): { net: Net; x: hn.Tensor } {
  const net = new Net();
  (net.shared.at(0) as hn.nn.Conv2d).weight.data.fill(1e-30);
  const x = hn.tensor([1e30, -1e30, 1e30, -1e30], { shape: [1, 1, 2, 2] });
  return { net, x };
}

describe('detectAnomaly', () => {
  it('is off by default and toggles', () => {
    expect(hn.isAnomalyEnabled()).toBe(false);
    hn.detectAnomaly(true);
    expect(hn.isAnomalyEnabled()).toBe(true);
    hn.detectAnomaly(false);
    expect(hn.isAnomalyEnabled()).toBe(false);
    expect(() => hn.detectAnomaly('yes' as unknown as boolean)).toThrow(TypeError);
  });

  it('names the op, the module path and the input of the first backward that produced Inf or NaN', () => {
    const { net, x } = overflowingNet();
    hn.detectAnomaly(true);
    const loss = net.forward(x);
    expect(Number.isFinite(loss.item())).toBe(true);
    const err = thrown(() => loss.backward());
    // Inf or NaN depending on the kernel's summation order (an FMA chain keeps +Inf; a split sum
    // adds +Inf and -Inf).
    expect(err.message).toMatch(/^detectAnomaly: backward of conv2d \(in module shared\.0\) produced (Inf|NaN) in the gradient of input 1 \(shared\.0\.weight\)$/);
    expect(err.op).toBe('conv2d');
    expect(err.phase).toBe('backward');
    expect(err.modulePath).toBe('shared.0');
  });

  it('off, the same backward runs through and leaves Inf or NaN in the gradient', () => {
    const { net, x } = overflowingNet();
    net.forward(x).backward();
    const w = (net.shared.at(0) as hn.nn.Conv2d).weight;
    expect(Number.isFinite(w.grad!.item())).toBe(false);
  });

  it('a NaN gradient: sqrt at 0 times a zero gradient (0 / 0) inside a nested module', () => {
    class Root extends nn.Module {
      inner = new nn.Sequential(new nn.Identity(), new SqrtLayer());

      override forward(x: hn.Tensor): hn.Tensor {
        return (this.inner.forward(x) as hn.Tensor).mul(0).sum();
      }
    }
    class SqrtLayer extends nn.Module {
      override forward(x: hn.Tensor): hn.Tensor {
        return x.sqrt();
      }
    }
    hn.detectAnomaly(true);
    const x = hn.tensor([0, 4], { requiresGrad: true });
    const loss = new Root().forward(x);
    expect(() => loss.backward()).toThrow('detectAnomaly: backward of sqrt (in module inner.1) produced NaN in the gradient of input 0');
  });

  it('stops at the first forward result with NaN or Inf, saying where it came from', () => {
    hn.detectAnomaly(true);
    expect(() => hn.tensor([1, -1]).log()).toThrow('detectAnomaly: forward of log produced NaN in its output of shape [2] from finite inputs');
    expect(() => hn.tensor([1, 0]).log()).toThrow(/forward of log produced Inf/);
    expect(() => hn.tensor([NaN, 1]).exp()).toThrow(/forward of exp produced NaN .*\(input 0 already held NaN or Inf\)/);
    // Inside a multi-task model: a head's layer, named as the model names it.
    hn.manualSeed(0);
    const model = new hn.mtl.MultiTaskModel({
      shared: new nn.Sequential(new nn.Flatten(), new nn.Linear(4, 3), new nn.ReLU()),
      heads: { left: new nn.Sequential(new nn.Linear(3, 2)), right: new nn.Sequential(new nn.Linear(3, 2)) },
    });
    ((model.heads.get('right') as hn.nn.Sequential).at(0) as hn.nn.Linear).weight.data[1] = NaN;
    const err = thrown(() => model.forward(hn.ones([2, 1, 2, 2])));
    expect(err.message).toMatch(/^detectAnomaly: forward of linear \(in module heads\.right\.0\) produced NaN in its output of shape \[2, 2\] \(input 1 already held/);
    expect(err.modulePath).toBe('heads.right.0');
  });

  it('checks large tensors through the native sum (Inf at the very end of 1M + 3 values)', () => {
    hn.detectAnomaly(true);
    const x = hn.zeros([1_000_003]);
    expect(() => x.add(1)).not.toThrow();
    x.data[1_000_002] = 3e38;
    expect(() => x.mul(10)).toThrow(/forward of mul produced Inf/);
    x.data[1_000_002] = 0;
    x.data[5] = NaN;
    expect(() => x.mul(10)).toThrow(/forward of mul produced NaN/);
  });

  it('adds no node fields and no checks while off', () => {
    const a = hn.ones([3], { requiresGrad: true });
    const y = a.log();
    expect(Object.keys(y.gradFn!)).toEqual(['op', 'attrs', 'inputs', 'backward']);
    expect(() => hn.tensor([-1]).log()).not.toThrow();
  });

  it('leaves modules plain: forward is per class, and a user override still works', () => {
    const lin = new nn.Linear(2, 2);
    expect(Object.prototype.hasOwnProperty.call(lin, 'forward')).toBe(false);
    hn.detectAnomaly(true);
    let calls = 0;
    const original = lin.forward.bind(lin);
    lin.forward = (x: hn.Tensor) => {
      calls++;
      return original(x);
    };
    new nn.Sequential(lin).forward(hn.ones([1, 2]));
    expect(calls).toBe(1);
  });
});

/** Reference p-norm in float64. */
function norm(values: number[], p: number): number {
  if (p === Infinity) return Math.max(...values.map(Math.abs));
  return values.reduce((s, v) => s + Math.abs(v) ** p, 0) ** (1 / p);
}

function paramsWithGrads(seed: number, sizes: number[]): hn.Tensor[] {
  const gen = new hn.Generator(seed);
  return sizes.map((n) => {
    const p = hn.zeros([n], { requiresGrad: true });
    p.grad = hn.zeros([n]);
    gen.fillNormal(p.grad.data as Float32Array, 0, 3);
    return p;
  });
}

describe('nn.utils.clipGradNorm_', () => {
  for (const p of [2, 1, 3, Infinity]) {
    it(`norm type ${p}: returns the total norm and scales every gradient by maxNorm / (total + 1e-6)`, () => {
      const params = paramsWithGrads(1, [5, 1, 2049, 3000]); // tails and several 1024-chunks
      const before = params.map((q) => Array.from(q.grad!.data));
      const total = norm(before.flat(), p);
      const maxNorm = total / 4;
      const result = hn.nn.utils.clipGradNorm_(params, maxNorm, p);
      expect(result.shape).toEqual([]);
      expect(Math.abs(result.item() - total) / total).toBeLessThan(1e-5);
      const coef = maxNorm / (Math.fround(result.item()) + 1e-6);
      params.forEach((q, i) => {
        const got = q.grad!.data;
        for (let k = 0; k < got.length; k++) expect(Math.abs(got[k] - before[i][k] * coef)).toBeLessThan(1e-5 * Math.abs(before[i][k]) + 1e-7);
      });
      // After clipping, the total norm is maxNorm (to float precision).
      expect(Math.abs(norm(params.flatMap((q) => Array.from(q.grad!.data)), p) - maxNorm) / maxNorm).toBeLessThan(1e-4);
    });
  }

  it("leaves gradients under the limit alone, accepts 'inf', skips parameters without grad", () => {
    const params = paramsWithGrads(2, [10, 20]);
    params.push(hn.zeros([4], { requiresGrad: true }));
    const before = params.slice(0, 2).map((q) => q.grad!.toArray());
    const total = hn.nn.utils.clipGradNorm_(params, 1e9, 'inf').item();
    expect(total).toBeCloseTo(norm(before.flatMap((a) => Array.from(a)), Infinity), 5);
    params.slice(0, 2).forEach((q, i) => expect(q.grad!.toArray()).toEqual(before[i]));
    expect(hn.nn.utils.clipGradNorm_([hn.zeros([3], { requiresGrad: true })], 1).item()).toBe(0);
  });

  it('takes model.parameters() and a single tensor', () => {
    const lin = new nn.Linear(3, 2);
    lin.forward(hn.ones([4, 3])).sum().backward();
    expect(hn.nn.utils.clipGradNorm_(lin.parameters(), 0.5).item()).toBeGreaterThan(0.5);
    const [w] = paramsWithGrads(3, [7]);
    expect(hn.nn.utils.clipGradNorm_(w, 1).item()).toBeGreaterThan(1);
  });

  it('a non-finite total: NaN gradients (PyTorch), or an error with errorIfNonfinite', () => {
    const params = paramsWithGrads(4, [6, 6]);
    params[1].grad!.data[2] = Infinity;
    expect(() => hn.nn.utils.clipGradNorm_(params, 1, 2, { errorIfNonfinite: true })).toThrow(/clipGradNorm_: the total norm of order 2 .* is Infinity/);
    expect(hn.nn.utils.clipGradNorm_(params, 1).item()).toBe(Infinity);
    // maxNorm / Inf = 0: finite gradients become 0, the infinite one NaN (0 · Inf), as in torch.
    expect(Array.from(params[0].grad!.data).every((v) => v === 0)).toBe(true);
    expect(Number.isNaN(params[1].grad!.data[2])).toBe(true);
    const nan = paramsWithGrads(5, [4]);
    nan[0].grad!.data[0] = NaN;
    expect(Number.isNaN(hn.nn.utils.clipGradNorm_(nan, 1).item())).toBe(true);
    expect(Array.from(nan[0].grad!.data).every(Number.isNaN)).toBe(true);
  });

  it('rejects bad arguments', () => {
    const params = paramsWithGrads(6, [3]);
    expect(() => hn.nn.utils.clipGradNorm_(params, 1, 0)).toThrow(/clipGradNorm_: expected normType to be a positive number/);
    expect(() => hn.nn.utils.clipGradNorm_(params, NaN)).toThrow(TypeError);
    expect(() => hn.nn.utils.clipGradNorm_(42 as unknown as hn.Tensor[], 1)).toThrow(/expected parameters to be a tensor or an iterable/);
    expect(() => hn.nn.utils.clipGradNorm_([1 as unknown as hn.Tensor], 1)).toThrow(/parameters\[0\]/);
  });
});

describe('nn.utils.clipGradValue_', () => {
  it('clamps each element to [-clipValue, clipValue] and keeps NaN', () => {
    const params = paramsWithGrads(7, [3000, 5]);
    params[1].grad!.data.set([NaN, -10, 10, 0.5, -0.25]);
    const before = params[0].grad!.toArray();
    hn.nn.utils.clipGradValue_(params, 1);
    const got = params[0].grad!.data;
    for (let k = 0; k < got.length; k++) expect(got[k]).toBe(Math.fround(Math.min(1, Math.max(-1, before[k]))));
    const small = Array.from(params[1].grad!.data);
    expect(Number.isNaN(small[0])).toBe(true);
    expect(small.slice(1)).toEqual([-1, 1, 0.5, -0.25]);
    expect(() => hn.nn.utils.clipGradValue_(params, -1)).toThrow(/clipValue to be a non-negative number/);
  });
});
