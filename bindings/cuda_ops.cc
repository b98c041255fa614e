// CUDA twins of the op bindings, registered under exports.cuda with the SAME names and argument
// lists as the CPU ones (gemm.cc, conv.cc, pool.cc, softmax.cc, elementwise.cc, batchnorm.cc,
// optim.cc), device buffer handles in place of typed arrays; the losses are in cuda_loss.cc. lib/ops
// picks the table by the tensors' device and calls it the same way. Every shape is checked here as
// in the CPU bindings, and every buffer's dtype, length and device (cuda_common.h), so no call can
// make a kernel read or write out of bounds. Kernels are queued on the device's stream; none of
// these waits for the device. Two bindings have no CPU twin (the CPU does their work in
// TypeScript): sgemmBatched (batched matmul) and copyBlocks (concat).
#ifdef HN_WITH_CUDA
#include <napi.h>

#include <cstdio>
#include <string>
#include <vector>

#include "../native/cuda/batchnorm.h"
#include "../native/cuda/conv.h"
#include "../native/cuda/copy.h"
#include "../native/cuda/elementwise.h"
#include "../native/cuda/gemm.h"
#include "../native/cuda/optim.h"
#include "../native/cuda/pool.h"
#include "../native/cuda/softmax.h"
#include "args.h"
#include "cuda_common.h"
#include "optim_args.h"
#include "registry.h"

namespace hn::bindings::cuda {
namespace {

using hn::cpu::Conv2dParams;

// offset + (count - 1) * stride + extent <= length, without overflow (all >= 0). True when count
// or extent is 0: nothing is touched then.
bool covers(int64_t length, int64_t offset, int64_t count, int64_t stride, int64_t extent) {
  if (count == 0 || extent == 0) return true;
  if (offset > length || extent > length - offset) return false;
  return count == 1 || stride <= (length - offset - extent) / (count - 1);
}

// "at least N elements" for the span above (printed from a double: N may exceed int64).
std::string span_string(int64_t offset, int64_t count, int64_t stride, int64_t extent) {
  const double needed = count == 0 || extent == 0 ? 0.0
      : static_cast<double>(offset) + static_cast<double>(count - 1) * static_cast<double>(stride) + static_cast<double>(extent);
  char text[64];
  std::snprintf(text, sizeof(text), "at least %.0f elements", needed);
  return text;
}

// ---- SGEMM -------------------------------------------------------------------------------------

// One operand of sgemm / sgemmBatched: `batch` matrices of rows x cols, leading dimension at
// ld_index, `stride` elements apart. The buffer must cover the last element of the last one.
struct MatrixArg {
  float* data;
  int64_t ld;
  int64_t extent;  // elements one matrix spans: (rows - 1) * ld + cols, 0 when empty
};

MatrixArg matrix_arg(const Napi::CallbackInfo& info, DeviceArgs& args, const char* op, size_t array_index,
                     size_t ld_index, const char* arg, const char* ld_arg, int64_t rows, int64_t cols,
                     int64_t stride, int64_t batch) {
  Napi::Env env = info.Env();
  const int64_t length = args.length(array_index, arg);
  const int64_t ld = integer(info, ld_index, op, ld_arg, 1);
  if (ld < std::max<int64_t>(cols, 1)) throw_range_error(env, op, ld_arg, ">= " + std::to_string(cols), std::to_string(ld));
  const int64_t extent = rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
  if (!covers(length, 0, batch, stride, extent)) {
    throw_range_error(env, op, arg, span_string(0, batch, stride, extent), std::to_string(length));
  }
  return {args.floats(array_index, arg), ld, extent};
}

// (transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  const char* op = "sgemm";
  const bool ta = boolean(info, 0, op, "transA"), tb = boolean(info, 1, op, "transB");
  const int64_t M = integer(info, 2, op, "M", 0), N = integer(info, 3, op, "N", 0), K = integer(info, 4, op, "K", 0);
  const float alpha = static_cast<float>(number(info, 5, op, "alpha"));
  const float beta = static_cast<float>(number(info, 10, op, "beta"));
  DeviceArgs args(info, op);
  const auto a = matrix_arg(info, args, op, 6, 7, "A", "lda", ta ? K : M, ta ? M : K, 0, 1);
  const auto b = matrix_arg(info, args, op, 8, 9, "B", "ldb", tb ? N : K, tb ? K : N, 0, 1);
  const auto c = matrix_arg(info, args, op, 11, 12, "C", "ldc", M, N, 0, 1);
  run_cuda(info.Env(), op, [&] {
    hn::cuda::sgemm(ta, tb, M, N, K, alpha, a.data, a.ld, b.data, b.ld, beta, c.data, c.ld, args.stream());
  });
  return info.Env().Undefined();
}

// (transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch):
// batch products, matrix i of A at A + i * strideA (likewise B, C); the C matrices must not overlap.
Napi::Value SgemmBatched(const Napi::CallbackInfo& info) {
  const char* op = "sgemmBatched";
  Napi::Env env = info.Env();
  const bool ta = boolean(info, 0, op, "transA"), tb = boolean(info, 1, op, "transB");
  const int64_t M = integer(info, 2, op, "M", 0), N = integer(info, 3, op, "N", 0), K = integer(info, 4, op, "K", 0);
  const float alpha = static_cast<float>(number(info, 5, op, "alpha"));
  const int64_t stride_a = integer(info, 8, op, "strideA", 0, kMaxElements);
  const int64_t stride_b = integer(info, 11, op, "strideB", 0, kMaxElements);
  const float beta = static_cast<float>(number(info, 12, op, "beta"));
  const int64_t stride_c = integer(info, 15, op, "strideC", 0, kMaxElements);
  const int64_t batch = integer(info, 16, op, "batch", 0);
  DeviceArgs args(info, op);
  const auto a = matrix_arg(info, args, op, 6, 7, "A", "lda", ta ? K : M, ta ? M : K, stride_a, batch);
  const auto b = matrix_arg(info, args, op, 9, 10, "B", "ldb", tb ? N : K, tb ? K : N, stride_b, batch);
  const auto c = matrix_arg(info, args, op, 13, 14, "C", "ldc", M, N, stride_c, batch);
  if (batch > 1 && stride_c < c.extent) {
    throw_range_error(env, op, "strideC", "at least " + std::to_string(c.extent) + " (output matrices must not overlap)",
                      std::to_string(stride_c));
  }
  run_cuda(env, op, [&] {
    hn::cuda::sgemm_strided_batched(ta, tb, M, N, K, alpha, a.data, a.ld, stride_a, b.data, b.ld, stride_b, beta, c.data,
                                    c.ld, stride_c, batch, args.stream());
  });
  return env.Undefined();
}

// ---- Block copy (concat): (dst, dstOffset, dstLd, src, srcOffset, srcLd, rows, cols) -----------
// dst[dstOffset + r * dstLd + c] = src[srcOffset + r * srcLd + c]; float32 or int32, both alike.
Napi::Value CopyBlocks(const Napi::CallbackInfo& info) {
  const char* op = "copyBlocks";
  Napi::Env env = info.Env();
  const int64_t rows = integer(info, 6, op, "rows", 0), cols = integer(info, 7, op, "cols", 0);
  DeviceArgs args(info, op);
  DeviceBlock* dst = args.any(0, "dst");
  DeviceBlock* src = args.any(3, "src");
  if (dst == src) throw_range_error(env, op, "src", "a buffer other than dst", "the same buffer");
  if (dst->is_int != src->is_int) {
    throw_type_error(env, op, "src", dst->is_int ? "an int32 buffer like dst" : "a float32 buffer like dst",
                     src->is_int ? "an int32 one" : "a float32 one");
  }
  auto region = [&](DeviceBlock* b, size_t offset_index, size_t ld_index, const char* arg, const char* offset_arg,
                    const char* ld_arg) {
    const int64_t offset = integer(info, offset_index, op, offset_arg, 0, kMaxElements);
    const int64_t ld = integer(info, ld_index, op, ld_arg, cols, kMaxElements);
    if (!covers(b->length, offset, rows, ld, cols)) throw_range_error(env, op, arg, span_string(offset, rows, ld, cols), std::to_string(b->length));
    return std::make_pair(static_cast<char*>(b->ptr) + offset * 4, ld);
  };
  const auto d = region(dst, 1, 2, "dst", "dstOffset", "dstLd");
  const auto s = region(src, 4, 5, "src", "srcOffset", "srcLd");
  run_cuda(env, op, [&] { hn::cuda::copy_2d(d.first, d.second, s.first, s.second, rows, cols, args.stream()); });
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

// What the three bindings of either convolution share: the name, the geometry (from the leading
// arguments) and the index of the first array (after 6 geometry arguments, 7 when transposed).
struct ConvCall {
  const char* op;
  ConvGeometry g;
  size_t first;
};

template <bool kTransposed>
ConvCall conv_call(const Napi::CallbackInfo& info, const char* conv_op, const char* transposed_op) {
  const char* op = kTransposed ? transposed_op : conv_op;
  return {op, kTransposed ? conv_transpose2d_geometry(info, op) : conv2d_geometry(info, op), kTransposed ? 7u : 6u};
}

// (geometry..., x, w, bias|null, y)
template <bool kTransposed>
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  const ConvCall c = conv_call<kTransposed>(info, "conv2d", "convTranspose2d");
  DeviceArgs args(info, c.op);
  float* x = args.floats(c.first, "x", c.g.x_numel);
  float* w = args.floats(c.first + 1, "w", c.g.w_numel);
  float* bias = args.optional_floats(c.first + 2, "bias", c.g.bias_length);
  float* y = args.floats(c.first + 3, "y", c.g.y_numel);
  const auto kernel = kTransposed ? hn::cuda::conv_transpose2d_forward : hn::cuda::conv2d_forward;
  run_cuda(info.Env(), c.op, [&] { kernel(c.g.p, x, w, bias, y, args.stream()); });
  return info.Env().Undefined();
}

// (geometry..., gradY, w, gradX)
template <bool kTransposed>
Napi::Value ConvBackwardData(const Napi::CallbackInfo& info) {
  const ConvCall c = conv_call<kTransposed>(info, "conv2dBackwardData", "convTranspose2dBackwardData");
  DeviceArgs args(info, c.op);
  float* gy = args.floats(c.first, "gradY", c.g.y_numel);
  float* w = args.floats(c.first + 1, "w", c.g.w_numel);
  float* gx = args.floats(c.first + 2, "gradX", c.g.x_numel);
  const auto kernel = kTransposed ? hn::cuda::conv_transpose2d_backward_data : hn::cuda::conv2d_backward_data;
  run_cuda(info.Env(), c.op, [&] { kernel(c.g.p, gy, w, gx, args.stream()); });
  return info.Env().Undefined();
}

// (geometry..., x, gradY, gradW|null, gradBias|null)
template <bool kTransposed>
Napi::Value ConvBackwardWeight(const Napi::CallbackInfo& info) {
  const ConvCall c = conv_call<kTransposed>(info, "conv2dBackwardWeight", "convTranspose2dBackwardWeight");
  DeviceArgs args(info, c.op);
  float* x = args.floats(c.first, "x", c.g.x_numel);
  float* gy = args.floats(c.first + 1, "gradY", c.g.y_numel);
  float* gw = args.optional_floats(c.first + 2, "gradW", c.g.w_numel);
  float* gb = args.optional_floats(c.first + 3, "gradBias", c.g.bias_length);
  const auto kernel = kTransposed ? hn::cuda::conv_transpose2d_backward_weight : hn::cuda::conv2d_backward_weight;
  run_cuda(info.Env(), c.op, [&] { kernel(c.g.p, x, gy, gw, gb, args.stream()); });
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

// Forward (x, shape, kernelSize, stride, padding, ceilMode, countIncludePad, divisorOverride, y) and
// backward (gradOutput, ... the same ..., gradInput): one layout, the sizes of the two arrays swapped.
template <bool kBackward>
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  const char* op = kBackward ? "avgPool2dBackward" : "avgPool2d";
  const auto s = pool_shape(info, 1, op, false, boolean(info, 5, op, "ceilMode"));
  const bool include_pad = boolean(info, 6, op, "countIncludePad");
  const int64_t divisor = integer(info, 7, op, "divisorOverride", 0);
  DeviceArgs args(info, op);
  float* from = args.floats(0, kBackward ? "gradOutput" : "input", kBackward ? out_numel(s) : in_numel(s));
  float* to = args.floats(8, kBackward ? "gradInput" : "output", kBackward ? in_numel(s) : out_numel(s));
  const auto kernel = kBackward ? hn::cuda::avg_pool2d_backward : hn::cuda::avg_pool2d_forward;
  run_cuda(info.Env(), op, [&] { kernel(from, to, s, include_pad, divisor, args.stream()); });
  return info.Env().Undefined();
}

// ---- Softmax -------------------------------------------------------------------------------------

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

// (param, grad, momentumBuffer|null, lr, momentum, dampening, weightDecay, nesterov, maximize, firstStep)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const char* op = "sgdStep";
  Napi::Env env = info.Env();
  DeviceArgs args(info, op);
  const int64_t n = args.length(0, "param");
  float* param = args.floats(0, "param");
  float* grad = args.floats(1, "grad", n);
  float* buffer = args.optional_floats(2, "momentumBuffer", n);
  const hn::cpu::SgdOptions o = sgd_options(info, 3, op);
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
  const hn::cpu::AdamOptions o = adam_options(info, 5, op);
  if (o.amsgrad && !vmax && n > 0) throw_type_error(env, op, "maxExpAvgSq", "a buffer when amsgrad is set", "null");
  run_cuda(env, op, [&] { hn::cuda::adam_step(param, grad, m, v, vmax, n, o, args.stream()); });
  return env.Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = cuda_table(env, exports);
  export_function<Sgemm>(env, cuda, "sgemm");
  export_function<SgemmBatched>(env, cuda, "sgemmBatched");
  export_function<CopyBlocks>(env, cuda, "copyBlocks");
  export_function<ConvForward<false>>(env, cuda, "conv2dForward");
  export_function<ConvBackwardData<false>>(env, cuda, "conv2dBackwardData");
  export_function<ConvBackwardWeight<false>>(env, cuda, "conv2dBackwardWeight");
  export_function<ConvForward<true>>(env, cuda, "convTranspose2dForward");
  export_function<ConvBackwardData<true>>(env, cuda, "convTranspose2dBackwardData");
  export_function<ConvBackwardWeight<true>>(env, cuda, "convTranspose2dBackwardWeight");
  export_function<MaxPool2dForward>(env, cuda, "maxPool2dForward");
  export_function<MaxPool2dBackward>(env, cuda, "maxPool2dBackward");
  export_function<AvgPool2d<false>>(env, cuda, "avgPool2dForward");
  export_function<AvgPool2d<true>>(env, cuda, "avgPool2dBackward");
  export_function<SoftmaxForward>(env, cuda, "softmaxForward");
  export_function<SoftmaxBackward>(env, cuda, "softmaxBackward");
  export_function<BinaryForward>(env, cuda, "binaryForward");
  export_function<UnaryForward>(env, cuda, "unaryForward");
  export_function<UnaryBackward>(env, cuda, "unaryBackward");
  export_function<Axpy>(env, cuda, "axpy");
  export_function<ReduceSum>(env, cuda, "reduceSum");
  export_function<BatchNormForward>(env, cuda, "batchNormForward");
  export_function<BatchNormBackward>(env, cuda, "batchNormBackward");
  export_function<SgdStep>(env, cuda, "sgdStep");
  export_function<AdamStep>(env, cuda, "adamStep");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings::cuda
#endif  // HN_WITH_CUDA
