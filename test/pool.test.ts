// maxPool2d / avgPool2d against plain references written from PyTorch's documented rules, their
// gradients by finite differences, and bad input.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { gradcheck, maxAbsDiff, randomInput } from './helpers/gradcheck';

const seed = Date.now() % 100000;
const gen = new hn.Generator(seed);
const randInt = (lo: number, hi: number): number => lo + Math.floor(gen.uniform() * (hi - lo + 1));

interface Config {
  N: number; C: number; H: number; W: number;
  k: [number, number]; s: [number, number]; p: [number, number]; d: [number, number];
  ceil: boolean; countIncludePad: boolean; divisor: number | null;
}

// Output size, written from the docs: floor or ceil of (in + 2p - d(k-1) - 1) / s, + 1, and a
// ceil-mode window that would start in the right padding is dropped.
function outSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = n + 2 * p - d * (k - 1) - 1;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (out - 1) * s >= n + p) out--;
  return out;
}

// Reference max pool: taps start + i*d; taps outside the input are -inf; first maximum wins.
function refMaxPool(x: Float32Array, c: Config): { out: number[]; argmax: number[]; oh: number; ow: number } {
  const oh = outSize(c.H, c.k[0], c.s[0], c.p[0], c.d[0], c.ceil);
  const ow = outSize(c.W, c.k[1], c.s[1], c.p[1], c.d[1], c.ceil);
  const out: number[] = [];
  const argmax: number[] = [];
  for (let plane = 0; plane < c.N * c.C; plane++) {
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      let best = -Infinity;
      let at = -1;
      for (let a = 0; a < c.k[0]; a++) for (let b = 0; b < c.k[1]; b++) {
        const h = i * c.s[0] - c.p[0] + a * c.d[0];
        const w = j * c.s[1] - c.p[1] + b * c.d[1];
        if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;
        const v = x[(plane * c.H + h) * c.W + w];
        if (at < 0 || v > best) {
          best = v;
          at = (plane * c.H + h) * c.W + w;
        }
      }
      out.push(best);
      argmax.push(at);
    }
  }
  return { out, argmax, oh, ow };
}

// Reference average pool over k x k taps: a tap counts in the divisor when it lies in the padded
// input [-p, n + p) (countIncludePad) or in the input itself; ceil-mode overhang never counts.
function refAvgPool(x: Float32Array, c: Config): { out: number[]; windows: { covered: number[]; divisor: number }[] } {
  const oh = outSize(c.H, c.k[0], c.s[0], c.p[0], 1, c.ceil);
  const ow = outSize(c.W, c.k[1], c.s[1], c.p[1], 1, c.ceil);
  const out: number[] = [];
  const windows: { covered: number[]; divisor: number }[] = []; // per output, for the gradient
  for (let plane = 0; plane < c.N * c.C; plane++) {
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      let sum = 0, inside = 0, padded = 0;
      const covered: number[] = [];
      for (let a = 0; a < c.k[0]; a++) for (let b = 0; b < c.k[1]; b++) {
        const h = i * c.s[0] - c.p[0] + a;
        const w = j * c.s[1] - c.p[1] + b;
        const inPadded = h >= -c.p[0] && h < c.H + c.p[0] && w >= -c.p[1] && w < c.W + c.p[1];
        if (inPadded) padded++;
        if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;
        inside++;
        sum += x[(plane * c.H + h) * c.W + w];
        covered.push((plane * c.H + h) * c.W + w);
      }
      const divisor = c.divisor ?? (c.countIncludePad ? padded : inside);
      out.push(inside === 0 ? 0 : sum / divisor);
      windows.push({ covered, divisor });
    }
  }
  return { out, windows };
}

function randomConfig(): Config {
  const k: [number, number] = [randInt(1, 4), randInt(1, 4)];
  return {
    N: randInt(1, 2), C: randInt(1, 3), H: randInt(1, 9), W: randInt(1, 9), k,
    s: [randInt(1, 3), randInt(1, 3)],
    p: [randInt(0, Math.floor(k[0] / 2)), randInt(0, Math.floor(k[1] / 2))],
    d: [randInt(1, 3), randInt(1, 3)],
    ceil: gen.uniform() < 0.5, countIncludePad: gen.uniform() < 0.5,
    divisor: gen.uniform() < 0.25 ? randInt(1, 7) : null,
  };
}

const maxOpts = (c: Config) => ({ kernelSize: c.k, stride: c.s, padding: c.p, dilation: c.d, ceilMode: c.ceil });
const avgOpts = (c: Config) => ({
  kernelSize: c.k, stride: c.s, padding: c.p, ceilMode: c.ceil, countIncludePad: c.countIncludePad, divisorOverride: c.divisor,
});

describe(`maxPool2d (seed ${seed})`, () => {
  it('matches PyTorch on a worked example', () => {
    const x = hn.tensor(Array.from({ length: 16 }, (_, i) => i), { shape: [1, 1, 4, 4] });
    expect(Array.from(hn.F.maxPool2d(x, { kernelSize: 2 }).toArray())).toEqual([5, 7, 13, 15]);
    // k=3, s=2, p=1 on 4x4: windows rows {-1..1}, {1..3} -> torch gives [[5, 7], [13, 15]]
    expect(Array.from(hn.F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }).toArray())).toEqual([5, 7, 13, 15]);
    // ceil mode on 5 columns, k=2: 3 windows, the last one holds column 4 only
    const y = hn.tensor(Array.from({ length: 5 }, (_, i) => i), { shape: [1, 1, 1, 5] });
    expect(Array.from(hn.F.maxPool2d(y, { kernelSize: [1, 2], ceilMode: true }).toArray())).toEqual([1, 3, 4]);
    expect(hn.F.maxPool2d(y, { kernelSize: [1, 2] }).shape).toEqual([1, 1, 1, 2]);
  });

  it('matches the reference over random configs (padding, stride, dilation, ceilMode)', () => {
    let tested = 0;
    for (let trial = 0; tested < 60 && trial < 400; trial++) {
      const c = randomConfig();
      const oh = outSize(c.H, c.k[0], c.s[0], c.p[0], c.d[0], c.ceil);
      const ow = outSize(c.W, c.k[1], c.s[1], c.p[1], c.d[1], c.ceil);
      const x = randomInput(gen, [c.N, c.C, c.H, c.W], true);
      if (oh < 1 || ow < 1) {
        expect(() => hn.F.maxPool2d(x, maxOpts(c))).toThrow(RangeError);
        continue;
      }
      tested++;
      const ref = refMaxPool(x.data as Float32Array, c);
      const y = hn.F.maxPool2d(x, maxOpts(c));
      expect(y.shape).toEqual([c.N, c.C, oh, ow]);
      // Exact, -inf included (a dilated window can skip over every input element).
      expect(Array.from(y.data)).toEqual(ref.out);
      // Backward routes each gradient to its argmax.
      const g = randomInput(gen, [...y.shape], false);
      y.backward(g);
      const expected = new Float64Array(x.numel);
      ref.argmax.forEach((at, o) => { if (at >= 0) expected[at] += g.data[o]; });
      expect(maxAbsDiff(x.grad!.data, expected)).toBeLessThan(1e-6);
    }
    expect(tested).toBeGreaterThan(20);
  });

  it('routes ties to the first maximum, as PyTorch', () => {
    const x = hn.ones([1, 1, 2, 4], { requiresGrad: true });
    hn.F.maxPool2d(x, { kernelSize: 2 }).sum().backward();
    expect(Array.from(x.grad!.toArray())).toEqual([1, 0, 1, 0, 0, 0, 0, 0]);
  });

  it('overlapping windows accumulate into the shared argmax', () => {
    const x = hn.tensor([0, 9, 0, 0], { shape: [1, 1, 1, 4], requiresGrad: true });
    hn.F.maxPool2d(x, { kernelSize: [1, 2], stride: 1 }).sum().backward();
    expect(Array.from(x.grad!.toArray())).toEqual([0, 2, 1, 0]);
  });

  it('gradient matches finite differences (distinct values, eps below the gaps)', () => {
    for (const opts of [
      { kernelSize: 2 },
      { kernelSize: 3, stride: 2, padding: 1, ceilMode: true },
      { kernelSize: [2, 3] as [number, number], stride: [1, 2] as [number, number], padding: [1, 1] as [number, number], dilation: [2, 1] as [number, number] },
    ]) {
      const n = 2 * 3 * 6 * 7;
      // A shuffled grid with spacing 0.05 > 2 eps: no perturbation changes an argmax.
      const values = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(gen.uniform() * (i + 1));
        [values[i], values[j]] = [values[j], values[i]];
      }
      const x = hn.tensor(values, { shape: [2, 3, 6, 7], requiresGrad: true });
      gradcheck((t) => hn.F.maxPool2d(t, opts), [x], { eps: 1e-2 });
    }
  });

  it('accepts a 3-D [C, H, W] input and records its attributes', () => {
    const x = randomInput(gen, [3, 5, 5]);
    const y = hn.F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 });
    expect(y.shape).toEqual([3, 3, 3]);
    const batched = hn.F.maxPool2d(x.reshape([1, 3, 5, 5]), { kernelSize: 3, stride: 2, padding: 1 });
    expect(maxAbsDiff(y.data, batched.data)).toBe(0);
    expect(y.gradFn!.op).toBe('maxPool2d');
    expect(y.gradFn!.attrs).toEqual({ kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: false });
  });

  it('a dilated window that skips every input element gives -inf and no gradient', () => {
    // H = 2, k = 2, dilation 3, padding 1: the taps are rows -1 and 2, both outside.
    const x = hn.tensor([1, 2], { shape: [1, 1, 2, 1], requiresGrad: true });
    const y = hn.F.maxPool2d(x, { kernelSize: [2, 1], dilation: [3, 1], padding: [1, 0] });
    expect(Array.from(y.toArray())).toEqual([-Infinity]);
    y.sum().backward();
    expect(Array.from(x.grad!.toArray())).toEqual([0, 0]);
  });

  it('propagates NaN like PyTorch', () => {
    const x = hn.tensor([1, NaN, 3, 2], { shape: [1, 1, 2, 2] });
    expect(Number.isNaN(hn.F.maxPool2d(x, { kernelSize: 2 }).item())).toBe(true);
  });
});

describe(`avgPool2d (seed ${seed})`, () => {
  it('matches PyTorch on worked examples', () => {
    const x = hn.tensor(Array.from({ length: 16 }, (_, i) => i), { shape: [1, 1, 4, 4] });
    expect(Array.from(hn.F.avgPool2d(x, { kernelSize: 2 }).toArray())).toEqual([2.5, 4.5, 10.5, 12.5]);
    // k=3, s=2, p=1: the corner window holds {0, 1, 4, 5} = 10 over 9 padded taps, or over 4
    const padded = hn.F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }).toArray();
    expect(padded[0]).toBeCloseTo(10 / 9, 6);
    const inside = hn.F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }).toArray();
    expect(inside[0]).toBeCloseTo(10 / 4, 6);
    const override = hn.F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, divisorOverride: 2 }).toArray();
    expect(override[0]).toBeCloseTo(5, 6);
    // ceil mode: the last window of 5 columns (k=2) covers column 4 and overhang: divisor 1
    const y = hn.tensor([1, 2, 3, 4, 5], { shape: [1, 1, 1, 5] });
    expect(Array.from(hn.F.avgPool2d(y, { kernelSize: [1, 2], ceilMode: true }).toArray())).toEqual([1.5, 3.5, 5]);
  });

  it('matches the reference over random configs (countIncludePad, divisorOverride, ceilMode)', () => {
    let tested = 0;
    for (let trial = 0; tested < 60 && trial < 400; trial++) {
      const c = { ...randomConfig(), d: [1, 1] as [number, number] };
      const oh = outSize(c.H, c.k[0], c.s[0], c.p[0], 1, c.ceil);
      const ow = outSize(c.W, c.k[1], c.s[1], c.p[1], 1, c.ceil);
      const x = randomInput(gen, [c.N, c.C, c.H, c.W], true);
      if (oh < 1 || ow < 1) {
        expect(() => hn.F.avgPool2d(x, avgOpts(c))).toThrow(RangeError);
        continue;
      }
      tested++;
      const ref = refAvgPool(x.data as Float32Array, c);
      const y = hn.F.avgPool2d(x, avgOpts(c));
      expect(y.shape).toEqual([c.N, c.C, oh, ow]);
      expect(maxAbsDiff(y.data, ref.out)).toBeLessThan(1e-5);
      const g = randomInput(gen, [...y.shape], false);
      y.backward(g);
      const expected = new Float64Array(x.numel);
      ref.windows.forEach(({ covered, divisor }, o) => {
        for (const at of covered) expected[at] += g.data[o] / divisor;
      });
      expect(maxAbsDiff(x.grad!.data, expected)).toBeLessThan(1e-5);
    }
    expect(tested).toBeGreaterThan(20);
  });

  it('gradient matches finite differences', () => {
    const x = randomInput(gen, [2, 2, 7, 6]);
    gradcheck((t) => hn.F.avgPool2d(t, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), [x]);
    gradcheck((t) => hn.F.avgPool2d(t, { kernelSize: [3, 2], stride: [2, 1], padding: [1, 0], countIncludePad: false }), [x]);
    gradcheck((t) => hn.F.avgPool2d(t, { kernelSize: 2, divisorOverride: 3 }), [x]);
  });

  it('records its attributes', () => {
    const y = hn.F.avgPool2d(randomInput(gen, [1, 1, 4, 4]), { kernelSize: 2, stride: 1 });
    expect(y.gradFn!.attrs).toEqual({ kernelSize: [2, 2], stride: [1, 1], padding: [0, 0], ceilMode: false, countIncludePad: true, divisorOverride: null });
  });
});

describe('pooling bad input', () => {
  const x = hn.zeros([1, 2, 4, 4]);
  it.each(['maxPool2d', 'avgPool2d'] as const)('%s rejects wrong ranks, dtypes and sizes', (name) => {
    const pool = hn.F[name] as (t: hn.Tensor, o: { kernelSize: number; padding?: number; stride?: number }) => hn.Tensor;
    expect(() => pool(hn.zeros([4, 4]), { kernelSize: 2 })).toThrow(new RegExp(`${name}: expected input to be a 3-D \\[C, H, W\\] or 4-D \\[N, C, H, W\\] tensor, got shape \\[4, 4\\]`));
    expect(() => pool(hn.zeros([1, 1, 1, 4, 4]), { kernelSize: 2 })).toThrow(RangeError);
    expect(() => pool(hn.zeros([1, 1, 4, 4], { dtype: 'int32' }), { kernelSize: 2 })).toThrow(TypeError);
    expect(() => pool(x, { kernelSize: 3, padding: 2 })).toThrow(/padding to be at most half of kernelSize \[3, 3\], got \[2, 2\]/);
    expect(() => pool(x, { kernelSize: 5 })).toThrow(/output size to be at least \[1, 1\].*got \[0, 0\]/);
    expect(() => pool(x, { kernelSize: 0 })).toThrow(/kernelSize/);
    expect(() => pool(x, { kernelSize: 2, stride: 0 })).toThrow(/stride/);
    expect(() => (pool as (t: hn.Tensor, o?: unknown) => hn.Tensor)(x)).toThrow(/options/);
  });

  it('avgPool2d rejects a zero divisorOverride', () => {
    expect(() => hn.F.avgPool2d(x, { kernelSize: 2, divisorOverride: 0 })).toThrow(/divisorOverride/);
  });

  it('the bindings check their arguments too (no crash)', () => {
    const f = addon.maxPool2dForward;
    const y = new Float32Array(4);
    const idx = new Int32Array(4);
    expect(() => f(new Float32Array(16), [1, 1, 4, 4], [2, 2], [2, 2], [0, 0], [1, 1], false, y, new Int32Array(3))).toThrow(RangeError);
    expect(() => f(new Float32Array(15), [1, 1, 4, 4], [2, 2], [2, 2], [0, 0], [1, 1], false, y, idx)).toThrow(RangeError);
    expect(() => f(new Float32Array(16), [1, 1, 4, 4], [2, 2], [2, 2], [2, 2], [1, 1], false, y, idx)).toThrow(/padding/);
    expect(() => addon.maxPool2dBackward(new Float32Array(4), new Int32Array([0, 1, 2, 99]), [1, 1, 4, 4], [2, 2], [2, 2], [0, 0], [1, 1], false,
      new Float32Array(16))).toThrow(/indices\[3\]/);
    expect(() => addon.avgPool2dForward(new Float32Array(16), [1, 1, 4, 4], [5, 5], [1, 1], [0, 0], false, true, 0, y)).toThrow(/output size/);
  });
});
