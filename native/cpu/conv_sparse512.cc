// The AVX-512 kernels of the sparse-gradient convolution backward (conv_sparse.h). Compiled for
// AVX-512 by the pragma below, so nothing from the standard library is used here (an inline
// function instantiated in this file could be picked by the linker for portable callers).
#include <cstdint>

#include "conv_sparse.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma,bmi,popcnt")
#include <immintrin.h>

namespace hn::cpu::sparse_detail {
namespace {

__mmask16 low_lanes(int64_t n) { return static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u); }

int64_t compact512(const float* v, int64_t n, int32_t* idx, float* val) {
  const __m512i step = _mm512_set1_epi32(16);
  __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512 zero = _mm512_setzero_ps();
  int64_t k = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 in = low_lanes(n - i);
    const __m512 x = _mm512_maskz_loadu_ps(in, v + i);
    // Not equal, unordered: NaN counts as nonzero.
    const __mmask16 m = _mm512_mask_cmp_ps_mask(in, x, zero, _CMP_NEQ_UQ);
    if (m != 0) {
      // Compress in registers, then full stores (the memory form is slow on Zen 4): up to 16
      // slots past the count are written, as the header allows.
      _mm512_storeu_si512(idx + k, _mm512_maskz_compress_epi32(m, lane));
      _mm512_storeu_ps(val + k, _mm512_maskz_compress_ps(m, x));
      k += _mm_popcnt_u32(m);
    }
    lane = _mm512_add_epi32(lane, step);
  }
  return k;
}

// NV vectors of acc in registers; U independent accumulator sets when NV is small (an FMA's
// latency would otherwise bound a chain of one or two vectors per entry).
template <int NV, int U>
void axpy_block(float* acc, const float* rows, int64_t stride, const int32_t* idx,
                const float* val, int64_t count, bool accumulate) {
  __m512 a[U][NV];
  for (int v = 0; v < NV; ++v) a[0][v] = accumulate ? _mm512_loadu_ps(acc + 16 * v) : _mm512_setzero_ps();
  for (int u = 1; u < U; ++u) {
    for (int v = 0; v < NV; ++v) a[u][v] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + U <= count; k += U) {
    for (int u = 0; u < U; ++u) {
      const float* r = rows + idx[k + u] * stride;
      const __m512 g = _mm512_set1_ps(val[k + u]);
      for (int v = 0; v < NV; ++v) a[u][v] = _mm512_fmadd_ps(g, _mm512_loadu_ps(r + 16 * v), a[u][v]);
    }
  }
  for (; k < count; ++k) {
    const float* r = rows + idx[k] * stride;
    const __m512 g = _mm512_set1_ps(val[k]);
    for (int v = 0; v < NV; ++v) a[0][v] = _mm512_fmadd_ps(g, _mm512_loadu_ps(r + 16 * v), a[0][v]);
  }
  for (int u = 1; u < U; ++u) {
    for (int v = 0; v < NV; ++v) a[0][v] = _mm512_add_ps(a[0][v], a[u][v]);
  }
  for (int v = 0; v < NV; ++v) _mm512_storeu_ps(acc + 16 * v, a[0][v]);
}

using BlockFn = void (*)(float*, const float*, int64_t, const int32_t*, const float*, int64_t, bool);

// Blocks of 1..16 vectors; 16 accumulators plus the broadcast and loads fit in 32 registers.
const BlockFn kBlocks[17] = {
    nullptr,
    axpy_block<1, 4>, axpy_block<2, 4>, axpy_block<3, 4>, axpy_block<4, 4>,
    axpy_block<5, 2>, axpy_block<6, 2>, axpy_block<7, 2>, axpy_block<8, 2>,
    axpy_block<9, 1>, axpy_block<10, 1>, axpy_block<11, 1>, axpy_block<12, 1>,
    axpy_block<13, 1>, axpy_block<14, 1>, axpy_block<15, 1>, axpy_block<16, 1>,
};

void gather_axpy512(float* acc, int64_t len, const float* rows, int64_t stride,
                    const int32_t* idx, const float* val, int64_t count, bool accumulate) {
  for (int64_t off = 0; off < len; off += 256) {
    const int64_t nv = (len - off) / 16 < 16 ? (len - off) / 16 : 16;
    kBlocks[nv](acc + off, rows + off, stride, idx, val, count, accumulate);
  }
}

void gather_runs512(float* dst, const float* src, int64_t runs, int64_t per, int64_t outer,
                    int64_t inner, int64_t width) {
  if (width <= 16) {
    const __mmask16 m = low_lanes(width);
    for (int64_t c = 0; c < runs; c += per, src += outer) {
      for (int64_t h = 0; h < per; ++h, dst += width) {
        _mm512_mask_storeu_ps(dst, m, _mm512_maskz_loadu_ps(m, src + h * inner));
      }
    }
    return;
  }
  for (int64_t c = 0; c < runs; c += per, src += outer) {
    for (int64_t h = 0; h < per; ++h, dst += width) {
      const float* s = src + h * inner;
      for (int64_t i = 0; i < width; i += 16) {
        const __mmask16 m = low_lanes(width - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, s + i));
      }
    }
  }
}

// Lanes [lo, hi) of a 16-lane vector (clipped to 0..16).
__mmask16 lanes_between(int64_t lo, int64_t hi) {
  lo = lo < 0 ? 0 : lo;
  hi = hi > 16 ? 16 : hi;
  return hi <= lo ? 0 : static_cast<__mmask16>(low_lanes(hi) & ~low_lanes(lo));
}

// Columns [c0, c0 + 16 NV) of input row (c, ih): every run that overlaps them is added into
// register accumulators with masked loads that place its kernel_w values at their columns.
template <int NV>
void col2im_chunk(const Col2imArgs& a, int64_t c, int64_t ih, int64_t c0, int64_t width) {
  __m512 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  for (int32_t t = a.tap_start[ih]; t < a.tap_start[ih + 1]; ++t) {
    const float* const* rows = a.rows + a.tap_oh[t] * a.out_w;
    const int64_t off = (c * a.kernel_h + a.tap_i[t]) * a.kernel_w;
    for (int64_t ow = 0; ow < a.out_w; ++ow) {
      const int64_t col = ow * a.stride_w - c0;
      if (col + a.kernel_w <= 0 || col >= 16 * NV) continue;
      const float* src = rows[ow] + off;
      for (int v = 0; v < NV; ++v) {
        const int64_t lo = col - 16 * v;
        const __mmask16 m = lanes_between(lo, lo + a.kernel_w);
        // Lane l reads src[l - lo]; lanes outside the run are masked (no access).
        if (m != 0) acc[v] = _mm512_add_ps(acc[v], _mm512_maskz_loadu_ps(m, src - lo));
      }
    }
  }
  float* out = a.dx + (c * a.ph + ih) * a.pw + c0;
  for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(out + 16 * v, lanes_between(0, width - 16 * v), acc[v]);
}

using ChunkFn = void (*)(const Col2imArgs&, int64_t, int64_t, int64_t, int64_t);
const ChunkFn kChunks[5] = {nullptr, col2im_chunk<1>, col2im_chunk<2>, col2im_chunk<3>, col2im_chunk<4>};

// Rows of at most 16 columns (the MultiMNIST 10->20 layer: 12): one vector per input row, the
// mask and the offset of each output column from a table, two accumulators (an add's latency
// would otherwise bound the chain of runs).
void col2im_narrow(const Col2imArgs& a) {
  constexpr int64_t kMaxOut = 16;
  __mmask16 mask[kMaxOut];
  int64_t shift[kMaxOut];
  for (int64_t ow = 0; ow < a.out_w; ++ow) {
    shift[ow] = ow * a.stride_w;
    mask[ow] = lanes_between(shift[ow], shift[ow] + a.kernel_w);
  }
  const __mmask16 store = low_lanes(a.pw);
  for (int64_t c = 0; c < a.cin; ++c) {
    for (int64_t ih = 0; ih < a.ph; ++ih) {
      __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
      for (int32_t t = a.tap_start[ih]; t < a.tap_start[ih + 1]; ++t) {
        const float* const* rows = a.rows + a.tap_oh[t] * a.out_w;
        const int64_t off = (c * a.kernel_h + a.tap_i[t]) * a.kernel_w;
        int64_t ow = 0;
        for (; ow + 2 <= a.out_w; ow += 2) {
          acc0 = _mm512_add_ps(acc0, _mm512_maskz_loadu_ps(mask[ow], rows[ow] + off - shift[ow]));
          acc1 = _mm512_add_ps(acc1, _mm512_maskz_loadu_ps(mask[ow + 1], rows[ow + 1] + off - shift[ow + 1]));
        }
        if (ow < a.out_w) acc0 = _mm512_add_ps(acc0, _mm512_maskz_loadu_ps(mask[ow], rows[ow] + off - shift[ow]));
      }
      _mm512_mask_storeu_ps(a.dx + (c * a.ph + ih) * a.pw, store, _mm512_add_ps(acc0, acc1));
    }
  }
}

void col2im_rows512(const Col2imArgs& a) {
  if (a.pw <= 16 && a.out_w <= 16) return col2im_narrow(a);
  for (int64_t c = 0; c < a.cin; ++c) {
    for (int64_t ih = 0; ih < a.ph; ++ih) {
      for (int64_t c0 = 0; c0 < a.pw; c0 += 64) {
        const int64_t width = a.pw - c0 < 64 ? a.pw - c0 : 64;
        kChunks[(width + 15) / 16](a, c, ih, c0, width);
      }
    }
  }
}

bool all_finite512(const float* v, int64_t n) {
  // Exponent all ones: inf or NaN.
  const __m512i exponent = _mm512_set1_epi32(0x7f800000);
  __mmask16 bad = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __m512i bits = _mm512_maskz_loadu_epi32(low_lanes(n - i), v + i);
    bad |= _mm512_cmpeq_epi32_mask(_mm512_and_si512(bits, exponent), exponent);
  }
  return bad == 0;
}

// 16 pooled columns at a time: the two rows of each window loaded as 32 floats and split into
// even and odd columns, the argmax chosen in max_pool2d_forward's order ((0,0), (0,1), (1,0),
// (1,1); strictly greater, or NaN), the kept entries compressed into the lists.
int64_t route_2x2_512(const float* y, int64_t width, const float* g, int64_t rows, int64_t cols,
                      bool relu, int32_t* idx, float* val) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
  const __m512 zero = _mm512_setzero_ps();
  const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32(static_cast<int>(width));
  const __m512i down_one = _mm512_set1_epi32(static_cast<int>(width + 1));
  int64_t k = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const float* r0 = y + 2 * i * width;
    const float* r1 = r0 + width;
    // y was written long before (the forward): fetch the row pair four pairs ahead.
    const char* ahead = reinterpret_cast<const char*>(r0 + 8 * width);
    for (int64_t b = 0; b < 2 * width * 4; b += 64) _mm_prefetch(ahead + b, _MM_HINT_T0);
    for (int64_t j = 0; j < cols; j += 16) {
      const int64_t n = cols - j < 16 ? cols - j : 16;
      const __mmask16 in = low_lanes(n), in_lo = low_lanes(2 * n), in_hi = low_lanes(2 * n - 16 > 0 ? 2 * n - 16 : 0);
      const __m512 a_lo = _mm512_maskz_loadu_ps(in_lo, r0 + 2 * j), a_hi = _mm512_maskz_loadu_ps(in_hi, r0 + 2 * j + 16);
      const __m512 b_lo = _mm512_maskz_loadu_ps(in_lo, r1 + 2 * j), b_hi = _mm512_maskz_loadu_ps(in_hi, r1 + 2 * j + 16);
      __m512 best = _mm512_permutex2var_ps(a_lo, even, a_hi);
      __m512i off = _mm512_setzero_si512();
      const __m512 cand[3] = {_mm512_permutex2var_ps(a_lo, odd, a_hi), _mm512_permutex2var_ps(b_lo, even, b_hi),
                              _mm512_permutex2var_ps(b_lo, odd, b_hi)};
      const __m512i cand_off[3] = {one, down, down_one};
      for (int c = 0; c < 3; ++c) {
        const __mmask16 take = _mm512_cmp_ps_mask(cand[c], best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(cand[c], cand[c], _CMP_UNORD_Q);
        best = _mm512_mask_mov_ps(best, take, cand[c]);
        off = _mm512_mask_mov_epi32(off, take, cand_off[c]);
      }
      const __m512 gv = _mm512_maskz_loadu_ps(in, g + i * cols + j);
      __mmask16 keep = _mm512_mask_cmp_ps_mask(in, gv, zero, _CMP_NEQ_UQ);
      if (relu) keep &= _mm512_cmp_ps_mask(best, zero, _CMP_GT_OQ);
      if (keep == 0) continue;
      const __m512i pos = _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(2 * i * width + 2 * j)), lane2), off);
      _mm512_storeu_si512(idx + k, _mm512_maskz_compress_epi32(keep, pos));
      _mm512_storeu_ps(val + k, _mm512_maskz_compress_ps(keep, gv));
      k += _mm_popcnt_u32(keep);
    }
  }
  return k;
}

bool detect() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
}

}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels k{compact512, gather_axpy512, gather_runs512, col2im_rows512, all_finite512, route_2x2_512};
  static const bool supported = detect();
  return supported ? &k : nullptr;
}

}  // namespace hn::cpu::sparse_detail

#else

namespace hn::cpu::sparse_detail {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace hn::cpu::sparse_detail

#endif
