// Winograd F(2x2, 3x3) convolution (conv_winograd.h): the portable driver (applicability, the
// weight transform, image groups, threads, the transposes in and out of channels-in-lanes rows)
// around the AVX-512 pieces in conv_winograd_kernel.cc.
#include "conv_winograd.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "../common/thread_pool.h"
#include "aligned_scratch.h"
#include "conv_direct512.h"
#include "transpose512.h"

namespace hn::cpu {
namespace {

using winograd_detail::Tiles;

std::atomic<bool> g_enabled{true};

// Where it measured faster than the direct AVX-512 kernels (bench/RESULTS.md log 33, 38): output
// planes up to 32x32 (larger ones untried) with at least 16 input and output channels.
constexpr int64_t kMaxPlane = 1024;
constexpr int64_t kMinChannels = 16;
constexpr int64_t kMinWeightChannels = 32;

thread_local AlignedScratch tls_scratch;

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

bool applies(const Conv2dParams& p) {
  if (!g_enabled.load() || !conv2d_direct512_applies(p)) return false;
  if (p.kernel_h != 3 || p.kernel_w != 3 || p.pad_h > 2 || p.pad_w > 2) return false;
  if (p.out_h * p.out_w > kMaxPlane) return false;
  if (p.in_channels < kMinChannels || p.out_channels < kMinChannels) return false;
  // Threads take whole images: fewer than two per thread would leave threads idle.
  return p.batch >= 2 * num_threads();
}

// U[e][ci][co] = (G g G^T)[e] of g = kernel(co, ci), zero past cout, with
// G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. kernel(co, ci)[i][j] is w[co][ci][i][j], or for
// the input gradient (flipped) w[ci][co][2 - i][2 - j] of the original layer.
// Returns whether every weight is finite.
bool transform_weights(const Conv2dParams& p, const float* w, bool flipped, float* u,
                       int64_t cout_pad) {
  const int64_t e_stride = p.in_channels * cout_pad;
  std::atomic<bool> finite{true};
  parallel_for(p.in_channels, 8, [&](int64_t c0, int64_t c1) {
    std::vector<float> taps(static_cast<size_t>(9 * cout_pad), 0.0f);  // [tap][co] of one ci
    bool ok = true;
    for (int64_t ci = c0; ci < c1; ++ci) {
      for (int64_t co = 0; co < p.out_channels; ++co) {
        for (int t = 0; t < 9; ++t) {
          const float v = flipped ? w[(ci * p.out_channels + co) * 9 + 8 - t] : w[(co * p.in_channels + ci) * 9 + t];
          taps[static_cast<size_t>(t * cout_pad + co)] = v;
          ok &= v - v == 0.0f;  // false for NaN and infinities
        }
      }
      // Loops over co with contiguous loads and stores: the compiler vectorises them.
      const float* g = taps.data();
      float* out = u + ci * cout_pad;
      for (int a = 0; a < 4; ++a) {
        for (int64_t co = 0; co < cout_pad; ++co) {
          // Row a of G g: g's row 0, the half sum, the half alternating sum, or g's row 2.
          float r[3];
          for (int j = 0; j < 3; ++j) {
            const float g0 = g[j * cout_pad + co], g1 = g[(3 + j) * cout_pad + co], g2 = g[(6 + j) * cout_pad + co];
            r[j] = a == 0 ? g0 : a == 1 ? 0.5f * (g0 + g1 + g2) : a == 2 ? 0.5f * (g0 - g1 + g2) : g2;
          }
          out[(4 * a + 0) * e_stride + co] = r[0];
          out[(4 * a + 1) * e_stride + co] = 0.5f * (r[0] + r[1] + r[2]);
          out[(4 * a + 2) * e_stride + co] = 0.5f * (r[0] - r[1] + r[2]);
          out[(4 * a + 3) * e_stride + co] = r[2];
        }
      }
    }
    if (!ok) finite.store(false);
  });
  return finite.load();
}

// Channel blocks of the products: at most 3 vectors each, near-equal widths (8 -> 3 3 2).
int64_t block_start(int64_t vectors, int64_t blocks, int64_t b) {
  return b * (vectors / blocks) + std::min(b, vectors % blocks);
}

// Buffers and sizes of one call. The work comes in units: a group of whole images, or one image
// whose tiles are taken in bands of tile rows when an image's transformed operands alone would
// not stay in L2. Each thread slot holds xt (one transposed padded image), V and M (or DY) for a
// unit (or a band), and yt (one output or dy image, channels-last).
struct Layout {
  Tiles g;
  int64_t rows;          // rows of xt, 2 tiles_h + 2
  int64_t tiles;         // tiles per image
  int64_t group;         // images per unit (1 when the images are cut into bands)
  int64_t band_rows;     // tile rows per band (tiles_h when whole images)
  int64_t bands;         // bands per image
  int64_t buffer_tiles;  // tiles of V and M, rounded up to 8 (the products' register tile)
  int64_t xt_floats, yt_floats, slot;
};

// `budget`: floats of V and M per unit (they stay in L2 between the transforms and the products).
Layout layout_of(const Conv2dParams& p, int64_t budget) {
  Layout l;
  Tiles& g = l.g;
  g.tiles_h = (p.out_h + 1) / 2;
  g.tiles_w = (p.out_w + 1) / 2;
  g.cols = 2 * g.tiles_w + 2;
  g.cin_pad = round16(p.in_channels);
  g.cout_pad = round16(p.out_channels);
  l.rows = 2 * g.tiles_h + 2;
  l.tiles = g.tiles_h * g.tiles_w;
  const int64_t per_row = 16 * g.tiles_w * (g.cin_pad + g.cout_pad);  // one tile row
  l.band_rows = std::max<int64_t>(1, std::min(g.tiles_h, budget / per_row));
  l.bands = (g.tiles_h + l.band_rows - 1) / l.band_rows;
  l.group = l.bands > 1 ? 1
                        : std::max<int64_t>(1, std::min<int64_t>(budget / (per_row * g.tiles_h),
                                                                 p.batch / (2 * num_threads())));
  l.buffer_tiles = (std::max(l.group * l.tiles, l.band_rows * g.tiles_w) + 7) / 8 * 8;
  g.e_stride_v = l.buffer_tiles * g.cin_pad;
  g.e_stride_m = l.buffer_tiles * g.cout_pad;
  l.xt_floats = l.rows * g.cols * g.cin_pad;
  l.yt_floats = round16(p.out_h * p.out_w * g.cout_pad);
  l.slot = l.xt_floats + 16 * (g.e_stride_v + g.e_stride_m) + l.yt_floats;
  return l;
}

// Tile rows [th0, th1) of band `band`.
struct Band {
  int64_t th0, th1, tiles;
};

Band band_of(const Layout& l, int64_t band) {
  Band b;
  b.th0 = band * l.band_rows;
  b.th1 = std::min(l.g.tiles_h, b.th0 + l.band_rows);
  b.tiles = (b.th1 - b.th0) * l.g.tiles_w;
  return b;
}

// Image n of x [Cin][H][W] -> xt [rows][cols][cin_pad] at (pad_h, pad_w) (the zeros around it
// were written before the first image and are never overwritten).
// Returns whether the image is finite.
bool transpose_image(const Conv2dParams& p, const Layout& l, const float* x, int64_t n, float* xt) {
  const int64_t in_plane = p.in_h * p.in_w;
  const float* xn = x + n * p.in_channels * in_plane;
  const int64_t h_end = std::min(p.in_h, l.rows - p.pad_h);
  const int64_t width = std::min(p.in_w, l.g.cols - p.pad_w);
  bool finite = true;
  for (int64_t h = 0; h < h_end; ++h) {
    finite &= avx512::transpose_rows(xn + h * p.in_w, in_plane, p.in_channels, width,
                                     xt + ((h + p.pad_h) * l.g.cols + p.pad_w) * l.g.cin_pad, l.g.cin_pad,
                                     l.g.cin_pad);
  }
  return finite;
}

// Thread slot s's buffers: xt, V, M (the products, or DY for the weight gradient) and yt (an
// output or dy image, channels-last).
struct Slot {
  float *xt, *v, *m, *yt;
};

Slot slot_of(const Layout& l, float* slots, int64_t s) {
  Slot b;
  b.xt = slots + s * l.slot;
  b.v = b.xt + l.xt_floats;
  b.m = b.v + 16 * l.g.e_stride_v;
  b.yt = b.m + 16 * l.g.e_stride_m;
  return b;
}

// Returns false (y then holds garbage) when x or w is not finite: the transforms would turn an
// infinity into NaN (inf - inf) and spread a NaN over a whole 2x2 tile, where the direct
// convolution keeps PyTorch's values; the caller then runs the direct path.
bool forward(const Conv2dParams& p, const float* x, const float* w, bool flipped,
             const float* bias, float* y) {
  // V and M of a group within ~512 KiB, half of a Zen 5 L2.
  const Layout l = layout_of(p, int64_t{128} << 10);
  const Tiles& g = l.g;
  const int64_t threads = num_threads();
  const int64_t u_floats = 16 * p.in_channels * g.cout_pad;
  float* u = tls_scratch.reserve(u_floats + g.cout_pad + threads * l.slot);
  float* bias_pad = u + u_floats;
  float* slots = bias_pad + g.cout_pad;
  if (!transform_weights(p, w, flipped, u, g.cout_pad)) {
    tls_scratch.trim();
    return false;
  }
  std::atomic<bool> finite{true};
  for (int64_t co = 0; co < g.cout_pad; ++co) bias_pad[co] = (bias != nullptr && co < p.out_channels) ? bias[co] : 0.0f;

  const int64_t vectors = g.cout_pad / 16, blocks = (vectors + 2) / 3;
  const int64_t out_plane = p.out_h * p.out_w;
  const int64_t groups = (p.batch + l.group - 1) / l.group;
  // yt [out_h * out_w][cout_pad] of image n -> y [Cout][out_h * out_w]
  auto store_image = [&](const float* yt, int64_t n) {
    avx512::transpose_rows(yt, g.cout_pad, out_plane, p.out_channels, y + n * p.out_channels * out_plane,
                           out_plane, out_plane);
  };
  std::atomic<int64_t> next{0};
  parallel_for(threads, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const Slot buf = slot_of(l, slots, s);
      float *xt = buf.xt, *v = buf.v, *m = buf.m, *yt = buf.yt;
      // Rows of V past a unit's last tile feed products whose results are dropped: zeros (or a
      // previous unit's finite values), never NaN or denormal garbage.
      std::memset(xt, 0, sizeof(float) * (l.xt_floats + 16 * g.e_stride_v));
      for (int64_t gi = next.fetch_add(1); gi < groups; gi = next.fetch_add(1)) {
        const int64_t n0 = gi * l.group, count = std::min(l.group, p.batch - n0);
        for (int64_t band = 0; band < l.bands; ++band) {
          const Band bd = band_of(l, band);
          for (int64_t k = 0; k < count; ++k) {
            if (band == 0 && !transpose_image(p, l, x, n0 + k, xt)) finite.store(false, std::memory_order_relaxed);
            winograd_detail::input_transform(g, xt, v, k * bd.tiles, bd.th0, bd.th1);
          }
          for (int64_t e = 0; e < 16; ++e) {
            for (int64_t b = 0; b < blocks; ++b) {
              const int64_t first = block_start(vectors, blocks, b);
              winograd_detail::GemmArgs a;
              a.v = v + e * g.e_stride_v;
              a.u = u + e * p.in_channels * g.cout_pad + 16 * first;
              a.m = m + e * g.e_stride_m + 16 * first;
              a.cin = p.in_channels;
              a.cin_pad = g.cin_pad;
              a.cout_pad = g.cout_pad;
              a.tiles = (count * bd.tiles + 7) / 8 * 8;
              winograd_detail::gemm(a, static_cast<int>(block_start(vectors, blocks, b + 1) - first));
            }
          }
          for (int64_t k = 0; k < count; ++k) {
            winograd_detail::output_transform(g, m, k * bd.tiles, bd.th0, bd.th1, bias_pad, yt, p.out_h, p.out_w);
            if (l.bands == 1) store_image(yt, n0 + k);
          }
        }
        if (l.bands > 1) store_image(yt, n0);
      }
    }
  });
  tls_scratch.trim();
  return finite.load();
}

// dw[co][ci] = G^T Z[.][ci][co] G for the sum Z of the threads' partial products (in order),
// with G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1].
void finish_weight_gradient(const Conv2dParams& p, const Tiles& g, const float* z, int64_t parts,
                            float* dw) {
  const int64_t cp = g.cout_pad, e_stride = g.cin_pad * cp, part_stride = 16 * e_stride;
  parallel_for(p.in_channels, 4, [&](int64_t c0, int64_t c1) {
    // Loops over co with contiguous loads and stores, which the compiler vectorises.
    std::vector<float> buffer(static_cast<size_t>(25 * cp));
    float* m = buffer.data();     // [16][cp]: the sum of the parts
    float* out = m + 16 * cp;     // [9][cp]
    for (int64_t ci = c0; ci < c1; ++ci) {
      for (int e = 0; e < 16; ++e) {
        const float* src = z + e * e_stride + ci * cp;
        for (int64_t co = 0; co < cp; ++co) m[e * cp + co] = src[co];
        for (int64_t k = 1; k < parts; ++k) {
          for (int64_t co = 0; co < cp; ++co) m[e * cp + co] += src[k * part_stride + co];
        }
      }
      for (int64_t co = 0; co < cp; ++co) {
        float r[3][4];  // G^T m
        for (int j = 0; j < 4; ++j) {
          const float m0 = m[j * cp + co], m1 = m[(4 + j) * cp + co], m2 = m[(8 + j) * cp + co], m3 = m[(12 + j) * cp + co];
          r[0][j] = m0 + 0.5f * (m1 + m2);
          r[1][j] = 0.5f * (m1 - m2);
          r[2][j] = 0.5f * (m1 + m2) + m3;
        }
        for (int i = 0; i < 3; ++i) {
          out[(3 * i) * cp + co] = r[i][0] + 0.5f * (r[i][1] + r[i][2]);
          out[(3 * i + 1) * cp + co] = 0.5f * (r[i][1] - r[i][2]);
          out[(3 * i + 2) * cp + co] = 0.5f * (r[i][1] + r[i][2]) + r[i][3];
        }
      }
      for (int64_t co = 0; co < p.out_channels; ++co) {
        float* dst = dw + (co * p.in_channels + ci) * 9;
        for (int k = 0; k < 9; ++k) dst[k] = out[k * cp + co];
      }
    }
  });
}

// Returns false (dw untouched) when x or dy is not finite, as forward() does.
bool weight_gradient(const Conv2dParams& p, const float* x, const float* dy, float* dw) {
  // V and DY of a group within ~2 MiB: the partial products Z (16 Cin Cout floats) are read
  // and written once per group, so groups larger than the forward's (measured on K3: 6.2 ms at
  // 512 KiB, 4.7 at 1 MiB, 4.4 at 2 MiB, 4.5-5.5 at 4 MiB, one thread).
  const Layout l = layout_of(p, int64_t{512} << 10);
  const Tiles& g = l.g;
  const int64_t threads = num_threads();
  const int64_t z_floats = 16 * g.cin_pad * g.cout_pad;
  float* z = tls_scratch.reserve(threads * (z_floats + l.slot));
  float* slots = z + threads * z_floats;
  const int64_t vectors = g.cout_pad / 16, blocks = (vectors + 2) / 3;
  const int64_t out_plane = p.out_h * p.out_w;
  const int64_t groups = (p.batch + l.group - 1) / l.group;
  std::atomic<bool> finite{true};
  // Thread slot s sums a fixed range of groups into its own Z: deterministic for a thread count.
  parallel_for(threads, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const Slot buf = slot_of(l, slots, s);
      float *xt = buf.xt, *v = buf.v, *d = buf.m, *dyt = buf.yt;
      float* zs = z + s * z_floats;
      std::memset(xt, 0, sizeof(float) * l.xt_floats);
      const int64_t g_begin = groups * s / threads, g_end = groups * (s + 1) / threads;
      if (g_begin == g_end) std::memset(zs, 0, sizeof(float) * z_floats);
      for (int64_t gi = g_begin; gi < g_end; ++gi) {
        const int64_t n0 = gi * l.group, count = std::min(l.group, p.batch - n0);
        for (int64_t band = 0; band < l.bands; ++band) {
          const Band bd = band_of(l, band);
          for (int64_t k = 0; k < count; ++k) {
            if (band == 0) {
              // dy [Cout][out_h * out_w] -> dyt [out_h * out_w][cout_pad]
              const bool ok = transpose_image(p, l, x, n0 + k, xt) &
                              avx512::transpose_rows(dy + (n0 + k) * p.out_channels * out_plane, out_plane,
                                                     p.out_channels, out_plane, dyt, g.cout_pad, g.cout_pad);
              if (!ok) finite.store(false, std::memory_order_relaxed);
            }
            winograd_detail::input_transform(g, xt, v, k * bd.tiles, bd.th0, bd.th1);
            winograd_detail::dy_transform(g, dyt, p.out_h, p.out_w, d, k * bd.tiles, bd.th0, bd.th1);
          }
          for (int64_t e = 0; e < 16; ++e) {
            for (int64_t b = 0; b < blocks; ++b) {
              const int64_t first = block_start(vectors, blocks, b);
              for (int64_t ci = 0; ci < g.cin_pad; ci += 8) {
                winograd_detail::AccumulateArgs a;
                a.v = v + e * g.e_stride_v + ci;
                a.d = d + e * g.e_stride_m + 16 * first;
                a.z = zs + e * g.cin_pad * g.cout_pad + ci * g.cout_pad + 16 * first;
                a.cin_pad = g.cin_pad;
                a.cout_pad = g.cout_pad;
                a.tiles = count * bd.tiles;
                a.first = gi == g_begin && band == 0;
                winograd_detail::accumulate(a, static_cast<int>(block_start(vectors, blocks, b + 1) - first));
              }
            }
          }
        }
      }
    }
  });
  if (finite.load()) finish_weight_gradient(p, g, z, threads, dw);
  tls_scratch.trim();
  return finite.load();
}

}  // namespace

void set_conv_winograd_enabled(bool enabled) { g_enabled.store(enabled); }

bool conv2d_winograd_forward(const Conv2dParams& p, const float* x, const float* w,
                             const float* bias, float* y) {
  if (!applies(p)) return false;
  return forward(p, x, w, false, bias, y);
}

bool conv2d_winograd_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                     float* dw) {
  // Below 32 channels the transforms and the partial sums outweigh the saved products (16->16
  // at 8x8: 0.20 ms against 0.13 for conv_wgrad512.h, one thread).
  if (!applies(p) || std::min(p.in_channels, p.out_channels) < kMinWeightChannels) return false;
  return weight_gradient(p, x, dy, dw);
}

bool conv2d_winograd_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                   float* dx) {
  if (p.pad_h > 2 || p.pad_w > 2) return false;
  const Conv2dParams q = stride1_input_gradient_params(p);
  if (!applies(q)) return false;
  return forward(q, dy, w, true, nullptr, dx);
}

}  // namespace hn::cpu
