// The TypeScript CUDA path end to end without a GPU: with the fake CUDA table of
// helpers/fake_cuda.ts installed (device buffers that wrap host arrays, strict about being given
// device buffers), every op case of helpers/cuda_cases.ts runs through the CUDA dispatch, the
// CUDA tensor storage, to(), the optimizers and the fused loss, and must match the CPU. This
// proves the plumbing (which table, which buffers, which argument positions) on every machine;
// the CUDA kernels themselves are checked by test/native/cuda_ops_test.cc on a GPU.
import { afterAll, describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { cudaOpCases, random } from './helpers/cuda_cases';
import { installFakeCuda } from './helpers/fake_cuda';

const fake = installFakeCuda();
afterAll(() => fake.uninstall());

describe('CUDA dispatch through a fake device', () => {
  it('the fake device is what hn.cuda sees', () => {
    expect(hn.cuda.isAvailable()).toBe(true);
    expect(hn.cuda.deviceName()).toMatch(/fake/);
  });

  cudaOpCases();

  it('called the CUDA table for every op family', () => {
    for (const name of ['sgemm', 'sgemmBatched', 'copyBlocks', 'conv2dForward', 'conv2dBackwardWeight', 'convTranspose2dForward',
      'maxPool2dBackward', 'avgPool2dForward', 'softmaxBackward', 'binaryForward', 'unaryBackward', 'axpy', 'reduceSum',
      'crossEntropyBackward', 'nllLossForward', 'nllLossBackward', 'batchNormBackward', 'adamStep', 'multiTaskLoss']) {
      expect(fake.stats.calls.get(name) ?? 0, name).toBeGreaterThan(0);
    }
  });

  it('SGD with momentum updates on the device like on the CPU', () => {
    const w = random([5, 4]);
    const g = random([5, 4]);
    const run = (device: 'cpu' | 'cuda'): Float32Array => {
      const p = w.to(device).requiresGrad_();
      const opt = new hn.optim.SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
      for (let i = 0; i < 3; i++) {
        p.grad = g.to(device);
        opt.step();
      }
      return p.toArray() as Float32Array;
    };
    expect(Array.from(run('cuda'))).toEqual(Array.from(run('cpu')));
  });

  it('dispose releases device memory; ops without a CUDA path refuse clearly', () => {
    const before = hn.cuda.memoryStats().allocatedBytes;
    const t = hn.zeros([256], { device: 'cuda' });
    expect(hn.cuda.memoryStats().allocatedBytes).toBe(before + 1024);
    t.dispose();
    expect(hn.cuda.memoryStats().allocatedBytes).toBe(before);
    expect(() => t.toArray()).toThrow(/disposed/);
    const x = random([2, 3]).to('cuda');
    const p = x.detach().requiresGrad_();
    p.sum().backward();
    expect(() => hn.nn.utils.clipGradNorm_([p], 1)).toThrow(/clipGradNorm_: expected parameters\[0\]\.grad to be a CPU tensor \(clipGradNorm_ has no CUDA kernel yet.*got a tensor on cuda:0/);
    expect(() => hn.mtl.argmaxClasses(x)).toThrow(/argmaxClasses: .*no CUDA kernel yet.*cuda:0/);
    expect(() => x.add(random([2, 3]))).toThrow(/expected other to be a tensor on cuda:0 like input, got a tensor on cpu/);
  });

  it('state dicts cross devices: a CUDA model loads CPU weights and a CPU model loads CUDA weights (copy_)', () => {
    hn.manualSeed(3);
    const cpuModel = new hn.nn.Sequential(new hn.nn.Linear(4, 3), new hn.nn.BatchNorm2d(3));
    const cudaModel = new hn.nn.Sequential(new hn.nn.Linear(4, 3), new hn.nn.BatchNorm2d(3)).to('cuda');
    cudaModel.loadStateDict(cpuModel.stateDict());
    const values = (m: hn.nn.Module) => Object.entries(m.stateDict()).map(([k, t]) => [k, t.device, Array.from(t.toArray())]);
    expect(values(cudaModel).map(([k, , v]) => [k, v])).toEqual(values(cpuModel).map(([k, , v]) => [k, v]));
    expect(values(cudaModel).every(([, d]) => d === 'cuda:0')).toBe(true);
    const w = cudaModel.stateDict()['0.weight'];
    w.copy_(hn.tensor(Array.from({ length: 12 }, (_, i) => i), { shape: [3, 4] }).to('cuda'));
    const back = new hn.nn.Sequential(new hn.nn.Linear(4, 3), new hn.nn.BatchNorm2d(3));
    back.loadStateDict(cudaModel.stateDict());
    expect(Array.from(back.stateDict()['0.weight'].data)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(() => w.copy_(hn.zeros([4, 3]))).toThrow(/copy_: expected src to be shape \[3, 4\] like self, got shape \[4, 3\]/);
    expect(() => w.copy_(hn.zeros([3, 4], { dtype: 'int32' }))).toThrow(/copy_: expected src to be a float32 tensor like self, got a int32 tensor/);
  });

  it('anomaly mode scans CUDA tensors too (copied back) and names the op', () => {
    hn.detectAnomaly(true);
    try {
      const x = hn.tensor([1, -1, 4], { device: 'cuda' });
      expect(() => x.exp().neg().log()).toThrow(/detectAnomaly: forward of log .*produced NaN/);
      expect(x.relu().toArray()).toEqual(new Float32Array([1, 0, 4]));
    } finally {
      hn.detectAnomaly(false);
    }
  });

  it('the TF32 flag round-trips through the CUDA table and is off by default', () => {
    expect(hn.cuda.allowTF32()).toBe(false);
    hn.cuda.setAllowTF32(true);
    expect(hn.cuda.allowTF32()).toBe(true);
    expect(fake.stats.allowTF32).toBe(true);
    hn.cuda.setAllowTF32(false);
    expect(hn.cuda.allowTF32()).toBe(false);
    expect(() => hn.cuda.setAllowTF32(1 as never)).toThrow(/cuda.setAllowTF32: expected allow to be a boolean, got/);
  });
});
