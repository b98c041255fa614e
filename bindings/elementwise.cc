// Bindings for element-wise arithmetic, unary maps and reductions (native/cpu/elementwise.h).
#include <napi.h>

#include "../native/cpu/elementwise.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

using hn::cpu::kMaxDims;

Napi::Value BinaryForward(const Napi::CallbackInfo& info) {
  const char* op = "binaryForward";
  const auto kind = integer(info, 0, op, "kind", 0, 5);
  auto shape = int_list(info, 6, op, "shape", 0, INT32_MAX, kMaxDims);
  auto a_strides = int_list(info, 2, op, "aStrides", 0, INT32_MAX, kMaxDims);
  auto b_strides = int_list(info, 4, op, "bStrides", 0, INT32_MAX, kMaxDims);
  if (a_strides.size() != shape.size() || b_strides.size() != shape.size()) {
    throw_range_error(info.Env(), op, "strides", std::to_string(shape.size()) + " entries",
                      std::to_string(a_strides.size()) + " and " + std::to_string(b_strides.size()));
  }
  const int64_t n = checked_numel(info.Env(), op, "shape", shape);
  auto a = float_array(info, 1, op, "a");
  auto b = float_array(info, 3, op, "b");
  auto out = float_array(info, 5, op, "out", n);
  check_strided_length(info.Env(), op, "a", static_cast<int64_t>(a.length), shape, a_strides);
  check_strided_length(info.Env(), op, "b", static_cast<int64_t>(b.length), shape, b_strides);
  if (n == 0) return info.Env().Undefined();
  hn::cpu::binary_forward(static_cast<hn::cpu::BinaryKind>(kind), a.data, a_strides.data(), b.data,
                          b_strides.data(), out.data, shape.data(), static_cast<int>(shape.size()));
  return info.Env().Undefined();
}

Napi::Value UnaryForward(const Napi::CallbackInfo& info) {
  const char* op = "unaryForward";
  const auto kind = integer(info, 0, op, "kind", 0, 11);
  auto x = float_array(info, 1, op, "x");
  auto y = float_array(info, 2, op, "y", static_cast<int64_t>(x.length));
  const float scalar = static_cast<float>(number(info, 3, op, "scalar"));
  hn::cpu::unary_forward(static_cast<hn::cpu::UnaryKind>(kind), x.data, y.data,
                         static_cast<int64_t>(x.length), scalar);
  return info.Env().Undefined();
}

Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
  const char* op = "unaryBackward";
  const auto kind = integer(info, 0, op, "kind", 0, 11);
  auto gy = float_array(info, 3, op, "gradOutput");
  const int64_t n = static_cast<int64_t>(gy.length);
  auto x = float_array(info, 1, op, "x", n);
  auto y = float_array(info, 2, op, "y", n);
  auto gx = float_array(info, 4, op, "gradInput", n);
  const float scalar = static_cast<float>(number(info, 5, op, "scalar"));
  hn::cpu::unary_backward(static_cast<hn::cpu::UnaryKind>(kind), x.data, y.data, gy.data, gx.data,
                          n, scalar);
  return info.Env().Undefined();
}

Napi::Value Axpy(const Napi::CallbackInfo& info) {
  const char* op = "axpy";
  const float alpha = static_cast<float>(number(info, 0, op, "alpha"));
  auto x = float_array(info, 1, op, "x");
  auto y = float_array(info, 2, op, "y", static_cast<int64_t>(x.length));
  hn::cpu::axpy(static_cast<int64_t>(x.length), alpha, x.data, y.data);
  return info.Env().Undefined();
}

Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  const char* op = "reduceSum";
  auto shape = int_list(info, 1, op, "shape", 0, INT32_MAX, kMaxDims);
  auto mask = int_list(info, 2, op, "reduceMask", 0, 1, kMaxDims);
  if (mask.size() != shape.size()) {
    throw_range_error(info.Env(), op, "reduceMask", std::to_string(shape.size()) + " entries", std::to_string(mask.size()));
  }
  const int64_t n = checked_numel(info.Env(), op, "shape", shape);
  auto x = float_array(info, 0, op, "x", n);
  const float scale = static_cast<float>(number(info, 3, op, "scale"));
  std::vector<int64_t> kept;
  std::vector<uint8_t> mask8(mask.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    mask8[d] = static_cast<uint8_t>(mask[d]);
    if (!mask[d]) kept.push_back(shape[d]);
  }
  auto out = float_array(info, 4, op, "out", checked_numel(info.Env(), op, "out", kept));
  hn::cpu::reduce_sum(x.data, shape.data(), static_cast<int>(shape.size()), mask8.data(), scale,
                      out.data);
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<BinaryForward>(env, exports, "binaryForward");
  export_function<UnaryForward>(env, exports, "unaryForward");
  export_function<UnaryBackward>(env, exports, "unaryBackward");
  export_function<Axpy>(env, exports, "axpy");
  export_function<ReduceSum>(env, exports, "reduceSum");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
