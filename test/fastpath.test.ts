// Every fast path of issue 7 against the plain path it replaces, on random shapes that include
// sizes that are not multiples of the vector width (4, 8, 16 floats) or of the GEMM blocks:
// - the vectorised 2x2/stride-2 max pool against a reference of the general rule (first maximum
//   wins, NaN wins), values, indices (through the gradient routing) and ceil-mode tails;
// - the branch-free relu and its gradient against their definitions, NaN and -0 included;
// - convolution and transposed convolution on the AVX2/FMA kernels against the portable ones
//   (hn.setForcePortable), forward and every gradient;
// - the malloc policy the addon applies at load.
import { afterEach, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { addon } from '../lib/native';
import { maxAbsDiff } from './helpers/gradcheck';
import { gemm } from '../lib/ops/linalg';

const seed = Date.now() % 100000;
const gen = new hn.Generator(seed);
const randInt = (lo: number, hi: number): number => lo + Math.floor(gen.uniform() * (hi - lo + 1));

function randomArray(n: number, low = -1, high = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = low + (high - low) * gen.uniform();
  return a;
}

/** Reference 2x2 max pool, stride 2, no padding: the first maximum wins, a NaN wins over numbers. */
function refMaxPool2x2(x: Float32Array, planes: number, H: number, W: number, ceil: boolean): { y: Float32Array; arg: Int32Array; oh: number; ow: number } {
  const size = (n: number): number => {
    let o = (ceil ? Math.ceil((n - 2) / 2) : Math.floor((n - 2) / 2)) + 1;
    if (ceil && (o - 1) * 2 >= n) o--;
    return o;
  };
  const oh = size(H), ow = size(W);
  const y = new Float32Array(planes * oh * ow);
  const arg = new Int32Array(planes * oh * ow);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let best = -Infinity, bestIndex = -1;
        for (let di = 0; di < 2; di++) {
          for (let dj = 0; dj < 2; dj++) {
            const r = 2 * i + di, c = 2 * j + dj;
            if (r >= H || c >= W) continue;
            const v = x[p * H * W + r * W + c];
            if (bestIndex < 0 || v > best || Number.isNaN(v)) {
              best = v;
              bestIndex = r * W + c;
            }
          }
        }
        y[(p * oh + i) * ow + j] = best;
        arg[(p * oh + i) * ow + j] = bestIndex;
      }
    }
  }
  return { y, arg, oh, ow };
}

describe(`fast paths against the plain ones (seed ${seed})`, () => {
  afterEach(() => hn.setForcePortable(false));

  it('maxPool2d 2x2 stride 2: values and argmax (through backward) on odd sizes, ties, NaN and ceil mode', () => {
    for (let trial = 0; trial < 12; trial++) {
      const N = randInt(1, 3), C = randInt(1, 5), H = randInt(2, 21), W = randInt(2, 37);
      const ceil = trial % 3 === 2;
      const x = randomArray(N * C * H * W);
      // Ties (values from a set of three, so most windows repeat one) and NaNs exercise the
      // selection rules: the first maximum wins, a NaN wins and a later NaN replaces it.
      if (trial % 2 === 0) for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]);
      if (trial % 2 === 1) for (let i = 3; i < x.length; i += 29) x[i] = NaN;
      const ref = refMaxPool2x2(x, N * C, H, W, ceil);
      const input = hn.tensor(x, { shape: [N, C, H, W], requiresGrad: true });
      const y = hn.F.maxPool2d(input, { kernelSize: 2, ceilMode: ceil });
      expect(y.shape).toEqual([N, C, ref.oh, ref.ow]);
      const got = y.data as Float32Array;
      for (let i = 0; i < got.length; i++) {
        if (Number.isNaN(ref.y[i])) expect(Number.isNaN(got[i])).toBe(true);
        else expect(got[i]).toBe(ref.y[i]);
      }
      // Backward routes output gradient i (value i + 1) to its argmax.
      const seedGrad = hn.tensor(Float32Array.from({ length: got.length }, (_, i) => i + 1), { shape: [...y.shape] });
      y.backward(seedGrad);
      const expected = new Float32Array(x.length);
      const planeOut = ref.oh * ref.ow;
      for (let i = 0; i < got.length; i++) expected[Math.floor(i / planeOut) * H * W + ref.arg[i]] += i + 1;
      expect(Array.from(input.grad!.data)).toEqual(Array.from(expected));
    }
  });

  it('relu and its gradient: branch-free loops match the definition (NaN propagates, -0 maps to 0)', () => {
    for (const n of [1, 3, 7, 15, 17, 33, 1000, 32768 * 2 + 5]) {
      const x = randomArray(n);
      if (n > 3) {
        x[1] = NaN;
        x[2] = -0;
        x[3] = 0;
      }
      const input = hn.tensor(x, { requiresGrad: true });
      const y = hn.F.relu(input);
      const g = randomArray(n);
      y.backward(hn.tensor(g));
      const yd = y.data as Float32Array;
      const gd = input.grad!.data as Float32Array;
      const bad: string[] = [];
      for (let i = 0; i < n && bad.length < 5; i++) {
        const v = x[i];
        const yOk = Number.isNaN(v) ? Number.isNaN(yd[i]) : Object.is(yd[i], v > 0 ? v : 0);
        // PyTorch's threshold_backward: the gradient passes where the output is positive.
        const gOk = gd[i] === (yd[i] > 0 ? g[i] : 0);
        if (!yOk || !gOk) bad.push(`i=${i} x=${v} y=${yd[i]} g=${g[i]} gx=${gd[i]}`);
      }
      expect(bad, `n=${n}`).toEqual([]);
    }
  });

  // Runs fn under the default (AVX2/FMA when present) and the portable kernels; returns both.
  function bothPaths(fn: () => Float32Array[]): [Float32Array[], Float32Array[]] {
    hn.setForcePortable(false);
    const fast = fn();
    hn.setForcePortable(true);
    const portable = fn();
    hn.setForcePortable(false);
    return [fast, portable];
  }

  function relClose(a: Float32Array, b: Float32Array, label: string): void {
    expect(a.length, label).toBe(b.length);
    let scale = 1e-6;
    for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
    // Summation order differs between the paths: float32 rounding, relative to the largest value.
    expect(maxAbsDiff(a, b) / scale, label).toBeLessThan(2e-5);
  }

  it('SGEMM with 1-4 rows (no packing) against a float64 reference and the portable blocked path: every transpose, beta, ragged sizes', () => {
    for (let trial = 0; trial < 40; trial++) {
      const M = 1 + (trial % 4), N = randInt(1, 70), K = randInt(1, 300);
      const transA = trial % 3 === 0, transB = trial % 2 === 0, beta = trial % 5 === 0 ? 0.5 : 0;
      const A = randomArray(M * K), B = randomArray(K * N), C0 = randomArray(M * N);
      // beta 0 must not read C: a NaN there may not leak into the result.
      if (beta === 0) C0[0] = NaN;
      const expected = new Float64Array(M * N);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let sum = 0;
          for (let k = 0; k < K; k++) sum += (transA ? A[k * M + m] : A[m * K + k]) * (transB ? B[n * K + k] : B[k * N + n]);
          expected[m * N + n] = sum + (beta === 0 ? 0 : beta * C0[m * N + n]);
        }
      }
      const fast = C0.slice(), plain = C0.slice();
      gemm(transA, transB, M, N, K, A, B, fast, beta);
      hn.setForcePortable(true);
      gemm(transA, transB, M, N, K, A, B, plain, beta);
      hn.setForcePortable(false);
      const where = `M=${M} N=${N} K=${K} transA=${transA} transB=${transB} beta=${beta}`;
      expect(maxAbsDiff(fast, expected), where).toBeLessThan(1e-4 * Math.sqrt(K));
      expect(maxAbsDiff(fast, plain), where).toBeLessThan(1e-4 * Math.sqrt(K));
    }
  });

  it('SGEMM blocked path on 1, 2 and 3 threads (AVX2/FMA and portable) against a float64 reference: ragged shapes, every transpose, beta 0/1/other', () => {
    // Shapes reach every schedule of native/cpu/gemm_driver.cc: B micro-panel items (under 8
    // MR-panels of rows per thread), row blocks of one shared stage (N under 256 per thread),
    // one home column block per thread (N from 256 per thread: 2 or 3 blocks, a ragged last
    // one) and K cut into several KC slices; no size is a multiple of 6 or 16 or of KC.
    const shapes: [number, number, number, boolean, boolean, number][] = [
      [37, 181, 613, false, true, 0], [301, 211, 517, true, true, 1], [97, 530, 263, false, false, 0.5],
      [1100, 45, 2001, true, true, 0], [151, 67, 1029, false, true, -2], [203, 1037, 300, true, true, 1],
      [130, 790, 515, false, true, 0], [250, 601, 97, true, false, 0.5],
    ];
    const before = hn.getNumThreads();
    try {
      for (const [M, N, K, transA, transB, beta] of shapes) {
        const A = randomArray(M * K), B = randomArray(K * N), C0 = randomArray(M * N);
        // beta 0 must not read C: a NaN there may not leak into the result.
        if (beta === 0) C0[M * N - 1] = NaN;
        const expected = new Float64Array(M * N);
        const row = new Float64Array(K);
        for (let m = 0; m < M; m++) {
          for (let k = 0; k < K; k++) row[k] = transA ? A[k * M + m] : A[m * K + k];
          for (let n = 0; n < N; n++) {
            let sum = 0;
            if (transB) for (let k = 0; k < K; k++) sum += row[k] * B[n * K + k];
            else for (let k = 0; k < K; k++) sum += row[k] * B[k * N + n];
            expected[m * N + n] = sum + (beta === 0 ? 0 : beta * C0[m * N + n]);
          }
        }
        for (const threads of [2, 3, 1]) {
          for (const portable of [false, true]) {
            hn.setNumThreads(threads);
            hn.setForcePortable(portable);
            const C = C0.slice();
            gemm(transA, transB, M, N, K, A, B, C, beta);
            hn.setForcePortable(false);
            const where = `M=${M} N=${N} K=${K} transA=${transA} transB=${transB} beta=${beta} threads=${threads} portable=${portable}`;
            // float32 sums of K products of values in [-1, 1]: rounding grows like sqrt(K).
            expect(maxAbsDiff(C, expected), where).toBeLessThan(1e-4 * Math.sqrt(K));
          }
        }
      }
    } finally {
      hn.setForcePortable(false);
      hn.setNumThreads(before);
    }
  });

  it('conv2d forward and gradients: vector kernels agree with the portable ones on ragged shapes', () => {
    for (let trial = 0; trial < 6; trial++) {
      const N = randInt(1, 5), Cin = randInt(1, 13), Cout = randInt(1, 19), H = randInt(3, 23), W = randInt(3, 29);
      const k = randInt(1, 5), pad = randInt(0, Math.floor(k / 2)), stride = randInt(1, 2);
      if (H + 2 * pad < k || W + 2 * pad < k) continue;
      const x = randomArray(N * Cin * H * W), w = randomArray(Cout * Cin * k * k), b = randomArray(Cout);
      const run = (): Float32Array[] => {
        const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const wt = hn.tensor(w, { shape: [Cout, Cin, k, k], requiresGrad: true });
        const bt = hn.tensor(b, { requiresGrad: true });
        const y = hn.F.conv2d(xt, wt, bt, { padding: pad, stride });
        const g = hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.sin(i)), { shape: [...y.shape] });
        y.backward(g);
        return [y.data as Float32Array, xt.grad!.data as Float32Array, wt.grad!.data as Float32Array, bt.grad!.data as Float32Array];
      };
      const [fast, portable] = bothPaths(run);
      const label = `N${N} Cin${Cin} Cout${Cout} ${H}x${W} k${k} p${pad} s${stride}`;
      ['y', 'dx', 'dw', 'db'].forEach((name, i) => relClose(fast[i], portable[i], `${label} ${name}`));
    }
  });

  it('convTranspose2d forward and gradients: vector kernels agree with the portable ones', () => {
    for (let trial = 0; trial < 6; trial++) {
      const N = randInt(1, 4), Cin = randInt(1, 11), Cout = randInt(1, 13), H = randInt(2, 17), W = randInt(2, 19);
      const k = randInt(1, 4), stride = randInt(1, 3), pad = randInt(0, Math.floor((k - 1) / 2));
      const x = randomArray(N * Cin * H * W), w = randomArray(Cin * Cout * k * k), b = randomArray(Cout);
      const run = (): Float32Array[] => {
        const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
        const wt = hn.tensor(w, { shape: [Cin, Cout, k, k], requiresGrad: true });
        const bt = hn.tensor(b, { requiresGrad: true });
        const y = hn.F.convTranspose2d(xt, wt, bt, { stride, padding: pad });
        const g = hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.cos(i)), { shape: [...y.shape] });
        y.backward(g);
        return [y.data as Float32Array, xt.grad!.data as Float32Array, wt.grad!.data as Float32Array, bt.grad!.data as Float32Array];
      };
      const [fast, portable] = bothPaths(run);
      const label = `N${N} Cin${Cin} Cout${Cout} ${H}x${W} k${k} s${stride} p${pad}`;
      ['y', 'dx', 'dw', 'db'].forEach((name, i) => relClose(fast[i], portable[i], `${label} ${name}`));
    }
  });

  // The direct kernels: AVX-512 for stride 1 (forward, the input gradient through flipped
  // kernels, the weight gradient in place), AVX2 for thin layers' forward; each against
  // im2col + SGEMM on the same inputs.
  const directModes: [string, () => void][] = [
    ['im2col', () => { (addon.setConvDirect as (on: boolean) => void)(false); }],
    ['avx2 thin', () => { (addon.setConvDirect as (on: boolean) => void)(true); (addon.setConvDirect512 as (on: boolean) => void)(false); }],
    ['auto', () => { (addon.setConvDirect as (on: boolean) => void)(true); (addon.setConvDirect512 as (on: boolean) => void)(true); }],
  ];

  it('direct convolutions against im2col + SGEMM: forward (with and without bias) and every gradient on ragged shapes', () => {
    try {
      // Output widths around the 8/16-column and 32/48-position tiles, channel counts around
      // the 4/6, 8/10/12 blocks, kernels with and without padding, asymmetric 'same' padding,
      // paddings whose input gradient is not direct (pad > k - 1 is impossible; p0 with k5).
      const shapes: [number, number, number, number, number, number | 'same'][] = [
        [3, 1, 10, 28, 5, 0], [2, 10, 20, 12, 5, 0], [2, 3, 7, 9, 3, 1], [1, 5, 13, 17, 3, 1],
        [2, 2, 32, 31, 5, 2], [1, 4, 11, 16, 2, 'same'], [3, 1, 1, 1, 1, 0], [1, 7, 9, 40, 3, 0],
        [2, 16, 40, 8, 3, 1], [1, 9, 25, 7, 3, 1], [2, 3, 64, 13, 3, 1],
        // Small planes with >= 32 output channels (or input channels, for the input gradient):
        // the channel-vectorised kernel, rows of 1..12 positions, a partial 32-channel block.
        [1, 9, 33, 10, 3, 1], [2, 40, 36, 6, 3, 1], [3, 5, 64, 5, 5, 2], [1, 2, 45, 13, 1, 0],
        // Rows much narrower than a 16-lane vector: one vector's masked stores span 2-4 rows.
        [2, 3, 5, 3, 3, 1], [1, 2, 7, 2, 2, 0], [2, 4, 9, 4, 2, 'same'],
        // Large images: the weight gradient takes the batch in several rounds of images.
        [3, 48, 4, 120, 3, 1],
      ];
      for (let trial = 0; trial < 6; trial++) {
        shapes.push([randInt(1, 3), randInt(1, 12), randInt(1, 40), randInt(5, 41), randInt(1, 5), randInt(0, 2)]);
      }
      for (const [N, Cin, Cout, HW, k, pad] of shapes) {
        if (typeof pad === 'number' && (HW + 2 * pad < k || pad >= k)) continue;
        const H = HW, W = HW + (k > 1 ? 3 : 0);
        const x = randomArray(N * Cin * H * W), w = randomArray(Cout * Cin * k * k), b = randomArray(Cout);
        const results = directModes.map(([, set]) => {
          set();
          const xt = hn.tensor(x, { shape: [N, Cin, H, W], requiresGrad: true });
          const wt = hn.tensor(w, { shape: [Cout, Cin, k, k], requiresGrad: true });
          const bt = hn.tensor(b, { requiresGrad: true });
          const y = hn.F.conv2d(xt, wt, bt, { padding: pad });
          const noBias = hn.noGrad(() => hn.F.conv2d(xt, wt, null, { padding: pad }));
          y.backward(hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.sin(0.37 * i)), { shape: [...y.shape] }));
          return [y.data, noBias.data, xt.grad!.data, wt.grad!.data, bt.grad!.data] as Float32Array[];
        });
        const label = `N${N} Cin${Cin} Cout${Cout} ${H}x${W} k${k} pad ${pad}`;
        for (let m = 1; m < directModes.length; m++) {
          ['y', 'y without bias', 'dx', 'dw', 'db'].forEach((what, i) => relClose(results[m][i], results[0][i], `${label} ${directModes[m][0]} ${what}`));
        }
      }
      // A stride-1 transposed convolution's forward is a convolution's input gradient with its
      // bias as the initial value: the AVX-512 path too.
      for (const [N, Cin, Cout, HW, k, pad] of [[2, 20, 10, 8, 3, 1], [1, 7, 3, 11, 3, 1], [3, 16, 12, 9, 4, 2]]) {
        const xt = hn.tensor(randomArray(N * Cin * HW * HW), { shape: [N, Cin, HW, HW] });
        const wt = hn.tensor(randomArray(Cin * Cout * k * k), { shape: [Cin, Cout, k, k] });
        const bt = hn.tensor(randomArray(Cout));
        const ys = directModes.map(([, set]) => {
          set();
          const w2 = hn.tensor(wt.data as Float32Array, { shape: [...wt.shape], requiresGrad: true });
          const y = hn.F.convTranspose2d(xt, w2, bt, { padding: pad });
          y.backward(hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.cos(0.21 * i)), { shape: [...y.shape] }));
          return [y.data as Float32Array, w2.grad!.data as Float32Array];
        });
        for (let m = 1; m < directModes.length; m++) {
          relClose(ys[m][0], ys[0][0], `convTranspose2d N${N} Cin${Cin} Cout${Cout} ${HW} k${k} p${pad} ${directModes[m][0]}`);
          relClose(ys[m][1], ys[0][1], `convTranspose2d N${N} Cin${Cin} Cout${Cout} ${HW} k${k} p${pad} ${directModes[m][0]} dw`);
        }
      }
    } finally {
      directModes[2][1]();
    }
  });

  it('nn.Sequential fusions (relu+maxPool, in-place relu without grad) match the modules run one by one', () => {
    const { nn } = hn;
    hn.manualSeed(seed);
    const net = new nn.Sequential(
      new nn.Conv2d(3, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(8, 6, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
      new nn.ConvTranspose2d(6, 5, 2, { stride: 2 }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(5 * 12 * 12, 7), new nn.ReLU(),
    );
    const steps = [...net];
    const x = randomArray(2 * 3 * 23 * 23, -1, 1);
    const run = (fused: boolean): Float32Array[] => {
      for (const p of net.parameters()) p.grad = null;
      const input = hn.tensor(x, { shape: [2, 3, 23, 23], requiresGrad: true });
      let y: hn.Tensor = input;
      if (fused) y = net.forward(input);
      else for (const m of steps) y = m.forward(y) as hn.Tensor;
      // The fused graph really holds the fused nodes.
      const ops: string[] = [];
      const walk = (t: hn.Tensor): void => {
        if (!t.gradFn) return;
        ops.push(t.gradFn.op);
        t.gradFn.inputs.forEach(walk);
      };
      walk(y);
      expect(ops.filter((o) => o === 'reluMaxPool2d').length).toBe(fused ? 2 : 0);
      const g = hn.tensor(Float32Array.from({ length: y.numel }, (_, i) => Math.sin(i)), { shape: [...y.shape] });
      y.backward(g);
      return [y.data as Float32Array, input.grad!.data as Float32Array, ...[...net.parameters()].map((p) => p.grad!.data as Float32Array)];
    };
    const fused = run(true);
    const plain = run(false);
    expect(fused.length).toBe(plain.length);
    fused.forEach((a, i) => expect(maxAbsDiff(a, plain[i]), `tensor ${i}`).toBe(0));
    // Inference: in-place relu after each layer; the caller's input is left alone.
    const input = hn.tensor(x, { shape: [2, 3, 23, 23] });
    const before = Float32Array.from(input.data as Float32Array);
    const inferred = hn.noGrad(() => net.forward(input)).data as Float32Array;
    let manual: hn.Tensor = input;
    hn.noGrad(() => { for (const m of steps) manual = m.forward(manual) as hn.Tensor; });
    expect(maxAbsDiff(inferred, manual.data as Float32Array)).toBe(0);
    expect(maxAbsDiff(input.data as Float32Array, before)).toBe(0);
    // A ReLU first sees the caller's tensor: not fused in place.
    const reluFirst = new nn.Sequential(new nn.ReLU(), new nn.Linear(4, 2));
    const v = hn.tensor(Float32Array.from([-1, 2, -3, 4]), { shape: [1, 4] });
    hn.noGrad(() => reluFirst.forward(v));
    expect(Array.from(v.data)).toEqual([-1, 2, -3, 4]);
  });

  it('fused per-pixel cross-entropy (vectorised exp, one exp per element) against a float64 reference', () => {
    const N = 3, C = 11, H = 5, W = 7, S = H * W;
    const logits = randomArray(N * C * S, -30, 30);
    // Wide logits, a -Infinity logit (probability 0), a row far below its max (exp underflows).
    logits[5] = -Infinity;
    logits[2 * S + 3] = -200;
    const labels = Int32Array.from({ length: N * S }, (_, i) => (i * 7) % C);
    labels[4] = -100; // ignored
    const out = hn.tensor(logits, { shape: [N, C, H, W], requiresGrad: true });
    const target = hn.tensor(labels, { shape: [N, H, W] });
    const spec = hn.mtl.normalizeTasks('test', { seg: { loss: 'crossEntropy', weight: 0.5 } }).seg;
    const { losses, grads } = hn.mtl.fusedMultiTaskLoss('test', ['seg'], [spec], [out], [target], [0.5]);
    let loss = 0, count = 0;
    const grad = new Float64Array(N * C * S);
    for (let n = 0; n < N; n++) {
      for (let p = 0; p < S; p++) {
        const y = labels[n * S + p];
        if (y === -100) continue;
        count++;
        let m = -Infinity;
        for (let c = 0; c < C; c++) m = Math.max(m, logits[(n * C + c) * S + p]);
        let sum = 0;
        for (let c = 0; c < C; c++) sum += Math.exp(logits[(n * C + c) * S + p] - m);
        loss += Math.log(sum) + m - logits[(n * C + y) * S + p];
        for (let c = 0; c < C; c++) grad[(n * C + c) * S + p] = Math.exp(logits[(n * C + c) * S + p] - m) / sum - (c === y ? 1 : 0);
      }
    }
    expect(Math.abs(losses[0] - loss / count) / (loss / count)).toBeLessThan(1e-5);
    const g = grads[0].data as Float32Array;
    let worst = 0;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - (0.5 / count) * grad[i]));
    // Probabilities within ~1e-6 of float64, scaled by weight / count.
    expect(worst).toBeLessThan((0.5 / count) * 2e-6);
  });

  it('the addon keeps freed tensor memory for reuse (glibc malloc thresholds), unless turned off', () => {
    const policy = (addon.memoryPolicy as () => { mallocTuned: boolean; mmapThreshold: number; trimThreshold: number })();
    const userSet = ['MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_'].some((k) => process.env[k] !== undefined)
      || (process.env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.') || process.env.HYDRANET_MALLOC_TUNING === '0';
    if (userSet) expect(policy.mallocTuned).toBe(false);
    if (process.platform === 'linux' && !userSet && policy.mallocTuned) {
      expect(policy.mmapThreshold).toBe(32 * 2 ** 20);
      expect(policy.trimThreshold).toBe(256 * 2 ** 20);
    } else {
      expect(policy.mallocTuned).toBe(false);
      expect(policy.mmapThreshold).toBe(0);
    }
  });
});
