// Inference convolutions with a fused epilogue (conv.h's ConvEpilogue): Winograd and the direct
// AVX-512 kernels apply it as they store (conv_winograd.cc, conv_direct512.cc,
// conv_transpose_k2s2.cc); every other path runs the plain kernel and then one pass of relu, or
// relu + 2x2 max pool from a scratch output.
#include <vector>

#include "../common/thread_pool.h"
#include "conv.h"
#include "conv_direct512.h"
#include "conv_epilogue.h"
#include "conv_transpose_k2s2.h"
#include "conv_winograd.h"
#include "elementwise.h"

namespace hn::cpu {
namespace {

// The unfused output of the pooled path, reused across calls by the calling thread.
thread_local std::vector<float> tls_unpooled;

// compute(out) writes the plain result [batch, channels, h, w] and returns true, or returns false
// having written nothing (its path does not apply): then so does this. The epilogue goes into y.
template <typename Compute>
bool plain_then_epilogue(int64_t batch, int64_t channels, int64_t h, int64_t w, ConvEpilogue epilogue,
                         float* y, Compute compute) {
  const int64_t planes = batch * channels, plane = h * w;
  if (epilogue != ConvEpilogue::kReluMaxPool2x2) {
    if (!compute(y)) return false;
    if (epilogue == ConvEpilogue::kRelu) unary_forward(UnaryKind::Relu, y, y, planes * plane, 0.0f);
    return true;
  }
  tls_unpooled.resize(static_cast<size_t>(planes * plane));
  if (!compute(tls_unpooled.data())) return false;
  const float* full = tls_unpooled.data();
  const int64_t pooled = (h / 2) * (w / 2);
  const bool avx512 = has_avx512();
  parallel_for(planes, std::max<int64_t>(1, 16384 / plane), [&](int64_t c0, int64_t c1) {
    if (avx512) {
      direct512_detail::max_pool2x2_planes(full + c0 * plane, y + c0 * pooled, c1 - c0, h, w, true);
    } else {
      max_pool2x2_planes(full + c0 * plane, y + c0 * pooled, c1 - c0, h, w, true);
    }
  });
  // A one-off huge convolution should not pin its memory for the life of the thread.
  if (tls_unpooled.capacity() > (size_t{16} << 20)) std::vector<float>().swap(tls_unpooled);
  return true;
}

}  // namespace

void conv2d_forward_fused(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                          ConvEpilogue epilogue, float* y) {
  if (epilogue != ConvEpilogue::kNone) {
    // Winograd (2.25x fewer FMAs where it applies: 3x3 on small planes) applies the epilogue
    // to each 2x2 output tile as it leaves the output transform.
    if (conv2d_winograd_forward_fused(p, x, w, bias, epilogue, y)) return;
    if (conv2d_direct512_forward_fused(p, x, w, bias, epilogue, y)) return;
  }
  plain_then_epilogue(p.batch, p.out_channels, p.out_h, p.out_w, epilogue, y,
                      [&](float* out) { conv2d_forward(p, x, w, bias, out); return true; });
}

void conv_transpose2d_forward_fused(const Conv2dParams& p, const float* x, const float* w,
                                    const float* bias, ConvEpilogue epilogue, float* y) {
  if (epilogue != ConvEpilogue::kReluMaxPool2x2 && conv_transpose2d_k2s2_applies(p)) {
    return conv_transpose2d_k2s2_forward(p, x, w, bias, epilogue == ConvEpilogue::kRelu, y);
  }
  plain_then_epilogue(p.batch, p.in_channels, p.in_h, p.in_w, epilogue, y,
                      [&](float* out) { conv_transpose2d_forward(p, x, w, bias, out); return true; });
}

}  // namespace hn::cpu
