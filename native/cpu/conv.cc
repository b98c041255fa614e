// Convolution as im2col + SGEMM, per (image, group):
//   forward          y_g[Cout_g, HWout]   = w_g[Cout_g, Cin_g*kH*kW] @ col[Cin_g*kH*kW, HWout]
//   backward data    col                  = w_g^T @ dy_g, then col2im scatters col into dx_g
//   backward weight  dw_g                += dy_g[Cout_g, HWout] @ col^T
// A 1x1, stride-1, unpadded convolution needs no col: x_g itself is the [Cin_g, HW] matrix.
//
// Threads: with at least two (image, group) items per thread, each thread takes whole items
// (im2col, col2im and SGEMM then run serially inside it: no synchronisation per item); with
// fewer, items run one after another and im2col/col2im and SGEMM spread over the pool.
#include "conv.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>

#include "../common/thread_pool.h"
#include "conv_direct.h"
#include "conv_direct512.h"
#include "conv_sparse.h"
#include "conv_wgrad512.h"
#include "conv_winograd.h"
#include "conv_transpose_k2s2.h"
#include "gemm.h"

namespace hn::cpu {
namespace {

// A 64-byte aligned scratch buffer owned by the calling thread and reused across calls. It is
// allocated on the caller (never on a pool worker), so an allocation failure is a
// std::bad_alloc the binding can turn into a JS error.
class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() { std::free(data_); }

  float* reserve(int64_t floats) {
    if (floats > capacity_) {
      release();
      const int64_t rounded = (std::max<int64_t>(floats, 1024) + 15) / 16 * 16;
      data_ = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(rounded) * 4));
      if (data_ == nullptr) throw std::bad_alloc();
      capacity_ = rounded;
    }
    return data_;
  }

  // A one-off huge convolution should not pin its memory for the life of the thread.
  void trim(int64_t keep_floats) {
    if (capacity_ > keep_floats) release();
  }

 private:
  void release() {
    std::free(data_);
    data_ = nullptr;
    capacity_ = 0;
  }

  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

thread_local Workspace tls_workspace;
constexpr int64_t kKeepWorkspaceFloats = int64_t{16} << 20;  // 64 MiB

// Sizes derived from the params, shared by every kernel below.
struct Dims {
  int64_t cin_g, cout_g;  // channels per group
  int64_t col_rows;       // Cin_g * kH * kW: rows of col, columns of w_g
  int64_t in_plane, out_plane;
  bool direct;            // 1x1, stride 1, no padding, same size: col is x_g itself
};

Dims dims_of(const Conv2dParams& p) {
  Dims d;
  d.cin_g = p.in_channels / p.groups;
  d.cout_g = p.out_channels / p.groups;
  d.col_rows = d.cin_g * p.kernel_h * p.kernel_w;
  d.in_plane = p.in_h * p.in_w;
  d.out_plane = p.out_h * p.out_w;
  d.direct = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
             p.pad_h == 0 && p.pad_w == 0 && p.out_h == p.in_h && p.out_w == p.in_w;
  return d;
}

// Output positions o in [lo, hi) whose input index o * stride + offset lies in [0, in).
void valid_range(int64_t out, int64_t in, int64_t stride, int64_t offset, int64_t* lo,
                 int64_t* hi) {
  int64_t l = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t h = in - 1 - offset < 0 ? 0 : (in - 1 - offset) / stride + 1;
  l = std::min(l, out);
  h = std::min(std::max(h, l), out);
  *lo = l;
  *hi = h;
}

// Rows of col per parallel chunk: about 32K floats of work each.
int64_t row_grain(int64_t out_plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(out_plane, 1)); }

// col[(c, kh, kw), (oh, ow)] = x_g[c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw], 0 in the padding.
// x_g: [Cin_g, in_h, in_w]; col: [Cin_g*kH*kW, out_h*out_w].
void im2col(const Conv2dParams& p, const Dims& d, const float* x_g, float* col) {
  const int64_t kernel_area = p.kernel_h * p.kernel_w;
  parallel_for(d.col_rows, row_grain(d.out_plane), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r / kernel_area, kh = (r % kernel_area) / p.kernel_w, kw = r % p.kernel_w;
      const float* src = x_g + c * d.in_plane;
      float* dst = col + r * d.out_plane;
      const int64_t off_h = kh * p.dilation_h - p.pad_h, off_w = kw * p.dilation_w - p.pad_w;
      int64_t oh_lo, oh_hi, ow_lo, ow_hi;
      valid_range(p.out_h, p.in_h, p.stride_h, off_h, &oh_lo, &oh_hi);
      valid_range(p.out_w, p.in_w, p.stride_w, off_w, &ow_lo, &ow_hi);
      std::fill(dst, dst + oh_lo * p.out_w, 0.0f);
      for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
        float* out_row = dst + oh * p.out_w;
        const float* in_row = src + (oh * p.stride_h + off_h) * p.in_w;
        std::fill(out_row, out_row + ow_lo, 0.0f);
        if (p.stride_w == 1) {
          std::memcpy(out_row + ow_lo, in_row + ow_lo + off_w, (ow_hi - ow_lo) * sizeof(float));
        } else {
          for (int64_t ow = ow_lo; ow < ow_hi; ++ow) out_row[ow] = in_row[ow * p.stride_w + off_w];
        }
        std::fill(out_row + ow_hi, out_row + p.out_w, 0.0f);
      }
      std::fill(dst + oh_hi * p.out_w, dst + d.out_plane, 0.0f);
    }
  });
}

// dx_g[c] = init[c] (or 0) + the sum of every col entry im2col would have read from it.
// Each channel's plane is owned by one thread, so the scatter has no races.
void col2im(const Conv2dParams& p, const Dims& d, const float* col, const float* init,
            float* dx_g) {
  const int64_t kernel_area = p.kernel_h * p.kernel_w;
  const int64_t grain = std::max<int64_t>(1, row_grain(d.out_plane) / kernel_area);
  parallel_for(d.cin_g, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* dst = dx_g + c * d.in_plane;
      std::fill(dst, dst + d.in_plane, init ? init[c] : 0.0f);
      for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
        for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
          const float* src = col + ((c * p.kernel_h + kh) * p.kernel_w + kw) * d.out_plane;
          const int64_t off_h = kh * p.dilation_h - p.pad_h, off_w = kw * p.dilation_w - p.pad_w;
          int64_t oh_lo, oh_hi, ow_lo, ow_hi;
          valid_range(p.out_h, p.in_h, p.stride_h, off_h, &oh_lo, &oh_hi);
          valid_range(p.out_w, p.in_w, p.stride_w, off_w, &ow_lo, &ow_hi);
          for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
            const float* in_row = src + oh * p.out_w;
            float* out_row = dst + (oh * p.stride_h + off_h) * p.in_w;
            if (p.stride_w == 1) {
              for (int64_t ow = ow_lo; ow < ow_hi; ++ow) out_row[ow + off_w] += in_row[ow];
            } else {
              for (int64_t ow = ow_lo; ow < ow_hi; ++ow) out_row[ow * p.stride_w + off_w] += in_row[ow];
            }
          }
        }
      }
    }
  });
}

// How one call's (image, group) items are spread over the pool (see the file comment).
struct Plan {
  bool item_parallel;
  int64_t chunks;  // scratch slots: one per concurrently running chunk
};

Plan plan_items(int64_t items) {
  const int64_t threads = num_threads();
  if (threads > 1 && items >= 2 * threads) return {true, threads};
  return {false, 1};
}

// Calls fn(item, chunk) for every item; items of one chunk run serially on one thread, so
// chunk indexes a private scratch slot. Dynamic: threads take items from a shared counter (a
// thread slowed by other processes takes fewer). Static: chunk c takes a fixed contiguous
// range (for partial sums that must be reduced in a fixed order).
void for_each_item(const Plan& plan, int64_t items, bool dynamic,
                   const std::function<void(int64_t, int64_t)>& fn) {
  if (!plan.item_parallel) {
    for (int64_t i = 0; i < items; ++i) fn(i, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  const int64_t per_chunk = (items + plan.chunks - 1) / plan.chunks;
  parallel_for(plan.chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      if (dynamic) {
        for (int64_t i = next.fetch_add(1); i < items; i = next.fetch_add(1)) fn(i, c);
      } else {
        const int64_t end = std::min(items, (c + 1) * per_chunk);
        for (int64_t i = c * per_chunk; i < end; ++i) fn(i, c);
      }
    }
  });
}

// Floats of one col buffer (none for a direct convolution).
int64_t col_floats_of(const Dims& d) { return d.direct ? 0 : d.col_rows * d.out_plane; }

// The [Cin_g*kH*kW, HWout] matrix of x_g: x_g itself for a direct convolution, else its im2col
// built in `buffer`.
const float* col_matrix(const Conv2dParams& p, const Dims& d, const float* x_g, float* buffer) {
  if (d.direct) return x_g;
  im2col(p, d, x_g, buffer);
  return buffer;
}

// Calls fn(n, g, buffer) for every (image n, group g), spread over the pool as planned (dynamic
// schedule), where buffer is the running chunk's col buffer of col_floats_of(d) floats (nullptr
// for a direct convolution).
template <typename Fn>
void for_each_image_group(const Conv2dParams& p, const Dims& d, Fn fn) {
  const int64_t items = p.batch * p.groups;
  if (items == 0) return;
  const Plan plan = plan_items(items);
  const int64_t col_floats = col_floats_of(d);
  float* scratch = d.direct ? nullptr : tls_workspace.reserve(plan.chunks * col_floats);
  for_each_item(plan, items, true, [&](int64_t item, int64_t chunk) {
    fn(item / p.groups, item % p.groups, d.direct ? nullptr : scratch + chunk * col_floats);
  });
  tls_workspace.trim(kKeepWorkspaceFloats);
}

// out[c] = sum over batch and pixels of t[n, c, :]. Float partial sums per plane in 8 lanes
// (vectorisable), planes added in double: accurate and deterministic.
void channel_sums(const float* t, float* out, int64_t batch, int64_t channels, int64_t plane) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(plane * batch, 1));
  parallel_for(channels, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double total = 0.0;
      for (int64_t n = 0; n < batch; ++n) {
        const float* src = t + (n * channels + c) * plane;
        float lanes[8] = {};
        int64_t i = 0;
        for (; i + 8 <= plane; i += 8) {
          for (int k = 0; k < 8; ++k) lanes[k] += src[i + k];
        }
        double s = 0.0;
        for (int k = 0; k < 8; ++k) s += lanes[k];
        for (; i < plane; ++i) s += src[i];
        total += s;
      }
      out[c] = static_cast<float>(total);
    }
  });
}

// dx = conv2d backward data, each channel plane starting at init[channel] (or 0): the
// transposed convolution passes its bias here instead of adding it in a second pass.
void backward_data_impl(const Conv2dParams& p, const float* dy, const float* w,
                        const float* init, float* dx) {
  // Stride 1 on AVX-512: a direct convolution of dy with the flipped kernels, no col2im.
  if (conv2d_direct512_backward_data(p, dy, w, init, dx)) return;
  // Kernel 2x2, stride 2 on AVX-512: non-overlapping windows, a GEMM stored straight into dx.
  if (conv_transpose2d_k2s2_applies(p)) return conv_transpose2d_k2s2_forward(p, dy, w, init, false, dx);
  const Dims d = dims_of(p);
  for_each_image_group(p, d, [&](int64_t n, int64_t g, float* col) {
    const float* dy_g = dy + (n * p.out_channels + g * d.cout_g) * d.out_plane;
    const float* w_g = w + g * d.cout_g * d.col_rows;
    float* dx_g = dx + (n * p.in_channels + g * d.cin_g) * d.in_plane;
    const float* init_g = init ? init + g * d.cin_g : nullptr;
    if (d.direct) {
      float beta = 0.0f;
      if (init_g) {
        for (int64_t c = 0; c < d.cin_g; ++c) std::fill(dx_g + c * d.in_plane, dx_g + (c + 1) * d.in_plane, init_g[c]);
        beta = 1.0f;
      }
      sgemm(true, false, d.cin_g, d.in_plane, d.cout_g, 1.0f, w_g, d.col_rows, dy_g,
            d.out_plane, beta, dx_g, d.in_plane);
    } else {
      sgemm(true, false, d.col_rows, d.out_plane, d.cout_g, 1.0f, w_g, d.col_rows, dy_g,
            d.out_plane, 0.0f, col, d.out_plane);
      col2im(p, d, col, init_g, dx_g);
    }
  });
}

}  // namespace

// ---- Convolution -----------------------------------------------------------------------------

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y) {
  // 3x3 stride 1 on small planes (AVX-512): Winograd F(2x2, 3x3), 2.25x fewer multiplies.
  if (conv2d_winograd_forward(p, x, w, bias, y)) return;
  // Stride 1 on AVX-512, and thin layers (few output channels, modest Cin*kH*kW) on AVX2: a
  // direct kernel, no im2col at all.
  if (conv2d_direct512_applies(p)) return conv2d_direct512_forward(p, x, w, bias, y);
  if (conv2d_direct_applies(p)) return conv2d_direct_forward(p, x, w, bias, y);
  const Dims d = dims_of(p);
  for_each_image_group(p, d, [&](int64_t n, int64_t g, float* buffer) {
    const float* x_g = x + (n * p.in_channels + g * d.cin_g) * d.in_plane;
    const float* w_g = w + g * d.cout_g * d.col_rows;
    float* y_g = y + (n * p.out_channels + g * d.cout_g) * d.out_plane;
    const float* col = col_matrix(p, d, x_g, buffer);
    // The bias goes in first and SGEMM adds onto it (beta = 1): no second pass over y.
    float beta = 0.0f;
    if (bias) {
      for (int64_t o = 0; o < d.cout_g; ++o) {
        std::fill(y_g + o * d.out_plane, y_g + (o + 1) * d.out_plane, bias[g * d.cout_g + o]);
      }
      beta = 1.0f;
    }
    sgemm(false, false, d.cout_g, d.out_plane, d.col_rows, 1.0f, w_g, d.col_rows, col,
          d.out_plane, beta, y_g, d.out_plane);
  });
}

void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx) {
  // A mostly-zero dy (behind a max pool or a relu): only its nonzero entries are visited.
  if (conv2d_sparse_backward_data(p, dy, w, dx)) return;
  // 3x3 stride 1 on small planes (AVX-512): Winograd with the flipped kernels.
  if (conv2d_winograd_backward_data(p, dy, w, dx)) return;
  backward_data_impl(p, dy, w, nullptr, dx);
}

void conv2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                            float* db) {
  const Dims d = dims_of(p);
  const int64_t w_floats = p.out_channels * d.col_rows;
  // A mostly-zero dy (behind a max pool or a relu): only its nonzero entries are visited.
  if (conv2d_sparse_backward_weight(p, x, dy, dw, db)) return;
  // Stride 1 on AVX-512: Winograd (3x3 on small planes), the channel-vectorised kernel
  // (conv_wgrad512.h), else both operands read in place, no im2col.
  if (dw && conv2d_winograd_backward_weight(p, x, dy, dw)) dw = nullptr;
  if (dw && conv2d_wgrad512(p, x, dy, dw, db)) {
    dw = nullptr;
    db = nullptr;  // summed while dy was transposed
  }
  if (dw && conv2d_direct512_applies(p)) {
    conv2d_direct512_backward_weight(p, x, dy, dw);
    dw = nullptr;
  }
  if (dw) {
    const int64_t items = p.batch * p.groups;
    std::fill(dw, dw + w_floats, 0.0f);
    if (items > 0) {
      const Plan plan = plan_items(items);
      const int64_t col_floats = col_floats_of(d);
      // Layout: [chunks col buffers][chunks - 1 partial weight gradients]; chunk 0 sums into dw.
      float* scratch =
          tls_workspace.reserve(plan.chunks * col_floats + (plan.chunks - 1) * w_floats);
      float* partials = scratch + plan.chunks * col_floats;
      std::fill(partials, partials + (plan.chunks - 1) * w_floats, 0.0f);
      for_each_item(plan, items, false, [&](int64_t item, int64_t chunk) {
        const int64_t n = item / p.groups, g = item % p.groups;
        const float* x_g = x + (n * p.in_channels + g * d.cin_g) * d.in_plane;
        const float* dy_g = dy + (n * p.out_channels + g * d.cout_g) * d.out_plane;
        float* target = (chunk == 0 ? dw : partials + (chunk - 1) * w_floats) +
                        g * d.cout_g * d.col_rows;
        const float* col = col_matrix(p, d, x_g, scratch + chunk * col_floats);
        sgemm(false, true, d.cout_g, d.col_rows, d.out_plane, 1.0f, dy_g, d.out_plane, col,
              d.out_plane, 1.0f, target, d.col_rows);
      });
      // Fixed reduction order: dw = chunk 0 + chunk 1 + ...
      if (plan.chunks > 1) {
        parallel_for(w_floats, 16384, [&](int64_t i0, int64_t i1) {
          for (int64_t c = 1; c < plan.chunks; ++c) {
            const float* part = partials + (c - 1) * w_floats;
            for (int64_t i = i0; i < i1; ++i) dw[i] += part[i];
          }
        });
      }
      tls_workspace.trim(kKeepWorkspaceFloats);
    }
  }
  if (db) channel_sums(dy, db, p.batch, p.out_channels, d.out_plane);
}

// ---- Transposed convolution: the same kernels with the roles swapped --------------------------

void conv_transpose2d_forward(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y) {
  backward_data_impl(p, x, w, bias, y);
}

void conv_transpose2d_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                    float* dx) {
  conv2d_forward(p, dy, w, nullptr, dx);
}

void conv_transpose2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                      float* dw, float* db) {
  // The convolution's input is this op's output gradient, its output gradient is this op's x.
  if (dw) conv2d_backward_weight(p, dy, x, dw, nullptr);
  if (db) channel_sums(dy, db, p.batch, p.in_channels, p.in_h * p.in_w);
}

}  // namespace hn::cpu
