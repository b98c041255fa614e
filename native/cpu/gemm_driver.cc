// The packed, cache-blocked SGEMM driver shared by every micro-kernel (see gemm_internal.h):
// packing, the macro-kernel, and the schedule that shares the work between threads.
//
// Schedule. C is cut into stages: an NC-wide column block x a chunk of K (all of K unless K is
// huge). A stage's op(B) is packed once, cooperatively, by whichever threads arrive first, into
// one of two buffers (stages alternate, so packing the next stage can overlap the end of this
// one). Each stage is split into items: row blocks of C (each packs its own op(A) rows per KC
// slice), or, when C has too few rows, groups of B micro-panels (op(A) is then packed with B).
// Threads take items in order from one counter inside a single parallel region. Nothing waits
// for a whole team: a thread only waits for work that a running thread has already claimed,
// so a worker that wakes late (hundreds of microseconds on a busy VM) just takes fewer items,
// and the pool may even run the chunks one after another without deadlock.
//
// Home stages. When all of op(B) fits one stage and C has rows enough for row items, the
// columns are cut instead into one stage per thread: each thread packs its own column block of
// B and multiplies it (its row items from that stage's own counter) before it helps with the
// others' unclaimed items. Packed data then stays in the cache of the core that wrote it. On
// this project's 2-vCPU VM (cores on different dies: a cache line takes ~500 ns there and
// back) a shared stage cost 1024^3 about 10% on two threads, most of it writing the packed
// buffers the other core had read in the previous call; each thread packing its own A rows
// again (A is packed once per column block) costs far less.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <new>
#include <thread>

#include "../common/thread_pool.h"
#include "gemm_internal.h"

namespace hn::cpu::gemm_detail {
namespace {

// Largest register tile a micro-kernel may use (edge tiles are computed into a local tile).
constexpr int kMaxTile = 8 * 16;
// Below this many multiply-adds a product stays on the calling thread: waking the pool costs
// tens to hundreds of microseconds, what ~4M multiply-adds take on one core.
constexpr double kParallelMinMacs = 4.0e6;
// Floats of packed op(B) per stage (4 MiB; a stage's B streams from L3, one KC slice at a time).
constexpr int64_t kStageBudget = int64_t{1} << 20;
// Narrowest column block before K is cut into chunks instead: op(A) is packed again for every
// column block, so narrow blocks would make packing A a visible cost.
constexpr int64_t kMinStageColumns = 512;
// Narrowest home column block (measured on 2 threads: 1024 x 512 x 512 runs 5% faster split
// into two 256-column home blocks than as one shared stage).
constexpr int64_t kMinHomeColumns = 256;
// Most threads that get a home stage (one stage buffer each).
constexpr int kMaxHomeStages = 8;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Splits `total` into the fewest blocks of at most `max_block`, of near-equal size rounded up
// to `align` (max_block is a multiple of align), so K = 300 runs as 150 + 150, not 256 + 44.
int64_t balanced_block(int64_t total, int64_t max_block, int64_t align) {
  const int64_t blocks = ceil_div(total, max_block);
  return std::min(max_block, round_up(ceil_div(total, blocks), align));
}

// Start of part `i` when `total` units are dealt into `parts` near-equal parts.
int64_t part_start(int64_t total, int64_t parts, int64_t i) { return total * i / parts; }

// A 64-byte aligned scratch buffer that only grows: each thread keeps its own across calls,
// so the hot path allocates nothing once warm.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { release(); }

  float* reserve(int64_t floats) {
    if (floats > capacity_) {
      release();
      const int64_t size = std::max<int64_t>(floats, 1024);
      data_ = static_cast<float*>(
          ::operator new(static_cast<size_t>(size) * sizeof(float), std::align_val_t{64}));
      capacity_ = size;
    }
    return data_;
  }

 private:
  void release() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t{64});
    data_ = nullptr;
    capacity_ = 0;
  }

  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

// Atomic counters of one call, reused across calls (grown, never shrunk).
class Counters {
 public:
  std::atomic<int64_t>* reset(int64_t n) {
    if (n > capacity_) {
      data_.reset(new std::atomic<int64_t>[static_cast<size_t>(n)]);
      capacity_ = n;
    }
    for (int64_t i = 0; i < n; ++i) data_[i].store(0, std::memory_order_relaxed);
    return data_.get();
  }

 private:
  std::unique_ptr<std::atomic<int64_t>[]> data_;
  int64_t capacity_ = 0;
};

thread_local PackBuffer tls_pack_a;        // a worker's own A rows (row items)
thread_local PackBuffer tls_stage_pack[kMaxHomeStages];  // the caller's stage buffers
thread_local Counters tls_counters;         // the caller's schedule counters

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

using PackPanel = void (*)(bool, const float*, int64_t, int64_t, int64_t, float*);

PackPanel pack_a_for(int mr) {
  switch (mr) {
    case 4: return pack_a_panel<4>;
    case 6: return pack_a_panel<6>;
    case 8: return pack_a_panel<8>;
    default: return nullptr;
  }
}

PackPanel pack_b_for(int nr) {
  switch (nr) {
    case 8: return pack_b_panel<8>;
    case 12: return pack_b_panel<12>;
    case 16: return pack_b_panel<16>;
    default: return nullptr;
  }
}

// Multiplies packed A micro-panels covering `mc` rows by the packed B micro-panels [q0, q1)
// of a block `nc` columns wide, into C (pointing at the block's top-left element). Full tiles
// go straight to C; edge tiles are computed into a local tile and merged, so the micro-kernel
// never touches C outside the product.
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

// Waits until `counter` reaches `target`. Only ever waits for work a running thread has
// claimed; yielding lets that thread run when the cores are oversubscribed.
void wait_for(const std::atomic<int64_t>& counter, int64_t target) {
  while (counter.load(std::memory_order_acquire) < target) std::this_thread::yield();
}

// The geometry of one call's schedule.
struct Plan {
  int64_t MR, NR;
  int64_t kc_block;        // depth of one KC slice
  int64_t slices_per_stage;
  int64_t k_chunks;        // stages per column block
  int64_t nc_block;        // width of a column block
  int64_t col_blocks;
  int64_t stages;
  bool row_items;          // items are row blocks (else groups of B micro-panels)
  bool home;               // one stage (column block) per thread, which that thread takes first
  int64_t items_per_stage;
  int64_t m_panels;
  int64_t stage_floats;    // size of one stage buffer
};

Plan make_plan(const KernelConfig& cfg, int64_t M, int64_t N, int64_t K, int threads) {
  Plan p{};
  p.MR = cfg.mr;
  p.NR = cfg.nr;
  p.m_panels = ceil_div(M, p.MR);
  p.kc_block = balanced_block(K, cfg.kc, 1);
  const int64_t k_slices = ceil_div(K, p.kc_block);
  // Column blocks as wide as the kernel likes, narrowed so that all of K fits the stage
  // budget, but no narrower than kMinStageColumns: past that K is cut into chunks.
  const int64_t budget_cols = std::max(kMinStageColumns, kStageBudget / std::max<int64_t>(K, 1));
  p.nc_block = balanced_block(N, std::min(cfg.nc, round_up(budget_cols, p.NR)), p.NR);
  p.col_blocks = ceil_div(N, p.nc_block);
  const int64_t max_slices =
      std::max<int64_t>(1, kStageBudget / (p.kc_block * round_up(p.nc_block, p.NR)));
  p.k_chunks = ceil_div(k_slices, max_slices);
  p.slices_per_stage = ceil_div(k_slices, p.k_chunks);
  p.stages = p.col_blocks * p.k_chunks;

  // Row items need a few per thread to balance; C with fewer rows splits its columns instead.
  p.row_items = threads == 1 || p.m_panels >= 8 * threads;
  p.home = p.row_items && threads > 1 && threads <= kMaxHomeStages && p.stages == 1 &&
           N >= threads * kMinHomeColumns;
  if (p.home) {
    p.nc_block = round_up(ceil_div(N, threads), p.NR);
    p.col_blocks = p.stages = ceil_div(N, p.nc_block);
  }
  const int64_t n_panels = ceil_div(p.nc_block, p.NR);
  if (p.home) {
    // Row blocks as tall as the A block in L2 allows: each one reads the whole home B block
    // (measured at 1024^3: 8 items of 128 rows per home block beat 16 or 32 by 2-3%).
    p.items_per_stage = ceil_div(p.m_panels, std::max<int64_t>(1, cfg.mc / p.MR));
  } else if (p.row_items) {
    const int64_t mc_panels = std::max<int64_t>(1, cfg.mc / p.MR);
    int64_t blocks = ceil_div(p.m_panels, mc_panels);
    if (threads > 1) {
      // A multiple of the thread count, of at least 4 panels each where M allows.
      const int64_t most = std::max<int64_t>(threads, p.m_panels / 4);
      blocks = std::min(round_up(blocks, threads), most);
    }
    p.items_per_stage = std::max<int64_t>(1, blocks);
  } else {
    p.items_per_stage = std::min(n_panels, int64_t{4} * threads);
  }
  const int64_t b_floats = p.slices_per_stage * p.kc_block * n_panels * p.NR;
  const int64_t a_floats = p.row_items ? 0 : p.slices_per_stage * p.kc_block * p.m_panels * p.MR;
  p.stage_floats = b_floats + a_floats;
  return p;
}

}  // namespace

void sgemm_blocked(const KernelConfig& cfg, bool trans_a, bool trans_b, int64_t M, int64_t N,
                   int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const PackPanel plain_pack_a = pack_a_for(cfg.mr);
  auto pack_a = [&](bool trans, const float* a, int64_t ld, int64_t rows, int64_t kc, float* dst) {
    if (cfg.pack_full_a != nullptr && !trans && rows == cfg.mr) {
      cfg.pack_full_a(a, ld, kc, dst);
    } else {
      plain_pack_a(trans, a, ld, rows, kc, dst);
    }
  };
  const PackPanel pack_b = pack_b_for(cfg.nr);
  const bool parallel = num_threads() > 1 &&
                        static_cast<double>(M) * static_cast<double>(N) * K >= kParallelMinMacs;
  const int threads = parallel ? num_threads() : 1;
  const Plan p = make_plan(cfg, M, N, K, threads);
  const int64_t MR = p.MR, NR = p.NR, kcb = p.kc_block;
  const int64_t n_panels_max = ceil_div(p.nc_block, NR);
  const int64_t items = p.stages * p.items_per_stage;

  // Stages alternate between two buffers, except that each home stage has its own.
  const int64_t buffers = p.home ? p.stages : std::min<int64_t>(p.stages, 2);
  float* stage_buffer[kMaxHomeStages] = {};
  for (int64_t b = 0; b < buffers; ++b) stage_buffer[b] = tls_stage_pack[b].reserve(p.stage_floats);
  // Counters: [0] next item; per stage s: 1 + 3s pack units claimed, 2 + 3s units packed,
  // 3 + 3s items done; then one flag per item (its row block is final for this K chunk); then
  // (home stages) each stage's next item.
  std::atomic<int64_t>* counters = tls_counters.reset(1 + 3 * p.stages + items + p.stages);
  std::atomic<int64_t>& next_item = counters[0];
  auto units_claimed = [&](int64_t s) -> std::atomic<int64_t>& { return counters[1 + 3 * s]; };
  auto units_packed = [&](int64_t s) -> std::atomic<int64_t>& { return counters[2 + 3 * s]; };
  auto items_done = [&](int64_t s) -> std::atomic<int64_t>& { return counters[3 + 3 * s]; };
  auto item_done = [&](int64_t i) -> std::atomic<int64_t>& { return counters[1 + 3 * p.stages + i]; };
  auto next_in_stage = [&](int64_t s) -> std::atomic<int64_t>& {
    return counters[1 + 3 * p.stages + items + s];
  };

  // Stage s covers columns [col0, col0 + nc) and K slices [slice0, slice1).
  struct Stage {
    int64_t col0, nc, n_panels, k0, slice_count;
    float* packed_b;  // slice t at t * kcb * n_panels * NR, micro-panel q at q * NR * kc
    float* packed_a;  // (panel items only) slice t at t * kcb * m_panels * MR
  };
  auto stage_of = [&](int64_t s) {
    Stage st;
    const int64_t jb = s / p.k_chunks, kb = s % p.k_chunks;
    st.col0 = jb * p.nc_block;
    st.nc = std::min(p.nc_block, N - st.col0);
    st.n_panels = ceil_div(st.nc, NR);
    st.k0 = kb * p.slices_per_stage * kcb;
    st.slice_count = std::min(p.slices_per_stage, ceil_div(K - st.k0, kcb));
    st.packed_b = stage_buffer[s % buffers];
    st.packed_a = st.packed_b + p.slices_per_stage * kcb * n_panels_max * NR;
    return st;
  };
  auto slice_depth = [&](const Stage& st, int64_t t) {
    return std::min(kcb, K - (st.k0 + t * kcb));
  };
  // Packs op(A)[row0 : row0 + rows, k : k + kc] as consecutive micro-panels.
  auto pack_a_rows = [&](int64_t row0, int64_t rows, int64_t k, int64_t kc, float* dst) {
    for (int64_t i = 0; i < rows; i += MR) {
      const int64_t row = row0 + i;
      const float* src = trans_a ? A + k * lda + row : A + row * lda + k;
      pack_a(trans_a, src, lda, std::min(MR, row0 + rows - row), kc, dst + i * kc);
    }
  };

  // Makes stage s's packed operands ready, packing units alongside any other thread here.
  auto prepare_stage = [&](int64_t s, const Stage& st) {
    const int64_t b_units = st.slice_count * st.n_panels;
    const int64_t units = b_units + (p.row_items ? 0 : st.slice_count * p.m_panels);
    if (units_packed(s).load(std::memory_order_acquire) == units) return;
    // The buffer is free once every item of the stage that last used it is done.
    if (s >= buffers) wait_for(items_done(s - buffers), p.items_per_stage);
    for (int64_t u = units_claimed(s).fetch_add(1); u < units; u = units_claimed(s).fetch_add(1)) {
      if (u < b_units) {
        const int64_t t = u / st.n_panels, q = u % st.n_panels;
        const int64_t k = st.k0 + t * kcb, kc = slice_depth(st, t), col = st.col0 + q * NR;
        const float* src = trans_b ? B + col * ldb + k : B + k * ldb + col;
        pack_b(trans_b, src, ldb, std::min(NR, N - col), kc,
               st.packed_b + t * kcb * st.n_panels * NR + q * NR * kc);
      } else {
        const int64_t t = (u - b_units) / p.m_panels, i = (u - b_units) % p.m_panels;
        const int64_t k = st.k0 + t * kcb, kc = slice_depth(st, t);
        pack_a_rows(i * MR, std::min(MR, M - i * MR), k, kc,
                    st.packed_a + t * kcb * p.m_panels * MR + i * MR * kc);
      }
      units_packed(s).fetch_add(1, std::memory_order_acq_rel);
    }
    wait_for(units_packed(s), units);
  };

  auto run_item = [&](int64_t item) {
    const int64_t s = item / p.items_per_stage, w = item % p.items_per_stage;
    const Stage st = stage_of(s);
    prepare_stage(s, st);
    // The previous K chunk of this block must be summed into C before this one adds to it.
    if (s % p.k_chunks != 0) wait_for(item_done(item - p.items_per_stage), 1);
    for (int64_t t = 0; t < st.slice_count; ++t) {
      const int64_t k = st.k0 + t * kcb, kc = slice_depth(st, t);
      const float beta_k = k == 0 ? beta : 1.0f;  // later slices add to what the first wrote
      const float* packed_b = st.packed_b + t * kcb * st.n_panels * NR;
      if (p.row_items) {
        const int64_t row0 = part_start(p.m_panels, p.items_per_stage, w) * MR;
        const int64_t row1 = std::min(M, part_start(p.m_panels, p.items_per_stage, w + 1) * MR);
        float* packed_a = tls_pack_a.reserve(round_up(row1 - row0, MR) * kcb);
        pack_a_rows(row0, row1 - row0, k, kc, packed_a);
        macro_kernel(cfg, row1 - row0, st.nc, kc, 0, st.n_panels, alpha, beta_k, packed_a,
                     packed_b, C + row0 * ldc + st.col0, ldc);
      } else {
        const int64_t q0 = part_start(st.n_panels, p.items_per_stage, w);
        const int64_t q1 = part_start(st.n_panels, p.items_per_stage, w + 1);
        macro_kernel(cfg, M, st.nc, kc, q0, q1, alpha, beta_k,
                     st.packed_a + t * kcb * p.m_panels * MR, packed_b, C + st.col0, ldc);
      }
    }
    item_done(item).store(1, std::memory_order_release);
    items_done(s).fetch_add(1, std::memory_order_acq_rel);
  };

  auto run_items = [&](int64_t chunk, int64_t) {
    if (!p.home) {
      for (int64_t i = next_item.fetch_add(1); i < items; i = next_item.fetch_add(1)) run_item(i);
      return;
    }
    // The home stage first, then whatever the other stages have left.
    for (int64_t o = 0; o < p.stages; ++o) {
      const int64_t s = (chunk + o) % p.stages;
      for (int64_t w = next_in_stage(s).fetch_add(1); w < p.items_per_stage;
           w = next_in_stage(s).fetch_add(1)) {
        run_item(s * p.items_per_stage + w);
      }
    }
  };
  if (threads > 1) {
    parallel_for(threads, 1, run_items);
  } else {
    run_items(0, 1);
  }
}

}  // namespace hn::cpu::gemm_detail
