// The AVX-512 pieces of the Winograd F(2x2, 3x3) convolution (conv_winograd.h): the weight,
// input and output transforms (16 channels per vector) and the register tile of the 16 products. Compiled
// for AVX-512 by the pragma below, so nothing from the standard library may be used here (an
// inline function instantiated in this file could be picked by the linker for portable callers).
#include <cstdint>

#include "conv_winograd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC target("avx512f,avx2,fma")
#include <immintrin.h>

#include "relu512.h"

namespace hn::cpu::winograd_detail {

void input_transform(const Tiles& g, const float* xt, float* v, int64_t t0, int64_t th0,
                     int64_t th1) {
  const int64_t cp = g.cin_pad, row = g.cols * cp;
  for (int64_t th = th0; th < th1; ++th) {
    for (int64_t tw = 0; tw < g.tiles_w; ++tw) {
      const float* d = xt + 2 * th * row + 2 * tw * cp;
      float* out = v + (t0 + (th - th0) * g.tiles_w + tw) * cp;
      for (int64_t c = 0; c < cp; c += 16) {
        // B^T d B with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]: rows first, then columns.
        __m512 t[4][4];
        for (int j = 0; j < 4; ++j) {
          const __m512 d0 = _mm512_loadu_ps(d + j * cp + c), d1 = _mm512_loadu_ps(d + row + j * cp + c);
          const __m512 d2 = _mm512_loadu_ps(d + 2 * row + j * cp + c), d3 = _mm512_loadu_ps(d + 3 * row + j * cp + c);
          t[0][j] = _mm512_sub_ps(d0, d2);
          t[1][j] = _mm512_add_ps(d1, d2);
          t[2][j] = _mm512_sub_ps(d2, d1);
          t[3][j] = _mm512_sub_ps(d1, d3);
        }
        for (int i = 0; i < 4; ++i) {
          float* o = out + 4 * i * g.e_stride_v + c;
          _mm512_storeu_ps(o, _mm512_sub_ps(t[i][0], t[i][2]));
          _mm512_storeu_ps(o + g.e_stride_v, _mm512_add_ps(t[i][1], t[i][2]));
          _mm512_storeu_ps(o + 2 * g.e_stride_v, _mm512_sub_ps(t[i][2], t[i][1]));
          _mm512_storeu_ps(o + 3 * g.e_stride_v, _mm512_sub_ps(t[i][1], t[i][3]));
        }
      }
    }
  }
}

void weight_transform(const float* g, int64_t step, float* u, int64_t e_stride) {
  // G g G^T with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]: rows of G g first.
  const __m512 half = _mm512_set1_ps(0.5f);
  __m512 r[4][3];
  for (int j = 0; j < 3; ++j) {
    const __m512 g0 = _mm512_loadu_ps(g + j * step), g1 = _mm512_loadu_ps(g + (3 + j) * step);
    const __m512 g2 = _mm512_loadu_ps(g + (6 + j) * step);
    r[0][j] = g0;
    r[1][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g0, g1), g2));
    r[2][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g0, g1), g2));
    r[3][j] = g2;
  }
  for (int a = 0; a < 4; ++a) {
    float* o = u + 4 * a * e_stride;
    _mm512_storeu_ps(o, r[a][0]);
    _mm512_storeu_ps(o + e_stride, _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(r[a][0], r[a][1]), r[a][2])));
    _mm512_storeu_ps(o + 2 * e_stride, _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(r[a][0], r[a][1]), r[a][2])));
    _mm512_storeu_ps(o + 3 * e_stride, r[a][2]);
  }
}

namespace {

// 8 tiles x V channel vectors: per input channel V weight loads, 8 broadcasts, 8 V FMAs.
template <int V>
void gemm_tiles(const GemmArgs& a) {
  for (int64_t t = 0; t < a.tiles; t += 8) {
    __m512 acc[8][V];
    for (int p = 0; p < 8; ++p) {
      for (int j = 0; j < V; ++j) acc[p][j] = _mm512_setzero_ps();
    }
    const float* v = a.v + t * a.cin_pad;
    const float* u = a.u;
    for (int64_t ci = 0; ci < a.cin; ++ci, ++v, u += a.cout_pad) {
      __m512 w[V];
      for (int j = 0; j < V; ++j) w[j] = _mm512_loadu_ps(u + 16 * j);
      for (int p = 0; p < 8; ++p) {
        const __m512 b = _mm512_set1_ps(v[p * a.cin_pad]);
        for (int j = 0; j < V; ++j) acc[p][j] = _mm512_fmadd_ps(b, w[j], acc[p][j]);
      }
    }
    float* m = a.m + t * a.cout_pad;
    for (int p = 0; p < 8; ++p) {
      for (int j = 0; j < V; ++j) _mm512_storeu_ps(m + p * a.cout_pad + 16 * j, acc[p][j]);
    }
  }
}

}  // namespace

void gemm(const GemmArgs& a, int vectors) {
  if (vectors == 3) {
    gemm_tiles<3>(a);
  } else if (vectors == 2) {
    gemm_tiles<2>(a);
  } else {
    gemm_tiles<1>(a);
  }
}

namespace {

// relu_forward's rule ((v > 0 || v is NaN) ? v : +0), as the bits of the result: their order as
// unsigned integers is the floats' order with every NaN above all numbers (as in the direct
// kernels' pooled epilogue, conv_direct512_kernel.cc), so one integer max pools a pair.
inline __m512i relu_bits(__m512 v) {
  return _mm512_castps_si512(avx512::relu(v));
}

}  // namespace

void output_transform(const Tiles& g, const float* m, int64_t t0, int64_t th0, int64_t th1,
                      const float* bias, float* yt, int64_t out_h, int64_t out_w,
                      ConvEpilogue epilogue, int64_t c0, int64_t c1) {
  const int64_t cp = g.cout_pad;
  const bool pool = epilogue == ConvEpilogue::kReluMaxPool2x2, relu = epilogue != ConvEpilogue::kNone;
  // Floor mode: a tile on an odd last row or column is no pooling window.
  const int64_t th_end = pool && out_h / 2 < th1 ? out_h / 2 : th1, tw_end = pool ? out_w / 2 : g.tiles_w;
  for (int64_t th = th0; th < th_end; ++th) {
    for (int64_t tw = 0; tw < tw_end; ++tw) {
      const float* in = m + (t0 + (th - th0) * g.tiles_w + tw) * cp;
      const int64_t oh = 2 * th, ow = 2 * tw;
      const bool full_h = oh + 1 < out_h, full_w = ow + 1 < out_w;
      float* out = pool ? yt + (th * (out_w / 2) + tw) * cp : yt + (oh * out_w + ow) * cp;
      for (int64_t c = c0; c < c1; c += 16) {
        // A^T M A with A^T = [1 1 1 0; 0 1 -1 -1]: rows first, then columns.
        __m512 s[2][4];
        for (int j = 0; j < 4; ++j) {
          const __m512 m0 = _mm512_loadu_ps(in + j * g.e_stride_m + c);
          const __m512 m1 = _mm512_loadu_ps(in + (4 + j) * g.e_stride_m + c);
          const __m512 m2 = _mm512_loadu_ps(in + (8 + j) * g.e_stride_m + c);
          const __m512 m3 = _mm512_loadu_ps(in + (12 + j) * g.e_stride_m + c);
          s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
          s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        const __m512 b = bias != nullptr ? _mm512_loadu_ps(bias + c) : _mm512_setzero_ps();
        __m512 y[2][2];
        for (int i = 0; i < 2; ++i) {
          y[i][0] = _mm512_add_ps(b, _mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]));
          y[i][1] = _mm512_add_ps(b, _mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]));
        }
        if (pool) {
          const __m512i top = _mm512_max_epu32(relu_bits(y[0][0]), relu_bits(y[0][1]));
          const __m512i bottom = _mm512_max_epu32(relu_bits(y[1][0]), relu_bits(y[1][1]));
          _mm512_storeu_si512(out + c, _mm512_max_epu32(top, bottom));
          continue;
        }
        for (int i = 0; i < 2; ++i) {
          if (i == 1 && !full_h) break;
          float* o = out + i * out_w * cp + c;
          for (int j = 0; j < 2; ++j) {
            if (j == 1 && !full_w) break;
            _mm512_storeu_ps(o + j * cp, relu ? _mm512_castsi512_ps(relu_bits(y[i][j])) : y[i][j]);
          }
        }
      }
    }
  }
}

void dy_transform(const Tiles& g, const float* dyt, int64_t out_h, int64_t out_w, float* d,
                  int64_t t0, int64_t th0, int64_t th1) {
  const int64_t cp = g.cout_pad;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t th = th0; th < th1; ++th) {
    for (int64_t tw = 0; tw < g.tiles_w; ++tw) {
      const int64_t oh = 2 * th, ow = 2 * tw;
      const bool full_h = oh + 1 < out_h, full_w = ow + 1 < out_w;
      const float* in = dyt + (oh * out_w + ow) * cp;
      float* out = d + (t0 + (th - th0) * g.tiles_w + tw) * cp;
      for (int64_t c = 0; c < cp; c += 16) {
        // dy tile [a b; c d] -> A dy A^T: rows (p, q) -> (p, p + q, p - q, -q), then columns.
        const __m512 a = _mm512_loadu_ps(in + c);
        const __m512 b = full_w ? _mm512_loadu_ps(in + cp + c) : zero;
        const __m512 cc = full_h ? _mm512_loadu_ps(in + out_w * cp + c) : zero;
        const __m512 dd = full_h && full_w ? _mm512_loadu_ps(in + (out_w + 1) * cp + c) : zero;
        const __m512 rows[4][2] = {{a, b},
                                   {_mm512_add_ps(a, cc), _mm512_add_ps(b, dd)},
                                   {_mm512_sub_ps(a, cc), _mm512_sub_ps(b, dd)},
                                   {_mm512_sub_ps(zero, cc), _mm512_sub_ps(zero, dd)}};
        for (int i = 0; i < 4; ++i) {
          const __m512 p = rows[i][0], q = rows[i][1];
          float* o = out + 4 * i * g.e_stride_m + c;
          _mm512_storeu_ps(o, p);
          _mm512_storeu_ps(o + g.e_stride_m, _mm512_add_ps(p, q));
          _mm512_storeu_ps(o + 2 * g.e_stride_m, _mm512_sub_ps(p, q));
          _mm512_storeu_ps(o + 3 * g.e_stride_m, _mm512_sub_ps(zero, q));
        }
      }
    }
  }
}

namespace {

// 8 input channels x V output vectors in registers over the tiles: per tile V loads of DY and 8
// broadcasts of V.
template <int V>
void accumulate_tiles(const AccumulateArgs& a) {
  __m512 acc[8][V];
  for (int p = 0; p < 8; ++p) {
    for (int j = 0; j < V; ++j) acc[p][j] = a.first ? _mm512_setzero_ps() : _mm512_loadu_ps(a.z + p * a.cout_pad + 16 * j);
  }
  const float* v = a.v;
  const float* d = a.d;
  for (int64_t t = 0; t < a.tiles; ++t, v += a.cin_pad, d += a.cout_pad) {
    __m512 dv[V];
    for (int j = 0; j < V; ++j) dv[j] = _mm512_loadu_ps(d + 16 * j);
    for (int p = 0; p < 8; ++p) {
      const __m512 b = _mm512_set1_ps(v[p]);
      for (int j = 0; j < V; ++j) acc[p][j] = _mm512_fmadd_ps(b, dv[j], acc[p][j]);
    }
  }
  for (int p = 0; p < 8; ++p) {
    for (int j = 0; j < V; ++j) _mm512_storeu_ps(a.z + p * a.cout_pad + 16 * j, acc[p][j]);
  }
}

}  // namespace

void accumulate(const AccumulateArgs& a, int vectors) {
  if (vectors == 3) {
    accumulate_tiles<3>(a);
  } else if (vectors == 2) {
    accumulate_tiles<2>(a);
  } else {
    accumulate_tiles<1>(a);
  }
}

}  // namespace hn::cpu::winograd_detail
#endif
