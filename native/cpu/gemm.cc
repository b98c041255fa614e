// Portable blocked SGEMM (placeholder for the packed AVX2 path; see gemm.h).
#include "gemm.h"

#include <algorithm>
#include <vector>

#include "../common/thread_pool.h"

namespace hn::cpu {

void sgemm_portable(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                    float* C, int64_t ldc) {
  parallel_for(M, 4, [&](int64_t m0, int64_t m1) {
    std::vector<float> row(static_cast<size_t>(N));
    for (int64_t i = m0; i < m1; ++i) {
      std::fill(row.begin(), row.end(), 0.0f);
      for (int64_t k = 0; k < K; ++k) {
        const float a = trans_a ? A[k * lda + i] : A[i * lda + k];
        if (trans_b) {
          for (int64_t j = 0; j < N; ++j) row[j] += a * B[j * ldb + k];
        } else {
          const float* b = B + k * ldb;
          for (int64_t j = 0; j < N; ++j) row[j] += a * b[j];
        }
      }
      float* c = C + i * ldc;
      if (beta == 0.0f) {
        for (int64_t j = 0; j < N; ++j) c[j] = alpha * row[j];
      } else {
        for (int64_t j = 0; j < N; ++j) c[j] = alpha * row[j] + beta * c[j];
      }
    }
  });
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  sgemm_portable(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace hn::cpu
