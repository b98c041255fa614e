// A 2-D transpose on AVX-512 in 16 x 16 register blocks, for kernels that switch an NCHW plane
// set to channels-in-lanes rows and back (conv_wgrad512.cc, conv_winograd.cc). Call it only
// when has_avx512() (conv_direct512.h) is true.
#pragma once
#include <cstdint>

namespace hn::cpu::avx512 {

// dst[q * dst_stride + c] = src[c * src_stride + q] for c < rows and 0 for rows <= c < width,
// for every q < cols: `rows` source rows of `cols` floats become `cols` destination rows of
// `width` floats (width may exceed rows to zero-fill a padded row, or be smaller than a 16-lane
// vector: stores are masked to it).
// Returns whether every value it read was finite (no NaN, no infinity).
bool transpose_rows(const float* src, int64_t src_stride, int64_t rows, int64_t cols, float* dst,
                    int64_t dst_stride, int64_t width);

}  // namespace hn::cpu::avx512
