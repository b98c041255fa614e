// Bindings for the fused optimizer updates (native/cpu/optim.h). Every array is checked for type,
// length and liveness, every scalar for range, and no two arrays may overlap (the kernels read
// and write them through restrict pointers).
#include <napi.h>

#include <string>
#include <vector>

#include "../native/cpu/optim.h"
#include "args.h"
#include "optim_args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

struct NamedRange {
  const char* name;
  const float* data;
  size_t length;
};

void check_disjoint(Napi::Env env, const char* op, const std::vector<NamedRange>& ranges) {
  for (size_t i = 0; i < ranges.size(); ++i) {
    for (size_t j = i + 1; j < ranges.size(); ++j) {
      const NamedRange& a = ranges[i];
      const NamedRange& b = ranges[j];
      if (a.length == 0 || b.length == 0 || a.data == nullptr || b.data == nullptr) continue;
      if (a.data < b.data + b.length && b.data < a.data + a.length) {
        throw_range_error(env, op, a.name, std::string("memory separate from ") + b.name,
                          "overlapping arrays");
      }
    }
  }
}

// sgdStep(param, grad, momentumBuffer | null, lr, momentum, dampening, weightDecay, nesterov,
//         maximize, firstStep)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const char* op = "sgdStep";
  Napi::Env env = info.Env();
  auto param = float_array(info, 0, op, "param");
  const auto n = static_cast<int64_t>(param.length);
  auto grad = float_array(info, 1, op, "grad", n);
  auto buffer = optional_float_array(info, 2, op, "momentumBuffer", n);
  const hn::cpu::SgdOptions o = sgd_options(info, 3, op);
  if (o.momentum != 0 && buffer.data == nullptr && n > 0) {
    throw_type_error(env, op, "momentumBuffer", "a Float32Array when momentum != 0", "null");
  }
  check_disjoint(env, op, {{"param", param.data, param.length}, {"grad", grad.data, grad.length},
                           {"momentumBuffer", buffer.data, buffer.length}});
  if (n == 0) return env.Undefined();
  hn::cpu::sgd_step(param.data, grad.data, buffer.data, n, o);
  return env.Undefined();
}

// adamStep(param, grad, expAvg, expAvgSq, maxExpAvgSq | null, lr, beta1, beta2, eps,
//          weightDecay, decoupledWeightDecay, amsgrad, maximize, step)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  const char* op = "adamStep";
  Napi::Env env = info.Env();
  auto param = float_array(info, 0, op, "param");
  const auto n = static_cast<int64_t>(param.length);
  auto grad = float_array(info, 1, op, "grad", n);
  auto exp_avg = float_array(info, 2, op, "expAvg", n);
  auto exp_avg_sq = float_array(info, 3, op, "expAvgSq", n);
  auto max_exp_avg_sq = optional_float_array(info, 4, op, "maxExpAvgSq", n);
  const hn::cpu::AdamOptions o = adam_options(info, 5, op);
  if (o.amsgrad && max_exp_avg_sq.data == nullptr && n > 0) {
    throw_type_error(env, op, "maxExpAvgSq", "a Float32Array when amsgrad is set", "null");
  }
  check_disjoint(env, op, {{"param", param.data, param.length},
                           {"grad", grad.data, grad.length},
                           {"expAvg", exp_avg.data, exp_avg.length},
                           {"expAvgSq", exp_avg_sq.data, exp_avg_sq.length},
                           {"maxExpAvgSq", max_exp_avg_sq.data, max_exp_avg_sq.length}});
  if (n == 0) return env.Undefined();
  hn::cpu::adam_step(param.data, grad.data, exp_avg.data, exp_avg_sq.data, max_exp_avg_sq.data, n,
                     o);
  return env.Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<SgdStep>(env, exports, "sgdStep");
  export_function<AdamStep>(env, exports, "adamStep");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
