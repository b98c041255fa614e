// The tiled GEMM main loops shared by sgemm and the implicit-GEMM convolutions.
// C[M, N] (per group z) = sum_k A(m, k) B(k, n), where A and B are not matrices in memory but
// *loaders*: a plain matrix for sgemm, the im2col view of an image for a convolution (computed
// on the fly, never materialised).
//
// Tile: BM x BN outputs per 256-thread block, BK = 8 deep. Both main loops stage the operands
// the same way (TileStager): shared memory is double-buffered and the next slice's global loads
// are in flight while the current slice is multiplied. Split-K: blockIdx.z = group * splits +
// split, and split s covers k in [s * k_chunk, (s + 1) * k_chunk).
//   FP32 (the default): each thread owns a TM x TN register tile split into 4-wide groups half a
//     tile apart (conflict-free float4 reads of shared memory), fmaf in k order.
//   TF32 (hn::cuda::set_allow_tf32, sm_80+ only): each of the 8 warps owns a (BM/2) x (BN/4)
//     tile of 16 x 16 WMMA accumulators (mma.sync m16n16k8, operands rounded to TF32, FP32
//     accumulation); results differ from FP32 by TF32's 10-bit mantissa.
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
#include <mma.h>

#include <cstdint>
#include <string>

#include "gemm.h"

namespace hn::cuda {

constexpr int kGemmThreads = 256;
constexpr int kGemmBK = 8;
constexpr int kGemmPad = 4;  // keeps float4 (and WMMA) alignment, spreads k-fast stores over the banks

// Global -> shared staging of one BK-deep slice: A as [BK][BM + pad] (k-major, so it is the
// column-major M x K operand), B as [BK][BN + pad] (row-major K x N). Each thread owns fixed
// load slots (a row or column of the tile and a depth in the slice) for the whole kernel.
template <int BM, int BN, class ALoader, class BLoader>
struct TileStager {
  static constexpr int kALoads = BM * kGemmBK / kGemmThreads;
  static constexpr int kBLoads = BN * kGemmBK / kGemmThreads;
  typename ALoader::Fixed a_fixed[kALoads];
  typename BLoader::Fixed b_fixed[kBLoads];
  int a_mn[kALoads], a_kk[kALoads], b_mn[kBLoads], b_kk[kBLoads];
  float a_regs[kALoads], b_regs[kBLoads];

  __device__ __forceinline__ TileStager(const ALoader& a, const BLoader& b, int group, int m0, int n0) {
    const int tid = threadIdx.x;
#pragma unroll
    for (int i = 0; i < kALoads; ++i) {
      const int idx = tid + i * kGemmThreads;
      a_kk[i] = ALoader::kKFast ? idx % kGemmBK : idx / BM;
      a_mn[i] = ALoader::kKFast ? idx / kGemmBK : idx % BM;
      a_fixed[i] = a.fix(group, m0 + a_mn[i]);
    }
#pragma unroll
    for (int i = 0; i < kBLoads; ++i) {
      const int idx = tid + i * kGemmThreads;
      b_kk[i] = BLoader::kKFast ? idx % kGemmBK : idx / BN;
      b_mn[i] = BLoader::kKFast ? idx / kGemmBK : idx % BN;
      b_fixed[i] = b.fix(group, n0 + b_mn[i]);
    }
  }

  // Global loads of the slice starting at k0 into registers (0 at and beyond k_end).
  __device__ __forceinline__ void load(const ALoader& a, const BLoader& b, int k0, int k_end) {
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
  }

  // The registers into one shared-memory buffer.
  __device__ __forceinline__ void store(float (*As)[BM + kGemmPad], float (*Bs)[BN + kGemmPad]) const {
#pragma unroll
    for (int i = 0; i < kALoads; ++i) As[a_kk[i]][a_mn[i]] = a_regs[i];
#pragma unroll
    for (int i = 0; i < kBLoads; ++i) Bs[b_kk[i]][b_mn[i]] = b_regs[i];
  }

  // The double-buffered loop over k in [k_begin, k_end): slice t is multiplied by math(buffer)
  // from shared buffer t & 1 while slice t + 1's global loads are in flight; those are stored into
  // the other buffer once the math is done.
  template <class Math>
  __device__ __forceinline__ void run(const ALoader& a, const BLoader& b, float (*As)[kGemmBK][BM + kGemmPad],
                                      float (*Bs)[kGemmBK][BN + kGemmPad], int k_begin, int k_end, Math math) {
    const int tiles = k_end > k_begin ? (k_end - k_begin + kGemmBK - 1) / kGemmBK : 0;
    if (tiles > 0) {
      load(a, b, k_begin, k_end);
      store(As[0], Bs[0]);
      __syncthreads();
    }
    for (int t = 0; t < tiles; ++t) {
      const int buffer = t & 1;
      if (t + 1 < tiles) load(a, b, k_begin + (t + 1) * kGemmBK, k_end);  // in flight during the math
      math(buffer);
      if (t + 1 < tiles) store(As[buffer ^ 1], Bs[buffer ^ 1]);
      __syncthreads();
    }
  }
};

// The block's tile: group and K split from blockIdx.z, first row and column, its range of k.
struct TilePosition {
  int group, split, m0, n0, k_begin, k_end;
};

__device__ __forceinline__ TilePosition tile_position(int BM, int BN, int K, int splits, int k_chunk) {
  TilePosition p;
  p.group = blockIdx.z / splits;
  p.split = blockIdx.z % splits;
  p.m0 = blockIdx.y * BM;
  p.n0 = blockIdx.x * BN;
  p.k_begin = p.split * k_chunk;
  p.k_end = min(K, p.k_begin + k_chunk);
  return p;
}

template <int BM, int BN, int TM, int TN, class ALoader, class BLoader, class Epilogue>
__global__ void __launch_bounds__(kGemmThreads, 2)
    tiled_gemm_kernel(ALoader a, BLoader b, Epilogue epilogue, int M, int N, int K, int splits,
                      int k_chunk) {
  static_assert((BM / TM) * (BN / TN) == kGemmThreads, "one register tile per thread");
  static_assert(TM % 4 == 0 && TN % 4 == 0, "register tiles come in 4-wide groups");
  constexpr int BK = kGemmBK;
  constexpr int kGroupsM = TM / 4, kGroupsN = TN / 4;
  constexpr int kThreadsN = BN / TN;

  __shared__ __align__(16) float As[2][BK][BM + kGemmPad];
  __shared__ __align__(16) float Bs[2][BK][BN + kGemmPad];

  const int tid = threadIdx.x;
  const TilePosition pos = tile_position(BM, BN, K, splits, k_chunk);
  TileStager<BM, BN, ALoader, BLoader> stage(a, b, pos.group, pos.m0, pos.n0);

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  const int tx = tid % kThreadsN, ty = tid / kThreadsN;
  stage.run(a, b, As, Bs, pos.k_begin, pos.k_end, [&](int buffer) {
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
  });

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = pos.m0 + (i / 4) * (BM / kGroupsM) + ty * 4 + (i % 4);
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = pos.n0 + (j / 4) * (BN / kGroupsN) + tx * 4 + (j % 4);
      if (n < N) epilogue.store(pos.group, pos.split, m, n, acc[i][j]);
    }
  }
}

// The TF32 tensor-core main loop: the same tiles, staging, split-K and epilogue contract as
// tiled_gemm_kernel. 8 warps in a 2 x 4 grid; warp (wm, wn) owns rows [wm * BM/2, +BM/2) and
// columns [wn * BN/4, +BN/4) of the tile as (BM/32) x (BN/64) accumulators of 16 x 16. One
// m16n16k8 step per 8-deep slice. Results leave through a per-warp 16 x 16 staging tile in shared
// memory, so the epilogue sees plain (m, n, value) triples as in the FP32 kernel.
constexpr int kTf32WarpsM = 2, kTf32WarpsN = 4;

template <int BM, int BN, class ALoader, class BLoader, class Epilogue>
__global__ void __launch_bounds__(kGemmThreads, 2)
    tiled_gemm_tf32_kernel(ALoader a, BLoader b, Epilogue epilogue, int M, int N, int K, int splits,
                           int k_chunk) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800  // host pass or sm_80+; launched only on sm_80+
  namespace wmma = nvcuda::wmma;
  constexpr int BK = kGemmBK;
  constexpr int WM = BM / kTf32WarpsM, WN = BN / kTf32WarpsN;
  constexpr int FM = WM / 16, FN = WN / 16;
  static_assert(kTf32WarpsM * kTf32WarpsN * 32 == kGemmThreads, "8 warps per block");
  static_assert(WM % 16 == 0 && WN % 16 == 0 && BK == 8, "whole m16n16k8 fragments");
  // WMMA loads and stores need 32-byte aligned pointers: the buffers start 128-byte aligned, each
  // BK-deep buffer is a multiple of 32 bytes ((BM + 4) * 8 floats) and fragment offsets are
  // multiples of 16 floats; the leading dimensions BM + 4 and BN + 4 are multiples of 4 floats.
  __shared__ __align__(128) float As[2][BK][BM + kGemmPad];
  __shared__ __align__(128) float Bs[2][BK][BN + kGemmPad];
  __shared__ __align__(128) float Cs[kGemmThreads / 32][16 * 16];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = warp / kTf32WarpsN, wn = warp % kTf32WarpsN;
  const TilePosition pos = tile_position(BM, BN, K, splits, k_chunk);
  TileStager<BM, BN, ALoader, BLoader> stage(a, b, pos.group, pos.m0, pos.n0);

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  stage.run(a, b, As, Bs, pos.k_begin, pos.k_end, [&](int buffer) {
    // A(m, k) = As[k][m]: column-major with leading dimension BM + pad; B(k, n) = Bs[k][n]: row-major.
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> a_frag[FM];
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b_frag[FN];
#pragma unroll
    for (int i = 0; i < FM; ++i) {
      wmma::load_matrix_sync(a_frag[i], &As[buffer][0][wm * WM + i * 16], BM + kGemmPad);
#pragma unroll
      for (int e = 0; e < a_frag[i].num_elements; ++e) a_frag[i].x[e] = wmma::__float_to_tf32(a_frag[i].x[e]);
    }
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::load_matrix_sync(b_frag[j], &Bs[buffer][0][wn * WN + j * 16], BN + kGemmPad);
#pragma unroll
      for (int e = 0; e < b_frag[j].num_elements; ++e) b_frag[j].x[e] = wmma::__float_to_tf32(b_frag[j].x[e]);
    }
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], a_frag[i], b_frag[j], acc[i][j]);
  });

  float* staged = Cs[warp];
#pragma unroll
  for (int i = 0; i < FM; ++i) {
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(staged, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 16 * 16; e += 32) {
        const int m = pos.m0 + wm * WM + i * 16 + e / 16, n = pos.n0 + wn * WN + j * 16 + e % 16;
        if (m < M && n < N) epilogue.store(pos.group, pos.split, m, n, staged[e]);
      }
      __syncwarp();  // every lane has read the tile before the next fragment overwrites it
    }
  }
#else
  __trap();
#endif
}

// Tile shape, split-K factor and main loop for one problem on `device`. Large outputs take
// 128 x 128 tiles; small ones 64 x 64 so more blocks run; when even those leave the device idle
// and K is deep, K is split (the partial products are summed afterwards in a fixed order). The
// TF32 main loop runs when the flag is set and the device has TF32 tensor cores (sm_80+).
struct GemmPlan {
  bool big_tiles = true;
  bool tf32 = false;
  int splits = 1;
  int k_chunk = 0;
  dim3 grid;
};

inline GemmPlan plan_gemm(int64_t M, int64_t N, int64_t K, int64_t groups, int device,
                          bool allow_split) {
  GemmPlan plan;
  const int sms = sm_count(device);
  plan.tf32 = tf32_active(device);
  auto blocks = [&](int bm, int bn) { return ((M + bm - 1) / bm) * ((N + bn - 1) / bn) * groups; };
  // Big tiles only when both sides fill them: a 128-row tile over 64 rows wastes half the block.
  plan.big_tiles = M > 64 && N > 64 && blocks(128, 128) >= 2 * sms;
  const int bm = plan.big_tiles ? 128 : 64, bn = bm;
  const int64_t b = blocks(bm, bn);
  int splits = 1;
  if (allow_split && b < 2 * sms) {
    // Each split keeps at least 256 deep (32 tiles of 8) so the partial sums stay worth it.
    const int64_t want = (2 * sms + b - 1) / b;
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
  if (plan.grid.y > 65535 || plan.grid.z > 65535) {
    throw Error("CUDA GEMM: too many tiles (" + std::to_string(M) + " rows, " + std::to_string(groups) +
                " groups x " + std::to_string(plan.splits) + " splits; at most 65535 each)");
  }
  return plan;
}

template <class ALoader, class BLoader, class Epilogue>
void launch_tiled_gemm(const GemmPlan& plan, const ALoader& a, const BLoader& b,
                       const Epilogue& epilogue, int M, int N, int K, cudaStream_t stream) {
  if (plan.tf32 && plan.big_tiles) {
    tiled_gemm_tf32_kernel<128, 128><<<plan.grid, kGemmThreads, 0, stream>>>(
        a, b, epilogue, M, N, K, plan.splits, plan.k_chunk);
  } else if (plan.tf32) {
    tiled_gemm_tf32_kernel<64, 64><<<plan.grid, kGemmThreads, 0, stream>>>(
        a, b, epilogue, M, N, K, plan.splits, plan.k_chunk);
  } else if (plan.big_tiles) {
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
