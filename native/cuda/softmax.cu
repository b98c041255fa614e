#include "softmax.h"

#include "common.cuh"

namespace hn::cuda {
namespace {

constexpr int kWarpsPerBlock = kThreads / 32;

__global__ void softmax_rows_kernel(const float* x, float* y, int64_t rows, int64_t dim, bool log) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = blockIdx.x * static_cast<int64_t>(kWarpsPerBlock) + (threadIdx.x >> 5); row < rows;
       row += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const float* xr = x + row * dim;
    float* yr = y + row * dim;
    float max = -INFINITY;
    for (int64_t d = lane; d < dim; d += 32) max = fmaxf(max, xr[d]);
    max = warp_all_max(max);
    float sum = 0.0f;
    for (int64_t d = lane; d < dim; d += 32) sum += expf(xr[d] - max);
    sum = warp_all_sum(sum);
    // A row of all -inf gives NaN (-inf - -inf), as in PyTorch.
    if (log) {
      const float log_sum = logf(sum);
      for (int64_t d = lane; d < dim; d += 32) yr[d] = xr[d] - max - log_sum;
    } else {
      for (int64_t d = lane; d < dim; d += 32) yr[d] = expf(xr[d] - max) / sum;
    }
  }
}

__global__ void softmax_columns_kernel(const float* x, float* y, int64_t outer, int64_t dim,
                                       int64_t inner, bool log) {
  const int64_t columns = outer * inner;
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < columns;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = c / inner, i = c - o * inner;
    const float* xc = x + o * dim * inner + i;
    float* yc = y + o * dim * inner + i;
    float max = -INFINITY;
    for (int64_t d = 0; d < dim; ++d) max = fmaxf(max, xc[d * inner]);
    float sum = 0.0f;
    for (int64_t d = 0; d < dim; ++d) sum += expf(xc[d * inner] - max);
    if (log) {
      const float log_sum = logf(sum);
      for (int64_t d = 0; d < dim; ++d) yc[d * inner] = xc[d * inner] - max - log_sum;
    } else {
      for (int64_t d = 0; d < dim; ++d) yc[d * inner] = expf(xc[d * inner] - max) / sum;
    }
  }
}

// softmax: grad_x = y (g - sum(g y));  log_softmax: grad_x = g - exp(y) sum(g)
__global__ void softmax_backward_rows_kernel(const float* y, const float* g, float* gx, int64_t rows,
                                             int64_t dim, bool log) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = blockIdx.x * static_cast<int64_t>(kWarpsPerBlock) + (threadIdx.x >> 5); row < rows;
       row += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const float* yr = y + row * dim;
    const float* gr = g + row * dim;
    float* xr = gx + row * dim;
    float dot = 0.0f;
    for (int64_t d = lane; d < dim; d += 32) dot += log ? gr[d] : gr[d] * yr[d];
    dot = warp_all_sum(dot);
    for (int64_t d = lane; d < dim; d += 32) {
      xr[d] = log ? gr[d] - expf(yr[d]) * dot : yr[d] * (gr[d] - dot);
    }
  }
}

__global__ void softmax_backward_columns_kernel(const float* y, const float* g, float* gx,
                                                int64_t outer, int64_t dim, int64_t inner, bool log) {
  const int64_t columns = outer * inner;
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < columns;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o = c / inner, i = c - o * inner;
    const int64_t base = o * dim * inner + i;
    float dot = 0.0f;
    for (int64_t d = 0; d < dim; ++d) dot += log ? g[base + d * inner] : g[base + d * inner] * y[base + d * inner];
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t k = base + d * inner;
      gx[k] = log ? g[k] - expf(y[k]) * dot : y[k] * (g[k] - dot);
    }
  }
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t dim, int64_t inner, bool log,
                     Stream stream) {
  if (outer * dim * inner == 0) return;
  if (inner == 1) {
    softmax_rows_kernel<<<grid_for(outer, kWarpsPerBlock), kThreads, 0, stream>>>(x, y, outer, dim, log);
  } else {
    softmax_columns_kernel<<<grid_for(outer * inner), kThreads, 0, stream>>>(x, y, outer, dim, inner, log);
  }
  check_launch("softmax_forward");
}

void softmax_backward(const float* y, const float* grad_y, float* grad_x, int64_t outer,
                      int64_t dim, int64_t inner, bool log, Stream stream) {
  if (outer * dim * inner == 0) return;
  if (inner == 1) {
    softmax_backward_rows_kernel<<<grid_for(outer, kWarpsPerBlock), kThreads, 0, stream>>>(
        y, grad_y, grad_x, outer, dim, log);
  } else {
    softmax_backward_columns_kernel<<<grid_for(outer * inner), kThreads, 0, stream>>>(
        y, grad_y, grad_x, outer, dim, inner, log);
  }
  check_launch("softmax_backward");
}

}  // namespace hn::cuda
