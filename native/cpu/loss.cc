#include "loss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../common/thread_pool.h"

namespace hn::cpu {
namespace {

// Along the class dim (stride S), up to kLanes neighbouring spatial positions are processed
// together so each pass over the classes reads contiguous memory.
constexpr int64_t kLanes = 64;

// Calls fn(n, s0, lanes) for every block of spatial positions [s0, s0 + lanes) of sample n.
template <typename Fn>
void for_each_row_block(int64_t N, int64_t C, int64_t S, Fn fn) {
  const int64_t blocks_per_sample = (S + kLanes - 1) / kLanes;
  const int64_t work = std::max<int64_t>(1, C * std::min(S, kLanes));
  parallel_for(N * blocks_per_sample, std::max<int64_t>(1, 16384 / work),
               [&](int64_t b0, int64_t b1) {
                 for (int64_t b = b0; b < b1; ++b) {
                   const int64_t n = b / blocks_per_sample;
                   const int64_t s0 = (b % blocks_per_sample) * kLanes;
                   fn(n, s0, std::min(kLanes, S - s0));
                 }
               });
}

inline float class_weight(const float* weight, int64_t c) { return weight ? weight[c] : 1.0f; }

// Sums of the row losses and of the weights of the rows not ignored, in row order.
LossTotals row_totals(const float* row_loss, const int32_t* target, const float* weight,
                      int64_t rows, int32_t ignore_index) {
  LossTotals totals;
  for (int64_t r = 0; r < rows; ++r) {
    if (target[r] == ignore_index) continue;
    totals.loss += row_loss[r];
    totals.weight += class_weight(weight, target[r]);
  }
  return totals;
}

// Fixed-size blocks for the point-wise sums: the partial sums do not depend on the threads.
constexpr int64_t kSumBlock = 4096;

}  // namespace

// ---- Cross entropy ----------------------------------------------------------------------------

LossTotals cross_entropy_forward(const float* logits, const int32_t* target, const float* weight,
                                 int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                                 float label_smoothing, float* lse, float* row_loss) {
  const float eps = label_smoothing;
  double weight_total = 0.0;  // W = sum_c w[c]
  for (int64_t c = 0; c < C; ++c) weight_total += class_weight(weight, c);
  for_each_row_block(N, C, S, [&](int64_t n, int64_t s0, int64_t lanes) {
    const float* x = logits + n * C * S + s0;
    float max[kLanes], sum[kLanes], smooth[kLanes];
    for (int64_t l = 0; l < lanes; ++l) {
      max[l] = -std::numeric_limits<float>::infinity();
      sum[l] = 0.0f;
      smooth[l] = 0.0f;
    }
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t l = 0; l < lanes; ++l) max[l] = std::max(max[l], x[c * S + l]);
    }
    for (int64_t c = 0; c < C; ++c) {
      const float w = class_weight(weight, c);
      for (int64_t l = 0; l < lanes; ++l) {
        const float shifted = x[c * S + l] - max[l];
        sum[l] += std::exp(shifted);
        smooth[l] -= w * shifted;  // sum_c w[c] (max - x_c) >= 0: no cancellation
      }
    }
    for (int64_t l = 0; l < lanes; ++l) {
      const int64_t r = n * S + s0 + l;
      const float log_sum = std::log(sum[l]);
      lse[r] = max[l] + log_sum;
      const int32_t t = target[r];
      if (t == ignore_index) {
        row_loss[r] = 0.0f;
        continue;
      }
      const float nll = class_weight(weight, t) * (lse[r] - x[t * S + l]);
      float loss = (1.0f - eps) * nll;
      if (eps != 0.0f) {
        // sum_c w[c] (lse - x_c) = W log(sum) + sum_c w[c] (max - x_c)
        const float smooth_loss = static_cast<float>(weight_total) * log_sum + smooth[l];
        loss += eps / static_cast<float>(C) * smooth_loss;
      }
      row_loss[r] = loss;
    }
  });
  return row_totals(row_loss, target, weight, N * S, ignore_index);
}

void cross_entropy_backward(const float* logits, const int32_t* target, const float* weight,
                            const float* lse, const float* grad_row, float grad_scale, int64_t N,
                            int64_t C, int64_t S, int32_t ignore_index, float label_smoothing,
                            float* grad_logits) {
  const float eps = label_smoothing;
  double weight_total = 0.0;
  for (int64_t c = 0; c < C; ++c) weight_total += class_weight(weight, c);
  const float smooth_scale = eps / static_cast<float>(C);
  for_each_row_block(N, C, S, [&](int64_t n, int64_t s0, int64_t lanes) {
    const float* x = logits + n * C * S + s0;
    float* gx = grad_logits + n * C * S + s0;
    // Per lane: g_r, the coefficient of p_c and of the one-hot term.
    float g[kLanes], p_coef[kLanes], hot_coef[kLanes], row_lse[kLanes];
    int32_t t[kLanes];
    for (int64_t l = 0; l < lanes; ++l) {
      const int64_t r = n * S + s0 + l;
      t[l] = target[r];
      row_lse[l] = lse[r];
      const bool ignored = t[l] == ignore_index;
      g[l] = ignored ? 0.0f : (grad_row ? grad_row[r] : grad_scale);
      const float wt = ignored ? 0.0f : class_weight(weight, t[l]);
      p_coef[l] = (1.0f - eps) * wt + smooth_scale * static_cast<float>(weight_total);
      hot_coef[l] = (1.0f - eps) * wt;
    }
    for (int64_t c = 0; c < C; ++c) {
      const float smooth_w = smooth_scale * class_weight(weight, c);
      for (int64_t l = 0; l < lanes; ++l) {
        if (g[l] == 0.0f) {
          gx[c * S + l] = 0.0f;
          continue;
        }
        const float p = std::exp(x[c * S + l] - row_lse[l]);
        const float hot = c == t[l] ? hot_coef[l] : 0.0f;
        gx[c * S + l] = g[l] * (p * p_coef[l] - hot - smooth_w);
      }
    }
  });
}

// ---- NLL --------------------------------------------------------------------------------------

LossTotals nll_loss_forward(const float* log_probs, const int32_t* target, const float* weight,
                            int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                            float* row_loss) {
  parallel_for(N * S, 32768, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int32_t t = target[r];
      if (t == ignore_index) {
        row_loss[r] = 0.0f;
        continue;
      }
      const int64_t n = r / S, s = r % S;
      row_loss[r] = -class_weight(weight, t) * log_probs[(n * C + t) * S + s];
    }
  });
  return row_totals(row_loss, target, weight, N * S, ignore_index);
}

void nll_loss_backward(const int32_t* target, const float* weight, const float* grad_row,
                       float grad_scale, int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                       float* grad_log_probs) {
  parallel_for(N, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, C * S)),
               [&](int64_t n0, int64_t n1) {
                 std::memset(grad_log_probs + n0 * C * S, 0, sizeof(float) * (n1 - n0) * C * S);
                 for (int64_t n = n0; n < n1; ++n) {
                   for (int64_t s = 0; s < S; ++s) {
                     const int64_t r = n * S + s;
                     const int32_t t = target[r];
                     if (t == ignore_index) continue;
                     const float g = grad_row ? grad_row[r] : grad_scale;
                     grad_log_probs[(n * C + t) * S + s] = -class_weight(weight, t) * g;
                   }
                 }
               });
}

// ---- Point-wise losses ------------------------------------------------------------------------

namespace {

// log(1 + exp(-x)) computed without overflow: log1p(exp(-|x|)) + max(-x, 0).
inline float softplus_neg(float x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(-x, 0.0f); }

inline float sign(float v) { return static_cast<float>((v > 0.0f) - (v < 0.0f)); }

inline float element_loss(PointwiseLoss kind, float x, float t, float w, float pw, float beta) {
  const float d = x - t;
  const float a = std::fabs(d);
  switch (kind) {
    case PointwiseLoss::Mse: return d * d;
    case PointwiseLoss::L1: return a;
    case PointwiseLoss::SmoothL1:
      return (beta == 0.0f || a >= beta) ? a - 0.5f * beta : 0.5f * d * d / beta;
    case PointwiseLoss::Huber: return a < beta ? 0.5f * d * d : beta * (a - 0.5f * beta);
    case PointwiseLoss::BceWithLogits:
      return w * ((1.0f - t) * x + (1.0f + (pw - 1.0f) * t) * softplus_neg(x));
  }
  return 0.0f;
}

// d loss / d x. For the regression losses d loss / d t is its negative.
inline float element_grad_input(PointwiseLoss kind, float x, float t, float w, float pw,
                                float beta) {
  const float d = x - t;
  switch (kind) {
    case PointwiseLoss::Mse: return 2.0f * d;
    case PointwiseLoss::L1: return sign(d);
    case PointwiseLoss::SmoothL1:
      return (beta == 0.0f || std::fabs(d) >= beta) ? sign(d) : d / beta;
    case PointwiseLoss::Huber: return std::fabs(d) < beta ? d : beta * sign(d);
    case PointwiseLoss::BceWithLogits: {
      // (1 - t) - (1 + (pw - 1) t) sigmoid(-x)
      const float sig_neg = 1.0f / (1.0f + std::exp(x));
      return w * ((1.0f - t) - (1.0f + (pw - 1.0f) * t) * sig_neg);
    }
  }
  return 0.0f;
}

// BCE with logits: d loss / d t = w ((pw - 1) softplus(-x) - x).
inline float bce_grad_target(float x, float w, float pw) {
  return w * ((pw - 1.0f) * softplus_neg(x) - x);
}

}  // namespace

double pointwise_loss_forward(PointwiseLoss kind, const float* input, const float* target,
                              const float* weight, const float* pos_weight, int64_t n, float beta,
                              float* out) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
  parallel_for(blocks, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t i1 = std::min(n, (b + 1) * kSumBlock);
      double sum = 0.0;
      for (int64_t i = b * kSumBlock; i < i1; ++i) {
        const float w = weight ? weight[i] : 1.0f;
        const float pw = pos_weight ? pos_weight[i] : 1.0f;
        const float v = element_loss(kind, input[i], target[i], w, pw, beta);
        if (out) out[i] = v;
        sum += v;
      }
      partial[static_cast<size_t>(b)] = sum;
    }
  });
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

void pointwise_loss_backward(PointwiseLoss kind, const float* input, const float* target,
                             const float* weight, const float* pos_weight, int64_t n, float beta,
                             const float* grad_out, float grad_scale, float* grad_input,
                             float* grad_target) {
  parallel_for(n, 32768, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float g = grad_out ? grad_out[i] : grad_scale;
      const float w = weight ? weight[i] : 1.0f;
      const float pw = pos_weight ? pos_weight[i] : 1.0f;
      const float gi = element_grad_input(kind, input[i], target[i], w, pw, beta);
      if (grad_input) grad_input[i] = g * gi;
      if (grad_target) {
        grad_target[i] = kind == PointwiseLoss::BceWithLogits
                             ? g * bce_grad_target(input[i], w, pw)
                             : -g * gi;
      }
    }
  });
}

}  // namespace hn::cpu
