// Convolution gradients from a mostly-zero output gradient.
//
// Why: behind a 2x2 max pool only one position of each window receives a gradient, and a ReLU
// zeroes more, so dy of a conv -> pool -> relu stage is 75-90% zeros (the MultiMNIST LeNet:
// 77% and 82%). The dense kernels multiply every zero; here only the nonzero entries of dy are
// visited, a quarter of the work or less.
//
// How, per image: the nonzero entries of each channel plane of dy are listed (position, value);
//   weight gradient  dw[co][:] += dy[co][q] * patch(q)[:]   patch(q) = the Cin*kH*kW input values
//                                                            output position q reads (one row of
//                                                            im2col, built only for listed q)
//   input gradient   dpatch(q)[:] = sum over co of dy[co][q] * w[co][:], added back into dx at
//                    the input positions q reads (col2im of the listed rows only).
// Both are "sum of scaled rows" products over contiguous rows of Cin*kH*kW floats, vectorised
// per instruction set (conv_sparse512.cc, avx2/conv_sparse_avx2.cc, a portable loop).
//
// Semantics are those of the dense kernels up to the order of float additions: the sparse path
// is taken only when x (for dw) or w (for dx) is finite, because 0 * inf = NaN would reach the
// dense result through a skipped zero. Each function returns false when it does not apply
// (groups, dilation, sizes) or when a sample of dy is too dense to gain (then having written
// nothing), or when x (for dw) or w (for dx) is not finite (then its outputs are unspecified:
// x is checked image by image while it is read; the caller computes them the dense way).
#pragma once
#include <cstdint>

#include "conv.h"

namespace hn::cpu {

// dw (overwritten; required) and db (overwritten; may be nullptr) for conv2d p.
// Deterministic for a given thread count: images are split statically and the per-thread
// partial sums are added in a fixed order.
bool conv2d_sparse_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                   float* dw, float* db);

// dx (overwritten) for conv2d p. Deterministic: each image is computed by one thread.
bool conv2d_sparse_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                 float* dx);

// The max pool that follows a convolution (and an optional relu after the pool), for
// conv2d_pooled_backward: windows of kernel_h x kernel_w at stride (stride_h, stride_w) over the
// convolution's output, all inside it (no padding, no ceil mode), giving out_h x out_w.
struct PoolRouting {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 2, stride_w = 2;
  int64_t out_h = 0, out_w = 0;
  bool relu = false;
};

// The gradients of conv2d p given `grad` [N, Cout, r.out_h, r.out_w], the gradient of
// maxPool2d(y) (of relu(maxPool2d(y)) when r.relu), where y = conv2d(x, w) + b is the
// convolution's output: the pool and conv backward in one pass that never forms the full-size
// gradient of y. Each pooled entry goes to its window's argmax in y, recomputed with
// max_pool2d_forward's rule (the first maximum wins, a NaN wins), and is dropped where the
// pooled value is not > 0 when r.relu. dx, dw, db are overwritten; each may be nullptr.
// Returns false when it does not apply (as conv2d_sparse_*, windows outside y, or measured
// slower: dx with padded input rows wider than 16, or no vector kernels; nothing written) or
// when x (for dw) or w (for dx) is not finite (outputs then unspecified).
bool conv2d_pooled_backward(const Conv2dParams& p, const PoolRouting& r, const float* x,
                            const float* w, const float* y, const float* grad, float* dx,
                            float* dw, float* db);

// Instruction sets of the sparse kernels, for set_conv_sparse_mode.
constexpr int kSparseIsaPortable = 0;
constexpr int kSparseIsaAvx2 = 1;
constexpr int kSparseIsaAvx512 = 2;

// Turns the sparse path off (the dense kernels then take every call) or back on: for tests and
// benchmarks that compare the two. On by default. force = true takes the sparse path whenever
// it applies, whatever the density (tests of dense inputs); max_isa caps the instruction set
// (the best one the CPU has up to it; default kSparseIsaAvx512).
void set_conv_sparse_mode(bool enabled, bool force, int max_isa);
bool conv_sparse_enabled();

namespace sparse_detail {

// dx[c][ih][0..pw) (overwritten; padded layout [cin][ph][pw]) = the sum over the taps (i, oh)
// of input row ih (those with oh * stride_h + i == ih) and over ow < out_w of
// rows[oh * out_w + ow][(c * kernel_h + i) * kernel_w + 0..kernel_w), placed at columns
// ow * stride_w onwards.
struct Col2imArgs {
  float* dx;
  int64_t cin, ph, pw;
  int64_t kernel_h, kernel_w;
  int64_t out_w, stride_w;
  const float* const* rows; // [out_h * out_w] patch rows [cin][kernel_h][kernel_w] (a zero row where none)
  const int32_t* tap_start; // [ph + 1]: the taps of input row ih are tap_start[ih] .. [ih + 1] - 1
  const int32_t* tap_i;     // kernel row of each tap
  const int32_t* tap_oh;    // output row of each tap
};

// The per-instruction-set pieces. Rows of `len` floats, len a multiple of 16.
struct Kernels {
  // Writes the position and value of each entry of v[0..n) that is not 0 (NaN counts as
  // nonzero) in order, and returns how many; idx and val need n + 16 slots (vector stores may
  // write up to 16 past the count).
  int64_t (*compact)(const float* v, int64_t n, int32_t* idx, float* val);
  // acc[0..len) = (accumulate ? acc[0..len) : 0) + sum over k < count of
  // val[k] * rows[idx[k] * stride + 0..len).
  void (*gather_axpy)(float* acc, int64_t len, const float* rows, int64_t stride,
                      const int32_t* idx, const float* val, int64_t count, bool accumulate);
  // dst[r * width + 0..width) = src[(r / per) * outer + (r % per) * inner + 0..width) for r <
  // runs (per = kH): one im2col row from a padded image (outer = plane, inner = row stride).
  void (*gather_runs)(float* dst, const float* src, int64_t runs, int64_t per, int64_t outer,
                      int64_t inner, int64_t width);
  // One image's input gradient from its patch rows (see Col2imArgs), each input row summed in
  // registers and stored once (adding runs into memory one by one stalls on store forwarding:
  // neighbouring positions' runs overlap).
  void (*col2im_rows)(const Col2imArgs& a);
  // True when every v[0..n) is finite.
  bool (*all_finite)(const float* v, int64_t n);
  // 2x2 / stride-2 routing of one plane (nullptr: the driver's general loop): for each pooled
  // (i, j) < (rows, cols) whose gradient g[i * cols + j] is not 0 (and, when relu, whose
  // window maximum is > 0), the position of the window's argmax in y (row stride width) and g,
  // in order; returns how many (idx and val need rows * cols + 16 slots).
  int64_t (*route_2x2)(const float* y, int64_t width, const float* g, int64_t rows, int64_t cols,
                       bool relu, int32_t* idx, float* val);
};

const Kernels& portable_kernels();
// Built only with HN_HAVE_AVX2; the caller checks use_avx2() (cpu_features.h).
const Kernels* avx2_kernels();
// nullptr when this CPU (or build) lacks AVX-512F.
const Kernels* avx512_kernels();

}  // namespace sparse_detail
}  // namespace hn::cpu
