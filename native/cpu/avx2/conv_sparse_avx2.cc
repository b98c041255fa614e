// The AVX2/FMA kernels of the sparse-gradient convolution backward (../conv_sparse.h).
// Compiled with -mavx2 -mfma; plain functions and intrinsics only (no shared inline templates
// from the standard library, which the linker could pick for non-AVX2 callers). The driver
// calls them only when the CPU has AVX2 and FMA.
#include <immintrin.h>

#include <cstdint>

#include "../conv_sparse.h"

namespace hn::cpu::sparse_detail {
namespace {

__m256i lane_mask(int64_t valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid > 8 ? 8 : valid)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

int64_t compact_avx2(const float* v, int64_t n, int32_t* idx, float* val) {
  const __m256 zero = _mm256_setzero_ps();
  int64_t k = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(v + i);
    // Not equal, unordered: NaN counts as nonzero.
    unsigned m = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(x, zero, _CMP_NEQ_UQ)));
    while (m != 0) {
      const int j = __builtin_ctz(m);
      idx[k] = static_cast<int32_t>(i + j);
      val[k] = v[i + j];
      ++k;
      m &= m - 1;
    }
  }
  for (; i < n; ++i) {
    idx[k] = static_cast<int32_t>(i);
    val[k] = v[i];
    k += v[i] != 0.0f ? 1 : 0;
  }
  return k;
}

// NV vectors of acc in registers, U accumulator sets (see conv_sparse512.cc).
template <int NV, int U>
void axpy_block(float* acc, const float* rows, int64_t stride, const int32_t* idx,
                const float* val, int64_t count, bool accumulate) {
  __m256 a[U][NV];
  for (int v = 0; v < NV; ++v) a[0][v] = accumulate ? _mm256_loadu_ps(acc + 8 * v) : _mm256_setzero_ps();
  for (int u = 1; u < U; ++u) {
    for (int v = 0; v < NV; ++v) a[u][v] = _mm256_setzero_ps();
  }
  int64_t k = 0;
  for (; k + U <= count; k += U) {
    for (int u = 0; u < U; ++u) {
      const float* r = rows + idx[k + u] * stride;
      const __m256 g = _mm256_broadcast_ss(val + k + u);
      for (int v = 0; v < NV; ++v) a[u][v] = _mm256_fmadd_ps(g, _mm256_loadu_ps(r + 8 * v), a[u][v]);
    }
  }
  for (; k < count; ++k) {
    const float* r = rows + idx[k] * stride;
    const __m256 g = _mm256_broadcast_ss(val + k);
    for (int v = 0; v < NV; ++v) a[0][v] = _mm256_fmadd_ps(g, _mm256_loadu_ps(r + 8 * v), a[0][v]);
  }
  for (int u = 1; u < U; ++u) {
    for (int v = 0; v < NV; ++v) a[0][v] = _mm256_add_ps(a[0][v], a[u][v]);
  }
  for (int v = 0; v < NV; ++v) _mm256_storeu_ps(acc + 8 * v, a[0][v]);
}

using BlockFn = void (*)(float*, const float*, int64_t, const int32_t*, const float*, int64_t, bool);

// len is a multiple of 16: blocks of 2, 4, 6, 8, 10 or 12 vectors (16 ymm registers).
const BlockFn kBlocks[13] = {
    nullptr, nullptr, axpy_block<2, 4>, nullptr, axpy_block<4, 2>, nullptr, axpy_block<6, 2>,
    nullptr, axpy_block<8, 1>, nullptr, axpy_block<10, 1>, nullptr, axpy_block<12, 1>,
};

void gather_axpy_avx2(float* acc, int64_t len, const float* rows, int64_t stride,
                      const int32_t* idx, const float* val, int64_t count, bool accumulate) {
  for (int64_t off = 0; off < len; off += 96) {
    const int64_t nv = (len - off) / 8 < 12 ? (len - off) / 8 : 12;
    kBlocks[nv](acc + off, rows + off, stride, idx, val, count, accumulate);
  }
}

void gather_runs_avx2(float* dst, const float* src, int64_t runs, int64_t per, int64_t outer,
                      int64_t inner, int64_t width) {
  for (int64_t c = 0; c < runs; c += per, src += outer) {
    for (int64_t h = 0; h < per; ++h, dst += width) {
      const float* s = src + h * inner;
      for (int64_t i = 0; i < width; i += 8) {
        const __m256i m = lane_mask(width - i);
        _mm256_maskstore_ps(dst + i, m, _mm256_maskload_ps(s + i, m));
      }
    }
  }
}

// Lanes [lo, hi) of an 8-lane vector (clipped to 0..8), as a maskload/maskstore mask.
__m256i lanes_between(int64_t lo, int64_t hi) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  lo = lo < -1 ? -1 : lo;
  hi = hi > 8 ? 8 : hi;
  return _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(lo) - 1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), lane));
}

// Columns [c0, c0 + 8 NV) of input row (c, ih), summed in registers (see conv_sparse512.cc).
template <int NV>
void col2im_chunk(const Col2imArgs& a, int64_t c, int64_t ih, int64_t c0, int64_t width) {
  __m256 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_setzero_ps();
  for (int32_t t = a.tap_start[ih]; t < a.tap_start[ih + 1]; ++t) {
    const float* const* rows = a.rows + a.tap_oh[t] * a.out_w;
    const int64_t off = (c * a.kernel_h + a.tap_i[t]) * a.kernel_w;
    for (int64_t ow = 0; ow < a.out_w; ++ow) {
      const int64_t col = ow * a.stride_w - c0;
      if (col + a.kernel_w <= 0 || col >= 8 * NV) continue;
      const float* src = rows[ow] + off;
      for (int v = 0; v < NV; ++v) {
        const int64_t lo = col - 8 * v;
        if (lo >= 8 || lo + a.kernel_w <= 0) continue;
        // Lane l reads src[l - lo]; lanes outside the run are masked (no access).
        acc[v] = _mm256_add_ps(acc[v], _mm256_maskload_ps(src - lo, lanes_between(lo, lo + a.kernel_w)));
      }
    }
  }
  float* out = a.dx + (c * a.ph + ih) * a.pw + c0;
  for (int v = 0; v < NV && 8 * v < width; ++v) _mm256_maskstore_ps(out + 8 * v, lanes_between(0, width - 8 * v), acc[v]);
}

using ChunkFn = void (*)(const Col2imArgs&, int64_t, int64_t, int64_t, int64_t);
const ChunkFn kChunks[5] = {nullptr, col2im_chunk<1>, col2im_chunk<2>, col2im_chunk<3>, col2im_chunk<4>};

// Rows of at most 16 columns (the MultiMNIST 10->20 layer: 12): two vectors per input row,
// each output column's masks from a table (see col2im_narrow in conv_sparse512.cc).
void col2im_narrow(const Col2imArgs& a) {
  constexpr int64_t kMaxOut = 16;
  __m256i mask_lo[kMaxOut], mask_hi[kMaxOut];
  int64_t shift[kMaxOut];
  for (int64_t ow = 0; ow < a.out_w; ++ow) {
    shift[ow] = ow * a.stride_w;
    mask_lo[ow] = lanes_between(shift[ow], shift[ow] + a.kernel_w);
    mask_hi[ow] = lanes_between(shift[ow] - 8, shift[ow] - 8 + a.kernel_w);
  }
  const __m256i store_lo = lanes_between(0, a.pw), store_hi = lanes_between(0, a.pw - 8);
  for (int64_t c = 0; c < a.cin; ++c) {
    for (int64_t ih = 0; ih < a.ph; ++ih) {
      __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
      for (int32_t t = a.tap_start[ih]; t < a.tap_start[ih + 1]; ++t) {
        const float* const* rows = a.rows + a.tap_oh[t] * a.out_w;
        const int64_t off = (c * a.kernel_h + a.tap_i[t]) * a.kernel_w;
        for (int64_t ow = 0; ow < a.out_w; ++ow) {
          const float* src = rows[ow] + off - shift[ow];
          lo = _mm256_add_ps(lo, _mm256_maskload_ps(src, mask_lo[ow]));
          hi = _mm256_add_ps(hi, _mm256_maskload_ps(src + 8, mask_hi[ow]));
        }
      }
      float* out = a.dx + (c * a.ph + ih) * a.pw;
      _mm256_maskstore_ps(out, store_lo, lo);
      _mm256_maskstore_ps(out + 8, store_hi, hi);
    }
  }
}

void col2im_rows_avx2(const Col2imArgs& a) {
  if (a.pw <= 16 && a.out_w <= 16) return col2im_narrow(a);
  for (int64_t c = 0; c < a.cin; ++c) {
    for (int64_t ih = 0; ih < a.ph; ++ih) {
      for (int64_t c0 = 0; c0 < a.pw; c0 += 32) {
        const int64_t width = a.pw - c0 < 32 ? a.pw - c0 : 32;
        kChunks[(width + 7) / 8](a, c, ih, c0, width);
      }
    }
  }
}

bool all_finite_avx2(const float* v, int64_t n) {
  // Exponent all ones: inf or NaN.
  const __m256i exponent = _mm256_set1_epi32(0x7f800000);
  __m256i bad = _mm256_setzero_si256();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i bits = _mm256_castps_si256(_mm256_maskload_ps(v + i, lane_mask(n - i)));
    bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(bits, exponent), exponent));
  }
  return _mm256_testz_si256(bad, bad) != 0;
}

// Even and odd floats of 16 (two vectors) in order: the 2x2 windows' left and right columns.
void split_pairs(__m256 lo, __m256 hi, __m256* even, __m256* odd) {
  const __m256 e = _mm256_shuffle_ps(lo, hi, 0x88), o = _mm256_shuffle_ps(lo, hi, 0xdd);
  *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8));
  *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xd8));
}

// 8 pooled columns at a time (see route_2x2_512 in conv_sparse512.cc for the rule).
int64_t route_2x2_avx2(const float* y, int64_t width, const float* g, int64_t rows, int64_t cols,
                       bool relu, int32_t* idx, float* val) {
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256 zero = _mm256_setzero_ps();
  const __m256i offsets[3] = {_mm256_set1_epi32(1), _mm256_set1_epi32(static_cast<int>(width)),
                              _mm256_set1_epi32(static_cast<int>(width + 1))};
  int64_t k = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const float* r0 = y + 2 * i * width;
    const float* r1 = r0 + width;
    for (int64_t j = 0; j < cols; j += 8) {
      const int64_t n = cols - j < 8 ? cols - j : 8;
      const __m256i in_lo = lane_mask(2 * n), in_hi = lane_mask(2 * n - 8);
      __m256 best, b, c, d;
      split_pairs(_mm256_maskload_ps(r0 + 2 * j, in_lo), _mm256_maskload_ps(r0 + 2 * j + 8, in_hi), &best, &b);
      split_pairs(_mm256_maskload_ps(r1 + 2 * j, in_lo), _mm256_maskload_ps(r1 + 2 * j + 8, in_hi), &c, &d);
      __m256i off = _mm256_setzero_si256();
      const __m256 cand[3] = {b, c, d};
      for (int q = 0; q < 3; ++q) {
        const __m256 take = _mm256_or_ps(_mm256_cmp_ps(cand[q], best, _CMP_GT_OQ), _mm256_cmp_ps(cand[q], cand[q], _CMP_UNORD_Q));
        best = _mm256_blendv_ps(best, cand[q], take);
        off = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(off), _mm256_castsi256_ps(offsets[q]), take));
      }
      const __m256 gv = _mm256_maskload_ps(g + i * cols + j, lane_mask(n));
      __m256 keep = _mm256_and_ps(_mm256_castsi256_ps(lane_mask(n)), _mm256_cmp_ps(gv, zero, _CMP_NEQ_UQ));
      if (relu) keep = _mm256_and_ps(keep, _mm256_cmp_ps(best, zero, _CMP_GT_OQ));
      unsigned m = static_cast<unsigned>(_mm256_movemask_ps(keep));
      if (m == 0) continue;
      alignas(32) int32_t pos[8];
      alignas(32) float gs[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(pos),
                         _mm256_add_epi32(_mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(2 * i * width + 2 * j)), lane2), off));
      _mm256_store_ps(gs, gv);
      while (m != 0) {
        const int l = __builtin_ctz(m);
        idx[k] = pos[l];
        val[k] = gs[l];
        ++k;
        m &= m - 1;
      }
    }
  }
  return k;
}

}  // namespace

const Kernels* avx2_kernels() {
  static const Kernels k{compact_avx2, gather_axpy_avx2, gather_runs_avx2, col2im_rows_avx2, all_finite_avx2, route_2x2_avx2};
  return &k;
}

}  // namespace hn::cpu::sparse_detail
