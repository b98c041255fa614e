// SGEMM entry points and the portable micro-kernel. The packed, blocked, multi-threaded driver
// is in gemm_driver.cc; the AVX2/FMA micro-kernel in avx2/gemm_avx2.cc.
#include "gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "../common/thread_pool.h"

#include "cpu_features.h"
#include "gemm_internal.h"

namespace hn::cpu {
namespace {

// The portable micro-kernel: a 6 x 8 tile in 12 four-wide accumulators, 2 B vectors and a
// broadcast, which fit the 16 SSE registers of baseline x86-64 (NEON on arm64 has 32).
constexpr int kPortableMR = 6;
constexpr int kPortableNR = 8;

#if defined(__GNUC__)
// GCC/Clang vector extensions compile to SSE or NEON without intrinsics; written as plain
// scalar loops GCC's vectoriser shuffles and spills this tile (~30% slower).
typedef float Vec4 __attribute__((vector_size(16)));

void portable_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     float alpha, float beta) {
  Vec4 acc[kPortableMR][2] = {};
  for (int64_t k = 0; k < kc; ++k, a += kPortableMR, b += kPortableNR) {
    Vec4 b0, b1;
    std::memcpy(&b0, b, sizeof(Vec4));
    std::memcpy(&b1, b + 4, sizeof(Vec4));
    for (int i = 0; i < kPortableMR; ++i) {
      acc[i][0] += a[i] * b0;
      acc[i][1] += a[i] * b1;
    }
  }
  for (int i = 0; i < kPortableMR; ++i) {
    float row[kPortableNR];
    std::memcpy(row, &acc[i][0], sizeof(Vec4));
    std::memcpy(row + 4, &acc[i][1], sizeof(Vec4));
    float* c_row = c + i * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < kPortableNR; ++j) c_row[j] = alpha * row[j];
    } else {
      for (int j = 0; j < kPortableNR; ++j) c_row[j] = alpha * row[j] + beta * c_row[j];
    }
  }
}
#else
void portable_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     float alpha, float beta) {
  float acc[kPortableMR][kPortableNR] = {};
  for (int64_t k = 0; k < kc; ++k, a += kPortableMR, b += kPortableNR) {
    for (int i = 0; i < kPortableMR; ++i) {
      for (int j = 0; j < kPortableNR; ++j) acc[i][j] += a[i] * b[j];
    }
  }
  for (int i = 0; i < kPortableMR; ++i) {
    float* c_row = c + i * ldc;
    for (int j = 0; j < kPortableNR; ++j) {
      c_row[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c_row[j];
    }
  }
}
#endif

// 6x8 tiles: a 256-deep B micro-panel is 8 KiB, A micro-panel 6 KiB (L1); the A block
// 120 x 256 is 120 KiB (L2).
const gemm_detail::KernelConfig kPortableConfig = {kPortableMR, kPortableNR, 120, 256, 2048,
                                                   portable_kernel};

}  // namespace

void sgemm_portable(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                    float* C, int64_t ldc) {
  gemm_detail::sgemm_blocked(kPortableConfig, trans_a, trans_b, M, N, K, alpha, A,
                             lda, B, ldb, beta, C, ldc);
}

#if defined(HN_HAVE_AVX2)
namespace {

// At most kSmallM rows: op(A) copied to contiguous rows (M x K floats, small next to B), then
// column blocks of C in parallel when there is enough work to pay for waking the pool.
void sgemm_small_m(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                   int64_t ldc) {
  std::vector<float> rows;
  if (trans_a || (lda != K && M > 1)) {
    rows.resize(static_cast<size_t>(M * K));
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t k = 0; k < K; ++k) rows[m * K + k] = trans_a ? A[k * lda + m] : A[m * lda + k];
    }
    A = rows.data();
  }
  constexpr int64_t kMinFmasPerTask = 1 << 16;
  const int64_t grain = std::max<int64_t>(16, (kMinFmasPerTask / (M * K) + 15) / 16 * 16);
  auto columns = [&](int64_t n0, int64_t n1) {
    gemm_detail::small_m_avx2(M, trans_b, n0, n1, K, alpha, A, B, ldb, beta, C, ldc);
  };
  if (N <= grain) {
    columns(0, N);
  } else {
    // Tasks of whole 16-column blocks keep the vector loop's stores off the neighbours' columns.
    const int64_t blocks = (N + 15) / 16;
    parallel_for(blocks, grain / 16, [&](int64_t b0, int64_t b1) { columns(b0 * 16, std::min(N, b1 * 16)); });
  }
}

}  // namespace
#endif

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
#if defined(HN_HAVE_AVX2)
  if (use_avx2() && M >= 1 && M <= gemm_detail::kSmallM && N >= 1 && K >= 1) {
    sgemm_small_m(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (use_avx2()) {
    gemm_detail::sgemm_blocked(gemm_detail::avx2_kernel_config(), trans_a, trans_b, M, N, K,
                               alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  sgemm_portable(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace hn::cpu
