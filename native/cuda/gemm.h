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

// Multiprocessors of `device`, cached (launch heuristics use it).
int sm_count(int device);

}  // namespace hn::cuda
