// The 2x2/stride-2 transposed convolution: the portable driver (eligibility, threads) around the
// AVX-512 tile in conv_transpose_k2s2_kernel.cc. See conv_transpose_k2s2.h.
#include "conv_transpose_k2s2.h"

#include <algorithm>
#include <atomic>

#include "../common/thread_pool.h"
#include "conv_direct.h"
#include "conv_direct512.h"

namespace hn::cpu {

bool conv_transpose2d_k2s2_applies(const Conv2dParams& p) {
  if (!conv_direct_enabled() || !conv_direct512_enabled() || !has_avx512()) return false;
  return p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.pad_h == 0 &&
         p.pad_w == 0 && p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1 && p.batch >= 1 &&
         p.out_h >= 1 && p.out_w >= 1 && p.in_h == 2 * p.out_h && p.in_w == 2 * p.out_w;
}

void conv_transpose2d_k2s2_forward(const Conv2dParams& p, const float* x, const float* w,
                                   const float* bias, bool relu, float* y) {
  const int64_t cin = p.out_channels, cout = p.in_channels, hw = p.out_h * p.out_w;
  const int64_t pairs = (cout + 1) / 2;
  const int64_t items = p.batch * pairs;
  const auto run = [&](int64_t item) {
    const int64_t n = item / pairs, pair = item % pairs;
    k2s2_detail::ImageArgs a;
    a.x = x + n * cin * hw;
    a.cin = cin;
    a.h = p.out_h;
    a.w = p.out_w;
    a.wt = w;
    a.cout = cout;
    a.bias = bias;
    a.y = y + n * cout * 4 * hw;
    a.co0 = 2 * pair;
    a.count = std::min<int64_t>(2, cout - a.co0);
    a.relu = relu;
    k2s2_detail::image_channels_avx512(a);
  };
  // Items (image, channel pair) from a shared counter, so a thread slowed by other processes
  // takes fewer; a second thread only for at least ~0.5 MFLOP (a few microseconds) of work.
  const int64_t flops = items * 16 * hw * cin;
  const int64_t threads = flops >= (int64_t{1} << 19) ? std::min<int64_t>(num_threads(), items) : 1;
  if (threads <= 1) {
    for (int64_t i = 0; i < items; ++i) run(i);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      for (int64_t i = next.fetch_add(1); i < items; i = next.fetch_add(1)) run(i);
    }
  });
}

}  // namespace hn::cpu
