#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "allocator.h"
#include "common.cuh"
#include "gemm_tile.cuh"

namespace hn::cuda {
namespace {

std::atomic<bool> g_allow_tf32{false};

// A row-major matrix read as the loader's (mn, k) operand: element (mn, k) of matrix `group`
// lives at p[group * batch_stride + mn * ld + k] when kMnMajor (k contiguous), else at
// p[group * batch_stride + k * ld + mn].
template <bool kMnMajor>
struct MatrixLoader {
  const float* p;
  int64_t ld;
  int64_t batch_stride;
  int limit;  // rows (A: M) or columns (B: N)
  static constexpr bool kKFast = kMnMajor;
  struct Fixed {
    const float* base;
  };
  __device__ Fixed fix(int group, int mn) const {
    if (mn >= limit) return {nullptr};
    const float* matrix = p + static_cast<int64_t>(group) * batch_stride;
    return {kMnMajor ? matrix + static_cast<int64_t>(mn) * ld : matrix + mn};
  }
  __device__ float load(const Fixed& f, int k) const {
    if (!f.base) return 0.0f;
    return kMnMajor ? __ldg(f.base + k) : __ldg(f.base + static_cast<int64_t>(k) * ld);
  }
};

struct DirectEpilogue {
  float* C;
  int64_t ldc;
  int64_t batch_stride;
  float alpha, beta;
  __device__ void store(int group, int, int m, int n, float acc) const {
    float* c = C + static_cast<int64_t>(group) * batch_stride + static_cast<int64_t>(m) * ldc + n;
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

// One launch of `batch` products (batch <= 65535, the grid's z limit); split along K only when
// batch == 1 (the partial buffer holds one product).
template <bool kTransA, bool kTransB>
void sgemm_typed(int M, int N, int K, float alpha, const float* A, int64_t lda, int64_t stride_a,
                 const float* B, int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc,
                 int64_t stride_c, int batch, cudaStream_t stream) {
  const int device = current();
  const GemmPlan plan = plan_gemm(M, N, K, batch, device, batch == 1);
  const MatrixLoader<!kTransA> a{A, lda, stride_a, M};
  const MatrixLoader<kTransB> b{B, ldb, stride_b, N};
  if (plan.splits == 1) {
    launch_tiled_gemm(plan, a, b, DirectEpilogue{C, ldc, stride_c, alpha, beta}, M, N, K, stream);
    check_launch("sgemm");
    return;
  }
  DeviceBuffer partial(sizeof(float) * static_cast<size_t>(plan.splits) * M * N, device);
  launch_tiled_gemm(plan, a, b, PartialEpilogue{partial.as<float>(), M, N}, M, N, K, stream);
  check_launch("sgemm (split K)");
  sum_splits(partial.as<float>(), plan.splits, M, N, alpha, beta, C, ldc, stream);
}

struct DeviceInfo {
  int sms = 0;
  int capability = 0;
};

DeviceInfo device_info(int device) {
  static std::mutex mutex;
  static std::vector<DeviceInfo> infos;
  std::lock_guard<std::mutex> lock(mutex);
  if (device < 0) throw Error("CUDA device info: negative device index");
  if (infos.size() <= static_cast<size_t>(device)) infos.resize(device + 1);
  DeviceInfo& info = infos[device];
  if (info.sms == 0) info = {multiprocessor_count(device), compute_capability(device)};
  return info;  // a copy: another thread may grow the vector
}

}  // namespace

void sum_splits(const float* partial, int splits, int64_t M, int64_t N, float alpha, float beta,
                float* C, int64_t ldc, cudaStream_t stream) {
  if (M == 0 || N == 0) return;
  sum_splits_kernel<<<grid_for(M * N), kThreads, 0, stream>>>(partial, splits, M, N, alpha, beta,
                                                              C, ldc);
  check_launch("sum_splits");
}

int sm_count(int device) { return device_info(device).sms; }

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }
bool tf32_active(int device) { return allow_tf32() && device_info(device).capability >= 80; }

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, Stream stream) {
  sgemm_strided_batched(trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1, stream);
}

void sgemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                           int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                           int64_t batch, Stream stream) {
  if (M <= 0 || N <= 0 || batch <= 0) return;
  constexpr int64_t kIntMax = 0x7fffffff;
  if (M > kIntMax || N > kIntMax || K > kIntMax) throw Error("sgemm: M, N and K must be below 2^31");
  if (K <= 0) {  // C = beta * C: no product to add
    for (int64_t i = 0; i < batch; ++i) sum_splits(nullptr, 0, M, N, alpha, beta, C + i * stride_c, ldc, stream);
    return;
  }
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  constexpr int64_t kMaxLaunch = 65535;  // gridDim.z
  for (int64_t first = 0; first < batch; first += kMaxLaunch) {
    const int count = static_cast<int>(std::min(batch - first, kMaxLaunch));
    const float* a = A + first * stride_a;
    const float* b = B + first * stride_b;
    float* c = C + first * stride_c;
    if (!trans_a && !trans_b) {
      sgemm_typed<false, false>(m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, count, stream);
    } else if (!trans_a && trans_b) {
      sgemm_typed<false, true>(m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, count, stream);
    } else if (trans_a && !trans_b) {
      sgemm_typed<true, false>(m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, count, stream);
    } else {
      sgemm_typed<true, true>(m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c, ldc, stride_c, count, stream);
    }
  }
}

}  // namespace hn::cuda
