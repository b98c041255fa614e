// The AVX2/FMA register-blocked kernel of the direct convolution (see ../conv_direct.h): a tile
// of CO output channels x NV*8 output columns of one output row lives in CO*NV accumulators;
// for each tap (ci, kh, kw) it loads NV input vectors and broadcasts CO weights.
// Compiled with -mavx2 -mfma; plain functions and intrinsics only (no shared inline templates
// from the standard library, which the linker could pick for non-AVX2 callers).
#include <immintrin.h>

#include <cstdint>

#include "../conv_direct.h"

namespace hn::cpu::direct_detail {
namespace {

inline __m256i lane_mask(int64_t valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Output columns [ow0, ow0 + cols) of row oh, channels [co0, co0 + CO) (those < cout stored).
// wb: this channel block's packed weights [cin][kh*kw][CO].
template <int CO, int NV>
void tile(const RowArgs& a, const float* wb, int64_t co0, int64_t oh, int64_t ow0, int64_t cols) {
  __m256 acc[CO][NV];
  for (int c = 0; c < CO; ++c) {
    const float b = (a.bias != nullptr && co0 + c < a.cout) ? a.bias[co0 + c] : 0.0f;
    for (int v = 0; v < NV; ++v) acc[c][v] = _mm256_set1_ps(b);
  }
  const int64_t taps = a.kh * a.kw;
  for (int64_t ci = 0; ci < a.cin; ++ci) {
    const float* plane = a.xp + (ci * a.rows + oh) * a.row_stride + ow0;
    const float* wc = wb + ci * taps * CO;
    for (int64_t i = 0; i < a.kh; ++i) {
      const float* row = plane + i * a.row_stride;
      for (int64_t j = 0; j < a.kw; ++j) {
        __m256 xv[NV];
        for (int v = 0; v < NV; ++v) xv[v] = _mm256_loadu_ps(row + j + 8 * v);
        const float* wt = wc + (i * a.kw + j) * CO;
        for (int c = 0; c < CO; ++c) {
          const __m256 wv = _mm256_broadcast_ss(wt + c);
          for (int v = 0; v < NV; ++v) acc[c][v] = _mm256_fmadd_ps(wv, xv[v], acc[c][v]);
        }
      }
    }
  }
  const int64_t plane_out = a.out_h * a.out_w;
  const int64_t full = cols / 8, rem = cols % 8;
  const __m256i mask = lane_mask(rem);
  for (int c = 0; c < CO; ++c) {
    if (co0 + c >= a.cout) break;
    float* out = a.y + (co0 + c) * plane_out + oh * a.out_w + ow0;
    for (int v = 0; v < NV; ++v) {
      if (v < full) {
        _mm256_storeu_ps(out + 8 * v, acc[c][v]);
      } else if (v == full && rem > 0) {
        _mm256_maskstore_ps(out + 8 * v, mask, acc[c][v]);
      }
    }
  }
}

using TileFn = void (*)(const RowArgs&, const float*, int64_t, int64_t, int64_t, int64_t);

// The wide (16-column) and narrow (8-column) tiles for each channel-block size the driver picks.
TileFn wide_tile(int co) { return co == 6 ? tile<6, 2> : tile<4, 2>; }
TileFn narrow_tile(int co) { return co == 12 ? tile<12, 1> : co == 10 ? tile<10, 1> : tile<8, 1>; }

}  // namespace

void direct_rows_avx2(const RowArgs& a, int64_t oh0, int64_t oh1) {
  const TileFn wide = wide_tile(a.co_wide);
  const TileFn narrow = narrow_tile(a.co_narrow);
  const int64_t taps = a.kh * a.kw;
  const int64_t wide_block = a.cin * taps * a.co_wide;
  const int64_t narrow_block = a.cin * taps * a.co_narrow;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    int64_t ow0 = 0;
    // 16 columns at a time while more than 8 remain (a 9..16 tail is one masked wide tile).
    for (; a.out_w - ow0 > 8; ow0 += 16) {
      const int64_t cols = a.out_w - ow0 < 16 ? a.out_w - ow0 : 16;
      for (int64_t co0 = 0, b = 0; co0 < a.cout; co0 += a.co_wide, ++b) {
        wide(a, a.w_wide + b * wide_block, co0, oh, ow0, cols);
      }
    }
    if (ow0 < a.out_w) {
      const int64_t cols = a.out_w - ow0;
      for (int64_t co0 = 0, b = 0; co0 < a.cout; co0 += a.co_narrow, ++b) {
        narrow(a, a.w_narrow + b * narrow_block, co0, oh, ow0, cols);
      }
    }
  }
}

}  // namespace hn::cpu::direct_detail
