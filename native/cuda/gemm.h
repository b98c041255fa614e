// Single-precision matrix product on the GPU: the twin of native/cpu/gemm.h, with device
// pointers and the stream to run on. Asynchronous: returns once the work is queued.
#pragma once
#include <cstdint>

#include "runtime.h"

namespace hn::cuda {

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major (see hn::cpu::sgemm).
// beta == 0 overwrites C without reading it. Tiled (128x128 or 64x64 blocks, 8x8 or 4x4
// outputs per thread from shared memory); a product with few output tiles and a deep K is split
// along K and the partial products summed in a fixed order (deterministic). Requires M, N, K and
// the leading dimensions below 2^31.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, Stream stream);

// `batch` independent products of the same shape in one launch: matrix b of A starts at
// A + b * stride_a (likewise B and C). Never split along K. The output matrices must not overlap.
void sgemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                           int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                           int64_t batch, Stream stream);

// TF32 tensor cores for sgemm, sgemm_strided_batched and the convolutions (all their GEMMs):
// off by default, so results match the CPU to FP32 rounding. When on, on devices of compute
// capability 8.0 and up, operands are rounded to TF32 (10-bit mantissa) and products are
// accumulated in FP32: about 1e-3 relative error, several times the FP32 throughput. Process-wide,
// like torch.backends.cuda.matmul.allow_tf32 (whose default is also false).
void set_allow_tf32(bool allow);
bool allow_tf32();
// allow_tf32() and `device` has TF32 tensor cores.
bool tf32_active(int device);

// Multiprocessors of `device`, cached (launch heuristics use it).
int sm_count(int device);

}  // namespace hn::cuda
