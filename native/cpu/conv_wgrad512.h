// Weight gradient of a stride-1 convolution on AVX-512 with the output channels in the vector
// lanes (K3's 128->128 at 8x8, K1, the seed network's layers).
//
// Why: dw[co][ci][i][j] = sum over images n and output positions q of dy[n][co][q] *
// x[n][ci][q shifted by (i, j)] is a product of M = Cout, N = Cin*kH*kW and K = batch*positions.
// With the positions in the lanes (conv_direct512.h's weight_tile) the shifted x rows are
// unaligned loads that split cache lines, and a small plane (64 positions at 8x8) gives each
// image only a few vectors; reduction over lanes follows every tile. With the channels in the
// lanes instead, every load is either an aligned row of dy (transposed once to [position][co])
// or a broadcast of one x value, and the sums stay in registers over all batch*positions.
//
// How: a register tile is one input channel ci x R taps (KR kernel rows of kW taps, R <= 9) x
// V <= 3 vectors of 16 output channels: per output position it loads V dy vectors, broadcasts
// the R x values the taps read (constant offsets in a zero-padded image with row stride
// S = out_w + kW - 1) and does R*V FMAs. Tiles are taken by the threads from a shared counter,
// (channel block)-major so that consecutive tiles reuse the block's transposed dy from L2.
// Deterministic for a given thread count: each dw entry is summed by one thread in a fixed order,
// or, where the images are split between threads (few tiles to share, or a small (ci, tap) x
// channel matrix whose partial sums are cheap to keep per thread), the parts' sums are added in a
// fixed order.
#pragma once
#include <cstdint>

#include "conv.h"

namespace hn::cpu {

// dw (overwritten) and, when db is not nullptr, db = the sum of dy over images and positions
// (overwritten; computed while dy is transposed, so dy is read once) for p when it applies
// (conv2d_direct512_applies(p), kW 3 or 5); returns false, doing nothing, otherwise.
bool conv2d_wgrad512(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                     float* db);

// Turns this kernel off (conv2d_wgrad512 then returns false) or back on, for tests and
// benchmarks that compare it with the other weight-gradient paths. On by default.
void set_conv_wgrad512_enabled(bool enabled);

}  // namespace hn::cpu

namespace hn::cpu::wgrad512_detail {

// One tile: sums[r][0..16 V) += over images n < images, positions (oh, ow) of
//   x[n * x_image + off[r] + oh * row + ow] * dy[(n * positions + oh * out_w + ow) * dy_stride + 16 v]
// for the R = KR * KW taps r = (kernel row a < KR, column j < KW) at off[r] = base + a*row + j.
struct TileArgs {
  const float* x;      // image 0's padded plane of the tile's input channel, at kernel row i0
  int64_t x_image;     // floats between the padded images
  int64_t row;         // S, the padded row stride
  const float* dy;     // image 0, position 0, first channel of the block: [n][q][dy_stride]
  int64_t dy_stride;   // floats per position in the block (16 V)
  int64_t out_h, out_w;
  int64_t images;
  float* sums;         // row r at sums + r * sums_stride, 16 V floats, added into
  int64_t sums_stride;
};

// KW = 3: KR = 3 (a 3x3 kernel's 9 taps) or 1; KW = 5: KR = 1. V = 1, 2, 3.
void tile_k3r3(const TileArgs& a, int v);
void tile_k3r1(const TileArgs& a, int v);
void tile_k5r1(const TileArgs& a, int v);

}  // namespace hn::cpu::wgrad512_detail
