// Direct convolution forward for thin layers: stride 1, no dilation, one group, few output
// channels and a modest reduction Cin*kH*kW (the MultiMNIST LeNet's 1->10 and 10->20 5x5
// layers). There im2col + SGEMM is mostly data movement: per image the col matrix (250 x 64
// floats for the 10->20 layer) is written, then packed again by SGEMM, for an M = 20 product
// that SGEMM pads to its 6-row tiles. The direct kernel reads a zero-padded copy of the image
// once and keeps a block of output channels x output columns in registers while it walks the
// Cin*kH*kW taps.
#pragma once
#include <cstdint>

#include "conv.h"

namespace hn::cpu {

// True when conv2d_direct_forward handles p on this CPU (AVX2/FMA, not forced portable) and is
// expected to beat im2col + SGEMM for it.
bool conv2d_direct_applies(const Conv2dParams& p);

// y = conv(x, w) + bias, like conv2d_forward (bias may be nullptr). Only for
// conv2d_direct_applies(p).
void conv2d_direct_forward(const Conv2dParams& p, const float* x, const float* w,
                           const float* bias, float* y);

// Turns the direct kernel off (every convolution then takes im2col + SGEMM) or back on: for
// tests and benchmarks that compare the two. On by default.
void set_conv_direct_enabled(bool enabled);
bool conv_direct_enabled();

namespace direct_detail {

// One image's padded input and the packed weights, as the AVX2 row kernel reads them.
struct RowArgs {
  const float* xp;      // [Cin][rows][row_stride]: the image, zero-padded, rows = out_h + kH - 1
  int64_t row_stride;   // >= round_up(out_w, 8) + kW - 1: vector loads past out_w stay inside
  int64_t rows;
  int64_t cin, kh, kw;
  int64_t cout, out_h, out_w;
  const float* bias;    // [cout] or nullptr
  float* y;             // this image's output [cout][out_h][out_w]
  // Packed weights per column kernel: blocks of `co` channels, [block][cin][kh*kw][co], zero
  // past cout. wide: 16 columns at a time; narrow: 8 (the row's tail, or rows of <= 8).
  const float* w_wide;
  int co_wide;
  const float* w_narrow;
  int co_narrow;
};

// Output rows [oh0, oh1) of one image (avx2/conv_direct_avx2.cc).
void direct_rows_avx2(const RowArgs& a, int64_t oh0, int64_t oh1);

}  // namespace direct_detail
}  // namespace hn::cpu
