// The kernels written for K3/K6/K2 of issue 7 against the plain paths they replace, on random
// shapes whose sizes are not multiples of the vector width (8 or 16 floats) or of the register
// tiles, for every instruction set that has its own code:
// - the 2x2/stride-2 max-pool gradient (AVX2 and portable) against a reference scatter, and its
//   index check (the kernel checks the indices in its own pass; the binding names the first bad
//   one);
// - the channel-vectorised AVX-512 weight gradient against the AVX-512 position tiles, the AVX2
//   path (im2col + SGEMM) and the portable one;
// - the Winograd F(2x2, 3x3) forward, input and weight gradients against the direct AVX-512
//   kernels, the AVX2 path and the portable one (odd output sizes cut the last 2x2 tiles;
//   channel counts around the 16-lane vectors and 3-vector blocks; the 8-tile products padded);
// - the direct AVX-512 tiles of 4 channels x 96 positions (at most 4 output channels: K2's input
//   gradient) against im2col + SGEMM and the portable path.
import { afterEach, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { maxAbsDiff, randomInput } from './helpers/gradcheck';

const seed = Date.now() % 100000;
const gen = new hn.Generator(seed);
const randInt = (lo: number, hi: number): number => lo + Math.floor(gen.uniform() * (hi - lo + 1));

const randomArray = (n: number): Float32Array => randomInput(gen, [n], false).data as Float32Array;

type Switch = (on: boolean) => void;
const setConvDirect = addon.setConvDirect as Switch;
const setConvDirect512 = addon.setConvDirect512 as Switch;
const setConvWgrad512 = addon.setConvWgrad512 as Switch;
const setConvWinograd = addon.setConvWinograd as Switch;

function resetSwitches(): void {
  hn.setForcePortable(false);
  setConvDirect(true);
  setConvDirect512(true);
  setConvWgrad512(true);
  setConvWinograd(true);
}

/** max |a - b| relative to the largest |b|: summation order differs between the paths. */
function relDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  return maxAbsDiff(a, b) / scale;
}

describe(`small-plane kernels against the plain paths (seed ${seed})`, () => {
  afterEach(resetSwitches);

  it('maxPool2d 2x2 stride 2 backward: AVX2 and portable equal a reference scatter on ragged widths', () => {
    for (let trial = 0; trial < 10; trial++) {
      // Output widths 1..20 cover the 8-window vector loop, its tail, and no vector at all.
      const N = randInt(1, 3), C = randInt(1, 4), H = randInt(2, 19), W = randInt(2, 41);
      const ceilMode = trial % 4 === 3;
      const x = randomArray(N * C * H * W);
      // Ties: most windows repeat a value, so the first-maximum rule decides the argmax.
      if (trial % 2 === 0) for (let i = 0; i < x.length; i++) x[i] = Math.round(2 * x[i]);
      const results = [false, true].map((portable) => {
        hn.setForcePortable(portable);
        const input = hn.tensor(x, { shape: [N, C, H, W], requiresGrad: true });
        const y = hn.F.maxPool2d(input, { kernelSize: 2, ceilMode });
        const g = Float32Array.from({ length: y.numel }, (_, i) => i + 1);
        y.backward(hn.tensor(g, { shape: [...y.shape] }));
        return { y, grad: input.grad!.data as Float32Array, g };
      });
      const [fast, portable] = results;
      // Reference: each output gradient goes to the first maximum of its window.
      const [oh, ow] = [fast.y.shape[2], fast.y.shape[3]];
      const expected = new Float32Array(x.length);
      for (let p = 0; p < N * C; p++) {
        for (let i = 0; i < oh; i++) {
          for (let j = 0; j < ow; j++) {
            let best = -Infinity, at = -1;
            for (let di = 0; di < 2; di++) {
              for (let dj = 0; dj < 2; dj++) {
                const r = 2 * i + di, c = 2 * j + dj;
                if (r >= H || c >= W) continue;
                const v = x[p * H * W + r * W + c];
                if (at < 0 || v > best) {
                  best = v;
                  at = r * W + c;
                }
              }
            }
            expected[p * H * W + at] += fast.g[(p * oh + i) * ow + j];
          }
        }
      }
      const label = `N${N} C${C} ${H}x${W} ceil ${ceilMode}`;
      expect(Array.from(fast.grad), label).toEqual(Array.from(expected));
      expect(Array.from(portable.grad), label).toEqual(Array.from(expected));
    }
  });

  it('maxPool2d backward binding: an index out of its plane is a RangeError naming the first one, on every path', () => {
    const f = addon.maxPool2dBackward as (...args: unknown[]) => void;
    // [N, C, H, W], kernel, stride, padding: the 2x2 fast path (odd width) and the general scatter.
    const cases: [number[], number[], number[], number[]][] = [
      [[2, 3, 6, 37], [2, 2], [2, 2], [0, 0]],
      [[2, 3, 6, 37], [3, 3], [2, 2], [1, 1]],
    ];
    for (const portable of [false, true]) {
      hn.setForcePortable(portable);
      for (const [shape, k, s, p] of cases) {
        const x = hn.randn(shape);
        const y = hn.F.maxPool2d(x, { kernelSize: k as [number, number], stride: s as [number, number], padding: p as [number, number] });
        const outN = y.numel, plane = shape[2] * shape[3];
        const indices = new Int32Array(outN);
        for (let i = 0; i < outN; i++) indices[i] = i % plane;
        const args = [new Float32Array(outN), indices, shape, k, s, p, [1, 1], false, new Float32Array(x.numel)];
        // Positions in a row's vector loop (ow 15 of 18), its tail (ow 17) and the first window.
        for (const bad of [outN - 3, outN - 1, 0]) {
          for (const value of [plane, -2, 2 ** 31 - 1]) {
            const saved = indices[bad];
            indices[bad] = value;
            expect(() => f(...args), `${portable ? 'portable' : 'fast'} k${k[0]} at ${bad} = ${value}`)
              .toThrow(new RegExp(`indices\\[${bad}\\]`));
            indices[bad] = saved;
          }
        }
        indices[outN - 1] = -1;
        expect(() => f(...args)).not.toThrow();
      }
    }
  });

  // conv2d's three gradients under each weight-gradient path, on the same inputs.
  const modes: [string, () => void][] = [
    ['portable', () => hn.setForcePortable(true)],
    ['avx2 (im2col + SGEMM)', () => setConvDirect512(false)],
    ['avx512 position tiles', () => setConvWgrad512(false)],
    ['avx512 channel tiles', () => undefined],
  ];

  it('conv2d weight gradient: the channel-vectorised AVX-512 kernel agrees with every other path', () => {
    // [N, Cin, Cout, H, W, k, pad]: output channels around the 16-lane vectors and the 3-vector
    // blocks (5, 20, 37, 50, 64, 130), kernels 3x3 (one tile per input channel) and 5x5 (a tile
    // per kernel row), paddings 0..2, planes from 1x1 to 35 wide; per-thread image ranges (most
    // shapes), and image groups (one image, or a large matrix) with few tiles (the images split
    // into parts) or large images (the batch in several groups). db is summed by this kernel.
    const shapes: number[][] = [
      [3, 5, 37, 9, 11, 3, 1], [2, 3, 64, 13, 13, 3, 0], [1, 7, 20, 8, 8, 5, 2], [4, 2, 5, 6, 7, 3, 2],
      [2, 9, 50, 6, 6, 3, 1], [3, 17, 130, 5, 4, 3, 1], [1, 1, 16, 3, 35, 3, 1], [2, 4, 33, 1, 1, 3, 1],
      [3, 48, 4, 120, 123, 3, 1], [5, 6, 24, 10, 9, 5, 0],
      // A (ci, tap) x channel matrix too large for per-thread partial sums: image groups.
      [2, 60, 130, 6, 7, 3, 1],
    ];
    for (let trial = 0; trial < 4; trial++) {
      const k = trial % 2 === 0 ? 3 : 5;
      shapes.push([randInt(1, 4), randInt(1, 20), randInt(1, 70), randInt(k, 17), randInt(k, 19), k, randInt(0, 2)]);
    }
    for (const [N, Cin, Cout, H, W, k, pad] of shapes) {
      const x = randomArray(N * Cin * H * W), w = randomArray(Cout * Cin * k * k), b = randomArray(Cout);
      const results = modes.map(([, set]) => {
        resetSwitches();
        set();
        const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const wt = hn.tensor(w, { shape: [Cout, Cin, k, k], requiresGrad: true });
        const bt = hn.tensor(b, { requiresGrad: true });
        const y = hn.F.conv2d(xt, wt, bt, { padding: pad });
        y.backward(hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.sin(0.37 * i)), { shape: [...y.shape] }));
        return [xt.grad!.data, wt.grad!.data, bt.grad!.data] as Float32Array[];
      });
      const label = `N${N} Cin${Cin} Cout${Cout} ${H}x${W} k${k} pad ${pad}`;
      for (let m = 1; m < modes.length; m++) {
        ['dx', 'dw', 'db'].forEach((what, i) => {
          // float32 sums over up to N*H*W terms in different orders.
          expect(relDiff(results[m][i], results[0][i]), `${label} ${modes[m][0]} ${what}`).toBeLessThan(2e-5);
        });
      }
    }
  });

  it('conv2d Winograd F(2x2, 3x3): forward, input and weight gradients agree with every other path', () => {
    const paths: [string, () => void][] = [
      ['portable', () => hn.setForcePortable(true)],
      ['avx2 (im2col + SGEMM)', () => setConvDirect512(false)],
      ['avx512 direct', () => setConvWinograd(false)],
      ['avx512 winograd', () => undefined],
    ];
    // [N, Cin, Cout, H, W, pad]: 16+ channels, planes up to 32x32; odd sizes leave the last tile
    // row/column half outside the output.
    const shapes: number[][] = [
      [4, 16, 16, 8, 8, 1], [5, 17, 33, 7, 9, 1], [4, 40, 16, 11, 5, 0], [6, 16, 50, 3, 3, 2],
      [4, 24, 20, 16, 15, 1], [7, 35, 18, 1, 2, 1], [4, 16, 130, 4, 6, 2],
      // 32+ channels both ways: the weight gradient too (partial sums per thread, 16x16 planes).
      [4, 33, 35, 9, 7, 1], [5, 48, 32, 16, 16, 0], [4, 32, 40, 5, 5, 2], [9, 32, 32, 3, 4, 1],
      // Planes whose transformed operands do not fit the budget: bands of tile rows (a short
      // last band) in the forward and the input gradient...
      [4, 48, 40, 25, 31, 1], [4, 16, 24, 30, 29, 2],
      // ... and for the weight gradient too (two bands, the second of one tile row).
      [4, 112, 100, 20, 32, 1],
      // Fewer than two images per thread: the forward splits each image's tile rows between the
      // threads (the gradients take the direct kernels), with odd planes and one tile row.
      [1, 16, 16, 8, 8, 1], [1, 17, 33, 15, 13, 1], [3, 24, 20, 16, 15, 1], [1, 48, 40, 25, 31, 1],
      [2, 16, 130, 4, 6, 2], [1, 20, 18, 3, 9, 0],
    ];
    for (let trial = 0; trial < 3; trial++) {
      shapes.push([randInt(4, 7), randInt(16, 40), randInt(16, 40), randInt(3, 16), randInt(3, 16), randInt(0, 2)]);
    }
    for (const [N, Cin, Cout, H, W, pad] of shapes) {
      const x = randomArray(N * Cin * H * W), w = randomArray(Cout * Cin * 9), b = randomArray(Cout);
      const results = paths.map(([, set]) => {
        resetSwitches();
        set();
        const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const wt = hn.tensor(w, { shape: [Cout, Cin, 3, 3], requiresGrad: true });
        const bt = hn.tensor(b, { requiresGrad: true });
        const y = hn.F.conv2d(xt, wt, bt, { padding: pad });
        const noBias = hn.noGrad(() => hn.F.conv2d(xt, wt, null, { padding: pad }));
        y.backward(hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.cos(0.41 * i)), { shape: [...y.shape] }));
        // A stride-1 transposed convolution's input gradient is this convolution's forward.
        const xT = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const wT = hn.tensor(w, { shape: [Cin, Cout, 3, 3] });
        const yT = hn.F.convTranspose2d(xT, wT, null, { padding: 1 });
        yT.backward(hn.tensor(Float32Array.from({ length: yT.numel }, (_, i) => Math.sin(0.23 * i)), { shape: [...yT.shape] }));
        return [y.data, noBias.data, xt.grad!.data, wt.grad!.data, bt.grad!.data, xT.grad!.data] as Float32Array[];
      });
      const label = `N${N} Cin${Cin} Cout${Cout} ${H}x${W} pad ${pad}`;
      for (let m = 1; m < paths.length; m++) {
        ['y', 'y without bias', 'dx', 'dw', 'db', 'convTranspose2d dx'].forEach((what, i) => {
          // Winograd's transforms add and halve: a few float32 roundings of the largest partial sums.
          expect(relDiff(results[m][i], results[0][i]), `${label} ${paths[m][0]} ${what}`).toBeLessThan(2e-5);
        });
      }
    }
  });

  it('direct AVX-512 4-channel tiles (outputs or input gradients of at most 4 channels) agree with the other paths', () => {
    const paths: [string, () => void][] = [
      ['portable', () => hn.setForcePortable(true)],
      ['avx2 (im2col + SGEMM)', () => setConvDirect512(false)],
      ['avx512 direct', () => undefined],
    ];
    // [N, Cin, Cout, H, W, k, pad]: widths that are multiples of 16 (compact tiles, whose last
    // 1-5 vectors go in narrower tiles) and widths that are not (flattened rows).
    const shapes: number[][] = [
      [2, 5, 3, 16, 16, 3, 1], [1, 7, 1, 32, 32, 3, 1], [2, 3, 4, 9, 13, 3, 1], [3, 64, 2, 8, 16, 3, 1],
      [2, 2, 3, 11, 16, 5, 2], [1, 40, 3, 5, 48, 3, 1], [2, 3, 9, 20, 32, 3, 1], [3, 1, 6, 17, 19, 5, 0],
    ];
    for (const [N, Cin, Cout, H, W, k, pad] of shapes) {
      const x = randomArray(N * Cin * H * W), w = randomArray(Cout * Cin * k * k), b = randomArray(Cout);
      const results = paths.map(([, set]) => {
        resetSwitches();
        set();
        const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const wt = hn.tensor(w, { shape: [Cout, Cin, k, k] });
        const y = hn.F.conv2d(xt, wt, hn.tensor(b), { padding: pad });
        y.backward(hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.sin(0.19 * i)), { shape: [...y.shape] }));
        return [y.data, xt.grad!.data] as Float32Array[];
      });
      const label = `N${N} Cin${Cin} Cout${Cout} ${H}x${W} k${k} pad ${pad}`;
      for (let m = 1; m < paths.length; m++) {
        ['y', 'dx'].forEach((what, i) => {
          expect(relDiff(results[m][i], results[0][i]), `${label} ${paths[m][0]} ${what}`).toBeLessThan(2e-5);
        });
      }
    }
  });

  it('Winograd leaves non-finite operands to the direct kernels: NaN and infinities land where PyTorch puts them', () => {
    const [N, C, H, W] = [4, 16, 8, 9];
    const x = randomArray(N * C * H * W), w = randomArray(C * C * 9);
    const dyValues = Float32Array.from({ length: N * C * H * W }, (_, i) => Math.sin(0.3 * i));
    const cases: [string, (xs: Float32Array, ws: Float32Array, gs: Float32Array) => void][] = [
      ['x with +inf and -inf in one tile', (xs) => { xs[3 * W + 2] = Infinity; xs[3 * W + 3] = -Infinity; }],
      ['x with a NaN at a tile corner', (xs) => { xs[2 * H * W + 5 * W + 5] = NaN; }],
      ['w with an infinity', (_xs, ws) => { ws[40] = Infinity; }],
      ['dy with an infinity', (_xs, _ws, gs) => { gs[7] = -Infinity; }],
    ];
    // The same NaNs and infinities; finite values within the paths' rounding (an operand that is
    // finite throughout still takes Winograd, e.g. dx when only x holds an infinity).
    const same = (a: Float32Array, b: Float32Array): boolean => {
      let scale = 1e-6;
      for (const v of b) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
      return a.every((v, i) => (Number.isFinite(v) && Number.isFinite(b[i]) ? Math.abs(v - b[i]) <= 2e-5 * scale
        : Object.is(v, b[i]) || (Number.isNaN(v) && Number.isNaN(b[i]))));
    };
    for (const [label, poison] of cases) {
      const xs = Float32Array.from(x), ws = Float32Array.from(w), gs = Float32Array.from(dyValues);
      poison(xs, ws, gs);
      const results = [true, false].map((winograd) => {
        resetSwitches();
        setConvWinograd(winograd);
        const xt = hn.tensor(xs, { shape: [N, C, H, W], requiresGrad: true });
        const wt = hn.tensor(ws, { shape: [C, C, 3, 3], requiresGrad: true });
        const y = hn.F.conv2d(xt, wt, null, { padding: 1 });
        y.backward(hn.tensor(gs, { shape: [...y.shape] }));
        return [y.data, xt.grad!.data, wt.grad!.data] as Float32Array[];
      });
      ['y', 'dx', 'dw'].forEach((what, i) => expect(same(results[0][i], results[1][i]), `${label}: ${what}`).toBe(true));
    }
  });
});
