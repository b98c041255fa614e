// CUDA backend from JS. With a GPU: every CUDA op's forward and gradients against the CPU on
// random inputs (norm-wise relative error max|gpu - cpu| / max|cpu| <= 1e-4), a training step of a
// small multi-task model on both devices, and the caching allocator's counters. Without one (the
// normal case in CI): those are skipped with the reason printed, and the checks below prove that
// CUDA requests fail with clear errors while the CPU path is untouched.
import { describe, expect, it } from 'vitest';
import * as hn from '../lib/index';
import { cudaOpCases, random, relativeError } from './helpers/cuda_cases';

const available = hn.cuda.isAvailable();
const status = hn.cuda.status();
if (!available) {
  console.log(`test/cuda.test.ts: GPU comparisons skipped: ${status.compiled ? 'CUDA kernels compiled, but ' : ''}` +
    `no usable device (${status.reason || 'none found'})`);
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

  it('keeps the TF32 flag (off by default) so code that sets it runs anywhere', () => {
    expect(hn.cuda.allowTF32()).toBe(false);
    hn.cuda.setAllowTF32(true);
    expect(hn.cuda.allowTF32()).toBe(true);
    hn.cuda.setAllowTF32(false);
    expect(hn.cuda.allowTF32()).toBe(false);
  });
});

describe.skipIf(!available)('CUDA ops match the CPU', () => {
  cudaOpCases();

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
    expect(() => hn.F.concat([random([1]).to('cuda'), random([1])], 0)).toThrow(/expected tensors\[1\] to be a tensor on cuda:0/);
  });

  it('TF32 tensor cores: off by default; on, matmul and conv2d stay within TF32 rounding of FP32', () => {
    expect(hn.cuda.allowTF32()).toBe(false);
    const a = random([256, 512]);
    const b = random([512, 192]);
    const x = random([4, 16, 12, 12]);
    const w = random([32, 16, 3, 3]);
    const fp32 = [a.to('cuda').matmul(b.to('cuda')).toArray(), hn.F.conv2d(x.to('cuda'), w.to('cuda'), null, { padding: 1 }).toArray()];
    hn.cuda.setAllowTF32(true);
    try {
      const tf32 = [a.to('cuda').matmul(b.to('cuda')).toArray(), hn.F.conv2d(x.to('cuda'), w.to('cuda'), null, { padding: 1 }).toArray()];
      // TF32 keeps 10 mantissa bits: ~1e-3 norm-wise over these sums; an indexing error would be O(1).
      tf32.forEach((t, i) => {
        const error = relativeError(t, fp32[i]);
        console.log(`test/cuda.test.ts: TF32 vs FP32 relative error (${i ? 'conv2d' : 'matmul'}): ${error.toExponential(2)}`);
        expect(error).toBeLessThanOrEqual(1e-2);
      });
    } finally {
      hn.cuda.setAllowTF32(false);
    }
  });
});
