#include "batchnorm.h"

#include <cmath>

#include "../common/thread_pool.h"

namespace hn::cpu {
namespace {

// Channels per task: about 32K elements of work each.
int64_t channel_grain(int64_t N, int64_t HW) {
  const int64_t per_channel = N * HW;
  return per_channel >= 32768 ? 1 : 32768 / (per_channel > 0 ? per_channel : 1);
}

}  // namespace

void batch_norm_forward(const float* x, const float* weight, const float* bias,
                        float* running_mean, float* running_var, int64_t N, int64_t C, int64_t HW,
                        bool use_batch_stats, float momentum, float eps, float* y,
                        float* save_mean, float* save_invstd) {
  const int64_t M = N * HW;
  parallel_for(C, channel_grain(N, HW), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double mean, var;
      if (use_batch_stats) {
        // Two passes in double: exact enough for large M, no E[x^2] - E[x]^2 cancellation.
        double sum = 0.0;
        for (int64_t n = 0; n < N; ++n) {
          const float* xp = x + (n * C + c) * HW;
          for (int64_t i = 0; i < HW; ++i) sum += xp[i];
        }
        mean = sum / static_cast<double>(M);
        double squares = 0.0;
        for (int64_t n = 0; n < N; ++n) {
          const float* xp = x + (n * C + c) * HW;
          for (int64_t i = 0; i < HW; ++i) {
            const double d = xp[i] - mean;
            squares += d * d;
          }
        }
        var = squares / static_cast<double>(M);
        if (running_mean) {
          running_mean[c] = static_cast<float>(momentum * mean + (1.0 - momentum) * running_mean[c]);
        }
        if (running_var) {
          const double unbiased = squares / static_cast<double>(M - 1);
          running_var[c] = static_cast<float>(momentum * unbiased + (1.0 - momentum) * running_var[c]);
        }
      } else {
        mean = running_mean[c];
        var = running_var[c];
      }
      const float invstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
      save_mean[c] = static_cast<float>(mean);
      save_invstd[c] = invstd;
      // y = x * scale + shift
      const float w = weight ? weight[c] : 1.0f;
      const float b = bias ? bias[c] : 0.0f;
      const float scale = w * invstd;
      const float shift = b - static_cast<float>(mean) * scale;
      for (int64_t n = 0; n < N; ++n) {
        const float* xp = x + (n * C + c) * HW;
        float* yp = y + (n * C + c) * HW;
        for (int64_t i = 0; i < HW; ++i) yp[i] = xp[i] * scale + shift;
      }
    }
  });
}

void batch_norm_backward(const float* x, const float* grad_y, const float* weight,
                         const float* save_mean, const float* save_invstd, int64_t N, int64_t C,
                         int64_t HW, bool use_batch_stats, float* grad_x, float* grad_weight,
                         float* grad_bias) {
  const int64_t M = N * HW;
  parallel_for(C, channel_grain(N, HW), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const float mean = save_mean[c];
      const float invstd = save_invstd[c];
      double sum_g = 0.0, sum_g_xhat = 0.0;
      if (grad_weight || grad_bias || (grad_x && use_batch_stats)) {
        for (int64_t n = 0; n < N; ++n) {
          const float* xp = x + (n * C + c) * HW;
          const float* gp = grad_y + (n * C + c) * HW;
          for (int64_t i = 0; i < HW; ++i) {
            sum_g += gp[i];
            sum_g_xhat += static_cast<double>(gp[i]) * ((xp[i] - mean) * invstd);
          }
        }
      }
      if (grad_weight) grad_weight[c] = static_cast<float>(sum_g_xhat);
      if (grad_bias) grad_bias[c] = static_cast<float>(sum_g);
      if (!grad_x) continue;
      const float scale = (weight ? weight[c] : 1.0f) * invstd;
      const float mean_g = use_batch_stats ? static_cast<float>(sum_g / M) : 0.0f;
      const float mean_g_xhat = use_batch_stats ? static_cast<float>(sum_g_xhat / M) : 0.0f;
      for (int64_t n = 0; n < N; ++n) {
        const float* xp = x + (n * C + c) * HW;
        const float* gp = grad_y + (n * C + c) * HW;
        float* gx = grad_x + (n * C + c) * HW;
        for (int64_t i = 0; i < HW; ++i) {
          const float xhat = (xp[i] - mean) * invstd;
          gx[i] = scale * (gp[i] - mean_g - xhat * mean_g_xhat);
        }
      }
    }
  });
}

}  // namespace hn::cpu
