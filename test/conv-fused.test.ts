// The inference fast paths of W1 (issue 7) against the plain paths they replace, on ragged shapes
// (widths that are not multiples of the 8-pixel store groups or 16-lane vectors, odd channel
// counts around the 2-channel pairs and 8/12-channel blocks, odd planes for the 2x2 pool):
// - the direct AVX-512 convolution's compact tiles (output widths that are multiples of 16);
// - the 2x2/stride-2 transposed convolution kernel (AVX-512) against im2col + SGEMM + col2im
//   and the portable kernels, forward (with and without bias) and every gradient, and the
//   stride-2 convolution input gradient that runs on it;
// - conv2dFused / convTranspose2dFused (relu, relu + 2x2 max pool in the kernel's store) against
//   the ops run one by one: bit-identical on every kernel path (the same sums, then the same
//   exact max and relu), NaN and -0 included; the unfused fallback when a gradient is needed;
// - nn.Sequential taking the fused calls under noGrad.
import { afterEach, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { conv2dFused, convTranspose2dFused } from '../lib/ops/conv';
import { addon } from '../lib/native';
import { maxAbsDiff, randomInput } from './helpers/gradcheck';

const seed = Date.now() % 100000;
const gen = new hn.Generator(seed);
const randInt = (lo: number, hi: number): number => lo + Math.floor(gen.uniform() * (hi - lo + 1));
/** n values uniform in [-1, 1). */
const randomArray = (n: number): Float32Array => randomInput(gen, [n], false).data as Float32Array;

const setDirect = (on: boolean): void => (addon.setConvDirect as (on: boolean) => void)(on);
const setDirect512 = (on: boolean): void => (addon.setConvDirect512 as (on: boolean) => void)(on);

// Kernel paths: the AVX-512 kernels where the CPU has them, the AVX2 im2col + SGEMM path, and
// the portable kernels.
const modes: [string, () => void][] = [
  ['auto', () => { hn.setForcePortable(false); setDirect(true); setDirect512(true); }],
  ['im2col', () => { hn.setForcePortable(false); setDirect(true); setDirect512(false); }],
  ['portable', () => { hn.setForcePortable(true); }],
];

function relClose(a: Float32Array, b: Float32Array, label: string): void {
  expect(a.length, label).toBe(b.length);
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  // Summation order differs between the paths: float32 rounding, relative to the largest value.
  expect(maxAbsDiff(a, b) / scale, label).toBeLessThan(2e-5);
}

/** Bit-identical, NaN where NaN (Object.is: +0 and -0 differ). */
function identical(a: Float32Array, b: Float32Array, label: string): void {
  expect(a.length, label).toBe(b.length);
  const bad: string[] = [];
  for (let i = 0; i < a.length && bad.length < 5; i++) {
    if (!(Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) bad.push(`[${i}] ${a[i]} vs ${b[i]}`);
  }
  expect(bad, label).toEqual([]);
}

describe(`W1 inference fast paths against the plain ones (seed ${seed})`, () => {
  afterEach(() => modes[0][1]());

  it('convTranspose2d k2 s2: forward (bias or none) and every gradient on every kernel path', () => {
    // [N, Cin, Cout, H, W]: W around the 8-pixel groups (rows narrower than a group, a group
    // spanning rows), Cout around the channel pairs, planes around the 48-pixel tiles.
    const shapes: number[][] = [
      [2, 128, 64, 8, 8], [1, 64, 11, 16, 16], [3, 5, 1, 3, 5], [2, 7, 3, 1, 1], [1, 3, 2, 5, 13],
      [2, 9, 5, 7, 4], [1, 17, 4, 9, 24], [2, 2, 7, 6, 17], [1, 33, 9, 4, 3],
    ];
    for (let trial = 0; trial < 4; trial++) shapes.push([randInt(1, 3), randInt(1, 20), randInt(1, 13), randInt(1, 12), randInt(1, 19)]);
    for (const [N, Cin, Cout, H, W] of shapes) {
      const x = randomArray(N * Cin * H * W), w = randomArray(Cin * Cout * 4), b = randomArray(Cout);
      const results = modes.map(([, set]) => {
        set();
        const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const wt = hn.tensor(w, { shape: [Cin, Cout, 2, 2], requiresGrad: true });
        const bt = hn.tensor(b, { requiresGrad: true });
        const y = hn.F.convTranspose2d(xt, wt, bt, { stride: 2 });
        const noBias = hn.noGrad(() => hn.F.convTranspose2d(xt, wt, null, { stride: 2 }));
        y.backward(hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.sin(0.37 * i)), { shape: [...y.shape] }));
        return [y.data, noBias.data, xt.grad!.data, wt.grad!.data, bt.grad!.data] as Float32Array[];
      });
      const label = `N${N} Cin${Cin} Cout${Cout} ${H}x${W}`;
      for (let m = 1; m < modes.length; m++) {
        ['y', 'y without bias', 'dx', 'dw', 'db'].forEach((what, i) => relClose(results[0][i], results[m][i], `${label} auto vs ${modes[m][0]} ${what}`));
      }
    }
  });

  it('conv2d k2 s2 input gradient (the same kernel, transposed) on every kernel path', () => {
    for (const [N, Cin, Cout, H, W] of [[2, 5, 3, 8, 6], [1, 11, 7, 10, 34], [3, 2, 9, 4, 2]]) {
      const x = randomArray(N * Cin * H * W), w = randomArray(Cout * Cin * 4);
      const grads = modes.map(([, set]) => {
        set();
        const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const y = hn.F.conv2d(xt, hn.tensor(w, { shape: [Cout, Cin, 2, 2] }), null, { stride: 2 });
        y.backward(hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.cos(0.3 * i)), { shape: [...y.shape] }));
        return xt.grad!.data as Float32Array;
      });
      for (let m = 1; m < modes.length; m++) relClose(grads[0], grads[m], `N${N} Cin${Cin} Cout${Cout} ${H}x${W} auto vs ${modes[m][0]}`);
    }
  });

  it('direct AVX-512 compact tiles (output width a multiple of 16): forward and every gradient against im2col and portable', () => {
    // Plane sizes whose last tile holds 16 or 32 positions (out_h*out_w mod 48), channel counts
    // for the 8- and the 12-channel blocks, and the input gradient (its width too a multiple of 16).
    const shapes: number[][] = [
      [1, 3, 5, 2, 16, 3, 1], [2, 4, 12, 5, 16, 3, 1], [1, 2, 24, 1, 32, 3, 1], [2, 5, 13, 3, 48, 5, 2],
      [1, 7, 8, 7, 16, 1, 0], [2, 3, 36, 4, 32, 3, 1], [1, 6, 9, 6, 18, 3, 0],
      // Enough images for one padded buffer per thread reused image after image.
      [7, 3, 12, 5, 16, 3, 1], [9, 2, 5, 6, 13, 3, 2],
    ];
    for (const [N, Cin, Cout, H, W, k, pad] of shapes) {
      const x = randomArray(N * Cin * H * W), w = randomArray(Cout * Cin * k * k), b = randomArray(Cout);
      const results = modes.map(([, set]) => {
        set();
        const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const wt = hn.tensor(w, { shape: [Cout, Cin, k, k], requiresGrad: true });
        const bt = hn.tensor(b, { requiresGrad: true });
        const y = hn.F.conv2d(xt, wt, bt, { padding: pad });
        y.backward(hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.sin(0.29 * i)), { shape: [...y.shape] }));
        return [y.data, xt.grad!.data, wt.grad!.data, bt.grad!.data] as Float32Array[];
      });
      const label = `N${N} Cin${Cin} Cout${Cout} ${H}x${W} k${k} p${pad}`;
      for (let m = 1; m < modes.length; m++) {
        ['y', 'dx', 'dw', 'db'].forEach((what, i) => relClose(results[0][i], results[m][i], `${label} auto vs ${modes[m][0]} ${what}`));
      }
    }
  });

  it('conv2dFused (relu, relu + 2x2 max pool) is bit-identical to the ops run one by one, NaN and -0 included', () => {
    // [N, Cin, Cout, H, W, k, pad]: odd output planes (the pool drops the last row/column),
    // rows narrower than a vector, channel counts around the 8/12 blocks, a 1x1 kernel (no
    // direct kernel), a small plane with >= 32 channels (the channel-vectorised kernel, no
    // fused store), a stride-2 layer (im2col), Winograd layers.
    const shapes: number[][] = [
      [2, 3, 64, 32, 32, 3, 1], [1, 64, 128, 16, 16, 3, 1], [2, 3, 5, 7, 9, 3, 1], [1, 4, 13, 11, 5, 3, 0],
      [3, 2, 17, 2, 3, 2, 0], [1, 5, 9, 6, 40, 5, 2], [2, 6, 7, 5, 5, 1, 0], [1, 9, 40, 8, 8, 3, 1],
      [6, 4, 10, 9, 11, 3, 1], [8, 3, 16, 8, 16, 3, 1],
      // 3x3 on small planes with 16+ channels: Winograd (its epilogue on each output tile) when
      // x is finite, whole images per thread from 2 per thread, bands of tile rows below that
      // (batch 1-3), odd planes (a last tile row or column the pool drops).
      [5, 16, 20, 9, 11, 3, 1], [4, 17, 33, 16, 16, 3, 1], [1, 17, 33, 15, 13, 3, 1], [3, 16, 20, 9, 11, 3, 1],
      [1, 32, 16, 7, 7, 3, 0], [2, 16, 48, 6, 10, 3, 2],
    ];
    for (let trial = 0; trial < 4; trial++) {
      const k = randInt(1, 5);
      shapes.push([randInt(1, 3), randInt(1, 10), randInt(1, 30), randInt(k + 1, 20), randInt(k + 1, 37), k, randInt(0, k - 1)]);
    }
    for (const [[N, Cin, Cout, H, W, k, pad], withNaN] of shapes.flatMap((s) => [[s, true], [s, false]] as const)) {
      const x = randomArray(N * Cin * H * W), w = randomArray(Cout * Cin * k * k), b = randomArray(Cout);
      // NaN inputs (they reach whole output windows; Winograd leaves non-finite x to the direct
      // kernels) and an exact zero bias (outputs of -0 where the sum is -0: relu must turn them
      // into +0).
      if (withNaN) x[Math.floor(x.length / 3)] = NaN;
      b[0] = 0;
      for (const stride of k === 2 ? [1, 2] : [1]) {
        for (const [name, set] of modes) {
          set();
          hn.noGrad(() => {
            const xt = hn.tensor(x, { shape: [N, Cin, H, W] });
            const wt = hn.tensor(w, { shape: [Cout, Cin, k, k] });
            for (const bt of [hn.tensor(b), null]) {
              const label = `${name} N${N} Cin${Cin} Cout${Cout} ${H}x${W} k${k} p${pad} s${stride}${bt ? '' : ' no bias'}`;
              const plain = hn.F.relu(hn.F.conv2d(xt, wt, bt, { padding: pad, stride }));
              identical(conv2dFused(xt, wt, bt, { padding: pad, stride }, 'relu').data as Float32Array, plain.data as Float32Array, `${label} relu`);
              if (plain.shape[2] < 2 || plain.shape[3] < 2) continue;
              const pooled = hn.F.maxPool2d(plain, { kernelSize: 2 });
              const fused = conv2dFused(xt, wt, bt, { padding: pad, stride }, 'reluMaxPool2x2');
              expect(fused.shape, label).toEqual(pooled.shape);
              identical(fused.data as Float32Array, pooled.data as Float32Array, `${label} relu + pool`);
            }
          });
        }
      }
    }
  });

  it('convTranspose2dFused relu is bit-identical to relu(convTranspose2d), on every kernel path', () => {
    for (const [N, Cin, Cout, H, W, k, s] of [[2, 12, 7, 5, 9, 2, 2], [1, 128, 64, 8, 8, 2, 2], [2, 3, 4, 6, 3, 3, 1], [1, 5, 3, 4, 7, 4, 2]]) {
      const x = randomArray(N * Cin * H * W), w = randomArray(Cin * Cout * k * k), b = randomArray(Cout);
      x[1] = NaN;
      for (const [name, set] of modes) {
        set();
        hn.noGrad(() => {
          const xt = hn.tensor(x, { shape: [N, Cin, H, W] });
          const wt = hn.tensor(w, { shape: [Cin, Cout, k, k] });
          const bt = hn.tensor(b);
          const plain = hn.F.relu(hn.F.convTranspose2d(xt, wt, bt, { stride: s }));
          identical(convTranspose2dFused(xt, wt, bt, { stride: s }, 'relu').data as Float32Array, plain.data as Float32Array,
            `${name} N${N} Cin${Cin} Cout${Cout} ${H}x${W} k${k} s${s}`);
        });
      }
    }
  });

  it('fused forwards fall back to the recorded ops when a gradient is needed, and check their arguments', () => {
    const x = hn.tensor(randomArray(2 * 3 * 6 * 6), { shape: [2, 3, 6, 6], requiresGrad: true });
    const w = hn.tensor(randomArray(4 * 3 * 9), { shape: [4, 3, 3, 3], requiresGrad: true });
    const b = hn.tensor(randomArray(4), { requiresGrad: true });
    const fused = conv2dFused(x, w, b, { padding: 1 }, 'reluMaxPool2x2');
    expect(fused.requiresGrad).toBe(true);
    const g = hn.tensor(Float32Array.from({ length: fused.numel }, (_, i) => Math.sin(i)), { shape: [...fused.shape] });
    fused.backward(g);
    const fusedGrads = [x.grad!.data, w.grad!.data, b.grad!.data] as Float32Array[];
    for (const t of [x, w, b]) t.grad = null;
    const plain = hn.F.maxPool2d(hn.F.relu(hn.F.conv2d(x, w, b, { padding: 1 })), { kernelSize: 2 });
    plain.backward(g);
    identical(fused.data as Float32Array, plain.data as Float32Array, 'values');
    [x.grad!.data, w.grad!.data, b.grad!.data].forEach((grad, i) => identical(fusedGrads[i], grad as Float32Array, `gradient ${i}`));

    expect(() => conv2dFused(x, w, b, { padding: 1 }, 'gelu' as 'relu')).toThrow(/conv2dFused: expected epilogue to be 'relu' or 'reluMaxPool2x2'/);
    expect(() => convTranspose2dFused(x, w, null, {}, 'reluMaxPool2x2' as 'relu')).toThrow(/convTranspose2dFused: expected epilogue to be 'relu'/);
    const one = hn.tensor(randomArray(3 * 3 * 3), { shape: [1, 3, 3, 3] });
    expect(() => hn.noGrad(() => conv2dFused(one, w, b, {}, 'reluMaxPool2x2'))).toThrow(/conv2dFused: expected output size to be at least 2x2/);
    expect(() => conv2dFused(x, hn.tensor(randomArray(6), { shape: [2, 3] }), b, {}, 'relu')).toThrow(/conv2dFused: expected weight to be a 4-D tensor/);
  });

  it('the native entry points check their arguments (epilogue range, output length, pool size)', () => {
    const fusedNative = addon.conv2dForwardFused as (...args: unknown[]) => void;
    const x = new Float32Array(3 * 4 * 4), w = new Float32Array(2 * 3 * 9);
    const call = (epilogue: number, yLength: number, size = 4): void =>
      fusedNative([1, 3, size, size], [2, 3, 3, 3], [1, 1], [1, 1], [1, 1], 1, x.subarray(0, 3 * size * size), w, null, new Float32Array(yLength), epilogue);
    expect(() => call(3, 2 * 4)).toThrow(/conv2dForwardFused: expected epilogue/);
    expect(() => call(2, 2 * 16)).toThrow(/conv2dForwardFused: expected y/);
    expect(() => call(2, 2, 1)).toThrow(/conv2dForwardFused: expected output size to be at least 2x2/);
    expect(() => (addon.convTranspose2dForwardFused as (...args: unknown[]) => void)([1, 3, 4, 4], [3, 2, 2, 2], [2, 2], [0, 0], [0, 0],
      [1, 1], 1, x, new Float32Array(24), null, new Float32Array(2 * 64), 2)).toThrow(/convTranspose2dForwardFused: expected epilogue/);
    call(2, 2 * 4);
  });

  it('nn.Sequential under noGrad runs conv + relu (+ pool) fused: the same outputs as the modules one by one', () => {
    const { nn } = hn;
    hn.manualSeed(seed);
    const trunk = new nn.Sequential(
      new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(8, 12, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2, { stride: 1 }),
      new nn.ConvTranspose2d(12, 5, 2, { stride: 2 }), new nn.ReLU(), new nn.Conv2d(5, 3, 1), new nn.ReLU(),
    );
    const x = hn.tensor(randomArray(2 * 3 * 13 * 19), { shape: [2, 3, 13, 19] });
    for (const [name, set] of modes) {
      set();
      const fused = hn.noGrad(() => trunk.forward(x));
      let manual: hn.Tensor = x;
      hn.noGrad(() => { for (const m of trunk) manual = m.forward(manual) as hn.Tensor; });
      expect(fused.shape, name).toEqual(manual.shape);
      identical(fused.data as Float32Array, manual.data as Float32Array, name);
    }
  });
});
