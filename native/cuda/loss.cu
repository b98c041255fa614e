#include "loss.h"

#include "allocator.h"
#include "common.cuh"

namespace hn::cuda {
namespace {

__device__ __forceinline__ float class_weight(const float* weight, int64_t c) { return weight ? weight[c] : 1.0f; }

__device__ __forceinline__ float row_factor(const float* grad_row, float grad_scale,
                                            const float* grad_scalar, const double* totals, int64_t r) {
  if (grad_row) return grad_row[r];
  float g = grad_scale * (grad_scalar ? *grad_scalar : 1.0f);
  if (totals) g = static_cast<float>(static_cast<double>(g) / totals[1]);
  return g;
}

// W = sum_c w[c] (C when unweighted).
__device__ __forceinline__ float weight_total(const float* weight, int64_t C) {
  if (!weight) return static_cast<float>(C);
  double w = 0.0;
  for (int64_t c = 0; c < C; ++c) w += weight[c];
  return static_cast<float>(w);
}

__global__ void cross_entropy_forward_kernel(const float* logits, const int32_t* target,
                                             const float* weight, int64_t N, int64_t C, int64_t S,
                                             int32_t ignore_index, float eps, float* lse, float* row_loss) {
  const int64_t rows = N * S;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = r / S, s = r - n * S;
    const float* x = logits + n * C * S + s;
    float max = -INFINITY;
    for (int64_t c = 0; c < C; ++c) max = fmaxf(max, x[c * S]);
    float sum = 0.0f, smooth = 0.0f;
    for (int64_t c = 0; c < C; ++c) {
      const float shifted = x[c * S] - max;
      sum += expf(shifted);
      smooth -= class_weight(weight, c) * shifted;  // sum_c w[c] (max - x_c) >= 0
    }
    const float log_sum = logf(sum);
    lse[r] = max + log_sum;
    const int32_t t = target[r];
    if (t == ignore_index || t < 0 || t >= C) {  // bad labels (checked by the caller) never index
      row_loss[r] = 0.0f;
      continue;
    }
    float loss = (1.0f - eps) * class_weight(weight, t) * (lse[r] - x[t * S]);
    if (eps != 0.0f) loss += eps / static_cast<float>(C) * (weight_total(weight, C) * log_sum + smooth);
    row_loss[r] = loss;
  }
}

// totals = {sum of row_loss, sum of w[target]} over rows not ignored; one block, fixed order.
__global__ void row_totals_kernel(const float* row_loss, const int32_t* target, const float* weight,
                                  int64_t rows, int64_t C, int32_t ignore_index, double* totals) {
  __shared__ double shared[32];
  double loss = 0.0, w = 0.0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    const int32_t t = target[r];
    if (t == ignore_index || t < 0 || t >= C) continue;
    loss += row_loss[r];
    w += class_weight(weight, t);
  }
  loss = block_sum(loss, shared);
  w = block_sum(w, shared);
  if (threadIdx.x == 0) {
    totals[0] = loss;
    totals[1] = w;
  }
}

__global__ void cross_entropy_backward_kernel(const float* logits, const int32_t* target,
                                              const float* weight, const float* lse,
                                              const float* grad_row, float grad_scale,
                                              const float* grad_scalar, const double* totals,
                                              int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                                              float eps, float* grad_logits) {
  const int64_t rows = N * S;
  const float smooth_scale = eps / static_cast<float>(C);
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = r / S, s = r - n * S;
    const float* x = logits + n * C * S + s;
    float* gx = grad_logits + n * C * S + s;
    const int32_t t = target[r];
    const bool ignored = t == ignore_index || t < 0 || t >= C;
    const float g = ignored ? 0.0f : row_factor(grad_row, grad_scale, grad_scalar, totals, r);
    if (g == 0.0f) {
      for (int64_t c = 0; c < C; ++c) gx[c * S] = 0.0f;
      continue;
    }
    const float wt = class_weight(weight, t);
    const float p_coef = (1.0f - eps) * wt + (eps != 0.0f ? smooth_scale * weight_total(weight, C) : 0.0f);
    const float hot_coef = (1.0f - eps) * wt;
    const float row_lse = lse[r];
    for (int64_t c = 0; c < C; ++c) {
      const float p = expf(x[c * S] - row_lse);
      const float hot = c == t ? hot_coef : 0.0f;
      gx[c * S] = g * (p * p_coef - hot - smooth_scale * class_weight(weight, c));
    }
  }
}

__global__ void nll_forward_kernel(const float* log_probs, const int32_t* target, const float* weight,
                                   int64_t N, int64_t C, int64_t S, int32_t ignore_index, float* row_loss) {
  const int64_t rows = N * S;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int32_t t = target[r];
    if (t == ignore_index || t < 0 || t >= C) {
      row_loss[r] = 0.0f;
      continue;
    }
    const int64_t n = r / S, s = r - n * S;
    row_loss[r] = -class_weight(weight, t) * log_probs[(n * C + t) * S + s];
  }
}

__global__ void nll_backward_kernel(const int32_t* target, const float* weight, const float* grad_row,
                                    float grad_scale, const float* grad_scalar, const double* totals,
                                    int64_t N, int64_t C, int64_t S, int32_t ignore_index, float* grad) {
  const int64_t total = N * C * S;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = i / (C * S), rest = i - n * C * S;
    const int64_t c = rest / S, s = rest - c * S;
    const int64_t r = n * S + s;
    const int32_t t = target[r];
    grad[i] = (t == ignore_index || t != c)  // t != c also covers bad labels
                  ? 0.0f
                  : -class_weight(weight, t) * row_factor(grad_row, grad_scale, grad_scalar, totals, r);
  }
}

// ---- Point-wise -----------------------------------------------------------------------------

__device__ __forceinline__ float softplus_neg(float x) { return log1pf(expf(-fabsf(x))) + fmaxf(-x, 0.0f); }
__device__ __forceinline__ float sign_of(float v) { return static_cast<float>((v > 0.0f) - (v < 0.0f)); }

__device__ __forceinline__ float element_loss(PointwiseLoss kind, float x, float t, float w, float pw, float beta) {
  const float d = x - t;
  const float a = fabsf(d);
  switch (kind) {
    case PointwiseLoss::Mse: return d * d;
    case PointwiseLoss::L1: return a;
    case PointwiseLoss::SmoothL1: return (beta == 0.0f || a >= beta) ? a - 0.5f * beta : 0.5f * d * d / beta;
    case PointwiseLoss::Huber: return a < beta ? 0.5f * d * d : beta * (a - 0.5f * beta);
    case PointwiseLoss::BceWithLogits: return w * ((1.0f - t) * x + (1.0f + (pw - 1.0f) * t) * softplus_neg(x));
  }
  return 0.0f;
}

__device__ __forceinline__ float element_grad_input(PointwiseLoss kind, float x, float t, float w, float pw, float beta) {
  const float d = x - t;
  switch (kind) {
    case PointwiseLoss::Mse: return 2.0f * d;
    case PointwiseLoss::L1: return sign_of(d);
    case PointwiseLoss::SmoothL1: return (beta == 0.0f || fabsf(d) >= beta) ? sign_of(d) : d / beta;
    case PointwiseLoss::Huber: return fabsf(d) < beta ? d : beta * sign_of(d);
    case PointwiseLoss::BceWithLogits: {
      const float sig_neg = 1.0f / (1.0f + expf(x));
      return w * ((1.0f - t) - (1.0f + (pw - 1.0f) * t) * sig_neg);
    }
  }
  return 0.0f;
}

constexpr int kSumBlocks = 512;

// Per-block partial sums of the element losses (fixed grid: deterministic).
__global__ void pointwise_forward_kernel(PointwiseLoss kind, const float* input, const float* target,
                                         const float* weight, const float* pos_weight, int64_t n,
                                         float beta, float* out, double* partial) {
  __shared__ double shared[32];
  double sum = 0.0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = element_loss(kind, input[i], target[i], weight ? weight[i] : 1.0f,
                                 pos_weight ? pos_weight[i] : 1.0f, beta);
    if (out) out[i] = v;
    sum += v;
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

__global__ void pointwise_backward_kernel(PointwiseLoss kind, const float* input, const float* target,
                                          const float* weight, const float* pos_weight, int64_t n,
                                          float beta, const float* grad_out, float grad_scale,
                                          const float* grad_scalar, float* grad_input, float* grad_target) {
  const float scale = grad_scale * (grad_scalar ? *grad_scalar : 1.0f);
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = grad_out ? grad_out[i] : scale;
    const float w = weight ? weight[i] : 1.0f;
    const float pw = pos_weight ? pos_weight[i] : 1.0f;
    const float gi = element_grad_input(kind, input[i], target[i], w, pw, beta);
    if (grad_input) grad_input[i] = g * gi;
    if (grad_target) {
      grad_target[i] = kind == PointwiseLoss::BceWithLogits
                           ? g * (w * ((pw - 1.0f) * softplus_neg(input[i]) - input[i]))
                           : -g * gi;
    }
  }
}

template <typename T>
__global__ void sum_partials_kernel(const T* partial, int64_t count, double* out) {
  __shared__ double shared[32];
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += partial[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) *out = sum;
}

__global__ void block_sums_kernel(const float* values, int64_t n, double* partial) {
  __shared__ double shared[32];
  double sum = 0.0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    sum += values[i];
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

__global__ void finish_loss_kernel(const double* totals, bool divide, double scale, float* out) {
  *out = static_cast<float>(divide ? totals[0] / totals[1] : totals[0] * scale);
}

unsigned sum_blocks(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kSumBlocks ? kSumBlocks : blocks));
}

}  // namespace

void cross_entropy_forward(const float* logits, const int32_t* target, const float* weight,
                           int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                           float label_smoothing, float* lse, float* row_loss, double* totals,
                           Stream stream) {
  const int64_t rows = N * S;
  if (rows > 0) {
    cross_entropy_forward_kernel<<<grid_for(rows), kThreads, 0, stream>>>(
        logits, target, weight, N, C, S, ignore_index, label_smoothing, lse, row_loss);
    check_launch("cross_entropy_forward");
  }
  row_totals_kernel<<<1, 1024, 0, stream>>>(row_loss, target, weight, rows, C, ignore_index, totals);
  check_launch("cross_entropy_forward (totals)");
}

void cross_entropy_backward(const float* logits, const int32_t* target, const float* weight,
                            const float* lse, const float* grad_row, float grad_scale,
                            const float* grad_scalar, const double* totals, int64_t N, int64_t C,
                            int64_t S, int32_t ignore_index, float label_smoothing,
                            float* grad_logits, Stream stream) {
  const int64_t rows = N * S;
  if (rows == 0) return;
  cross_entropy_backward_kernel<<<grid_for(rows), kThreads, 0, stream>>>(
      logits, target, weight, lse, grad_row, grad_scale, grad_scalar, totals, N, C, S, ignore_index,
      label_smoothing, grad_logits);
  check_launch("cross_entropy_backward");
}

void nll_loss_forward(const float* log_probs, const int32_t* target, const float* weight,
                      int64_t N, int64_t C, int64_t S, int32_t ignore_index, float* row_loss,
                      double* totals, Stream stream) {
  const int64_t rows = N * S;
  if (rows > 0) {
    nll_forward_kernel<<<grid_for(rows), kThreads, 0, stream>>>(log_probs, target, weight, N, C, S,
                                                                ignore_index, row_loss);
    check_launch("nll_loss_forward");
  }
  row_totals_kernel<<<1, 1024, 0, stream>>>(row_loss, target, weight, rows, C, ignore_index, totals);
  check_launch("nll_loss_forward (totals)");
}

void nll_loss_backward(const int32_t* target, const float* weight, const float* grad_row,
                       float grad_scale, const float* grad_scalar, const double* totals, int64_t N,
                       int64_t C, int64_t S, int32_t ignore_index, float* grad_log_probs,
                       Stream stream) {
  const int64_t total = N * C * S;
  if (total == 0) return;
  nll_backward_kernel<<<grid_for(total), kThreads, 0, stream>>>(
      target, weight, grad_row, grad_scale, grad_scalar, totals, N, C, S, ignore_index, grad_log_probs);
  check_launch("nll_loss_backward");
}

void pointwise_loss_forward(PointwiseLoss kind, const float* input, const float* target,
                            const float* weight, const float* pos_weight, int64_t n, float beta,
                            float* out, double* sum, Stream stream) {
  const unsigned blocks = sum_blocks(n);
  DeviceBuffer partial(sizeof(double) * blocks, current());
  pointwise_forward_kernel<<<blocks, kThreads, 0, stream>>>(kind, input, target, weight, pos_weight, n,
                                                            beta, out, partial.as<double>());
  check_launch("pointwise_loss_forward");
  sum_partials_kernel<<<1, 1024, 0, stream>>>(partial.as<double>(), blocks, sum);
  check_launch("pointwise_loss_forward (sum)");
}

void pointwise_loss_backward(PointwiseLoss kind, const float* input, const float* target,
                             const float* weight, const float* pos_weight, int64_t n, float beta,
                             const float* grad_out, float grad_scale, const float* grad_scalar,
                             float* grad_input, float* grad_target, Stream stream) {
  if (n == 0) return;
  pointwise_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(
      kind, input, target, weight, pos_weight, n, beta, grad_out, grad_scale, grad_scalar, grad_input,
      grad_target);
  check_launch("pointwise_loss_backward");
}

void finish_loss(const double* totals, bool divide, double scale, float* out, Stream stream) {
  finish_loss_kernel<<<1, 1, 0, stream>>>(totals, divide, scale, out);
  check_launch("finish_loss");
}

void sum_to_device(const float* values, int64_t n, double* out, Stream stream) {
  const unsigned blocks = sum_blocks(n);
  DeviceBuffer partial(sizeof(double) * blocks, current());
  block_sums_kernel<<<blocks, kThreads, 0, stream>>>(values, n, partial.as<double>());
  check_launch("sum_to_device");
  sum_partials_kernel<<<1, 1024, 0, stream>>>(partial.as<double>(), blocks, out);
  check_launch("sum_to_device (final)");
}

}  // namespace hn::cuda
