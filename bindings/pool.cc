// Bindings for 2-D max and average pooling (native/cpu/pool.h).
#include <napi.h>

#include <string>
#include <vector>

#include "../native/cpu/pool.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

std::string pair_string(int64_t a, int64_t b) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
}

std::vector<int64_t> pair(const Napi::CallbackInfo& info, size_t index, const char* op,
                          const char* arg, int64_t min_value) {
  return int_list_of(info, index, op, arg, 2, "a pair of integers", min_value);
}

// Reads shape [N, C, H, W], kernel, stride, padding, dilation (pairs) at `first`.., checks them
// as PyTorch does and derives the output size.
hn::cpu::Pool2dShape pool_shape(const Napi::CallbackInfo& info, size_t first, const char* op,
                                bool has_dilation, bool ceil_mode) {
  Napi::Env env = info.Env();
  auto shape = int_list(info, first, op, "shape", 0, INT32_MAX, 4);
  if (shape.size() != 4) throw_range_error(env, op, "shape", "4 dims [N, C, H, W]", std::to_string(shape.size()) + " dims");
  auto kernel = pair(info, first + 1, op, "kernelSize", 1);
  auto stride = pair(info, first + 2, op, "stride", 1);
  auto padding = pair(info, first + 3, op, "padding", 0);
  std::vector<int64_t> dilation = has_dilation ? pair(info, first + 4, op, "dilation", 1)
                                               : std::vector<int64_t>{1, 1};
  for (int i = 0; i < 2; ++i) {
    if (padding[i] > kernel[i] / 2) {
      throw_range_error(env, op, "padding", "at most half the kernel size " + pair_string(kernel[0], kernel[1]),
                        pair_string(padding[0], padding[1]));
    }
  }
  hn::cpu::Pool2dShape s{};
  s.planes = checked_numel(env, op, "shape", {shape[0], shape[1]});
  s.in_h = shape[2];
  s.in_w = shape[3];
  s.kernel_h = kernel[0];
  s.kernel_w = kernel[1];
  s.stride_h = stride[0];
  s.stride_w = stride[1];
  s.pad_h = padding[0];
  s.pad_w = padding[1];
  s.dilation_h = dilation[0];
  s.dilation_w = dilation[1];
  s.out_h = hn::cpu::pool_output_size(s.in_h, s.kernel_h, s.stride_h, s.pad_h, s.dilation_h, ceil_mode);
  s.out_w = hn::cpu::pool_output_size(s.in_w, s.kernel_w, s.stride_w, s.pad_w, s.dilation_w, ceil_mode);
  if (s.out_h < 1 || s.out_w < 1) {
    throw_range_error(env, op, "output size", "at least [1, 1] for input " + pair_string(s.in_h, s.in_w),
                      pair_string(s.out_h, s.out_w));
  }
  // Overflow checks only: the products below are then safe.
  checked_numel(env, op, "shape", {s.planes, s.in_h, s.in_w});
  checked_numel(env, op, "output size", {s.planes, s.out_h, s.out_w});
  return s;
}

int64_t input_numel(const hn::cpu::Pool2dShape& s) { return s.planes * s.in_h * s.in_w; }
int64_t output_numel(const hn::cpu::Pool2dShape& s) { return s.planes * s.out_h * s.out_w; }

// avgPool2d's geometry and options, at the same positions in forward and backward: (array,
// shape, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride, array), where
// divisorOverride 0 means none.
struct AvgPoolArgs {
  hn::cpu::Pool2dShape s;
  bool count_include_pad;
  int64_t divisor;
};

AvgPoolArgs avg_pool_args(const Napi::CallbackInfo& info, const char* op) {
  const bool ceil_mode = boolean(info, 5, op, "ceilMode");
  const bool count_include_pad = boolean(info, 6, op, "countIncludePad");
  const int64_t divisor = integer(info, 7, op, "divisorOverride", 0);
  return {pool_shape(info, 1, op, false, ceil_mode), count_include_pad, divisor};
}

// (x, shape, kernelSize, stride, padding, dilation, ceilMode, y, indices)
Napi::Value MaxPool2dForward(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2d";
  const bool ceil_mode = boolean(info, 6, op, "ceilMode");
  const auto s = pool_shape(info, 1, op, true, ceil_mode);
  if (s.in_h * s.in_w > INT32_MAX) {
    throw_range_error(info.Env(), op, "input", "planes of at most 2^31 - 1 elements (int32 indices)",
                      pair_string(s.in_h, s.in_w));
  }
  auto x = float_array(info, 0, op, "input", input_numel(s));
  auto y = float_array(info, 7, op, "output", output_numel(s));
  auto indices = int_array(info, 8, op, "indices", output_numel(s));
  hn::cpu::max_pool2d_forward(x.data, y.data, indices.data, s);
  return info.Env().Undefined();
}

// (gradOutput, indices, shape, kernelSize, stride, padding, dilation, ceilMode, gradInput)
Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2dBackward";
  const bool ceil_mode = boolean(info, 7, op, "ceilMode");
  const auto s = pool_shape(info, 2, op, true, ceil_mode);
  auto gy = float_array(info, 0, op, "gradOutput", output_numel(s));
  auto indices = int_array(info, 1, op, "indices", output_numel(s));
  auto gx = float_array(info, 8, op, "gradInput", input_numel(s));
  // The scatter writes at these positions: never trust them (nor let another thread change them
  // while the kernel runs). The kernel checks them in its own pass over them and writes nothing
  // outside gradInput; on failure the first bad one is named.
  std::vector<int32_t> indices_copy;
  snapshot_if_shared(info, 1, indices, indices_copy);
  if (hn::cpu::max_pool2d_backward(gy.data, indices.data, gx.data, s)) return info.Env().Undefined();
  const int64_t plane = s.in_h * s.in_w;
  for (size_t i = 0; i < indices.length; ++i) {
    if (indices.data[i] < -1 || indices.data[i] >= plane) {
      throw_range_error(info.Env(), op, "indices[" + std::to_string(i) + "]",
                        "in [-1, " + std::to_string(plane) + ")", std::to_string(indices.data[i]));
    }
  }
  return info.Env().Undefined();
}

// (x, shape, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride, y)
Napi::Value AvgPool2dForward(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2d";
  const auto a = avg_pool_args(info, op);
  auto x = float_array(info, 0, op, "input", input_numel(a.s));
  auto y = float_array(info, 8, op, "output", output_numel(a.s));
  hn::cpu::avg_pool2d_forward(x.data, y.data, a.s, a.count_include_pad, a.divisor);
  return info.Env().Undefined();
}

// (gradOutput, shape, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride,
//  gradInput)
Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2dBackward";
  const auto a = avg_pool_args(info, op);
  auto gy = float_array(info, 0, op, "gradOutput", output_numel(a.s));
  auto gx = float_array(info, 8, op, "gradInput", input_numel(a.s));
  hn::cpu::avg_pool2d_backward(gy.data, gx.data, a.s, a.count_include_pad, a.divisor);
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<MaxPool2dForward>(env, exports, "maxPool2dForward");
  export_function<MaxPool2dBackward>(env, exports, "maxPool2dBackward");
  export_function<AvgPool2dForward>(env, exports, "avgPool2dForward");
  export_function<AvgPool2dBackward>(env, exports, "avgPool2dBackward");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
