// SGEMM for at most 4 rows of C (a linear layer at batch 1-4, a row vector times a matrix)
// without packing: the blocked driver packs all of op(B) for a product that reads each element
// of it once, which at M = 1 costs more than the product (linear 8192 -> 10: ~60 us of packing
// for 82 KFLOP). Here each element of B is loaded once and used for all M rows.
#include <immintrin.h>

#include "../gemm_internal.h"

namespace hn::cpu::gemm_detail {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// beta == 0: C is written without being read (a NaN already there must not survive).
inline float blend(float acc, float alpha, float beta, const float* c) {
  return beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
}

inline void store8(float* c, __m256 acc, float alpha, float beta) {
  acc = _mm256_mul_ps(acc, _mm256_set1_ps(alpha));
  if (beta != 0.0f) acc = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(c), acc);
  _mm256_storeu_ps(c, acc);
}

// op(B) = B^T, B is [N, K]: C[m, n] is the dot product of two contiguous rows.
template <int MR>
void dot_rows(int64_t n0, int64_t n1, int64_t K, float alpha, const float* A, const float* B,
              int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t n = n0; n < n1; ++n) {
    const float* b = B + n * ldb;
    __m256 acc[MR][2];
    for (int m = 0; m < MR; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
      const __m256 b0 = _mm256_loadu_ps(b + k), b1 = _mm256_loadu_ps(b + k + 8);
      for (int m = 0; m < MR; ++m) {
        acc[m][0] = _mm256_fmadd_ps(_mm256_loadu_ps(A + m * K + k), b0, acc[m][0]);
        acc[m][1] = _mm256_fmadd_ps(_mm256_loadu_ps(A + m * K + k + 8), b1, acc[m][1]);
      }
    }
    for (int m = 0; m < MR; ++m) {
      float sum = hsum(_mm256_add_ps(acc[m][0], acc[m][1]));
      for (int64_t kk = k; kk < K; ++kk) sum += A[m * K + kk] * b[kk];
      float* c = C + m * ldc + n;
      *c = blend(sum, alpha, beta, c);
    }
  }
}

// op(B) = B, B is [K, N]: a row of C is a sum of rows of B scaled by the A values, 16 or 8
// columns at a time in registers.
template <int MR>
void axpy_rows(int64_t n0, int64_t n1, int64_t K, float alpha, const float* A, const float* B,
               int64_t ldb, float beta, float* C, int64_t ldc) {
  int64_t n = n0;
  for (; n + 16 <= n1; n += 16) {
    __m256 acc[MR][2];
    for (int m = 0; m < MR; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
      const __m256 b0 = _mm256_loadu_ps(B + k * ldb + n), b1 = _mm256_loadu_ps(B + k * ldb + n + 8);
      for (int m = 0; m < MR; ++m) {
        const __m256 a = _mm256_set1_ps(A[m * K + k]);
        acc[m][0] = _mm256_fmadd_ps(a, b0, acc[m][0]);
        acc[m][1] = _mm256_fmadd_ps(a, b1, acc[m][1]);
      }
    }
    for (int m = 0; m < MR; ++m) {
      store8(C + m * ldc + n, acc[m][0], alpha, beta);
      store8(C + m * ldc + n + 8, acc[m][1], alpha, beta);
    }
  }
  for (; n + 8 <= n1; n += 8) {
    __m256 acc[MR];
    for (int m = 0; m < MR; ++m) acc[m] = _mm256_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
      const __m256 b0 = _mm256_loadu_ps(B + k * ldb + n);
      for (int m = 0; m < MR; ++m) acc[m] = _mm256_fmadd_ps(_mm256_set1_ps(A[m * K + k]), b0, acc[m]);
    }
    for (int m = 0; m < MR; ++m) store8(C + m * ldc + n, acc[m], alpha, beta);
  }
  for (; n < n1; ++n) {
    for (int m = 0; m < MR; ++m) {
      float sum = 0.0f;
      for (int64_t k = 0; k < K; ++k) sum += A[m * K + k] * B[k * ldb + n];
      float* c = C + m * ldc + n;
      *c = blend(sum, alpha, beta, c);
    }
  }
}

template <int MR>
void rows(bool trans_b, int64_t n0, int64_t n1, int64_t K, float alpha, const float* A,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (trans_b) {
    dot_rows<MR>(n0, n1, K, alpha, A, B, ldb, beta, C, ldc);
  } else {
    axpy_rows<MR>(n0, n1, K, alpha, A, B, ldb, beta, C, ldc);
  }
}

}  // namespace

void small_m_avx2(int64_t M, bool trans_b, int64_t n0, int64_t n1, int64_t K, float alpha,
                  const float* A, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  switch (M) {
    case 1: rows<1>(trans_b, n0, n1, K, alpha, A, B, ldb, beta, C, ldc); break;
    case 2: rows<2>(trans_b, n0, n1, K, alpha, A, B, ldb, beta, C, ldc); break;
    case 3: rows<3>(trans_b, n0, n1, K, alpha, A, B, ldb, beta, C, ldc); break;
    default: rows<4>(trans_b, n0, n1, K, alpha, A, B, ldb, beta, C, ldc); break;
  }
}

}  // namespace hn::cpu::gemm_detail
