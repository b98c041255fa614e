// CUDA backend from JS. With a GPU: every CUDA op's forward and gradients against the CPU on
// random inputs (norm-wise relative error max|gpu - cpu| / max|cpu| <= 1e-4), a training step of a
// small multi-task model on both devices, and the caching allocator's counters. Without one (the
// normal case in CI): those are skipped with the reason printed, and the checks below prove that
// CUDA requests fail with clear errors while the CPU path is untouched.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import type { Tensor } from '../lib/tensor';

const available = hn.cuda.isAvailable();
const status = hn.cuda.status();
if (!available) {
  console.log(`test/cuda.test.ts: GPU comparisons skipped: ${status.compiled ? 'CUDA kernels compiled, but ' : ''}` +
    `no usable device (${status.reason || 'none found'})`);
}

const gen = new hn.Generator(1234);

function random(shape: number[], low = -1, high = 1): Tensor {
  const t = hn.rand(shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = low + (high - low) * gen.uniform();
  return t;
}

function relativeError(gpu: ArrayLike<number>, cpu: ArrayLike<number>): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    scale = Math.max(scale, Math.abs(cpu[i]));
    const d = Math.abs(gpu[i] - cpu[i]);
    if (Number.isNaN(d)) return Infinity;
    worst = Math.max(worst, d);
  }
  return scale > 0 ? worst / scale : worst;
}

/**
 * Runs fn on CPU inputs and on CUDA copies, backpropagates the same random output gradient, and
 * compares the output and every input gradient.
 */
function compare(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], tolerance = 1e-4): void {
  const cpu = inputs.map((t) => t.detach().requiresGrad_(t.dtype === 'float32'));
  const gpu = inputs.map((t) => t.to('cuda').requiresGrad_(t.dtype === 'float32'));
  const yc = fn(...cpu);
  const yg = fn(...gpu);
  expect(yg.device).toBe('cuda:0');
  expect(yg.shape).toEqual(yc.shape);
  expect(relativeError(yg.toArray(), yc.toArray())).toBeLessThanOrEqual(tolerance);
  const seed = random([...yc.shape]);
  yc.backward(seed);
  yg.backward(seed.to('cuda'));
  cpu.forEach((c, i) => {
    if (!c.requiresGrad) return;
    expect(gpu[i].grad?.device).toBe('cuda:0');
    expect(relativeError(gpu[i].grad!.toArray(), c.grad!.toArray())).toBeLessThanOrEqual(tolerance);
  });
}

describe.skipIf(available)('CUDA requests without a usable GPU', () => {
  it('reports why there is no device', () => {
    expect(hn.cuda.isAvailable()).toBe(false);
    expect(hn.cuda.deviceCount()).toBe(0);
    expect(status.reason.length).toBeGreaterThan(0);
  });

  it('refuses CUDA tensors with a RangeError naming the op and the reason', () => {
    expect(() => hn.tensor([1, 2], { device: 'cuda' })).toThrow(RangeError);
    expect(() => hn.tensor([1, 2], { device: 'cuda' })).toThrow(/tensor: expected device .*no CUDA device available.*got 'cuda'/);
    expect(() => hn.zeros([2], { device: 'cuda:1' })).toThrow(/no CUDA device available/);
    expect(() => hn.tensor([1]).to('cuda')).toThrow(/to: expected device/);
    expect(() => hn.tensor([1]).cuda()).toThrow(RangeError);
    expect(() => new hn.nn.Linear(2, 2).to('cuda')).toThrow(/no CUDA device available/);
  });

  it('refuses malformed devices as before', () => {
    expect(() => hn.tensor([1], { device: 'gpu' as never })).toThrow(/expected device to be 'cpu' or 'cuda:N'/);
  });

  it('keeps CPU tensors where they are', () => {
    const t = hn.tensor([1, 2, 3]);
    expect(t.to('cpu')).toBe(t);
    expect(t.cpu()).toBe(t);
    expect(t.isCuda).toBe(false);
    expect(hn.tensor([1], { device: 'cpu' }).device).toBe('cpu');
  });

  it('reports the allocator as unavailable', () => {
    expect(() => hn.cuda.memoryStats()).toThrow(RangeError);
  });
});

describe.skipIf(!available)('CUDA ops match the CPU', () => {
  it('moves tensors both ways and keeps values and dtype', () => {
    const f = random([3, 5]);
    const i = hn.tensor(new Int32Array([3, -1, 7]), { dtype: 'int32' });
    const fg = f.to('cuda');
    expect(fg.device).toBe('cuda:0');
    expect(Array.from(fg.toArray())).toEqual(Array.from(f.toArray()));
    expect(Array.from(i.to('cuda').to('cpu').toArray())).toEqual([3, -1, 7]);
    expect(hn.tensor([[1, 2]], { device: 'cuda' }).toList()).toEqual([[1, 2]]);
    expect(hn.tensor([4.5], { device: 'cuda' }).item()).toBe(4.5);
    expect(() => fg.data).toThrow(/CPU tensor/);
  });

  it('element-wise ops with broadcasting, unary maps and reductions', () => {
    compare((a, b) => a.add(b).mul(b).sub(a.div(b.add(3))), [random([4, 1, 6]), random([5, 1], 0.1, 1)]);
    compare((a) => a.relu().add(a.sigmoid()).add(a.tanh()).add(a.exp().mul(0.1)), [random([7, 9])]);
    compare((a) => a.sum([0, 2]).add(a.mean(1).sum()), [random([3, 4, 5])]);
  });

  it('matmul and linear', () => {
    compare((a, b) => a.matmul(b), [random([33, 65]), random([65, 17])]);
    compare((x, w, b) => hn.F.linear(x, w, b), [random([8, 300]), random([10, 300]), random([10])]);
  });

  it('conv2d and convTranspose2d (forward, input, weight and bias gradients)', () => {
    compare((x, w, b) => hn.F.conv2d(x, w, b, { padding: 1 }), [random([2, 3, 9, 9]), random([8, 3, 3, 3]), random([8])]);
    compare((x, w) => hn.F.conv2d(x, w, null, { stride: 2, dilation: 2, padding: 2, groups: 2 }),
      [random([2, 4, 11, 10]), random([6, 2, 3, 3])]);
    compare((x, w) => hn.F.conv2d(x, w, null, { padding: 'same' }), [random([1, 2, 8, 8]), random([3, 2, 4, 4])]);
    compare((x, w, b) => hn.F.convTranspose2d(x, w, b, { stride: 2 }), [random([2, 8, 5, 5]), random([8, 4, 2, 2]), random([4])]);
    compare((x, w) => hn.F.convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }),
      [random([2, 4, 6, 6]), random([4, 3, 4, 4])]);
  });

  it('max and average pooling', () => {
    compare((x) => hn.F.maxPool2d(x, { kernelSize: 2 }), [random([2, 3, 8, 8])]);
    compare((x) => hn.F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), [random([2, 3, 9, 9])]);
    compare((x) => hn.F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), [random([2, 3, 9, 9])]);
  });

  it('softmax, logSoftmax, crossEntropy and batchNorm2d', () => {
    compare((x) => hn.F.softmax(x, 1), [random([4, 10], -5, 5)]);
    compare((x) => hn.F.logSoftmax(x, 1), [random([2, 11, 6, 6], -5, 5)]);
    const labels = hn.tensor(new Int32Array([1, 0, 9, 3, -100, 2]), { dtype: 'int32' });
    compare((x, t) => hn.F.crossEntropy(x, t), [random([6, 10], -3, 3), labels]);
    const pixels = hn.randint(0, 11, [2, 4, 4]);
    compare((x, t) => hn.F.crossEntropy(x, t, { reduction: 'sum', labelSmoothing: 0.1 }), [random([2, 11, 4, 4], -3, 3), pixels]);
    compare((x, w, b) => hn.F.batchNorm2d(x, null, null, w, b, { training: true }), [random([4, 3, 5, 5]), random([3]), random([3])]);
  });

  it('a training step of a small multi-head network gives the same parameters on both devices', () => {
    hn.manualSeed(7);
    const make = (): hn.nn.Module => new hn.nn.Sequential(
      new hn.nn.Conv2d(3, 8, 3, { padding: 1 }), new hn.nn.ReLU(), new hn.nn.MaxPool2d(2),
      new hn.nn.Flatten(), new hn.nn.Linear(8 * 4 * 4, 10));
    const cpuModel = make();
    const gpuModel = make();
    gpuModel.loadStateDict(cpuModel.stateDict());
    gpuModel.to('cuda');
    const x = random([4, 3, 8, 8]);
    const y = hn.tensor(new Int32Array([1, 2, 3, 4]), { dtype: 'int32' });
    for (const [model, device] of [[cpuModel, 'cpu'], [gpuModel, 'cuda']] as const) {
      const opt = new hn.optim.Adam(model.parameters(), { lr: 1e-2 });
      for (let step = 0; step < 2; step++) {
        opt.zeroGrad();
        const loss = hn.F.crossEntropy(model.forward(x.to(device)), y.to(device));
        loss.backward();
        opt.step();
      }
    }
    const cpuState = cpuModel.stateDict();
    const gpuState = gpuModel.stateDict();
    for (const key of Object.keys(cpuState)) {
      expect(relativeError((gpuState[key] as Tensor).toArray(), (cpuState[key] as Tensor).toArray())).toBeLessThanOrEqual(1e-4);
    }
  });

  it('the caching allocator reuses freed blocks and empties its cache', () => {
    const before = hn.cuda.memoryStats();
    const a = hn.zeros([1000], { device: 'cuda' });
    const live = hn.cuda.memoryStats();
    expect(live.allocatedBytes).toBeGreaterThan(before.allocatedBytes);
    a.dispose();
    expect(hn.cuda.memoryStats().allocatedBytes).toBe(before.allocatedBytes);
    const b = hn.zeros([1000], { device: 'cuda' });
    expect(hn.cuda.memoryStats().cacheHits).toBeGreaterThan(live.cacheHits);
    b.dispose();
    hn.cuda.emptyCache();
    const emptied = hn.cuda.memoryStats();
    expect(emptied.cachedBlocks).toBe(0);
    expect(emptied.reservedBytes).toBe(emptied.allocatedBytes);
    expect(() => a.toArray()).toThrow(/disposed/);
  });

  it('refuses to mix devices in one op', () => {
    expect(() => random([2, 2]).to('cuda').add(random([2, 2]))).toThrow(/expected other to be a tensor on cuda:0/);
    expect(() => hn.F.concat([random([1]).to('cuda')], 0)).toThrow(/CPU tensor/);
  });
});
