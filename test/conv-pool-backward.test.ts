// The fused conv2d -> maxPool2d (-> relu) backward (lib/ops/conv_pool_backward.ts, native
// conv2d_pooled_backward): the gradients equal those of the nodes run one by one (the fused
// pass switched off with setConvSparse(false)), on ragged shapes, every chain it takes, windows
// other than 2x2, ties and NaN in the convolution output; relu before or after the pool gives
// bit-identical gradients; it is taken only where it may skip the intermediate tensors, and
// never in anomaly mode.
//
// Tolerance: the fused pass adds the same products in another order: 1e-5 of the largest
// gradient magnitude (float32 sums of at most a few thousand terms).
import { afterEach, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { seeded } from './helpers/seeded';
import { reluMaxPool2d } from '../lib/ops/pool';
import type { Tensor } from '../lib/tensor';

const setConvSparse = addon.setConvSparse as (enabled: boolean, force: boolean, maxIsa: number) => void;
const { seed, randInt, randomArray } = seeded();

type Chain = 'pool then relu' | 'relu then pool' | 'reluMaxPool2d' | 'pool only';

interface Case { N: number; Cin: number; Cout: number; H: number; W: number; k: number; pad: number; stride: number; pool: number; poolStride: number }

/** Counts the native fused calls that returned true while fn runs. */
function fusedCalls(fn: () => void): number {
  const original = addon.convPooledBackward as (...a: unknown[]) => boolean;
  let calls = 0;
  addon.convPooledBackward = (...a: unknown[]) => {
    const done = original(...a);
    if (done) calls++;
    return done;
  };
  try {
    fn();
  } finally {
    addon.convPooledBackward = original;
  }
  return calls;
}

function forward(c: Case, chain: Chain, x: Tensor, w: Tensor, b: Tensor): Tensor {
  const y = hn.F.conv2d(x, w, b, { padding: c.pad, stride: c.stride });
  const opts = { kernelSize: c.pool, stride: c.poolStride };
  if (chain === 'pool then relu') return hn.F.relu(hn.F.maxPool2d(y, opts));
  if (chain === 'relu then pool') return hn.F.maxPool2d(hn.F.relu(y), opts);
  if (chain === 'reluMaxPool2d') return reluMaxPool2d(y, opts);
  return hn.F.maxPool2d(y, opts);
}

/** [dx, dw, db] and whether the fused pass ran, with the fused pass on or off. */
function grads(c: Case, chain: Chain, data: Float32Array[], fused: boolean, isa = 2): { g: Float32Array[]; calls: number } {
  const x = hn.tensor(data[0], { shape: [c.N, c.Cin, c.H, c.W], requiresGrad: true });
  const w = hn.tensor(data[1], { shape: [c.Cout, c.Cin, c.k, c.k], requiresGrad: true });
  const b = hn.tensor(data[2], { requiresGrad: true });
  // Forced: every case runs the fused kernel (the automatic choice is tested on its own).
  setConvSparse(fused, fused, isa);
  const out = forward(c, chain, x, w, b);
  const seedGrad = hn.tensor(data[3].subarray(0, out.numel), { shape: [...out.shape] });
  const calls = fusedCalls(() => out.backward(seedGrad));
  return { g: [x.grad!.data, w.grad!.data, b.grad!.data] as Float32Array[], calls };
}

function expectClose(a: Float32Array, b: Float32Array, label: string): void {
  let worst = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) throw new Error(`${label}: NaN at ${i} in one only (seed ${seed})`);
  }
  expect(worst, `${label} (seed ${seed})`).toBeLessThanOrEqual(1e-5 * scale + 1e-7);
}

describe(`fused conv2d -> maxPool2d (-> relu) backward (seed ${seed})`, () => {
  afterEach(() => setConvSparse(true, false, 2));

  it('equals the node-by-node gradients on every chain, ragged shapes, windows and instruction sets', () => {
    const cases: Case[] = [
      // The MultiMNIST LeNet's two stages.
      { N: 3, Cin: 1, Cout: 10, H: 28, W: 28, k: 5, pad: 0, stride: 1, pool: 2, poolStride: 2 },
      { N: 3, Cin: 10, Cout: 20, H: 12, W: 12, k: 5, pad: 0, stride: 1, pool: 2, poolStride: 2 },
      // Odd conv outputs (the last row and column belong to no window), padding, stride 2,
      // pooled widths around the 16-window vector, 3x3 windows at stride 3 and overlapping
      // 3x3 windows at stride 2 (scalar routing; an input can receive from two windows).
      { N: 2, Cin: 3, Cout: 7, H: 9, W: 11, k: 3, pad: 1, stride: 1, pool: 2, poolStride: 2 },
      { N: 1, Cin: 2, Cout: 5, H: 6, W: 37, k: 2, pad: 0, stride: 1, pool: 2, poolStride: 2 },
      { N: 2, Cin: 4, Cout: 6, H: 13, W: 15, k: 3, pad: 1, stride: 2, pool: 2, poolStride: 2 },
      { N: 2, Cin: 3, Cout: 4, H: 11, W: 10, k: 3, pad: 1, stride: 1, pool: 3, poolStride: 3 },
      { N: 1, Cin: 2, Cout: 3, H: 9, W: 12, k: 3, pad: 0, stride: 1, pool: 3, poolStride: 2 },
    ];
    for (let t = 0; t < 3; t++) {
      const k = randInt(1, 5);
      cases.push({ N: randInt(1, 3), Cin: randInt(1, 9), Cout: randInt(1, 17), H: randInt(k + 1, 20), W: randInt(k + 1, 40), k, pad: randInt(0, Math.min(2, k - 1)), stride: 1, pool: 2, poolStride: 2 });
    }
    for (const c of cases) {
      const data = [randomArray(c.N * c.Cin * c.H * c.W), randomArray(c.Cout * c.Cin * c.k * c.k), randomArray(c.Cout), randomArray(c.N * c.Cout * c.H * c.W)];
      const relued: Float32Array[][] = [];
      for (const chain of ['pool then relu', 'relu then pool', 'reluMaxPool2d', 'pool only'] as Chain[]) {
        const plain = grads(c, chain, data, false);
        expect(plain.calls).toBe(0);
        for (const isa of [2, 1, 0]) {
          const fused = grads(c, chain, data, true, isa);
          const label = `N${c.N} Cin${c.Cin} Cout${c.Cout} ${c.H}x${c.W} k${c.k} p${c.pad} s${c.stride} pool ${c.pool}/${c.poolStride} ${chain} isa ${isa}`;
          expect(fused.calls, label).toBe(1);
          ['dx', 'dw', 'db'].forEach((name, i) => expectClose(fused.g[i], plain.g[i], `${label} ${name}`));
          if (isa === 2 && chain !== 'pool only') relued.push(fused.g);
        }
      }
      // The same entries in the same order whichever side of the pool the relu is on.
      for (const g of relued.slice(1)) g.forEach((t, i) => expect(Array.from(t)).toEqual(Array.from(relued[0][i])));
    }
  });

  it('routes ties to the first maximum and NaN as the pool does (y with plateaus and NaN)', () => {
    // A 1x1 convolution passes x through (times the channel's weight): plateaus of x become
    // ties in y; a NaN bias makes a whole channel NaN (x stays finite, so the fused pass runs).
    const c: Case = { N: 2, Cin: 1, Cout: 4, H: 9, W: 10, k: 1, pad: 0, stride: 1, pool: 2, poolStride: 2 };
    const x = new Float32Array(c.N * c.H * c.W);
    for (let i = 0; i < x.length; i++) x[i] = [0, 1, 1, -2, 3, 3][i % 6] * (i % 7 === 0 ? -1 : 1);
    const data = [x, new Float32Array([1, 2, -1, 1]), new Float32Array([0, 0.5, 0, NaN]), randomArray(c.N * 4 * c.H * c.W)];
    for (const chain of ['pool then relu', 'relu then pool', 'reluMaxPool2d', 'pool only'] as Chain[]) {
      const plain = grads(c, chain, data, false);
      for (const isa of [2, 1, 0]) {
        const fused = grads(c, chain, data, true, isa);
        expect(fused.calls).toBe(1);
        ['dx', 'dw', 'db'].forEach((name, i) => expectClose(fused.g[i], plain.g[i], `${chain} isa ${isa} ${name}`));
      }
    }
  });

  it('is not taken where an intermediate tensor has another use, keeps its gradient, or anomaly mode is on', () => {
    const x = hn.tensor(randomArray(2 * 3 * 8 * 8), { shape: [2, 3, 8, 8], requiresGrad: true });
    const w = hn.tensor(randomArray(4 * 3 * 9), { shape: [4, 3, 3, 3], requiresGrad: true });
    const run = (build: (y: Tensor) => Tensor): number => fusedCalls(() => build(hn.F.conv2d(x, w, null, { padding: 1 })).sum().backward());
    const pool = (y: Tensor): Tensor => hn.F.maxPool2d(y, { kernelSize: 2 });
    expect(run((y) => hn.F.relu(pool(y)))).toBe(1);
    // The convolution output also feeds a sum: its gradient has two parts.
    expect(run((y) => hn.F.relu(pool(y)).sum().add(y.sum()))).toBe(0);
    // The pooled tensor also used elsewhere: relu's chain is off, the pool's own still fuses.
    expect(run((y) => {
      const p = pool(y);
      return hn.F.relu(p).sum().add(p.mul(2).sum());
    })).toBe(1);
    // A retained gradient must exist afterwards.
    let kept: Tensor | null = null;
    expect(run((y) => hn.F.relu(pool(y.retainGrad())))).toBe(0);
    expect(run((y) => {
      kept = y;
      return hn.F.relu(pool(y)).sum();
    })).toBe(1);
    expect(kept!.grad).toBeNull();
    // Padding or ceil mode in the pool, dilation or groups in the conv: node by node.
    expect(fusedCalls(() => hn.F.maxPool2d(hn.F.conv2d(x, w, null, { padding: 1 }), { kernelSize: 2, ceilMode: true }).sum().backward())).toBe(0);
    expect(fusedCalls(() => hn.F.maxPool2d(hn.F.conv2d(x, w, null, { padding: 1 }), { kernelSize: 3, padding: 1 }).sum().backward())).toBe(0);
    expect(fusedCalls(() => hn.F.maxPool2d(hn.F.conv2d(x, w, null, { dilation: 2 }), { kernelSize: 2 }).sum().backward())).toBe(0);
    hn.detectAnomaly(true);
    try {
      expect(run((y) => hn.F.relu(pool(y)))).toBe(0);
    } finally {
      hn.detectAnomaly(false);
    }
  });

  it('is chosen automatically only where it measured faster: vector kernels, narrow rows and few channels for the input gradient', () => {
    const x = hn.tensor(randomArray(2 * 3 * 18 * 18), { shape: [2, 3, 18, 18], requiresGrad: true });
    const auto = (cout: number, isa: number, xGrad: boolean): number => {
      const w = hn.tensor(randomArray(cout * 27), { shape: [cout, 3, 3, 3], requiresGrad: true });
      x.requiresGrad_(xGrad);
      setConvSparse(true, false, isa);
      return fusedCalls(() => hn.F.relu(hn.F.maxPool2d(hn.F.conv2d(x, w, null, { padding: 1 }), { kernelSize: 2 })).sum().backward());
    };
    // Padded input rows of 20 columns: with an input gradient node by node, without one fused.
    expect(auto(8, 2, true)).toBe(0);
    expect(auto(8, 2, false)).toBe(1);
    expect(auto(40, 2, false)).toBe(1);
    // Not on the portable kernels.
    expect(auto(8, 0, false)).toBe(0);
    const narrow = hn.tensor(randomArray(2 * 3 * 12 * 12), { shape: [2, 3, 12, 12], requiresGrad: true });
    const w = (cout: number): Tensor => hn.tensor(randomArray(cout * 27), { shape: [cout, 3, 3, 3], requiresGrad: true });
    setConvSparse(true, false, 2);
    expect(fusedCalls(() => hn.F.relu(hn.F.maxPool2d(hn.F.conv2d(narrow, w(20), null), { kernelSize: 2 })).sum().backward())).toBe(1);
    // Many output channels: the dense kernels win with an input gradient.
    expect(fusedCalls(() => hn.F.relu(hn.F.maxPool2d(hn.F.conv2d(narrow, w(64), null), { kernelSize: 2 })).sum().backward())).toBe(0);
  });

  it('falls back to the nodes when x is not finite (0 * inf must still reach the weight gradient)', () => {
    const c: Case = { N: 3, Cin: 2, Cout: 4, H: 10, W: 9, k: 3, pad: 1, stride: 1, pool: 2, poolStride: 2 };
    const x = randomArray(c.N * c.Cin * c.H * c.W);
    x[x.length - 5] = Infinity; // in the last image: found after the others were computed
    const data = [x, randomArray(c.Cout * c.Cin * 9), randomArray(c.Cout), randomArray(c.N * c.Cout * c.H * c.W)];
    const plain = grads(c, 'pool then relu', data, false);
    const fused = grads(c, 'pool then relu', data, true);
    expect(fused.calls).toBe(0);
    const pattern = (a: Float32Array): string => Array.from(a, (v) => (Number.isNaN(v) ? 'n' : '.')).join('');
    expect(pattern(plain.g[1])).toContain('n');
    fused.g.forEach((g, i) => expect(pattern(g)).toBe(pattern(plain.g[i])));
  });

  it('a W2-like trunk trains to the same parameters with and without it', () => {
    const run = (fused: boolean): Float32Array[] => {
      setConvSparse(fused, false, 2);
      hn.manualSeed(11);
      const net = new hn.nn.Sequential(new hn.nn.Conv2d(1, 6, 5), new hn.nn.MaxPool2d(2), new hn.nn.ReLU(),
        new hn.nn.Conv2d(6, 8, 3), new hn.nn.ReLU(), new hn.nn.MaxPool2d(2), new hn.nn.Flatten(), new hn.nn.Linear(32, 3));
      const opt = new hn.optim.Adam(net.parameters(), { lr: 0.01 });
      const x = hn.randn([6, 1, 16, 16]);
      const y = hn.tensor(new Int32Array([0, 1, 2, 1, 0, 2]), { dtype: 'int32' });
      for (let i = 0; i < 4; i++) {
        opt.zeroGrad();
        hn.F.crossEntropy(net.forward(x) as Tensor, y).backward();
        opt.step();
      }
      return [...net.parameters()].map((p) => (p.data as Float32Array).slice());
    };
    const plain = run(false);
    const fused = run(true);
    plain.forEach((p, i) => expectClose(fused[i], p, `parameter ${i}`));
  });
});
