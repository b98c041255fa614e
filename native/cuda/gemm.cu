#include "gemm.h"

#include <mutex>
#include <vector>

#include "allocator.h"
#include "common.cuh"
#include "gemm_tile.cuh"

namespace hn::cuda {
namespace {

// A row-major matrix read as the loader's (mn, k) operand: element (mn, k) lives at
// p[mn * ld + k] when kMnMajor (k contiguous), else at p[k * ld + mn].
template <bool kMnMajor>
struct MatrixLoader {
  const float* p;
  int64_t ld;
  int limit;  // rows (A: M) or columns (B: N)
  static constexpr bool kKFast = kMnMajor;
  struct Fixed {
    const float* base;
  };
  __device__ Fixed fix(int, int mn) const {
    if (mn >= limit) return {nullptr};
    return {kMnMajor ? p + static_cast<int64_t>(mn) * ld : p + mn};
  }
  __device__ float load(const Fixed& f, int k) const {
    if (!f.base) return 0.0f;
    return kMnMajor ? __ldg(f.base + k) : __ldg(f.base + static_cast<int64_t>(k) * ld);
  }
};

struct DirectEpilogue {
  float* C;
  int64_t ldc;
  float alpha, beta;
  __device__ void store(int, int, int m, int n, float acc) const {
    float* c = C + static_cast<int64_t>(m) * ldc + n;
    *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
  }
};

struct PartialEpilogue {
  float* partial;
  int M, N;
  __device__ void store(int, int split, int m, int n, float acc) const {
    partial[(static_cast<int64_t>(split) * M + m) * N + n] = acc;
  }
};

__global__ void sum_splits_kernel(const float* partial, int splits, int64_t M, int64_t N,
                                  float alpha, float beta, float* C, int64_t ldc) {
  const int64_t count = M * N;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s) sum += partial[s * count + i];
    const int64_t m = i / N, n = i % N;
    float* c = C + m * ldc + n;
    *c = beta == 0.0f ? alpha * sum : alpha * sum + beta * *c;
  }
}

template <bool kTransA, bool kTransB>
void sgemm_typed(int M, int N, int K, float alpha, const float* A, int64_t lda, const float* B,
                 int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream) {
  const int device = current();
  const GemmPlan plan = plan_gemm(M, N, K, 1, sm_count(device), true);
  const MatrixLoader<!kTransA> a{A, lda, M};
  const MatrixLoader<kTransB> b{B, ldb, N};
  if (plan.splits == 1) {
    launch_tiled_gemm(plan, a, b, DirectEpilogue{C, ldc, alpha, beta}, M, N, K, stream);
    check_launch("sgemm");
    return;
  }
  DeviceBuffer partial(sizeof(float) * static_cast<size_t>(plan.splits) * M * N, device);
  launch_tiled_gemm(plan, a, b, PartialEpilogue{partial.as<float>(), M, N}, M, N, K, stream);
  check_launch("sgemm (split K)");
  sum_splits(partial.as<float>(), plan.splits, M, N, alpha, beta, C, ldc, stream);
}

}  // namespace

void sum_splits(const float* partial, int splits, int64_t M, int64_t N, float alpha, float beta,
                float* C, int64_t ldc, cudaStream_t stream) {
  if (M == 0 || N == 0) return;
  sum_splits_kernel<<<grid_for(M * N), kThreads, 0, stream>>>(partial, splits, M, N, alpha, beta,
                                                              C, ldc);
  check_launch("sum_splits");
}

int sm_count(int device) {
  static std::mutex mutex;
  static std::vector<int> counts;
  std::lock_guard<std::mutex> lock(mutex);
  if (counts.size() <= static_cast<size_t>(device)) counts.resize(device + 1, 0);
  if (counts[device] == 0) counts[device] = multiprocessor_count(device);
  return counts[device];
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, Stream stream) {
  if (M <= 0 || N <= 0) return;
  constexpr int64_t kIntMax = 0x7fffffff;
  if (M > kIntMax || N > kIntMax || K > kIntMax) throw Error("sgemm: M, N and K must be below 2^31");
  if (K <= 0) {  // C = beta * C: no product to add
    sum_splits(nullptr, 0, M, N, alpha, beta, C, ldc, stream);
    return;
  }
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  if (!trans_a && !trans_b) return sgemm_typed<false, false>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, stream);
  if (!trans_a && trans_b) return sgemm_typed<false, true>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, stream);
  if (trans_a && !trans_b) return sgemm_typed<true, false>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, stream);
  sgemm_typed<true, true>(m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, stream);
}

}  // namespace hn::cuda
