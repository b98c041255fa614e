// 2-D max and average pooling on the GPU: the twin of native/cpu/pool.h (same Pool2dShape, same
// PyTorch semantics), device pointers and a stream. One thread per output for the forward; the
// backward passes gather (one thread per input element, visiting the windows that cover it in
// output order) instead of scattering with atomics, so they are deterministic and add in the
// CPU's order.
#pragma once
#include <cstdint>

#include "../cpu/pool.h"
#include "runtime.h"

namespace hn::cuda {

using hn::cpu::Pool2dShape;
using hn::cpu::pool_output_size;

void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dShape& s,
                        Stream stream);
void max_pool2d_backward(const float* grad_y, const int32_t* indices, float* grad_x,
                         const Pool2dShape& s, Stream stream);
void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool count_include_pad,
                        int64_t divisor_override, Stream stream);
void avg_pool2d_backward(const float* grad_y, float* grad_x, const Pool2dShape& s,
                         bool count_include_pad, int64_t divisor_override, Stream stream);

}  // namespace hn::cuda
