#include "conv.h"

#include <string>

#include "allocator.h"
#include "common.cuh"
#include "gemm.h"
#include "gemm_tile.cuh"

namespace hn::cuda {
namespace {

// Conv2dParams in 32-bit ints (the host checks every tensor has < 2^31 elements), plus the
// derived sizes the loaders need.
struct Geometry {
  int batch, cin, in_h, in_w, cout, out_h, out_w;
  int kh, kw, sh, sw, ph, pw, dh, dw, groups;
  int cin_g, cout_g, in_plane, out_plane, taps;  // taps = kh * kw
};

Geometry geometry_of(const Conv2dParams& p) {
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
  __device__ Fixed fix(int group, int m) const {
    if (m >= g.cout_g) return {nullptr};
    return {w + static_cast<int64_t>(group * g.cout_g + m) * g.cin_g * g.taps};
  }
  __device__ float load(const Fixed& f, int k) const { return f.row ? __ldg(f.row + k) : 0.0f; }
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
  __device__ Fixed fix(int group, int n) const {
    if (n >= N) return {nullptr, 0, 0};
    const int img = n / g.out_plane, pix = n - img * g.out_plane;
    const int oh = pix / g.out_w, ow = pix - oh * g.out_w;
    return {x + static_cast<int64_t>(img * g.cin + group * g.cin_g) * g.in_plane,
            oh * g.sh - g.ph, ow * g.sw - g.pw};
  }
  __device__ float load(const Fixed& f, int k) const {
    if (!f.image) return 0.0f;
    const int ci = k / g.taps, r = k - ci * g.taps;
    const int kh = r / g.kw, kw = r - kh * g.kw;
    const int ih = f.ih0 + kh * g.dh, iw = f.iw0 + kw * g.dw;
    if (static_cast<unsigned>(ih) >= static_cast<unsigned>(g.in_h) ||
        static_cast<unsigned>(iw) >= static_cast<unsigned>(g.in_w)) {
      return 0.0f;
    }
    return __ldg(f.image + ci * g.in_plane + ih * g.in_w + iw);
  }
};

struct ForwardEpilogue {
  float* y;
  const float* bias;
  Geometry g;
  __device__ void store(int group, int, int m, int n, float acc) const {
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
  __device__ Fixed fix(int group, int m) const {
    if (m >= g.cin_g) return {nullptr};
    return {w + (static_cast<int64_t>(group) * g.cout_g * g.cin_g + m) * g.taps};
  }
  __device__ float load(const Fixed& f, int k) const {
    if (!f.base) return 0.0f;
    const int phase_taps = ph.taps * pw.taps;
    const int co = k / phase_taps, t = k - co * phase_taps;
    const int th = t / pw.taps, tw = t - th * pw.taps;
    const int kh = ph.tap_first + th * ph.tap_step, kw = pw.tap_first + tw * pw.tap_step;
    return __ldg(f.base + static_cast<int64_t>(co) * g.cin_g * g.taps + kh * g.kw + kw);
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
  __device__ Fixed fix(int group, int n) const {
    if (n >= N) return {nullptr, 0, 0};
    const int plane = ph.count * pw.count;
    const int img = n / plane, j = n - img * plane;
    const int jh = j / pw.count, jw = j - jh * pw.count;
    return {dy + static_cast<int64_t>(img * g.cout + group * g.cout_g) * g.out_plane,
            ph.first + jh * g.sh + g.ph, pw.first + jw * g.sw + g.pw};
  }
  __device__ float load(const Fixed& f, int k) const {
    if (!f.image) return 0.0f;
    const int phase_taps = ph.taps * pw.taps;
    const int co = k / phase_taps, t = k - co * phase_taps;
    const int th = t / pw.taps, tw = t - th * pw.taps;
    const int kh = ph.tap_first + th * ph.tap_step, kw = pw.tap_first + tw * pw.tap_step;
    // Exact divisions: the phase guarantees (r - k*d) is a multiple of the stride.
    const int oh = (f.rh - kh * g.dh) / g.sh, ow = (f.rw - kw * g.dw) / g.sw;
    if (f.rh - kh * g.dh < 0 || f.rw - kw * g.dw < 0 || oh >= g.out_h || ow >= g.out_w) return 0.0f;
    return __ldg(f.image + co * g.out_plane + oh * g.out_w + ow);
  }
};

struct DataEpilogue {
  float* dx;
  const float* init;
  Geometry g;
  Phase ph, pw;
  __device__ void store(int group, int, int m, int n, float acc) const {
    const int plane = ph.count * pw.count;
    const int img = n / plane, j = n - img * plane;
    const int jh = j / pw.count, jw = j - jh * pw.count;
    const int ih = ph.first + jh * g.sh, iw = pw.first + jw * g.sw;
    const int channel = group * g.cin_g + m;
    dx[static_cast<int64_t>(img * g.cin + channel) * g.in_plane + ih * g.in_w + iw] =
        acc + (init ? init[channel] : 0.0f);
  }
};

Phase make_phase(int phase, int in, int pad, int stride, int kernel, int dilation) {
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
  __device__ Fixed fix(int group, int m) const {
    if (m >= g.cout_g) return {nullptr};
    return {dy + static_cast<int64_t>(group * g.cout_g + m) * g.out_plane};
  }
  __device__ float load(const Fixed& f, int k) const {
    if (!f.base) return 0.0f;
    const int img = k / g.out_plane, pix = k - img * g.out_plane;
    return __ldg(f.base + static_cast<int64_t>(img) * g.cout * g.out_plane + pix);
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
  __device__ Fixed fix(int group, int n) const {
    if (n >= g.cin_g * g.taps) return {nullptr, 0, 0};
    const int ci = n / g.taps, r = n - ci * g.taps;
    const int kh = r / g.kw, kw = r - kh * g.kw;
    return {x + static_cast<int64_t>(group * g.cin_g + ci) * g.in_plane, kh * g.dh - g.ph,
            kw * g.dw - g.pw};
  }
  __device__ float load(const Fixed& f, int k) const {
    if (!f.base) return 0.0f;
    const int img = k / g.out_plane, pix = k - img * g.out_plane;
    const int oh = pix / g.out_w, ow = pix - oh * g.out_w;
    const int ih = oh * g.sh + f.off_h, iw = ow * g.sw + f.off_w;
    if (static_cast<unsigned>(ih) >= static_cast<unsigned>(g.in_h) ||
        static_cast<unsigned>(iw) >= static_cast<unsigned>(g.in_w)) {
      return 0.0f;
    }
    return __ldg(f.base + static_cast<int64_t>(img) * g.cin * g.in_plane + ih * g.in_w + iw);
  }
};

struct WeightEpilogue {  // splits == 1: dw directly; else partial[split, co, n]
  float* out;
  int rows;  // cout when writing partials (all groups), unused otherwise
  int cols;  // cin_g * taps
  int cout_g;
  __device__ void store(int group, int split, int m, int n, float acc) const {
    out[(static_cast<int64_t>(split) * rows + group * cout_g + m) * cols + n] = acc;
  }
};

__global__ void channel_sums_kernel(const float* t, float* out, int batch, int channels, int plane) {
  __shared__ double shared[32];
  const int c = blockIdx.x;
  double sum = 0.0;
  for (int n = 0; n < batch; ++n) {
    const float* src = t + (static_cast<int64_t>(n) * channels + c) * plane;
    for (int i = threadIdx.x; i < plane; i += blockDim.x) sum += src[i];
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) out[c] = static_cast<float>(sum);
}

void backward_data_impl(const Conv2dParams& p, const float* dy, const float* w, const float* init,
                        float* dx, cudaStream_t stream) {
  const Geometry g = geometry_of(p);
  if (g.batch == 0 || g.cin == 0 || g.in_plane == 0) return;
  const int device = current();
  for (int rh = 0; rh < g.sh; ++rh) {
    const Phase ph = make_phase(rh, g.in_h, g.ph, g.sh, g.kh, g.dh);
    if (ph.count == 0) continue;
    for (int rw = 0; rw < g.sw; ++rw) {
      const Phase pw = make_phase(rw, g.in_w, g.pw, g.sw, g.kw, g.dw);
      if (pw.count == 0) continue;
      const int M = g.cin_g, N = g.batch * ph.count * pw.count;
      const int K = g.cout_g * ph.taps * pw.taps;  // 0 when no tap reaches this phase: dx = init
      const GemmPlan plan = plan_gemm(M, N, K, g.groups, sm_count(device), false);
      launch_tiled_gemm(plan, DataWeights{w, g, ph, pw}, DataGradient{dy, g, ph, pw, N},
                        DataEpilogue{dx, init, g, ph, pw}, M, N, K, stream);
      check_launch("conv2d_backward_data");
    }
  }
}

}  // namespace

// ---- Convolution -------------------------------------------------------------------------------

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y, Stream stream) {
  const Geometry g = geometry_of(p);
  const int M = g.cout_g, N = g.batch * g.out_plane, K = g.cin_g * g.taps;
  if (M == 0 || N == 0) return;
  const GemmPlan plan = plan_gemm(M, N, K, g.groups, sm_count(current()), false);
  launch_tiled_gemm(plan, ForwardWeights{w, g}, ForwardImage{x, g, N}, ForwardEpilogue{y, bias, g},
                    M, N, K, stream);
  check_launch("conv2d_forward");
}

void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                          Stream stream) {
  backward_data_impl(p, dy, w, nullptr, dx, stream);
}

void conv2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                            float* db, Stream stream) {
  const Geometry g = geometry_of(p);
  if (dw) {
    const int M = g.cout_g, N = g.cin_g * g.taps, K = g.batch * g.out_plane;
    const int device = current();
    const GemmPlan plan = plan_gemm(M, N, K, g.groups, sm_count(device), true);
    if (plan.splits == 1) {
      launch_tiled_gemm(plan, WeightGradient{dy, g}, WeightImage{x, g},
                        WeightEpilogue{dw, g.cout, N, g.cout_g}, M, N, K, stream);
      check_launch("conv2d_backward_weight");
    } else {
      DeviceBuffer partial(sizeof(float) * static_cast<size_t>(plan.splits) * g.cout * N, device);
      launch_tiled_gemm(plan, WeightGradient{dy, g}, WeightImage{x, g},
                        WeightEpilogue{partial.as<float>(), g.cout, N, g.cout_g}, M, N, K, stream);
      check_launch("conv2d_backward_weight (split K)");
      sum_splits(partial.as<float>(), plan.splits, g.cout, N, 1.0f, 0.0f, dw, N, stream);
    }
  }
  if (db) channel_sums(dy, db, p.batch, p.out_channels, p.out_h * p.out_w, stream);
}

void channel_sums(const float* t, float* out, int64_t batch, int64_t channels, int64_t plane,
                  Stream stream) {
  if (channels == 0) return;
  channel_sums_kernel<<<static_cast<unsigned>(channels), kThreads, 0, stream>>>(
      t, out, static_cast<int>(batch), static_cast<int>(channels), static_cast<int>(plane));
  check_launch("channel_sums");
}

// ---- Transposed convolution: the same kernels with the roles swapped ---------------------------

void conv_transpose2d_forward(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y, Stream stream) {
  backward_data_impl(p, x, w, bias, y, stream);
}

void conv_transpose2d_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                    float* dx, Stream stream) {
  conv2d_forward(p, dy, w, nullptr, dx, stream);
}

void conv_transpose2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                      float* dw, float* db, Stream stream) {
  if (dw) conv2d_backward_weight(p, dy, x, dw, nullptr, stream);
  if (db) channel_sums(dy, db, p.batch, p.in_channels, p.in_h * p.in_w, stream);
}

}  // namespace hn::cuda
