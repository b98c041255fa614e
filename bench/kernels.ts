// K1–K8 of shared/WORKLOADS.md and the SGEMM at 1024³: forward and backward, median times.
// A backward row times one backward of a recorded forward that produces the gradient of every
// input (input, weight and bias of the convolutions and the linear), as bench/torch_peer.py's
// torch.autograd.grad over the same inputs does; the output gradient is a fixed random tensor
// (dense: no sparse path is taken).
import * as hn from '../lib/index';
import { gemm } from '../lib/ops/linalg';
import type { Tensor } from '../lib/tensor';
import { Measurement, timeIt } from './harness';

type Forward = (inputs: Tensor[]) => Tensor;

/** Times the forward, then the backward of one recorded forward (grads reset between calls). */
function forwardBackward(name: string, inputs: Tensor[], forward: Forward, flopsForward: number, flopsBackward: number): Measurement[] {
  const fwd = timeIt(() => hn.noGrad(() => forward(inputs)));
  const out = forward(inputs);
  const seed = hn.randn([...out.shape]);
  const bwd = timeIt(() => {
    for (const t of inputs) t.grad = null;
    out.backward(seed);
  });
  return [
    { name: `${name} fwd`, seconds: fwd, flops: flopsForward || undefined },
    { name: `${name} bwd`, seconds: bwd, flops: flopsBackward || undefined },
  ];
}

function conv(name: string, n: number, cin: number, cout: number, hw: number, k: number, padding: number): Measurement[] {
  const x = hn.randn([n, cin, hw, hw], { requiresGrad: true });
  const w = hn.randn([cout, cin, k, k], { requiresGrad: true });
  const b = hn.randn([cout], { requiresGrad: true });
  const out = hw + 2 * padding - k + 1;
  const flops = 2 * n * cout * out * out * cin * k * k;
  return forwardBackward(name, [x, w, b], ([a, c, d]) => hn.F.conv2d(a, c, d, { padding }), flops, 2 * flops);
}

function convTranspose(name: string, n: number, cin: number, cout: number, hw: number, k: number, stride: number, padding: number): Measurement[] {
  const x = hn.randn([n, cin, hw, hw], { requiresGrad: true });
  const w = hn.randn([cin, cout, k, k], { requiresGrad: true });
  const b = hn.randn([cout], { requiresGrad: true });
  const flops = 2 * n * cin * hw * hw * cout * k * k;
  return forwardBackward(name, [x, w, b], ([a, c, d]) => hn.F.convTranspose2d(a, c, d, { stride, padding }), flops, 2 * flops);
}

export function kernelBenchmarks(): Measurement[] {
  const rows: Measurement[] = [];
  hn.manualSeed(0);
  rows.push(...conv('K1 conv2d 64->64 32x32 k3p1', 64, 64, 64, 32, 3, 1));
  rows.push(...conv('K2 conv2d 3->64 32x32 k3p1', 64, 3, 64, 32, 3, 1));
  rows.push(...conv('K3 conv2d 128->128 8x8 k3p1', 64, 128, 128, 8, 3, 1));
  rows.push(...convTranspose('K4 convT 128->64 8->16 k2s2', 64, 128, 64, 8, 2, 2, 0));
  rows.push(...convTranspose('K5 convT 64->32 16->32 k4s2p1', 64, 64, 32, 16, 4, 2, 1));
  {
    const x = hn.randn([64, 64, 32, 32], { requiresGrad: true });
    rows.push(...forwardBackward('K6 maxPool2d 2x2 64x64x32x32', [x], ([a]) => hn.F.maxPool2d(a, { kernelSize: 2 }), 0, 0));
  }
  {
    const x = hn.randn([64, 8192], { requiresGrad: true });
    const w = hn.randn([10, 8192], { requiresGrad: true });
    const b = hn.randn([10], { requiresGrad: true });
    const flops = 2 * 64 * 8192 * 10;
    rows.push(...forwardBackward('K7 linear 8192->10 B=64', [x, w, b], ([a, c, d]) => hn.F.linear(a, c, d), flops, 2 * flops));
  }
  rows.push(sgemm1024());
  return rows;
}

export function sgemm1024(): Measurement {
  const n = 1024;
  const a = hn.randn([n, n]).data as Float32Array;
  const b = hn.randn([n, n]).data as Float32Array;
  const c = new Float32Array(n * n);
  const seconds = timeIt(() => gemm(false, false, n, n, n, a, b, c), { warmup: 3, minRepeats: 10 });
  return { name: 'SGEMM 1024x1024x1024', seconds, flops: 2 * n ** 3 };
}
