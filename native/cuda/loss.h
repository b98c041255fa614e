// Loss functions on the GPU: the twin of native/cpu/loss.h. Differences, all so that no value
// has to come back to the host: sums are written to device memory (double) instead of being
// returned, the reduced loss is made on the device by finish_loss, and a backward can take its
// scale from device memory (the upstream scalar gradient and the 'mean' divisor).
// Sums are taken in double in a fixed order: deterministic run to run.
#pragma once
#include <cstdint>

#include "../cpu/loss.h"
#include "runtime.h"

namespace hn::cuda {

using hn::cpu::PointwiseLoss;

// The per-row gradient factor of a class-index loss backward:
//   g_r = grad_row ? grad_row[r] : grad_scale * (grad_scalar ? *grad_scalar : 1)
//                                             / (totals ? totals[1] : 1)
// ('none': grad_row; 'sum': grad_scalar; 'mean': grad_scalar and the forward's totals).

// As hn::cpu::cross_entropy_forward; totals: device double[2] = {sum of row losses, sum of the
// weights of the rows not ignored}. A label outside [0, C) that is not ignore_index is treated as
// ignored and never indexed (the caller reports it first, on the host).
void cross_entropy_forward(const float* logits, const int32_t* target, const float* weight,
                           int64_t N, int64_t C, int64_t S, int32_t ignore_index,
                           float label_smoothing, float* lse, float* row_loss, double* totals,
                           Stream stream);
void cross_entropy_backward(const float* logits, const int32_t* target, const float* weight,
                            const float* lse, const float* grad_row, float grad_scale,
                            const float* grad_scalar, const double* totals, int64_t N, int64_t C,
                            int64_t S, int32_t ignore_index, float label_smoothing,
                            float* grad_logits, Stream stream);

void nll_loss_forward(const float* log_probs, const int32_t* target, const float* weight,
                      int64_t N, int64_t C, int64_t S, int32_t ignore_index, float* row_loss,
                      double* totals, Stream stream);
void nll_loss_backward(const int32_t* target, const float* weight, const float* grad_row,
                       float grad_scale, const float* grad_scalar, const double* totals, int64_t N,
                       int64_t C, int64_t S, int32_t ignore_index, float* grad_log_probs,
                       Stream stream);

// As hn::cpu::pointwise_loss_forward; the sum goes to *sum (device double).
void pointwise_loss_forward(PointwiseLoss kind, const float* input, const float* target,
                            const float* weight, const float* pos_weight, int64_t n, float beta,
                            float* out, double* sum, Stream stream);
// g_i = grad_out ? grad_out[i] : grad_scale * (grad_scalar ? *grad_scalar : 1).
void pointwise_loss_backward(PointwiseLoss kind, const float* input, const float* target,
                             const float* weight, const float* pos_weight, int64_t n, float beta,
                             const float* grad_out, float grad_scale, const float* grad_scalar,
                             float* grad_input, float* grad_target, Stream stream);

// *out = divide ? totals[0] / totals[1] : totals[0] * scale, rounded to float once.
void finish_loss(const double* totals, bool divide, double scale, float* out, Stream stream);

// Deterministic sum of n doubles or floats into *out (device): fixed block partials, then one
// block adds them in order. Shared by the losses and batch norm.
void sum_to_device(const float* values, int64_t n, double* out, Stream stream);

}  // namespace hn::cuda
