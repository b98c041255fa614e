// Batch normalisation over [N, C, HW] (the channel dim in the middle), forward and backward.
// Semantics are PyTorch's torch.nn.functional.batch_norm.
#pragma once
#include <cstdint>

namespace hn::cpu {

// Training (use_batch_stats): per channel, mean and biased variance over N * HW values
// (accumulated in double), normalise with them, and when running_mean / running_var are not null
// update them in place:
//   running_mean = (1 - momentum) running_mean + momentum mean
//   running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)   (unbiased)
// with M = N * HW >= 2 (the caller checks). Eval: normalise with the running statistics.
// y = (x - mean) * invstd * weight + bias (weight, bias may be null: 1 and 0). Saves the mean and
// invstd = 1 / sqrt(var + eps) used, per channel, for backward.
void batch_norm_forward(const float* x, const float* weight, const float* bias,
                        float* running_mean, float* running_var, int64_t N, int64_t C, int64_t HW,
                        bool use_batch_stats, float momentum, float eps, float* y,
                        float* save_mean, float* save_invstd);

// With xhat = (x - mean) * invstd:
//   grad_weight[c] = sum(grad_y * xhat), grad_bias[c] = sum(grad_y)
//   training: grad_x = weight * invstd * (grad_y - grad_bias / M - xhat * grad_weight / M)
//   eval:     grad_x = weight * invstd * grad_y       (the statistics are constants)
// Each of grad_x, grad_weight, grad_bias may be null (not needed); the rest are overwritten.
void batch_norm_backward(const float* x, const float* grad_y, const float* weight,
                         const float* save_mean, const float* save_invstd, int64_t N, int64_t C,
                         int64_t HW, bool use_batch_stats, float* grad_x, float* grad_weight,
                         float* grad_bias);

}  // namespace hn::cpu
