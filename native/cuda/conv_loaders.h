// The operand loaders and epilogues of the implicit-GEMM convolutions (see conv.h and
// gemm_tile.cuh), in a header of their own so that plain C++ can run them too: the host test
// test/native/cuda_conv_loaders_test.cc multiplies through them in a simple loop and compares
// with the CPU convolution, which checks the index math of every loader without a GPU.
#pragma once
#include <cstdint>
#include <string>

#include "../cpu/conv.h"
#include "runtime.h"

#if defined(__CUDACC__)
#define HN_HD __host__ __device__ __forceinline__
#else
#define HN_HD inline
#endif

namespace hn::cuda {

using hn::cpu::Conv2dParams;

// Read-only load: through the read-only data cache on the device, plain on the host.
template <typename T>
HN_HD T hn_ldg(const T* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  return *p;
#endif
}

// Conv2dParams in 32-bit ints (the host checks every tensor has < 2^31 elements), plus the
// derived sizes the loaders need.
struct Geometry {
  int batch, cin, in_h, in_w, cout, out_h, out_w;
  int kh, kw, sh, sw, ph, pw, dh, dw, groups;
  int cin_g, cout_g, in_plane, out_plane, taps;  // taps = kh * kw
};

inline Geometry geometry_of(const Conv2dParams& p) {
  const int64_t kMax = 0x7fffffff;
  const int64_t x_numel = p.batch * p.in_channels * p.in_h * p.in_w;
  const int64_t y_numel = p.batch * p.out_channels * p.out_h * p.out_w;
  const int64_t w_numel = p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
  if (x_numel >= kMax || y_numel >= kMax || w_numel >= kMax) {
    throw Error("CUDA convolution: tensors must have fewer than 2^31 elements (input " +
                std::to_string(x_numel) + ", output " + std::to_string(y_numel) + ")");
  }
  Geometry g;
  g.batch = static_cast<int>(p.batch);
  g.cin = static_cast<int>(p.in_channels);
  g.in_h = static_cast<int>(p.in_h);
  g.in_w = static_cast<int>(p.in_w);
  g.cout = static_cast<int>(p.out_channels);
  g.out_h = static_cast<int>(p.out_h);
  g.out_w = static_cast<int>(p.out_w);
  g.kh = static_cast<int>(p.kernel_h);
  g.kw = static_cast<int>(p.kernel_w);
  g.sh = static_cast<int>(p.stride_h);
  g.sw = static_cast<int>(p.stride_w);
  g.ph = static_cast<int>(p.pad_h);
  g.pw = static_cast<int>(p.pad_w);
  g.dh = static_cast<int>(p.dilation_h);
  g.dw = static_cast<int>(p.dilation_w);
  g.groups = static_cast<int>(p.groups);
  g.cin_g = g.cin / g.groups;
  g.cout_g = g.cout / g.groups;
  g.in_plane = g.in_h * g.in_w;
  g.out_plane = g.out_h * g.out_w;
  g.taps = g.kh * g.kw;
  return g;
}

// ---- Forward: y_g[co, (n, p)] = w_g[co, (ci, kh, kw)] * im2col(x)[(ci, kh, kw), (n, p)] --------

struct ForwardWeights {  // A(m = co, k = (ci, kh, kw)): a row of w_g, k contiguous
  const float* w;
  Geometry g;
  static constexpr bool kKFast = true;
  struct Fixed {
    const float* row;
  };
  HN_HD Fixed fix(int group, int m) const {
    if (m >= g.cout_g) return {nullptr};
    return {w + static_cast<int64_t>(group * g.cout_g + m) * g.cin_g * g.taps};
  }
  HN_HD float load(const Fixed& f, int k) const { return f.row ? hn_ldg(f.row + k) : 0.0f; }
};

struct ForwardImage {  // B(k = (ci, kh, kw), n = (img, oh, ow)) = x[img, ci, oh*s - p + kh*d, ...]
  const float* x;
  Geometry g;
  int N;
  static constexpr bool kKFast = false;
  struct Fixed {
    const float* image;  // x[img, group's first channel]
    int ih0, iw0;
  };
  HN_HD Fixed fix(int group, int n) const {
    if (n >= N) return {nullptr, 0, 0};
    const int img = n / g.out_plane, pix = n - img * g.out_plane;
    const int oh = pix / g.out_w, ow = pix - oh * g.out_w;
    return {x + static_cast<int64_t>(img * g.cin + group * g.cin_g) * g.in_plane,
            oh * g.sh - g.ph, ow * g.sw - g.pw};
  }
  HN_HD float load(const Fixed& f, int k) const {
    if (!f.image) return 0.0f;
    const int ci = k / g.taps, r = k - ci * g.taps;
    const int kh = r / g.kw, kw = r - kh * g.kw;
    const int ih = f.ih0 + kh * g.dh, iw = f.iw0 + kw * g.dw;
    if (static_cast<unsigned>(ih) >= static_cast<unsigned>(g.in_h) ||
        static_cast<unsigned>(iw) >= static_cast<unsigned>(g.in_w)) {
      return 0.0f;
    }
    return hn_ldg(f.image + ci * g.in_plane + ih * g.in_w + iw);
  }
};

struct ForwardEpilogue {
  float* y;
  const float* bias;
  Geometry g;
  HN_HD void store(int group, int, int m, int n, float acc) const {
    const int img = n / g.out_plane, pix = n - img * g.out_plane;
    const int channel = group * g.cout_g + m;
    y[static_cast<int64_t>(img * g.cout + channel) * g.out_plane + pix] = acc + (bias ? bias[channel] : 0.0f);
  }
};

// ---- Backward data, one stride phase: dx_g[ci, q] = w_g^T[ci, (co, tap)] * dy[(co, tap), q] ------

// The rows q (and columns) of one phase and the taps that reach them.
struct Phase {
  int first;      // first input row of the phase: (first + pad) % stride == phase
  int count;      // rows of the phase
  int tap_first;  // first kernel row with (tap * dilation) % stride == phase
  int tap_step;   // stride / gcd(stride, dilation)
  int taps;       // kernel rows of the phase
};

struct DataWeights {  // A(m = ci, k = (co, th, tw)) = w[g*cout_g + co, ci, kh(th), kw(tw)]
  const float* w;
  Geometry g;
  Phase ph, pw;
  static constexpr bool kKFast = true;
  struct Fixed {
    const float* base;
  };
  HN_HD Fixed fix(int group, int m) const {
    if (m >= g.cin_g) return {nullptr};
    return {w + (static_cast<int64_t>(group) * g.cout_g * g.cin_g + m) * g.taps};
  }
  HN_HD float load(const Fixed& f, int k) const {
    if (!f.base) return 0.0f;
    const int phase_taps = ph.taps * pw.taps;
    const int co = k / phase_taps, t = k - co * phase_taps;
    const int th = t / pw.taps, tw = t - th * pw.taps;
    const int kh = ph.tap_first + th * ph.tap_step, kw = pw.tap_first + tw * pw.tap_step;
    return hn_ldg(f.base + static_cast<int64_t>(co) * g.cin_g * g.taps + kh * g.kw + kw);
  }
};

struct DataGradient {  // B(k = (co, th, tw), n = (img, jh, jw)) = dy[img, co, oh, ow] or 0
  const float* dy;
  Geometry g;
  Phase ph, pw;
  int N;
  static constexpr bool kKFast = false;
  struct Fixed {
    const float* image;  // dy[img, group's first channel]
    int rh, rw;          // ih + pad_h, iw + pad_w
  };
  HN_HD Fixed fix(int group, int n) const {
    if (n >= N) return {nullptr, 0, 0};
    const int plane = ph.count * pw.count;
    const int img = n / plane, j = n - img * plane;
    const int jh = j / pw.count, jw = j - jh * pw.count;
    return {dy + static_cast<int64_t>(img * g.cout + group * g.cout_g) * g.out_plane,
            ph.first + jh * g.sh + g.ph, pw.first + jw * g.sw + g.pw};
  }
  HN_HD float load(const Fixed& f, int k) const {
    if (!f.image) return 0.0f;
    const int phase_taps = ph.taps * pw.taps;
    const int co = k / phase_taps, t = k - co * phase_taps;
    const int th = t / pw.taps, tw = t - th * pw.taps;
    const int kh = ph.tap_first + th * ph.tap_step, kw = pw.tap_first + tw * pw.tap_step;
    // Exact divisions: the phase guarantees (r - k*d) is a multiple of the stride.
    const int oh = (f.rh - kh * g.dh) / g.sh, ow = (f.rw - kw * g.dw) / g.sw;
    if (f.rh - kh * g.dh < 0 || f.rw - kw * g.dw < 0 || oh >= g.out_h || ow >= g.out_w) return 0.0f;
    return hn_ldg(f.image + co * g.out_plane + oh * g.out_w + ow);
  }
};

struct DataEpilogue {
  float* dx;
  const float* init;
  Geometry g;
  Phase ph, pw;
  HN_HD void store(int group, int, int m, int n, float acc) const {
    const int plane = ph.count * pw.count;
    const int img = n / plane, j = n - img * plane;
    const int jh = j / pw.count, jw = j - jh * pw.count;
    const int ih = ph.first + jh * g.sh, iw = pw.first + jw * g.sw;
    const int channel = group * g.cin_g + m;
    dx[static_cast<int64_t>(img * g.cin + channel) * g.in_plane + ih * g.in_w + iw] =
        acc + (init ? init[channel] : 0.0f);
  }
};

inline Phase make_phase(int phase, int in, int pad, int stride, int kernel, int dilation) {
  Phase p{};
  p.first = ((phase - pad) % stride + stride) % stride;
  p.count = p.first < in ? (in - p.first + stride - 1) / stride : 0;
  int a = stride, b = dilation;  // gcd
  while (b != 0) {
    const int t = a % b;
    a = b;
    b = t;
  }
  p.tap_step = stride / a;
  p.tap_first = -1;
  for (int k = 0; k < p.tap_step && k < kernel; ++k) {
    if ((k * dilation) % stride == phase) {
      p.tap_first = k;
      break;
    }
  }
  p.taps = p.tap_first < 0 ? 0 : (kernel - p.tap_first + p.tap_step - 1) / p.tap_step;
  if (p.tap_first < 0) p.tap_first = 0;
  return p;
}

// ---- Backward weight: dw_g[co, (ci, kh, kw)] = dy_g[co, (n, p)] * im2col(x)^T[(n, p), (ci, kh, kw)]

struct WeightGradient {  // A(m = co, k = (img, p)) = dy[img, g*cout_g + co, p]
  const float* dy;
  Geometry g;
  static constexpr bool kKFast = true;
  struct Fixed {
    const float* base;
  };
  HN_HD Fixed fix(int group, int m) const {
    if (m >= g.cout_g) return {nullptr};
    return {dy + static_cast<int64_t>(group * g.cout_g + m) * g.out_plane};
  }
  HN_HD float load(const Fixed& f, int k) const {
    if (!f.base) return 0.0f;
    const int img = k / g.out_plane, pix = k - img * g.out_plane;
    return hn_ldg(f.base + static_cast<int64_t>(img) * g.cout * g.out_plane + pix);
  }
};

struct WeightImage {  // B(k = (img, oh, ow), n = (ci, kh, kw)) = x[img, ci, oh*s - p + kh*d, ...]
  const float* x;
  Geometry g;
  static constexpr bool kKFast = true;
  struct Fixed {
    const float* base;  // x[0, g*cin_g + ci]
    int off_h, off_w;
  };
  HN_HD Fixed fix(int group, int n) const {
    if (n >= g.cin_g * g.taps) return {nullptr, 0, 0};
    const int ci = n / g.taps, r = n - ci * g.taps;
    const int kh = r / g.kw, kw = r - kh * g.kw;
    return {x + static_cast<int64_t>(group * g.cin_g + ci) * g.in_plane, kh * g.dh - g.ph,
            kw * g.dw - g.pw};
  }
  HN_HD float load(const Fixed& f, int k) const {
    if (!f.base) return 0.0f;
    const int img = k / g.out_plane, pix = k - img * g.out_plane;
    const int oh = pix / g.out_w, ow = pix - oh * g.out_w;
    const int ih = oh * g.sh + f.off_h, iw = ow * g.sw + f.off_w;
    if (static_cast<unsigned>(ih) >= static_cast<unsigned>(g.in_h) ||
        static_cast<unsigned>(iw) >= static_cast<unsigned>(g.in_w)) {
      return 0.0f;
    }
    return hn_ldg(f.base + static_cast<int64_t>(img) * g.cin * g.in_plane + ih * g.in_w + iw);
  }
};

struct WeightEpilogue {  // splits == 1: dw directly; else partial[split, co, n]
  float* out;
  int rows;  // cout when writing partials (all groups), unused otherwise
  int cols;  // cin_g * taps
  int cout_g;
  HN_HD void store(int group, int split, int m, int n, float acc) const {
    out[(static_cast<int64_t>(split) * rows + group * cout_g + m) * cols + n] = acc;
  }
};

}  // namespace hn::cuda
