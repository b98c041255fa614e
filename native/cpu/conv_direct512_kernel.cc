// The AVX-512 register tile of the direct convolution (conv_direct512.h). Compiled for AVX-512
// by the pragma below, so nothing from the standard library may be used here (an inline
// function instantiated in this file could be picked by the linker for portable callers).
#include <cstdint>

#include "conv_direct512.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

#include "relu512.h"

namespace hn::cpu::direct512_detail {
namespace {

// acc[c][v] = bias[c] + sum over taps of w[tap][c] * xp[tap offset + off[v] + lane], where
// vector v holds 16 positions from q0 + 16 v:
// - flattened (COMPACT false): padded positions q = oh*S + ow, off[v] = q0 + 16 v; the junk
//   columns ow >= out_w are computed and dropped by the masked stores;
// - compact (out_w a multiple of 16): output positions p = oh*out_w + ow, so a vector never
//   crosses a row, off[v] = (p / out_w) * S + p % out_w, nothing is computed twice or dropped
//   and the store is one plain vector per channel.
template <int CO, int NV, bool COMPACT>
void tile(const BlockArgs& a, int64_t q0) {
  int64_t off[NV];
  for (int v = 0; v < NV; ++v) {
    const int64_t q = q0 + 16 * v;
    off[v] = COMPACT ? (q / a.out_w) * a.row + q % a.out_w : q;
  }
  __m512 acc[CO][NV];
  for (int c = 0; c < CO; ++c) {
    const __m512 b = _mm512_set1_ps(a.bias[c]);
    for (int v = 0; v < NV; ++v) acc[c][v] = b;
  }
  const int64_t taps = a.kh * a.kw;
  for (int64_t ci = 0; ci < a.cin; ++ci) {
    const float* xc = a.xp + ci * a.plane_stride;
    const float* wc = a.w + ci * taps * CO;
    for (int64_t i = 0; i < a.kh; ++i) {
      const float* xr = xc + i * a.row;
      const float* wr = wc + i * a.kw * CO;
      for (int64_t j = 0; j < a.kw; ++j) {
        __m512 xv[NV];
        for (int v = 0; v < NV; ++v) xv[v] = _mm512_loadu_ps(xr + j + off[v]);
        const float* wt = wr + j * CO;
        for (int c = 0; c < CO; ++c) {
          const __m512 wv = _mm512_set1_ps(wt[c]);
          for (int v = 0; v < NV; ++v) acc[c][v] = _mm512_fmadd_ps(wv, xv[v], acc[c][v]);
        }
      }
    }
  }
  if (a.relu) {
    for (int c = 0; c < CO; ++c) {
      for (int v = 0; v < NV; ++v) acc[c][v] = avx512::relu(acc[c][v]);
    }
  }
  const int64_t plane = a.out_h * a.out_w;
  if (COMPACT) {
    for (int c = 0; c < CO; ++c) {
      if (c >= a.valid) break;
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(a.y + c * plane + q0 + 16 * v, acc[c][v]);
    }
    return;
  }
  // Each vector covers one or more output-row segments (S columns each, the first out_w of
  // them real): one masked store per segment and channel, straight into y.
  for (int v = 0; v < NV; ++v) {
    const int64_t q = q0 + 16 * v;
    int64_t r = q / a.row, col = q % a.row;
    for (int lane = 0; lane < 16 && r < a.out_h; ++r, col = 0) {
      const int64_t seg = a.row - col < 16 - lane ? a.row - col : 16 - lane;
      const int64_t real = a.out_w - col < seg ? a.out_w - col : seg;
      if (real > 0) {
        const __mmask16 mask = static_cast<__mmask16>(((1u << real) - 1u) << lane);
        const int64_t offset = r * a.out_w + col - lane;
        for (int c = 0; c < CO; ++c) {
          if (c < a.valid) _mm512_mask_storeu_ps(a.y + c * plane + offset, mask, acc[c][v]);
        }
      }
      lane += static_cast<int>(seg);
    }
  }
}

template <int CO, int NV>
void block(const BlockArgs& a) {
  if (a.out_w % 16 != 0) {
    for (int64_t q0 = 0; q0 < a.out_stride; q0 += 16 * NV) tile<CO, NV, false>(a, q0);
    return;
  }
  // Compact: out_h*out_w positions, a multiple of 16; the last ones in narrower tiles of 32
  // and 16.
  const int64_t total = a.out_h * a.out_w;
  int64_t q0 = 0;
  for (; q0 + 16 * NV <= total; q0 += 16 * NV) tile<CO, NV, true>(a, q0);
  for (; q0 + 32 <= total; q0 += 32) tile<CO, 2, true>(a, q0);
  if (q0 < total) tile<CO, 1, true>(a, q0);
}

}  // namespace

void block_co4(const BlockArgs& a) { block<4, 6>(a); }
void block_co8(const BlockArgs& a) { block<8, 3>(a); }
void block_co12(const BlockArgs& a) { block<12, 2>(a); }

namespace {

// P consecutive output positions (oh, ow0 .. ow0 + P - 1) of one row: acc[p][v] = bias[16v..]
// + sum over taps of x[ci][oh + i][ow0 + p + j] * w[ci][i][j][16v..]. The P broadcasts of a tap
// read one row of the padded plane at constant offsets.
template <int P>
void channel_tile(const ChannelArgs& a, int64_t oh, int64_t ow0) {
  __m512 acc[P][2];
  const __m512 b0 = _mm512_loadu_ps(a.bias), b1 = _mm512_loadu_ps(a.bias + 16);
  for (int p = 0; p < P; ++p) {
    acc[p][0] = b0;
    acc[p][1] = b1;
  }
  const int64_t taps = a.kh * a.kw;
  for (int64_t ci = 0; ci < a.cin; ++ci) {
    const float* xc = a.xp + ci * a.plane_stride + oh * a.row + ow0;
    const float* wc = a.w + ci * taps * 32;
    for (int64_t i = 0; i < a.kh; ++i) {
      for (int64_t j = 0; j < a.kw; ++j) {
        const float* wt = wc + (i * a.kw + j) * 32;
        const __m512 w0 = _mm512_loadu_ps(wt), w1 = _mm512_loadu_ps(wt + 16);
        const float* xr = xc + i * a.row + j;
        for (int p = 0; p < P; ++p) {
          const __m512 xv = _mm512_set1_ps(xr[p]);
          acc[p][0] = _mm512_fmadd_ps(xv, w0, acc[p][0]);
          acc[p][1] = _mm512_fmadd_ps(xv, w1, acc[p][1]);
        }
      }
    }
  }
  float* out = a.tmp + (oh * a.out_w + ow0) * 32;
  for (int p = 0; p < P; ++p) {
    _mm512_storeu_ps(out + p * 32, acc[p][0]);
    _mm512_storeu_ps(out + p * 32 + 16, acc[p][1]);
  }
}

}  // namespace

void channel_block(const ChannelArgs& a) {
  for (int64_t oh = 0; oh < a.out_h; ++oh) {
    int64_t ow0 = 0;
    for (; ow0 + 12 <= a.out_w; ow0 += 12) channel_tile<12>(a, oh, ow0);
    switch (a.out_w - ow0) {
      case 11: channel_tile<11>(a, oh, ow0); break;
      case 10: channel_tile<10>(a, oh, ow0); break;
      case 9: channel_tile<9>(a, oh, ow0); break;
      case 8: channel_tile<8>(a, oh, ow0); break;
      case 7: channel_tile<7>(a, oh, ow0); break;
      case 6: channel_tile<6>(a, oh, ow0); break;
      case 5: channel_tile<5>(a, oh, ow0); break;
      case 4: channel_tile<4>(a, oh, ow0); break;
      case 3: channel_tile<3>(a, oh, ow0); break;
      case 2: channel_tile<2>(a, oh, ow0); break;
      case 1: channel_tile<1>(a, oh, ow0); break;
      default: break;
    }
  }
}

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

void pack_co8(const float* w, int64_t r_count, int valid, float* dst) {
  // Rows c >= valid are zero. 16 r at a time: 8 rows of 16 floats transposed to 16 groups of 8
  // by three rounds of two-source permutes (interleaving 1, 2, then 4 floats).
  const __m512i i32lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i i32hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const __m512i i64lo = _mm512_set_epi32(23, 22, 7, 6, 21, 20, 5, 4, 19, 18, 3, 2, 17, 16, 1, 0);
  const __m512i i64hi = _mm512_set_epi32(31, 30, 15, 14, 29, 28, 13, 12, 27, 26, 11, 10, 25, 24, 9, 8);
  const __m512i i128lo = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0);
  const __m512i i128hi = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11, 10, 9, 8);
  int64_t r0 = 0;
  for (; r0 + 16 <= r_count; r0 += 16) {
    __m512 a[8];
    for (int c = 0; c < 8; ++c) a[c] = c < valid ? _mm512_loadu_ps(w + c * r_count + r0) : _mm512_setzero_ps();
    // p[k][h][2r + s] = a[2k + s][8h + r]
    __m512 p[4][2];
    for (int k = 0; k < 4; ++k) {
      p[k][0] = _mm512_permutex2var_ps(a[2 * k], i32lo, a[2 * k + 1]);
      p[k][1] = _mm512_permutex2var_ps(a[2 * k], i32hi, a[2 * k + 1]);
    }
    // q[m][h][g][4r + 2t + s] = a[4m + 2t + s][8h + 4g + r]
    __m512 q[2][2][2];
    for (int m = 0; m < 2; ++m) {
      for (int h = 0; h < 2; ++h) {
        q[m][h][0] = _mm512_permutex2var_ps(p[2 * m][h], i64lo, p[2 * m + 1][h]);
        q[m][h][1] = _mm512_permutex2var_ps(p[2 * m][h], i64hi, p[2 * m + 1][h]);
      }
    }
    // out[8r + c] = a[c][8h + 4g + r] for r = 0..1 (lo) and 2..3 (hi)
    float* out = dst + r0 * 8;
    for (int h = 0; h < 2; ++h) {
      for (int g = 0; g < 2; ++g) {
        float* o = out + (8 * h + 4 * g) * 8;
        _mm512_storeu_ps(o, _mm512_permutex2var_ps(q[0][h][g], i128lo, q[1][h][g]));
        _mm512_storeu_ps(o + 16, _mm512_permutex2var_ps(q[0][h][g], i128hi, q[1][h][g]));
      }
    }
  }
  for (int64_t r = r0; r < r_count; ++r) {
    for (int c = 0; c < 8; ++c) dst[r * 8 + c] = c < valid ? w[c * r_count + r] : 0.0f;
  }
}

namespace {

// 16 windows: columns 2*ow .. 2*ow + 31 of rows r0 and r1 (lanes past `cols` masked off), their
// maxima stored at out[ow .. ow + 15] (lanes past `n` masked off). The values are relu outputs
// (+0, positive or NaN), whose order as unsigned integers is their order as floats with every
// NaN, of either sign, above all numbers: one integer max per pair, a NaN always wins.
template <bool FULL, bool RELU>
inline __m512i pool_load(__mmask16 m, const float* p) {
  __m512 v = FULL ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
  // relu_forward's rule first ((v > 0 || v is NaN) ? v : +0): then the integer order holds.
  if (RELU) v = avx512::relu(v);
  return _mm512_castps_si512(v);
}

template <bool FULL, bool RELU>
inline void pool16(const float* r0, const float* r1, float* out, __mmask16 m0, __mmask16 m1, __mmask16 store) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  const auto load = pool_load<FULL, RELU>;
  const __m512i v0 = _mm512_max_epu32(load(m0, r0), load(m0, r1));
  const __m512i v1 = _mm512_max_epu32(load(m1, r0 + 16), load(m1, r1 + 16));
  const __m512i m = _mm512_max_epu32(_mm512_permutex2var_epi32(v0, even, v1), _mm512_permutex2var_epi32(v0, odd, v1));
  if (FULL) {
    _mm512_storeu_si512(out, m);
  } else {
    _mm512_mask_storeu_ps(out, store, _mm512_castsi512_ps(m));
  }
}

template <bool RELU>
void pool_planes(const float* x, float* y, int64_t planes, int64_t h, int64_t w) {
  const int64_t oh_count = h / 2, ow_count = w / 2;
  const int64_t full = ow_count / 16 * 16, n = ow_count - full;  // windows in the masked tail
  // Columns 2*full .. 2*full + 2n - 1 of the tail (a last odd column is never read).
  const int64_t cols = 2 * n;
  const __mmask16 m0 = static_cast<__mmask16>(cols >= 16 ? 0xffffu : (1u << cols) - 1u);
  const __mmask16 m1 = static_cast<__mmask16>(cols > 16 ? (1u << (cols - 16)) - 1u : 0u);
  const __mmask16 store = static_cast<__mmask16>((1u << n) - 1u);
  for (int64_t c = 0; c < planes; ++c) {
    for (int64_t oh = 0; oh < oh_count; ++oh) {
      const float* r0 = x + (c * h + 2 * oh) * w;
      const float* r1 = r0 + w;
      float* out = y + (c * oh_count + oh) * ow_count;
      for (int64_t ow = 0; ow < full; ow += 16) pool16<true, RELU>(r0 + 2 * ow, r1 + 2 * ow, out + ow, 0, 0, 0);
      if (n > 0) pool16<false, RELU>(r0 + 2 * full, r1 + 2 * full, out + full, m0, m1, store);
    }
  }
}

}  // namespace

void max_pool2x2_planes(const float* x, float* y, int64_t planes, int64_t h, int64_t w, bool relu) {
  if (relu) {
    pool_planes<true>(x, y, planes, h, w);
  } else {
    pool_planes<false>(x, y, planes, h, w);
  }
}

}  // namespace hn::cpu::direct512_detail
#endif
