// Batch normalisation on the GPU: the twin of native/cpu/batchnorm.h (same semantics). Per
// channel statistics: one block per channel, two passes in double (no E[x^2] - E[x]^2
// cancellation); the element-wise normalisation then runs over every element.
#pragma once
#include <cstdint>

#include "runtime.h"

namespace hn::cuda {

void batch_norm_forward(const float* x, const float* weight, const float* bias,
                        float* running_mean, float* running_var, int64_t N, int64_t C, int64_t HW,
                        bool use_batch_stats, float momentum, float eps, float* y,
                        float* save_mean, float* save_invstd, Stream stream);

void batch_norm_backward(const float* x, const float* grad_y, const float* weight,
                         const float* save_mean, const float* save_invstd, int64_t N, int64_t C,
                         int64_t HW, bool use_batch_stats, float* grad_x, float* grad_weight,
                         float* grad_bias, Stream stream);

}  // namespace hn::cuda
