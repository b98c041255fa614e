// Bindings for batch normalisation (native/cpu/batchnorm.h).
#include <napi.h>

#include <string>

#include "../native/cpu/batchnorm.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

struct BatchNormDims {
  int64_t N, C, HW;
};

BatchNormDims batch_norm_dims(const Napi::CallbackInfo& info, size_t index, const char* op) {
  auto dims = int_list_of(info, index, op, "dims", 3, "3 entries [N, C, HW]");
  checked_numel(info.Env(), op, "dims", dims);
  return {dims[0], dims[1], dims[2]};
}

// (x, [N, C, HW], weight|null, bias|null, runningMean|null, runningVar|null, training, momentum,
//  eps, y, saveMean, saveInvstd)
Napi::Value BatchNormForward(const Napi::CallbackInfo& info) {
  const char* op = "batchNorm";
  Napi::Env env = info.Env();
  const auto d = batch_norm_dims(info, 1, op);
  auto x = float_array(info, 0, op, "input", d.N * d.C * d.HW);
  auto weight = optional_float_array(info, 2, op, "weight", d.C);
  auto bias = optional_float_array(info, 3, op, "bias", d.C);
  auto running_mean = optional_float_array(info, 4, op, "runningMean", d.C);
  auto running_var = optional_float_array(info, 5, op, "runningVar", d.C);
  const bool training = boolean(info, 6, op, "training");
  const double momentum = number(info, 7, op, "momentum");
  const double eps = number(info, 8, op, "eps");
  auto y = float_array(info, 9, op, "output", d.N * d.C * d.HW);
  auto save_mean = float_array(info, 10, op, "saveMean", d.C);
  auto save_invstd = float_array(info, 11, op, "saveInvstd", d.C);
  if (eps < 0.0) throw_range_error(env, op, "eps", "a non-negative number", std::to_string(eps));
  const bool has_mean = !info[4].IsNull() && !info[4].IsUndefined();
  const bool has_var = !info[5].IsNull() && !info[5].IsUndefined();
  if (has_mean != has_var) {
    throw_type_error(env, op, "runningMean and runningVar", "both given or both null",
                     has_mean ? "only runningMean" : "only runningVar");
  }
  if (training && d.N * d.HW < 2) {
    throw_range_error(env, op, "input", "more than 1 value per channel when training",
                      std::to_string(d.N * d.HW));
  }
  if (!training && !has_mean) {
    throw_type_error(env, op, "runningMean and runningVar", "tensors in evaluation mode", "null");
  }
  if (d.C == 0) return env.Undefined();
  hn::cpu::batch_norm_forward(x.data, weight.data, bias.data, running_mean.data, running_var.data, d.N, d.C,
                              d.HW, training, static_cast<float>(momentum), static_cast<float>(eps), y.data,
                              save_mean.data, save_invstd.data);
  return env.Undefined();
}

// (x, gradOutput, [N, C, HW], weight|null, saveMean, saveInvstd, training, gradInput|null,
//  gradWeight|null, gradBias|null)
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  const char* op = "batchNormBackward";
  const auto d = batch_norm_dims(info, 2, op);
  const int64_t n = d.N * d.C * d.HW;
  auto x = float_array(info, 0, op, "input", n);
  auto gy = float_array(info, 1, op, "gradOutput", n);
  auto weight = optional_float_array(info, 3, op, "weight", d.C);
  auto save_mean = float_array(info, 4, op, "saveMean", d.C);
  auto save_invstd = float_array(info, 5, op, "saveInvstd", d.C);
  const bool training = boolean(info, 6, op, "training");
  auto gx = optional_float_array(info, 7, op, "gradInput", n);
  auto gw = optional_float_array(info, 8, op, "gradWeight", d.C);
  auto gb = optional_float_array(info, 9, op, "gradBias", d.C);
  if (d.C == 0) return info.Env().Undefined();
  hn::cpu::batch_norm_backward(x.data, gy.data, weight.data, save_mean.data, save_invstd.data, d.N, d.C, d.HW,
                               training, gx.data, gw.data, gb.data);
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<BatchNormForward>(env, exports, "batchNormForward");
  export_function<BatchNormBackward>(env, exports, "batchNormBackward");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
