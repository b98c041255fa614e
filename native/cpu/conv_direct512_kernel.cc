// The AVX-512 register tile of the direct convolution (conv_direct512.h). Compiled for AVX-512
// by the pragma below, so nothing from the standard library may be used here (an inline
// function instantiated in this file could be picked by the linker for portable callers).
#include <cstdint>

#include "conv_direct512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

namespace hn::cpu::direct512_detail {
namespace {

// acc[c][v] = bias[c] + sum over taps of w[tap][c] * xp[tap offset + q0 + 16 v + lane].
template <int CO, int NV>
void tile(const BlockArgs& a, int64_t q0) {
  __m512 acc[CO][NV];
  for (int c = 0; c < CO; ++c) {
    const __m512 b = _mm512_set1_ps(a.bias[c]);
    for (int v = 0; v < NV; ++v) acc[c][v] = b;
  }
  const int64_t taps = a.kh * a.kw;
  for (int64_t ci = 0; ci < a.cin; ++ci) {
    const float* xc = a.xp + ci * a.plane_stride + q0;
    const float* wc = a.w + ci * taps * CO;
    for (int64_t i = 0; i < a.kh; ++i) {
      const float* xr = xc + i * a.row;
      const float* wr = wc + i * a.kw * CO;
      for (int64_t j = 0; j < a.kw; ++j) {
        __m512 xv[NV];
        for (int v = 0; v < NV; ++v) xv[v] = _mm512_loadu_ps(xr + j + 16 * v);
        const float* wt = wr + j * CO;
        for (int c = 0; c < CO; ++c) {
          const __m512 wv = _mm512_set1_ps(wt[c]);
          for (int v = 0; v < NV; ++v) acc[c][v] = _mm512_fmadd_ps(wv, xv[v], acc[c][v]);
        }
      }
    }
  }
  for (int c = 0; c < CO; ++c) {
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(a.out + c * a.out_stride + q0 + 16 * v, acc[c][v]);
  }
}

template <int CO, int NV>
void block(const BlockArgs& a) {
  for (int64_t q0 = 0; q0 < a.out_stride; q0 += 16 * NV) tile<CO, NV>(a, q0);
}

}  // namespace

void block_co8(const BlockArgs& a) { block<8, 3>(a); }
void block_co12(const BlockArgs& a) { block<12, 2>(a); }

void weight_tile(const WeightTileArgs& a) {
  __m512 acc[4][4];
  for (int c = 0; c < 4; ++c) {
    for (int t = 0; t < 4; ++t) acc[c][t] = _mm512_setzero_ps();
  }
  for (int64_t g = 0; g < a.images; ++g) {
    const float* d = a.dy + g * a.dy_image;
    const float* xg = a.x + g * a.x_image;
    const float* x0 = xg + a.off[0];
    const float* x1 = xg + a.off[1];
    const float* x2 = xg + a.off[2];
    const float* x3 = xg + a.off[3];
    for (int64_t q = 0; q < a.positions; q += 16) {
      __m512 dv[4];
      for (int c = 0; c < 4; ++c) dv[c] = _mm512_loadu_ps(d + c * a.positions + q);
      const __m512 xv[4] = {_mm512_loadu_ps(x0 + q), _mm512_loadu_ps(x1 + q), _mm512_loadu_ps(x2 + q),
                            _mm512_loadu_ps(x3 + q)};
      for (int c = 0; c < 4; ++c) {
        for (int t = 0; t < 4; ++t) acc[c][t] = _mm512_fmadd_ps(dv[c], xv[t], acc[c][t]);
      }
    }
  }
  // Lanes summed pairwise through memory (once per tile; GCC 12's _mm512_reduce_add_ps trips
  // its own -Wuninitialized).
  alignas(64) float lanes[16];
  for (int c = 0; c < 4; ++c) {
    for (int t = 0; t < 4; ++t) {
      _mm512_store_ps(lanes, acc[c][t]);
      for (int width = 8; width >= 1; width /= 2) {
        for (int i = 0; i < width; ++i) lanes[i] += lanes[i + width];
      }
      a.sums[c * 4 + t] += lanes[0];
    }
  }
}

}  // namespace hn::cpu::direct512_detail
#endif
