// The sparse-gradient convolution backward (native/cpu/conv_sparse.*): with a mostly-zero output
// gradient (behind a max pool or a relu) conv2d's input, weight and bias gradients visit only
// the nonzero entries. Checked, on each instruction set (portable, AVX2, AVX-512: the best the
// CPU has up to each), against a double-precision direct-loop reference and against the dense
// kernels, on ragged shapes: widths around the 8/16-lane vectors and the 16/64-column input-row
// chunks, rows of im2col longer than one 256-float register block, strides, paddings, outputs
// narrower than the padded input (stride remainders).
//
// Tolerance: every gradient element is a sum of products t_i; float32 results must agree with
// the double reference within 2e-5 · Σ|t_i| + 1e-6 (a missing or doubled term is off by |t_i|).
import { afterEach, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { seeded } from './helpers/seeded';

const setConvSparse = addon.setConvSparse as (enabled: boolean, force: boolean, maxIsa: number) => void;
const { seed, gen, randInt, randomArray } = seeded();

interface Shape { N: number; Cin: number; Cout: number; H: number; W: number; k: number; stride: number; pad: number }

function outSize(s: Shape): [number, number] {
  return [Math.floor((s.H + 2 * s.pad - s.k) / s.stride) + 1, Math.floor((s.W + 2 * s.pad - s.k) / s.stride) + 1];
}

/** dy with `zeros` of its entries 0: 'pool' keeps one random position of each 2x2 window. */
function sparseGrad(s: Shape, zeros: number | 'pool'): Float32Array {
  const [OH, OW] = outSize(s);
  const g = randomArray(s.N * s.Cout * OH * OW);
  for (let p = 0; p < s.N * s.Cout; p++) {
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const keep = zeros === 'pool'
          ? (i & 1) === (p + (j >> 1)) % 2 && (j & 1) === ((p + (i >> 1)) >> 1) % 2
          : gen.uniform() >= zeros;
        if (!keep) g[(p * OH + i) * OW + j] = 0;
      }
    }
  }
  return g;
}

interface Grads { dx: Float32Array; dw: Float32Array; db: Float32Array }
interface Reference { value: Float64Array; scale: Float64Array }

/** Direct loops in double: each gradient and the sum of |terms| behind each element. */
function reference(s: Shape, x: Float32Array, w: Float32Array, dy: Float32Array): { dx: Reference; dw: Reference; db: Reference } {
  const [OH, OW] = outSize(s);
  const dx = { value: new Float64Array(x.length), scale: new Float64Array(x.length) };
  const dw = { value: new Float64Array(w.length), scale: new Float64Array(w.length) };
  const db = { value: new Float64Array(s.Cout), scale: new Float64Array(s.Cout) };
  for (let n = 0; n < s.N; n++) {
    for (let co = 0; co < s.Cout; co++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const g = dy[((n * s.Cout + co) * OH + oh) * OW + ow];
          db.value[co] += g;
          db.scale[co] += Math.abs(g);
          for (let ci = 0; ci < s.Cin; ci++) {
            for (let kh = 0; kh < s.k; kh++) {
              const ih = oh * s.stride - s.pad + kh;
              if (ih < 0 || ih >= s.H) continue;
              for (let kw = 0; kw < s.k; kw++) {
                const iw = ow * s.stride - s.pad + kw;
                if (iw < 0 || iw >= s.W) continue;
                const xi = ((n * s.Cin + ci) * s.H + ih) * s.W + iw;
                const wi = ((co * s.Cin + ci) * s.k + kh) * s.k + kw;
                dx.value[xi] += g * w[wi];
                dx.scale[xi] += Math.abs(g * w[wi]);
                dw.value[wi] += g * x[xi];
                dw.scale[wi] += Math.abs(g * x[xi]);
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw, db };
}

function expectClose(got: Float32Array, ref: Reference, label: string): void {
  let worst = 0, at = -1;
  for (let i = 0; i < got.length; i++) {
    const excess = Math.abs(got[i] - ref.value[i]) - (2e-5 * ref.scale[i] + 1e-6);
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  if (at >= 0) throw new Error(`${label}: element ${at} is ${got[at]}, reference ${ref.value[at]} (terms ${ref.scale[at]}); seed ${seed}`);
}

/** conv2d's three gradients for dy through autograd, with the sparse path set as given. */
function gradients(s: Shape, x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array, mode: [boolean, boolean, number]): Grads {
  setConvSparse(...mode);
  const xt = hn.tensor(x, { shape: [s.N, s.Cin, s.H, s.W], requiresGrad: true });
  const wt = hn.tensor(w, { shape: [s.Cout, s.Cin, s.k, s.k], requiresGrad: true });
  const bt = hn.tensor(b, { requiresGrad: true });
  const y = hn.F.conv2d(xt, wt, bt, { stride: s.stride, padding: s.pad });
  y.backward(hn.tensor(dy, { shape: [...y.shape] }));
  return { dx: xt.grad!.data as Float32Array, dw: wt.grad!.data as Float32Array, db: bt.grad!.data as Float32Array };
}

const ISAS: [string, number][] = [['portable', 0], ['avx2', 1], ['avx512', 2]];
const DENSE: [boolean, boolean, number] = [false, false, 2];

describe(`sparse-gradient conv2d backward (seed ${seed})`, () => {
  afterEach(() => setConvSparse(true, false, 2));

  it('equals the double reference and the dense kernels on every instruction set, ragged shapes and sparsities', () => {
    const shapes: Shape[] = [
      // The MultiMNIST LeNet's layers (1->10 and 10->20, 5x5) at a small batch.
      { N: 3, Cin: 1, Cout: 10, H: 28, W: 28, k: 5, stride: 1, pad: 0 },
      { N: 3, Cin: 10, Cout: 20, H: 12, W: 12, k: 5, stride: 1, pad: 0 },
      // im2col rows of 270 floats (two register blocks), padding, 17-wide rows.
      { N: 2, Cin: 30, Cout: 7, H: 9, W: 15, k: 3, stride: 1, pad: 1 },
      // Padded input rows wider than 16 and than 64 columns (chunked column sums), stride 2
      // and 3 with remainders, a 1x1 kernel, a kernel as large as the padded input.
      { N: 2, Cin: 3, Cout: 5, H: 7, W: 41, k: 3, stride: 1, pad: 1 },
      { N: 1, Cin: 2, Cout: 3, H: 5, W: 70, k: 4, stride: 2, pad: 2 },
      { N: 2, Cin: 4, Cout: 6, H: 11, W: 10, k: 3, stride: 3, pad: 0 },
      { N: 3, Cin: 5, Cout: 9, H: 6, W: 7, k: 1, stride: 1, pad: 0 },
      { N: 1, Cin: 2, Cout: 4, H: 3, W: 4, k: 5, stride: 1, pad: 2 },
      // A tall narrow plane: more positions than one block of the narrow input-row sums.
      { N: 1, Cin: 2, Cout: 3, H: 140, W: 12, k: 3, stride: 1, pad: 1 },
    ];
    for (let t = 0; t < 4; t++) {
      const k = randInt(1, 5);
      shapes.push({ N: randInt(1, 4), Cin: randInt(1, 12), Cout: randInt(1, 21), H: randInt(k, 19), W: randInt(k, 37), k, stride: randInt(1, 3), pad: randInt(0, Math.min(2, k - 1)) });
    }
    for (const s of shapes) {
      const x = randomArray(s.N * s.Cin * s.H * s.W), w = randomArray(s.Cout * s.Cin * s.k * s.k), b = randomArray(s.Cout);
      for (const zeros of ['pool', 0.9, 0] as const) {
        const dy = sparseGrad(s, zeros);
        const ref = reference(s, x, w, dy);
        const dense = gradients(s, x, w, b, dy, DENSE);
        const label = `N${s.N} Cin${s.Cin} Cout${s.Cout} ${s.H}x${s.W} k${s.k} s${s.stride} p${s.pad} zeros ${zeros}`;
        for (const [isa, level] of ISAS) {
          const sparse = gradients(s, x, w, b, dy, [true, true, level]);
          for (const name of ['dx', 'dw', 'db'] as const) {
            expectClose(sparse[name], ref[name], `${label} ${isa} ${name}`);
            expectClose(dense[name], ref[name], `${label} dense ${name}`);
          }
        }
        // Automatic choice (sparse only when dy is sparse enough): the same gradients.
        const auto = gradients(s, x, w, b, dy, [true, false, 2]);
        for (const name of ['dx', 'dw', 'db'] as const) expectClose(auto[name], ref[name], `${label} auto ${name}`);
      }
    }
  });

  it('is deterministic (static split of the images, sums in a fixed order)', () => {
    const s: Shape = { N: 9, Cin: 10, Cout: 20, H: 12, W: 12, k: 5, stride: 1, pad: 0 };
    const x = randomArray(s.N * s.Cin * s.H * s.W), w = randomArray(s.Cout * s.Cin * 25), b = randomArray(s.Cout);
    const dy = sparseGrad(s, 'pool');
    const first = gradients(s, x, w, b, dy, [true, true, 2]);
    const second = gradients(s, x, w, b, dy, [true, true, 2]);
    expect(Array.from(second.dx)).toEqual(Array.from(first.dx));
    expect(Array.from(second.dw)).toEqual(Array.from(first.dw));
    expect(Array.from(second.db)).toEqual(Array.from(first.db));
  });

  it('keeps the dense semantics of non-finite values: 0 * inf in x or w, NaN in dy', () => {
    const s: Shape = { N: 2, Cin: 3, Cout: 4, H: 8, W: 9, k: 3, stride: 1, pad: 1 };
    const x = randomArray(s.N * s.Cin * s.H * s.W), w = randomArray(s.Cout * s.Cin * 9), b = randomArray(s.Cout);
    const dy = sparseGrad(s, 'pool');
    const nanPattern = (a: Float32Array): string => Array.from(a, (v) => (Number.isNaN(v) ? 'n' : '.')).join('');
    const cases: [string, Float32Array, Float32Array, Float32Array][] = [];
    const xInf = x.slice();
    xInf[37] = Infinity; // dense: 0 * inf = NaN reaches dw through the zero entries of dy
    cases.push(['inf in x', xInf, w, dy]);
    const wInf = w.slice();
    wInf[5] = -Infinity; // the same for dx
    cases.push(['inf in w', x, wInf, dy]);
    const dyNan = dy.slice();
    dyNan[dy.findIndex((v) => v !== 0)] = NaN; // a NaN entry is nonzero: it reaches both paths
    cases.push(['NaN in dy', x, w, dyNan]);
    for (const [label, xs, ws, g] of cases) {
      const dense = gradients(s, xs, ws, b, g, DENSE);
      const sparse = gradients(s, xs, ws, b, g, [true, true, 2]);
      for (const name of ['dx', 'dw', 'db'] as const) {
        expect(nanPattern(sparse[name]), `${label} ${name}`).toBe(nanPattern(dense[name]));
        expect(nanPattern(dense[name]).includes('n') || name === 'db' || label !== 'NaN in dy', `${label} ${name} has NaN`).toBe(true);
      }
    }
  });

  it('a conv -> maxPool2d -> relu stage trains with the same gradients as the dense kernels', () => {
    const x = hn.tensor(randomArray(4 * 3 * 14 * 13), { shape: [4, 3, 14, 13], requiresGrad: true });
    const w = hn.tensor(randomArray(8 * 3 * 9), { shape: [8, 3, 3, 3], requiresGrad: true });
    const b = hn.tensor(randomArray(8), { requiresGrad: true });
    const run = (mode: [boolean, boolean, number]): Float32Array[] => {
      setConvSparse(...mode);
      for (const t of [x, w, b]) t.grad = null;
      const y = hn.F.relu(hn.F.maxPool2d(hn.F.conv2d(x, w, b, { padding: 1 }), { kernelSize: 2 }));
      y.sum().backward();
      return [x.grad!.data, w.grad!.data, b.grad!.data] as Float32Array[];
    };
    const dense = run(DENSE);
    const auto = run([true, false, 2]);
    dense.forEach((d, i) => {
      let worst = 0, scale = 0;
      for (let j = 0; j < d.length; j++) {
        worst = Math.max(worst, Math.abs(d[j] - auto[i][j]));
        scale = Math.max(scale, Math.abs(d[j]));
      }
      expect(worst, `gradient ${i}`).toBeLessThanOrEqual(1e-5 * scale + 1e-6);
    });
  });
});
