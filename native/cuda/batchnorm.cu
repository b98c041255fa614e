#include "batchnorm.h"

#include "allocator.h"
#include "common.cuh"

namespace hn::cuda {
namespace {

__global__ void stats_kernel(const float* x, float* running_mean, float* running_var, int64_t N,
                             int64_t C, int64_t HW, bool use_batch_stats, float momentum, float eps,
                             float* save_mean, float* save_invstd) {
  __shared__ double shared[32];
  __shared__ double mean_shared;
  const int64_t c = blockIdx.x;
  double mean, var;
  if (use_batch_stats) {
    const int64_t M = N * HW;
    double sum = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float* xp = x + (n * C + c) * HW;
      for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) sum += xp[i];
    }
    sum = block_sum(sum, shared);
    if (threadIdx.x == 0) mean_shared = sum / static_cast<double>(M);
    __syncthreads();
    mean = mean_shared;
    double squares = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float* xp = x + (n * C + c) * HW;
      for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
        const double d = xp[i] - mean;
        squares += d * d;
      }
    }
    squares = block_sum(squares, shared);
    if (threadIdx.x != 0) return;
    var = squares / static_cast<double>(M);
    if (running_mean) running_mean[c] = static_cast<float>(momentum * mean + (1.0 - momentum) * running_mean[c]);
    if (running_var) {
      const double unbiased = squares / static_cast<double>(M - 1);
      running_var[c] = static_cast<float>(momentum * unbiased + (1.0 - momentum) * running_var[c]);
    }
  } else {
    if (threadIdx.x != 0) return;
    mean = running_mean[c];
    var = running_var[c];
  }
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
}

__global__ void normalize_kernel(const float* x, const float* weight, const float* bias,
                                 const float* save_mean, const float* save_invstd, int64_t C,
                                 int64_t HW, int64_t total, float* y) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / HW) % C;
    const float scale = (weight ? weight[c] : 1.0f) * save_invstd[c];
    const float shift = (bias ? bias[c] : 0.0f) - save_mean[c] * scale;
    y[i] = x[i] * scale + shift;
  }
}

// Per channel: grad_weight = sum(g * xhat), grad_bias = sum(g); means[c] / means[C + c] keep
// sum(g) / M and sum(g * xhat) / M for grad_x.
__global__ void backward_sums_kernel(const float* x, const float* grad_y, const float* save_mean,
                                     const float* save_invstd, int64_t N, int64_t C, int64_t HW,
                                     float* grad_weight, float* grad_bias, float* means) {
  __shared__ double shared[32];
  const int64_t c = blockIdx.x;
  const float mean = save_mean[c], invstd = save_invstd[c];
  double sum_g = 0.0, sum_g_xhat = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const float* xp = x + (n * C + c) * HW;
    const float* gp = grad_y + (n * C + c) * HW;
    for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
      sum_g += gp[i];
      sum_g_xhat += static_cast<double>(gp[i]) * ((xp[i] - mean) * invstd);
    }
  }
  sum_g = block_sum(sum_g, shared);
  sum_g_xhat = block_sum(sum_g_xhat, shared);
  if (threadIdx.x != 0) return;
  if (grad_weight) grad_weight[c] = static_cast<float>(sum_g_xhat);
  if (grad_bias) grad_bias[c] = static_cast<float>(sum_g);
  const double M = static_cast<double>(N * HW);
  means[c] = static_cast<float>(sum_g / M);
  means[C + c] = static_cast<float>(sum_g_xhat / M);
}

__global__ void grad_input_kernel(const float* x, const float* grad_y, const float* weight,
                                  const float* save_mean, const float* save_invstd, const float* means,
                                  int64_t C, int64_t HW, int64_t total, float* grad_x) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = (i / HW) % C;
    const float invstd = save_invstd[c];
    const float scale = (weight ? weight[c] : 1.0f) * invstd;
    if (!means) {
      grad_x[i] = scale * grad_y[i];  // eval: the statistics are constants
      continue;
    }
    const float xhat = (x[i] - save_mean[c]) * invstd;
    grad_x[i] = scale * (grad_y[i] - means[c] - xhat * means[C + c]);
  }
}

}  // namespace

void batch_norm_forward(const float* x, const float* weight, const float* bias,
                        float* running_mean, float* running_var, int64_t N, int64_t C, int64_t HW,
                        bool use_batch_stats, float momentum, float eps, float* y,
                        float* save_mean, float* save_invstd, Stream stream) {
  if (C == 0) return;
  stats_kernel<<<static_cast<unsigned>(C), kThreads, 0, stream>>>(
      x, running_mean, running_var, N, C, HW, use_batch_stats, momentum, eps, save_mean, save_invstd);
  check_launch("batch_norm_forward (statistics)");
  const int64_t total = N * C * HW;
  if (total == 0) return;
  normalize_kernel<<<grid_for(total), kThreads, 0, stream>>>(x, weight, bias, save_mean, save_invstd, C,
                                                             HW, total, y);
  check_launch("batch_norm_forward");
}

void batch_norm_backward(const float* x, const float* grad_y, const float* weight,
                         const float* save_mean, const float* save_invstd, int64_t N, int64_t C,
                         int64_t HW, bool use_batch_stats, float* grad_x, float* grad_weight,
                         float* grad_bias, Stream stream) {
  if (C == 0) return;
  const bool need_sums = grad_weight || grad_bias || (grad_x && use_batch_stats);
  DeviceBuffer means(need_sums ? sizeof(float) * 2 * C : 0, current());
  if (need_sums) {
    backward_sums_kernel<<<static_cast<unsigned>(C), kThreads, 0, stream>>>(
        x, grad_y, save_mean, save_invstd, N, C, HW, grad_weight, grad_bias, means.as<float>());
    check_launch("batch_norm_backward (sums)");
  }
  const int64_t total = N * C * HW;
  if (!grad_x || total == 0) return;
  grad_input_kernel<<<grid_for(total), kThreads, 0, stream>>>(
      x, grad_y, weight, save_mean, save_invstd, use_batch_stats ? means.as<float>() : nullptr, C, HW,
      total, grad_x);
  check_launch("batch_norm_backward");
}

}  // namespace hn::cuda
