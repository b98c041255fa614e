// softmax and log-softmax over one dim of a contiguous tensor, forward and backward.
// The tensor is viewed as [outer, dim, inner]: the reduced dim has stride `inner`.
#pragma once
#include <cstdint>

namespace hn::cpu {

// y = softmax(x) (or log_softmax when `log`) along the middle dim. Numerically stable: the max
// along the dim is subtracted before exp.
void softmax_forward(const float* x, float* y, int64_t outer, int64_t dim, int64_t inner, bool log);

// From the forward output y and the output gradient:
//   softmax:     grad_x = y * (grad_y - sum(grad_y * y))
//   log_softmax: grad_x = grad_y - exp(y) * sum(grad_y)
// Overwrites grad_x.
void softmax_backward(const float* y, const float* grad_y, float* grad_x, int64_t outer,
                      int64_t dim, int64_t inner, bool log);

}  // namespace hn::cpu
