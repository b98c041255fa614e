// CUDA twins of the op bindings, registered under exports.cuda with the SAME names and argument
// lists as the CPU ones (gemm.cc, conv.cc, pool.cc, softmax.cc, elementwise.cc, loss.cc,
// batchnorm.cc, optim.cc), device buffer handles in place of typed arrays. lib/ops picks the
// table by the tensors' device and calls it the same way. Every shape is checked here as in the
// CPU bindings, and every buffer's dtype, length and device (cuda_common.h), so no call can make
// a kernel read or write out of bounds. Kernels are queued on the device's stream; only
// crossEntropyForward, pointwiseLossForward and multiTaskLoss wait for the device: they return
// losses to JS.
#ifdef HN_WITH_CUDA
#include <napi.h>

#include <string>
#include <vector>

#include "../native/cuda/batchnorm.h"
#include "../native/cuda/conv.h"
#include "../native/cuda/elementwise.h"
#include "../native/cuda/gemm.h"
#include "../native/cuda/loss.h"
#include "../native/cuda/multi_loss.h"
#include "../native/cuda/optim.h"
#include "../native/cuda/pool.h"
#include "../native/cuda/softmax.h"
#include "../native/cuda/allocator.h"
#include "args.h"
#include "cuda_common.h"
#include "registry.h"

namespace hn::bindings::cuda {
namespace {

using hn::cpu::Conv2dParams;

std::string list_string(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

std::vector<int64_t> fixed_list(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg,
                                size_t size, int64_t min_value, int64_t max_value = INT32_MAX) {
  auto v = int_list(info, index, op, arg, min_value, max_value, size);
  if (v.size() != size) throw_range_error(info.Env(), op, arg, std::to_string(size) + " entries", list_string(v));
  return v;
}

// ---- SGEMM: (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) ----------------------

Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  const char* op = "sgemm";
  Napi::Env env = info.Env();
  const bool ta = boolean(info, 0, op, "transA"), tb = boolean(info, 1, op, "transB");
  const int64_t M = integer(info, 2, op, "M", 0), N = integer(info, 3, op, "N", 0), K = integer(info, 4, op, "K", 0);
  const float alpha = static_cast<float>(number(info, 5, op, "alpha"));
  const float beta = static_cast<float>(number(info, 10, op, "beta"));
  DeviceArgs args(info, op);
  // Each matrix must cover rows x cols with its leading dimension (the last row only cols).
  auto matrix = [&](size_t array_index, size_t ld_index, const char* arg, const char* ld_arg, int64_t rows,
                    int64_t cols) {
    const int64_t length = args.length(array_index, arg);
    const int64_t ld = integer(info, ld_index, op, ld_arg, 1);
    if (ld < std::max<int64_t>(cols, 1)) throw_range_error(env, op, ld_arg, ">= " + std::to_string(cols), std::to_string(ld));
    const int64_t needed = rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
    if (length < needed) throw_range_error(env, op, arg, "at least " + std::to_string(needed) + " elements", std::to_string(length));
    return std::make_pair(args.floats(array_index, arg), ld);
  };
  auto a = matrix(6, 7, "A", "lda", ta ? K : M, ta ? M : K);
  auto b = matrix(8, 9, "B", "ldb", tb ? N : K, tb ? K : N);
  auto c = matrix(11, 12, "C", "ldc", M, N);
  run_cuda(env, op, [&] {
    hn::cuda::sgemm(ta, tb, M, N, K, alpha, a.first, a.second, b.first, b.second, beta, c.first, c.second, args.stream());
  });
  return env.Undefined();
}

// ---- Convolution: geometry as in conv.cc ----------------------------------------------------------

struct ConvGeometry {
  Conv2dParams p;
  int64_t x_numel = 0, w_numel = 0, y_numel = 0, bias_length = 0;
};

constexpr int64_t kMaxFactor = int64_t{1} << 24;

std::vector<int64_t> shape4(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg) {
  auto s = fixed_list(info, index, op, arg, 4, 0);
  for (int d = 1; d < 4; ++d)
    if (s[d] < 1) throw_range_error(info.Env(), op, arg, "non-zero dims", list_string(s));
  return s;
}

void check_groups(Napi::Env env, const char* op, int64_t groups, int64_t cin, int64_t cout) {
  if (cin % groups != 0 || cout % groups != 0) {
    throw_range_error(env, op, "groups", "a divisor of " + std::to_string(cin) + " and " + std::to_string(cout),
                      std::to_string(groups));
  }
}

ConvGeometry conv2d_geometry(const Napi::CallbackInfo& info, const char* op) {
  Napi::Env env = info.Env();
  auto xs = shape4(info, 0, op, "xShape");
  auto ws = shape4(info, 1, op, "wShape");
  if (ws[0] < 1) throw_range_error(env, op, "wShape", "non-zero dims", list_string(ws));
  auto stride = fixed_list(info, 2, op, "stride", 2, 1, kMaxFactor);
  auto padding = int_list(info, 3, op, "padding", 0, INT32_MAX, 4);
  if (padding.size() == 2) padding = {padding[0], padding[1], padding[0], padding[1]};
  if (padding.size() != 4) throw_range_error(env, op, "padding", "2 or 4 entries", list_string(padding));
  auto dilation = fixed_list(info, 4, op, "dilation", 2, 1, kMaxFactor);
  const int64_t groups = integer(info, 5, op, "groups", 1);
  check_groups(env, op, groups, xs[1], ws[0]);
  if (ws[1] * groups != xs[1]) throw_range_error(env, op, "wShape", "[C_out, " + std::to_string(xs[1] / groups) + ", kH, kW]", list_string(ws));
  ConvGeometry g;
  Conv2dParams& p = g.p;
  p.batch = xs[0], p.in_channels = xs[1], p.in_h = xs[2], p.in_w = xs[3], p.out_channels = ws[0];
  p.kernel_h = ws[2], p.kernel_w = ws[3], p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_h = padding[0], p.pad_w = padding[1], p.dilation_h = dilation[0], p.dilation_w = dilation[1], p.groups = groups;
  p.out_h = hn::cpu::conv2d_output_size(p.in_h, p.kernel_h, p.stride_h, padding[0], padding[2], p.dilation_h);
  p.out_w = hn::cpu::conv2d_output_size(p.in_w, p.kernel_w, p.stride_w, padding[1], padding[3], p.dilation_w);
  if (p.out_h < 1 || p.out_w < 1) throw_range_error(env, op, "output size", "at least 1x1", std::to_string(p.out_h) + "x" + std::to_string(p.out_w));
  g.x_numel = checked_numel(env, op, "xShape", xs);
  g.w_numel = checked_numel(env, op, "wShape", ws);
  g.y_numel = checked_numel(env, op, "output", {p.batch, p.out_channels, p.out_h, p.out_w});
  g.bias_length = p.out_channels;
  return g;
}

ConvGeometry conv_transpose2d_geometry(const Napi::CallbackInfo& info, const char* op) {
  Napi::Env env = info.Env();
  auto xs = shape4(info, 0, op, "xShape");
  auto ws = shape4(info, 1, op, "wShape");
  if (ws[0] < 1) throw_range_error(env, op, "wShape", "non-zero dims", list_string(ws));
  auto stride = fixed_list(info, 2, op, "stride", 2, 1, kMaxFactor);
  auto padding = fixed_list(info, 3, op, "padding", 2, 0);
  auto output_padding = fixed_list(info, 4, op, "outputPadding", 2, 0);
  auto dilation = fixed_list(info, 5, op, "dilation", 2, 1, kMaxFactor);
  const int64_t groups = integer(info, 6, op, "groups", 1);
  for (int d = 0; d < 2; ++d) {
    if (output_padding[d] >= stride[d] && output_padding[d] >= dilation[d]) {
      throw_range_error(env, op, "outputPadding", "smaller than stride or dilation", list_string(output_padding));
    }
  }
  if (ws[0] != xs[1]) throw_range_error(env, op, "wShape", "[" + std::to_string(xs[1]) + ", C_out/groups, kH, kW]", list_string(ws));
  check_groups(env, op, groups, xs[1], ws[1] * groups);
  ConvGeometry g;
  Conv2dParams& p = g.p;
  p.batch = xs[0], p.out_channels = xs[1], p.out_h = xs[2], p.out_w = xs[3], p.in_channels = ws[1] * groups;
  p.kernel_h = ws[2], p.kernel_w = ws[3], p.stride_h = stride[0], p.stride_w = stride[1];
  p.pad_h = padding[0], p.pad_w = padding[1], p.dilation_h = dilation[0], p.dilation_w = dilation[1], p.groups = groups;
  p.in_h = hn::cpu::conv_transpose2d_output_size(p.out_h, p.kernel_h, p.stride_h, p.pad_h, output_padding[0], p.dilation_h);
  p.in_w = hn::cpu::conv_transpose2d_output_size(p.out_w, p.kernel_w, p.stride_w, p.pad_w, output_padding[1], p.dilation_w);
  if (p.in_h < 1 || p.in_w < 1) throw_range_error(env, op, "output size", "at least 1x1", std::to_string(p.in_h) + "x" + std::to_string(p.in_w));
  g.x_numel = checked_numel(env, op, "xShape", xs);
  g.w_numel = checked_numel(env, op, "wShape", ws);
  g.y_numel = checked_numel(env, op, "output", {p.batch, p.in_channels, p.in_h, p.in_w});
  g.bias_length = p.in_channels;
  return g;
}

template <bool kTransposed>
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  const char* op = kTransposed ? "convTranspose2d" : "conv2d";
  const ConvGeometry g = kTransposed ? conv_transpose2d_geometry(info, op) : conv2d_geometry(info, op);
  const size_t k = kTransposed ? 7 : 6;
  DeviceArgs args(info, op);
  float* x = args.floats(k, "x", g.x_numel);
  float* w = args.floats(k + 1, "w", g.w_numel);
  float* bias = args.optional_floats(k + 2, "bias", g.bias_length);
  float* y = args.floats(k + 3, "y", g.y_numel);
  run_cuda(info.Env(), op, [&] {
    if (kTransposed) {
      hn::cuda::conv_transpose2d_forward(g.p, x, w, bias, y, args.stream());
    } else {
      hn::cuda::conv2d_forward(g.p, x, w, bias, y, args.stream());
    }
  });
  return info.Env().Undefined();
}

template <bool kTransposed>
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  const char* op = kTransposed ? "convTranspose2dBackwardData" : "conv2dBackwardData";
  const ConvGeometry g = kTransposed ? conv_transpose2d_geometry(info, op) : conv2d_geometry(info, op);
  const size_t k = kTransposed ? 7 : 6;
  DeviceArgs args(info, op);
  float* gy = args.floats(k, "gradY", g.y_numel);
  float* w = args.floats(k + 1, "w", g.w_numel);
  float* gx = args.floats(k + 2, "gradX", g.x_numel);
  run_cuda(info.Env(), op, [&] {
    if (kTransposed) {
      hn::cuda::conv_transpose2d_backward_data(g.p, gy, w, gx, args.stream());
    } else {
      hn::cuda::conv2d_backward_data(g.p, gy, w, gx, args.stream());
    }
  });
  return info.Env().Undefined();
}

template <bool kTransposed>
Napi::Value ConvBackwardWeight(const Napi::CallbackInfo& info) {
  const char* op = kTransposed ? "convTranspose2dBackwardWeight" : "conv2dBackwardWeight";
  const ConvGeometry g = kTransposed ? conv_transpose2d_geometry(info, op) : conv2d_geometry(info, op);
  const size_t k = kTransposed ? 7 : 6;
  DeviceArgs args(info, op);
  float* x = args.floats(k, "x", g.x_numel);
  float* gy = args.floats(k + 1, "gradY", g.y_numel);
  float* gw = args.optional_floats(k + 2, "gradW", g.w_numel);
  float* gb = args.optional_floats(k + 3, "gradBias", g.bias_length);
  run_cuda(info.Env(), op, [&] {
    if (kTransposed) {
      hn::cuda::conv_transpose2d_backward_weight(g.p, x, gy, gw, gb, args.stream());
    } else {
      hn::cuda::conv2d_backward_weight(g.p, x, gy, gw, gb, args.stream());
    }
  });
  return info.Env().Undefined();
}

// ---- Pooling: geometry as in pool.cc ---------------------------------------------------------------

hn::cpu::Pool2dShape pool_shape(const Napi::CallbackInfo& info, size_t first, const char* op, bool has_dilation,
                                bool ceil_mode) {
  Napi::Env env = info.Env();
  auto shape = fixed_list(info, first, op, "shape", 4, 0);
  auto kernel = fixed_list(info, first + 1, op, "kernelSize", 2, 1);
  auto stride = fixed_list(info, first + 2, op, "stride", 2, 1);
  auto padding = fixed_list(info, first + 3, op, "padding", 2, 0);
  std::vector<int64_t> dilation = has_dilation ? fixed_list(info, first + 4, op, "dilation", 2, 1) : std::vector<int64_t>{1, 1};
  for (int i = 0; i < 2; ++i) {
    if (padding[i] > kernel[i] / 2) throw_range_error(env, op, "padding", "at most half the kernel size " + list_string(kernel), list_string(padding));
  }
  hn::cpu::Pool2dShape s{};
  s.planes = checked_numel(env, op, "shape", {shape[0], shape[1]});
  s.in_h = shape[2], s.in_w = shape[3], s.kernel_h = kernel[0], s.kernel_w = kernel[1];
  s.stride_h = stride[0], s.stride_w = stride[1], s.pad_h = padding[0], s.pad_w = padding[1];
  s.dilation_h = dilation[0], s.dilation_w = dilation[1];
  s.out_h = hn::cpu::pool_output_size(s.in_h, s.kernel_h, s.stride_h, s.pad_h, s.dilation_h, ceil_mode);
  s.out_w = hn::cpu::pool_output_size(s.in_w, s.kernel_w, s.stride_w, s.pad_w, s.dilation_w, ceil_mode);
  if (s.out_h < 1 || s.out_w < 1) throw_range_error(env, op, "output size", "at least [1, 1]", list_string({s.out_h, s.out_w}));
  checked_numel(env, op, "shape", {s.planes, s.in_h, s.in_w});
  checked_numel(env, op, "output size", {s.planes, s.out_h, s.out_w});
  return s;
}

int64_t in_numel(const hn::cpu::Pool2dShape& s) { return s.planes * s.in_h * s.in_w; }
int64_t out_numel(const hn::cpu::Pool2dShape& s) { return s.planes * s.out_h * s.out_w; }

// (x, shape, kernelSize, stride, padding, dilation, ceilMode, y, indices)
Napi::Value MaxPool2dForward(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2d";
  const auto s = pool_shape(info, 1, op, true, boolean(info, 6, op, "ceilMode"));
  DeviceArgs args(info, op);
  float* x = args.floats(0, "input", in_numel(s));
  float* y = args.floats(7, "output", out_numel(s));
  int32_t* indices = args.ints(8, "indices", out_numel(s));
  run_cuda(info.Env(), op, [&] { hn::cuda::max_pool2d_forward(x, y, indices, s, args.stream()); });
  return info.Env().Undefined();
}

// (gradOutput, indices, shape, kernelSize, stride, padding, dilation, ceilMode, gradInput)
Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "maxPool2dBackward";
  const auto s = pool_shape(info, 2, op, true, boolean(info, 7, op, "ceilMode"));
  DeviceArgs args(info, op);
  float* gy = args.floats(0, "gradOutput", out_numel(s));
  int32_t* indices = args.ints(1, "indices", out_numel(s));
  float* gx = args.floats(8, "gradInput", in_numel(s));
  // The gather reads only the windows covering each input and compares indices: a stale or
  // forged index can at worst drop a gradient, never write out of bounds.
  run_cuda(info.Env(), op, [&] { hn::cuda::max_pool2d_backward(gy, indices, gx, s, args.stream()); });
  return info.Env().Undefined();
}

// (x, shape, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride, y)
Napi::Value AvgPool2dForward(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2d";
  const auto s = pool_shape(info, 1, op, false, boolean(info, 5, op, "ceilMode"));
  const bool include_pad = boolean(info, 6, op, "countIncludePad");
  const int64_t divisor = integer(info, 7, op, "divisorOverride", 0);
  DeviceArgs args(info, op);
  float* x = args.floats(0, "input", in_numel(s));
  float* y = args.floats(8, "output", out_numel(s));
  run_cuda(info.Env(), op, [&] { hn::cuda::avg_pool2d_forward(x, y, s, include_pad, divisor, args.stream()); });
  return info.Env().Undefined();
}

// (gradOutput, shape, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride, gradInput)
Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info) {
  const char* op = "avgPool2dBackward";
  const auto s = pool_shape(info, 1, op, false, boolean(info, 5, op, "ceilMode"));
  const bool include_pad = boolean(info, 6, op, "countIncludePad");
  const int64_t divisor = integer(info, 7, op, "divisorOverride", 0);
  DeviceArgs args(info, op);
  float* gy = args.floats(0, "gradOutput", out_numel(s));
  float* gx = args.floats(8, "gradInput", in_numel(s));
  run_cuda(info.Env(), op, [&] { hn::cuda::avg_pool2d_backward(gy, gx, s, include_pad, divisor, args.stream()); });
  return info.Env().Undefined();
}

// ---- Softmax -------------------------------------------------------------------------------------

std::vector<int64_t> dims3(const Napi::CallbackInfo& info, size_t index, const char* op) {
  auto d = fixed_list(info, index, op, "dims", 3, 0);
  checked_numel(info.Env(), op, "dims", d);
  return d;
}

// (x, [outer, dim, inner], log, y)
Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  const char* op = "softmax";
  const bool log = boolean(info, 2, op, "log");
  const auto d = dims3(info, 1, op);
  DeviceArgs args(info, op);
  float* x = args.floats(0, "input", d[0] * d[1] * d[2]);
  float* y = args.floats(3, "output", d[0] * d[1] * d[2]);
  run_cuda(info.Env(), op, [&] { hn::cuda::softmax_forward(x, y, d[0], d[1], d[2], log, args.stream()); });
  return info.Env().Undefined();
}

// (y, gradOutput, [outer, dim, inner], log, gradInput)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  const char* op = "softmaxBackward";
  const bool log = boolean(info, 3, op, "log");
  const auto d = dims3(info, 2, op);
  const int64_t n = d[0] * d[1] * d[2];
  DeviceArgs args(info, op);
  float* y = args.floats(0, "output", n);
  float* gy = args.floats(1, "gradOutput", n);
  float* gx = args.floats(4, "gradInput", n);
  run_cuda(info.Env(), op, [&] { hn::cuda::softmax_backward(y, gy, gx, d[0], d[1], d[2], log, args.stream()); });
  return info.Env().Undefined();
}

// ---- Element-wise ------------------------------------------------------------------------------------

// (kind, a, aStrides, b, bStrides, out, shape)
Napi::Value BinaryForward(const Napi::CallbackInfo& info) {
  const char* op = "binaryForward";
  const auto kind = integer(info, 0, op, "kind", 0, 5);
  auto shape = int_list(info, 6, op, "shape", 0, INT32_MAX, hn::cpu::kMaxDims);
  auto as = int_list(info, 2, op, "aStrides", 0, INT32_MAX, hn::cpu::kMaxDims);
  auto bs = int_list(info, 4, op, "bStrides", 0, INT32_MAX, hn::cpu::kMaxDims);
  if (as.size() != shape.size() || bs.size() != shape.size()) throw_range_error(info.Env(), op, "strides", std::to_string(shape.size()) + " entries", "other");
  const int64_t n = checked_numel(info.Env(), op, "shape", shape);
  DeviceArgs args(info, op);
  check_strided_length(info.Env(), op, "a", args.length(1, "a"), shape, as);
  check_strided_length(info.Env(), op, "b", args.length(3, "b"), shape, bs);
  float* a = args.floats(1, "a");
  float* b = args.floats(3, "b");
  float* out = args.floats(5, "out", n);
  run_cuda(info.Env(), op, [&] {
    hn::cuda::binary_forward(static_cast<hn::cpu::BinaryKind>(kind), a, as.data(), b, bs.data(), out, shape.data(),
                             static_cast<int>(shape.size()), args.stream());
  });
  return info.Env().Undefined();
}

// (kind, x, y, scalar)
Napi::Value UnaryForward(const Napi::CallbackInfo& info) {
  const char* op = "unaryForward";
  const auto kind = integer(info, 0, op, "kind", 0, 11);
  DeviceArgs args(info, op);
  const int64_t n = args.length(1, "x");
  float* x = args.floats(1, "x");
  float* y = args.floats(2, "y", n);
  const float scalar = static_cast<float>(number(info, 3, op, "scalar"));
  run_cuda(info.Env(), op, [&] { hn::cuda::unary_forward(static_cast<hn::cpu::UnaryKind>(kind), x, y, n, scalar, args.stream()); });
  return info.Env().Undefined();
}

// (kind, x, y, gradOutput, gradInput, scalar)
Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
  const char* op = "unaryBackward";
  const auto kind = integer(info, 0, op, "kind", 0, 11);
  DeviceArgs args(info, op);
  const int64_t n = args.length(3, "gradOutput");
  float* x = args.floats(1, "x", n);
  float* y = args.floats(2, "y", n);
  float* gy = args.floats(3, "gradOutput", n);
  float* gx = args.floats(4, "gradInput", n);
  const float scalar = static_cast<float>(number(info, 5, op, "scalar"));
  run_cuda(info.Env(), op, [&] {
    hn::cuda::unary_backward(static_cast<hn::cpu::UnaryKind>(kind), x, y, gy, gx, n, scalar, args.stream());
  });
  return info.Env().Undefined();
}

// (alpha, x, y): y += alpha x
Napi::Value Axpy(const Napi::CallbackInfo& info) {
  const char* op = "axpy";
  const float alpha = static_cast<float>(number(info, 0, op, "alpha"));
  DeviceArgs args(info, op);
  const int64_t n = args.length(1, "x");
  float* x = args.floats(1, "x");
  float* y = args.floats(2, "y", n);
  run_cuda(info.Env(), op, [&] { hn::cuda::axpy(n, alpha, x, y, args.stream()); });
  return info.Env().Undefined();
}

// (x, shape, reduceMask, scale, out)
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  const char* op = "reduceSum";
  auto shape = int_list(info, 1, op, "shape", 0, INT32_MAX, hn::cpu::kMaxDims);
  auto mask = int_list(info, 2, op, "reduceMask", 0, 1, hn::cpu::kMaxDims);
  if (mask.size() != shape.size()) throw_range_error(info.Env(), op, "reduceMask", std::to_string(shape.size()) + " entries", std::to_string(mask.size()));
  const int64_t n = checked_numel(info.Env(), op, "shape", shape);
  const float scale = static_cast<float>(number(info, 3, op, "scale"));
  std::vector<int64_t> kept;
  std::vector<uint8_t> mask8(mask.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    mask8[d] = static_cast<uint8_t>(mask[d]);
    if (!mask[d]) kept.push_back(shape[d]);
  }
  DeviceArgs args(info, op);
  float* x = args.floats(0, "x", n);
  float* out = args.floats(4, "out", checked_numel(info.Env(), op, "out", kept));
  run_cuda(info.Env(), op, [&] {
    hn::cuda::reduce_sum(x, shape.data(), static_cast<int>(shape.size()), mask8.data(), scale, out, args.stream());
  });
  return info.Env().Undefined();
}

// ---- Cross entropy -----------------------------------------------------------------------------------

struct ClassDims {
  int64_t N, C, S;
};

ClassDims class_dims(const Napi::CallbackInfo& info, size_t index, const char* op) {
  auto d = dims3(info, index, op);
  if (d[1] < 1) throw_range_error(info.Env(), op, "dims[1] (classes)", "at least 1", std::to_string(d[1]));
  return {d[0], d[1], d[2]};
}

double smoothing_arg(const Napi::CallbackInfo& info, size_t index, const char* op) {
  const double s = number(info, index, op, "labelSmoothing");
  if (s < 0.0 || s > 1.0) throw_range_error(info.Env(), op, "labelSmoothing", "in [0, 1]", std::to_string(s));
  return s;
}

// (logits, target, weight|null, [N, C, S], ignoreIndex, labelSmoothing, lse, rowLoss) -> {loss, weight}
// Waits for the device: the totals come back to JS. The targets are checked on the host first
// (copied back), as the CPU binding does, so a bad label is a RangeError naming its index.
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropy";
  Napi::Env env = info.Env();
  const auto d = class_dims(info, 3, op);
  const auto ignore = static_cast<int32_t>(integer(info, 4, op, "ignoreIndex", INT32_MIN, INT32_MAX));
  const double smoothing = smoothing_arg(info, 5, op);
  DeviceArgs args(info, op);
  float* logits = args.floats(0, "input", d.N * d.C * d.S);
  int32_t* target = args.ints(1, "target", d.N * d.S);
  float* weight = args.optional_floats(2, "weight", d.C);
  float* lse = args.floats(6, "lse", d.N * d.S);
  float* row_loss = args.floats(7, "rowLoss", d.N * d.S);
  std::vector<int32_t> labels(static_cast<size_t>(d.N * d.S));
  double totals[2] = {0.0, 0.0};
  run_cuda(env, op, [&] {
    const auto stream = args.stream();
    hn::cuda::copy_device_to_host(labels.data(), target, labels.size() * 4, stream);
    for (size_t i = 0; i < labels.size(); ++i) {
      const int32_t t = labels[i];
      if (t != ignore && (t < 0 || t >= d.C)) {
        throw_range_error(env, op, "target[" + std::to_string(i) + "] (flat index)",
                          "a class index in [0, " + std::to_string(d.C) + ") or ignoreIndex " + std::to_string(ignore),
                          std::to_string(t));
      }
    }
    hn::cuda::DeviceBuffer device_totals(sizeof(double) * 2, args.device());
    hn::cuda::cross_entropy_forward(logits, target, weight, d.N, d.C, d.S, ignore, static_cast<float>(smoothing), lse,
                                    row_loss, device_totals.as<double>(), stream);
    hn::cuda::copy_device_to_host(totals, device_totals.as<double>(), sizeof(totals), stream);
  });
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", totals[0]);
  out.Set("weight", totals[1]);
  return out;
}

// (logits, target, weight|null, lse, gradRow|null, gradScale, [N, C, S], ignoreIndex, labelSmoothing, gradLogits)
// A label outside [0, C) is treated as ignored by the kernel (never indexed).
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropyBackward";
  Napi::Env env = info.Env();
  const auto d = class_dims(info, 6, op);
  const auto ignore = static_cast<int32_t>(integer(info, 7, op, "ignoreIndex", INT32_MIN, INT32_MAX));
  const double smoothing = smoothing_arg(info, 8, op);
  Napi::Value scale_value = info[5];
  if (!scale_value.IsNumber()) throw_type_error(env, op, "gradScale", "a number", describe(scale_value));
  const double scale = scale_value.As<Napi::Number>().DoubleValue();
  DeviceArgs args(info, op);
  float* logits = args.floats(0, "input", d.N * d.C * d.S);
  int32_t* target = args.ints(1, "target", d.N * d.S);
  float* weight = args.optional_floats(2, "weight", d.C);
  float* lse = args.floats(3, "lse", d.N * d.S);
  float* grad_row = args.optional_floats(4, "gradOutput", d.N * d.S);
  float* grad = args.floats(9, "gradInput", d.N * d.C * d.S);
  run_cuda(env, op, [&] {
    hn::cuda::cross_entropy_backward(logits, target, weight, lse, grad_row, static_cast<float>(scale), nullptr, nullptr, d.N,
                                     d.C, d.S, ignore, static_cast<float>(smoothing), grad, args.stream());
  });
  return env.Undefined();
}

// ---- Point-wise losses: (kind, input, target, weight|null, posWeight|null, beta, ...) -----------------

double beta_value(const Napi::CallbackInfo& info, size_t index, const char* op) {
  const double beta = number(info, index, op, "beta");
  if (beta < 0.0) throw_range_error(info.Env(), op, "beta", "a non-negative number", std::to_string(beta));
  return beta;
}

// (kind, input, target, weight|null, posWeight|null, beta, output|null) -> sum of the element losses.
// Waits for the device: the sum comes back to JS.
Napi::Value PointwiseLossForward(const Napi::CallbackInfo& info) {
  const char* op = "pointwiseLoss";
  const auto kind = static_cast<hn::cpu::PointwiseLoss>(integer(info, 0, op, "kind", 0, 4));
  DeviceArgs args(info, op);
  const int64_t n = args.length(1, "input");
  float* input = args.floats(1, "input");
  float* target = args.floats(2, "target", n);
  float* weight = args.optional_floats(3, "weight", n);
  float* pos_weight = args.optional_floats(4, "posWeight", n);
  const double beta = beta_value(info, 5, op);
  float* out = args.optional_floats(6, "output", n);
  double sum = 0.0;
  run_cuda(info.Env(), op, [&] {
    const auto stream = args.stream();
    hn::cuda::DeviceBuffer device_sum(sizeof(double), args.device());
    hn::cuda::pointwise_loss_forward(kind, input, target, weight, pos_weight, n, static_cast<float>(beta), out,
                                     device_sum.as<double>(), stream);
    hn::cuda::copy_device_to_host(&sum, device_sum.as<double>(), sizeof(double), stream);
  });
  return Napi::Number::New(info.Env(), sum);
}

// (kind, input, target, weight|null, posWeight|null, beta, gradOutput|null, gradScale, gradInput|null,
//  gradTarget|null)
Napi::Value PointwiseLossBackward(const Napi::CallbackInfo& info) {
  const char* op = "pointwiseLossBackward";
  const auto kind = static_cast<hn::cpu::PointwiseLoss>(integer(info, 0, op, "kind", 0, 4));
  DeviceArgs args(info, op);
  const int64_t n = args.length(1, "input");
  float* input = args.floats(1, "input");
  float* target = args.floats(2, "target", n);
  float* weight = args.optional_floats(3, "weight", n);
  float* pos_weight = args.optional_floats(4, "posWeight", n);
  const double beta = beta_value(info, 5, op);
  float* grad_out = args.optional_floats(6, "gradOutput", n);
  Napi::Value scale_value = info[7];
  if (!scale_value.IsNumber()) throw_type_error(info.Env(), op, "gradScale", "a number", describe(scale_value));
  const double scale = scale_value.As<Napi::Number>().DoubleValue();
  float* grad_input = args.optional_floats(8, "gradInput", n);
  float* grad_target = args.optional_floats(9, "gradTarget", n);
  run_cuda(info.Env(), op, [&] {
    hn::cuda::pointwise_loss_backward(kind, input, target, weight, pos_weight, n, static_cast<float>(beta), grad_out,
                                      static_cast<float>(scale), nullptr, grad_input, grad_target, args.stream());
  });
  return info.Env().Undefined();
}

// ---- Batch norm ---------------------------------------------------------------------------------------

// (x, [N, C, HW], weight|null, bias|null, runningMean|null, runningVar|null, training, momentum, eps,
//  y, saveMean, saveInvstd)
Napi::Value BatchNormForward(const Napi::CallbackInfo& info) {
  const char* op = "batchNorm";
  Napi::Env env = info.Env();
  const auto d = dims3(info, 1, op);
  const int64_t N = d[0], C = d[1], HW = d[2];
  const bool training = boolean(info, 6, op, "training");
  const double momentum = number(info, 7, op, "momentum");
  const double eps = number(info, 8, op, "eps");
  DeviceArgs args(info, op);
  float* x = args.floats(0, "input", N * C * HW);
  float* weight = args.optional_floats(2, "weight", C);
  float* bias = args.optional_floats(3, "bias", C);
  float* rm = args.optional_floats(4, "runningMean", C);
  float* rv = args.optional_floats(5, "runningVar", C);
  float* y = args.floats(9, "output", N * C * HW);
  float* save_mean = args.floats(10, "saveMean", C);
  float* save_invstd = args.floats(11, "saveInvstd", C);
  if (!training && (!rm || !rv)) throw_type_error(env, op, "runningMean", "running statistics in eval mode", "null");
  if (training && N * HW < 2 && (rm || rv)) throw_range_error(env, op, "input", "more than one value per channel", std::to_string(N * HW));
  run_cuda(env, op, [&] {
    hn::cuda::batch_norm_forward(x, weight, bias, rm, rv, N, C, HW, training, static_cast<float>(momentum),
                                 static_cast<float>(eps), y, save_mean, save_invstd, args.stream());
  });
  return env.Undefined();
}

// (x, gradOutput, [N, C, HW], weight|null, saveMean, saveInvstd, training, gradInput|null,
//  gradWeight|null, gradBias|null)
Napi::Value BatchNormBackward(const Napi::CallbackInfo& info) {
  const char* op = "batchNormBackward";
  const auto d = dims3(info, 2, op);
  const int64_t N = d[0], C = d[1], HW = d[2], n = N * C * HW;
  DeviceArgs args(info, op);
  float* x = args.floats(0, "input", n);
  float* gy = args.floats(1, "gradOutput", n);
  float* weight = args.optional_floats(3, "weight", C);
  float* save_mean = args.floats(4, "saveMean", C);
  float* save_invstd = args.floats(5, "saveInvstd", C);
  const bool training = boolean(info, 6, op, "training");
  float* gx = args.optional_floats(7, "gradInput", n);
  float* gw = args.optional_floats(8, "gradWeight", C);
  float* gb = args.optional_floats(9, "gradBias", C);
  run_cuda(info.Env(), op, [&] {
    hn::cuda::batch_norm_backward(x, gy, weight, save_mean, save_invstd, N, C, HW, training, gx, gw, gb, args.stream());
  });
  return info.Env().Undefined();
}

// ---- Optimizers ----------------------------------------------------------------------------------------

constexpr double kHuge = 1e300;

// (param, grad, momentumBuffer|null, lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const char* op = "sgdStep";
  Napi::Env env = info.Env();
  DeviceArgs args(info, op);
  const int64_t n = args.length(0, "param");
  float* param = args.floats(0, "param");
  float* grad = args.floats(1, "grad", n);
  float* buffer = args.optional_floats(2, "momentumBuffer", n);
  hn::cpu::SgdOptions o;
  o.lr = number_in_range(info, 3, op, "lr", 0, kHuge, true);
  o.momentum = number_in_range(info, 4, op, "momentum", 0, kHuge, true);
  o.dampening = number(info, 5, op, "dampening");
  o.weight_decay = number_in_range(info, 6, op, "weightDecay", 0, kHuge, true);
  o.nesterov = boolean(info, 7, op, "nesterov");
  o.maximize = boolean(info, 8, op, "maximize");
  o.first_step = boolean(info, 9, op, "firstStep");
  if (o.momentum != 0 && !buffer && n > 0) throw_type_error(env, op, "momentumBuffer", "a buffer when momentum != 0", "null");
  run_cuda(env, op, [&] { hn::cuda::sgd_step(param, grad, buffer, n, o, args.stream()); });
  return env.Undefined();
}

// (param, grad, expAvg, expAvgSq, maxExpAvgSq|null, lr, beta1, beta2, eps, weightDecay,
//  decoupledWeightDecay, amsgrad, maximize, step)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  const char* op = "adamStep";
  Napi::Env env = info.Env();
  DeviceArgs args(info, op);
  const int64_t n = args.length(0, "param");
  float* param = args.floats(0, "param");
  float* grad = args.floats(1, "grad", n);
  float* m = args.floats(2, "expAvg", n);
  float* v = args.floats(3, "expAvgSq", n);
  float* vmax = args.optional_floats(4, "maxExpAvgSq", n);
  hn::cpu::AdamOptions o;
  o.lr = number_in_range(info, 5, op, "lr", 0, kHuge, true);
  o.beta1 = number_in_range(info, 6, op, "beta1", 0, 1, false);
  o.beta2 = number_in_range(info, 7, op, "beta2", 0, 1, false);
  o.eps = number_in_range(info, 8, op, "eps", 0, kHuge, true);
  o.weight_decay = number_in_range(info, 9, op, "weightDecay", 0, kHuge, true);
  o.decoupled_weight_decay = boolean(info, 10, op, "decoupledWeightDecay");
  o.amsgrad = boolean(info, 11, op, "amsgrad");
  o.maximize = boolean(info, 12, op, "maximize");
  o.step = integer(info, 13, op, "step", 1, INT32_MAX);
  if (o.amsgrad && !vmax && n > 0) throw_type_error(env, op, "maxExpAvgSq", "a buffer when amsgrad is set", "null");
  run_cuda(env, op, [&] { hn::cuda::adam_step(param, grad, m, v, vmax, n, o, args.stream()); });
  return env.Undefined();
}

// ---- Fused multi-task loss: the task objects of bindings/multi_loss.cc, device buffers in them ---

int64_t task_int(Napi::Env env, Napi::Object task, const char* key, const std::string& who, int64_t lo, int64_t hi) {
  Napi::Value v = task.Get(key);
  if (!v.IsNumber()) throw_type_error(env, "multiTaskLoss", who + "." + key, "an integer", describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw_range_error(env, "multiTaskLoss", who + "." + key, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
                      describe(v));
  }
  return static_cast<int64_t>(d);
}

// [{name, kind, reduction, n, c, s, output, labels | target, mask | null, ignoreIndex, weight,
//   grad | null}] -> [{loss, count}]. Waits for the device once: the losses come back to JS.
Napi::Value MultiTaskLoss(const Napi::CallbackInfo& info) {
  const char* op = "multiTaskLoss";
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw_type_error(env, op, "tasks", "an array of task objects", describe(info[0]));
  auto list = info[0].As<Napi::Array>();
  constexpr uint32_t kMaxTasks = 1 << 16;
  if (list.Length() > kMaxTasks) throw_range_error(env, op, "tasks", "at most " + std::to_string(kMaxTasks) + " tasks", std::to_string(list.Length()));
  std::vector<hn::cuda::TaskLoss> tasks(list.Length());
  std::vector<std::string> names(list.Length());
  std::vector<std::pair<DeviceBlock*, std::string>> borrowed;
  int device = -1;
  // A device buffer field of a task: dtype, length, one device for all.
  auto field = [&](Napi::Object task, const char* key, const std::string& who, int64_t expected, bool optional,
                   bool is_int) -> void* {
    Napi::Value v = task.Get(key);
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    const std::string arg = who + "." + key;
    DeviceBlock* b = block_value(env, v, op, arg);
    if (b->freed) throw_type_error(env, op, arg, "a live CUDA tensor", "a disposed one");
    if (b->is_int != is_int) throw_type_error(env, op, arg, is_int ? "an int32 CUDA buffer" : "a float32 CUDA buffer", "another dtype");
    if (b->length != expected) throw_range_error(env, op, arg, std::to_string(expected) + " elements", std::to_string(b->length));
    if (device < 0) device = b->device;
    if (b->device != device) throw_range_error(env, op, arg, "a buffer on cuda:" + std::to_string(device), "one on cuda:" + std::to_string(b->device));
    borrowed.emplace_back(b, arg);
    return b->ptr;
  };
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) throw_type_error(env, op, "tasks[" + std::to_string(i) + "]", "a task object", describe(item));
    Napi::Object task = item.As<Napi::Object>();
    Napi::Value name = task.Get("name");
    names[i] = name.IsString() ? name.As<Napi::String>().Utf8Value() : std::to_string(i);
    const std::string who = "task '" + names[i] + "'";
    hn::cuda::TaskLoss& t = tasks[i];
    t.kind = static_cast<hn::cpu::LossKind>(task_int(env, task, "kind", who, 0, 3));
    t.reduction = static_cast<hn::cpu::LossReduction>(task_int(env, task, "reduction", who, 0, 1));
    t.N = task_int(env, task, "n", who, 0, INT32_MAX);
    t.C = task_int(env, task, "c", who, 1, INT32_MAX);
    t.S = task_int(env, task, "s", who, 1, INT32_MAX);
    const int64_t out_n = checked_numel(env, op, (who + " sizes [n, c, s]").c_str(), {t.N, t.C, t.S});
    t.output = static_cast<const float*>(field(task, "output", who, out_n, false, false));
    if (t.kind == hn::cpu::LossKind::CrossEntropy) {
      t.labels = static_cast<const int32_t*>(field(task, "labels", who, t.N * t.S, false, true));
      t.ignore_index = static_cast<int32_t>(task_int(env, task, "ignoreIndex", who, INT32_MIN, INT32_MAX));
    } else {
      if (t.C != 1) throw_range_error(env, op, who + ".c", "1 for a regression loss", std::to_string(t.C));
      t.target = static_cast<const float*>(field(task, "target", who, out_n, false, false));
    }
    t.sample_mask = static_cast<const float*>(field(task, "mask", who, t.N, true, false));
    t.grad = static_cast<float*>(field(task, "grad", who, out_n, true, false));
    Napi::Value weight = task.Get("weight");
    if (!weight.IsNumber()) throw_type_error(env, op, who + ".weight", "a number", describe(weight));
    t.weight = static_cast<float>(weight.As<Napi::Number>().DoubleValue());
  }
  // A getter of a later field could have disposed a buffer read before it.
  for (const auto& [block, arg] : borrowed) {
    if (block->freed) throw_type_error(env, op, arg, "a buffer that stays live while the tasks are read", "one disposed by a getter");
  }
  std::vector<int32_t> bad_values(tasks.size(), 0);
  run_cuda(env, op, [&] {
    hn::cuda::set_device(device < 0 ? 0 : device);
    const auto stream = hn::cuda::stream(device < 0 ? 0 : device);
    hn::cuda::multi_loss_forward_backward(tasks.data(), static_cast<int>(tasks.size()), stream);
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (tasks[i].bad_label_at >= 0) {
        hn::cuda::copy_device_to_host(&bad_values[i], tasks[i].labels + tasks[i].bad_label_at, sizeof(int32_t), stream);
      }
    }
  });
  Napi::Array out = Napi::Array::New(env, tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto& t = tasks[i];
    if (t.bad_label_at >= 0) {
      throw_range_error(env, op, "task '" + names[i] + "' targets",
                        "class indices in [0, " + std::to_string(t.C) + ") or ignoreIndex " + std::to_string(t.ignore_index),
                        std::to_string(bad_values[i]) + " at flat position " + std::to_string(t.bad_label_at));
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("loss", t.loss);
    r.Set("count", static_cast<double>(t.count));
    out.Set(static_cast<uint32_t>(i), r);
  }
  return out;
}

void Register(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = exports.Has("cuda") ? exports.Get("cuda").As<Napi::Object>() : Napi::Object::New(env);
  cuda.Set("sgemm", Napi::Function::New(env, Sgemm));
  cuda.Set("conv2dForward", Napi::Function::New(env, ConvForward<false>));
  cuda.Set("conv2dBackwardData", Napi::Function::New(env, ConvBackwardData<false>));
  cuda.Set("conv2dBackwardWeight", Napi::Function::New(env, ConvBackwardWeight<false>));
  cuda.Set("convTranspose2dForward", Napi::Function::New(env, ConvForward<true>));
  cuda.Set("convTranspose2dBackwardData", Napi::Function::New(env, ConvBackwardData<true>));
  cuda.Set("convTranspose2dBackwardWeight", Napi::Function::New(env, ConvBackwardWeight<true>));
  cuda.Set("maxPool2dForward", Napi::Function::New(env, MaxPool2dForward));
  cuda.Set("maxPool2dBackward", Napi::Function::New(env, MaxPool2dBackward));
  cuda.Set("avgPool2dForward", Napi::Function::New(env, AvgPool2dForward));
  cuda.Set("avgPool2dBackward", Napi::Function::New(env, AvgPool2dBackward));
  cuda.Set("softmaxForward", Napi::Function::New(env, SoftmaxForward));
  cuda.Set("softmaxBackward", Napi::Function::New(env, SoftmaxBackward));
  cuda.Set("binaryForward", Napi::Function::New(env, BinaryForward));
  cuda.Set("unaryForward", Napi::Function::New(env, UnaryForward));
  cuda.Set("unaryBackward", Napi::Function::New(env, UnaryBackward));
  cuda.Set("axpy", Napi::Function::New(env, Axpy));
  cuda.Set("reduceSum", Napi::Function::New(env, ReduceSum));
  cuda.Set("crossEntropyForward", Napi::Function::New(env, CrossEntropyForward));
  cuda.Set("crossEntropyBackward", Napi::Function::New(env, CrossEntropyBackward));
  cuda.Set("batchNormForward", Napi::Function::New(env, BatchNormForward));
  cuda.Set("batchNormBackward", Napi::Function::New(env, BatchNormBackward));
  cuda.Set("sgdStep", Napi::Function::New(env, SgdStep));
  cuda.Set("adamStep", Napi::Function::New(env, AdamStep));
  cuda.Set("multiTaskLoss", Napi::Function::New(env, MultiTaskLoss));
  cuda.Set("pointwiseLossForward", Napi::Function::New(env, PointwiseLossForward));
  cuda.Set("pointwiseLossBackward", Napi::Function::New(env, PointwiseLossBackward));
  exports.Set("cuda", cuda);
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings::cuda
#endif  // HN_WITH_CUDA
