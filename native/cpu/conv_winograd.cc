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

// Where it measured faster than the direct AVX-512 kernels (bench/RESULTS.md log 16): output
// planes up to 16x16 with at least 16 input and output channels.
constexpr int64_t kMaxPlane = 256;
constexpr int64_t kMinChannels = 16;

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
void transform_weights(const Conv2dParams& p, const float* w, bool flipped, float* u,
                       int64_t cout_pad) {
  const int64_t e_stride = p.in_channels * cout_pad;
  parallel_for(p.in_channels, 8, [&](int64_t c0, int64_t c1) {
    std::vector<float> taps(static_cast<size_t>(9 * cout_pad), 0.0f);  // [tap][co] of one ci
    for (int64_t ci = c0; ci < c1; ++ci) {
      for (int64_t co = 0; co < p.out_channels; ++co) {
        for (int t = 0; t < 9; ++t) {
          taps[static_cast<size_t>(t * cout_pad + co)] =
              flipped ? w[(ci * p.out_channels + co) * 9 + 8 - t] : w[(co * p.in_channels + ci) * 9 + t];
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
  });
}

// Channel blocks of the products: at most 3 vectors each, near-equal widths (8 -> 3 3 2).
int64_t block_start(int64_t vectors, int64_t blocks, int64_t b) {
  return b * (vectors / blocks) + std::min(b, vectors % blocks);
}

void forward(const Conv2dParams& p, const float* x, const float* w, bool flipped,
             const float* bias, float* y) {
  Tiles g;
  g.tiles_h = (p.out_h + 1) / 2;
  g.tiles_w = (p.out_w + 1) / 2;
  g.cols = 2 * g.tiles_w + 2;
  g.cin_pad = round16(p.in_channels);
  g.cout_pad = round16(p.out_channels);
  const int64_t rows = 2 * g.tiles_h + 2;
  const int64_t tiles = g.tiles_h * g.tiles_w;
  // Images per group: V and M of a group (16 floats per tile and channel each) within ~512 KiB,
  // half of a Zen 5 L2.
  const int64_t per_image = 16 * tiles * (g.cin_pad + g.cout_pad);
  const int64_t threads = num_threads();
  int64_t group = std::max<int64_t>(1, std::min<int64_t>((int64_t{128} << 10) / per_image, p.batch / (2 * threads)));
  const int64_t group_tiles = (group * tiles + 7) / 8 * 8;
  g.e_stride_v = group_tiles * g.cin_pad;
  g.e_stride_m = group_tiles * g.cout_pad;
  const int64_t xt_floats = rows * g.cols * g.cin_pad;
  const int64_t yt_floats = round16(p.out_h * p.out_w * g.cout_pad);
  const int64_t slot = xt_floats + 16 * (g.e_stride_v + g.e_stride_m) + yt_floats;
  const int64_t u_floats = 16 * p.in_channels * g.cout_pad;
  float* u = tls_scratch.reserve(u_floats + g.cout_pad + threads * slot);
  float* bias_pad = u + u_floats;
  float* slots = bias_pad + g.cout_pad;
  transform_weights(p, w, flipped, u, g.cout_pad);
  for (int64_t co = 0; co < g.cout_pad; ++co) bias_pad[co] = (bias != nullptr && co < p.out_channels) ? bias[co] : 0.0f;

  const int64_t vectors = g.cout_pad / 16, blocks = (vectors + 2) / 3;
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  const int64_t groups = (p.batch + group - 1) / group;
  std::atomic<int64_t> next{0};
  parallel_for(threads, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      float* xt = slots + s * slot;
      float* v = xt + xt_floats;
      float* m = v + 16 * g.e_stride_v;
      float* yt = m + 16 * g.e_stride_m;
      std::memset(xt, 0, sizeof(float) * xt_floats);
      // Rows of V past the group's last tile feed products whose results are dropped: zero them
      // once so they hold no NaN or denormal garbage.
      for (int64_t e = 0; e < 16; ++e) {
        std::memset(v + e * g.e_stride_v + group * tiles * g.cin_pad, 0,
                    sizeof(float) * (group_tiles - group * tiles) * g.cin_pad);
      }
      for (int64_t gi = next.fetch_add(1); gi < groups; gi = next.fetch_add(1)) {
        const int64_t n0 = gi * group, count = std::min(group, p.batch - n0);
        if (count < group) {
          for (int64_t e = 0; e < 16; ++e) {
            std::memset(v + e * g.e_stride_v + count * tiles * g.cin_pad, 0,
                        sizeof(float) * (group - count) * tiles * g.cin_pad);
          }
        }
        for (int64_t k = 0; k < count; ++k) {
          // x [Cin][H][W] -> xt [rows][cols][cin_pad], the image at (pad_h, pad_w); the zeros
          // around it were written once, before the first image.
          const float* xn = x + (n0 + k) * p.in_channels * in_plane;
          const int64_t h_end = std::min(p.in_h, rows - p.pad_h);
          const int64_t width = std::min(p.in_w, g.cols - p.pad_w);
          for (int64_t h = 0; h < h_end; ++h) {
            avx512::transpose_rows(xn + h * p.in_w, in_plane, p.in_channels, width,
                                   xt + ((h + p.pad_h) * g.cols + p.pad_w) * g.cin_pad, g.cin_pad, g.cin_pad);
          }
          winograd_detail::input_transform(g, xt, v, k * tiles);
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
            a.tiles = (count * tiles + 7) / 8 * 8;
            winograd_detail::gemm(a, static_cast<int>(block_start(vectors, blocks, b + 1) - first));
          }
        }
        for (int64_t k = 0; k < count; ++k) {
          winograd_detail::output_transform(g, m, k * tiles, bias_pad, yt, p.out_h, p.out_w);
          // yt [out_h * out_w][cout_pad] -> y [Cout][out_h * out_w]
          avx512::transpose_rows(yt, g.cout_pad, out_plane, p.out_channels,
                                 y + (n0 + k) * p.out_channels * out_plane, out_plane, out_plane);
        }
      }
    }
  });
  tls_scratch.trim();
}

}  // namespace

void set_conv_winograd_enabled(bool enabled) { g_enabled.store(enabled); }

bool conv2d_winograd_forward(const Conv2dParams& p, const float* x, const float* w,
                             const float* bias, float* y) {
  if (!applies(p)) return false;
  forward(p, x, w, false, bias, y);
  return true;
}

bool conv2d_winograd_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                   float* dx) {
  if (p.pad_h > 2 || p.pad_w > 2) return false;
  const Conv2dParams q = stride1_input_gradient_params(p);
  if (!applies(q)) return false;
  forward(q, dy, w, true, nullptr, dx);
  return true;
}

}  // namespace hn::cpu
