// 2-D convolution and transposed convolution on the GPU: the twin of native/cpu/conv.h (same
// names, same Conv2dParams, same semantics), with device pointers and a stream.
//
// Implicit GEMM: the im2col matrix is never materialised. The tiled SGEMM main loop
// (gemm_tile.cuh) reads its operands through loaders that compute image addresses on the fly:
//   forward          y[n, co, p]      = sum_(ci,kh,kw) w[co, ci, kh, kw] x[n, ci, p*s - pad + k*d]
//                    GEMM per group: M = Cout_g, N = batch * HWout, K = Cin_g * kH * kW
//   backward data    dx[n, ci, q]     = sum_(co,kh,kw) w[co, ci, kh, kw] dy[n, co, (q + pad - k*d) / s]
//                    a gather (no atomics), split by stride phase: for the rows q with
//                    (q + pad) % s == r only the taps with (k * d) % s == r contribute, so each
//                    phase is a dense GEMM over its own taps (a stride-2 transposed convolution
//                    does 1/4 of the naive work).
//   backward weight  dw[co, ci, kh, kw] = sum_(n,p) dy[n, co, p] x[n, ci, p*s - pad + k*d]
//                    GEMM with K = batch * HWout, split along K; partial sums added in order.
// Every kernel is deterministic (no float atomics). Tensors must have fewer than 2^31 elements.
// Transposed convolution reuses these exactly as the CPU file does.
#pragma once
#include <cstdint>

#include "../cpu/conv.h"
#include "runtime.h"

namespace hn::cuda {

using hn::cpu::Conv2dParams;
using hn::cpu::conv2d_output_size;
using hn::cpu::conv_transpose2d_output_size;

// ---- Convolution (see hn::cpu for the shapes) -------------------------------------------------
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y, Stream stream);
void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                          Stream stream);
// dw and db may each be nullptr. Overwrites them.
void conv2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                            float* db, Stream stream);

// ---- Transposed convolution (p describes the convolution being transposed) --------------------
void conv_transpose2d_forward(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y, Stream stream);
void conv_transpose2d_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                    float* dx, Stream stream);
void conv_transpose2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                      float* dw, float* db, Stream stream);

// out[c] = sum over batch and pixels of t[n, c, :] (the bias gradient), in double, in a fixed
// order. t: [batch, channels, plane].
void channel_sums(const float* t, float* out, int64_t batch, int64_t channels, int64_t plane,
                  Stream stream);

}  // namespace hn::cuda
