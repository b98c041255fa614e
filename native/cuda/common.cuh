// Helpers shared by the .cu files (never included by plain C++): error checks, launch sizes,
// warp and block reductions. Reductions that must not depend on scheduling write per-block
// partial sums and add them in a fixed order in a second kernel: no float atomics anywhere,
// so every kernel here is deterministic run to run.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>

#include "runtime.h"

namespace hn::cuda {

// Throws hn::cuda::Error naming `what` when status is not cudaSuccess.
void check(cudaError_t status, const char* what);

// After a kernel launch: a bad configuration is reported here, an error inside the kernel at
// the next synchronising call.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items: enough to fill the device, never more than needed.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = 65536;  // grid-stride loops cover the rest
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// The device the current stream's work runs on (the bindings set it before calling a kernel).
inline int current() { return current_device(); }

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

template <typename T>
__device__ __forceinline__ T warp_all_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_all_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024). The result is valid in
// thread 0. Uses `shared` (32 entries); callable repeatedly (it syncs before reusing it).
template <typename T>
__device__ T block_sum(T v, T* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = threadIdx.x < warps ? shared[threadIdx.x] : T(0);
  if (warp == 0) v = warp_sum(v);
  return v;
}

}  // namespace hn::cuda
