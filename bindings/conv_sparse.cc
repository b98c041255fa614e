// The sparse-gradient convolution backward (native/cpu/conv_sparse.h):
//   setConvSparse(enabled, force, maxIsa)  a switch for tests and benchmarks that compare it with
//                                          the dense kernels; maxIsa: 0 portable, 1 AVX2,
//                                          2 AVX-512 (the best the CPU has up to it)
//   convPooledBackward(xShape, wShape, stride[2], padding[2], poolKernel[2], poolStride[2], relu,
//                      x, w, y, grad, gradX | null, gradW | null, gradBias | null) -> boolean
//     conv2d's gradients from the gradient of maxPool2d(y) (relu(maxPool2d(y)) when relu), y the
//     convolution's output (groups 1, dilation 1). false: not handled (nothing written).
// Sizes are computed here from the geometry and every array length is checked against them.
#include <napi.h>

#include <string>
#include <vector>

#include "../native/cpu/conv_sparse.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

Napi::Value SetConvSparse(const Napi::CallbackInfo& info) {
  const char* op = "setConvSparse";
  const bool enabled = boolean(info, 0, op, "enabled");
  const bool force = boolean(info, 1, op, "force");
  const auto max_isa = static_cast<int>(integer(info, 2, op, "maxIsa", hn::cpu::kSparseIsaPortable, hn::cpu::kSparseIsaAvx512));
  hn::cpu::set_conv_sparse_mode(enabled, force, max_isa);
  return info.Env().Undefined();
}

Napi::Value ConvPooledBackward(const Napi::CallbackInfo& info) {
  const char* op = "convPooledBackward";
  Napi::Env env = info.Env();
  const auto x_shape = int_list_of(info, 0, op, "xShape", 4, "4 entries", 1);
  const auto w_shape = int_list_of(info, 1, op, "wShape", 4, "4 entries", 1);
  const auto stride = int_list_of(info, 2, op, "stride", 2, "2 entries", 1);
  const auto padding = int_list_of(info, 3, op, "padding", 2, "2 entries", 0);
  const auto pool_kernel = int_list_of(info, 4, op, "poolKernel", 2, "2 entries", 1);
  const auto pool_stride = int_list_of(info, 5, op, "poolStride", 2, "2 entries", 1);
  const bool relu = boolean(info, 6, op, "relu");
  if (w_shape[1] != x_shape[1]) {
    throw_range_error(env, op, "wShape", "[outChannels, " + std::to_string(x_shape[1]) + ", kH, kW] (groups 1)",
                      "inChannels " + std::to_string(w_shape[1]));
  }
  hn::cpu::Conv2dParams p;
  p.batch = x_shape[0];
  p.in_channels = x_shape[1];
  p.in_h = x_shape[2];
  p.in_w = x_shape[3];
  p.out_channels = w_shape[0];
  p.kernel_h = w_shape[2];
  p.kernel_w = w_shape[3];
  p.stride_h = stride[0];
  p.stride_w = stride[1];
  p.pad_h = padding[0];
  p.pad_w = padding[1];
  p.out_h = hn::cpu::conv2d_output_size(p.in_h, p.kernel_h, p.stride_h, p.pad_h, p.pad_h, 1);
  p.out_w = hn::cpu::conv2d_output_size(p.in_w, p.kernel_w, p.stride_w, p.pad_w, p.pad_w, 1);
  if (p.out_h < 1 || p.out_w < 1) {
    throw_range_error(env, op, "output size", "at least 1x1", std::to_string(p.out_h) + "x" + std::to_string(p.out_w));
  }
  hn::cpu::PoolRouting r;
  r.kernel_h = pool_kernel[0];
  r.kernel_w = pool_kernel[1];
  r.stride_h = pool_stride[0];
  r.stride_w = pool_stride[1];
  r.relu = relu;
  r.out_h = p.out_h < r.kernel_h ? 0 : (p.out_h - r.kernel_h) / r.stride_h + 1;
  r.out_w = p.out_w < r.kernel_w ? 0 : (p.out_w - r.kernel_w) / r.stride_w + 1;
  if (r.out_h < 1 || r.out_w < 1) {
    throw_range_error(env, op, "poolKernel", "windows that fit the convolution's " + std::to_string(p.out_h) + "x" +
                      std::to_string(p.out_w) + " output", std::to_string(r.kernel_h) + "x" + std::to_string(r.kernel_w));
  }
  const int64_t x_numel = checked_numel(env, op, "x", x_shape);
  const int64_t w_numel = checked_numel(env, op, "w", w_shape);
  const int64_t y_numel = checked_numel(env, op, "y", {p.batch, p.out_channels, p.out_h, p.out_w});
  const int64_t g_numel = checked_numel(env, op, "grad", {p.batch, p.out_channels, r.out_h, r.out_w});
  auto x = float_array(info, 7, op, "x", x_numel);
  auto w = float_array(info, 8, op, "w", w_numel);
  auto y = float_array(info, 9, op, "y", y_numel);
  auto grad = float_array(info, 10, op, "grad", g_numel);
  auto dx = optional_float_array(info, 11, op, "gradX", x_numel);
  auto dw = optional_float_array(info, 12, op, "gradW", w_numel);
  auto db = optional_float_array(info, 13, op, "gradBias", p.out_channels);
  const bool done = hn::cpu::conv2d_pooled_backward(p, r, x.data, w.data, y.data, grad.data, dx.data, dw.data, db.data);
  return Napi::Boolean::New(env, done);
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<SetConvSparse>(env, exports, "setConvSparse");
  export_function<ConvPooledBackward>(env, exports, "convPooledBackward");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
