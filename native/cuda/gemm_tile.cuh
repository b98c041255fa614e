// The tiled, register-blocked SGEMM main loop shared by sgemm and the implicit-GEMM
// convolutions. C[M, N] (per group z) = sum_k A(m, k) B(k, n), where A and B are not matrices
// in memory but *loaders*: a plain matrix for sgemm, the im2col view of an image for a
// convolution (computed on the fly, never materialised).
//
// Tile: BM x BN outputs per 256-thread block, BK = 8 deep; each thread owns a TM x TN register
// tile split into 4-wide groups half a tile apart (conflict-free float4 reads of shared memory).
// Shared memory is double-buffered and the next tile's global loads are in flight while the
// current tile is multiplied. Split-K: blockIdx.z = group * splits + split, and split s covers
// k in [s * k_chunk, (s + 1) * k_chunk).
//
// Loader contract (A: mn = m, B: mn = n):
//   struct Fixed;                                    // what a thread precomputes for one row/col
//   __device__ Fixed fix(int group, int mn) const;   // mn may be out of range: load() then 0
//   __device__ float load(const Fixed&, int k) const;// k is always in [0, K)
//   static constexpr bool kKFast;                    // consecutive threads take consecutive k
//                                                    // (true) or consecutive mn (false)
// Epilogue: __device__ void store(int group, int split, int m, int n, float acc) const, called
// for every m < M, n < N of the tile.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace hn::cuda {

constexpr int kGemmThreads = 256;
constexpr int kGemmBK = 8;

template <int BM, int BN, int TM, int TN, class ALoader, class BLoader, class Epilogue>
__global__ void __launch_bounds__(kGemmThreads, 2)
    tiled_gemm_kernel(ALoader a, BLoader b, Epilogue epilogue, int M, int N, int K, int splits,
                      int k_chunk) {
  static_assert((BM / TM) * (BN / TN) == kGemmThreads, "one register tile per thread");
  static_assert(TM % 4 == 0 && TN % 4 == 0, "register tiles come in 4-wide groups");
  constexpr int BK = kGemmBK;
  constexpr int kPad = 4;  // keeps float4 alignment, spreads k-fast stores over the banks
  constexpr int kALoads = BM * BK / kGemmThreads;
  constexpr int kBLoads = BN * BK / kGemmThreads;
  constexpr int kGroupsM = TM / 4, kGroupsN = TN / 4;
  constexpr int kThreadsN = BN / TN;

  __shared__ __align__(16) float As[2][BK][BM + kPad];
  __shared__ __align__(16) float Bs[2][BK][BN + kPad];

  const int tid = threadIdx.x;
  const int group = blockIdx.z / splits, split = blockIdx.z % splits;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_begin = split * k_chunk;
  const int k_end = min(K, k_begin + k_chunk);

  // Each load slot has a fixed (row or column, depth within the tile) for the whole kernel.
  typename ALoader::Fixed a_fixed[kALoads];
  typename BLoader::Fixed b_fixed[kBLoads];
  int a_mn[kALoads], a_kk[kALoads], b_mn[kBLoads], b_kk[kBLoads];
#pragma unroll
  for (int i = 0; i < kALoads; ++i) {
    const int idx = tid + i * kGemmThreads;
    a_kk[i] = ALoader::kKFast ? idx % BK : idx / BM;
    a_mn[i] = ALoader::kKFast ? idx / BK : idx % BM;
    a_fixed[i] = a.fix(group, m0 + a_mn[i]);
  }
#pragma unroll
  for (int i = 0; i < kBLoads; ++i) {
    const int idx = tid + i * kGemmThreads;
    b_kk[i] = BLoader::kKFast ? idx % BK : idx / BN;
    b_mn[i] = BLoader::kKFast ? idx / BK : idx % BN;
    b_fixed[i] = b.fix(group, n0 + b_mn[i]);
  }

  float a_regs[kALoads], b_regs[kBLoads];
  auto load_tile = [&](int k0) {
#pragma unroll
    for (int i = 0; i < kALoads; ++i) {
      const int k = k0 + a_kk[i];
      a_regs[i] = k < k_end ? a.load(a_fixed[i], k) : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < kBLoads; ++i) {
      const int k = k0 + b_kk[i];
      b_regs[i] = k < k_end ? b.load(b_fixed[i], k) : 0.0f;
    }
  };
  auto store_tile = [&](int buffer) {
#pragma unroll
    for (int i = 0; i < kALoads; ++i) As[buffer][a_kk[i]][a_mn[i]] = a_regs[i];
#pragma unroll
    for (int i = 0; i < kBLoads; ++i) Bs[buffer][b_kk[i]][b_mn[i]] = b_regs[i];
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  const int tx = tid % kThreadsN, ty = tid / kThreadsN;
  const int tiles = k_end > k_begin ? (k_end - k_begin + BK - 1) / BK : 0;
  if (tiles > 0) {
    load_tile(k_begin);
    store_tile(0);
    __syncthreads();
  }
  for (int t = 0; t < tiles; ++t) {
    const int buffer = t & 1;
    if (t + 1 < tiles) load_tile(k_begin + (t + 1) * BK);  // in flight during the math below
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float a_frag[TM], b_frag[TN];
#pragma unroll
      for (int g = 0; g < kGroupsM; ++g) {
        const float4 v = *reinterpret_cast<const float4*>(&As[buffer][kk][g * (BM / kGroupsM) + ty * 4]);
        a_frag[g * 4 + 0] = v.x; a_frag[g * 4 + 1] = v.y; a_frag[g * 4 + 2] = v.z; a_frag[g * 4 + 3] = v.w;
      }
#pragma unroll
      for (int g = 0; g < kGroupsN; ++g) {
        const float4 v = *reinterpret_cast<const float4*>(&Bs[buffer][kk][g * (BN / kGroupsN) + tx * 4]);
        b_frag[g * 4 + 0] = v.x; b_frag[g * 4 + 1] = v.y; b_frag[g * 4 + 2] = v.z; b_frag[g * 4 + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a_frag[i], b_frag[j], acc[i][j]);
    }
    if (t + 1 < tiles) store_tile(buffer ^ 1);
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + (i / 4) * (BM / kGroupsM) + ty * 4 + (i % 4);
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + (j / 4) * (BN / kGroupsN) + tx * 4 + (j % 4);
      if (n < N) epilogue.store(group, split, m, n, acc[i][j]);
    }
  }
}

// Tile shape and split-K factor for one problem. Large outputs take 128 x 128 tiles; small ones
// 64 x 64 so more blocks run; when even those leave the device idle and K is deep, K is split
// (the partial products are summed afterwards in a fixed order).
struct GemmPlan {
  bool big_tiles = true;
  int splits = 1;
  int k_chunk = 0;
  dim3 grid;
};

inline GemmPlan plan_gemm(int64_t M, int64_t N, int64_t K, int64_t groups, int sm_count,
                          bool allow_split) {
  GemmPlan plan;
  auto blocks = [&](int bm, int bn) { return ((M + bm - 1) / bm) * ((N + bn - 1) / bn) * groups; };
  // Big tiles only when both sides fill them: a 128-row tile over 64 rows wastes half the block.
  plan.big_tiles = M > 64 && N > 64 && blocks(128, 128) >= 2 * sm_count;
  const int bm = plan.big_tiles ? 128 : 64, bn = bm;
  const int64_t b = blocks(bm, bn);
  int splits = 1;
  if (allow_split && b < 2 * sm_count) {
    // Each split keeps at least 256 deep (32 tiles of 8) so the partial sums stay worth it.
    const int64_t want = (2 * sm_count + b - 1) / b;
    const int64_t most = K / 256;
    splits = static_cast<int>(want < most ? want : most);
    if (splits < 1) splits = 1;
    if (splits > 64) splits = 64;
  }
  const int64_t chunk = (K + splits - 1) / splits;
  plan.k_chunk = static_cast<int>((chunk + kGemmBK - 1) / kGemmBK * kGemmBK);
  plan.splits = plan.k_chunk > 0 ? static_cast<int>((K + plan.k_chunk - 1) / plan.k_chunk) : 1;
  if (plan.splits < 1) plan.splits = 1;
  plan.grid = dim3(static_cast<unsigned>((N + bn - 1) / bn), static_cast<unsigned>((M + bm - 1) / bm),
                   static_cast<unsigned>(groups * plan.splits));
  return plan;
}

template <class ALoader, class BLoader, class Epilogue>
void launch_tiled_gemm(const GemmPlan& plan, const ALoader& a, const BLoader& b,
                       const Epilogue& epilogue, int M, int N, int K, cudaStream_t stream) {
  if (plan.big_tiles) {
    tiled_gemm_kernel<128, 128, 8, 8><<<plan.grid, kGemmThreads, 0, stream>>>(
        a, b, epilogue, M, N, K, plan.splits, plan.k_chunk);
  } else {
    tiled_gemm_kernel<64, 64, 4, 4><<<plan.grid, kGemmThreads, 0, stream>>>(
        a, b, epilogue, M, N, K, plan.splits, plan.k_chunk);
  }
}

// C[m * ldc + n] = alpha * sum over s of partial[s][m][n] (+ beta * C when beta != 0), the
// splits added in order: the fixed-order reduction after a split-K product. partial is
// [splits, M, N], dense. Defined in gemm.cu.
void sum_splits(const float* partial, int splits, int64_t M, int64_t N, float alpha, float beta,
                float* C, int64_t ldc, cudaStream_t stream);

}  // namespace hn::cuda
