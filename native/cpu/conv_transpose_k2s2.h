// Transposed convolution with a 2x2 kernel and stride 2 (no padding, dilation or groups): the
// seed network's upsampling head (W1's 128->64 8->16 and 64->11 16->32 layers, K4).
//
// Why: the windows do not overlap, so every input pixel (h, w) owns the output 2x2 block at
// (2h, 2w) and the op is one GEMM per image with no accumulation between taps:
//   Y[(co, i, j), (h, w)] = bias[co] + sum over ci of W[ci][co][i][j] * X[ci][h, w]
//   y[co][2h + i][2w + j] = Y[(co, i, j), (h, w)]
// The general path computes it as SGEMM into a col buffer and then col2im (a zero-fill and a
// scatter-add over the full output), three passes over memory; here a register tile of output
// rows x pixels is stored straight into y, the j = 0 and j = 1 rows interleaved in registers.
// Nothing is packed: PyTorch's weight layout [Cin][Cout][2][2] is already W[ci][(co, i, j)].
#pragma once
#include <cstdint>

#include "conv.h"

namespace hn::cpu {

// p describes the convolution being transposed (conv.h): p.out_channels are this op's input
// channels, p.in_channels its output channels, p.in_h x p.in_w its output size. True when the
// AVX-512 kernel handles it: kernel 2x2, stride 2, no padding, dilation 1, one group, output
// exactly twice the input (no output_padding), and the direct kernels are enabled.
bool conv_transpose2d_k2s2_applies(const Conv2dParams& p);

// y = conv_transpose(x, w) + bias (bias may be nullptr), then relu when `relu` (PyTorch's rule:
// NaN propagates, -0 becomes +0). Only for conv_transpose2d_k2s2_applies(p).
void conv_transpose2d_k2s2_forward(const Conv2dParams& p, const float* x, const float* w,
                                   const float* bias, bool relu, float* y);

namespace k2s2_detail {

// Output channels [co0, co0 + count) of one image, every pixel.
struct ImageArgs {
  const float* x;      // this image's input [cin][h * w]
  int64_t cin, h, w;
  const float* wt;     // [cin][cout * 4]
  int64_t cout;
  const float* bias;   // [cout] or nullptr
  float* y;            // this image's output [cout][2h][2w]
  int64_t co0, count;  // count is 1 or 2
  bool relu;
};

// AVX-512 (conv_transpose_k2s2_kernel.cc).
void image_channels_avx512(const ImageArgs& a);

}  // namespace k2s2_detail
}  // namespace hn::cpu
