// A stand-in for the addon's CUDA table (bindings/cuda_memory.cc + cuda_ops.cc) that runs on the
// CPU: a "device buffer" is a tagged object holding a host typed array, and every CUDA op binding
// forwards to the CPU binding of the same name after unwrapping its buffers. It is strict where the
// real bindings are: an op given a host typed array where a device buffer belongs, a disposed
// buffer, or buffers of two devices throws. Installing it makes hn.cuda.isAvailable() true, so the
// TypeScript CUDA paths (storage, to(), dispatch, optimizers, the fused loss) run end to end on a
// machine without a GPU. It checks the plumbing, not the CUDA kernels (cuda_ops_test does that).
import { addon } from '../../lib/native';

interface FakeBuffer {
  __fakeCuda: true;
  array: Float32Array | Int32Array | null;
  device: number;
}

const isBuffer = (v: unknown): v is FakeBuffer => typeof v === 'object' && v !== null && (v as FakeBuffer).__fakeCuda === true;

function live(b: FakeBuffer, what: string): Float32Array | Int32Array {
  if (!b.array) throw new TypeError(`${what}: expected a live CUDA tensor, got a disposed one`);
  return b.array;
}

// The CUDA op bindings with a CPU twin of the same name and arguments, as bindings/cuda_ops.cc and
// cuda_loss.cc register them. sgemmBatched and copyBlocks have none (the CPU does that work in
// TypeScript): the fake implements them below, with the real bindings' bounds checks.
const OPS = [
  'sgemm', 'conv2dForward', 'conv2dBackwardData', 'conv2dBackwardWeight', 'convTranspose2dForward',
  'convTranspose2dBackwardData', 'convTranspose2dBackwardWeight', 'maxPool2dForward', 'maxPool2dBackward',
  'avgPool2dForward', 'avgPool2dBackward', 'softmaxForward', 'softmaxBackward', 'binaryForward', 'unaryForward',
  'unaryBackward', 'axpy', 'reduceSum', 'crossEntropyForward', 'crossEntropyBackward', 'nllLossForward',
  'nllLossBackward', 'batchNormForward', 'batchNormBackward', 'sgdStep', 'adamStep', 'multiTaskLoss',
  'pointwiseLossForward', 'pointwiseLossBackward',
] as const;

/** offset + (count - 1) * stride + extent elements fit in length (nothing is touched when empty). */
function covers(length: number, offset: number, count: number, stride: number, extent: number): boolean {
  return count === 0 || extent === 0 || offset + (count - 1) * stride + extent <= length;
}

export interface FakeCudaStats {
  /** Calls per op name. */
  calls: Map<string, number>;
  allocated: number;
  /** The TF32 flag as hn.cuda.setAllowTF32 left it (no effect on the CPU kernels behind the fake). */
  allowTF32: boolean;
}

/** Installs the fake CUDA table into the loaded addon; returns call counters and an uninstall. */
export function installFakeCuda(): { stats: FakeCudaStats; uninstall: () => void } {
  const a = addon as Record<string, unknown>;
  const saved = { cuda: a.cuda, count: a.cudaDeviceCount, available: a.cudaIsAvailable, status: a.cudaStatus };
  const stats: FakeCudaStats = { calls: new Map(), allocated: 0, allowTF32: false };
  let device = -1;
  const unwrap = (op: string, v: unknown, i: string): unknown => {
    if (ArrayBuffer.isView(v)) throw new TypeError(`${op}: argument ${i} is a host ${v.constructor.name}; a CUDA op takes device buffers`);
    if (!isBuffer(v)) return v;
    if (device >= 0 && v.device !== device) throw new RangeError(`${op}: buffers of two devices`);
    device = v.device;
    return live(v, op);
  };
  const table: Record<string, unknown> = {
    alloc(length: number, dtype: string, dev: number): FakeBuffer {
      stats.allocated += length * 4;
      return { __fakeCuda: true, array: dtype === 'int32' ? new Int32Array(length) : new Float32Array(length), device: dev };
    },
    free(b: FakeBuffer): void {
      if (b.array) stats.allocated -= b.array.length * 4;
      b.array = null;
    },
    upload(b: FakeBuffer, src: Float32Array | Int32Array): void {
      const dst = live(b, 'cuda.upload');
      if (dst.length !== src.length || dst.constructor !== src.constructor) throw new RangeError('cuda.upload: dtype or length mismatch');
      dst.set(src);
    },
    download(b: FakeBuffer, dst: Float32Array | Int32Array): void {
      const src = live(b, 'cuda.download');
      if (dst.length !== src.length || dst.constructor !== src.constructor) throw new RangeError('cuda.download: dtype or length mismatch');
      dst.set(src);
    },
    copy(dst: FakeBuffer, src: FakeBuffer): void {
      live(dst, 'cuda.copy').set(live(src, 'cuda.copy') as never);
    },
    memoryStats: () => ({ allocatedBytes: stats.allocated, reservedBytes: stats.allocated, peakAllocatedBytes: 0, cachedBlocks: 0,
      allocCount: 0, cacheHits: 0, cudaMallocCount: 0 }),
    emptyCache: () => undefined,
    synchronize: () => undefined,
    deviceName: () => 'fake CUDA device (CPU)',
    setAllowTF32: (allow: boolean) => {
      stats.allowTF32 = allow;
    },
    allowTF32: () => stats.allowTF32,
  };
  const count = (name: string): void => {
    stats.calls.set(name, (stats.calls.get(name) ?? 0) + 1);
  };
  // The CPU sgemm binding, once per matrix of the batch, on subarrays.
  table.sgemmBatched = (transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, A: FakeBuffer,
    lda: number, strideA: number, B: FakeBuffer, ldb: number, strideB: number, beta: number, C: FakeBuffer, ldc: number,
    strideC: number, batch: number): void => {
    count('sgemmBatched');
    device = -1;
    const [ha, hb, hc] = [A, B, C].map((v, i) => unwrap('sgemmBatched', v, String(i)) as Float32Array);
    const sgemm = a.sgemm as (...args: unknown[]) => void;
    const extent = (rows: number, cols: number, ld: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
    const ea = extent(transA ? K : M, transA ? M : K, lda), eb = extent(transB ? N : K, transB ? K : N, ldb), ec = extent(M, N, ldc);
    if (!covers(ha.length, 0, batch, strideA, ea) || !covers(hb.length, 0, batch, strideB, eb) || !covers(hc.length, 0, batch, strideC, ec)) {
      throw new RangeError('sgemmBatched: a matrix reaches past its buffer');
    }
    if (batch > 1 && strideC < ec) throw new RangeError('sgemmBatched: expected strideC to keep the outputs apart');
    for (let i = 0; i < batch; i++) {
      sgemm(transA, transB, M, N, K, alpha, ha.subarray(i * strideA, i * strideA + ea), lda, hb.subarray(i * strideB, i * strideB + eb),
        ldb, beta, hc.subarray(i * strideC, i * strideC + ec), ldc);
    }
  };
  table.copyBlocks = (dst: FakeBuffer, dstOffset: number, dstLd: number, src: FakeBuffer, srcOffset: number, srcLd: number,
    rows: number, cols: number): void => {
    count('copyBlocks');
    device = -1;
    const d = unwrap('copyBlocks', dst, 'dst') as Float32Array | Int32Array;
    const s = unwrap('copyBlocks', src, 'src') as Float32Array | Int32Array;
    if (d === s) throw new RangeError('copyBlocks: expected src to be a buffer other than dst');
    if (d.constructor !== s.constructor) throw new TypeError('copyBlocks: expected src to have the dtype of dst');
    if (dstLd < cols || srcLd < cols || !covers(d.length, dstOffset, rows, dstLd, cols) || !covers(s.length, srcOffset, rows, srcLd, cols)) {
      throw new RangeError('copyBlocks: a block reaches past its buffer');
    }
    for (let r = 0; r < rows; r++) {
      d.set(s.subarray(srcOffset + r * srcLd, srcOffset + r * srcLd + cols) as never, dstOffset + r * dstLd);
    }
  };
  for (const name of OPS) {
    const cpu = a[name] as (...args: unknown[]) => unknown;
    table[name] = (...args: unknown[]): unknown => {
      count(name);
      device = -1;
      if (name === 'multiTaskLoss') {
        const tasks = (args[0] as Record<string, unknown>[]).map((t) => {
          const copy: Record<string, unknown> = { ...t };
          for (const key of ['output', 'labels', 'target', 'mask', 'grad']) {
            if (copy[key] !== undefined && copy[key] !== null) copy[key] = unwrap(name, copy[key], key);
          }
          return copy;
        });
        return cpu(tasks);
      }
      return cpu(...args.map((v, i) => unwrap(name, v, String(i))));
    };
  }
  a.cuda = table;
  a.cudaDeviceCount = () => 1;
  a.cudaIsAvailable = () => true;
  a.cudaStatus = () => ({ compiled: true, deviceCount: 1, reason: '' });
  return {
    stats,
    uninstall: () => {
      a.cuda = saved.cuda;
      a.cudaDeviceCount = saved.count;
      a.cudaIsAvailable = saved.available;
      a.cudaStatus = saved.status;
    },
  };
}
