// Checks hn::cpu::sgemm (AVX2 path where available) and sgemm_portable against a plain
// double-precision triple loop, on 1 and 2 threads.
//
//   gemm_test            correctness; exit code 1 on any failure; last line "N passed, N failed"
//   gemm_test --bench    GFLOP/s at M = N = K = 1024 on 1 and 2 threads, next to the FMA peak
//
// Tolerance: |C - ref| <= 1e-5 * (|alpha| * sum_k |op(A)[i,k] * op(B)[k,j]| + |beta * C0[i,j]|),
// i.e. relative to the magnitude of the terms summed (float eps is 1.2e-7; the blocked kernels
// sum at most a few hundred terms per chain). Padding of strided A, B and C holds NaN or a
// sentinel, so any read or write outside the logical matrices fails the check.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../../native/common/thread_pool.h"
#include "../../native/cpu/cpu_features.h"
#include "../../native/cpu/gemm.h"
#include "../../native/cpu/peak.h"

namespace {

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                        const float*, int64_t, float, float*, int64_t);

constexpr double kTolerance = 1e-5;
constexpr float kSentinel = 12345.0f;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  int64_t M, N, K;
  bool trans_a, trans_b;
  float alpha, beta;
  int64_t pad_a = 0, pad_b = 0, pad_c = 0;  // extra leading-dimension elements
};

int g_passed = 0;
int g_failed = 0;

// Fills a rows x cols matrix with leading dimension ld: values in [-1, 1], padding NaN.
std::vector<float> random_matrix(int64_t rows, int64_t cols, int64_t ld, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> m(static_cast<size_t>(std::max<int64_t>(rows * ld, 1)), kNaN);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m[r * ld + c] = dist(rng);
  return m;
}

bool run_case(const char* name, GemmFn fn, const Case& t, std::mt19937& rng) {
  // Stored shapes: A is M x K (K x M when transposed), B is K x N (N x K when transposed).
  const int64_t a_rows = t.trans_a ? t.K : t.M, a_cols = t.trans_a ? t.M : t.K;
  const int64_t b_rows = t.trans_b ? t.N : t.K, b_cols = t.trans_b ? t.K : t.N;
  const int64_t lda = a_cols + t.pad_a, ldb = b_cols + t.pad_b, ldc = t.N + t.pad_c;
  const std::vector<float> A = random_matrix(a_rows, a_cols, lda, rng);
  const std::vector<float> B = random_matrix(b_rows, b_cols, ldb, rng);
  std::vector<float> C = random_matrix(t.M, t.N, ldc, rng);
  for (int64_t i = 0; i < t.M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      float& c = C[i * ldc + j];
      if (j >= t.N) c = kSentinel;
      else if (t.beta == 0.0f) c = kNaN;  // beta == 0 must not read C
    }
  }
  const std::vector<float> C0 = C;

  fn(t.trans_a, t.trans_b, t.M, t.N, t.K, t.alpha, A.data(), lda, B.data(), ldb, t.beta,
     C.data(), ldc);

  // Reference in double: sum[i,j] = sum_k op(A)[i,k] op(B)[k,j] and the magnitude of its terms,
  // accumulated i-k-j so that the inner loop runs over contiguous rows.
  std::vector<double> sum(static_cast<size_t>(t.M * t.N), 0.0), mag(sum.size(), 0.0);
  std::vector<double> b_row(static_cast<size_t>(t.N));
  for (int64_t k = 0; k < t.K; ++k) {
    for (int64_t j = 0; j < t.N; ++j) b_row[j] = t.trans_b ? B[j * ldb + k] : B[k * ldb + j];
    for (int64_t i = 0; i < t.M; ++i) {
      const double a = t.trans_a ? A[k * lda + i] : A[i * lda + k];
      double* s_row = sum.data() + i * t.N;
      double* m_row = mag.data() + i * t.N;
      for (int64_t j = 0; j < t.N; ++j) {
        s_row[j] += a * b_row[j];
        m_row[j] += std::fabs(a * b_row[j]);
      }
    }
  }

  double worst = 0.0;
  int64_t bad_i = -1, bad_j = -1;
  double bad_got = 0, bad_want = 0;
  for (int64_t i = 0; i < t.M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const double got = C[i * ldc + j];
      double want, scale;
      if (j >= t.N) {
        want = kSentinel;  // padding must be untouched
        scale = 0.0;
      } else {
        const double c0 = t.beta == 0.0f ? 0.0 : static_cast<double>(C0[i * ldc + j]);
        want = t.alpha * sum[i * t.N + j] + t.beta * c0;
        scale = std::fabs(t.alpha) * mag[i * t.N + j] + std::fabs(t.beta * c0);
      }
      const double err = std::fabs(got - want);
      const double ratio = err / (kTolerance * scale + 1e-30);
      if (!(ratio <= 1.0) || std::isnan(got)) {
        if (bad_i < 0 || !(ratio <= worst)) {
          worst = std::isnan(ratio) ? INFINITY : ratio;
          bad_i = i, bad_j = j, bad_got = got, bad_want = want;
        }
      }
    }
  }
  const bool ok = bad_i < 0;
  if (!ok) {
    std::printf(
        "FAIL %s threads=%d M=%lld N=%lld K=%lld trans=%c%c alpha=%g beta=%g pads=%lld/%lld/%lld:"
        " C[%lld,%lld] = %.9g, want %.9g (error %.3g x tolerance)\n",
        name, hn::num_threads(), (long long)t.M, (long long)t.N, (long long)t.K,
        t.trans_a ? 'T' : 'N', t.trans_b ? 'T' : 'N', t.alpha, t.beta, (long long)t.pad_a,
        (long long)t.pad_b, (long long)t.pad_c, (long long)bad_i, (long long)bad_j, bad_got,
        bad_want, worst);
  }
  (ok ? g_passed : g_failed)++;
  return ok;
}

std::vector<Case> cases() {
  struct Shape {
    int64_t M, N, K;
  };
  // Tiny, odd (not multiples of the 6x16 / 6x8 tiles), skinny, K spanning several 256-deep
  // slices, N spanning two 4080-wide blocks, and products large enough to run on two threads
  // (>= 4M multiply-adds) split by rows of C (many rows) or by B micro-panels (few rows).
  const Shape shapes[] = {{1, 1, 1},     {2, 3, 4},       {6, 16, 8},     {7, 13, 5},
                          {12, 32, 64},  {33, 65, 17},    {129, 3, 257},  {3, 129, 300},
                          {1, 257, 33},  {257, 1, 33},    {64, 64, 64},   {97, 211, 513},
                          {200, 100, 70}, {5, 1000, 130}, {300, 40, 1},   {7, 4100, 20},
                          {256, 256, 256}, {40, 2000, 100}, {90, 700, 301}, {13, 4200, 80}};
  std::vector<Case> out;
  for (const Shape& s : shapes) {
    for (int trans = 0; trans < 4; ++trans) {
      const bool ta = trans & 1, tb = trans & 2;
      out.push_back({s.M, s.N, s.K, ta, tb, 1.0f, 0.0f});
      out.push_back({s.M, s.N, s.K, ta, tb, -0.5f, 1.0f, 3, 5, 2});
      out.push_back({s.M, s.N, s.K, ta, tb, 2.0f, 0.75f, 1, 0, 7});
    }
  }
  // Shapes that make the driver cut the work into several stages: column blocks (N > 4080),
  // K chunks (K x 512 beyond the 1M-float stage budget, each chunk adding to C after the
  // previous one), and both, so stage buffers get reused.
  for (int trans : {0, 3}) {
    const bool ta = trans & 1, tb = trans & 2;
    out.push_back({8, 1024, 4500, ta, tb, 1.5f, 0.5f, 1, 2, 3});
    out.push_back({100, 512, 2100, ta, tb, 1.0f, 0.0f, 0, 0, 1});
    out.push_back({100, 8200, 20, ta, tb, -1.0f, 2.0f, 2, 0, 0});
  }
  // Degenerate sizes: nothing to do (M or N zero) or only C = beta * C (K zero, alpha zero).
  out.push_back({0, 5, 3, false, false, 1.0f, 0.5f});
  out.push_back({5, 0, 3, false, false, 1.0f, 0.5f});
  out.push_back({4, 5, 0, false, false, 1.0f, 0.5f});
  out.push_back({4, 5, 0, true, true, 1.0f, 0.0f, 0, 0, 3});
  out.push_back({9, 17, 11, false, true, 0.0f, 2.0f, 0, 0, 1});
  out.push_back({9, 17, 11, true, false, 0.0f, 0.0f, 2, 1, 1});
  return out;
}

void sgemm_avx2_or_default(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                           float* C, int64_t ldc) {
  hn::cpu::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_forced_portable(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, const float* B, int64_t ldb,
                           float beta, float* C, int64_t ldc) {
  hn::cpu::set_force_portable(true);
  hn::cpu::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  hn::cpu::set_force_portable(false);
}

int run_tests() {
  std::mt19937 rng(1234);
  const std::vector<Case> all = cases();
  struct Impl {
    const char* name;
    GemmFn fn;
  };
  const Impl impls[] = {{"sgemm", sgemm_avx2_or_default},
                        {"sgemm(force portable)", sgemm_forced_portable},
                        {"sgemm_portable", hn::cpu::sgemm_portable}};
  std::printf("AVX2/FMA kernels: %s\n", hn::cpu::has_avx2_fma() ? "yes" : "no");
  for (int threads : {1, 2}) {
    hn::set_num_threads(threads);
    for (const Impl& impl : impls) {
      int before = g_failed;
      for (const Case& t : all) run_case(impl.name, impl.fn, t, rng);
      std::printf("%s, %d thread(s): %zu cases, %d failed\n", impl.name, threads, all.size(),
                  g_failed - before);
    }
  }
  // Repeat calls reuse the thread-local packing buffers: a small call after a large one (and
  // the reverse) must still be right.
  hn::set_num_threads(2);
  for (const Case& t : {Case{300, 300, 300, true, false, 1.0f, 0.0f},
                        Case{3, 2, 700, false, true, 1.0f, 0.5f, 1, 1, 1},
                        Case{500, 600, 40, false, false, 1.0f, 0.0f}}) {
    run_case("sgemm(reuse)", sgemm_avx2_or_default, t, rng);
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

// Best of `reps` timed calls at M = N = K = n, in GFLOP/s.
double time_gemm(GemmFn fn, int64_t n, bool ta, bool tb, int reps) {
  std::mt19937 rng(7);
  const std::vector<float> A = random_matrix(n, n, n, rng);
  const std::vector<float> B = random_matrix(n, n, n, rng);
  std::vector<float> C(static_cast<size_t>(n * n));
  fn(ta, tb, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n);  // warm up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    fn(ta, tb, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f, C.data(), n);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                              .count());
  }
  return 2.0 * n * n * n / best * 1e-9;
}

// The machine may be shared: peak and product are measured in alternating rounds and the best
// of each kept, so both come from the quietest moments.
int run_bench(int64_t n) {
  for (int threads : {1, 2}) {
    hn::set_num_threads(threads);
    double peak = 0.0, nn = 0.0;
    for (int round = 0; round < 5; ++round) {
      peak = std::max(peak, hn::cpu::measure_peak_gflops(threads, 100));
      nn = std::max(nn, time_gemm(sgemm_avx2_or_default, n, false, false, 5));
    }
    std::printf("threads=%d  FMA peak %.1f GFLOP/s\n", threads, peak);
    std::printf("  sgemm NN %lld^3: %.1f GFLOP/s (%.0f%% of peak)\n", (long long)n, nn,
                peak > 0 ? 100.0 * nn / peak : 0.0);
    for (int trans = 1; trans < 4; ++trans) {
      const bool ta = trans & 1, tb = trans & 2;
      const double g = time_gemm(sgemm_avx2_or_default, n, ta, tb, 10);
      std::printf("  sgemm %c%c %lld^3: %.1f GFLOP/s\n", ta ? 'T' : 'N', tb ? 'T' : 'N',
                  (long long)n, g);
    }
    std::printf("  sgemm_portable NN %lld^3: %.1f GFLOP/s\n", (long long)n,
                time_gemm(hn::cpu::sgemm_portable, n, false, false, 5));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--bench") == 0) {
    return run_bench(argc > 2 ? std::atoll(argv[2]) : 1024);
  }
  return run_tests();
}
