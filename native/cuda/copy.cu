#include "copy.h"

#include "common.cuh"

namespace hn::cuda {
namespace {

// One thread per element, grid-stride; uint32_t so that NaN payloads and int32 pass unchanged.
__global__ void copy_2d_kernel(uint32_t* dst, int64_t dst_ld, const uint32_t* src, int64_t src_ld,
                               int64_t rows, int64_t cols) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i - r * cols;
    dst[r * dst_ld + c] = src[r * src_ld + c];
  }
}

}  // namespace

void copy_2d(void* dst, int64_t dst_ld, const void* src, int64_t src_ld, int64_t rows, int64_t cols,
             Stream stream) {
  if (rows <= 0 || cols <= 0) return;
  copy_2d_kernel<<<grid_for(rows * cols), kThreads, 0, stream>>>(
      static_cast<uint32_t*>(dst), dst_ld, static_cast<const uint32_t*>(src), src_ld, rows, cols);
  check_launch("copy_2d");
}

}  // namespace hn::cuda
