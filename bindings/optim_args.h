// The scalar arguments of the optimizer steps, read the same way by the CPU and CUDA bindings
// (optim.cc, cuda_ops.cc), so both devices accept the same values and reject the rest in the same
// words.
#pragma once
#include <napi.h>

#include "../native/cpu/optim.h"

namespace hn::bindings {

// (lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep) from `first` on.
hn::cpu::SgdOptions sgd_options(const Napi::CallbackInfo& info, size_t first, const char* op);

// (lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay, amsgrad, maximize, step) from
// `first` on.
hn::cpu::AdamOptions adam_options(const Napi::CallbackInfo& info, size_t first, const char* op);

}  // namespace hn::bindings
