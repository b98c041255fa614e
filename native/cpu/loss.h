// Loss functions, forward and backward side by side: cross entropy (fused log-softmax + NLL
// with class weights, ignore_index and label smoothing), NLL, and the point-wise regression and
// binary losses. Semantics are PyTorch's (torch.nn.functional).
#pragma once
#include <cstdint>

namespace hn::cpu {

// Sums over rows (or elements) taken in double and in a fixed order, so a loss does not depend
// on the thread count.
struct LossTotals {
  double loss = 0.0;    // sum of the per-row losses
  double weight = 0.0;  // sum of w[target] over rows not ignored ('mean' divides by it)
};

// ---- Class-index losses -----------------------------------------------------------------------
// logits / log_probs: [N, C, S] (S = product of the spatial dims; 1 for [N, C] inputs), so the
// class dim has stride S. target: [N, S] int32, each in [0, C) or == ignore_index (the caller
// checks). weight: [C] class weights or nullptr (all 1). One row r = n * S + s.

// Fused log-softmax + NLL that never materialises the probabilities. Writes
//   lse[r]      = log sum_c exp(x[n, c, s])                    (saved for backward)
//   row_loss[r] = (1 - eps) w[t] (lse - x_t) + (eps / C) sum_c w[c] (lse - x_c)
// with t = target[r] and eps = label_smoothing; row_loss[r] = 0 for ignored rows.
LossTotals cross_entropy_forward(const float* logits, const int32_t* target, const float* weight,
                                 int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                                 float label_smoothing, float* lse, float* row_loss);

// grad_logits[n, c, s] = g_r (p_c ((1 - eps) w[t] + eps W / C) - (1 - eps) w[t] [c == t]
//                             - eps w[c] / C),
// with p_c = exp(x_c - lse[r]), W = sum_c w[c], g_r = grad_row[r] when grad_row is given (the
// 'none' reduction) and grad_scale otherwise; 0 on ignored rows. Overwrites grad_logits.
void cross_entropy_backward(const float* logits, const int32_t* target, const float* weight,
                            const float* lse, const float* grad_row, float grad_scale, int64_t N,
                            int64_t C, int64_t S, int32_t ignore_index, float label_smoothing,
                            float* grad_logits);

// row_loss[r] = -w[t] log_probs[n, t, s] (0 for ignored rows).
LossTotals nll_loss_forward(const float* log_probs, const int32_t* target, const float* weight,
                            int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                            float* row_loss);
// grad_log_probs[n, t, s] = -w[t] g_r, 0 elsewhere. Overwrites grad_log_probs.
void nll_loss_backward(const int32_t* target, const float* weight, const float* grad_row,
                       float grad_scale, int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                       float* grad_log_probs);

// ---- Point-wise losses ------------------------------------------------------------------------
// Per element with d = x - t:
//   Mse:           d^2
//   L1:            |d|
//   SmoothL1:      0.5 d^2 / beta if |d| < beta, else |d| - 0.5 beta   (beta == 0: |d|)
//   Huber:         0.5 d^2        if |d| < beta, else beta (|d| - 0.5 beta)
//   BceWithLogits: w ((1 - t) x + (1 + (pw - 1) t) (log1p(exp(-|x|)) + max(-x, 0))),
//                  the stable form of -w (pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))).
enum class PointwiseLoss : int { Mse = 0, L1 = 1, SmoothL1 = 2, Huber = 3, BceWithLogits = 4 };

// input, target (and weight, pos_weight when not null, BCE only): n elements each. Writes the
// per-element losses to `out` when not null; returns their sum.
double pointwise_loss_forward(PointwiseLoss kind, const float* input, const float* target,
                              const float* weight, const float* pos_weight, int64_t n, float beta,
                              float* out);

// Gradients of sum_i g_i loss_i, g_i = grad_out[i] (or grad_scale when grad_out is null), into
// grad_input and grad_target where not null. Overwrites them.
void pointwise_loss_backward(PointwiseLoss kind, const float* input, const float* target,
                             const float* weight, const float* pos_weight, int64_t n, float beta,
                             const float* grad_out, float grad_scale, float* grad_input,
                             float* grad_target);

}  // namespace hn::cpu
