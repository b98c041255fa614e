// Direct convolution on AVX-512 for stride-1 layers (K1, K3, the seed network's 64->128 layer
// and, through flipped kernels, their input gradients).
//
// Why: the SGEMM micro-kernel is AVX2 (8 lanes); on a CPU with full-width AVX-512 units (Zen 5
// measured 1.5-2x the AVX2 FMA rate, bench/RESULTS.md log 5) a 16-lane kernel does the same
// FMAs in half the instructions, and a direct kernel needs no im2col/col2im pass at all.
//
// How: the image is copied once into a zero-padded buffer with row stride S = out_w + kW - 1;
// output pixel (oh, ow) is then flattened position q = oh*S + ow and every tap (ci, i, j) reads
// the contiguous run xp[ci][q + i*S + j ...]. A tile of CO output channels x NV*16 flattened
// positions stays in registers across all Cin*kH*kW taps; the S - out_w junk columns per row
// are computed and dropped when the tile is copied out (6% of the work at 32x32, 11% at 16x16).
#pragma once
#include <cstdint>

#include "conv.h"

namespace hn::cpu {

// True when this CPU and OS run AVX-512F code (and the kernels are not forced portable).
bool has_avx512();

// Turns the AVX-512 direct kernel off or back on (tests and benchmarks compare it with the
// AVX2 kernels); on by default. conv_direct_enabled() == false turns it off too.
void set_conv_direct512_enabled(bool enabled);
bool conv_direct512_enabled();

// True when conv2d_direct512_forward handles p: stride 1, no dilation, one group, AVX-512, a
// kernel of at most 81 taps, padding smaller than the kernel, and not 1x1 unpadded (which
// needs no im2col on the SGEMM path either).
bool conv2d_direct512_applies(const Conv2dParams& p);

// y = conv(x, w) + bias (bias may be nullptr), for conv2d_direct512_applies(p).
void conv2d_direct512_forward(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y);

// y = epilogue(conv(x, w) + bias) (conv.h's ConvEpilogue) in the tiles' store: relu on the
// registers, the 2x2 max pool from a block-sized buffer that is still in L1. Returns false
// (doing nothing) unless conv2d_direct512_applies(p) and the flattened tiles handle p (small
// planes take the channel-vectorised kernel, which has no epilogue).
bool conv2d_direct512_forward_fused(const Conv2dParams& p, const float* x, const float* w,
                                    const float* bias, ConvEpilogue epilogue, float* y);

// dx = conv2d backward data for p (plus init[c] on every element of channel c of dx when init
// is given): the stride-1 input gradient is the convolution of dy padded by kH - 1 - pad with
// the kernels flipped and the channel roles swapped. Returns false (doing nothing) unless that
// convolution is direct512-eligible and costs at most 2.5x the true work (a small padding
// makes the padded dy larger than dy).
bool conv2d_direct512_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                    const float* init, float* dx);

// dw = dL/dw for p (overwritten), for conv2d_direct512_applies(p): per image the output
// gradient is laid out on the same flattened positions (zero at the junk columns), and
// dw[co][ci][i][j] = sum over images and positions q of dy[co][q] * xp[ci][q + i*S + j], a
// product whose operands are read in place (no im2col), 4 x 4 (co, tap) sums per register tile.
// Deterministic: each dw entry is summed by one thread in a fixed order.
void conv2d_direct512_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                      float* dw);

}  // namespace hn::cpu

namespace hn::cpu::direct512_detail {

// One channel block of one image, as the AVX-512 kernel reads it.
struct BlockArgs {
  const float* xp;       // padded image [cin][plane_stride], row stride `row`
  int64_t plane_stride;  // floats per padded channel plane (with slack past the last row)
  int64_t row;           // S = out_w + kW - 1
  int64_t cin, kh, kw;
  const float* w;        // this block's packed weights [cin][kh*kw][co]
  const float* bias;     // this block's co initial values
  int64_t out_stride;    // positions computed: out_h*S rounded up to the tile width
  // The tile's vectors go straight into y with masked stores: lane l of the vector at q holds
  // position q + l, i.e. (oh, ow) = divmod(q + l, S); lanes with ow >= out_w are dropped.
  float* y;              // output channel co0 of this image, [valid][out_h][out_w]
  int64_t out_h, out_w;
  int valid;             // channels of the block below cout
  bool relu;             // relu before the store (relu_forward's rule)
};

// Tiles of co = 8 channels x 48 positions, or co = 12 x 32 (conv_direct512_kernel.cc).
void block_co4(const BlockArgs& a);  // 4 x 96, for at most 4 output channels
void block_co8(const BlockArgs& a);
void block_co12(const BlockArgs& a);

// Channel-vectorised variant for small output planes (K3's 8x8), where the flattened tiles would
// spend a third of their lanes on junk columns and rounding: a tile is P output positions x 32
// output channels (two zmm per position; the P positions consecutive in one output row), each
// tap broadcasts one input value per position against two weight vectors, and the tile is
// stored position-major into tmp [positions][32].
struct ChannelArgs {
  const float* xp;       // padded image [cin][plane_stride], row stride `row`
  int64_t plane_stride;
  int64_t row;
  int64_t cin, kh, kw;
  const float* w;        // [cin][kh*kw][32] for this block of 32 output channels
  const float* bias;     // 32 initial values
  int64_t out_h, out_w;
  float* tmp;            // [out_h * out_w][32]
};
void channel_block(const ChannelArgs& a);

// Weight gradient tile: sums[c][t] += sum over images g < images and positions q < positions of
// dy[g][c][q] * x[g][off[t] + q], for 4 channels c and 4 rows t of the (ci, tap) matrix.
// dy: image g's 4 channels at dy + g * dy_image + c * positions (positions a multiple of 16);
// x: image g's padded planes at x + g * x_image.
struct WeightTileArgs {
  const float* dy;
  int64_t dy_image;
  const float* x;
  int64_t x_image;
  const int64_t* off;  // 4 offsets into an image's padded planes
  int64_t positions;
  int64_t images;
  float* sums;         // [4][4]
};
void weight_tile(const WeightTileArgs& a);

// dst[r][c] = w[c][r] for c < valid, 0 for valid <= c < 8, r < r_count: one block of 8 output
// channels of the weights [cout][cin*kh*kw] in the tiles' layout [cin*kh*kw][8].
void pack_co8(const float* w, int64_t r_count, int valid, float* dst);

// y[c][oh][ow] = max of the 2x2 window at (2oh, 2ow) of relu(x[c]) ([planes][h][w] ->
// [planes][h/2][w/2], floor), a NaN in the window winning; `relu` false when x already holds
// relu outputs (the tiles apply it in registers). The values, +0, positive or NaN, are compared
// as unsigned integers; the order of the comparisons cannot change the result there.
void max_pool2x2_planes(const float* x, float* y, int64_t planes, int64_t h, int64_t w, bool relu);

}  // namespace hn::cpu::direct512_detail
