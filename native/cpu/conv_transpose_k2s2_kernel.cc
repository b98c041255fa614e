// The AVX-512 register tile of the 2x2/stride-2 transposed convolution
// (conv_transpose_k2s2.h). Compiled for AVX-512 by the pragma below, so nothing from the
// standard library may be used here (an inline function instantiated in this file could be
// picked by the linker for portable callers).
#include <cstdint>

#include "conv_transpose_k2s2.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

#include "relu512.h"

namespace hn::cpu::k2s2_detail {
namespace {

using avx512::relu;

// Where the interleaved outputs of pixels p .. p + n - 1 (n <= 8) of one output channel and
// kernel row i go: pixel (h, w) to out[(2h + i) * 2W + 2w .. + 1], one masked store per input
// row the pixels span (rows of W < 8 pixels put several in one vector).
struct RowStore {
  float* out;     // y[co] + i * 2W
  int64_t w;      // input width W
  int64_t pitch;  // floats between output rows 2h + i and 2(h + 1) + i: 4W
  bool whole;     // W % 8 == 0: a group of 8 starting at a multiple of 8 lies in one row

  void store(__m512 z, int64_t p, int64_t n) const {
    if (whole && n == 8) {
      const int64_t h = p / w;
      _mm512_storeu_ps(out + h * pitch + 2 * (p - h * w), z);
      return;
    }
    for (int64_t done = 0; done < n;) {
      const int64_t q = p + done, h = q / w, col = q - h * w;
      const int64_t seg = n - done < w - col ? n - done : w - col;
      const __mmask16 mask = static_cast<__mmask16>(((1u << (2 * seg)) - 1u) << (2 * done));
      // Lane 2*done holds pixel q: the address is shifted back so that lane lands at column 2*col.
      _mm512_mask_storeu_ps(out + h * pitch + 2 * col - 2 * done, mask, z);
      done += seg;
    }
  }
};

// Stores the sums of a tile (rows r = c * 4 + i * 2 + j of 16 * nv pixels from p0, `valid` of
// them real) into y: relu if asked, then the j = 0 and j = 1 rows interleaved.
void store_tile(const ImageArgs& a, const float* sums, int co, int nv, int64_t p0, int64_t valid) {
  // (pixel l of the j = 0 row, pixel l of the j = 1 row) for l = 0..7 and for l = 8..15.
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const int64_t plane = 4 * a.h * a.w, width = 16 * nv;
  for (int c = 0; c < co; ++c) {
    for (int i = 0; i < 2; ++i) {
      const RowStore rows{a.y + (a.co0 + c) * plane + i * 2 * a.w, a.w, 4 * a.w, a.w % 8 == 0};
      const float* even_row = sums + (c * 4 + i * 2) * width;
      const float* odd_row = even_row + width;
      for (int64_t l = 0; l < valid; l += 16) {
        __m512 even = _mm512_load_ps(even_row + l), odd = _mm512_load_ps(odd_row + l);
        if (a.relu) {
          even = relu(even);
          odd = relu(odd);
        }
        const int64_t left = valid - l;
        rows.store(_mm512_permutex2var_ps(even, lo, odd), p0 + l, left < 8 ? left : 8);
        if (left > 8) rows.store(_mm512_permutex2var_ps(even, hi, odd), p0 + l + 8, left - 8 < 8 ? left - 8 : 8);
      }
    }
  }
}

// Channels co0 .. co0 + CO - 1 (4 output rows (i, j) each) x pixels p0 .. p0 + 16 NV - 1, of
// which `valid` exist (all of them unless TAIL: the last vector then loads under a mask, so
// nothing past the image is read). acc[r][v] with r = c * 4 + i * 2 + j.
template <int CO, int NV, bool TAIL>
void tile(const ImageArgs& a, int64_t p0, int64_t valid) {
  const int64_t hw = a.h * a.w, m = a.cout * 4;
  // Masked loads stay out of the loop: with a mask in it GCC 12 kept the accumulators on the
  // stack.
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << (valid - 16 * (NV - 1))) - 1u);
  __m512 acc[CO * 4][NV];
  for (int c = 0; c < CO; ++c) {
    const __m512 b = _mm512_set1_ps(a.bias != nullptr ? a.bias[a.co0 + c] : 0.0f);
    for (int r = 0; r < 4; ++r) {
      for (int v = 0; v < NV; ++v) acc[c * 4 + r][v] = b;
    }
  }
  const float* xc = a.x + p0;
  const float* wc = a.wt + a.co0 * 4;
  // A tail tile's plain loads run past this channel's pixels into the next channel (harmless:
  // those lanes are never stored); only the last channel, whose next floats may lie past x,
  // loads its last vector under a mask.
  const int64_t plain = TAIL ? a.cin - 1 : a.cin;
  for (int64_t ci = 0; ci < plain; ++ci, xc += hw, wc += m) {
    __m512 xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_loadu_ps(xc + 16 * v);
    for (int r = 0; r < CO * 4; ++r) {
      const __m512 wv = _mm512_set1_ps(wc[r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
    }
  }
  if (TAIL) {
    __m512 xv[NV];
    for (int v = 0; v < NV; ++v) {
      xv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(tail_mask, xc + 16 * v) : _mm512_loadu_ps(xc + 16 * v);
    }
    for (int r = 0; r < CO * 4; ++r) {
      const __m512 wv = _mm512_set1_ps(wc[r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
    }
  }
  // The epilogue reads the sums back from memory: indexing the register array in its loops
  // (with their early exits) made GCC keep the accumulators on the stack inside the ci loop.
  alignas(64) float sums[CO * 4][NV * 16];
  for (int r = 0; r < CO * 4; ++r) {
    for (int v = 0; v < NV; ++v) _mm512_store_ps(sums[r] + 16 * v, acc[r][v]);
  }
  store_tile(a, &sums[0][0], CO, NV, p0, valid);
}

template <int CO>
void channels(const ImageArgs& a) {
  const int64_t hw = a.h * a.w;
  int64_t p0 = 0;
  for (; p0 + 48 <= hw; p0 += 48) tile<CO, 3, false>(a, p0, 48);
  const int64_t rest = hw - p0;
  if (rest > 32) {
    tile<CO, 3, true>(a, p0, rest);
  } else if (rest > 16) {
    tile<CO, 2, true>(a, p0, rest);
  } else if (rest > 0) {
    tile<CO, 1, true>(a, p0, rest);
  }
}

}  // namespace

void image_channels_avx512(const ImageArgs& a) {
  if (a.count == 2) {
    channels<2>(a);
  } else {
    channels<1>(a);
  }
}

}  // namespace hn::cpu::k2s2_detail
#endif
