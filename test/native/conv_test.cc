// Checks the convolution kernels (native/cpu/conv.h) against direct loops in double, on 1, 2
// and 3 threads; --bench times K1 (conv2d 64->64, 32x32, k3 p1, B=64) next to the SGEMMs alone.
//
//   conv_test            correctness; exit code 1 on any failure; last line "N passed, N failed"
//   conv_test --bench    K1 forward / backward-data / backward-weight times, 1 and 2 threads
//
// Tolerance: |kernel - reference| <= 2e-5 * sum |terms| + 1e-6 per element (see conv.test.ts).
// Outputs start filled with NaN, so an element a kernel forgets to write fails the check.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../../native/common/thread_pool.h"
#include "../../native/cpu/conv.h"
#include "../../native/cpu/gemm.h"

namespace {

using hn::cpu::Conv2dParams;

int g_passed = 0;
int g_failed = 0;

struct Reference {
  std::vector<double> y, y_abs, dx, dx_abs, dw, dw_abs, db;
};

// The convolution of p by its definition: every (output pixel, weight) pair gathers one input.
Reference reference(const Conv2dParams& p, const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<float>& dy) {
  const int64_t cpg = p.in_channels / p.groups, opg = p.out_channels / p.groups;
  Reference r;
  r.y.assign(dy.size(), 0.0), r.y_abs.assign(dy.size(), 0.0);
  r.dx.assign(x.size(), 0.0), r.dx_abs.assign(x.size(), 0.0);
  r.dw.assign(w.size(), 0.0), r.dw_abs.assign(w.size(), 0.0);
  r.db.assign(p.out_channels, 0.0);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t o = 0; o < p.out_channels; ++o)
      for (int64_t oh = 0; oh < p.out_h; ++oh)
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          const int64_t yi = ((n * p.out_channels + o) * p.out_h + oh) * p.out_w + ow;
          r.db[o] += dy[yi];
          for (int64_t c = 0; c < cpg; ++c)
            for (int64_t kh = 0; kh < p.kernel_h; ++kh)
              for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
                const int64_t ih = oh * p.stride_h - p.pad_h + kh * p.dilation_h;
                const int64_t iw = ow * p.stride_w - p.pad_w + kw * p.dilation_w;
                if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
                const int64_t ci = (o / opg) * cpg + c;
                const int64_t xi = ((n * p.in_channels + ci) * p.in_h + ih) * p.in_w + iw;
                const int64_t wi = ((o * cpg + c) * p.kernel_h + kh) * p.kernel_w + kw;
                const double t = static_cast<double>(x[xi]) * w[wi];
                r.y[yi] += t, r.y_abs[yi] += std::fabs(t);
                r.dx[xi] += static_cast<double>(dy[yi]) * w[wi];
                r.dx_abs[xi] += std::fabs(static_cast<double>(dy[yi]) * w[wi]);
                r.dw[wi] += static_cast<double>(dy[yi]) * x[xi];
                r.dw_abs[wi] += std::fabs(static_cast<double>(dy[yi]) * x[xi]);
              }
        }
  return r;
}

bool check(const char* label, const std::vector<float>& got, const std::vector<double>& ref,
           const std::vector<double>& abs) {
  for (size_t i = 0; i < ref.size(); ++i) {
    const double tol = 2e-5 * (abs.empty() ? std::fabs(ref[i]) : abs[i]) + 1e-6;
    if (!(std::fabs(got[i] - ref[i]) <= tol)) {
      std::printf("  %s[%zu]: got %.8g, reference %.8g (tol %.3g)\n", label, i, got[i], ref[i], tol);
      return false;
    }
  }
  return true;
}

std::vector<float> random_vector(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& e : v) e = dist(rng);
  return v;
}

// Runs all six kernels of one geometry. The transposed kernels are checked through the adjoint
// identities: conv_transpose(dy) = conv backward-data(dy), its data gradient = conv(x), and its
// weight gradient = conv weight gradient with the tensors swapped.
void run_case(const char* name, const Conv2dParams& p, std::mt19937& rng) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const size_t nx = p.batch * p.in_channels * p.in_h * p.in_w;
  const size_t ny = p.batch * p.out_channels * p.out_h * p.out_w;
  const size_t nw = p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
  auto x = random_vector(nx, rng), w = random_vector(nw, rng), dy = random_vector(ny, rng);
  auto bias = random_vector(p.out_channels, rng), tbias = random_vector(p.in_channels, rng);
  Reference r = reference(p, x, w, dy);
  std::vector<float> y(ny, nan), dx(nx, nan), dw(nw, nan), db(p.out_channels, nan);
  std::vector<float> ty(nx, nan), tdx(ny, nan), tdw(nw, nan), tdb(p.in_channels, nan);
  hn::cpu::conv2d_forward(p, x.data(), w.data(), nullptr, y.data());
  hn::cpu::conv2d_backward_data(p, dy.data(), w.data(), dx.data());
  hn::cpu::conv2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data());
  // Transposed op: input dy (shaped like y), output shaped like x.
  hn::cpu::conv_transpose2d_forward(p, dy.data(), w.data(), tbias.data(), ty.data());
  hn::cpu::conv_transpose2d_backward_data(p, x.data(), w.data(), tdx.data());
  hn::cpu::conv_transpose2d_backward_weight(p, dy.data(), x.data(), tdw.data(), tdb.data());
  std::vector<double> ty_ref(r.dx), tdb_ref(p.in_channels, 0.0);
  const int64_t in_plane = p.in_h * p.in_w;
  for (size_t i = 0; i < nx; ++i) ty_ref[i] += tbias[(i / in_plane) % p.in_channels];
  for (size_t i = 0; i < nx; ++i) tdb_ref[(i / in_plane) % p.in_channels] += x[i];
  std::vector<double> with_bias_abs(r.dx_abs);
  for (size_t i = 0; i < nx; ++i) with_bias_abs[i] += std::fabs(tbias[(i / in_plane) % p.in_channels]);
  bool ok = check("y", y, r.y, r.y_abs) && check("dx", dx, r.dx, r.dx_abs) &&
            check("dw", dw, r.dw, r.dw_abs) && check("db", db, r.db, {}) &&
            check("transposed y", ty, ty_ref, with_bias_abs) &&
            check("transposed dx", tdx, r.y, r.y_abs) &&
            check("transposed dw", tdw, r.dw, r.dw_abs) && check("transposed db", tdb, tdb_ref, {});
  std::printf("%s %s (threads %d)\n", ok ? "ok  " : "FAIL", name, hn::num_threads());
  ok ? ++g_passed : ++g_failed;
}

Conv2dParams make(int64_t batch, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh,
                  int64_t kw, int64_t s, int64_t pad, int64_t d, int64_t groups) {
  Conv2dParams p;
  p.batch = batch, p.in_channels = cin, p.in_h = h, p.in_w = w, p.out_channels = cout;
  p.kernel_h = kh, p.kernel_w = kw, p.stride_h = s, p.stride_w = s, p.pad_h = pad, p.pad_w = pad;
  p.dilation_h = d, p.dilation_w = d, p.groups = groups;
  p.out_h = hn::cpu::conv2d_output_size(h, kh, s, pad, pad, d);
  p.out_w = hn::cpu::conv2d_output_size(w, kw, s, pad, pad, d);
  return p;
}

int run_tests() {
  std::mt19937 rng(20240601);
  for (int threads : {1, 2, 3}) {
    hn::set_num_threads(threads);
    run_case("k3 p1, batch 6", make(6, 4, 9, 8, 5, 3, 3, 1, 1, 1, 1), rng);
    run_case("k3 s2 p1, batch 1, large plane", make(1, 6, 31, 29, 7, 3, 3, 2, 1, 1, 1), rng);
    run_case("k2x5 d2 p2, groups 2", make(5, 4, 11, 12, 6, 2, 5, 1, 2, 2, 2), rng);
    run_case("depthwise k3 p1", make(3, 6, 10, 9, 12, 3, 3, 1, 1, 1, 6), rng);
    run_case("1x1 direct", make(7, 5, 6, 7, 3, 1, 1, 1, 0, 1, 1), rng);
    run_case("1x1 stride 2", make(2, 5, 7, 7, 3, 1, 1, 2, 0, 1, 1), rng);
    run_case("kernel larger than the padded input rows", make(2, 2, 2, 9, 3, 3, 3, 1, 1, 1, 1), rng);
    Conv2dParams cut = make(2, 3, 9, 9, 4, 3, 3, 2, 1, 1, 1);
    cut.out_h -= 1;  // fewer outputs than the padding allows (transposed with outputPadding)
    run_case("truncated output", cut, rng);
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

template <typename Fn>
double best_ms(Fn fn, int reps = 3) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return best;
}

int run_bench() {
  std::mt19937 rng(1);
  const Conv2dParams p = make(64, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1);
  const size_t nx = 64 * 64 * 32 * 32, nw = 64 * 64 * 9;
  auto x = random_vector(nx, rng), w = random_vector(nw, rng), dy = random_vector(nx, rng);
  auto b = random_vector(64, rng);
  std::vector<float> y(nx), dx(nx), dw(nw), db(64), col(576 * 1024);
  const double gflop = 2.0 * 64 * 64 * 576 * 1024 / 1e9;
  for (int threads : {1, 2}) {
    hn::set_num_threads(threads);
    const double fwd = best_ms([&] { hn::cpu::conv2d_forward(p, x.data(), w.data(), b.data(), y.data()); });
    const double bwd_data = best_ms([&] { hn::cpu::conv2d_backward_data(p, dy.data(), w.data(), dx.data()); });
    const double bwd_weight = best_ms([&] { hn::cpu::conv2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data()); });
    // The same 64 SGEMMs with no im2col, for comparison.
    const double gemm = best_ms([&] {
      for (int n = 0; n < 64; ++n)
        hn::cpu::sgemm(false, false, 64, 1024, 576, 1.0f, w.data(), 576, col.data(), 1024, 0.0f,
                       y.data() + n * 65536, 1024);
    });
    std::printf("K1 threads %d: forward %.1f ms (%.1f GFLOP/s), backward data %.1f ms, backward weight+bias %.1f ms; "
                "64 bare SGEMMs %.1f ms (%.1f GFLOP/s)\n",
                threads, fwd, gflop / fwd * 1e3, bwd_data, bwd_weight, gemm, gflop / gemm * 1e3);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) return run_bench();
  return run_tests();
}
