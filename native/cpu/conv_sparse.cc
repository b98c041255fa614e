// Sparse-gradient convolution backward (conv_sparse.h): the driver (applicability, density
// sample, threads, scratch) and the portable kernels.
#include "conv_sparse.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "../common/thread_pool.h"
#include "cpu_features.h"

namespace hn::cpu {
namespace sparse_detail {
namespace {

int64_t compact_portable(const float* v, int64_t n, int32_t* idx, float* val) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) {
    // Branch-free: always write, advance only past a nonzero (NaN != 0 is true).
    idx[k] = static_cast<int32_t>(i);
    val[k] = v[i];
    k += v[i] != 0.0f ? 1 : 0;
  }
  return k;
}

void gather_axpy_portable(float* acc, int64_t len, const float* rows, int64_t stride,
                          const int32_t* idx, const float* val, int64_t count, bool accumulate) {
  if (!accumulate) std::fill(acc, acc + len, 0.0f);
  for (int64_t k = 0; k < count; ++k) {
    const float g = val[k];
    const float* __restrict r = rows + idx[k] * stride;
    float* __restrict a = acc;
    for (int64_t i = 0; i < len; ++i) a[i] += g * r[i];
  }
}

void gather_runs_portable(float* dst, const float* src, int64_t runs, int64_t per, int64_t outer,
                          int64_t inner, int64_t width) {
  for (int64_t c = 0; c < runs; c += per, src += outer) {
    for (int64_t h = 0; h < per; ++h, dst += width) {
      const float* s = src + h * inner;
      for (int64_t i = 0; i < width; ++i) dst[i] = s[i];
    }
  }
}

void col2im_rows_portable(const Col2imArgs& a) {
  for (int64_t c = 0; c < a.cin; ++c) {
    for (int64_t ih = 0; ih < a.ph; ++ih) {
      float* out = a.dx + (c * a.ph + ih) * a.pw;
      std::fill(out, out + a.pw, 0.0f);
      for (int32_t t = a.tap_start[ih]; t < a.tap_start[ih + 1]; ++t) {
        const float* const* rows = a.rows + a.tap_oh[t] * a.out_w;
        const int64_t off = (c * a.kernel_h + a.tap_i[t]) * a.kernel_w;
        for (int64_t ow = 0; ow < a.out_w; ++ow) {
          const float* src = rows[ow] + off;
          float* dst = out + ow * a.stride_w;
          for (int64_t j = 0; j < a.kernel_w; ++j) dst[j] += src[j];
        }
      }
    }
  }
}

bool all_finite_portable(const float* v, int64_t n) {
  // Exponent all ones: inf or NaN. An integer max over |bits| vectorises without fast-math.
  uint32_t worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, v + i, sizeof bits);
    bits &= 0x7fffffffu;
    worst = bits > worst ? bits : worst;
  }
  return worst < 0x7f800000u;
}

}  // namespace

const Kernels& portable_kernels() {
  static const Kernels k{compact_portable, gather_axpy_portable, gather_runs_portable,
                         col2im_rows_portable, all_finite_portable, nullptr};
  return k;
}

}  // namespace sparse_detail

namespace {

using sparse_detail::Kernels;

std::atomic<bool> g_enabled{true};
std::atomic<bool> g_force{false};
std::atomic<int> g_max_isa{kSparseIsaAvx512};

// When the sparse path wins (CPU time against the dense kernels on AVX-512 at densities 5-60%,
// bench/RESULTS.md log 16 and 21): on small output planes with few output channels (the MultiMNIST
// 10->20 layer gains 1.2-2x; layers of 64-128 channels have channel-vectorised and Winograd
// dense kernels that stay ahead down to ~10% nonzeros), with im2col rows long enough that the
// row sums outweigh building the rows (not the 1->10 5x5 layer: 25 floats), and for the input
// gradient only where each input row fits one vector (the per-row sums of wider rows cost more
// than the dense kernel saves: 0.3-0.8x on 16x16 and 32x32 planes).
constexpr int64_t kMaxPositions = 256;
constexpr int64_t kMaxChannels = 32;
constexpr int64_t kMinRow = 64;
constexpr int64_t kMaxNarrowWidth = 16;
constexpr double kMaxDensityWeight = 0.35;
constexpr double kMaxDensityData = 0.25;
// Rows of im2col longer than this would make the per-thread scratch large; dense is fine there.
constexpr int64_t kMaxRow = 8192;
// Per-thread scratch bound: im2col rows of one image, and the entry lists of one image's dy.
constexpr int64_t kMaxScratchFloats = int64_t{4} << 20;
// Images sampled to estimate the density of dy.
constexpr int64_t kSampleImages = 8;

const Kernels& kernels() {
  if (force_portable()) return sparse_detail::portable_kernels();
  const int isa = g_max_isa.load();
  if (isa >= kSparseIsaAvx512) {
    if (const Kernels* k = sparse_detail::avx512_kernels()) return *k;
  }
#if defined(HN_HAVE_AVX2)
  if (isa >= kSparseIsaAvx2 && use_avx2()) return *sparse_detail::avx2_kernels();
#endif
  return sparse_detail::portable_kernels();
}

int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// Sizes shared by both gradients.
struct Geometry {
  int64_t taps;       // kH * kW
  int64_t row;        // Cin * kH * kW: one im2col row
  int64_t row_pad;    // row rounded up to 16 floats (zero tail)
  int64_t positions;  // out_h * out_w
  int64_t ph, pw;     // padded image size
  bool padded;        // the image must be copied into a zero-padded buffer first
};

Geometry geometry_of(const Conv2dParams& p) {
  Geometry g;
  g.taps = p.kernel_h * p.kernel_w;
  g.row = p.in_channels * g.taps;
  g.row_pad = round16(g.row);
  g.positions = p.out_h * p.out_w;
  g.ph = std::max(p.pad_h + p.in_h, (p.out_h - 1) * p.stride_h + p.kernel_h);
  g.pw = std::max(p.pad_w + p.in_w, (p.out_w - 1) * p.stride_w + p.kernel_w);
  g.padded = g.ph != p.in_h || g.pw != p.in_w || p.pad_h != 0 || p.pad_w != 0;
  return g;
}

bool applies(const Conv2dParams& p) {
  if (!g_enabled.load()) return false;
  if (p.groups != 1 || p.dilation_h != 1 || p.dilation_w != 1) return false;
  if (p.batch < 1 || p.out_h < 1 || p.out_w < 1 || p.out_channels < 1 || p.in_channels < 1) return false;
  if (p.in_channels * p.kernel_h * p.kernel_w > kMaxRow || p.out_h * p.out_w > kMaxScratchFloats) return false;
  const Geometry g = geometry_of(p);
  return g.positions * g.row_pad <= kMaxScratchFloats && g.positions * p.out_channels <= kMaxScratchFloats &&
         p.in_channels * g.ph * g.pw <= kMaxScratchFloats;
}

// True when a sample of images of dy has at most max_density nonzeros.
bool sparse_enough(const Conv2dParams& p, const Kernels& k, const float* dy, double max_density) {
  const int64_t per_image = p.out_channels * p.out_h * p.out_w;
  const int64_t samples = std::min(p.batch, kSampleImages);
  thread_local std::vector<int32_t> idx;
  thread_local std::vector<float> val;
  if (static_cast<int64_t>(idx.size()) < per_image + 16) {
    idx.resize(per_image + 16);
    val.resize(per_image + 16);
  }
  int64_t nonzero = 0;
  for (int64_t s = 0; s < samples; ++s) {
    const int64_t n = s * p.batch / samples;
    nonzero += k.compact(dy + n * per_image, per_image, idx.data(), val.data());
  }
  return static_cast<double>(nonzero) <= max_density * static_cast<double>(samples * per_image);
}

// Whether the sparse path should take this call (always when the mode forces it).
bool worth_it(const Conv2dParams& p, const Kernels& k, const float* dy, bool input_gradient) {
  if (g_force.load()) return true;
  // Measured with the vector kernels only: the portable ones are for tests and other CPUs.
  if (&k == &sparse_detail::portable_kernels()) return false;
  const Geometry g = geometry_of(p);
  if (g.positions > kMaxPositions || g.row < kMinRow || p.out_channels > kMaxChannels) return false;
  if (input_gradient && g.pw > kMaxNarrowWidth) return false;
  return sparse_enough(p, k, dy, input_gradient ? kMaxDensityData : kMaxDensityWeight);
}

// The image in the layout the row gathers read: x itself when no padding is needed, else a
// zero-padded copy [Cin][ph][pw] in `buffer`.
const float* padded_image(const Conv2dParams& p, const Geometry& g, const float* image,
                          float* buffer) {
  if (!g.padded) return image;
  std::fill(buffer, buffer + p.in_channels * g.ph * g.pw, 0.0f);
  for (int64_t c = 0; c < p.in_channels; ++c) {
    for (int64_t h = 0; h < p.in_h; ++h) {
      std::memcpy(buffer + (c * g.ph + h + p.pad_h) * g.pw + p.pad_w,
                  image + (c * p.in_h + h) * p.in_w, static_cast<size_t>(p.in_w) * sizeof(float));
    }
  }
  return buffer;
}

// Offset of each output position's patch origin in a padded image (a table: divisions per
// entry would cost more than the entry's arithmetic).
const std::vector<int64_t>& patch_origins(const Conv2dParams& p, const Geometry& g) {
  thread_local std::vector<int64_t> origins;
  origins.resize(g.positions);
  for (int64_t oh = 0, q = 0; oh < p.out_h; ++oh) {
    for (int64_t ow = 0; ow < p.out_w; ++ow, ++q) origins[q] = oh * p.stride_h * g.pw + ow * p.stride_w;
  }
  return origins;
}

// The nonzero entries of one image's dy, listed channel by channel: entries first[c] ..
// first[c + 1] - 1 belong to channel c.
struct Lists {
  std::vector<int32_t> idx;
  std::vector<float> val;
  std::vector<int64_t> first;

  void build(const Kernels& k, const float* dy_image, int64_t channels, int64_t positions) {
    if (static_cast<int64_t>(idx.size()) < channels * positions + 16) {
      idx.resize(channels * positions + 16);
      val.resize(channels * positions + 16);
    }
    first.resize(channels + 1);
    int64_t total = 0;
    for (int64_t c = 0; c < channels; ++c) {
      first[c] = total;
      total += k.compact(dy_image + c * positions, positions, idx.data() + total, val.data() + total);
    }
    first[channels] = total;
  }
};

// One thread's scratch, kept between calls (the entry lists, then what each gradient needs).
struct Scratch {
  Lists lists;
  // Weight gradient.
  std::vector<float> dw;             // [Cout][row_pad] partial sums
  std::vector<double> db;            // [Cout]
  std::vector<float> col;            // [positions][row_pad]: im2col rows of the listed positions
  std::vector<int64_t> stamp;        // [positions]: the image whose row is in col
  std::vector<float> image;          // padded image
  // Input gradient.
  std::vector<int64_t> start;        // [positions + 1]: the entries of each position
  std::vector<int32_t> channel;      // entries sorted by position: channel and value
  std::vector<float> value;
  std::vector<float> dcol;           // [positions][row_pad]: patch rows of the listed positions
  std::vector<const float*> rows;    // [positions]: each position's patch row (or a zero row)
  std::vector<float> dimage;         // padded input gradient
};

// Sum of v[0..n) in float lanes (vectorisable), returned in double (as channel_sums in conv.cc).
double lane_sum(const float* v, int64_t n) {
  float lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) lanes[l] += v[i + l];
  }
  double s = 0.0;
  for (int l = 0; l < 8; ++l) s += lanes[l];
  for (; i < n; ++i) s += v[i];
  return s;
}

// For each row ih of the padded input, the (kernel row, output row) pairs that read it.
struct Taps {
  std::vector<int32_t> start, i, oh;

  void build(const Conv2dParams& p, const Geometry& g) {
    start.assign(g.ph + 1, 0);
    i.clear();
    oh.clear();
    for (int64_t ih = 0; ih < g.ph; ++ih) {
      for (int64_t k = 0; k < p.kernel_h; ++k) {
        const int64_t o = ih - k;
        if (o < 0 || o % p.stride_h != 0 || o / p.stride_h >= p.out_h) continue;
        i.push_back(static_cast<int32_t>(k));
        oh.push_back(static_cast<int32_t>(o / p.stride_h));
      }
      start[ih + 1] = static_cast<int32_t>(i.size());
    }
  }
};

template <typename T>
void ensure(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(n);
}

}  // namespace

void set_conv_sparse_mode(bool enabled, bool force, int max_isa) {
  g_enabled.store(enabled);
  g_force.store(force);
  g_max_isa.store(max_isa);
}

bool conv_sparse_enabled() { return g_enabled.load(); }

namespace {

// One call: which gradients, from which operands.
struct Job {
  const Conv2dParams& p;
  const Geometry& g;
  const Kernels& k;
  const float* x;        // for dw
  float* dx;             // each may be nullptr
  float* dw;
  float* db;
  const float* packed;   // w as rows of row_pad floats, for dx
  const int64_t* origin; // patch origin of each output position
  const Taps* taps;      // for dx
  const float* zero_row;
};

// Adds image n's contribution to the thread's partial dw and db (entries in s.lists).
void weight_image(const Job& j, Scratch& s, int64_t n) {
  const Conv2dParams& p = j.p;
  const Geometry& g = j.g;
  const int64_t in_image = p.in_channels * p.in_h * p.in_w;
  const float* image = padded_image(p, g, j.x + n * in_image, s.image.data());
  const int64_t total = s.lists.first[p.out_channels];
  const int32_t* idx = s.lists.idx.data();
  const float* val = s.lists.val.data();
  // im2col rows: of every position when the entries outnumber the positions (then most are
  // listed), else of the listed ones only (none for db alone).
  if (j.dw == nullptr) {
  } else if (total >= g.positions) {
    for (int64_t q = 0; q < g.positions; ++q) {
      j.k.gather_runs(s.col.data() + q * g.row_pad, image + j.origin[q], p.in_channels * p.kernel_h, p.kernel_h,
                      g.ph * g.pw, g.pw, p.kernel_w);
    }
  } else {
    for (int64_t e = 0; e < total; ++e) {
      const int32_t q = idx[e];
      if (s.stamp[q] == n) continue;
      s.stamp[q] = n;
      j.k.gather_runs(s.col.data() + q * g.row_pad, image + j.origin[q], p.in_channels * p.kernel_h, p.kernel_h,
                      g.ph * g.pw, g.pw, p.kernel_w);
    }
  }
  for (int64_t co = 0; co < p.out_channels; ++co) {
    const int64_t b = s.lists.first[co], count = s.lists.first[co + 1] - b;
    if (count == 0) continue;
    if (j.dw) j.k.gather_axpy(s.dw.data() + co * g.row_pad, g.row_pad, s.col.data(), g.row_pad, idx + b, val + b, count, true);
    s.db[co] += lane_sum(val + b, count);
  }
}

// Writes image n's dx (entries in s.lists).
void data_image(const Job& j, Scratch& s, int64_t n) {
  const Conv2dParams& p = j.p;
  const Geometry& g = j.g;
  const int64_t total = s.lists.first[p.out_channels];
  // Counting sort of the entries by position; within a position, channels ascending.
  std::fill(s.start.begin(), s.start.begin() + g.positions + 1, 0);
  for (int64_t e = 0; e < total; ++e) ++s.start[s.lists.idx[e] + 1];
  for (int64_t q = 0; q < g.positions; ++q) s.start[q + 1] += s.start[q];
  ensure(s.channel, total);
  ensure(s.value, total);
  for (int64_t co = 0; co < p.out_channels; ++co) {
    for (int64_t e = s.lists.first[co]; e < s.lists.first[co + 1]; ++e) {
      const int64_t slot = s.start[s.lists.idx[e]]++;
      s.channel[slot] = static_cast<int32_t>(co);
      s.value[slot] = s.lists.val[e];
    }
  }
  // start[q] now holds the end of position q's entries. Each listed position's patch row is
  // the sum of its entries' kernel rows.
  int64_t begin = 0;
  for (int64_t q = 0; q < g.positions; ++q) {
    const int64_t end = s.start[q];
    if (end == begin) {
      s.rows[q] = j.zero_row;
      continue;
    }
    float* row = s.dcol.data() + q * g.row_pad;
    j.k.gather_axpy(row, g.row_pad, j.packed, g.row_pad, s.channel.data() + begin, s.value.data() + begin,
                    end - begin, false);
    s.rows[q] = row;
    begin = end;
  }
  const int64_t in_image = p.in_channels * p.in_h * p.in_w;
  float* target = g.padded ? s.dimage.data() : j.dx + n * in_image;
  const sparse_detail::Col2imArgs args{target, p.in_channels, g.ph, g.pw, p.kernel_h, p.kernel_w, p.out_w,
                                       p.stride_w, s.rows.data(), j.taps->start.data(), j.taps->i.data(),
                                       j.taps->oh.data()};
  j.k.col2im_rows(args);
  if (g.padded) {
    float* out = j.dx + n * in_image;
    for (int64_t c = 0; c < p.in_channels; ++c) {
      for (int64_t h = 0; h < p.in_h; ++h) {
        std::memcpy(out + (c * p.in_h + h) * p.in_w, target + (c * g.ph + h + p.pad_h) * g.pw + p.pad_w,
                    static_cast<size_t>(p.in_w) * sizeof(float));
      }
    }
  }
}

// Runs the job over the batch: build(n, lists) lists image n's entries, then each requested
// gradient is computed from them. Images are split statically over the threads, and the
// threads' partial dw and db are added in a fixed order (deterministic for a thread count).
// For dw, each image of x is checked finite on the way (in parallel, while it is in cache);
// returns false when one is not: the outputs are then unspecified and the caller falls back.
template <typename Build>
bool run(Job& j, const Build& build) {
  const Conv2dParams& p = j.p;
  const Geometry& g = j.g;
  thread_local std::vector<float> tls_packed, tls_zero;
  thread_local Taps tls_taps;
  if (j.dx) {
    // The kernels as rows of row_pad floats (zero tail), the operand of every patch-row sum.
    tls_packed.assign(p.out_channels * g.row_pad, 0.0f);
    for (int64_t co = 0; co < p.out_channels; ++co) {
      std::copy(j.packed + co * g.row, j.packed + (co + 1) * g.row, tls_packed.data() + co * g.row_pad);
    }
    j.packed = tls_packed.data();
    tls_taps.build(p, g);
    j.taps = &tls_taps;
    tls_zero.assign(g.row_pad, 0.0f);
    j.zero_row = tls_zero.data();
  }
  j.origin = patch_origins(p, g).data();
  const bool weights = j.dw != nullptr || j.db != nullptr;

  const int64_t chunks = std::min<int64_t>(num_threads(), p.batch);
  const int64_t per_chunk = (p.batch + chunks - 1) / chunks;
  // Scratch of the calling thread; the pool's workers use its slots through this reference
  // (naming a thread_local inside the task would give each worker its own).
  thread_local std::vector<Scratch> tls_scratch;
  std::vector<Scratch>& scratch = tls_scratch;
  if (static_cast<int64_t>(scratch.size()) < chunks) scratch.resize(chunks);
  for (int64_t c = 0; c < chunks; ++c) {
    Scratch& s = scratch[c];
    if (weights) {
      s.dw.assign(j.dw ? p.out_channels * g.row_pad : 0, 0.0f);
      s.db.assign(p.out_channels, 0.0);
      ensure(s.col, g.positions * g.row_pad);
      s.stamp.assign(g.positions, -1);
      if (g.padded) ensure(s.image, p.in_channels * g.ph * g.pw);
    }
    if (j.dx) {
      ensure(s.start, g.positions + 1);
      ensure(s.dcol, g.positions * g.row_pad);
      ensure(s.rows, g.positions);
      if (g.padded) ensure(s.dimage, p.in_channels * g.ph * g.pw);
    }
  }
  const int64_t in_image = p.in_channels * p.in_h * p.in_w;
  std::atomic<bool> finite{true};
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      Scratch& s = scratch[c];
      const int64_t end = std::min(p.batch, (c + 1) * per_chunk);
      for (int64_t n = c * per_chunk; n < end; ++n) {
        if (j.dw && !j.k.all_finite(j.x + n * in_image, in_image)) {
          finite.store(false);
          return;
        }
        build(n, s.lists);
        if (weights) weight_image(j, s, n);
        if (j.dx) data_image(j, s, n);
      }
    }
  });
  if (!finite.load()) return false;
  if (!weights) return true;
  for (int64_t co = 0; co < p.out_channels; ++co) {
    if (j.dw) {
      float* out = j.dw + co * g.row;
      const float* first = scratch[0].dw.data() + co * g.row_pad;
      std::copy(first, first + g.row, out);
      for (int64_t c = 1; c < chunks; ++c) {
        const float* part = scratch[c].dw.data() + co * g.row_pad;
        for (int64_t r = 0; r < g.row; ++r) out[r] += part[r];
      }
    }
    if (j.db) {
      double sum = 0.0;
      for (int64_t c = 0; c < chunks; ++c) sum += scratch[c].db[co];
      j.db[co] = static_cast<float>(sum);
    }
  }
  return true;
}

// Lists the nonzero entries of a dense dy.
struct DenseEntries {
  const Conv2dParams& p;
  const Kernels& k;
  const float* dy;
  void operator()(int64_t n, Lists& lists) const {
    const int64_t positions = p.out_h * p.out_w;
    lists.build(k, dy + n * p.out_channels * positions, p.out_channels, positions);
  }
};

// Lists the pooled gradient's entries at their windows' argmax (conv2d_pooled_backward).
struct PooledEntries {
  const Conv2dParams& p;
  const PoolRouting& r;
  const Kernels& k;
  const float* y;
  const float* grad;
  void operator()(int64_t n, Lists& lists) const {
    const int64_t positions = p.out_h * p.out_w, pooled = r.out_h * r.out_w;
    if (static_cast<int64_t>(lists.idx.size()) < p.out_channels * positions + 16) {
      lists.idx.resize(p.out_channels * positions + 16);
      lists.val.resize(p.out_channels * positions + 16);
    }
    lists.first.resize(p.out_channels + 1);
    const bool plain = r.kernel_h == 2 && r.kernel_w == 2 && r.stride_h == 2 && r.stride_w == 2;
    int64_t total = 0;
    for (int64_t c = 0; c < p.out_channels; ++c) {
      lists.first[c] = total;
      const float* yp = y + (n * p.out_channels + c) * positions;
      const float* gp = grad + (n * p.out_channels + c) * pooled;
      int32_t* idx = lists.idx.data() + total;
      float* val = lists.val.data() + total;
      if (plain && k.route_2x2) {
        total += k.route_2x2(yp, p.out_w, gp, r.out_h, r.out_w, r.relu, idx, val);
        continue;
      }
      for (int64_t i = 0; i < r.out_h; ++i) {
        for (int64_t jj = 0; jj < r.out_w; ++jj) {
          const float gv = gp[i * r.out_w + jj];
          if (gv == 0.0f) continue;
          // max_pool2d_forward's rule: strictly greater keeps the first maximum, a NaN wins.
          float best = 0.0f;
          int64_t at = -1;
          for (int64_t a = 0; a < r.kernel_h; ++a) {
            for (int64_t b = 0; b < r.kernel_w; ++b) {
              const int64_t q = (i * r.stride_h + a) * p.out_w + jj * r.stride_w + b;
              const float v = yp[q];
              if (at < 0 || v > best || std::isnan(v)) {
                best = v;
                at = q;
              }
            }
          }
          if (r.relu && !(best > 0.0f)) continue;
          *idx++ = static_cast<int32_t>(at);
          *val++ = gv;
          ++total;
        }
      }
    }
    lists.first[p.out_channels] = total;
  }
};

}  // namespace

bool conv2d_pooled_backward(const Conv2dParams& p, const PoolRouting& r, const float* x,
                            const float* w, const float* y, const float* grad, float* dx,
                            float* dw, float* db) {
  if (!applies(p)) return false;
  if (r.kernel_h < 1 || r.kernel_w < 1 || r.stride_h < 1 || r.stride_w < 1 || r.out_h < 1 || r.out_w < 1) return false;
  if ((r.out_h - 1) * r.stride_h + r.kernel_h > p.out_h || (r.out_w - 1) * r.stride_w + r.kernel_w > p.out_w) return false;
  const Kernels& k = kernels();
  const Geometry g = geometry_of(p);
  // As for the sparse path (log 16, 21): with an input gradient, only where each input row fits
  // one vector and the output channels are few (W1's 64->128 16x16 layer: 34 ms fused against
  // 20 ms node by node); the vector kernels only; unless the mode forces it. (The weight
  // gradient alone, a first layer's, gains at every size measured: W1's 3->64 32x32 4.2 -> 2.6 ms.)
  const bool narrow = g.pw <= kMaxNarrowWidth && p.out_channels <= kMaxChannels;
  if (!g_force.load() && ((dx && !narrow) || &k == &sparse_detail::portable_kernels())) return false;
  if (dx && !k.all_finite(w, p.out_channels * g.row)) return false;
  if (!dx && !dw && !db) return true;
  Job j{p, g, k, x, dx, dw, db, w, nullptr, nullptr, nullptr};
  return run(j, PooledEntries{p, r, k, y, grad});
}

bool conv2d_sparse_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                   float* dw, float* db) {
  if (dw == nullptr || !applies(p)) return false;
  const Kernels& k = kernels();
  if (!worth_it(p, k, dy, false)) return false;
  const Geometry g = geometry_of(p);
  Job j{p, g, k, x, nullptr, dw, db, nullptr, nullptr, nullptr, nullptr};
  return run(j, DenseEntries{p, k, dy});
}

bool conv2d_sparse_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                 float* dx) {
  if (!applies(p)) return false;
  const Kernels& k = kernels();
  const Geometry g = geometry_of(p);
  if (!k.all_finite(w, p.out_channels * g.row)) return false;
  if (!worth_it(p, k, dy, true)) return false;
  Job j{p, g, k, nullptr, dx, nullptr, nullptr, w, nullptr, nullptr, nullptr};
  return run(j, DenseEntries{p, k, dy});
}

}  // namespace hn::cpu
