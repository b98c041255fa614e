// SGEMM: the packed, cache-blocked driver (GotoBLAS/BLIS loop nest, see gemm_internal.h) and
// the portable micro-kernel. The AVX2/FMA micro-kernel lives in avx2/gemm_avx2.cc.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../common/thread_pool.h"
#include "cpu_features.h"
#include "gemm_internal.h"

namespace hn::cpu {
namespace gemm_detail {
namespace {

// Largest register tile any micro-kernel may use (edge tiles are computed into a local tile).
constexpr int kMaxTile = 8 * 16;
// Below this many multiply-adds a product stays on the calling thread: waking the pool costs
// tens of microseconds, about what ~4M multiply-adds take on one core.
constexpr double kParallelMinMacs = 4.0e6;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Splits `total` into the fewest blocks of at most `max_block`, of near-equal size rounded up
// to `align` (max_block is a multiple of align), so K = 300 runs as 150 + 150, not 256 + 44.
int64_t balanced_block(int64_t total, int64_t max_block, int64_t align) {
  const int64_t blocks = ceil_div(total, max_block);
  return std::min(max_block, round_up(ceil_div(total, blocks), align));
}

// A 64-byte aligned scratch buffer that only grows: each thread keeps its own across calls,
// so the hot path allocates nothing once warm.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { std::free(data_); }

  float* reserve(int64_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      // aligned_alloc wants a size that is a multiple of the alignment.
      const int64_t rounded = round_up(std::max<int64_t>(floats, 1024), 16);
      data_ = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(rounded) * 4));
      if (data_ == nullptr) throw std::bad_alloc();
      capacity_ = rounded;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

thread_local PackBuffer tls_pack_a;         // this thread's A block
thread_local PackBuffer tls_pack_b;         // the B block the caller shares with the pool
thread_local PackBuffer tls_pack_shared_a;  // all of a short A, shared with the pool

// C = beta * C over an M x N block (beta == 0 writes zeros without reading C).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  if (beta == 1.0f) return;
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    if (beta == 0.0f) {
      std::fill(c, c + N, 0.0f);
    } else {
      for (int64_t j = 0; j < N; ++j) c[j] *= beta;
    }
  }
}

// Packs rows [0, rows) x depth [0, kc) of op(A) into one MR-high micro-panel. `a` points at
// op(A)[row0, k0]: A[row0 * lda + k0] normally, A[k0 * lda + row0] when transposed.
template <int MR>
void pack_a_panel(bool trans_a, const float* a, int64_t lda, int64_t rows, int64_t kc,
                  float* dst) {
  if (trans_a) {
    // op(A)[i, k] = A[k, i]: each k reads MR consecutive floats.
    for (int64_t k = 0; k < kc; ++k, dst += MR) {
      const float* src = a + k * lda;
      for (int i = 0; i < MR; ++i) dst[i] = i < rows ? src[i] : 0.0f;
    }
    return;
  }
  if (rows == MR) {
    const float* row[MR];
    for (int i = 0; i < MR; ++i) row[i] = a + i * lda;
    for (int64_t k = 0; k < kc; ++k, dst += MR) {
      for (int i = 0; i < MR; ++i) dst[i] = row[i][k];
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k, dst += MR) {
    for (int i = 0; i < MR; ++i) dst[i] = i < rows ? a[i * lda + k] : 0.0f;
  }
}

// Packs depth [0, kc) x columns [0, cols) of op(B) into one NR-wide micro-panel. `b` points at
// op(B)[k0, col0]: B[k0 * ldb + col0] normally, B[col0 * ldb + k0] when transposed.
template <int NR>
void pack_b_panel(bool trans_b, const float* b, int64_t ldb, int64_t cols, int64_t kc,
                  float* dst) {
  if (!trans_b) {
    // op(B)[k, j] = B[k, j]: each k copies NR consecutive floats.
    for (int64_t k = 0; k < kc; ++k, dst += NR) {
      const float* src = b + k * ldb;
      if (cols == NR) {
        std::memcpy(dst, src, sizeof(float) * NR);
      } else {
        for (int j = 0; j < NR; ++j) dst[j] = j < cols ? src[j] : 0.0f;
      }
    }
    return;
  }
  // op(B)[k, j] = B[j, k]: a transpose, written column by column so every read is sequential.
  for (int j = 0; j < NR; ++j) {
    if (j < cols) {
      const float* src = b + j * ldb;
      for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[k];
    } else {
      for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = 0.0f;
    }
  }
}

using PackA = void (*)(bool, const float*, int64_t, int64_t, int64_t, float*);
using PackB = void (*)(bool, const float*, int64_t, int64_t, int64_t, float*);

PackA pack_a_for(int mr) {
  switch (mr) {
    case 4: return pack_a_panel<4>;
    case 6: return pack_a_panel<6>;
    case 8: return pack_a_panel<8>;
    default: return nullptr;
  }
}

PackB pack_b_for(int nr) {
  switch (nr) {
    case 8: return pack_b_panel<8>;
    case 12: return pack_b_panel<12>;
    case 16: return pack_b_panel<16>;
    default: return nullptr;
  }
}

// Multiplies a packed mc x kc A block by the packed B micro-panels [q0, q1) of a kc x nc
// block into C (pointing at the block's top-left element). Full tiles go straight to C; edge
// tiles are computed into a local tile and merged, so the micro-kernel never goes out of C.
void macro_kernel(const KernelConfig& cfg, int64_t mc, int64_t nc, int64_t kc, int64_t q0,
                  int64_t q1, float alpha, float beta, const float* packed_a,
                  const float* packed_b, float* C, int64_t ldc) {
  const int64_t MR = cfg.mr, NR = cfg.nr;
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t j = q * NR;
    const int64_t cols = std::min(NR, nc - j);
    const float* b = packed_b + q * NR * kc;
    for (int64_t i = 0; i < mc; i += MR) {
      const int64_t rows = std::min(MR, mc - i);
      const float* a = packed_a + i * kc;
      float* c = C + i * ldc + j;
      if (rows == MR && cols == NR) {
        cfg.kernel(kc, a, b, c, ldc, alpha, beta);
        continue;
      }
      alignas(64) float tile[kMaxTile];
      cfg.kernel(kc, a, b, tile, NR, 1.0f, 0.0f);
      for (int64_t r = 0; r < rows; ++r) {
        float* c_row = c + r * ldc;
        const float* t_row = tile + r * NR;
        if (beta == 0.0f) {
          for (int64_t s = 0; s < cols; ++s) c_row[s] = alpha * t_row[s];
        } else {
          for (int64_t s = 0; s < cols; ++s) c_row[s] = alpha * t_row[s] + beta * c_row[s];
        }
      }
    }
  }
}

// Runs fn(item) for every item in [0, items). On the pool, threads take items one at a time
// from a shared counter rather than fixed halves: on a machine shared with other processes
// (or with cores at different clocks) a slowed thread simply takes fewer items.
template <typename Fn>
void run_items(int64_t items, bool parallel, const Fn& fn) {
  if (!parallel || items <= 1) {
    for (int64_t i = 0; i < items; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_for(std::min<int64_t>(num_threads(), items), 1, [&](int64_t, int64_t) {
    for (int64_t i = next.fetch_add(1); i < items; i = next.fetch_add(1)) fn(i);
  });
}

// The portable micro-kernel: a 6 x 8 tile in 12 four-wide accumulators, 2 B vectors and a
// broadcast, which fit the 16 SSE registers of baseline x86-64 (NEON on arm64 has 32).
constexpr int kPortableMR = 6;
constexpr int kPortableNR = 8;

#if defined(__GNUC__)
// GCC/Clang vector extensions compile to SSE or NEON without intrinsics; written as plain
// scalar loops GCC's vectoriser shuffles and spills this tile (~30% slower).
typedef float Vec4 __attribute__((vector_size(16)));

void portable_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     float alpha, float beta) {
  Vec4 acc[kPortableMR][2] = {};
  for (int64_t k = 0; k < kc; ++k, a += kPortableMR, b += kPortableNR) {
    Vec4 b0, b1;
    std::memcpy(&b0, b, sizeof(Vec4));
    std::memcpy(&b1, b + 4, sizeof(Vec4));
    for (int i = 0; i < kPortableMR; ++i) {
      acc[i][0] += a[i] * b0;
      acc[i][1] += a[i] * b1;
    }
  }
  for (int i = 0; i < kPortableMR; ++i) {
    float row[kPortableNR];
    std::memcpy(row, &acc[i][0], sizeof(Vec4));
    std::memcpy(row + 4, &acc[i][1], sizeof(Vec4));
    float* c_row = c + i * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < kPortableNR; ++j) c_row[j] = alpha * row[j];
    } else {
      for (int j = 0; j < kPortableNR; ++j) c_row[j] = alpha * row[j] + beta * c_row[j];
    }
  }
}
#else
void portable_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                     float alpha, float beta) {
  float acc[kPortableMR][kPortableNR] = {};
  for (int64_t k = 0; k < kc; ++k, a += kPortableMR, b += kPortableNR) {
    for (int i = 0; i < kPortableMR; ++i) {
      for (int j = 0; j < kPortableNR; ++j) acc[i][j] += a[i] * b[j];
    }
  }
  for (int i = 0; i < kPortableMR; ++i) {
    float* c_row = c + i * ldc;
    for (int j = 0; j < kPortableNR; ++j) {
      c_row[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c_row[j];
    }
  }
}
#endif

const KernelConfig kPortableConfig = {kPortableMR, kPortableNR, 120, 256, 2048, portable_kernel};

}  // namespace

void sgemm_blocked(const KernelConfig& cfg, bool trans_a, bool trans_b, int64_t M, int64_t N,
                   int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const int64_t MR = cfg.mr, NR = cfg.nr;
  const PackA pack_a = pack_a_for(cfg.mr);
  const PackB pack_b = pack_b_for(cfg.nr);

  const int threads = num_threads();
  const bool parallel =
      threads > 1 && static_cast<double>(M) * static_cast<double>(N) * K >= kParallelMinMacs;
  const int64_t nc_block = balanced_block(N, cfg.nc, NR);
  const int64_t kc_block = balanced_block(K, cfg.kc, 1);
  const int64_t m_panels = ceil_div(M, MR);
  // Threads share each packed B block and split the work of multiplying it in one of two ways:
  // - by row blocks of C, each thread packing the A rows of the block it took (the usual case);
  // - when C has too few rows to give every thread several blocks, by groups of B micro-panels,
  //   with all of op(A) packed once beside B for everyone to read.
  const bool split_rows = !parallel || m_panels >= 8 * threads;
  // Row blocks: at most mc rows, at least two per thread where M allows, near-equal sizes.
  int64_t mc_block = std::min(cfg.mc, round_up(ceil_div(M, parallel ? 2 * threads : 1), MR));
  mc_block = balanced_block(M, mc_block, MR);
  const int64_t row_blocks = ceil_div(M, mc_block);
  // Column items: a few micro-panels each (enough work to amortise taking an item).
  const int64_t panels_per_item = 4;

  float* packed_b = tls_pack_b.reserve(round_up(nc_block, NR) * kc_block);
  float* shared_a = split_rows ? nullptr : tls_pack_shared_a.reserve(m_panels * MR * kc_block);

  for (int64_t jc = 0; jc < N; jc += nc_block) {
    const int64_t nc = std::min(nc_block, N - jc);
    const int64_t n_panels = ceil_div(nc, NR);
    for (int64_t pc = 0; pc < K; pc += kc_block) {
      const int64_t kc = std::min(kc_block, K - pc);
      // Later K slices accumulate onto what the first one wrote.
      const float beta_k = pc == 0 ? beta : 1.0f;

      auto pack_b_item = [&](int64_t q) {
        const int64_t col = jc + q * NR;
        const float* src = trans_b ? B + col * ldb + pc : B + pc * ldb + col;
        pack_b(trans_b, src, ldb, std::min(NR, N - col), kc, packed_b + q * NR * kc);
      };
      // Packs op(A)[row0 : row0 + rows, pc : pc + kc] as consecutive micro-panels.
      auto pack_a_rows = [&](int64_t row0, int64_t rows, float* packed_a) {
        for (int64_t i = 0; i < rows; i += MR) {
          const int64_t row = row0 + i;
          const float* src = trans_a ? A + pc * lda + row : A + row * lda + pc;
          pack_a(trans_a, src, lda, std::min(MR, row0 + rows - row), kc, packed_a + i * kc);
        }
      };

      if (split_rows) {
        run_items(n_panels, parallel, pack_b_item);
        run_items(row_blocks, parallel, [&](int64_t item) {
          const int64_t ic = item * mc_block;
          const int64_t mc = std::min(mc_block, M - ic);
          float* packed_a = tls_pack_a.reserve(mc_block * kc_block);
          pack_a_rows(ic, mc, packed_a);
          macro_kernel(cfg, mc, nc, kc, 0, n_panels, alpha, beta_k, packed_a, packed_b,
                       C + ic * ldc + jc, ldc);
        });
      } else {
        // Items [0, n_panels) pack B micro-panels, the rest pack A micro-panels.
        run_items(n_panels + m_panels, parallel, [&](int64_t item) {
          if (item < n_panels) {
            pack_b_item(item);
          } else {
            const int64_t row = (item - n_panels) * MR;
            pack_a_rows(row, std::min(MR, M - row), shared_a + row * kc);
          }
        });
        run_items(ceil_div(n_panels, panels_per_item), parallel, [&](int64_t item) {
          const int64_t q0 = item * panels_per_item;
          const int64_t q1 = std::min(n_panels, q0 + panels_per_item);
          macro_kernel(cfg, M, nc, kc, q0, q1, alpha, beta_k, shared_a, packed_b,
                       C + jc, ldc);
        });
      }
    }
  }
}

}  // namespace gemm_detail

void sgemm_portable(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                    const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                    float* C, int64_t ldc) {
  gemm_detail::sgemm_blocked(gemm_detail::kPortableConfig, trans_a, trans_b, M, N, K, alpha, A,
                             lda, B, ldb, beta, C, ldc);
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
#if defined(HN_HAVE_AVX2)
  if (use_avx2()) {
    gemm_detail::sgemm_blocked(gemm_detail::avx2_kernel_config(), trans_a, trans_b, M, N, K,
                               alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  sgemm_portable(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace hn::cpu
