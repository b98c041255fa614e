// Direct convolution forward: the portable driver (padding, weight packing, threads) around the
// AVX2 row kernel in avx2/conv_direct_avx2.cc. See conv_direct.h for when it is used and why.
#include "conv_direct.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "../common/thread_pool.h"
#include "cpu_features.h"

namespace hn::cpu {
namespace {

using direct_detail::RowArgs;

// Thin layers: few output channels (SGEMM pads M to its 6-row tiles and packs a col matrix as
// large as x * kH * kW per image) and a modest reduction Cin*kH*kW. Measured (bench log 3): the
// MultiMNIST 10->20 5x5 layer 1.7x, its 1->10 layer 1.2x faster; K2 (3->64, 27 taps) the same
// speed as im2col + SGEMM at B=64 (both near the FMA peak) and slower at B=1, so wide layers
// stay on SGEMM.
constexpr int64_t kThinReduction = 512;
constexpr int64_t kThinChannels = 32;

// The channel-block size among `options` (largest first) that wastes the fewest padded
// channels for cout.
int pick_block(int64_t cout, std::initializer_list<int> options) {
  int best = 0;
  int64_t best_waste = INT64_MAX;
  for (int co : options) {
    const int64_t waste = (cout + co - 1) / co * co - cout;
    if (waste < best_waste) {
      best = co;
      best_waste = waste;
    }
  }
  return best;
}

// w [cout][cin][kh][kw] -> [block][cin][kh*kw][co], zero past cout.
void pack_weights(const float* w, int64_t cout, int64_t cin, int64_t taps, int co, float* out) {
  const int64_t blocks = (cout + co - 1) / co;
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t ci = 0; ci < cin; ++ci) {
      for (int64_t t = 0; t < taps; ++t) {
        float* dst = out + ((b * cin + ci) * taps + t) * co;
        for (int c = 0; c < co; ++c) {
          const int64_t o = b * co + c;
          dst[c] = o < cout ? w[(o * cin + ci) * taps + t] : 0.0f;
        }
      }
    }
  }
}

struct Geometry {
  int64_t rows, row_stride, pad_floats;
};

Geometry geometry_of(const Conv2dParams& p) {
  Geometry g;
  g.rows = p.out_h + p.kernel_h - 1;
  // Vector loads reach column out_w + 7 + kW - 2 at most (a masked tail tile).
  g.row_stride = (p.out_w + p.kernel_w + 7 + 7) / 8 * 8;
  g.pad_floats = p.in_channels * g.rows * g.row_stride;
  return g;
}

// Rows here are short (8-32 floats): an inline loop beats a memcpy call per row.
inline void copy_row(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// x_n [Cin][H][W] -> xp [Cin][rows][row_stride] with pad_h rows and pad_w columns of zeros
// before, zeros after.
void pad_image(const Conv2dParams& p, const Geometry& g, const float* x_n, float* xp) {
  std::memset(xp, 0, sizeof(float) * g.pad_floats);
  const int64_t r0 = std::max<int64_t>(0, p.pad_h), r1 = std::min(g.rows, p.in_h + p.pad_h);
  const int64_t c0 = std::max<int64_t>(0, p.pad_w), c1 = std::min(g.row_stride, p.in_w + p.pad_w);
  if (r1 <= r0 || c1 <= c0) return;
  for (int64_t ci = 0; ci < p.in_channels; ++ci) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = x_n + (ci * p.in_h + (r - p.pad_h)) * p.in_w + (c0 - p.pad_w);
      copy_row(xp + (ci * g.rows + r) * g.row_stride + c0, src, c1 - c0);
    }
  }
}

// Scratch owned by the calling thread (allocated there, so std::bad_alloc reaches the binding).
thread_local std::vector<float> tls_scratch;

// A one-off huge convolution should not pin its scratch for the life of the thread: above
// 64 MiB it is released when the call ends.
struct TrimOnExit {
  std::vector<float>& scratch;
  ~TrimOnExit() {
    if (scratch.capacity() > (size_t{16} << 20)) std::vector<float>().swap(scratch);
  }
};

std::atomic<bool> g_direct_enabled{true};

}  // namespace

void set_conv_direct_enabled(bool enabled) { g_direct_enabled.store(enabled); }
bool conv_direct_enabled() { return g_direct_enabled.load(); }

bool conv2d_direct_applies(const Conv2dParams& p) {
#if defined(HN_HAVE_AVX2)
  if (!use_avx2() || !conv_direct_enabled()) return false;
  if (p.stride_h != 1 || p.stride_w != 1 || p.dilation_h != 1 || p.dilation_w != 1 || p.groups != 1) {
    return false;
  }
  if (p.batch < 1 || p.out_h < 1 || p.out_w < 1 || p.pad_h < 0 || p.pad_w < 0) return false;
  // Stride 1: the output cannot be larger than the padded input allows (bindings ensure it).
  const int64_t reduction = p.in_channels * p.kernel_h * p.kernel_w;
  return reduction <= kThinReduction && p.out_channels <= kThinChannels;
#else
  (void)p;
  return false;
#endif
}

void conv2d_direct_forward(const Conv2dParams& p, const float* x, const float* w,
                           const float* bias, float* y) {
  TrimOnExit trim{tls_scratch};
#if defined(HN_HAVE_AVX2)
  const Geometry g = geometry_of(p);
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int co_wide = pick_block(p.out_channels, {6, 4});
  const int co_narrow = pick_block(p.out_channels, {12, 10, 8});
  const int64_t wide_floats = (p.out_channels + co_wide - 1) / co_wide * co_wide * p.in_channels * taps;
  const int64_t narrow_floats = (p.out_channels + co_narrow - 1) / co_narrow * co_narrow * p.in_channels * taps;
  const int64_t threads = num_threads();
  const bool image_parallel = threads > 1 && p.batch >= 2 * threads;
  const int64_t slots = image_parallel ? threads : 1;
  tls_scratch.resize(static_cast<size_t>(wide_floats + narrow_floats + slots * g.pad_floats));
  float* w_wide = tls_scratch.data();
  float* w_narrow = w_wide + wide_floats;
  float* pads = w_narrow + narrow_floats;
  pack_weights(w, p.out_channels, p.in_channels, taps, co_wide, w_wide);
  pack_weights(w, p.out_channels, p.in_channels, taps, co_narrow, w_narrow);

  RowArgs base;
  base.row_stride = g.row_stride;
  base.rows = g.rows;
  base.cin = p.in_channels;
  base.kh = p.kernel_h;
  base.kw = p.kernel_w;
  base.cout = p.out_channels;
  base.out_h = p.out_h;
  base.out_w = p.out_w;
  base.bias = bias;
  base.w_wide = w_wide;
  base.co_wide = co_wide;
  base.w_narrow = w_narrow;
  base.co_narrow = co_narrow;
  const int64_t in_image = p.in_channels * p.in_h * p.in_w;
  const int64_t out_image = p.out_channels * p.out_h * p.out_w;

  if (image_parallel) {
    // Whole images per thread, taken from a shared counter (a thread slowed by other
    // processes takes fewer).
    std::atomic<int64_t> next{0};
    parallel_for(slots, 1, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        float* xp = pads + s * g.pad_floats;
        for (int64_t n = next.fetch_add(1); n < p.batch; n = next.fetch_add(1)) {
          pad_image(p, g, x + n * in_image, xp);
          RowArgs a = base;
          a.xp = xp;
          a.y = y + n * out_image;
          direct_detail::direct_rows_avx2(a, 0, p.out_h);
        }
      }
    });
    return;
  }
  for (int64_t n = 0; n < p.batch; ++n) {
    pad_image(p, g, x + n * in_image, pads);
    RowArgs a = base;
    a.xp = pads;
    a.y = y + n * out_image;
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.out_w * p.out_channels));
    parallel_for(p.out_h, grain, [&](int64_t r0, int64_t r1) { direct_detail::direct_rows_avx2(a, r0, r1); });
  }
#else
  (void)p, (void)x, (void)w, (void)bias, (void)y;
#endif
}

}  // namespace hn::cpu
