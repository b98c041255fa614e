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
// (zero past cout); db_n[co] = the sum of dy's plane co (when db_n is given).
void prepare_image(const Conv2dParams& p, const Plan& s, const float* x_n, const float* dy_n,
                   int64_t g, float* xg, float* dyt, double* db_n) {
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
  if (db_n == nullptr) return;
  // The plane was just read. The same sums as conv.cc's channel_sums (8 float lanes, the lanes
  // and the tail added in double), so db does not depend on the path that computed it.
  for (int64_t co = 0; co < p.out_channels; ++co) {
    const float* src = dy_n + co * s.positions;
    float lanes[8] = {};
    int64_t q = 0;
    for (; q + 8 <= s.positions; q += 8) {
      for (int k = 0; k < 8; ++k) lanes[k] += src[q + k];
    }
    double total = 0.0;
    for (int k = 0; k < 8; ++k) total += lanes[k];
    for (; q < s.positions; ++q) total += src[q];
    db_n[co] = total;
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

// Tile (block b, input channel ci, kernel row group rg) over `images` images of the prepared
// buffers from image g0, into sums (rows of the (ci, tap) matrix, sums_stride apart).
void tile_over(const Conv2dParams& p, const Plan& s, int64_t b, int64_t ci, int64_t rg,
               const float* xg, const float* dyt, int64_t g0, int64_t images, float* sums) {
  const int64_t width = block_width(s, b), co0 = 16 * block_start(s, b);
  TileArgs a;
  a.x = xg + (g0 * p.in_channels + ci) * s.plane + rg * s.kr * s.row;
  a.x_image = p.in_channels * s.plane;
  a.row = s.row;
  a.dy = dyt + s.group * s.positions * co0 + g0 * s.positions * 16 * width;
  a.dy_stride = 16 * width;
  a.out_h = p.out_h;
  a.out_w = p.out_w;
  a.images = images;
  a.sums = sums + (ci * s.taps + rg * s.kr * p.kernel_w) * 16 * s.vectors + co0;
  a.sums_stride = 16 * s.vectors;
  if (images > 0) run_tile(p, s, width, a);
}

// dw[co][r] = sum over parts (in order) of sums[part][r][co]; db[co] = the per-image sums in
// image order, added in double.
void finish(const Conv2dParams& p, const Plan& s, const float* sums, int64_t parts,
            const double* db_parts, float* dw, float* db) {
  const int64_t taps_rows = p.in_channels * s.taps, stride = 16 * s.vectors;
  parallel_for(p.out_channels, 16, [&](int64_t c0, int64_t c1) {
    for (int64_t co = c0; co < c1; ++co) {
      for (int64_t r = 0; r < taps_rows; ++r) {
        float v = 0.0f;
        for (int64_t k = 0; k < parts; ++k) v += sums[(k * taps_rows + r) * stride + co];
        dw[co * taps_rows + r] = v;
      }
      if (db != nullptr) {
        double total = 0.0;
        for (int64_t n = 0; n < p.batch; ++n) total += db_parts[n * p.out_channels + co];
        db[co] = static_cast<float>(total);
      }
    }
  });
}

// Small (ci, tap) x channel matrices (K1, K2): each thread takes a fixed range of images, one
// image at a time (its transposed dy stays in L2 while every tile sweeps it), into its own sums.
bool per_image_mode(const Conv2dParams& p, const Plan& s) {
  return p.in_channels * s.taps * 16 * s.vectors <= (int64_t{64} << 10) && p.batch >= num_threads();
}

void weight_gradient_per_image(const Conv2dParams& p, Plan s, const float* x, const float* dy,
                               float* dw, float* db) {
  s.group = 1;
  s.splits = 1;
  const int64_t threads = num_threads();
  const int64_t sums_floats = p.in_channels * s.taps * 16 * s.vectors;
  const int64_t x_region = (p.in_channels * s.plane + 15) / 16 * 16;
  const int64_t slot = x_region + s.positions * 16 * s.vectors + sums_floats;
  float* scratch = tls_scratch.reserve(threads * slot + 2 * p.batch * p.out_channels);
  double* db_parts = reinterpret_cast<double*>(scratch + threads * slot);
  const int64_t in_image = p.in_channels * p.in_h * p.in_w, out_image = p.out_channels * s.positions;
  parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* xg = scratch + t * slot;
      float* dyt = xg + x_region;
      float* sums = dyt + s.positions * 16 * s.vectors;
      std::memset(sums, 0, sizeof(float) * sums_floats);
      for (int64_t n = p.batch * t / threads; n < p.batch * (t + 1) / threads; ++n) {
        prepare_image(p, s, x + n * in_image, dy + n * out_image, 0, xg, dyt,
                      db != nullptr ? db_parts + n * p.out_channels : nullptr);
        for (int64_t b = 0; b < s.blocks; ++b) {
          for (int64_t ci = 0; ci < p.in_channels; ++ci) {
            for (int64_t rg = 0; rg < s.row_groups; ++rg) tile_over(p, s, b, ci, rg, xg, dyt, 0, 1, sums);
          }
        }
      }
    }
  });
  // The parts' sums are slot-strided: gather them into consecutive parts for finish().
  for (int64_t t = 1; t < threads; ++t) {
    std::memmove(scratch + x_region + s.positions * 16 * s.vectors + t * sums_floats,
                 scratch + t * slot + x_region + s.positions * 16 * s.vectors, sizeof(float) * sums_floats);
  }
  finish(p, s, scratch + x_region + s.positions * 16 * s.vectors, threads, db_parts, dw, db);
}

}  // namespace

void set_conv_wgrad512_enabled(bool enabled) { g_enabled.store(enabled); }

bool conv2d_wgrad512(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                     float* db) {
  if (!g_enabled.load() || !conv2d_direct512_applies(p)) return false;
  if (p.kernel_w != 3 && p.kernel_w != 5) return false;
  const Plan s = plan_of(p);
  if (per_image_mode(p, s)) {
    weight_gradient_per_image(p, s, x, dy, dw, db);
    tls_scratch.trim();
    return true;
  }
  const int64_t taps_rows = p.in_channels * s.taps;  // rows of the (ci, tap) matrix
  const int64_t sums_stride = 16 * s.vectors;
  const int64_t x_floats = s.group * p.in_channels * s.plane;
  const int64_t dy_floats = s.group * s.positions * sums_stride;
  const int64_t sums_floats = s.splits * taps_rows * sums_stride;
  // dy's rows are loaded as whole cache lines: its region starts on a 16-float boundary.
  const int64_t x_region = (x_floats + 15) / 16 * 16;
  float* xg = tls_scratch.reserve(x_region + dy_floats + sums_floats + 2 * p.batch * p.out_channels);
  float* dyt = xg + x_region;
  float* sums = dyt + dy_floats;
  // Every region above is a multiple of 16 floats: the doubles are aligned.
  double* db_parts = reinterpret_cast<double*>(sums + sums_floats);
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
        prepare_image(p, s, x + (n0 + g) * in_image, dy + (n0 + g) * out_image, g, xg, dyt,
                      db != nullptr ? db_parts + (n0 + g) * p.out_channels : nullptr);
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
          tile_over(p, s, b, ci, rg, xg, dyt, g_begin, g_end - g_begin, sums + split * taps_rows * sums_stride);
        }
      }
    });
  }
  finish(p, s, sums, s.splits, db_parts, dw, db);
  tls_scratch.trim();
  return true;
}

}  // namespace hn::cpu
