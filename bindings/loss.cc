// Bindings for the loss functions (native/cpu/loss.h).
#include <napi.h>

#include <string>
#include <vector>

#include "../native/cpu/loss.h"
#include "args.h"
#include "loss_args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

// The kernels index with the targets (argument `index`): each must be a class or the ignore
// index. Targets in shared memory are first copied into `storage` (which must outlive the kernel
// call), so that no other thread can change them after the check.
void check_targets(const Napi::CallbackInfo& info, size_t index, const char* op, ArrayView<int32_t>& target,
                   std::vector<int32_t>& storage, int64_t C, int32_t ignore) {
  snapshot_if_shared(info, index, target, storage);
  for (size_t i = 0; i < target.length; ++i) {
    const int32_t t = target.data[i];
    if (t != ignore && (t < 0 || t >= C)) {
      throw_range_error(info.Env(), op, "target[" + std::to_string(i) + "] (flat index)",
                        "a class index in [0, " + std::to_string(C) + ") or ignoreIndex " + std::to_string(ignore),
                        std::to_string(t));
    }
  }
}

Napi::Object totals_object(Napi::Env env, const hn::cpu::LossTotals& totals) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", totals.loss);
  out.Set("weight", totals.weight);
  return out;
}

// (logits, target, weight|null, [N, C, S], ignoreIndex, labelSmoothing, lse, rowLoss)
//   -> {loss, weight}
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropy";
  const auto [d, ignore] = class_args(info, 3, op);
  const double smoothing = label_smoothing(info, 5, op);
  auto logits = float_array(info, 0, op, "input", d.N * d.C * d.S);
  auto target = int_array(info, 1, op, "target", d.N * d.S);
  auto weight = optional_float_array(info, 2, op, "weight", d.C);
  auto lse = float_array(info, 6, op, "lse", d.N * d.S);
  auto row_loss = float_array(info, 7, op, "rowLoss", d.N * d.S);
  std::vector<int32_t> target_copy;
  check_targets(info, 1, op, target, target_copy, d.C, ignore);
  const auto totals = hn::cpu::cross_entropy_forward(logits.data, target.data, weight.data, d.N, d.C, d.S,
                                                     ignore, static_cast<float>(smoothing), lse.data, row_loss.data);
  return totals_object(info.Env(), totals);
}

// (logits, target, weight|null, lse, gradRow|null, gradScale, [N, C, S], ignoreIndex,
//  labelSmoothing, gradLogits)
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropyBackward";
  const auto [d, ignore] = class_args(info, 6, op);
  const double smoothing = label_smoothing(info, 8, op);
  auto logits = float_array(info, 0, op, "input", d.N * d.C * d.S);
  auto target = int_array(info, 1, op, "target", d.N * d.S);
  auto weight = optional_float_array(info, 2, op, "weight", d.C);
  auto lse = float_array(info, 3, op, "lse", d.N * d.S);
  auto grad_row = optional_float_array(info, 4, op, "gradOutput", d.N * d.S);
  const double scale = any_number(info, 5, op, "gradScale");
  auto grad = float_array(info, 9, op, "gradInput", d.N * d.C * d.S);
  std::vector<int32_t> target_copy;
  check_targets(info, 1, op, target, target_copy, d.C, ignore);
  hn::cpu::cross_entropy_backward(logits.data, target.data, weight.data, lse.data, grad_row.data,
                                  static_cast<float>(scale), d.N, d.C, d.S, ignore,
                                  static_cast<float>(smoothing), grad.data);
  return info.Env().Undefined();
}

// (logProbs, target, weight|null, [N, C, S], ignoreIndex, rowLoss) -> {loss, weight}
Napi::Value NllLossForward(const Napi::CallbackInfo& info) {
  const char* op = "nllLoss";
  const auto [d, ignore] = class_args(info, 3, op);
  auto log_probs = float_array(info, 0, op, "input", d.N * d.C * d.S);
  auto target = int_array(info, 1, op, "target", d.N * d.S);
  auto weight = optional_float_array(info, 2, op, "weight", d.C);
  auto row_loss = float_array(info, 5, op, "rowLoss", d.N * d.S);
  std::vector<int32_t> target_copy;
  check_targets(info, 1, op, target, target_copy, d.C, ignore);
  const auto totals = hn::cpu::nll_loss_forward(log_probs.data, target.data, weight.data, d.N, d.C, d.S,
                                                ignore, row_loss.data);
  return totals_object(info.Env(), totals);
}

// (target, weight|null, gradRow|null, gradScale, [N, C, S], ignoreIndex, gradLogProbs)
Napi::Value NllLossBackward(const Napi::CallbackInfo& info) {
  const char* op = "nllLossBackward";
  const auto [d, ignore] = class_args(info, 4, op);
  auto target = int_array(info, 0, op, "target", d.N * d.S);
  auto weight = optional_float_array(info, 1, op, "weight", d.C);
  auto grad_row = optional_float_array(info, 2, op, "gradOutput", d.N * d.S);
  const double scale = any_number(info, 3, op, "gradScale");
  auto grad = float_array(info, 6, op, "gradInput", d.N * d.C * d.S);
  std::vector<int32_t> target_copy;
  check_targets(info, 0, op, target, target_copy, d.C, ignore);
  hn::cpu::nll_loss_backward(target.data, weight.data, grad_row.data, static_cast<float>(scale), d.N, d.C,
                             d.S, ignore, grad.data);
  return info.Env().Undefined();
}

// What the point-wise losses' forward and backward share:
// (kind, input, target, weight|null, posWeight|null, beta), every array of input's length n.
struct PointwiseArgs {
  hn::cpu::PointwiseLoss kind;
  ArrayView<float> input, target, weight, pos_weight;
  int64_t n;
  float beta;
};

PointwiseArgs pointwise_args(const Napi::CallbackInfo& info, const char* op) {
  PointwiseArgs a;
  a.kind = static_cast<hn::cpu::PointwiseLoss>(integer(info, 0, op, "kind", 0, 4));
  a.input = float_array(info, 1, op, "input");
  a.n = static_cast<int64_t>(a.input.length);
  a.target = float_array(info, 2, op, "target", a.n);
  a.weight = optional_float_array(info, 3, op, "weight", a.n);
  a.pos_weight = optional_float_array(info, 4, op, "posWeight", a.n);
  const double beta = number(info, 5, op, "beta");
  if (beta < 0.0) throw_range_error(info.Env(), op, "beta", "a non-negative number", std::to_string(beta));
  a.beta = static_cast<float>(beta);
  return a;
}

// (kind, input, target, weight|null, posWeight|null, beta, out|null) -> sum of the losses
Napi::Value PointwiseLossForward(const Napi::CallbackInfo& info) {
  const char* op = "pointwiseLoss";
  const auto a = pointwise_args(info, op);
  auto out = optional_float_array(info, 6, op, "output", a.n);
  const double sum = hn::cpu::pointwise_loss_forward(a.kind, a.input.data, a.target.data, a.weight.data,
                                                     a.pos_weight.data, a.n, a.beta, out.data);
  return Napi::Number::New(info.Env(), sum);
}

// (kind, input, target, weight|null, posWeight|null, beta, gradOutput|null, gradScale,
//  gradInput|null, gradTarget|null)
Napi::Value PointwiseLossBackward(const Napi::CallbackInfo& info) {
  const char* op = "pointwiseLossBackward";
  const auto a = pointwise_args(info, op);
  auto grad_out = optional_float_array(info, 6, op, "gradOutput", a.n);
  const double scale = any_number(info, 7, op, "gradScale");
  auto grad_input = optional_float_array(info, 8, op, "gradInput", a.n);
  auto grad_target = optional_float_array(info, 9, op, "gradTarget", a.n);
  hn::cpu::pointwise_loss_backward(a.kind, a.input.data, a.target.data, a.weight.data, a.pos_weight.data,
                                   a.n, a.beta, grad_out.data, static_cast<float>(scale), grad_input.data,
                                   grad_target.data);
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<CrossEntropyForward>(env, exports, "crossEntropyForward");
  export_function<CrossEntropyBackward>(env, exports, "crossEntropyBackward");
  export_function<NllLossForward>(env, exports, "nllLossForward");
  export_function<NllLossBackward>(env, exports, "nllLossBackward");
  export_function<PointwiseLossForward>(env, exports, "pointwiseLossForward");
  export_function<PointwiseLossBackward>(env, exports, "pointwiseLossBackward");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
