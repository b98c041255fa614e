// Process-wide runtime controls: threads, CPU features, CUDA availability.
import { bindings } from './native';
import { argTypeError, checkInt, describeValue } from './errors';

interface RuntimeBindings {
  numThreads(): number;
  setNumThreads(n: number): void;
  cpuFeatures(): { avx2: boolean; forcePortable: boolean };
  setForcePortable(force: boolean): void;
  cudaIsAvailable?(): boolean;
  cudaDeviceCount?(): number;
  cudaStatus?(): { compiled: boolean; deviceCount: number; reason: string };
}
const native = bindings<RuntimeBindings>();

/** Threads the native kernels use (defaults to every core). */
export function getNumThreads(): number {
  return native.numThreads();
}

export function setNumThreads(n: number): void {
  native.setNumThreads(checkInt('setNumThreads', 'n', n, 1));
}

/** Which CPU code paths the kernels take. */
export function cpuFeatures(): { avx2: boolean; forcePortable: boolean } {
  return native.cpuFeatures();
}

/** Forces the portable (non-AVX2) kernels; for tests comparing the two paths. */
export function setForcePortable(force: boolean): void {
  native.setForcePortable(!!force);
}

/** The caching allocator's counters for one device (hn.cuda.memoryStats()). */
export interface CudaMemoryStats {
  /** Bytes held by live tensors (rounded up to their size class). */
  allocatedBytes: number;
  /** Bytes obtained from the driver: live plus cached. */
  reservedBytes: number;
  peakAllocatedBytes: number;
  cachedBlocks: number;
  allocCount: number;
  cacheHits: number;
  cudaMallocCount: number;
}

interface CudaRuntimeBindings {
  memoryStats(device: number): CudaMemoryStats;
  emptyCache(): void;
  synchronize(device: number): void;
  deviceName(device: number): string;
  setAllowTF32(allow: boolean): void;
  allowTF32(): boolean;
}

// The TF32 flag of a build without CUDA kernels: kept so that code setting it runs anywhere.
let allowTF32WithoutCuda = false;

function cudaRuntime(op: string): CudaRuntimeBindings {
  const table = (native as unknown as { cuda?: CudaRuntimeBindings }).cuda;
  if (!table || typeof table.memoryStats !== 'function') {
    throw new RangeError(`${op}: expected a build with CUDA kernels, got one without (no CUDA toolkit at build time)`);
  }
  return table;
}

function deviceIndex(op: string, device: number | string | undefined): number {
  if (device === undefined) return 0;
  if (typeof device === 'number') return checkInt(op, 'device', device, 0);
  const match = /^cuda(?::(\d+))?$/.exec(device);
  if (!match) throw new RangeError(`${op}: expected device to be 'cuda' or 'cuda:N', got '${device}'`);
  return match[1] === undefined ? 0 : Number(match[1]);
}

export const cuda = {
  /** True when this build has CUDA kernels and a usable GPU is present. */
  isAvailable(): boolean {
    return typeof native.cudaIsAvailable === 'function' ? native.cudaIsAvailable() : false;
  },
  deviceCount(): number {
    return typeof native.cudaDeviceCount === 'function' ? native.cudaDeviceCount() : 0;
  },
  /** Whether CUDA kernels were compiled in, how many devices there are, and why none if so. */
  status(): { compiled: boolean; deviceCount: number; reason: string } {
    return typeof native.cudaStatus === 'function'
      ? native.cudaStatus()
      : { compiled: false, deviceCount: 0, reason: 'addon without CUDA bindings' };
  },
  /** The caching allocator's counters for a device (default cuda:0). */
  memoryStats(device?: number | string): CudaMemoryStats {
    return cudaRuntime('cuda.memoryStats').memoryStats(deviceIndex('cuda.memoryStats', device));
  },
  /**
   * Returns every cached (free) device block to the driver, after waiting for queued work. Live
   * tensors keep their memory; use it to hand memory to another process or library.
   */
  emptyCache(): void {
    cudaRuntime('cuda.emptyCache').emptyCache();
  },
  /** Waits until every kernel queued on the device's stream has run (for timing). */
  synchronize(device?: number | string): void {
    cudaRuntime('cuda.synchronize').synchronize(deviceIndex('cuda.synchronize', device));
  },
  /**
   * Lets the CUDA matrix products and convolutions (their implicit GEMMs) use TF32 tensor cores on
   * devices of compute capability 8.0 and up: operands rounded to a 10-bit mantissa, FP32
   * accumulation, about 1e-3 relative error for several times the throughput. Off by default, so
   * CUDA results match the CPU's to FP32 rounding. Process-wide, like PyTorch's
   * torch.backends.cuda.matmul.allow_tf32 (one flag here for matmul and convolution).
   * @example hn.cuda.setAllowTF32(true) // faster training where 1e-3 relative error is fine
   */
  setAllowTF32(allow: boolean): void {
    if (typeof allow !== 'boolean') throw argTypeError('cuda.setAllowTF32', 'allow', 'a boolean', describeValue(allow));
    const table = (native as unknown as { cuda?: Partial<CudaRuntimeBindings> }).cuda;
    if (table && typeof table.setAllowTF32 === 'function') table.setAllowTF32(allow);
    else allowTF32WithoutCuda = allow;
  },
  /** Whether TF32 tensor cores are allowed (hn.cuda.setAllowTF32); false by default. */
  allowTF32(): boolean {
    const table = (native as unknown as { cuda?: Partial<CudaRuntimeBindings> }).cuda;
    return table && typeof table.allowTF32 === 'function' ? table.allowTF32() : allowTF32WithoutCuda;
  },
  /** "NVIDIA H200 (sm_90, 132 SMs, 139.8 GiB)". */
  deviceName(device?: number | string): string {
    return cudaRuntime('cuda.deviceName').deviceName(deviceIndex('cuda.deviceName', device));
  },
};
