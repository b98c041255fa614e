// conv2d and convTranspose2d: forward and every gradient against a direct-loop reference in
// double on random configurations (fresh seed each run, printed on failure), gradients against
// central finite differences on small configurations, recorded attrs, and bad inputs.
//
// Reference tolerance: each output element is a sum of products t_i; the kernels (float32
// im2col + SGEMM) must agree with the double reference to within 2e-5 · Σ|t_i| + 1e-6, i.e.
// relative to the magnitude of the terms summed (float32 eps is 6e-8; sums here have at most a
// few thousand terms). A missing, doubled or misplaced term is off by |t_i|, far above that.
import { afterAll, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import type { Tensor } from '../lib/tensor';
import { addon } from '../lib/native';
import type { Conv2dOptions, ConvTranspose2dOptions } from '../lib/ops/conv';
import { gradcheck, randomInput } from './helpers/gradcheck';

const F = hn.F;
const seed = Date.now() % 1_000_000;
const gen = new hn.Generator(seed);
const defaultThreads = hn.getNumThreads();
afterAll(() => hn.setNumThreads(defaultThreads));

type Pair = [number, number];

interface Config {
  transposed: boolean;
  N: number; Cin: number; Cout: number; H: number; W: number; kH: number; kW: number;
  stride: Pair; dilation: Pair; groups: number; bias: boolean; batched: boolean;
  /** What the op is given (conv2d also takes 'same' / 'valid'). */
  padding: number | Pair | 'same' | 'valid';
  outputPadding: Pair;
}

/** [top, left, bottom, right], resolved independently of lib/ops/conv.ts. */
function padsOf(c: Config): number[] {
  if (c.padding === 'valid') return [0, 0, 0, 0];
  if (c.padding === 'same') {
    const th = c.dilation[0] * (c.kH - 1), tw = c.dilation[1] * (c.kW - 1);
    return [th >> 1, tw >> 1, th - (th >> 1), tw - (tw >> 1)];
  }
  const p = typeof c.padding === 'number' ? [c.padding, c.padding] : c.padding;
  return [p[0], p[1], p[0], p[1]];
}

function outSize(c: Config): Pair {
  const p = padsOf(c);
  if (c.transposed) {
    return [
      (c.H - 1) * c.stride[0] - 2 * p[0] + c.dilation[0] * (c.kH - 1) + c.outputPadding[0] + 1,
      (c.W - 1) * c.stride[1] - 2 * p[1] + c.dilation[1] * (c.kW - 1) + c.outputPadding[1] + 1,
    ];
  }
  return [
    Math.floor((c.H + p[0] + p[2] - c.dilation[0] * (c.kH - 1) - 1) / c.stride[0]) + 1,
    Math.floor((c.W + p[1] + p[3] - c.dilation[1] * (c.kW - 1) - 1) / c.stride[1]) + 1,
  ];
}

function weightShape(c: Config): number[] {
  return c.transposed ? [c.Cin, c.Cout / c.groups, c.kH, c.kW] : [c.Cout, c.Cin / c.groups, c.kH, c.kW];
}

interface Reference {
  y: Float64Array; yAbs: Float64Array;
  gx: Float64Array; gxAbs: Float64Array;
  gw: Float64Array; gwAbs: Float64Array;
  gb: Float64Array; gbAbs: Float64Array;
}

/**
 * Direct loops over every (input pixel, output pixel, weight) triple, in double. For conv2d an
 * output pixel gathers from the input; for the transposed op an input pixel scatters to the
 * output (its definition, written independently of conv2d). gy is dL/dy; each *Abs holds Σ|t|.
 */
function reference(c: Config, x: Float32Array, w: Float32Array, b: Float32Array | null, gy: Float32Array): Reference {
  const [Ho, Wo] = outSize(c);
  const pad = padsOf(c);
  const cpg = c.Cin / c.groups, opg = c.Cout / c.groups;
  const r: Reference = {
    y: new Float64Array(c.N * c.Cout * Ho * Wo), yAbs: new Float64Array(c.N * c.Cout * Ho * Wo),
    gx: new Float64Array(x.length), gxAbs: new Float64Array(x.length),
    gw: new Float64Array(w.length), gwAbs: new Float64Array(w.length),
    gb: new Float64Array(c.Cout), gbAbs: new Float64Array(c.Cout),
  };
  const visit = (xi: number, wi: number, yi: number): void => {
    const t = x[xi] * w[wi];
    r.y[yi] += t; r.yAbs[yi] += Math.abs(t);
    r.gx[xi] += gy[yi] * w[wi]; r.gxAbs[xi] += Math.abs(gy[yi] * w[wi]);
    r.gw[wi] += gy[yi] * x[xi]; r.gwAbs[wi] += Math.abs(gy[yi] * x[xi]);
  };
  for (let n = 0; n < c.N; n++) for (let g = 0; g < c.groups; g++) {
    for (let ci = 0; ci < cpg; ci++) for (let o = 0; o < opg; o++) {
      const cin = g * cpg + ci, cout = g * opg + o;
      for (let kh = 0; kh < c.kH; kh++) for (let kw = 0; kw < c.kW; kw++) {
        const wi = c.transposed ? ((cin * opg + o) * c.kH + kh) * c.kW + kw : ((cout * cpg + ci) * c.kH + kh) * c.kW + kw;
        if (!c.transposed) {
          for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
            const ih = oh * c.stride[0] - pad[0] + kh * c.dilation[0];
            const iw = ow * c.stride[1] - pad[1] + kw * c.dilation[1];
            if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
            visit(((n * c.Cin + cin) * c.H + ih) * c.W + iw, wi, ((n * c.Cout + cout) * Ho + oh) * Wo + ow);
          }
        } else {
          for (let ih = 0; ih < c.H; ih++) for (let iw = 0; iw < c.W; iw++) {
            const oh = ih * c.stride[0] - pad[0] + kh * c.dilation[0];
            const ow = iw * c.stride[1] - pad[1] + kw * c.dilation[1];
            if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
            visit(((n * c.Cin + cin) * c.H + ih) * c.W + iw, wi, ((n * c.Cout + cout) * Ho + oh) * Wo + ow);
          }
        }
      }
    }
  }
  if (b) {
    for (let i = 0; i < r.y.length; i++) {
      const ch = Math.floor(i / (Ho * Wo)) % c.Cout;
      r.y[i] += b[ch]; r.yAbs[i] += Math.abs(b[ch]);
      r.gb[ch] += gy[i]; r.gbAbs[ch] += Math.abs(gy[i]);
    }
  }
  return r;
}

function describeConfig(c: Config): string {
  return `seed ${seed}, config ${JSON.stringify(c)}`;
}

function expectClose(label: string, actual: ArrayLike<number>, expected: Float64Array, abs: Float64Array, c: Config): void {
  expect(actual.length, `${label} length (${describeConfig(c)})`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tol = 2e-5 * abs[i] + 1e-6;
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= tol)) {
      expect.fail(`${label}[${i}]: got ${actual[i]}, reference ${expected[i]} (|diff| ${diff.toExponential(2)} > tol ${tol.toExponential(2)}); ${describeConfig(c)}`);
    }
  }
}

function opOptions(c: Config): Record<string, unknown> {
  const o: Record<string, unknown> = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
  if (c.transposed) o.outputPadding = c.outputPadding;
  return o;
}

function apply(c: Config, x: Tensor, w: Tensor, b: Tensor | null): Tensor {
  return c.transposed
    ? F.convTranspose2d(x, w, b, opOptions(c) as ConvTranspose2dOptions)
    : F.conv2d(x, w, b, opOptions(c) as Conv2dOptions);
}

/** Runs forward and backward of every input and compares all four against the reference. */
function checkAgainstReference(c: Config): void {
  const xShape = c.batched ? [c.N, c.Cin, c.H, c.W] : [c.Cin, c.H, c.W];
  const x = randomInput(gen, xShape);
  const w = randomInput(gen, weightShape(c));
  const b = c.bias ? randomInput(gen, [c.Cout]) : null;
  const y = apply(c, x, w, b);
  const [Ho, Wo] = outSize(c);
  expect(y.shape, describeConfig(c)).toEqual(c.batched ? [c.N, c.Cout, Ho, Wo] : [c.Cout, Ho, Wo]);
  const gy = randomInput(gen, [...y.shape], false);
  const ref = reference(c, x.data as Float32Array, w.data as Float32Array, b ? b.data as Float32Array : null, gy.data as Float32Array);
  expectClose('y', y.data, ref.y, ref.yAbs, c);
  y.backward(gy);
  expectClose('grad x', x.grad!.data, ref.gx, ref.gxAbs, c);
  expectClose('grad weight', w.grad!.data, ref.gw, ref.gwAbs, c);
  if (b) expectClose('grad bias', b.grad!.data, ref.gb, ref.gbAbs, c);
}

const randInt = (lo: number, hi: number): number => lo + Math.floor(gen.uniform() * (hi - lo + 1));

/** A random valid configuration covering batch, odd sizes, stride, padding, dilation, groups. */
function randomConfig(transposed: boolean): Config {
  for (;;) {
    const kind = gen.uniform();
    const groups = kind < 0.5 ? 1 : randInt(2, 3);
    const depthwise = kind >= 0.8;
    const cpg = depthwise ? 1 : randInt(1, 3);
    const c: Config = {
      transposed, N: randInt(1, 4), Cin: groups * cpg, Cout: groups * randInt(1, 3), H: randInt(1, 9), W: randInt(1, 9),
      kH: randInt(1, 4), kW: randInt(1, 4), stride: [randInt(1, 3), randInt(1, 3)], dilation: [randInt(1, 2), randInt(1, 2)],
      groups, bias: gen.uniform() < 0.6, batched: gen.uniform() < 0.85, padding: [randInt(0, 2), randInt(0, 2)], outputPadding: [0, 0],
    };
    const p = gen.uniform();
    if (!transposed && p < 0.15) {
      c.padding = 'same';
      c.stride = [1, 1];
    } else if (!transposed && p < 0.25) {
      c.padding = 'valid';
    } else if (p < 0.4) {
      c.padding = randInt(0, 2);
    }
    if (transposed) {
      c.outputPadding = [randInt(0, Math.max(c.stride[0], c.dilation[0]) - 1), randInt(0, Math.max(c.stride[1], c.dilation[1]) - 1)];
    }
    if (!c.batched) c.N = 1;
    const [Ho, Wo] = outSize(c);
    if (Ho >= 1 && Wo >= 1) return c;
  }
}

function config(base: Partial<Config> & Pick<Config, 'Cin' | 'Cout' | 'H' | 'W' | 'kH' | 'kW'>): Config {
  return {
    transposed: false, N: 1, stride: [1, 1], dilation: [1, 1], groups: 1, bias: true, batched: true,
    padding: 0, outputPadding: [0, 0], ...base,
  };
}

describe('conv2d / convTranspose2d against a direct-loop reference', () => {
  it.each([false, true])('random configurations (transposed: %s)', (transposed) => {
    for (let i = 0; i < 200; i++) checkAgainstReference(randomConfig(transposed));
  });

  // Larger planes and channel counts: im2col/col2im split rows over threads (few items), or
  // threads take whole (image, group) items with per-thread weight-gradient partials (many).
  it.each([
    ['one image, parallel im2col', config({ Cin: 8, Cout: 8, H: 24, W: 23, kH: 3, kW: 3, padding: 1 })],
    ['one image, stride 2', config({ Cin: 6, Cout: 5, H: 25, W: 24, kH: 3, kW: 5, stride: [2, 2], padding: [1, 2] })],
    ['batch 8, whole items per thread', config({ N: 8, Cin: 4, Cout: 6, H: 12, W: 11, kH: 3, kW: 3, padding: 1, dilation: [2, 1] })],
    ['1x1 direct path, batch 5', config({ N: 5, Cin: 7, Cout: 3, H: 9, W: 10, kH: 1, kW: 1 })],
    ['1x1 direct path, groups', config({ N: 2, Cin: 6, Cout: 4, H: 5, W: 7, kH: 1, kW: 1, groups: 2 })],
    ['depthwise, channel multiplier 2', config({ N: 3, Cin: 5, Cout: 10, H: 13, W: 9, kH: 3, kW: 3, groups: 5, padding: 1 })],
    ["'same' with an even kernel", config({ N: 2, Cin: 3, Cout: 2, H: 8, W: 7, kH: 2, kW: 4, padding: 'same', dilation: [1, 3] })],
    ['transposed, one image, stride 2', config({ transposed: true, Cin: 8, Cout: 6, H: 12, W: 11, kH: 4, kW: 4, stride: [2, 2], padding: 1 })],
    ['transposed, batch 6, outputPadding', config({ transposed: true, N: 6, Cin: 4, Cout: 6, H: 7, W: 8, kH: 3, kW: 2, stride: [3, 2], padding: [1, 0], outputPadding: [2, 1], groups: 2 })],
    ['transposed 1x1 direct path', config({ transposed: true, N: 4, Cin: 5, Cout: 3, H: 6, W: 9, kH: 1, kW: 1 })],
    ['transposed 1x1, outputPadding < dilation', config({ transposed: true, N: 2, Cin: 3, Cout: 2, H: 4, W: 5, kH: 1, kW: 1, dilation: [3, 2], outputPadding: [2, 1] })],
  ])('%s', (_name, c) => checkAgainstReference(c));

  it('gives the same results on 1, 2 and 3 threads', () => {
    const cases = [
      config({ N: 6, Cin: 4, Cout: 4, H: 10, W: 10, kH: 3, kW: 3, padding: 1 }),
      config({ N: 1, Cin: 8, Cout: 4, H: 20, W: 20, kH: 3, kW: 3, stride: [2, 1] }),
      config({ transposed: true, N: 5, Cin: 4, Cout: 4, H: 6, W: 6, kH: 3, kW: 3, stride: [2, 2], outputPadding: [1, 1] }),
    ];
    try {
      for (const threads of [1, 3]) {
        hn.setNumThreads(threads);
        for (const c of cases) checkAgainstReference(c);
      }
    } finally {
      hn.setNumThreads(defaultThreads);
    }
  });

  it('weight gradients are deterministic (fixed reduction order)', () => {
    const x = randomInput(gen, [8, 3, 9, 9], false);
    const w = randomInput(gen, [4, 3, 3, 3]);
    const gy = randomInput(gen, [8, 4, 7, 7], false);
    const grads = [0, 1].map(() => {
      w.grad = null;
      F.conv2d(x, w).backward(gy);
      return Array.from(w.grad!.data);
    });
    expect(grads[1]).toEqual(grads[0]);
  });

  it('handles an empty batch', () => {
    const x = hn.zeros([0, 3, 5, 5], { requiresGrad: true });
    const w = randomInput(gen, [2, 3, 3, 3]);
    const b = randomInput(gen, [2]);
    const y = F.conv2d(x, w, b, { padding: 1 });
    expect(y.shape).toEqual([0, 2, 5, 5]);
    y.backward(hn.zeros([0, 2, 5, 5]));
    expect(Array.from(w.grad!.data).every((v) => v === 0)).toBe(true);
    expect(Array.from(b.grad!.data)).toEqual([0, 0]);
    const yt = F.convTranspose2d(hn.zeros([0, 3, 2, 2]), randomInput(gen, [3, 4, 2, 2], false), null, { stride: 2 });
    expect(yt.shape).toEqual([0, 4, 4, 4]);
  });
});

describe('gradients against central finite differences', () => {
  const cases: [string, Config][] = [
    ['stride, asymmetric padding, non-square kernel', config({ N: 2, Cin: 2, Cout: 3, H: 5, W: 6, kH: 3, kW: 2, stride: [2, 1], padding: [1, 0] })],
    ['groups 2, dilation 2', config({ Cin: 4, Cout: 4, H: 5, W: 5, kH: 3, kW: 3, groups: 2, dilation: [2, 2], padding: 2 })],
    ['depthwise, no bias', config({ N: 2, Cin: 3, Cout: 6, H: 4, W: 5, kH: 2, kW: 3, groups: 3, bias: false })],
    ["'same' with odd total padding", config({ Cin: 2, Cout: 2, H: 4, W: 5, kH: 2, kW: 3, dilation: [1, 2], padding: 'same' })],
    ['unbatched, 1x1', config({ Cin: 3, Cout: 2, H: 3, W: 4, kH: 1, kW: 1, batched: false })],
    ['transposed: stride, padding, outputPadding', config({ transposed: true, N: 2, Cin: 2, Cout: 3, H: 3, W: 4, kH: 3, kW: 2, stride: [2, 3], padding: [1, 0], outputPadding: [1, 2] })],
    ['transposed: groups, dilation, outputPadding < dilation', config({ transposed: true, Cin: 4, Cout: 2, H: 3, W: 3, kH: 2, kW: 3, groups: 2, dilation: [2, 2], padding: 1, outputPadding: [1, 0] })],
    ['transposed: depthwise, stride 2, no bias', config({ transposed: true, N: 2, Cin: 3, Cout: 3, H: 3, W: 2, kH: 3, kW: 3, groups: 3, stride: [2, 2], bias: false })],
    ['transposed: unbatched 1x1', config({ transposed: true, Cin: 2, Cout: 3, H: 3, W: 3, kH: 1, kW: 1, batched: false })],
  ];
  it.each(cases)('%s', (_name, c) => {
    const x = randomInput(gen, c.batched ? [c.N, c.Cin, c.H, c.W] : [c.Cin, c.H, c.W]);
    const w = randomInput(gen, weightShape(c));
    const inputs = c.bias ? [x, w, randomInput(gen, [c.Cout])] : [x, w];
    gradcheck((xi, wi, bi) => apply(c, xi, wi, bi ?? null), inputs, { seed });
  });
});

describe('recorded node', () => {
  it('conv2d records pairs, resolved padding and PyTorch input order', () => {
    const x = randomInput(gen, [1, 4, 6, 6]);
    const w = randomInput(gen, [2, 2, 3, 3]);
    const b = randomInput(gen, [2]);
    const y = F.conv2d(x, w, b, { stride: 2, padding: 1, dilation: [1, 2], groups: 2 });
    expect(y.gradFn!.op).toBe('conv2d');
    expect(y.gradFn!.attrs).toEqual({ stride: [2, 2], padding: [1, 1], dilation: [1, 2], groups: 2 });
    expect(y.gradFn!.inputs).toEqual([x, w, b]);
    const same = F.conv2d(x, randomInput(gen, [3, 4, 3, 3]), null, { padding: 'same' });
    expect(same.gradFn!.attrs.padding).toEqual([1, 1]);
    expect(same.shape).toEqual([1, 3, 6, 6]);
    const odd = F.conv2d(x, randomInput(gen, [3, 4, 2, 4]), null, { padding: 'same' });
    expect(odd.gradFn!.attrs.padding).toEqual([0, 1, 1, 2]); // [top, left, bottom, right]
    expect(F.conv2d(x, w, null, { padding: 'valid', groups: 2 }).gradFn!.attrs.padding).toEqual([0, 0]);
  });

  it('convTranspose2d records every attr as a pair', () => {
    const x = randomInput(gen, [1, 2, 3, 3]);
    const w = randomInput(gen, [2, 3, 3, 3]);
    const y = F.convTranspose2d(x, w, null, { stride: [2, 1], padding: 1, outputPadding: [1, 0] });
    expect(y.shape).toEqual([1, 3, 6, 3]);
    expect(y.gradFn!.op).toBe('convTranspose2d');
    expect(y.gradFn!.attrs).toEqual({ stride: [2, 1], padding: [1, 1], outputPadding: [1, 0], dilation: [1, 1], groups: 1 });
    expect(y.gradFn!.inputs).toEqual([x, w]);
  });
});

describe('bad inputs', () => {
  const x = randomInput(gen, [1, 4, 5, 5], false);
  const w = randomInput(gen, [2, 2, 3, 3], false);

  it('conv2d rejects bad shapes with the op, argument, expected and actual', () => {
    expect(() => F.conv2d(x, randomInput(gen, [3, 3], false))).toThrow(
      'conv2d: expected weight to be a 4-D tensor [outChannels, inChannels/groups, kH, kW], got shape [3, 3]');
    expect(() => F.conv2d(x, randomInput(gen, [2, 3, 3, 3], false), null, { groups: 2 })).toThrow(
      'conv2d: expected input channels to be 6 (weight.shape[1] * groups), got 4');
    expect(() => F.conv2d(randomInput(gen, [4, 5], false), w)).toThrow(/conv2d: expected input to be a 3-D \[C, H, W\] or 4-D \[N, C, H, W\] tensor, got shape \[4, 5\]/);
    expect(() => F.conv2d(x, randomInput(gen, [3, 2, 3, 3], false), null, { groups: 2 })).toThrow(
      /conv2d: expected groups to be a divisor of outChannels \(weight.shape\[0\]\) \(3\), got 2/);
    expect(() => F.conv2d(x, w, randomInput(gen, [3], false), { groups: 2 })).toThrow(/conv2d: expected bias to be a 1-D tensor of shape \[2\]/);
    expect(() => F.conv2d(randomInput(gen, [1, 4, 2, 2], false), w, null, { groups: 2 })).toThrow(
      'conv2d: expected output size to be at least 1x1, got 0x0 (computed from input 2x2, kernel 3x3, stride [1, 1], padding [0, 0], dilation [1, 1])');
    expect(() => F.conv2d(x, w, null, { groups: 2, dilation: 3 })).toThrow(/conv2d: expected output size to be at least 1x1, got -1x-1/);
  });

  it('conv2d rejects bad options', () => {
    expect(() => F.conv2d(x, w, null, { groups: 2, padding: -1 })).toThrow(RangeError);
    expect(() => F.conv2d(x, w, null, { groups: 2, padding: 1.5 })).toThrow(/conv2d: expected padding/);
    expect(() => F.conv2d(x, w, null, { groups: 2, padding: 'full' as 'same' })).toThrow(
      "conv2d: expected padding to be an integer, a pair of integers, 'same' or 'valid', got 'full'");
    expect(() => F.conv2d(x, w, null, { groups: 2, padding: 'same', stride: 2 })).toThrow(/conv2d: expected stride to be 1 when padding is 'same'/);
    expect(() => F.conv2d(x, w, null, { groups: 0 })).toThrow(/conv2d: expected groups to be an integer >= 1, got 0/);
    expect(() => F.conv2d(x, w, null, { groups: 2, stride: [1, 0] })).toThrow(/conv2d: expected stride\[1\] to be an integer >= 1, got 0/);
    expect(() => F.conv2d(x, w, null, { groups: 2, strides: 2 } as never)).toThrow(/conv2d: expected options to be an object with only stride, padding, dilation, groups, got unknown option 'strides'/);
  });

  it('rejects int32 and disposed tensors', () => {
    expect(() => F.conv2d(hn.zeros([1, 4, 5, 5], { dtype: 'int32' }), w, null, { groups: 2 })).toThrow(
      'conv2d: expected input to be a float32 tensor, got an int32 tensor');
    expect(() => F.conv2d(x, w, hn.zeros([2], { dtype: 'int32' }), { groups: 2 })).toThrow(TypeError);
    const dead = randomInput(gen, [2, 2, 3, 3], false);
    dead.dispose();
    expect(() => F.conv2d(x, dead, null, { groups: 2 })).toThrow('conv2d: expected weight to be a live tensor, got a disposed tensor of shape [2, 2, 3, 3]');
    expect(() => F.convTranspose2d(x, dead)).toThrow(/convTranspose2d: expected weight to be a live tensor/);
    expect(() => F.conv2d(null as never, w)).toThrow('conv2d: expected input to be a tensor, got null');
  });

  it('convTranspose2d rejects bad shapes and options', () => {
    const wt = randomInput(gen, [4, 3, 3, 3], false);
    expect(() => F.convTranspose2d(x, randomInput(gen, [4, 3, 3], false))).toThrow(
      'convTranspose2d: expected weight to be a 4-D tensor [inChannels, outChannels/groups, kH, kW], got shape [4, 3, 3]');
    expect(() => F.convTranspose2d(x, randomInput(gen, [3, 3, 3, 3], false))).toThrow(
      'convTranspose2d: expected input channels to be 3 (weight.shape[0]), got 4');
    expect(() => F.convTranspose2d(x, wt, null, { groups: 3 })).toThrow(/convTranspose2d: expected groups to be a divisor of input channels \(4\), got 3/);
    expect(() => F.convTranspose2d(x, wt, null, { stride: 2, outputPadding: 2 })).toThrow(
      'convTranspose2d: expected outputPadding[0] to be smaller than stride (2) or dilation (1), got 2');
    expect(() => F.convTranspose2d(x, wt, randomInput(gen, [4], false))).toThrow(/convTranspose2d: expected bias to be a 1-D tensor of shape \[3\]/);
    expect(() => F.convTranspose2d(x, wt, null, { padding: 'same' as never })).toThrow(/convTranspose2d: expected padding to be an integer or a pair/);
    expect(() => F.convTranspose2d(randomInput(gen, [1, 4, 1, 1], false), wt, null, { padding: 2 })).toThrow(
      /convTranspose2d: expected output size to be at least 1x1, got -1x-1 \(computed from input 1x1, kernel 3x3/);
  });

  it('the bindings re-check every size (no crash on inconsistent arguments)', () => {
    const f = (name: string, ...args: unknown[]): unknown => (addon[name] as (...a: unknown[]) => unknown)(...args);
    const geo = [[1, 1, 4, 4], [1, 1, 3, 3], [1, 1], [0, 0], [1, 1], 1];
    const buf = (n: number): Float32Array => new Float32Array(n);
    expect(f('conv2dForward', ...geo, buf(16), buf(9), null, buf(4))).toBeUndefined();
    expect(() => f('conv2dForward', ...geo, buf(16), buf(9), null, buf(3))).toThrow(RangeError);
    expect(() => f('conv2dForward', ...geo, buf(15), buf(9), null, buf(4))).toThrow(RangeError);
    expect(() => f('conv2dForward', ...geo, buf(16), buf(9), buf(2), buf(4))).toThrow(RangeError);
    expect(() => f('conv2dForward', [1, 1, 2, 2], [1, 1, 3, 3], [1, 1], [0, 0], [1, 1], 1, buf(4), buf(9), null, buf(1))).toThrow(/output size/);
    expect(() => f('conv2dForward', [1, 2, 4, 4], [1, 1, 3, 3], [1, 1], [0, 0], [1, 1], 1, buf(32), buf(9), null, buf(4))).toThrow(RangeError);
    expect(() => f('conv2dForward', [1, 3, 4, 4], [2, 1, 3, 3], [1, 1], [0, 0], [1, 1], 3, buf(48), buf(18), null, buf(8))).toThrow(/groups/);
    expect(() => f('conv2dBackwardData', ...geo, buf(4), buf(9), buf(15))).toThrow(RangeError);
    expect(() => f('conv2dBackwardWeight', ...geo, buf(16), buf(4), buf(8), null)).toThrow(RangeError);
    expect(() => f('conv2dForward', [1, 1, 4, 4], [1, 1, 3, 3], [0, 1], [0, 0], [1, 1], 1, buf(16), buf(9), null, buf(4))).toThrow(RangeError);
    expect(() => f('conv2dForward', [1, 1, 4], [1, 1, 3, 3], [1, 1], [0, 0], [1, 1], 1, buf(16), buf(9), null, buf(4))).toThrow(RangeError);
    expect(() => f('conv2dForward', ...geo, new Int32Array(16), buf(9), null, buf(4))).toThrow(TypeError);
    const tgeo = [[1, 1, 2, 2], [1, 1, 3, 3], [2, 2], [0, 0], [1, 1], [1, 1], 1];
    expect(f('convTranspose2dForward', ...tgeo, buf(4), buf(9), null, buf(36))).toBeUndefined();
    expect(() => f('convTranspose2dForward', ...tgeo, buf(4), buf(9), null, buf(35))).toThrow(RangeError);
    expect(() => f('convTranspose2dForward', [1, 1, 2, 2], [1, 1, 3, 3], [2, 2], [0, 0], [2, 0], [1, 1], 1, buf(4), buf(9), null, buf(49))).toThrow(/outputPadding/);
    expect(() => f('convTranspose2dBackwardData', ...tgeo, buf(36), buf(9), buf(5))).toThrow(RangeError);
    expect(() => f('convTranspose2dBackwardWeight', ...tgeo, buf(4), buf(36), buf(9), buf(2))).toThrow(RangeError);
    expect(() => f('conv2dForward', [1, 1, 4, 4], [1, 1, 3, 3], [2 ** 30, 1], [0, 0], [1, 1], 1, buf(16), buf(9), null, buf(2))).toThrow(RangeError);
  });
});
