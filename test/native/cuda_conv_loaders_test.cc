// Runs the implicit-GEMM convolution loaders and epilogues of native/cuda/conv_loaders.h on the
// host (a plain triple loop stands in for the tiled GPU main loop, which only adds the products
// in another order) and compares with the CPU convolution. This checks, without a GPU, the
// index math the CUDA convolutions rely on: im2col addressing, the stride-phase split of the
// backward-data gather, the weight-gradient loaders and the split-K partial layout.
//
// Tolerance: max |loaders - cpu| / max |cpu| <= 1e-5 per output tensor. Last line
// "cuda_conv_loaders_test: N passed, N failed".
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../../native/cpu/conv.h"
#include "../../native/cuda/conv_loaders.h"

namespace {

using hn::cpu::Conv2dParams;
namespace cu = hn::cuda;

int g_passed = 0, g_failed = 0;
std::mt19937 g_rng(7);

std::vector<float> random_vector(size_t n) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(g_rng);
  return v;
}

void expect_close(const std::string& name, const std::vector<float>& got, const std::vector<float>& want) {
  double worst = 0.0, scale = 0.0;
  bool nan = false;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, static_cast<double>(std::fabs(want[i])));
    if (std::isnan(got[i])) nan = true;
    worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
  }
  const double rel = scale > 0 ? worst / scale : worst;
  if (!nan && rel <= 1e-5) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s: relative error %.3g%s\n", name.c_str(), rel, nan ? " (unwritten output)" : "");
  }
}

// What the GPU main loop computes, tile padding included: rows and columns up to the next
// multiple of 64 are fixed and loaded (the loaders must return 0 there) but never stored.
template <class A, class B, class E>
void emulate(const A& a, const B& b, const E& e, int M, int N, int K, int groups, int splits = 1) {
  const int chunk = splits > 1 ? (K + splits - 1) / splits : K;
  const int M_pad = (M + 63) / 64 * 64, N_pad = (N + 63) / 64 * 64;
  for (int g = 0; g < groups; ++g) {
    for (int s = 0; s < splits; ++s) {
      const int k0 = s * chunk, k1 = std::min(K, k0 + chunk);
      for (int m = 0; m < M_pad; ++m) {
        const auto fa = a.fix(g, m);
        for (int n = 0; n < N_pad; ++n) {
          const auto fb = b.fix(g, n);
          float acc = 0.0f;
          for (int k = k0; k < k1; ++k) acc += a.load(fa, k) * b.load(fb, k);
          if (m < M && n < N) {
            e.store(g, s, m, n, acc);
          } else if (acc != 0.0f) {
            ++g_failed;
            std::printf("FAIL padding row %d / column %d loaded non-zero values\n", m, n);
            return;
          }
        }
      }
    }
  }
}

Conv2dParams conv_params(int64_t batch, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t k, int64_t stride,
                         int64_t pad, int64_t dilation, int64_t groups) {
  Conv2dParams p;
  p.batch = batch, p.in_channels = cin, p.in_h = h, p.in_w = w, p.out_channels = cout;
  p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = stride, p.pad_h = p.pad_w = pad;
  p.dilation_h = p.dilation_w = dilation, p.groups = groups;
  p.out_h = hn::cpu::conv2d_output_size(h, k, stride, pad, pad, dilation);
  p.out_w = hn::cpu::conv2d_output_size(w, k, stride, pad, pad, dilation);
  return p;
}

Conv2dParams transpose_params(int64_t batch, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t k, int64_t stride,
                              int64_t pad, int64_t out_pad, int64_t dilation, int64_t groups) {
  Conv2dParams p;
  p.batch = batch, p.out_channels = cin, p.out_h = h, p.out_w = w, p.in_channels = cout;
  p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = stride, p.pad_h = p.pad_w = pad;
  p.dilation_h = p.dilation_w = dilation, p.groups = groups;
  p.in_h = hn::cpu::conv_transpose2d_output_size(h, k, stride, pad, out_pad, dilation);
  p.in_w = hn::cpu::conv_transpose2d_output_size(w, k, stride, pad, out_pad, dilation);
  return p;
}

void check(const std::string& label, const Conv2dParams& p) {
  const cu::Geometry g = cu::geometry_of(p);
  const size_t xs = p.batch * p.in_channels * p.in_h * p.in_w, ys = p.batch * p.out_channels * p.out_h * p.out_w;
  const size_t ws = p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
  const auto x = random_vector(xs), w = random_vector(ws), dy = random_vector(ys), bias = random_vector(p.out_channels);
  const auto init = random_vector(p.in_channels);
  // Forward.
  std::vector<float> y(ys), y_ref(ys);
  hn::cpu::conv2d_forward(p, x.data(), w.data(), bias.data(), y_ref.data());
  {
    const int M = g.cout_g, N = g.batch * g.out_plane, K = g.cin_g * g.taps;
    std::fill(y.begin(), y.end(), NAN);
    emulate(cu::ForwardWeights{w.data(), g}, cu::ForwardImage{x.data(), g, N}, cu::ForwardEpilogue{y.data(), bias.data(), g},
            M, N, K, g.groups);
  }
  expect_close(label + " forward", y, y_ref);
  // Backward data, phase by phase (with an initial value per channel, as the transposed
  // convolution's bias).
  std::vector<float> dx(xs, NAN), dx_ref(xs);
  hn::cpu::conv_transpose2d_forward(p, dy.data(), w.data(), init.data(), dx_ref.data());
  for (int rh = 0; rh < g.sh; ++rh) {
    const cu::Phase ph = cu::make_phase(rh, g.in_h, g.ph, g.sh, g.kh, g.dh);
    if (ph.count == 0) continue;
    for (int rw = 0; rw < g.sw; ++rw) {
      const cu::Phase pw = cu::make_phase(rw, g.in_w, g.pw, g.sw, g.kw, g.dw);
      if (pw.count == 0) continue;
      const int M = g.cin_g, N = g.batch * ph.count * pw.count, K = g.cout_g * ph.taps * pw.taps;
      emulate(cu::DataWeights{w.data(), g, ph, pw}, cu::DataGradient{dy.data(), g, ph, pw, N},
              cu::DataEpilogue{dx.data(), init.data(), g, ph, pw}, M, N, K, g.groups);
    }
  }
  expect_close(label + " backward data", dx, dx_ref);
  // Backward weight, directly and split along K into 3 partial products summed in order.
  std::vector<float> dw_ref(ws);
  hn::cpu::conv2d_backward_weight(p, x.data(), dy.data(), dw_ref.data(), nullptr);
  const int M = g.cout_g, N = g.cin_g * g.taps, K = g.batch * g.out_plane;
  std::vector<float> dw(ws, NAN);
  emulate(cu::WeightGradient{dy.data(), g}, cu::WeightImage{x.data(), g}, cu::WeightEpilogue{dw.data(), g.cout, N, g.cout_g},
          M, N, K, g.groups);
  expect_close(label + " backward weight", dw, dw_ref);
  const int splits = 3;
  std::vector<float> partial(splits * ws, NAN), summed(ws, 0.0f);
  emulate(cu::WeightGradient{dy.data(), g}, cu::WeightImage{x.data(), g},
          cu::WeightEpilogue{partial.data(), g.cout, N, g.cout_g}, M, N, K, g.groups, splits);
  for (int s = 0; s < splits; ++s)
    for (size_t i = 0; i < ws; ++i) summed[i] += partial[s * ws + i];
  expect_close(label + " backward weight (split K)", summed, dw_ref);
}

}  // namespace

int main() {
  check("3->8 k3 p1", conv_params(2, 3, 9, 11, 8, 3, 1, 1, 1, 1));
  check("8->8 k3 s2 p1", conv_params(3, 8, 13, 13, 8, 3, 2, 1, 1, 1));
  check("6->4 k3 d2 p2", conv_params(2, 6, 10, 9, 4, 3, 1, 2, 2, 1));
  check("8->6 k3 groups 2", conv_params(2, 8, 7, 7, 6, 3, 1, 1, 1, 2));
  check("4->4 depthwise k5 p2", conv_params(2, 4, 8, 8, 4, 5, 1, 2, 1, 4));
  check("32->16 1x1", conv_params(2, 32, 6, 6, 16, 1, 1, 0, 1, 1));
  check("5->7 k4 s3 p1", conv_params(2, 5, 14, 11, 7, 4, 3, 1, 1, 1));
  check("3->4 k3 s2 d3 p3", conv_params(2, 3, 17, 15, 4, 3, 2, 3, 3, 1));
  auto asym = conv_params(2, 3, 8, 8, 5, 4, 1, 2, 1, 1);
  asym.out_h -= 1, asym.out_w -= 1;
  check("3->5 k4 asymmetric padding", asym);
  check("transpose 16->8 k2 s2", transpose_params(2, 16, 8, 8, 8, 2, 2, 0, 0, 1, 1));
  check("transpose 8->4 k4 s2 p1", transpose_params(2, 8, 16, 16, 4, 4, 2, 1, 0, 1, 1));
  check("transpose 4->6 k3 s3 p1 out_pad 2 d2", transpose_params(2, 4, 5, 6, 6, 3, 3, 1, 2, 2, 1));
  check("transpose 6->4 k3 s2 groups 2 out_pad 1", transpose_params(2, 6, 5, 5, 4, 3, 2, 1, 1, 1, 2));
  check("transpose 3->2 k1 s2 (phases without taps)", transpose_params(2, 3, 5, 5, 2, 1, 2, 0, 1, 1, 1));
  check("transpose 2->3 k5 s4 p2 d2", transpose_params(1, 2, 4, 5, 3, 5, 4, 2, 1, 2, 1));
  std::printf("cuda_conv_loaders_test: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
