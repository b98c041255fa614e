// Declarations shared by the SGEMM entry points and portable micro-kernel (gemm.cc), the
// blocked driver (gemm_driver.cc) and the AVX2/FMA micro-kernel (avx2/gemm_avx2.cc). Not part
// of the public kernel API: include gemm.h for that.
//
// The driver follows the GotoBLAS/BLIS scheme. For each NC-wide column block of C it packs
// op(B) into NR-wide micro-panels, KC deep (shared by all threads, streamed from L2/L3, or one
// column block per thread when B is small enough: see gemm_driver.cc); a
// thread packs up to MC rows of op(A) into MR-high micro-panels, KC deep (its own, held in L2);
// the micro-kernel multiplies one A micro-panel by one B micro-panel (the B micro-panel stays
// in L1 while the A micro-panels of the block stream past it).
#pragma once
#include <cstdint>

namespace hn::cpu::gemm_detail {

// Packed layouts (kc = depth of the current K slice):
//   A micro-panel: a[k * MR + i] = op(A)[row0 + i, k0 + k], zero-padded past the last row.
//   B micro-panel: b[k * NR + j] = op(B)[k0 + k, col0 + j], zero-padded past the last column.
// A micro-kernel computes one full MR x NR tile of C (row stride ldc):
//   C = alpha * (a-panel x b-panel) + beta * C, where beta == 0 stores without reading C.
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                             float alpha, float beta);

// Packs a full MR-row micro-panel of a non-transposed op(A): a points at A[row0 * lda + k0],
// dst gets dst[k * MR + i] = a[i * lda + k] for k < kc. Optional: the driver has a plain one.
using PackFullA = void (*)(const float* a, int64_t lda, int64_t kc, float* dst);

// A micro-kernel with its register tile (MR x NR, at most 8 x 16; MR in {4, 6, 8}, NR in
// {8, 12, 16}) and the cache blocking that suits it.
struct KernelConfig {
  int mr;
  int nr;
  int64_t mc;  // rows of op(A) packed per thread at a time (the A block sits in L2)
  int64_t kc;  // depth of one K slice (an A and a B micro-panel together sit in L1)
  int64_t nc;  // columns of op(B) packed at a time (the B block sits in L2/L3)
  MicroKernel kernel;
  PackFullA pack_full_a = nullptr;  // faster packing for the kernel's MR, when it has one
};

// Runs the packed, blocked, multi-threaded product with the given micro-kernel.
void sgemm_blocked(const KernelConfig& config, bool trans_a, bool trans_b, int64_t M, int64_t N,
                   int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float beta, float* C, int64_t ldc);

#if defined(HN_HAVE_AVX2)
// The AVX2/FMA 6x16 micro-kernel and its blocking (defined in avx2/gemm_avx2.cc).
const KernelConfig& avx2_kernel_config();

// Products with at most kSmallM rows skip packing (avx2/gemm_small_m_avx2.cc): columns n0..n1 of
// C = alpha * A op(B) + beta * C, A contiguous [M, K] (lda = K), op(B) = B^T when trans_b.
constexpr int64_t kSmallM = 4;
void small_m_avx2(int64_t M, bool trans_b, int64_t n0, int64_t n1, int64_t K, float alpha,
                  const float* A, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
#endif

}  // namespace hn::cpu::gemm_detail
