// The timed loop of the FMA peak probe (see peak.h): independent chains of 8-wide FMAs.
#include <immintrin.h>

#include <chrono>

#include "../peak.h"

namespace hn::cpu {

namespace {
// Twelve chains: more than latency x throughput of x86 FMA units (Zen 2/3: 5 x 2, Zen 4/5
// and Intel: 4 x 2), so the pipes never wait on a result; 12 + 2 constants fit in 16 ymm.
constexpr int kChains = 12;
// FMAs per chain between clock reads: ~20 microseconds of work, so the clock costs nothing.
constexpr int kInnerSteps = 10000;

volatile float g_sink;  // keeps the chains' results alive
}  // namespace

double fma_chain_flops_avx2(double seconds) {
  // x <- x * m + d converges to d / (1 - m) without overflow or denormals.
  const __m256 m = _mm256_set1_ps(0.999999f);
  const __m256 d = _mm256_set1_ps(1e-6f);
  __m256 x[kChains];
  for (int c = 0; c < kChains; ++c) x[c] = _mm256_set1_ps(static_cast<float>(c));
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  double steps = 0.0;
  for (;;) {
    for (int s = 0; s < kInnerSteps; ++s) {
#pragma GCC unroll 12
      for (int c = 0; c < kChains; ++c) x[c] = _mm256_fmadd_ps(x[c], m, d);
    }
    steps += kInnerSteps;
    if (std::chrono::duration<double>(clock::now() - start).count() >= seconds) break;
  }
  __m256 sum = x[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, x[c]);
  g_sink = _mm256_cvtss_f32(sum);
  // Each step is kChains FMAs of 8 lanes, 2 FLOPs each.
  return steps * kChains * 8 * 2;
}

}  // namespace hn::cpu
