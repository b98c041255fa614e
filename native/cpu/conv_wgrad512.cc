// Channel-vectorised AVX-512 weight gradient (conv_wgrad512.h): the portable driver (layouts,
// image groups, threads, the final transpose into dw) around the tile in
// conv_wgrad512_kernel.cc.
#include "conv_wgrad512.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "../common/thread_pool.h"
#include "aligned_scratch.h"
#include "conv_direct512.h"
#include "transpose512.h"

namespace hn::cpu {
namespace {

using wgrad512_detail::TileArgs;

std::atomic<bool> g_enabled{true};

thread_local AlignedScratch tls_scratch;

// Sizes of one call.
struct Plan {
  int64_t kr;          // kernel rows per tile (3 or 1)
  int64_t row, rows;   // padded row stride S = out_w + kW - 1 and row count out_h + kH - 1
  int64_t plane;       // rows * S
  int64_t positions;   // out_h * out_w
  int64_t vectors;     // ceil(cout / 16)
  int64_t blocks;      // channel blocks of at most 3 vectors, near-equal widths
  int64_t taps;        // kH * kW
  int64_t row_groups;  // kH / kr
  int64_t group;       // images per group (their padded x and transposed dy stay in L2/L3)
  int64_t splits;      // parts of a group's images (partial sums), when tiles are too few
};

// Block b: first vector and width in vectors (widths differ by at most one: 8 -> 3 3 2).
int64_t block_start(const Plan& s, int64_t b) {
  const int64_t base = s.vectors / s.blocks, extra = s.vectors % s.blocks;
  return b * base + std::min(b, extra);
}
int64_t block_width(const Plan& s, int64_t b) { return block_start(s, b + 1) - block_start(s, b); }

Plan plan_of(const Conv2dParams& p) {
  Plan s;
  s.kr = (p.kernel_w == 3 && p.kernel_h % 3 == 0) ? 3 : 1;
  s.row = p.out_w + p.kernel_w - 1;
  s.rows = p.out_h + p.kernel_h - 1;
  s.plane = s.rows * s.row;
  s.positions = p.out_h * p.out_w;
  s.vectors = (p.out_channels + 15) / 16;
  s.blocks = (s.vectors + 2) / 3;
  s.taps = p.kernel_h * p.kernel_w;
  s.row_groups = p.kernel_h / s.kr;
  // About 2M floats (8 MiB) of padded images and transposed dy per group.
  const int64_t per_image = p.in_channels * s.plane + s.positions * s.vectors * 16;
  s.group = std::max<int64_t>(1, std::min<int64_t>(p.batch, (int64_t{2} << 20) / per_image));
  const int64_t tiles = s.blocks * p.in_channels * s.row_groups;
  const int64_t wanted = 8 * num_threads();
  s.splits = tiles >= wanted ? 1 : std::min<int64_t>(s.group, (wanted + tiles - 1) / tiles);
  return s;
}

// Image n of the group: x [Cin][H][W] -> xg [Cin][rows][S] zero-padded (the image at
// (pad_h, pad_w)); dy [Cout][positions] -> dyt, per channel block b [image][position][16 width]
// (zero past cout).
void prepare_image(const Conv2dParams& p, const Plan& s, const float* x_n, const float* dy_n,
                   int64_t g, float* xg, float* dyt) {
  float* xp = xg + g * p.in_channels * s.plane;
  std::memset(xp, 0, sizeof(float) * p.in_channels * s.plane);
  const int64_t r0 = p.pad_h, r1 = std::min(s.rows, p.in_h + p.pad_h);
  const int64_t c0 = p.pad_w, c1 = std::min(s.row, p.in_w + p.pad_w);
  for (int64_t ci = 0; ci < p.in_channels; ++ci) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = x_n + (ci * p.in_h + r - p.pad_h) * p.in_w;
      float* dst = xp + ci * s.plane + r * s.row + c0;
      for (int64_t c = 0; c < c1 - c0; ++c) dst[c] = src[c];
    }
  }
  for (int64_t b = 0; b < s.blocks; ++b) {
    const int64_t width = 16 * block_width(s, b), co0 = 16 * block_start(s, b);
    float* dst = dyt + s.group * s.positions * co0 + g * s.positions * width;
    avx512::transpose_rows(dy_n + co0 * s.positions, s.positions,
                           std::min(width, p.out_channels - co0), s.positions, dst, width, width);
  }
}

void run_tile(const Conv2dParams& p, const Plan& s, int64_t width, const TileArgs& a) {
  if (s.kr == 3) {
    wgrad512_detail::tile_k3r3(a, static_cast<int>(width));
  } else if (p.kernel_w == 3) {
    wgrad512_detail::tile_k3r1(a, static_cast<int>(width));
  } else {
    wgrad512_detail::tile_k5r1(a, static_cast<int>(width));
  }
}

}  // namespace

void set_conv_wgrad512_enabled(bool enabled) { g_enabled.store(enabled); }

bool conv2d_wgrad512(const Conv2dParams& p, const float* x, const float* dy, float* dw) {
  if (!g_enabled.load() || !conv2d_direct512_applies(p)) return false;
  if (p.kernel_w != 3 && p.kernel_w != 5) return false;
  const Plan s = plan_of(p);
  const int64_t taps_rows = p.in_channels * s.taps;  // rows of the (ci, tap) matrix
  const int64_t sums_stride = 16 * s.vectors;
  const int64_t x_floats = s.group * p.in_channels * s.plane;
  const int64_t dy_floats = s.group * s.positions * sums_stride;
  const int64_t sums_floats = s.splits * taps_rows * sums_stride;
  // dy's rows are loaded as whole cache lines: its region starts on a 16-float boundary.
  const int64_t x_region = (x_floats + 15) / 16 * 16;
  float* xg = tls_scratch.reserve(x_region + dy_floats + sums_floats);
  float* dyt = xg + x_region;
  float* sums = dyt + dy_floats;
  std::memset(sums, 0, sizeof(float) * sums_floats);

  const int64_t in_image = p.in_channels * p.in_h * p.in_w;
  const int64_t out_image = p.out_channels * s.positions;
  const int64_t tiles = s.blocks * p.in_channels * s.row_groups;
  const int64_t items = tiles * s.splits;
  const int64_t threads = num_threads();
  for (int64_t n0 = 0; n0 < p.batch; n0 += s.group) {
    const int64_t count = std::min(s.group, p.batch - n0);
    parallel_for(count, 1, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) {
        prepare_image(p, s, x + (n0 + g) * in_image, dy + (n0 + g) * out_image, g, xg, dyt);
      }
    });
    // Items (block, ci, row group, split), block-major: consecutive items share the block's dy.
    std::atomic<int64_t> next{0};
    parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        for (int64_t i = next.fetch_add(1); i < items; i = next.fetch_add(1)) {
          const int64_t split = i % s.splits, tile = i / s.splits;
          const int64_t b = tile / (p.in_channels * s.row_groups);
          const int64_t ci = (tile / s.row_groups) % p.in_channels, rg = tile % s.row_groups;
          const int64_t g_begin = count * split / s.splits, g_end = count * (split + 1) / s.splits;
          const int64_t width = block_width(s, b), co0 = 16 * block_start(s, b);
          TileArgs a;
          a.x = xg + (g_begin * p.in_channels + ci) * s.plane + rg * s.kr * s.row;
          a.x_image = p.in_channels * s.plane;
          a.row = s.row;
          a.dy = dyt + s.group * s.positions * co0 + g_begin * s.positions * 16 * width;
          a.dy_stride = 16 * width;
          a.out_h = p.out_h;
          a.out_w = p.out_w;
          a.images = g_end - g_begin;
          a.sums = sums + (split * taps_rows + ci * s.taps + rg * s.kr * p.kernel_w) * sums_stride + co0;
          a.sums_stride = sums_stride;
          if (a.images > 0) run_tile(p, s, width, a);
        }
      }
    });
  }
  // dw[co][r] = sum over splits (in order) of sums[split][r][co].
  parallel_for(p.out_channels, 16, [&](int64_t c0, int64_t c1) {
    for (int64_t co = c0; co < c1; ++co) {
      for (int64_t r = 0; r < taps_rows; ++r) {
        float v = 0.0f;
        for (int64_t split = 0; split < s.splits; ++split) v += sums[(split * taps_rows + r) * sums_stride + co];
        dw[co * taps_rows + r] = v;
      }
    }
  });
  tls_scratch.trim();
  return true;
}

}  // namespace hn::cpu
