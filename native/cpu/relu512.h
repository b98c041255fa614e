// relu_forward's rule on 16 lanes, for the AVX-512 kernel files: (v > 0 || v is NaN) ? v : +0
// (so -0 becomes +0 and a NaN of either sign stays). Include only after the file's
// `#pragma GCC target("avx512f,...")` and <immintrin.h>. Internal linkage: every including file
// gets its own AVX-512 copy, so the linker never hands one to portable code.
#pragma once

namespace hn::cpu::avx512 {
namespace {

inline __m512 relu(__m512 v) {
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLE_UQ), v);
}

}  // namespace
}  // namespace hn::cpu::avx512
