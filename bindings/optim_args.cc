#include "optim_args.h"

#include <cstdint>

#include "args.h"

namespace hn::bindings {
namespace {

// Rates and decays may be as large as the caller likes, but finite.
constexpr double kHuge = 1e300;

}  // namespace

hn::cpu::SgdOptions sgd_options(const Napi::CallbackInfo& info, size_t first, const char* op) {
  hn::cpu::SgdOptions o;
  o.lr = number_in_range(info, first, op, "lr", 0, kHuge, true);
  o.momentum = number_in_range(info, first + 1, op, "momentum", 0, kHuge, true);
  o.dampening = number(info, first + 2, op, "dampening");
  o.weight_decay = number_in_range(info, first + 3, op, "weightDecay", 0, kHuge, true);
  o.nesterov = boolean(info, first + 4, op, "nesterov");
  o.maximize = boolean(info, first + 5, op, "maximize");
  o.first_step = boolean(info, first + 6, op, "firstStep");
  return o;
}

hn::cpu::AdamOptions adam_options(const Napi::CallbackInfo& info, size_t first, const char* op) {
  hn::cpu::AdamOptions o;
  o.lr = number_in_range(info, first, op, "lr", 0, kHuge, true);
  o.beta1 = number_in_range(info, first + 1, op, "beta1", 0, 1, false);
  o.beta2 = number_in_range(info, first + 2, op, "beta2", 0, 1, false);
  o.eps = number_in_range(info, first + 3, op, "eps", 0, kHuge, true);
  o.weight_decay = number_in_range(info, first + 4, op, "weightDecay", 0, kHuge, true);
  o.decoupled_weight_decay = boolean(info, first + 5, op, "decoupledWeightDecay");
  o.amsgrad = boolean(info, first + 6, op, "amsgrad");
  o.maximize = boolean(info, first + 7, op, "maximize");
  o.step = integer(info, first + 8, op, "step", 1, INT32_MAX);
  return o;
}

}  // namespace hn::bindings
