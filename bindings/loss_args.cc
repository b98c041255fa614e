// Argument readers shared by the CPU and CUDA loss bindings (see loss_args.h).
#include "loss_args.h"

#include <string>

#include "args.h"

namespace hn::bindings {

ClassDims class_dims(const Napi::CallbackInfo& info, size_t index, const char* op) {
  auto dims = int_list_of(info, index, op, "dims", 3, "3 entries [N, C, S]");
  if (dims[1] < 1) throw_range_error(info.Env(), op, "dims[1] (classes)", "at least 1", std::to_string(dims[1]));
  checked_numel(info.Env(), op, "dims", dims);
  return {dims[0], dims[1], dims[2]};
}

double any_number(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg) {
  Napi::Value value = info[index];
  if (!value.IsNumber()) throw_type_error(info.Env(), op, arg, "a number", describe(value));
  return value.As<Napi::Number>().DoubleValue();
}

ClassArgs class_args(const Napi::CallbackInfo& info, size_t index, const char* op) {
  const ClassDims d = class_dims(info, index, op);
  return {d, static_cast<int32_t>(integer(info, index + 1, op, "ignoreIndex", INT32_MIN, INT32_MAX))};
}

double label_smoothing(const Napi::CallbackInfo& info, size_t index, const char* op) {
  const double smoothing = number(info, index, op, "labelSmoothing");
  if (smoothing < 0.0 || smoothing > 1.0) throw_range_error(info.Env(), op, "labelSmoothing", "in [0, 1]", std::to_string(smoothing));
  return smoothing;
}

}  // namespace hn::bindings
