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
// The buffers of one part of a channel-split forward, owned by the thread that runs the part.
thread_local AlignedScratch tls_part_scratch;

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// Floats between the 16 planes [e] of U, V and M: one cache line past their size. A transform
// reads or writes the same offset in all 16 planes; unpadded strides are multiples of 4 KiB on
// the layers here (64 x 128 floats, 32 tiles x 64), which puts the 16 lines in one L1 set.
int64_t plane_stride(int64_t floats) { return floats + 16; }

int64_t u_stride(const Conv2dParams& p, int64_t cout_pad) { return plane_stride(p.in_channels * cout_pad); }

bool applies(const Conv2dParams& p) {
  if (!g_enabled.load() || !conv2d_direct512_applies(p)) return false;
  if (p.kernel_h != 3 || p.kernel_w != 3 || p.pad_h > 2 || p.pad_w > 2) return false;
  if (p.out_h * p.out_w > kMaxPlane) return false;
  return p.in_channels >= kMinChannels && p.out_channels >= kMinChannels;
}

// Threads take whole images when each gets two; with fewer images they split the output
// channels instead (the forward only: the weight gradient sums per-thread partial products over
// whole images, and the input gradient was measured only with whole images).
bool images_per_thread(const Conv2dParams& p) { return p.batch >= 2 * num_threads(); }

// U[e][ci][co] = (G g G^T)[e] of g = kernel(co, ci), zero past cout (planes u_stride apart), for
// the output channels of 16-channel blocks [b0, b1). kernel(co, ci)[i][j] is w[co][ci][i][j], or
// for the input gradient (flipped) w[ci][co][2 - i][2 - j] of the original layer. A block's taps
// are transposed into 16-lane rows (co in the lanes, `taps`: taps_floats(p) of scratch), then
// transformed 16 channels per vector. Returns whether every weight it read is finite.
int64_t taps_floats(const Conv2dParams& p) { return p.in_channels * 9 * 16; }  // [ci][tap][16]

bool transform_weight_blocks(const Conv2dParams& p, const float* w, bool flipped, float* u,
                             int64_t cout_pad, int64_t b0, int64_t b1, float* taps) {
  const int64_t cin = p.in_channels, e_stride = u_stride(p, cout_pad);
  bool ok = true;
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t co0 = 16 * b, count = std::min<int64_t>(16, p.out_channels - co0);
    if (flipped) {
      for (int64_t ci = 0; ci < cin; ++ci) {
        ok &= avx512::transpose_rows(w + (ci * p.out_channels + co0) * 9, 9, count, 9, taps + ci * 144, 16, 16);
      }
    } else {
      ok &= avx512::transpose_rows(w + co0 * cin * 9, cin * 9, count, cin * 9, taps, 16, 16);
    }
    for (int64_t ci = 0; ci < cin; ++ci) {
      const float* g = taps + ci * 144;
      winograd_detail::weight_transform(flipped ? g + 8 * 16 : g, flipped ? -16 : 16, u + ci * cout_pad + co0, e_stride);
    }
  }
  return ok;
}

// All of U, the blocks shared between the threads (`taps`: taps_floats(p) per block).
bool transform_weights(const Conv2dParams& p, const float* w, bool flipped, float* u,
                       int64_t cout_pad, float* taps) {
  std::atomic<bool> finite{true};
  parallel_for(cout_pad / 16, 1, [&](int64_t b0, int64_t b1) {
    if (!transform_weight_blocks(p, w, flipped, u, cout_pad, b0, b1, taps + b0 * taps_floats(p))) finite.store(false);
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
// `cout_share`: output channels a unit computes (all of them unless the threads split them).
Layout layout_of(const Conv2dParams& p, int64_t budget, int64_t cout_share = 0) {
  Layout l;
  Tiles& g = l.g;
  g.tiles_h = (p.out_h + 1) / 2;
  g.tiles_w = (p.out_w + 1) / 2;
  g.cols = 2 * g.tiles_w + 2;
  g.cin_pad = round16(p.in_channels);
  g.cout_pad = round16(p.out_channels);
  l.rows = 2 * g.tiles_h + 2;
  l.tiles = g.tiles_h * g.tiles_w;
  const int64_t share = cout_share > 0 ? cout_share : g.cout_pad;
  const int64_t per_row = 16 * g.tiles_w * (g.cin_pad + share);  // one tile row
  l.band_rows = std::max<int64_t>(1, std::min(g.tiles_h, budget / per_row));
  l.bands = (g.tiles_h + l.band_rows - 1) / l.band_rows;
  l.group = l.bands > 1 ? 1
                        : std::max<int64_t>(1, std::min<int64_t>(budget / (per_row * g.tiles_h),
                                                                 p.batch / (2 * num_threads())));
  l.buffer_tiles = (std::max(l.group * l.tiles, l.band_rows * g.tiles_w) + 7) / 8 * 8;
  g.e_stride_v = plane_stride(l.buffer_tiles * g.cin_pad);
  g.e_stride_m = plane_stride(l.buffer_tiles * g.cout_pad);
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

// The 16 products M[e] = V[e] U[e] of one unit for every output channel block, over V's first
// `tiles` rows. The register tile takes 8 rows at a time: the rows up to the next multiple of 8
// are zeroed first, so that their dropped products never see NaN or denormal garbage.
void multiply(const Conv2dParams& p, const Layout& l, const float* u, float* v, float* m,
              int64_t tiles, int64_t vector0, int64_t vector1) {
  const Tiles& g = l.g;
  const int64_t padded = (tiles + 7) / 8 * 8;
  for (int64_t e = 0; e < 16 && padded > tiles; ++e) {
    std::memset(v + e * g.e_stride_v + tiles * g.cin_pad, 0, sizeof(float) * (padded - tiles) * g.cin_pad);
  }
  const int64_t vectors = vector1 - vector0, blocks = (vectors + 2) / 3;
  for (int64_t e = 0; e < 16; ++e) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t first = vector0 + block_start(vectors, blocks, b);
      winograd_detail::GemmArgs a;
      a.v = v + e * g.e_stride_v;
      a.u = u + e * u_stride(p, g.cout_pad) + 16 * first;
      a.m = m + e * g.e_stride_m + 16 * first;
      a.cin = p.in_channels;
      a.cin_pad = g.cin_pad;
      a.cout_pad = g.cout_pad;
      a.tiles = padded;
      winograd_detail::gemm(a, static_cast<int>(vector0 + block_start(vectors, blocks, b + 1) - first));
    }
  }
}

// What the epilogue leaves of an output image: its plane (rows x cols).
struct OutputPlane {
  int64_t rows, cols;
  int64_t size() const { return rows * cols; }
};

OutputPlane output_plane(const Conv2dParams& p, ConvEpilogue epilogue) {
  if (epilogue == ConvEpilogue::kReluMaxPool2x2) return {p.out_h / 2, p.out_w / 2};
  return {p.out_h, p.out_w};
}

// Positions [first, last) of yt [positions][cout_pad] (an output image, channels-last) -> the
// same positions of y_image [Cout][plane], for output channels [co0, co1) (all by default).
void store_positions(const Conv2dParams& p, const Tiles& g, const float* yt, int64_t first,
                     int64_t last, int64_t plane, float* y_image, int64_t co0 = 0, int64_t co1 = -1) {
  if (co1 < 0) co1 = p.out_channels;
  if (last <= first || co1 <= co0) return;
  avx512::transpose_rows(yt + first * g.cout_pad + co0, g.cout_pad, last - first, co1 - co0,
                         y_image + co0 * plane + first, plane, last - first);
}

// Whole images per unit (groups of them, or one image's bands in turn), images from a shared
// counter: each thread transposes, transforms and multiplies its own.
void forward_images(const Conv2dParams& p, const Layout& l, const float* x, const float* u,
                    const float* bias_pad, ConvEpilogue epilogue, float* slots,
                    std::atomic<bool>& finite, float* y) {
  const Tiles& g = l.g;
  const int64_t out_plane = output_plane(p, epilogue).size();
  const int64_t groups = (p.batch + l.group - 1) / l.group;
  std::atomic<int64_t> next{0};
  parallel_for(num_threads(), 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const Slot buf = slot_of(l, slots, s);
      float *xt = buf.xt, *v = buf.v, *m = buf.m, *yt = buf.yt;
      std::memset(xt, 0, sizeof(float) * l.xt_floats);  // the padding around every image
      for (int64_t gi = next.fetch_add(1); gi < groups; gi = next.fetch_add(1)) {
        const int64_t n0 = gi * l.group, count = std::min(l.group, p.batch - n0);
        for (int64_t band = 0; band < l.bands; ++band) {
          const Band bd = band_of(l, band);
          for (int64_t k = 0; k < count; ++k) {
            if (band == 0 && !transpose_image(p, l, x, n0 + k, xt)) finite.store(false, std::memory_order_relaxed);
            winograd_detail::input_transform(g, xt, v, k * bd.tiles, bd.th0, bd.th1);
          }
          multiply(p, l, u, v, m, count * bd.tiles, 0, g.cout_pad / 16);
          for (int64_t k = 0; k < count; ++k) {
            winograd_detail::output_transform(g, m, k * bd.tiles, bd.th0, bd.th1, bias_pad, yt, p.out_h, p.out_w,
                                              epilogue, 0, g.cout_pad);
            if (l.bands == 1) store_positions(p, g, yt, 0, out_plane, out_plane, y + (n0 + k) * p.out_channels * out_plane);
          }
        }
        if (l.bands > 1) store_positions(p, g, yt, 0, out_plane, out_plane, y + n0 * p.out_channels * out_plane);
      }
    }
  });
}

// Fewer images than two per thread (batch 1 inference): the threads split the output channels.
// A part's weights are transformed, and its input transposed and transformed, by the thread
// that runs it, into that thread's own buffers (tls_part_scratch: U's layout, of which the part
// touches its own channels, and a slot), so nothing one core writes is read by the other, even
// when the caller runs both parts: U shared between the cores was measured 1.5x slower on two
// threads than on one (every call moved it from core to core). Returns false when a part could
// not get its buffers (std::bad_alloc on a worker thread cannot reach the binding).
bool forward_channel_split(const Conv2dParams& p, const Layout& l, const float* x, const float* w,
                           bool flipped, const float* bias_pad, ConvEpilogue epilogue, int64_t parts,
                           std::atomic<bool>& finite, float* y) {
  const Tiles& g = l.g;
  const OutputPlane o = output_plane(p, epilogue);
  const int64_t vectors = g.cout_pad / 16, u_floats = 16 * u_stride(p, g.cout_pad);
  std::atomic<bool> allocated{true};
  parallel_for(parts, 1, [&](int64_t s0, int64_t s1) {
    float* u = nullptr;
    try {
      u = tls_part_scratch.reserve(u_floats + l.slot + taps_floats(p));
    } catch (const std::bad_alloc&) {
      allocated.store(false);
      return;
    }
    const Slot buf = slot_of(l, u + u_floats, 0);
    float* taps = u + u_floats + l.slot;
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t v0 = block_start(vectors, parts, s), v1 = block_start(vectors, parts, s + 1);
      const int64_t co0 = 16 * v0, co1 = std::min(p.out_channels, 16 * v1);
      if (!transform_weight_blocks(p, w, flipped, u, g.cout_pad, v0, v1, taps)) {
        finite.store(false, std::memory_order_relaxed);
        continue;
      }
      std::memset(buf.xt, 0, sizeof(float) * l.xt_floats);  // the padding around every image
      for (int64_t n = 0; n < p.batch; ++n) {
        if (!transpose_image(p, l, x, n, buf.xt)) finite.store(false, std::memory_order_relaxed);
        for (int64_t band = 0; band < l.bands; ++band) {
          const Band bd = band_of(l, band);
          winograd_detail::input_transform(g, buf.xt, buf.v, 0, bd.th0, bd.th1);
          multiply(p, l, u, buf.v, buf.m, bd.tiles, v0, v1);
          winograd_detail::output_transform(g, buf.m, 0, bd.th0, bd.th1, bias_pad, buf.yt, p.out_h, p.out_w, epilogue,
                                            16 * v0, 16 * v1);
        }
        store_positions(p, g, buf.yt, 0, o.size(), o.size(), y + n * p.out_channels * o.size(), co0, co1);
      }
    }
    tls_part_scratch.trim();
  });
  return allocated.load();
}

// Returns false (y then holds garbage) when x or w is not finite: the transforms would turn an
// infinity into NaN (inf - inf) and spread a NaN over a whole 2x2 tile, where the direct
// convolution keeps PyTorch's values; the caller then runs the direct path.
bool forward(const Conv2dParams& p, const float* x, const float* w, bool flipped,
             const float* bias, ConvEpilogue epilogue, float* y) {
  const int64_t threads = num_threads();
  const bool whole_images = images_per_thread(p);
  const int64_t vectors = round16(p.out_channels) / 16;
  const int64_t parts = whole_images ? 1 : std::min(threads, vectors);
  // V and M of a unit within ~512 KiB, half of a Zen 5 L2.
  const Layout l = layout_of(p, int64_t{128} << 10, 16 * ((vectors + parts - 1) / parts));
  const Tiles& g = l.g;
  const int64_t u_floats = whole_images ? 16 * u_stride(p, g.cout_pad) : 0;
  const int64_t taps = whole_images ? (g.cout_pad / 16) * taps_floats(p) : 0;
  float* bias_pad = tls_scratch.reserve(g.cout_pad + u_floats + taps + (whole_images ? threads * l.slot : 0));
  float* u = bias_pad + g.cout_pad;
  float* slots = u + u_floats + taps;
  for (int64_t co = 0; co < g.cout_pad; ++co) bias_pad[co] = (bias != nullptr && co < p.out_channels) ? bias[co] : 0.0f;
  std::atomic<bool> finite{true};
  bool done = true;
  if (whole_images) {
    done = transform_weights(p, w, flipped, u, g.cout_pad, u + u_floats);
    if (done) forward_images(p, l, x, u, bias_pad, epilogue, slots, finite, y);
  } else {
    done = forward_channel_split(p, l, x, w, flipped, bias_pad, epilogue, parts, finite, y);
  }
  tls_scratch.trim();
  return done && finite.load();
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
  return forward(p, x, w, false, bias, ConvEpilogue::kNone, y);
}

bool conv2d_winograd_forward_fused(const Conv2dParams& p, const float* x, const float* w,
                                   const float* bias, ConvEpilogue epilogue, float* y) {
  if (!applies(p)) return false;
  return forward(p, x, w, false, bias, epilogue, y);
}

bool conv2d_winograd_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                     float* dw) {
  // Below 32 channels the transforms and the partial sums outweigh the saved products (16->16
  // at 8x8: 0.20 ms against 0.13 for conv_wgrad512.h, one thread).
  if (!applies(p) || !images_per_thread(p) || std::min(p.in_channels, p.out_channels) < kMinWeightChannels) {
    return false;
  }
  return weight_gradient(p, x, dy, dw);
}

bool conv2d_winograd_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                   float* dx) {
  if (p.pad_h > 2 || p.pad_w > 2) return false;
  const Conv2dParams q = stride1_input_gradient_params(p);
  if (!applies(q) || !images_per_thread(q)) return false;
  return forward(q, dy, w, true, nullptr, ConvEpilogue::kNone, dx);
}

}  // namespace hn::cpu
