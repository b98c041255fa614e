// transpose512.h. Compiled for AVX-512 by the pragma below: no standard-library code here (an
// inline function instantiated in this file could be picked by the linker for portable callers).
#include "transpose512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

namespace hn::cpu::avx512 {
namespace {

// r[i] (row i of a 16 x 16 block) becomes column i: unpack pairs, then 4 x 4 blocks within the
// 128-bit lanes, then the lanes themselves.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}

inline __mmask16 low_lanes(int64_t n) { return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u); }

}  // namespace

bool transpose_rows(const float* src, int64_t src_stride, int64_t rows, int64_t cols, float* dst,
                    int64_t dst_stride, int64_t width) {
  // v - v is NaN exactly when v is NaN or infinite: one subtraction and an unordered compare per
  // vector read.
  __mmask16 nonfinite = 0;
  for (int64_t c0 = 0; c0 < width; c0 += 16) {
    const __mmask16 store = low_lanes(width - c0);
    for (int64_t q0 = 0; q0 < cols; q0 += 16) {
      const int64_t n = cols - q0 < 16 ? cols - q0 : 16;
      const __mmask16 load = low_lanes(n);
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        r[i] = c0 + i < rows ? _mm512_maskz_loadu_ps(load, src + (c0 + i) * src_stride + q0) : _mm512_setzero_ps();
        nonfinite |= _mm512_cmp_ps_mask(_mm512_sub_ps(r[i], r[i]), _mm512_setzero_ps(), _CMP_UNORD_Q);
      }
      transpose16(r);
      for (int64_t j = 0; j < n; ++j) _mm512_mask_storeu_ps(dst + (q0 + j) * dst_stride + c0, store, r[j]);
    }
  }
  return nonfinite == 0;
}

}  // namespace hn::cpu::avx512
#endif
