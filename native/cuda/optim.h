// Fused optimizer updates on the GPU: the twin of native/cpu/optim.h (same options structs and
// formulas). One thread per element reads the gradient and the state once and writes the
// parameter and the state once; the scalars derived from the options are computed on the host
// in double and rounded once, as on the CPU, so both paths agree to float rounding.
#pragma once
#include <cstdint>

#include "../cpu/optim.h"
#include "runtime.h"

namespace hn::cuda {

using hn::cpu::AdamOptions;
using hn::cpu::SgdOptions;

void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n,
              const SgdOptions& options, Stream stream);
void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamOptions& options, Stream stream);

}  // namespace hn::cuda
