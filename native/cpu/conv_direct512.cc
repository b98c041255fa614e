// Direct convolution on AVX-512: the portable driver (CPU check, padding, weight packing,
// threads, copy-out) around the register tile in conv_direct512_kernel.cc.
#include "conv_direct512.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "../common/thread_pool.h"
#include "conv_direct.h"
#include "cpu_features.h"

namespace hn::cpu {
namespace {

using direct512_detail::BlockArgs;

bool detect_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  // libgcc also checks that the OS saves the ZMM and mask registers (XCR0).
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

// Largest kernel (kH*kW) taken by the direct kernels.
constexpr int64_t kMaxTaps = 81;

// The input gradient as a direct convolution computes in_h*in_w outputs where the true work
// has out_h*out_w: allowed up to this ratio. At 2.25 (the MultiMNIST 5x5 unpadded layer) the
// AVX-512 form still beat SGEMM + col2im by 1.17x (bench/RESULTS.md log 13).
constexpr double kMaxBackwardDataOverhead = 2.5;

struct Layout {
  int co;                // channels per block (8 or 12)
  int64_t tile;          // positions per register tile (48 or 32)
  int64_t blocks;        // ceil(cout / co)
  int64_t row;           // S
  int64_t rows;          // out_h + kH - 1
  int64_t out_stride;    // out_h * S rounded up to the tile
  int64_t plane_stride;  // padded floats per input channel
};

Layout layout_of(const Conv2dParams& p) {
  Layout l;
  // 8 x 48 unless 12-channel blocks waste fewer padded channels; 4 x 96 for at most 4 channels
  // (K2's input gradient has 3: an 8-channel block would spend 5/8 of its FMAs on padding).
  const int64_t waste8 = (p.out_channels + 7) / 8 * 8 - p.out_channels;
  const int64_t waste12 = (p.out_channels + 11) / 12 * 12 - p.out_channels;
  l.co = p.out_channels <= 4 ? 4 : waste12 < waste8 ? 12 : 8;
  l.tile = l.co == 4 ? 96 : l.co == 8 ? 48 : 32;
  l.blocks = (p.out_channels + l.co - 1) / l.co;
  l.row = p.out_w + p.kernel_w - 1;
  l.rows = p.out_h + p.kernel_h - 1;
  l.out_stride = (p.out_h * l.row + l.tile - 1) / l.tile * l.tile;
  // Reads reach position out_stride - 1 + (kH-1)*S + kW-1 = out_stride + rows*S - out_h*S + kW - 2.
  l.plane_stride = l.rows * l.row + (l.out_stride - p.out_h * l.row) + p.kernel_w + 16;
  return l;
}

// Rows here are short (8-32 floats in the small layers): an inline loop the compiler
// vectorises beats a memcpy call per row.
inline void copy_row(float* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

// x_n [Cin][H][W] -> xp [Cin][plane_stride], rows of S floats, the image at (pad_h, pad_w).
// `zeroed`: xp already holds a padded image of this layout, whose zeros are where this one's
// are (only the image is copied, not the whole buffer cleared again).
void pad_image(const Conv2dParams& p, const Layout& l, const float* x_n, float* xp, bool zeroed = false) {
  if (!zeroed) std::memset(xp, 0, sizeof(float) * p.in_channels * l.plane_stride);
  const int64_t r0 = std::max<int64_t>(0, p.pad_h), r1 = std::min(l.rows, p.in_h + p.pad_h);
  const int64_t c0 = std::max<int64_t>(0, p.pad_w), c1 = std::min(l.row, p.in_w + p.pad_w);
  if (r1 <= r0 || c1 <= c0) return;
  for (int64_t ci = 0; ci < p.in_channels; ++ci) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = x_n + (ci * p.in_h + (r - p.pad_h)) * p.in_w + (c0 - p.pad_w);
      copy_row(xp + ci * l.plane_stride + r * l.row + c0, src, c1 - c0);
    }
  }
}

// Block b of w [cout][cin][kh*kw] -> wp [block][cin][kh*kw][co], bias -> bp [block][co]; zeros
// past cout.
void pack_block(const Conv2dParams& p, const Layout& l, const float* w, const float* bias, int64_t b,
                float* wp, float* bp) {
  const int64_t taps = p.kernel_h * p.kernel_w;
  for (int c = 0; c < l.co; ++c) {
    const int64_t o = b * l.co + c;
    bp[b * l.co + c] = (bias != nullptr && o < p.out_channels) ? bias[o] : 0.0f;
  }
  if (l.co == 8) {
    // A vector transpose: at batch 1 the scalar gather below was ~12% of the 64->128 layer.
    const int64_t r_count = p.in_channels * taps;
    const int valid = static_cast<int>(std::min<int64_t>(8, p.out_channels - b * 8));
    direct512_detail::pack_co8(w + b * 8 * r_count, r_count, valid, wp + b * r_count * 8);
    return;
  }
  for (int64_t ci = 0; ci < p.in_channels; ++ci) {
    for (int64_t t = 0; t < taps; ++t) {
      float* dst = wp + ((b * p.in_channels + ci) * taps + t) * l.co;
      for (int c = 0; c < l.co; ++c) {
        const int64_t o = b * l.co + c;
        dst[c] = o < p.out_channels ? w[(o * p.in_channels + ci) * taps + t] : 0.0f;
      }
    }
  }
}

// Block b of image n: the register tiles, stored into y (relu first when `epilogue` says so).
// With kReluMaxPool2x2 the tiles go to `tmp` ([co][out_h][out_w], still in L1 afterwards) and
// the pooled block to y [batch][cout][out_h / 2][out_w / 2].
void run_block(const Conv2dParams& p, const Layout& l, const float* xp, const float* wp,
               const float* bp, int64_t n, int64_t b, ConvEpilogue epilogue, float* tmp, float* y) {
  const bool pool = epilogue == ConvEpilogue::kReluMaxPool2x2;
  BlockArgs a;
  a.xp = xp;
  a.plane_stride = l.plane_stride;
  a.row = l.row;
  a.cin = p.in_channels;
  a.kh = p.kernel_h;
  a.kw = p.kernel_w;
  a.w = wp + b * p.in_channels * p.kernel_h * p.kernel_w * l.co;
  a.bias = bp + b * l.co;
  a.out_stride = l.out_stride;
  a.y = pool ? tmp : y + (n * p.out_channels + b * l.co) * p.out_h * p.out_w;
  a.out_h = p.out_h;
  a.out_w = p.out_w;
  a.valid = static_cast<int>(std::min<int64_t>(l.co, p.out_channels - b * l.co));
  a.relu = epilogue != ConvEpilogue::kNone;
  if (l.co == 4) {
    direct512_detail::block_co4(a);
  } else if (l.co == 8) {
    direct512_detail::block_co8(a);
  } else {
    direct512_detail::block_co12(a);
  }
  if (pool) {
    const int64_t pooled = (p.out_h / 2) * (p.out_w / 2);
    // relu is already applied (max commutes with it).
    direct512_detail::max_pool2x2_planes(tmp, y + (n * p.out_channels + b * l.co) * pooled, a.valid, p.out_h, p.out_w, false);
  }
}

// Small output planes go to the channel-vectorised kernel (see conv_direct512.h): at 8x8 with
// a 3x3 kernel the flattened tiles compute 96 positions for 64 outputs.
constexpr int64_t kChannelMaxPlane = 100;
constexpr int64_t kChannelMinChannels = 32;

// Measured (bench/RESULTS.md log 12): K3 (8x8) 1.17x faster this way; the 16x16 seed layer
// and K1 (32x32) 5-15% slower, so larger planes keep the flattened tiles.
bool use_channel_layout(const Conv2dParams& p) {
  return p.out_h * p.out_w <= kChannelMaxPlane && p.out_channels >= kChannelMinChannels;
}

// Block b (32 channels) of image n through the channel-vectorised kernel, then transposed into y.
void run_channel_block(const Conv2dParams& p, const float* xp, int64_t plane, int64_t row,
                       const float* wq, const float* bq, int64_t n, int64_t b, float* tmp, float* y) {
  const int64_t positions = p.out_h * p.out_w;
  direct512_detail::ChannelArgs a;
  a.xp = xp;
  a.plane_stride = plane;
  a.row = row;
  a.cin = p.in_channels;
  a.kh = p.kernel_h;
  a.kw = p.kernel_w;
  a.w = wq + b * p.in_channels * p.kernel_h * p.kernel_w * 32;
  a.bias = bq + b * 32;
  a.out_h = p.out_h;
  a.out_w = p.out_w;
  a.tmp = tmp;
  direct512_detail::channel_block(a);
  const int64_t valid = std::min<int64_t>(32, p.out_channels - b * 32);
  for (int64_t c = 0; c < valid; ++c) {
    float* dst = y + (n * p.out_channels + b * 32 + c) * positions;
    for (int64_t q = 0; q < positions; ++q) dst[q] = tmp[q * 32 + c];
  }
}

void forward_channels(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                      float* y, std::vector<float>& scratch) {
  const int64_t row = p.out_w + p.kernel_w - 1, rows = p.out_h + p.kernel_h - 1;
  const int64_t plane = rows * row;  // the last read is at plane - 1
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int64_t blocks = (p.out_channels + 31) / 32;
  const int64_t positions = p.out_h * p.out_w;
  const int64_t threads = num_threads();
  const bool image_parallel = threads > 1 && p.batch >= 2 * threads;
  const int64_t slots = image_parallel ? threads : 1;
  const int64_t tmps = image_parallel ? threads : blocks;
  const int64_t w_floats = blocks * p.in_channels * taps * 32, image_floats = p.in_channels * plane;
  scratch.resize(static_cast<size_t>(w_floats + blocks * 32 + slots * image_floats + tmps * positions * 32));
  float* wq = scratch.data();
  float* bq = wq + w_floats;
  float* images = bq + blocks * 32;
  float* tiles = images + slots * image_floats;
  for (int64_t b = 0; b < blocks; ++b) {
    for (int c = 0; c < 32; ++c) {
      const int64_t o = b * 32 + c;
      bq[b * 32 + c] = (bias != nullptr && o < p.out_channels) ? bias[o] : 0.0f;
    }
    for (int64_t ci = 0; ci < p.in_channels; ++ci) {
      for (int64_t t = 0; t < taps; ++t) {
        float* dst = wq + ((b * p.in_channels + ci) * taps + t) * 32;
        for (int c = 0; c < 32; ++c) {
          const int64_t o = b * 32 + c;
          dst[c] = o < p.out_channels ? w[(o * p.in_channels + ci) * taps + t] : 0.0f;
        }
      }
    }
  }
  Layout l{};
  l.row = row;
  l.rows = rows;
  l.plane_stride = plane;
  const int64_t in_image = p.in_channels * p.in_h * p.in_w;
  if (image_parallel) {
    std::atomic<int64_t> next{0};
    parallel_for(slots, 1, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        float* xp = images + s * image_floats;
        float* tmp = tiles + s * positions * 32;
        bool zeroed = false;
        for (int64_t n = next.fetch_add(1); n < p.batch; n = next.fetch_add(1)) {
          pad_image(p, l, x + n * in_image, xp, zeroed);
          zeroed = true;
          for (int64_t b = 0; b < blocks; ++b) run_channel_block(p, xp, plane, row, wq, bq, n, b, tmp, y);
        }
      }
    });
    return;
  }
  for (int64_t n = 0; n < p.batch; ++n) {
    pad_image(p, l, x + n * in_image, images, n > 0);
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        run_channel_block(p, images, plane, row, wq, bq, n, b, tiles + b * positions * 32, y);
      }
    });
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
thread_local std::vector<float> tls_flipped;

std::atomic<bool> g_enabled{true};

}  // namespace

void set_conv_direct512_enabled(bool enabled) { g_enabled.store(enabled); }
bool conv_direct512_enabled() { return g_enabled.load(); }

bool has_avx512() {
  static const bool supported = detect_avx512();
  return supported && use_avx2();
}

bool conv2d_direct512_applies(const Conv2dParams& p) {
  if (!conv_direct_enabled() || !g_enabled.load() || !has_avx512()) return false;
  if (p.stride_h != 1 || p.stride_w != 1 || p.dilation_h != 1 || p.dilation_w != 1 || p.groups != 1) {
    return false;
  }
  if (p.batch < 1 || p.out_h < 1 || p.out_w < 1 || p.pad_h < 0 || p.pad_w < 0) return false;
  // A 1x1 unpadded convolution needs no im2col already (x is SGEMM's operand as it is). Huge
  // kernels or paddings past the kernel (whose padded copy would be mostly zeros) stay on the
  // general path too.
  if (p.kernel_h == 1 && p.kernel_w == 1 && p.pad_h == 0 && p.pad_w == 0) return false;
  return p.kernel_h * p.kernel_w <= kMaxTaps && p.pad_h < p.kernel_h && p.pad_w < p.kernel_w;
}

namespace {

// The flattened tiles with an epilogue. Image-parallel (a padded image and a pool buffer per
// thread slot, weights packed up front) when there are at least two images per thread; else
// one padded image at a time with its channel blocks in parallel, each block packing its own
// weights in the first image's region (at batch 1 the packing is a tenth of the work and would
// otherwise run on one thread).
void forward_flat(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                  ConvEpilogue epilogue, float* y) {
  const Layout l = layout_of(p);
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int64_t w_floats = l.blocks * p.in_channels * taps * l.co;
  const int64_t b_floats = l.blocks * l.co;
  const int64_t image_floats = p.in_channels * l.plane_stride;
  const int64_t tmp_floats = epilogue == ConvEpilogue::kReluMaxPool2x2 ? l.co * p.out_h * p.out_w : 0;
  const int64_t threads = num_threads();
  const bool image_parallel = threads > 1 && p.batch >= 2 * threads;
  const int64_t slots = image_parallel ? threads : 1;
  const int64_t tmps = image_parallel ? threads : l.blocks;
  tls_scratch.resize(static_cast<size_t>(w_floats + b_floats + slots * image_floats + tmps * tmp_floats));
  float* wp = tls_scratch.data();
  float* bp = wp + w_floats;
  float* images = bp + b_floats;
  float* tmp = images + slots * image_floats;
  const int64_t in_image = p.in_channels * p.in_h * p.in_w;

  if (image_parallel) {
    for (int64_t b = 0; b < l.blocks; ++b) pack_block(p, l, w, bias, b, wp, bp);
    std::atomic<int64_t> next{0};
    parallel_for(slots, 1, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        float* xp = images + s * image_floats;
        bool zeroed = false;
        for (int64_t n = next.fetch_add(1); n < p.batch; n = next.fetch_add(1)) {
          pad_image(p, l, x + n * in_image, xp, zeroed);
          zeroed = true;
          for (int64_t b = 0; b < l.blocks; ++b) run_block(p, l, xp, wp, bp, n, b, epilogue, tmp + s * tmp_floats, y);
        }
      }
    });
    return;
  }
  // Blocks from a shared counter: a worker that starts late (asleep, or descheduled on a busy
  // machine) takes only what is left instead of holding up the caller with a fixed half.
  for (int64_t n = 0; n < p.batch; ++n) {
    pad_image(p, l, x + n * in_image, images, n > 0);
    std::atomic<int64_t> next{0};
    parallel_for(std::min(threads, l.blocks), 1, [&](int64_t, int64_t) {
      for (int64_t b = next.fetch_add(1); b < l.blocks; b = next.fetch_add(1)) {
        if (n == 0) pack_block(p, l, w, bias, b, wp, bp);
        run_block(p, l, images, wp, bp, n, b, epilogue, tmp + b * tmp_floats, y);
      }
    });
  }
}

}  // namespace

void conv2d_direct512_forward(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y) {
  TrimOnExit trim{tls_scratch};
  if (use_channel_layout(p)) return forward_channels(p, x, w, bias, y, tls_scratch);
  forward_flat(p, x, w, bias, ConvEpilogue::kNone, y);
}

bool conv2d_direct512_forward_fused(const Conv2dParams& p, const float* x, const float* w,
                                    const float* bias, ConvEpilogue epilogue, float* y) {
  if (!conv2d_direct512_applies(p) || use_channel_layout(p)) return false;
  if (epilogue == ConvEpilogue::kReluMaxPool2x2 && (p.out_h < 2 || p.out_w < 2)) return false;
  TrimOnExit trim{tls_scratch};
  forward_flat(p, x, w, bias, epilogue, y);
  return true;
}

bool conv2d_direct512_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                    const float* init, float* dx) {
  if (p.pad_h > p.kernel_h - 1 || p.pad_w > p.kernel_w - 1) return false;
  if (static_cast<double>(p.in_h * p.in_w) > kMaxBackwardDataOverhead * static_cast<double>(p.out_h * p.out_w)) {
    return false;
  }
  const Conv2dParams q = stride1_input_gradient_params(p);
  if (!conv2d_direct512_applies(q)) return false;
  // wt[ci][co][i][j] = w[co][ci][kH-1-i][kW-1-j]
  const int64_t taps = p.kernel_h * p.kernel_w;
  tls_flipped.resize(static_cast<size_t>(p.in_channels * p.out_channels * taps));
  for (int64_t co = 0; co < p.out_channels; ++co) {
    for (int64_t ci = 0; ci < p.in_channels; ++ci) {
      const float* src = w + (co * p.in_channels + ci) * taps;
      float* dst = tls_flipped.data() + (ci * p.out_channels + co) * taps;
      for (int64_t t = 0; t < taps; ++t) dst[t] = src[taps - 1 - t];
    }
  }
  TrimOnExit trim{tls_flipped};
  conv2d_direct512_forward(q, dy, tls_flipped.data(), init, dx);
  return true;
}

void conv2d_direct512_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                      float* dw) {
  TrimOnExit trim{tls_scratch};
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int64_t S = p.out_w + p.kernel_w - 1;
  const int64_t rows = p.out_h + p.kernel_h - 1;
  const int64_t positions = (p.out_h * S + 15) / 16 * 16;
  // Reads reach position positions - 1 + (kH-1)*S + kW-1 of a padded plane.
  const int64_t plane = rows * S + (positions - p.out_h * S) + p.kernel_w + 16;
  const int64_t co_blocks = (p.out_channels + 3) / 4;
  const int64_t r_count = p.in_channels * taps;
  const int64_t r_blocks = (r_count + 3) / 4;
  const int64_t x_image = p.in_channels * plane;
  const int64_t dy_image = co_blocks * 4 * positions;
  // Images per round: their padded x and dy (about 8 MiB) stay in the last-level cache while
  // every (channel block, tap block) tile sweeps them.
  const int64_t per_image = x_image + dy_image;
  const int64_t group = std::max<int64_t>(1, std::min<int64_t>(p.batch, (int64_t{2} << 20) / std::max<int64_t>(per_image, 1)));
  const int64_t tiles = co_blocks * r_blocks;
  tls_scratch.resize(static_cast<size_t>(group * per_image + tiles * 16));
  float* xs = tls_scratch.data();
  float* dys = xs + group * x_image;
  float* sums = dys + group * dy_image;
  std::fill(sums, sums + tiles * 16, 0.0f);
  // Row r = (ci, i, j) of the (ci, tap) matrix starts at off[r] in an image's padded planes;
  // rows past the last repeat it (their sums are dropped).
  std::vector<int64_t> off(static_cast<size_t>(r_blocks * 4));
  for (int64_t r = 0; r < r_blocks * 4; ++r) {
    const int64_t rr = std::min(r, r_count - 1);
    const int64_t ci = rr / taps, t = rr % taps;
    off[static_cast<size_t>(r)] = ci * plane + (t / p.kernel_w) * S + (t % p.kernel_w);
  }
  Layout l{};  // pad_image's view of the padded x planes
  l.row = S;
  l.rows = rows;
  l.plane_stride = plane;
  const int64_t in_image = p.in_channels * p.in_h * p.in_w;
  const int64_t out_plane = p.out_h * p.out_w;
  for (int64_t n0 = 0; n0 < p.batch; n0 += group) {
    const int64_t g_count = std::min(group, p.batch - n0);
    parallel_for(g_count, 1, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) {
        const int64_t n = n0 + g;
        pad_image(p, l, x + n * in_image, xs + g * x_image);
        float* d = dys + g * dy_image;
        std::memset(d, 0, sizeof(float) * dy_image);
        for (int64_t co = 0; co < p.out_channels; ++co) {
          const float* src = dy + (n * p.out_channels + co) * out_plane;
          for (int64_t oh = 0; oh < p.out_h; ++oh) {
            copy_row(d + co * positions + oh * S, src + oh * p.out_w, p.out_w);
          }
        }
      }
    });
    parallel_for(tiles, 4, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t cb = t / r_blocks, rb = t % r_blocks;
        direct512_detail::WeightTileArgs a;
        a.dy = dys + cb * 4 * positions;
        a.dy_image = dy_image;
        a.x = xs;
        a.x_image = x_image;
        a.off = off.data() + rb * 4;
        a.positions = positions;
        a.images = g_count;
        a.sums = sums + t * 16;
        direct512_detail::weight_tile(a);
      }
    });
  }
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t cb = t / r_blocks, rb = t % r_blocks;
    for (int c = 0; c < 4; ++c) {
      const int64_t co = cb * 4 + c;
      if (co >= p.out_channels) break;
      for (int k = 0; k < 4; ++k) {
        const int64_t r = rb * 4 + k;
        if (r >= r_count) break;
        dw[co * r_count + r] = sums[t * 16 + c * 4 + k];
      }
    }
  }
}

}  // namespace hn::cpu
