// Winograd F(2x2, 3x3) convolution on AVX-512 for 3x3 stride-1 layers on planes up to 32x32
// (K3's 128->128 at 8x8, K1's 64->64 at 32x32): forward, input gradient and weight gradient.
//
// Why: each 2x2 block of outputs costs 16 multiplies per (input, output channel) pair instead of
// 36, 2.25x fewer FMAs. The direct AVX-512 kernels already run near 75% of the FMA peak on these
// shapes (bench/RESULTS.md log 30), so fewer FMAs is what is left to gain; the transforms are
// cheap next to the products (their cost grows with H*W*C, the products' with H*W*C*C').
//
// How (Lavin & Gray 2016), per group of images (or per band of tile rows of one image, so that
// the transformed operands stay in L2), channels in the vector lanes:
//   U[e][ci][co] = (G g G^T)[e]      g = the 3x3 kernel w[co][ci], once per call
//   V[e][t][ci]  = (B^T d B)[e]      d = the 4x4 input patch of output tile t (2x2 outputs)
//   M[e][t][co]  = sum over ci of V[e][t][ci] * U[e][ci][co]   (16 products, one per e)
//   y tile       = A^T M[.][t] A + bias
// The input is first transposed to [row][column][channel] with its zero padding, the output
// transposed back to NCHW; the 16 products are register tiles of 8 output tiles x up to 48
// output channels over the input channels.
//
// Numerics: the transforms only add, subtract and halve, so results match the direct kernels to
// a few float32 roundings of the largest partial sums (tested at 2e-5 of the largest output).
// Non-finite operands are left to the direct kernels (each function returns false after
// finding one while transposing): the transforms would turn an infinity into NaN (inf - inf)
// and spread a NaN over a whole 2x2 output tile, unlike PyTorch's direct convolution.
#pragma once
#include <cstdint>

#include "conv.h"

namespace hn::cpu {

// y = conv2d(x, w) + bias (bias may be nullptr) when the Winograd path applies to p (AVX-512,
// 3x3, stride 1, no dilation, one group, padding at most 2, an output plane of at most 1024
// positions, 16+ channels); returns false, doing nothing, otherwise. With two images or more
// per thread each thread takes whole images; with fewer (batch 1 inference) the threads split
// the output channels.
bool conv2d_winograd_forward(const Conv2dParams& p, const float* x, const float* w,
                             const float* bias, float* y);

// conv2d_winograd_forward then the epilogue (relu, or relu and the 2x2/stride-2 max pool in
// floor mode) applied to each output tile as it leaves the transform; y has the epilogue's shape.
bool conv2d_winograd_forward_fused(const Conv2dParams& p, const float* x, const float* w,
                                   const float* bias, ConvEpilogue epilogue, float* y);

// dx = conv2d backward data for p, as the same convolution of dy with the flipped kernels (the
// channel roles swapped, padding 2 - pad), when it applies and there are two images or more per
// thread; returns false otherwise.
bool conv2d_winograd_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                   float* dx);

// dw = dL/dw (overwritten) for p when it applies (the forward's conditions, two images or more
// per thread, and 32+ input and output channels), as
//   dw[co][ci] = G^T (sum over tiles t of (A dy_t A^T) * (B^T d_t B)) G
// (the forward's chain rule: dy_t is the 2x2 block of dy at tile t, d_t its 4x4 input patch):
// 16 products of Cout x tiles by tiles x Cin. Deterministic for a given thread count (each
// thread sums a fixed range of images; the partial sums are added in a fixed order).
bool conv2d_winograd_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                     float* dw);

// Turns the path off (every function then returns false) or back on, for tests and benchmarks
// that compare it with the direct kernels. On by default.
void set_conv_winograd_enabled(bool enabled);

}  // namespace hn::cpu

namespace hn::cpu::winograd_detail {

// Image geometry inside the Winograd buffers.
struct Tiles {
  int64_t tiles_h, tiles_w;  // ceil(out / 2)
  int64_t cols;              // columns of the transposed input, 2 * tiles_w + 2
  int64_t cin_pad, cout_pad; // channels rounded up to 16
  int64_t e_stride_v;        // floats between V[e] and V[e + 1]
  int64_t e_stride_m;        // floats between M[e] and M[e + 1]
};

// The 16 transformed kernels (G g G^T)[e] of 16 output channels (the lanes) of one input
// channel: tap t of the 3x3 kernels is the 16-float row g + t * step (step 16, or -16 to read
// the taps flipped from the last row) -> u + e * e_stride, 16 floats each.
void weight_transform(const float* g, int64_t step, float* u, int64_t e_stride);

// Tile rows [th0, th1) of one image: xt [2 tiles_h + 2][cols][cin_pad] -> V[e][t0 + t][cin_pad]
// for those tiles t (row-major from (th0, 0)).
void input_transform(const Tiles& g, const float* xt, float* v, int64_t t0, int64_t th0,
                     int64_t th1);

// M[e] for one block of `vectors` (1..3) x 16 output channels starting at co0:
// m[t][co0 + ..] = sum over ci < cin of v[t][ci] * u[ci][co0 + ..] for t < tiles (a multiple of 8).
struct GemmArgs {
  const float* v;   // V[e], rows of cin_pad
  const float* u;   // U[e] + co0, rows of cout_pad
  float* m;         // M[e] + co0, rows of cout_pad
  int64_t cin, cin_pad, cout_pad, tiles;
};
void gemm(const GemmArgs& a, int vectors);

// Tile rows [th0, th1) of one image, output channels [c0, c1) (multiples of 16): M[e][t0 + t]
// -> their rows of yt [out_h][out_w][cout_pad] (plus bias, [cout_pad], when given), through the
// epilogue: relu, or relu and the 2x2/stride-2 max pool (floor mode: one value per whole tile)
// into yt [out_h / 2][out_w / 2][cout_pad].
void output_transform(const Tiles& g, const float* m, int64_t t0, int64_t th0, int64_t th1,
                      const float* bias, float* yt, int64_t out_h, int64_t out_w,
                      ConvEpilogue epilogue, int64_t c0, int64_t c1);

// Tile rows [th0, th1) of one image: dyt [out_h][out_w][cout_pad] (dy transposed) ->
// DY[e][t0 + t][cout_pad] = (A dy_t A^T)[e] with A = [1 0; 1 1; 1 -1; 0 -1], positions past the
// output counted as 0.
void dy_transform(const Tiles& g, const float* dyt, int64_t out_h, int64_t out_w, float* d,
                  int64_t t0, int64_t th0, int64_t th1);

// Z[e] for 8 input channels x `vectors` (1..3) x 16 output channels:
// z[ci][co] (+)= sum over t < tiles of v[t][ci] * d[t][co] (= when `first`, z not read).
struct AccumulateArgs {
  const float* v;  // V[e] + ci0, rows of cin_pad
  const float* d;  // DY[e] + co0, rows of cout_pad
  float* z;        // Z[e] + ci0 * cout_pad + co0, rows of cout_pad
  int64_t cin_pad, cout_pad, tiles;
  bool first;
};
void accumulate(const AccumulateArgs& a, int vectors);

}  // namespace hn::cpu::winograd_detail
