// softmax and log-softmax on the GPU: the twin of native/cpu/softmax.h. The tensor is viewed as
// [outer, dim, inner]. inner == 1: one warp per row (shuffle reductions); otherwise one thread
// per (outer, inner) column walking the strided dim, which reads contiguous memory across a warp.
#pragma once
#include <cstdint>

#include "runtime.h"

namespace hn::cuda {

void softmax_forward(const float* x, float* y, int64_t outer, int64_t dim, int64_t inner, bool log,
                     Stream stream);
void softmax_backward(const float* y, const float* grad_y, float* grad_x, int64_t outer,
                      int64_t dim, int64_t inner, bool log, Stream stream);

}  // namespace hn::cuda
