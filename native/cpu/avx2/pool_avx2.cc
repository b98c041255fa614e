// AVX2 2x2/stride-2 max-pool gradient (see ../pool_detail.h). Compiled with -mavx2 -mfma;
// intrinsics and plain loops only (no standard-library inline templates, which the linker could
// pick for portable callers).
#include <immintrin.h>

#include <cstdint>

#include "../pool_detail.h"

namespace hn::cpu::pool_detail {
namespace {

// Input rows 2 oh and 2 oh + 1 from output row oh: window k's gradient g[k] goes to column
// 2k + (rel & 1) of the first row when rel = index - corner is 0 or 1, of the second row when
// rel is w or w + 1, and every other element of the pair of rows gets 0. Returns a vector whose
// lanes are all-ones where an index fell outside [-1, plane).
inline __m256i row_pair(const float* g, const int32_t* idx, float* r0, float* r1, int64_t out_w,
                        int32_t corner0, int32_t w, int32_t plane) {
  const __m256i step = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
  const __m256i wv = _mm256_set1_epi32(w), w1 = _mm256_set1_epi32(w + 1);
  const __m256i below = _mm256_set1_epi32(-1), above = _mm256_set1_epi32(plane - 1);
  __m256i bad = _mm256_setzero_si256();
  int64_t ow = 0;
  for (; ow + 8 <= out_w; ow += 8) {
    const __m256 gv = _mm256_loadu_ps(g + ow);
    const __m256i iv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + ow));
    bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpgt_epi32(iv, above), _mm256_cmpgt_epi32(below, iv)));
    const __m256i corner = _mm256_add_epi32(_mm256_set1_epi32(corner0 + 2 * static_cast<int32_t>(ow)), step);
    const __m256i rel = _mm256_sub_epi32(iv, corner);
    const __m256 a = _mm256_and_ps(gv, _mm256_castsi256_ps(_mm256_cmpeq_epi32(rel, zero)));
    const __m256 b = _mm256_and_ps(gv, _mm256_castsi256_ps(_mm256_cmpeq_epi32(rel, one)));
    const __m256 c = _mm256_and_ps(gv, _mm256_castsi256_ps(_mm256_cmpeq_epi32(rel, wv)));
    const __m256 d = _mm256_and_ps(gv, _mm256_castsi256_ps(_mm256_cmpeq_epi32(rel, w1)));
    // unpack interleaves within 128-bit lanes, (a0 b0 a1 b1 | a4 b4 a5 b5) and
    // (a2 b2 a3 b3 | a6 b6 a7 b7); the lane permutes put the pairs in order.
    const __m256 ab_lo = _mm256_unpacklo_ps(a, b), ab_hi = _mm256_unpackhi_ps(a, b);
    const __m256 cd_lo = _mm256_unpacklo_ps(c, d), cd_hi = _mm256_unpackhi_ps(c, d);
    _mm256_storeu_ps(r0 + 2 * ow, _mm256_permute2f128_ps(ab_lo, ab_hi, 0x20));
    _mm256_storeu_ps(r0 + 2 * ow + 8, _mm256_permute2f128_ps(ab_lo, ab_hi, 0x31));
    _mm256_storeu_ps(r1 + 2 * ow, _mm256_permute2f128_ps(cd_lo, cd_hi, 0x20));
    _mm256_storeu_ps(r1 + 2 * ow + 8, _mm256_permute2f128_ps(cd_lo, cd_hi, 0x31));
  }
  for (; ow < out_w; ++ow) {
    const int32_t i = idx[ow];
    if (i < -1 || i >= plane) bad = _mm256_set1_epi32(-1);
    const int32_t rel = i - (corner0 + 2 * static_cast<int32_t>(ow));
    const float v = g[ow];
    r0[2 * ow] = rel == 0 ? v : 0.0f;
    r0[2 * ow + 1] = rel == 1 ? v : 0.0f;
    r1[2 * ow] = rel == w ? v : 0.0f;
    r1[2 * ow + 1] = rel == w + 1 ? v : 0.0f;
  }
  return bad;
}

}  // namespace

bool max_pool2d_2x2_backward_plane_avx2(const float* gy, const int32_t* ip, float* gx,
                                        const Pool2dShape& s) {
  const int64_t in_w = s.in_w, out_w = s.out_w;
  const int32_t w = static_cast<int32_t>(in_w), plane = static_cast<int32_t>(s.in_h * in_w);
  __m256i bad = _mm256_setzero_si256();
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    float* r0 = gx + 2 * oh * in_w;
    float* r1 = r0 + in_w;
    bad = _mm256_or_si256(bad, row_pair(gy + oh * out_w, ip + oh * out_w, r0, r1, out_w,
                                        static_cast<int32_t>(2 * oh * in_w), w, plane));
    for (int64_t col = 2 * out_w; col < in_w; ++col) r0[col] = r1[col] = 0.0f;
  }
  for (int64_t row = 2 * s.out_h; row < s.in_h; ++row) {
    float* r = gx + row * in_w;
    for (int64_t col = 0; col < in_w; ++col) r[col] = 0.0f;
  }
  return _mm256_testz_si256(bad, bad) != 0;
}

}  // namespace hn::cpu::pool_detail
