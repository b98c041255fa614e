// Per-instruction-set pieces of the pooling kernels (pool.cc dispatches to them).
#pragma once
#include <cstdint>

#include "pool.h"

namespace hn::cpu::pool_detail {

// The gradient of one plane of a 2x2/stride-2 unpadded max pool, every input element written
// once: the output gradient at each window's argmax, 0 at its other three elements and in the
// rows/columns past the last window. ip holds in-plane argmax positions from the forward; an
// index outside its own window only zeroes that window (nothing is written out of bounds).
// Returns whether every index lies in [-1, in_h * in_w). AVX2 (avx2/pool_avx2.cc): 8 windows
// per step, the two input rows built by interleaving.
bool max_pool2d_2x2_backward_plane_avx2(const float* gy, const int32_t* ip, float* gx,
                                        const Pool2dShape& s);

}  // namespace hn::cpu::pool_detail
