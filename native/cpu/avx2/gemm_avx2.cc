// The AVX2/FMA SGEMM micro-kernel: a 6 x 16 tile of C held in 12 ymm accumulators.
// Per k step it loads two 8-wide vectors of the B micro-panel, broadcasts six A values and
// issues 12 independent FMAs; 12 chains cover the FMA latency x throughput (4 cycles x 2 per
// cycle) with room to spare, and 12 + 2 + 1 registers fit in the 16 ymm registers.
#include <immintrin.h>

#include "../gemm_internal.h"

namespace hn::cpu::gemm_detail {
namespace {

constexpr int kMR = 6;
constexpr int kNR = 16;

// C[0:16] of one row = alpha * acc + beta * C (beta == 0: C is not read).
inline void store_row(float* c, __m256 acc0, __m256 acc1, __m256 alpha, float beta) {
  acc0 = _mm256_mul_ps(acc0, alpha);
  acc1 = _mm256_mul_ps(acc1, alpha);
  if (beta != 0.0f) {
    const __m256 vbeta = _mm256_set1_ps(beta);
    acc0 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(c), acc0);
    acc1 = _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(c + 8), acc1);
  }
  _mm256_storeu_ps(c, acc0);
  _mm256_storeu_ps(c + 8, acc1);
}

void kernel_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                 float alpha, float beta) {
  // Pull the C tile towards L1 while the FMAs run; it is touched only at the end.
  for (int i = 0; i < kMR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ai, b0, c00);
    c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10);
    c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20);
    c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30);
    c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40);
    c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50);
    c51 = _mm256_fmadd_ps(ai, b1, c51);
    a += kMR;
    b += kNR;
  }

  const __m256 valpha = _mm256_set1_ps(alpha);
  store_row(c + 0 * ldc, c00, c01, valpha, beta);
  store_row(c + 1 * ldc, c10, c11, valpha, beta);
  store_row(c + 2 * ldc, c20, c21, valpha, beta);
  store_row(c + 3 * ldc, c30, c31, valpha, beta);
  store_row(c + 4 * ldc, c40, c41, valpha, beta);
  store_row(c + 5 * ldc, c50, c51, valpha, beta);
}

// Packs 6 rows of A into a 6-row micro-panel, 4 k at a time: a 4 x 4 transpose of rows 0-3
// and the pairs of rows 4-5, where the plain loop moves one float per load and store. Measured
// on 1024 x 1024: 30% less time from cache, 15% from memory; it matters since on two threads
// each thread packs all of A (see gemm_driver.cc).
void pack_a_6rows(const float* a, int64_t lda, int64_t kc, float* dst) {
  const float* r0 = a;
  const float* r1 = a + lda;
  const float* r2 = a + 2 * lda;
  const float* r3 = a + 3 * lda;
  const float* r4 = a + 4 * lda;
  const float* r5 = a + 5 * lda;
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4, dst += 4 * kMR) {
    __m128 x0 = _mm_loadu_ps(r0 + k), x1 = _mm_loadu_ps(r1 + k);
    __m128 x2 = _mm_loadu_ps(r2 + k), x3 = _mm_loadu_ps(r3 + k);
    _MM_TRANSPOSE4_PS(x0, x1, x2, x3);  // x_j = rows 0-3 at k + j
    const __m128 x4 = _mm_loadu_ps(r4 + k), x5 = _mm_loadu_ps(r5 + k);
    const __m128 lo = _mm_unpacklo_ps(x4, x5);  // rows 4, 5 at k, then at k + 1
    const __m128 hi = _mm_unpackhi_ps(x4, x5);  // at k + 2, then at k + 3
    _mm_storeu_ps(dst, x0);
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), lo);
    _mm_storeu_ps(dst + 6, x1);
    _mm_storeh_pi(reinterpret_cast<__m64*>(dst + 10), lo);
    _mm_storeu_ps(dst + 12, x2);
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + 16), hi);
    _mm_storeu_ps(dst + 18, x3);
    _mm_storeh_pi(reinterpret_cast<__m64*>(dst + 22), hi);
  }
  for (; k < kc; ++k, dst += kMR) {
    dst[0] = r0[k];
    dst[1] = r1[k];
    dst[2] = r2[k];
    dst[3] = r3[k];
    dst[4] = r4[k];
    dst[5] = r5[k];
  }
}

}  // namespace

const KernelConfig& avx2_kernel_config() {
  // Blocking that fits Zen 2/3 (32 KiB L1D, 512 KiB L2) and so also Zen 4/5 (48 KiB, 1 MiB):
  // a 256-deep B micro-panel is 16 KiB and an A micro-panel 6 KiB (L1); a 144 x 256 A block is
  // 144 KiB (L2). Every row block streams the whole op(B) block from L3 once, so fewer, taller
  // blocks cost less L3 traffic (measured: better when neighbours load the shared L3), while
  // 1024 rows still give 4 blocks per thread to balance two threads.
  static const KernelConfig config = {kMR, kNR, 144, 256, 4080, kernel_6x16,
                                      pack_a_6rows};
  return config;
}

}  // namespace hn::cpu::gemm_detail
