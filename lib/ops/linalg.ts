// Matrix products on the native SGEMM: matmul (torch.matmul's 1-D/2-D/batched cases) and linear.
import { record } from '../autograd';
import { argRangeError, argTypeError, describeValue, shapeString } from '../errors';
import { bindings } from '../native';
import { Device, KernelBuffer, Tensor, isTensor, numelOf } from '../tensor';
import { commonDevice, kernelsFor } from './device';
import { sumToShape } from './elementwise';

interface GemmBindings {
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: KernelBuffer, lda: number, B: KernelBuffer, ldb: number, beta: number, C: KernelBuffer, ldc: number): void;
  binaryForward(kind: number, a: KernelBuffer, aStrides: number[], b: KernelBuffer, bStrides: number[], out: KernelBuffer, shape: readonly number[]): void;
}
const native = bindings<GemmBindings>();

// CUDA only (bindings/cuda_ops.cc): `batch` products, matrix i of A at A + i * strideA (B, C alike).
interface BatchedGemmBindings {
  sgemmBatched(transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: KernelBuffer, lda: number, strideA: number, B: KernelBuffer, ldb: number, strideB: number, beta: number,
    C: KernelBuffer, ldc: number, strideC: number, batch: number): void;
}

/** gemm() on whole tensors of any device (the table is the CPU's or CUDA's, lib/ops/device.ts). */
function gemmOn(device: Device, transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: KernelBuffer, B: KernelBuffer, C: KernelBuffer, beta = 0): void {
  const k = device === 'cpu' ? native : kernelsFor<GemmBindings>('matmul', device);
  k.sgemm(transA, transB, M, N, K, 1, A, transA ? M : K, B, transB ? K : N, beta, C, N);
}

/**
 * C = op(A) op(B) (+ beta C) on subarrays, row-major. A is [M, K] (or [K, M] when transA), B is
 * [K, N] (or [N, K] when transB).
 */
export function gemm(transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, C: Float32Array, beta = 0): void {
  native.sgemm(transA, transB, M, N, K, 1, A, transA ? M : K, B, transB ? K : N, beta, C, N);
}

function checkFloat(op: string, arg: string, t: unknown): Tensor {
  if (!isTensor(t)) throw argTypeError(op, arg, 'a tensor', describeValue(t));
  t.buffer(op, arg);
  return t;
}

/** matmul of [..., M, K] by [K, N], or batched [B, M, K] by [B, K, N]; 1-D operands as in PyTorch. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const op = 'matmul';
  checkFloat(op, 'input', a);
  checkFloat(op, 'other', b);
  if (a.ndim === 0 || b.ndim === 0) throw argRangeError(op, 'input', 'tensors with at least 1 dim', `${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  // 1-D operands: promote, multiply, then drop the added dim (torch.matmul's rule).
  if (a.ndim === 1) return matmul(a.reshape([1, a.shape[0]]), b).reshape(b.ndim === 1 ? [] : [...b.shape.slice(0, -2), b.shape[b.ndim - 1]]);
  if (b.ndim === 1) return matmul(a, b.reshape([b.shape[0], 1])).reshape(a.shape.slice(0, -1));
  const K = a.shape[a.ndim - 1];
  if (b.shape[b.ndim - 2] !== K) {
    throw argRangeError(op, 'other', `a matrix with ${K} rows to match input ${shapeString(a.shape)}`, shapeString(b.shape));
  }
  const N = b.shape[b.ndim - 1];
  const device = commonDevice(op, [['input', a], ['other', b]]);
  if (b.ndim === 2) {
    const M = numelOf(a.shape.slice(0, -1));
    const out = Tensor.empty([...a.shape.slice(0, -1), N], 'float32', device);
    gemmOn(device, false, false, M, N, K, a.buffer(), b.buffer(), out.buffer());
    return record(out, op, {}, [a, b], (g) => {
      const gd = g.buffer(op, 'gradOutput');
      let ga: Tensor | null = null;
      let gb: Tensor | null = null;
      if (a.requiresGrad) {
        ga = Tensor.empty(a.shape, 'float32', device);
        gemmOn(device, false, true, M, K, N, gd, b.buffer(), ga.buffer());
      }
      if (b.requiresGrad) {
        gb = Tensor.empty(b.shape, 'float32', device);
        gemmOn(device, true, false, K, N, M, a.buffer(), gd, gb.buffer());
      }
      return [ga, gb];
    });
  }
  if (a.ndim !== 3 || b.ndim !== 3 || a.shape[0] !== b.shape[0]) {
    throw argRangeError(op, 'other', 'a 2-D matrix, or a 3-D batch matching the input batch', `${shapeString(a.shape)} @ ${shapeString(b.shape)}`);
  }
  const [batch, M] = a.shape;
  if (device !== 'cpu') return batchedMatmulOnDevice(a, b, batch, M, N, K, device);
  const out = Tensor.empty([batch, M, N]);
  const ad = a.floatData(), bd = b.floatData(), od = out.data as Float32Array;
  for (let i = 0; i < batch; i++) {
    gemm(false, false, M, N, K, ad.subarray(i * M * K, (i + 1) * M * K), bd.subarray(i * K * N, (i + 1) * K * N), od.subarray(i * M * N, (i + 1) * M * N));
  }
  return record(out, op, {}, [a, b], (g) => {
    const gd = g.floatData();
    const ga = a.requiresGrad ? Tensor.empty(a.shape) : null;
    const gb = b.requiresGrad ? Tensor.empty(b.shape) : null;
    for (let i = 0; i < batch; i++) {
      const gi = gd.subarray(i * M * N, (i + 1) * M * N);
      if (ga) gemm(false, true, M, K, N, gi, bd.subarray(i * K * N, (i + 1) * K * N), (ga.data as Float32Array).subarray(i * M * K, (i + 1) * M * K));
      if (gb) gemm(true, false, K, N, M, ad.subarray(i * M * K, (i + 1) * M * K), gi, (gb.data as Float32Array).subarray(i * K * N, (i + 1) * K * N));
    }
    return [ga, gb];
  });
}

/**
 * Batched matmul [batch, M, K] @ [batch, K, N] on a CUDA device: one strided-batched SGEMM for the
 * product and one for each gradient (ga_i = g_i b_iᵀ, gb_i = a_iᵀ g_i), as the CPU loop does per i.
 */
function batchedMatmulOnDevice(a: Tensor, b: Tensor, batch: number, M: number, N: number, K: number, device: Device): Tensor {
  const op = 'matmul';
  const k = kernelsFor<BatchedGemmBindings>(op, device);
  // Leading dimensions of at least 1 (an empty dim leaves nothing to address).
  const ld = (n: number): number => Math.max(n, 1);
  const out = Tensor.empty([batch, M, N], 'float32', device);
  k.sgemmBatched(false, false, M, N, K, 1, a.buffer(), ld(K), M * K, b.buffer(), ld(N), K * N, 0, out.buffer(), ld(N), M * N, batch);
  return record(out, op, {}, [a, b], (g) => {
    const gd = g.buffer(op, 'gradOutput');
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      ga = Tensor.empty(a.shape, 'float32', device);
      k.sgemmBatched(false, true, M, K, N, 1, gd, ld(N), M * N, b.buffer(), ld(N), K * N, 0, ga.buffer(), ld(K), M * K, batch);
    }
    if (b.requiresGrad) {
      gb = Tensor.empty(b.shape, 'float32', device);
      k.sgemmBatched(true, false, K, N, M, 1, a.buffer(), ld(K), M * K, gd, ld(N), M * N, 0, gb.buffer(), ld(N), K * N, batch);
    }
    return [ga, gb];
  });
}

/** y = x wᵀ + b for x [..., in], weight [out, in], bias [out] (torch.nn.functional.linear). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const op = 'linear';
  checkFloat(op, 'input', x);
  checkFloat(op, 'weight', weight);
  if (weight.ndim !== 2) throw argRangeError(op, 'weight', 'a 2-D tensor [outFeatures, inFeatures]', `shape ${shapeString(weight.shape)}`);
  const [outF, inF] = weight.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw argRangeError(op, 'input', `a tensor [..., ${inF}] (inFeatures of weight ${shapeString(weight.shape)})`, `shape ${shapeString(x.shape)}`);
  }
  if (bias != null) {
    checkFloat(op, 'bias', bias);
    if (bias.ndim !== 1 || bias.shape[0] !== outF) throw argRangeError(op, 'bias', `shape [${outF}]`, `shape ${shapeString(bias.shape)}`);
  }
  const M = numelOf(x.shape.slice(0, -1));
  const device = commonDevice(op, [['input', x], ['weight', weight], ['bias', bias]]);
  // Outputs the product (or the bias rows) overwrite need no zero fill; an empty reduction
  // (K = 0) writes nothing, so it keeps the zeros.
  const fresh = (shape: readonly number[], K: number): Tensor => (K > 0 ? Tensor.uninitialized(shape, device) : Tensor.empty(shape, 'float32', device));
  const out = fresh([...x.shape.slice(0, -1), outF], bias && device === 'cpu' ? 1 : inF);
  if (device === 'cpu') {
    const od = out.data as Float32Array;
    if (bias) {
      const bd = bias.floatData();
      for (let i = 0; i < M; i++) od.set(bd, i * outF);
    }
    gemm(false, true, M, outF, inF, x.floatData(), weight.floatData(), od, bias ? 1 : 0);
  } else {
    gemmOn(device, false, true, M, outF, inF, x.buffer(), weight.buffer(), out.buffer());
    // out[m, :] += bias, in place: element-wise, so reading and writing the same buffer is safe.
    if (bias) kernelsFor<GemmBindings>(op, device).binaryForward(0, out.buffer(), [outF, 1], bias.buffer(), [0, 1], out.buffer(), [M, outF]);
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, op, { hasBias: !!bias }, inputs, (g) => {
    const gd = g.buffer(op, 'gradOutput');
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    if (x.requiresGrad) {
      gx = fresh(x.shape, outF);
      gemmOn(device, false, false, M, inF, outF, gd, weight.buffer(), gx.buffer());
    }
    if (weight.requiresGrad) {
      gw = fresh(weight.shape, M);
      gemmOn(device, true, false, outF, inF, M, gd, x.buffer(), gw.buffer());
    }
    const gb = bias && bias.requiresGrad ? sumToShape(g.reshape([M, outF]), [outF]) : null;
    return bias ? [gx, gw, gb] : [gx, gw];
  });
}
