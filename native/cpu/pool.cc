#include "pool.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "../common/thread_pool.h"
#include "cpu_features.h"
#include "pool_detail.h"

namespace hn::cpu {
namespace {

// Floor division (rounds toward -inf, unlike C++'s '/').
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Planes per task: roughly 16K output elements, at least one plane.
int64_t plane_grain(const Pool2dShape& s) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, s.out_h * s.out_w * s.kernel_h * s.kernel_w));
}

// The input rows (or columns) a window starting at `start` covers: the first in-bounds tap and
// the exclusive end, stepping by `dilation`.
struct Span {
  int64_t begin, end;
};

Span dilated_span(int64_t start, int64_t kernel, int64_t dilation, int64_t in) {
  int64_t begin = start;
  if (begin < 0) begin += ((-begin + dilation - 1) / dilation) * dilation;
  const int64_t end = std::min(start + (kernel - 1) * dilation + 1, in);
  return {begin, end};
}

// Average pooling's window: [begin, end) clipped to the input, and the size of the window
// clipped to the padded input (the count_include_pad divisor), as PyTorch computes them.
struct AvgSpan {
  int64_t begin, end, padded_size;
};

AvgSpan avg_span(int64_t start, int64_t kernel, int64_t pad, int64_t in) {
  const int64_t padded_end = std::min(start + kernel, in + pad);
  return {std::max<int64_t>(start, 0), std::min(padded_end, in), padded_end - start};
}

int64_t avg_divisor(const AvgSpan& h, const AvgSpan& w, bool count_include_pad,
                    int64_t divisor_override) {
  if (divisor_override > 0) return divisor_override;
  if (count_include_pad) return h.padded_size * w.padded_size;
  return (h.end - h.begin) * (w.end - w.begin);
}

}  // namespace

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                         int64_t dilation, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0),
                          stride) + 1;
  // The last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// ---- Max pooling ------------------------------------------------------------------------------

namespace {

// The common 2x2, stride 2 window with no padding and every window inside the input: four
// loads, a branch-free chain of selects (the compiler vectorises it), no bounds arithmetic per
// element. Same tie and NaN rules as the general loop: the first maximum wins, a NaN replaces
// anything before it.
bool is_plain_2x2(const Pool2dShape& s) {
  return s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_h == 0 &&
         s.pad_w == 0 && s.dilation_h == 1 && s.dilation_w == 1 && 2 * s.out_h <= s.in_h &&
         2 * s.out_w <= s.in_w;
}

void max_pool2d_2x2_plane(const float* xp, float* yp, int32_t* ip, const Pool2dShape& s) {
  const int64_t in_w = s.in_w, out_w = s.out_w;
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const float* r0 = xp + 2 * oh * in_w;
    const float* r1 = r0 + in_w;
    float* yr = yp + oh * out_w;
    int32_t* ir = ip + oh * out_w;
    const int32_t base = static_cast<int32_t>(2 * oh * in_w);
    const int32_t w = static_cast<int32_t>(in_w);
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const float a = r0[2 * ow], b = r0[2 * ow + 1], d = r1[2 * ow], e = r1[2 * ow + 1];
      const int32_t c = base + 2 * static_cast<int32_t>(ow);
      float m = a;
      int32_t i = c;
      bool t = b > m || b != b;
      m = t ? b : m;
      i = t ? c + 1 : i;
      t = d > m || d != d;
      m = t ? d : m;
      i = t ? c + w : i;
      t = e > m || e != e;
      m = t ? e : m;
      i = t ? c + w + 1 : i;
      yr[ow] = m;
      ir[ow] = i;
    }
  }
}

// The gradient of the 2x2/stride-2 pool written in one pass, no memset first: each window's
// four inputs get the output gradient at the argmax and 0 elsewhere; rows and columns past the
// last window get 0. An index outside its window (max_pool2d_2x2_plane never makes one) only
// zeroes that window. Returns whether every index lies in [-1, plane).
bool max_pool2d_2x2_backward_plane(const float* gy, const int32_t* ip, float* gx, const Pool2dShape& s) {
  const int64_t in_w = s.in_w, out_w = s.out_w;
  const int32_t plane = static_cast<int32_t>(s.in_h * in_w);
  bool in_range = true;
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    float* r0 = gx + 2 * oh * in_w;
    float* r1 = r0 + in_w;
    const float* gr = gy + oh * out_w;
    const int32_t* ir = ip + oh * out_w;
    const int32_t base = static_cast<int32_t>(2 * oh * in_w);
    const int32_t w = static_cast<int32_t>(in_w);
    // Each input row in its own loop of pairs: the stores stay contiguous and vectorise.
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const int32_t c = base + 2 * static_cast<int32_t>(ow);
      const int32_t i = ir[ow];
      const float g = gr[ow];
      r0[2 * ow] = i == c ? g : 0.0f;
      r0[2 * ow + 1] = i == c + 1 ? g : 0.0f;
    }
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const int32_t c = base + w + 2 * static_cast<int32_t>(ow);
      const int32_t i = ir[ow];
      const float g = gr[ow];
      r1[2 * ow] = i == c ? g : 0.0f;
      r1[2 * ow + 1] = i == c + 1 ? g : 0.0f;
    }
    bool row_ok = true;
    for (int64_t ow = 0; ow < out_w; ++ow) row_ok &= ir[ow] >= -1 && ir[ow] < plane;
    in_range &= row_ok;
    for (int64_t col = 2 * out_w; col < in_w; ++col) r0[col] = r1[col] = 0.0f;
  }
  for (int64_t row = 2 * s.out_h; row < s.in_h; ++row) std::memset(gx + row * in_w, 0, sizeof(float) * in_w);
  return in_range;
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dShape& s) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  if (is_plain_2x2(s)) {
    parallel_for(s.planes, plane_grain(s), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        max_pool2d_2x2_plane(x + p * in_plane, y + p * out_plane, indices + p * out_plane, s);
      }
    });
    return;
  }
  parallel_for(s.planes, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * in_plane;
      float* yp = y + p * out_plane;
      int32_t* ip = indices + p * out_plane;
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        const Span hs = dilated_span(oh * s.stride_h - s.pad_h, s.kernel_h, s.dilation_h, s.in_h);
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          const Span ws = dilated_span(ow * s.stride_w - s.pad_w, s.kernel_w, s.dilation_w, s.in_w);
          float best = -std::numeric_limits<float>::infinity();
          int64_t best_index = -1;
          for (int64_t ih = hs.begin; ih < hs.end; ih += s.dilation_h) {
            for (int64_t iw = ws.begin; iw < ws.end; iw += s.dilation_w) {
              const int64_t index = ih * s.in_w + iw;
              const float v = xp[index];
              // Strictly greater keeps the first maximum; NaN wins and propagates (PyTorch).
              if (best_index < 0 || v > best || std::isnan(v)) {
                best = v;
                best_index = index;
              }
            }
          }
          yp[oh * s.out_w + ow] = best;
          ip[oh * s.out_w + ow] = static_cast<int32_t>(best_index);
        }
      }
    }
  });
}

bool max_pool2d_backward(const float* grad_y, const int32_t* indices, float* grad_x,
                         const Pool2dShape& s) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  std::atomic<bool> in_range{true};
  if (is_plain_2x2(s)) {
    // One write per input element, the index check folded into the same pass.
    const bool avx2 = use_avx2();
    parallel_for(s.planes, plane_grain(s), [&](int64_t p0, int64_t p1) {
      bool ok = true;
      for (int64_t p = p0; p < p1; ++p) {
        const float* gy = grad_y + p * out_plane;
        const int32_t* ip = indices + p * out_plane;
        float* gx = grad_x + p * in_plane;
        ok &= avx2 ? pool_detail::max_pool2d_2x2_backward_plane_avx2(gy, ip, gx, s)
                   : max_pool2d_2x2_backward_plane(gy, ip, gx, s);
      }
      if (!ok) in_range.store(false);
    });
    return in_range.load();
  }
  parallel_for(s.planes, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* gx = grad_x + p * in_plane;
      std::memset(gx, 0, sizeof(float) * in_plane);
      const float* gy = grad_y + p * out_plane;
      const int32_t* ip = indices + p * out_plane;
      // A plane with an index out of range is left at zero: the scatter never leaves grad_x.
      bool ok = true;
      for (int64_t o = 0; o < out_plane; ++o) ok &= ip[o] >= -1 && ip[o] < in_plane;
      if (!ok) {
        in_range.store(false);
        continue;
      }
      for (int64_t o = 0; o < out_plane; ++o) {
        if (ip[o] >= 0) gx[ip[o]] += gy[o];
      }
    }
  });
  return in_range.load();
}

// ---- Average pooling --------------------------------------------------------------------------

void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool count_include_pad,
                        int64_t divisor_override) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  parallel_for(s.planes, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * in_plane;
      float* yp = y + p * out_plane;
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        const AvgSpan hs = avg_span(oh * s.stride_h - s.pad_h, s.kernel_h, s.pad_h, s.in_h);
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          const AvgSpan ws = avg_span(ow * s.stride_w - s.pad_w, s.kernel_w, s.pad_w, s.in_w);
          if (hs.begin >= hs.end || ws.begin >= ws.end) {
            yp[oh * s.out_w + ow] = 0.0f;  // a window of padding only (PyTorch writes 0)
            continue;
          }
          float sum = 0.0f;
          for (int64_t ih = hs.begin; ih < hs.end; ++ih) {
            for (int64_t iw = ws.begin; iw < ws.end; ++iw) sum += xp[ih * s.in_w + iw];
          }
          const int64_t divisor = avg_divisor(hs, ws, count_include_pad, divisor_override);
          yp[oh * s.out_w + ow] = sum / static_cast<float>(divisor);
        }
      }
    }
  });
}

void avg_pool2d_backward(const float* grad_y, float* grad_x, const Pool2dShape& s,
                         bool count_include_pad, int64_t divisor_override) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  parallel_for(s.planes, plane_grain(s), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      float* gx = grad_x + p * in_plane;
      std::memset(gx, 0, sizeof(float) * in_plane);
      const float* gy = grad_y + p * out_plane;
      for (int64_t oh = 0; oh < s.out_h; ++oh) {
        const AvgSpan hs = avg_span(oh * s.stride_h - s.pad_h, s.kernel_h, s.pad_h, s.in_h);
        for (int64_t ow = 0; ow < s.out_w; ++ow) {
          const AvgSpan ws = avg_span(ow * s.stride_w - s.pad_w, s.kernel_w, s.pad_w, s.in_w);
          if (hs.begin >= hs.end || ws.begin >= ws.end) continue;
          const int64_t divisor = avg_divisor(hs, ws, count_include_pad, divisor_override);
          const float g = gy[oh * s.out_w + ow] / static_cast<float>(divisor);
          for (int64_t ih = hs.begin; ih < hs.end; ++ih) {
            for (int64_t iw = ws.begin; iw < ws.end; ++iw) gx[ih * s.in_w + iw] += g;
          }
        }
      }
    }
  });
}

}  // namespace hn::cpu
