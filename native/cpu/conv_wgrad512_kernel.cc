// The AVX-512 register tile of the channel-vectorised weight gradient (conv_wgrad512.h).
// Compiled for AVX-512 by the pragma below, so nothing from the standard library may be used
// here (an inline function instantiated in this file could be picked by the linker for portable
// callers).
#include <cstdint>

#include "conv_wgrad512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

namespace hn::cpu::wgrad512_detail {
namespace {

// KR*KW taps x V channel vectors in registers (at most 27 + V + 1 of the 32 zmm) over every
// image and output position of the tile.
template <int KW, int KR, int V>
void tile(const TileArgs& a) {
  constexpr int R = KW * KR;
  __m512 acc[R][V];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_loadu_ps(a.sums + r * a.sums_stride + 16 * v);
  }
  const int64_t positions = a.out_h * a.out_w;
  for (int64_t n = 0; n < a.images; ++n) {
    const float* xn = a.x + n * a.x_image;
    const float* dn = a.dy + n * positions * a.dy_stride;
    for (int64_t oh = 0; oh < a.out_h; ++oh) {
      const float* xr = xn + oh * a.row;
      const float* dr = dn + oh * a.out_w * a.dy_stride;
#pragma GCC unroll 1
      for (int64_t ow = 0; ow < a.out_w; ++ow) {
        __m512 d[V];
        for (int v = 0; v < V; ++v) d[v] = _mm512_loadu_ps(dr + ow * a.dy_stride + 16 * v);
        for (int k = 0; k < KR; ++k) {
          const float* xt = xr + k * a.row + ow;
          for (int j = 0; j < KW; ++j) {
            const __m512 b = _mm512_set1_ps(xt[j]);
            for (int v = 0; v < V; ++v) acc[k * KW + j][v] = _mm512_fmadd_ps(b, d[v], acc[k * KW + j][v]);
          }
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) _mm512_storeu_ps(a.sums + r * a.sums_stride + 16 * v, acc[r][v]);
  }
}

template <int KW, int KR>
void tile_v(const TileArgs& a, int v) {
  if (v == 3) {
    tile<KW, KR, 3>(a);
  } else if (v == 2) {
    tile<KW, KR, 2>(a);
  } else {
    tile<KW, KR, 1>(a);
  }
}

}  // namespace

void tile_k3r3(const TileArgs& a, int v) { tile_v<3, 3>(a, v); }
void tile_k3r1(const TileArgs& a, int v) { tile_v<3, 1>(a, v); }
void tile_k5r1(const TileArgs& a, int v) { tile_v<5, 1>(a, v); }

}  // namespace hn::cpu::wgrad512_detail
#endif
