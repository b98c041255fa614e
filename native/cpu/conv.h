// 2-D convolution and transposed convolution, forward and backward (PyTorch semantics, NCHW).
//
// One piece of code, two uses: a transposed convolution is the adjoint of a convolution, so
//   conv_transpose2d_forward       = conv2d_backward_data
//   conv_transpose2d_backward_data = conv2d_forward (no bias)
//   conv_transpose2d_backward_weight = conv2d_backward_weight with x and grad swapped.
// Each function overwrites its outputs (gradients are not accumulated into). Kernels assume
// valid sizes: the bindings check them.
#pragma once
#include <cstdint>

namespace hn::cpu {

// Geometry of one convolution y = conv(x, w):
//   x: [batch, in_channels, in_h, in_w]
//   w: [out_channels, in_channels / groups, kernel_h, kernel_w]
//   y: [batch, out_channels, out_h, out_w]
// pad_h / pad_w are the padding before the first row / column; the padding after the last one
// is whatever out_h / out_w imply (so asymmetric 'same' padding needs no extra field). out_h and
// out_w may be smaller than the size the padding allows (a transposed convolution with
// output_padding >= stride relies on it); every input index is bounds-checked.
struct Conv2dParams {
  int64_t batch = 0;
  int64_t in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};

// floor((in + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride) + 1; may be <= 0.
inline int64_t conv2d_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin,
                                  int64_t pad_end, int64_t dilation) {
  const int64_t span = in + pad_begin + pad_end - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// (in - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1; may be <= 0.
inline int64_t conv_transpose2d_output_size(int64_t in, int64_t kernel, int64_t stride,
                                            int64_t pad, int64_t output_padding,
                                            int64_t dilation) {
  return (in - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1;
}

// The input gradient of a stride-1 convolution p written as a forward convolution: dy (p's
// output) is its input, padded by kernel - 1 - pad, with p's kernels flipped and their channel
// roles swapped (the caller flips them). Meaningful when pad <= kernel - 1.
inline Conv2dParams stride1_input_gradient_params(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.in_channels = p.out_channels;
  q.in_h = p.out_h;
  q.in_w = p.out_w;
  q.out_channels = p.in_channels;
  q.out_h = p.in_h;
  q.out_w = p.in_w;
  q.pad_h = p.kernel_h - 1 - p.pad_h;
  q.pad_w = p.kernel_w - 1 - p.pad_w;
  return q;
}

// ---- Convolution (p describes this convolution) ---------------------------------------------

// y = conv(x, w) + bias. bias: [out_channels] or nullptr.
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y);

// dx = dL/dx given dy = dL/dy. dy: [batch, out_channels, out_h, out_w], dx like x.
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx);

// dw = dL/dw, db = dL/dbias (sum of dy over batch and pixels). Either may be nullptr.
// Deterministic for a given thread count (partial sums are reduced in a fixed order).
void conv2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                            float* db);

// ---- Transposed convolution ------------------------------------------------------------------
// p describes the convolution being transposed, so the roles of its tensors swap:
//   x (this op's input):  [batch, out_channels, out_h, out_w]
//   w:                    [out_channels, in_channels / groups, kernel_h, kernel_w]
//                         (PyTorch's ConvTranspose2d layout [C_in, C_out / groups, kH, kW])
//   y (this op's output): [batch, in_channels, in_h, in_w]
// pad_h / pad_w are the transposed convolution's padding; in_h / in_w its output size (which
// carries output_padding).

// y = conv_transpose(x, w) + bias. bias: [in_channels] or nullptr.
void conv_transpose2d_forward(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y);

// dx = dL/dx given dy = dL/dy (dy like y, dx like x).
void conv_transpose2d_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                    float* dx);

// dw = dL/dw, db = dL/dbias (sum of dy over batch and pixels). Either may be nullptr.
void conv_transpose2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                      float* dw, float* db);

// ---- Inference: fused epilogues (conv_fused.cc) ----------------------------------------------
// What happens to conv(x, w) + bias before it is stored, in the same pass (nothing is saved for
// a backward):
//   kRelu            relu (PyTorch's rule: NaN propagates, -0 becomes +0);
//   kReluMaxPool2x2  relu, then max over 2x2 windows with stride 2 (floor mode, as
//                    max_pool2d(kernel 2)); y is [batch, channels, out_h / 2, out_w / 2] and
//                    needs out_h, out_w >= 2.
// The values equal those of the unfused ops run one after another (max commutes with relu).
enum class ConvEpilogue : int { kNone = 0, kRelu = 1, kReluMaxPool2x2 = 2 };

void conv2d_forward_fused(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                          ConvEpilogue epilogue, float* y);

// The transposed convolution with kNone or kRelu (p as for conv_transpose2d_forward).
void conv_transpose2d_forward_fused(const Conv2dParams& p, const float* x, const float* w,
                                    const float* bias, ConvEpilogue epilogue, float* y);

}  // namespace hn::cpu
