// The CUDA-vs-CPU cases shared by test/cuda.test.ts (a real GPU) and test/cuda-dispatch.test.ts
// (the fake CUDA table of fake_cuda.ts): each op's forward and gradients on CUDA tensors against
// the same op on CPU tensors, norm-wise relative error max|gpu - cpu| / max|cpu| <= 1e-4.
import { expect, it } from 'vitest';
import * as hn from '../../lib/index';
import type { Tensor } from '../../lib/tensor';

const gen = new hn.Generator(1234);

export function random(shape: number[], low = -1, high = 1): Tensor {
  const t = hn.rand(shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = low + (high - low) * gen.uniform();
  return t;
}

export function relativeError(gpu: ArrayLike<number>, cpu: ArrayLike<number>): number {
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
export function compare(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], tolerance = 1e-4): void {
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
    if (!c.requiresGrad || !c.grad) return;  // an input the op takes no gradient for
    expect(gpu[i].grad?.device).toBe('cuda:0');
    expect(relativeError(gpu[i].grad!.toArray(), c.grad!.toArray())).toBeLessThanOrEqual(tolerance);
  });
}

/** Declares the op cases (call inside a describe). */
export function cudaOpCases(): void {
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

  it('matmul (2-D and batched 3-D) and linear', () => {
    compare((a, b) => a.matmul(b), [random([33, 65]), random([65, 17])]);
    compare((a, b) => a.matmul(b), [random([3, 5, 7]), random([3, 7, 4])]);
    compare((a, b) => a.matmul(b), [random([2, 70, 1]), random([2, 1, 66])]);
    compare((x, w, b) => hn.F.linear(x, w, b), [random([8, 300]), random([10, 300]), random([10])]);
  });

  it('concat along every dim, float32 and int32', () => {
    compare((a, b, c) => hn.F.concat([a, b, c], 1), [random([2, 3, 4]), random([2, 1, 4]), random([2, 5, 4])]);
    compare((a, b) => hn.F.concat([a, b], 0), [random([2, 3]), random([4, 3])]);
    compare((a, b) => hn.F.concat([a, b, a], -1), [random([3, 2, 2]), random([3, 2, 5])]);
    compare((a, b) => hn.F.concat([a, b], 0), [random([0, 3]), random([2, 3])]);
    const i = hn.tensor(new Int32Array([1, 2, 3, 4]), { dtype: 'int32', shape: [2, 2] });
    const j = hn.tensor(new Int32Array([-5, 6]), { dtype: 'int32', shape: [2, 1] });
    const joined = hn.F.concat([i.to('cuda'), j.to('cuda')], 1);
    expect(joined.device).toBe('cuda:0');
    expect(joined.dtype).toBe('int32');
    expect(Array.from(joined.toArray())).toEqual([1, 2, -5, 3, 4, 6]);
    expect(() => hn.F.concat([random([1]).to('cuda'), random([1])], 0)).toThrow(/expected tensors\[1\] to be a tensor on cuda:0/);
  });

  it('dropout, dropout2d and the MultiMNIST masks draw the same masks from one seed on both devices', () => {
    const x = random([4, 6, 3, 3]);
    const g = random([4, 6, 3, 3]);
    const cases: [string, (t: Tensor) => Tensor][] = [
      ['dropout', (t) => hn.F.dropout(t, { p: 0.3 })],
      ['dropout2d', (t) => hn.F.dropout2d(t, { p: 0.5 })],
      ['SharedChannelDropout', (t) => new hn.models.SharedChannelDropout(0.5).forward(t)],
      ['UnscaledDropout', (t) => new hn.models.UnscaledDropout(0.4).forward(t)],
    ];
    for (const [name, fn] of cases) {
      const run = (device: 'cpu' | 'cuda'): [number[], number[]] => {
        hn.manualSeed(11);
        const input = x.to(device).detach().requiresGrad_();
        const y = fn(input);
        expect(y.device, name).toBe(device === 'cpu' ? 'cpu' : 'cuda:0');
        y.backward(g.to(device));
        return [Array.from(y.toArray()), Array.from(input.grad!.toArray())];
      };
      const [yc, gc] = run('cpu');
      const [yg, gg] = run('cuda');
      expect(yc.some((v) => v === 0) && yc.some((v) => v !== 0), name).toBe(true);
      // x * mask is one rounding on either device: equal, not merely close.
      expect(yg, name).toEqual(yc);
      expect(gg, name).toEqual(gc);
    }
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

  it('nllLoss: each reduction, class weights, ignoreIndex, pixels', () => {
    const labels = hn.tensor(new Int32Array([1, 0, 9, 3, -100, 2]), { dtype: 'int32' });
    compare((x, t) => hn.F.nllLoss(hn.F.logSoftmax(x, 1), t), [random([6, 10], -3, 3), labels]);
    compare((x, t) => hn.F.nllLoss(x, t, { reduction: 'sum' }), [random([6, 10], -3, 3), labels]);
    compare((x, t, w) => hn.F.nllLoss(x, t, { weight: w.detach(), reduction: 'none' }), [random([6, 10]), labels, random([10], 0.5, 2)]);
    const pixels = hn.randint(0, 5, [2, 3, 3]);
    (pixels.data as Int32Array)[4] = 7;
    compare((x, t) => hn.F.nllLoss(x, t, { ignoreIndex: 7 }), [random([2, 5, 3, 3]), pixels]);
    const bad = hn.tensor(new Int32Array([1, 12]), { dtype: 'int32' });
    expect(() => hn.F.nllLoss(random([2, 10]).to('cuda'), bad.to('cuda'))).toThrow(RangeError);
  });

  it('point-wise losses (MSE, L1, smooth L1, Huber, BCE with logits and weights), each reduction', () => {
    compare((x, t) => hn.F.mseLoss(x, t), [random([4, 7]), random([4, 7])]);
    compare((x, t) => hn.F.l1Loss(x, t, { reduction: 'sum' }), [random([4, 7]), random([4, 7])]);
    compare((x, t) => hn.F.smoothL1Loss(x, t, { reduction: 'none', beta: 0.5 }), [random([3, 5]), random([3, 5])]);
    compare((x, t) => hn.F.huberLoss(x, t, { delta: 0.3 }), [random([3, 5]), random([3, 5])]);
    const bce = (x: Tensor, t: Tensor, w: Tensor, pw: Tensor): Tensor =>
      hn.F.binaryCrossEntropyWithLogits(x, t, { weight: w.detach(), posWeight: pw.detach() });
    compare(bce, [random([4, 3], -4, 4), random([4, 3], 0, 1), random([3], 0.5, 1.5), random([3], 0.5, 3)]);
  });

  it('gradients accumulate into an existing .grad on the device', () => {
    const w = random([3, 4]);
    const p = w.to('cuda').requiresGrad_();
    p.mul(2).sum().backward();
    p.mul(p).sum().backward();
    expect(p.grad!.device).toBe('cuda:0');
    const expected = Array.from(w.toArray(), (v) => 2 + 2 * v);
    expect(relativeError(p.grad!.toArray(), expected)).toBeLessThanOrEqual(1e-6);
  });

  it('the fused multi-task loss (W1 classification + pixel cross-entropy, MSE with a sample mask)', () => {
    const tasks = hn.mtl.normalizeTasks('test', {
      cls: { loss: 'crossEntropy' }, seg: { loss: 'crossEntropy', weight: 0.5, ignoreIndex: 255 }, reg: { loss: 'mse', reduction: 'sum' },
    });
    const names = ['cls', 'seg', 'reg'];
    const outputs = [random([8, 10], -3, 3), random([8, 11, 6, 6], -3, 3), random([8, 3])];
    const segLabels = hn.randint(0, 11, [8, 6, 6]);
    (segLabels.data as Int32Array)[5] = 255;
    const targets = [hn.randint(0, 10, [8]), segLabels, random([8, 3])];
    const mask = hn.tensor([1, 1, 0, 1, 1, 1, 0, 1]);
    const specs = names.map((n) => tasks[n]);
    const cpu = hn.mtl.fusedMultiTaskLoss('test', names, specs, outputs, targets, [1, 0.5, 2], [null, null, mask]);
    const gpu = hn.mtl.fusedMultiTaskLoss('test', names, specs, outputs.map((t) => t.to('cuda')), targets.map((t) => t.to('cuda')),
      [1, 0.5, 2], [null, null, mask.to('cuda')]);
    expect(gpu.counts).toEqual(cpu.counts);
    gpu.losses.forEach((loss, i) => expect(Math.abs(loss - cpu.losses[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(cpu.losses[i]))));
    gpu.grads.forEach((g, i) => {
      expect(g.device).toBe('cuda:0');
      expect(relativeError(g.toArray(), cpu.grads[i].toArray())).toBeLessThanOrEqual(1e-4);
    });
    const bad = segLabels.clone();
    (bad.data as Int32Array)[7] = 11;
    expect(() => hn.mtl.fusedMultiTaskLoss('test', names, specs, outputs.map((t) => t.to('cuda')),
      [targets[0].to('cuda'), bad.to('cuda'), targets[2].to('cuda')], [1, 0.5, 2])).toThrow(/11 at flat position 7/);
  });

  it.each(['static', 'equal', 'uncertainty', 'dwa', 'rlw', 'gradNorm', 'mgda', 'pcgrad', 'cagrad', 'imtl', 'nashMtl', 'alignedMtl'])(
    'WeightedOptimizer with %s weighting trains a MultiTaskModel as on the CPU', (name) => {
      const build = (): hn.mtl.MultiTaskModel => {
        hn.manualSeed(3);
        return new hn.mtl.MultiTaskModel({
          shared: new hn.nn.Sequential(new hn.nn.Conv2d(2, 4, 3, { padding: 1 }), new hn.nn.ReLU(), new hn.nn.MaxPool2d(2)),
          heads: {
            cls: new hn.nn.Sequential(new hn.nn.Flatten(), new hn.nn.Linear(64, 3)),
            seg: new hn.nn.Sequential(new hn.nn.ConvTranspose2d(4, 5, 2, { stride: 2 })),
            reg: new hn.nn.Sequential(new hn.nn.Flatten(), new hn.nn.Linear(64, 2)),
          },
        });
      };
      const tasks = { cls: { loss: 'crossEntropy' as const }, seg: { loss: 'crossEntropy' as const, ignoreIndex: 255 }, reg: { loss: 'mse' as const } };
      const x = random([6, 2, 8, 8]);
      const targets = { cls: hn.randint(0, 3, [6]), seg: hn.randint(0, 5, [6, 8, 8]), reg: random([6, 2]) };
      const run = (device: 'cpu' | 'cuda'): { params: ArrayLike<number>[]; weights: Record<string, number> } => {
        const model = build().to(device);
        const strategies = hn.mtl.weighting as unknown as Record<string, (...args: unknown[]) => unknown>;
        const strategy = name === 'static' ? hn.mtl.weighting.static({ cls: 1, seg: 0.5, reg: 2 }) : strategies[name]();
        const wopt = new hn.mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr: 1e-2 }),
          { tasks, weighting: strategy as never });
        const onDevice = Object.fromEntries(Object.entries(targets).map(([k, v]) => [k, v.to(device)]));
        let weights: Record<string, number> = {};
        for (let i = 0; i < 2; i++) weights = wopt.step(model.forward(x.to(device)), onDevice).weights;
        return { params: [...model.parameters()].map((p) => p.toArray()), weights };
      };
      const cpu = run('cpu');
      const gpu = run('cuda');
      for (const key of Object.keys(cpu.weights)) expect(Math.abs(gpu.weights[key] - cpu.weights[key])).toBeLessThanOrEqual(1e-3);
      gpu.params.forEach((p, i) => expect(relativeError(p, cpu.params[i])).toBeLessThanOrEqual(1e-4));
    });

  it.each([
    ['W1 seedNet', (): hn.mtl.MultiTaskModel => hn.models.seedNet({ inChannels: 3, imageSize: 8, widths: [4, 8], classTasks: ['cls'],
      numClasses: 10, segClasses: 11 }), [2, 3, 8, 8], { cls: 10 }, { seg: 11 }],
    ['W2 multiMnistLeNet with the paper\'s dropouts', (): hn.mtl.MultiTaskModel => hn.models.multiMnistLeNet({ dropout: true }),
      [2, 1, 28, 28], { left: 10, right: 10 }, {}],
  ] as const)('%s: two WeightedOptimizer steps give the same parameters on both devices', (_name, build, inputShape, classes, pixels) => {
    const x = random([...inputShape]);
    const targets: Record<string, Tensor> = {};
    const tasks: Record<string, { loss: 'crossEntropy' }> = {};
    for (const [task, c] of Object.entries(classes)) {
      targets[task] = hn.randint(0, c, [inputShape[0]]);
      tasks[task] = { loss: 'crossEntropy' };
    }
    for (const [task, c] of Object.entries(pixels)) {
      targets[task] = hn.randint(0, c, [inputShape[0], inputShape[2], inputShape[3]]);
      tasks[task] = { loss: 'crossEntropy' };
    }
    const run = (device: 'cpu' | 'cuda'): ArrayLike<number>[] => {
      hn.manualSeed(5);
      const model = build().to(device);
      const wopt = new hn.mtl.WeightedOptimizer(model, new hn.optim.Adam(model.parameters(), { lr: 1e-2 }),
        { tasks, weighting: hn.mtl.weighting.equal() });
      const onDevice = Object.fromEntries(Object.entries(targets).map(([k, v]) => [k, v.to(device)]));
      for (let i = 0; i < 2; i++) wopt.step(model.forward(x.to(device)), onDevice);
      return [...model.parameters()].map((p) => p.toArray());
    };
    const cpu = run('cpu');
    const gpu = run('cuda');
    gpu.forEach((p, i) => expect(relativeError(p, cpu[i])).toBeLessThanOrEqual(1e-4));
  });

  it('a training step of a small multi-head network gives the same parameters on both devices', () => {
    hn.manualSeed(7);
    const make = (): hn.nn.Module => new hn.nn.Sequential(
      new hn.nn.Conv2d(3, 8, 3, { padding: 1 }), new hn.nn.BatchNorm2d(8), new hn.nn.ReLU(), new hn.nn.MaxPool2d(2),
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

}
