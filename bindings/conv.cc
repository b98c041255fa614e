// Bindings for convolution and transposed convolution (native/cpu/conv.h).
//
// Every function takes the op's geometry first, then its arrays:
//   conv2d*(xShape, wShape, stride[2], padding[2 or 4: top, left(, bottom, right)], dilation[2],
//           groups, ...arrays)
//   convTranspose2d*(xShape, wShape, stride[2], padding[2], outputPadding[2], dilation[2],
//                    groups, ...arrays)
// where xShape is always the op's input shape (also for the backward functions). Arrays:
//   *Forward(..., x, w, bias | null, y)
//   *ForwardFused(..., x, w, bias | null, y, epilogue)   (inference: 0 none, 1 relu, 2 relu +
//                                                         2x2 max pool; conv2d only)
//   *BackwardData(..., gradY, w, gradX)
//   *BackwardWeight(..., x, gradY, gradW | null, gradBias | null)
// The output size is computed here from the geometry, never taken from the caller, and every
// array length is checked against it, so no argument can make a kernel read or write out of
// bounds.
#include <napi.h>

#include <new>
#include <string>
#include <vector>

#include "../native/cpu/conv.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

using hn::cpu::Conv2dParams;

std::string list_string(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// A 4-D shape: batch >= 0, the other dims >= 1.
std::vector<int64_t> shape4(const Napi::CallbackInfo& info, size_t index, const char* op,
                            const char* arg, bool zero_first_ok) {
  auto shape = int_list(info, index, op, arg, 0, INT32_MAX, 4);
  if (shape.size() != 4) {
    throw_range_error(info.Env(), op, arg, "4 dims", list_string(shape));
  }
  for (size_t d = zero_first_ok ? 1 : 0; d < 4; ++d) {
    if (shape[d] < 1) throw_range_error(info.Env(), op, arg, "non-zero dims", list_string(shape));
  }
  return shape;
}

// Strides and dilations up to 2^24 keep every size computation far from int64 overflow.
constexpr int64_t kMaxFactor = int64_t{1} << 24;

std::vector<int64_t> pair(const Napi::CallbackInfo& info, size_t index, const char* op,
                          const char* arg, int64_t min_value, int64_t max_value = INT32_MAX) {
  auto v = int_list(info, index, op, arg, min_value, max_value, 2);
  if (v.size() != 2) throw_range_error(info.Env(), op, arg, "2 entries", list_string(v));
  return v;
}

struct Geometry {
  Conv2dParams p;
  int64_t x_numel = 0, w_numel = 0, y_numel = 0, bias_length = 0;
};

void check_groups(Napi::Env env, const char* op, int64_t groups, int64_t in_channels,
                  int64_t out_channels) {
  if (in_channels % groups != 0 || out_channels % groups != 0) {
    throw_range_error(env, op, "groups",
                      "a divisor of the channel counts " + std::to_string(in_channels) +
                          " and " + std::to_string(out_channels),
                      std::to_string(groups));
  }
}

// The im2col workspace one (image, group) needs must itself be addressable.
void check_workspace(Napi::Env env, const char* op, const Conv2dParams& p) {
  checked_numel(env, op, "im2col workspace",
                {p.in_channels / p.groups, p.kernel_h, p.kernel_w, p.out_h, p.out_w});
}

// The fields both ops fill alike from their arguments; the caller sets channels and sizes.
Conv2dParams shared_params(const std::vector<int64_t>& xs, const std::vector<int64_t>& ws,
                           const std::vector<int64_t>& stride, int64_t pad_h, int64_t pad_w,
                           const std::vector<int64_t>& dilation, int64_t groups) {
  Conv2dParams p;
  p.batch = xs[0];
  p.kernel_h = ws[2], p.kernel_w = ws[3];
  p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_h = pad_h, p.pad_w = pad_w;
  p.dilation_h = dilation[0], p.dilation_w = dilation[1];
  p.groups = groups;
  return p;
}

// Checks the op's output y [N, y_channels, y_h, y_w] is at least 1x1 and every array size and
// the workspace are addressable.
Geometry checked_geometry(Napi::Env env, const char* op, const Conv2dParams& p,
                          const std::vector<int64_t>& xs, const std::vector<int64_t>& ws,
                          int64_t y_channels, int64_t y_h, int64_t y_w) {
  if (y_h < 1 || y_w < 1) {
    throw_range_error(env, op, "output size", "at least 1x1", std::to_string(y_h) + "x" + std::to_string(y_w));
  }
  Geometry g;
  g.p = p;
  g.x_numel = checked_numel(env, op, "xShape", xs);
  g.w_numel = checked_numel(env, op, "wShape", ws);
  g.y_numel = checked_numel(env, op, "output", {p.batch, y_channels, y_h, y_w});
  g.bias_length = y_channels;
  check_workspace(env, op, p);
  return g;
}

// conv2d: x [N, C_in, H, W], w [C_out, C_in/groups, kH, kW], y [N, C_out, H_out, W_out].
Geometry conv2d_geometry(const Napi::CallbackInfo& info, const char* op) {
  Napi::Env env = info.Env();
  auto xs = shape4(info, 0, op, "xShape", true);
  auto ws = shape4(info, 1, op, "wShape", false);
  auto stride = pair(info, 2, op, "stride", 1, kMaxFactor);
  auto padding = int_list(info, 3, op, "padding", 0, INT32_MAX, 4);
  if (padding.size() == 2) padding = {padding[0], padding[1], padding[0], padding[1]};
  if (padding.size() != 4) throw_range_error(env, op, "padding", "2 or 4 entries", list_string(padding));
  auto dilation = pair(info, 4, op, "dilation", 1, kMaxFactor);
  const int64_t groups = integer(info, 5, op, "groups", 1);
  check_groups(env, op, groups, xs[1], ws[0]);
  if (ws[1] * groups != xs[1]) {
    throw_range_error(env, op, "wShape", "[C_out, " + std::to_string(xs[1] / groups) + ", kH, kW]",
                      list_string(ws));
  }
  Conv2dParams p = shared_params(xs, ws, stride, padding[0], padding[1], dilation, groups);
  p.in_channels = xs[1], p.in_h = xs[2], p.in_w = xs[3];
  p.out_channels = ws[0];
  p.out_h = hn::cpu::conv2d_output_size(p.in_h, p.kernel_h, p.stride_h, padding[0], padding[2], p.dilation_h);
  p.out_w = hn::cpu::conv2d_output_size(p.in_w, p.kernel_w, p.stride_w, padding[1], padding[3], p.dilation_w);
  return checked_geometry(env, op, p, xs, ws, p.out_channels, p.out_h, p.out_w);
}

// convTranspose2d: x [N, C_in, H, W], w [C_in, C_out/groups, kH, kW], y [N, C_out, H_out, W_out],
// described to the kernels as the convolution it transposes (y its input, x its output).
Geometry conv_transpose2d_geometry(const Napi::CallbackInfo& info, const char* op) {
  Napi::Env env = info.Env();
  auto xs = shape4(info, 0, op, "xShape", true);
  auto ws = shape4(info, 1, op, "wShape", false);
  auto stride = pair(info, 2, op, "stride", 1, kMaxFactor);
  auto padding = pair(info, 3, op, "padding", 0);
  auto output_padding = pair(info, 4, op, "outputPadding", 0);
  auto dilation = pair(info, 5, op, "dilation", 1, kMaxFactor);
  const int64_t groups = integer(info, 6, op, "groups", 1);
  for (int d = 0; d < 2; ++d) {
    if (output_padding[d] >= stride[d] && output_padding[d] >= dilation[d]) {
      throw_range_error(env, op, "outputPadding", "smaller than stride or dilation",
                        list_string(output_padding));
    }
  }
  if (ws[0] != xs[1]) {
    throw_range_error(env, op, "wShape", "[" + std::to_string(xs[1]) + ", C_out/groups, kH, kW]",
                      list_string(ws));
  }
  check_groups(env, op, groups, xs[1], ws[1] * groups);
  Conv2dParams p = shared_params(xs, ws, stride, padding[0], padding[1], dilation, groups);
  p.out_channels = xs[1], p.out_h = xs[2], p.out_w = xs[3];
  p.in_channels = ws[1] * groups;
  p.in_h = hn::cpu::conv_transpose2d_output_size(p.out_h, p.kernel_h, p.stride_h, p.pad_h, output_padding[0], p.dilation_h);
  p.in_w = hn::cpu::conv_transpose2d_output_size(p.out_w, p.kernel_w, p.stride_w, p.pad_w, output_padding[1], p.dilation_w);
  return checked_geometry(env, op, p, xs, ws, p.in_channels, p.in_h, p.in_w);
}

// Kernels allocate their workspace on this thread; running out of memory becomes a JS error.
template <typename Fn>
void run_kernel(Napi::Env env, const char* op, Fn fn) {
  try {
    fn();
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(env, std::string(op) + ": out of memory for the im2col workspace");
  }
}

constexpr size_t kConvArgs = 6;       // xShape, wShape, stride, padding, dilation, groups
constexpr size_t kTransposeArgs = 7;  // ..., padding, outputPadding, dilation, groups

// Geometry argument count k, then the forward arrays x, w, bias, y.
template <Geometry (*geometry)(const Napi::CallbackInfo&, const char*), size_t k,
          void (*kernel)(const Conv2dParams&, const float*, const float*, const float*, float*)>
Napi::Value Forward(const Napi::CallbackInfo& info, const char* op) {
  const Geometry g = geometry(info, op);
  auto x = float_array(info, k, op, "x", g.x_numel);
  auto w = float_array(info, k + 1, op, "w", g.w_numel);
  auto bias = optional_float_array(info, k + 2, op, "bias", g.bias_length);
  auto y = float_array(info, k + 3, op, "y", g.y_numel);
  run_kernel(info.Env(), op, [&] { kernel(g.p, x.data, w.data, bias.data, y.data); });
  return info.Env().Undefined();
}

// Forward with a fused epilogue (inference): the forward arrays, then epilogue 0 (none), 1 (relu)
// or 2 (relu + 2x2 max pool, stride 2; y then has half the rows and columns, rounded down).
template <Geometry (*geometry)(const Napi::CallbackInfo&, const char*), size_t k,
          void (*kernel)(const Conv2dParams&, const float*, const float*, const float*,
                         hn::cpu::ConvEpilogue, float*)>
Napi::Value ForwardFused(const Napi::CallbackInfo& info, const char* op, bool allow_pool) {
  const Geometry g = geometry(info, op);
  const int64_t epilogue = integer(info, k + 4, op, "epilogue", 0, allow_pool ? 2 : 1);
  // The op's output planes: the convolution's output, or (transposed) its input.
  const bool transposed = k == kTransposeArgs;
  const int64_t channels = transposed ? g.p.in_channels : g.p.out_channels;
  const int64_t h = transposed ? g.p.in_h : g.p.out_h, w = transposed ? g.p.in_w : g.p.out_w;
  int64_t y_numel = g.y_numel;
  if (epilogue == 2) {
    if (h < 2 || w < 2) {
      throw_range_error(info.Env(), op, "output size", "at least 2x2 for the 2x2 max pool",
                        std::to_string(h) + "x" + std::to_string(w));
    }
    y_numel = g.p.batch * channels * (h / 2) * (w / 2);
  }
  auto x = float_array(info, k, op, "x", g.x_numel);
  auto wt = float_array(info, k + 1, op, "w", g.w_numel);
  auto bias = optional_float_array(info, k + 2, op, "bias", g.bias_length);
  auto y = float_array(info, k + 3, op, "y", y_numel);
  run_kernel(info.Env(), op, [&] {
    kernel(g.p, x.data, wt.data, bias.data, static_cast<hn::cpu::ConvEpilogue>(epilogue), y.data);
  });
  return info.Env().Undefined();
}

// gradY, w, gradX. For the data gradient, gradY has the op's output size, gradX its input size.
template <Geometry (*geometry)(const Napi::CallbackInfo&, const char*), size_t k,
          void (*kernel)(const Conv2dParams&, const float*, const float*, float*)>
Napi::Value BackwardData(const Napi::CallbackInfo& info, const char* op) {
  const Geometry g = geometry(info, op);
  auto gy = float_array(info, k, op, "gradY", g.y_numel);
  auto w = float_array(info, k + 1, op, "w", g.w_numel);
  auto gx = float_array(info, k + 2, op, "gradX", g.x_numel);
  run_kernel(info.Env(), op, [&] { kernel(g.p, gy.data, w.data, gx.data); });
  return info.Env().Undefined();
}

// x, gradY, gradW | null, gradBias | null.
template <Geometry (*geometry)(const Napi::CallbackInfo&, const char*), size_t k,
          void (*kernel)(const Conv2dParams&, const float*, const float*, float*, float*)>
Napi::Value BackwardWeight(const Napi::CallbackInfo& info, const char* op) {
  const Geometry g = geometry(info, op);
  auto x = float_array(info, k, op, "x", g.x_numel);
  auto gy = float_array(info, k + 1, op, "gradY", g.y_numel);
  auto gw = optional_float_array(info, k + 2, op, "gradW", g.w_numel);
  auto gb = optional_float_array(info, k + 3, op, "gradBias", g.bias_length);
  run_kernel(info.Env(), op, [&] { kernel(g.p, x.data, gy.data, gw.data, gb.data); });
  return info.Env().Undefined();
}

// Kernel argument order in conv.h is (p, dy, w, dx) for data and (p, x, dy, dw, db) for weight,
// for both ops: the transposed convolution's wrappers swap the roles themselves.
Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  return Forward<conv2d_geometry, kConvArgs, hn::cpu::conv2d_forward>(info, "conv2dForward");
}
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  return BackwardData<conv2d_geometry, kConvArgs, hn::cpu::conv2d_backward_data>(info, "conv2dBackwardData");
}
Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  return BackwardWeight<conv2d_geometry, kConvArgs, hn::cpu::conv2d_backward_weight>(info, "conv2dBackwardWeight");
}
Napi::Value ConvTranspose2dForward(const Napi::CallbackInfo& info) {
  return Forward<conv_transpose2d_geometry, kTransposeArgs, hn::cpu::conv_transpose2d_forward>(info, "convTranspose2dForward");
}
Napi::Value ConvTranspose2dBackwardData(const Napi::CallbackInfo& info) {
  return BackwardData<conv_transpose2d_geometry, kTransposeArgs, hn::cpu::conv_transpose2d_backward_data>(info, "convTranspose2dBackwardData");
}
Napi::Value ConvTranspose2dBackwardWeight(const Napi::CallbackInfo& info) {
  return BackwardWeight<conv_transpose2d_geometry, kTransposeArgs, hn::cpu::conv_transpose2d_backward_weight>(info, "convTranspose2dBackwardWeight");
}

Napi::Value Conv2dForwardFused(const Napi::CallbackInfo& info) {
  return ForwardFused<conv2d_geometry, kConvArgs, hn::cpu::conv2d_forward_fused>(info, "conv2dForwardFused", true);
}
Napi::Value ConvTranspose2dForwardFused(const Napi::CallbackInfo& info) {
  return ForwardFused<conv_transpose2d_geometry, kTransposeArgs, hn::cpu::conv_transpose2d_forward_fused>(
      info, "convTranspose2dForwardFused", false);
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<Conv2dForwardFused>(env, exports, "conv2dForwardFused");
  export_function<ConvTranspose2dForwardFused>(env, exports, "convTranspose2dForwardFused");
  export_function<Conv2dForward>(env, exports, "conv2dForward");
  export_function<Conv2dBackwardData>(env, exports, "conv2dBackwardData");
  export_function<Conv2dBackwardWeight>(env, exports, "conv2dBackwardWeight");
  export_function<ConvTranspose2dForward>(env, exports, "convTranspose2dForward");
  export_function<ConvTranspose2dBackwardData>(env, exports, "convTranspose2dBackwardData");
  export_function<ConvTranspose2dBackwardWeight>(env, exports, "convTranspose2dBackwardWeight");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
