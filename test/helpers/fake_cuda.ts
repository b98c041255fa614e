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

// The CUDA op bindings by name (the CPU names), as bindings/cuda_ops.cc registers them.
const OPS = [
  'sgemm', 'conv2dForward', 'conv2dBackwardData', 'conv2dBackwardWeight', 'convTranspose2dForward',
  'convTranspose2dBackwardData', 'convTranspose2dBackwardWeight', 'maxPool2dForward', 'maxPool2dBackward',
  'avgPool2dForward', 'avgPool2dBackward', 'softmaxForward', 'softmaxBackward', 'binaryForward', 'unaryForward',
  'unaryBackward', 'axpy', 'reduceSum', 'crossEntropyForward', 'crossEntropyBackward', 'batchNormForward',
  'batchNormBackward', 'sgdStep', 'adamStep', 'multiTaskLoss', 'pointwiseLossForward', 'pointwiseLossBackward',
] as const;

export interface FakeCudaStats {
  /** Calls per op name. */
  calls: Map<string, number>;
  allocated: number;
}

/** Installs the fake CUDA table into the loaded addon; returns call counters and an uninstall. */
export function installFakeCuda(): { stats: FakeCudaStats; uninstall: () => void } {
  const a = addon as Record<string, unknown>;
  const saved = { cuda: a.cuda, count: a.cudaDeviceCount, available: a.cudaIsAvailable, status: a.cudaStatus };
  const stats: FakeCudaStats = { calls: new Map(), allocated: 0 };
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
  };
  for (const name of OPS) {
    const cpu = a[name] as (...args: unknown[]) => unknown;
    table[name] = (...args: unknown[]): unknown => {
      stats.calls.set(name, (stats.calls.get(name) ?? 0) + 1);
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
