// Process-wide runtime controls: threads, CPU features, CUDA availability.
import { bindings } from './native';
import { checkInt } from './errors';

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
};
