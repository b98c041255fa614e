// Single-precision matrix product, the workhorse of linear layers and convolutions.
#pragma once
#include <cstdint>

namespace hn::cpu {

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major.
// op(A) = A (A is M x K, leading dimension lda) or A^T when trans_a (A is K x M).
// op(B) = B (B is K x N, leading dimension ldb) or B^T when trans_b (B is N x K).
// beta == 0 overwrites C without reading it (NaNs in C do not leak through).
// Multi-threaded over the pool; picks the AVX2/FMA micro-kernel when the CPU has it.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

// The same product computed by the portable path only (reference for tests and fallback).
void sgemm_portable(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                    float* C, int64_t ldc);

}  // namespace hn::cpu
