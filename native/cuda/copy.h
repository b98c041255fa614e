// Block copies between device buffers: the data movement of concat (forward and gradient), whose
// CPU twin is a typed-array set() per block in lib/ops/shape.ts. Elements are 4 bytes (float32 or
// int32) and are copied as bits.
#pragma once
#include <cstdint>

#include "runtime.h"

namespace hn::cuda {

// dst[r * dst_ld + c] = src[r * src_ld + c] for r < rows, c < cols (pointers already at the
// first element). The regions must not overlap.
void copy_2d(void* dst, int64_t dst_ld, const void* src, int64_t src_ld, int64_t rows, int64_t cols,
             Stream stream);

}  // namespace hn::cuda
