#include "softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "../common/thread_pool.h"

namespace hn::cpu {
namespace {

// Along a strided dim, up to kLanes neighbouring inner positions are processed together so
// every pass reads contiguous memory.
constexpr int64_t kLanes = 64;

// Calls fn(base, lanes) for each block: base is the offset of element (o, 0, i0), lanes the
// number of inner positions in the block (1 when inner == 1).
template <typename Fn>
void for_each_block(int64_t outer, int64_t dim, int64_t inner, Fn fn) {
  const int64_t blocks_per_outer = (inner + kLanes - 1) / kLanes;
  const int64_t blocks = outer * blocks_per_outer;
  const int64_t work = std::max<int64_t>(1, dim * std::min(inner, kLanes));
  const int64_t grain = std::max<int64_t>(1, 16384 / work);
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t o = b / blocks_per_outer;
      const int64_t i0 = (b % blocks_per_outer) * kLanes;
      fn(o * dim * inner + i0, std::min(kLanes, inner - i0));
    }
  });
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t outer, int64_t dim, int64_t inner,
                     bool log) {
  for_each_block(outer, dim, inner, [&](int64_t base, int64_t lanes) {
    float max[kLanes], sum[kLanes];
    for (int64_t l = 0; l < lanes; ++l) {
      max[l] = -std::numeric_limits<float>::infinity();
      sum[l] = 0.0f;
    }
    for (int64_t d = 0; d < dim; ++d) {
      const float* xr = x + base + d * inner;
      for (int64_t l = 0; l < lanes; ++l) max[l] = std::max(max[l], xr[l]);
    }
    // A row of all -inf gives NaN (-inf - -inf), as in PyTorch.
    for (int64_t d = 0; d < dim; ++d) {
      const float* xr = x + base + d * inner;
      float* yr = y + base + d * inner;
      for (int64_t l = 0; l < lanes; ++l) {
        const float e = std::exp(xr[l] - max[l]);
        sum[l] += e;
        if (!log) yr[l] = e;
      }
    }
    for (int64_t d = 0; d < dim; ++d) {
      const float* xr = x + base + d * inner;
      float* yr = y + base + d * inner;
      if (log) {
        for (int64_t l = 0; l < lanes; ++l) yr[l] = xr[l] - max[l] - std::log(sum[l]);
      } else {
        for (int64_t l = 0; l < lanes; ++l) yr[l] /= sum[l];
      }
    }
  });
}

void softmax_backward(const float* y, const float* grad_y, float* grad_x, int64_t outer,
                      int64_t dim, int64_t inner, bool log) {
  for_each_block(outer, dim, inner, [&](int64_t base, int64_t lanes) {
    float dot[kLanes];
    for (int64_t l = 0; l < lanes; ++l) dot[l] = 0.0f;
    for (int64_t d = 0; d < dim; ++d) {
      const float* yr = y + base + d * inner;
      const float* gr = grad_y + base + d * inner;
      // softmax needs sum(g * y); log_softmax needs sum(g).
      if (log) {
        for (int64_t l = 0; l < lanes; ++l) dot[l] += gr[l];
      } else {
        for (int64_t l = 0; l < lanes; ++l) dot[l] += gr[l] * yr[l];
      }
    }
    for (int64_t d = 0; d < dim; ++d) {
      const float* yr = y + base + d * inner;
      const float* gr = grad_y + base + d * inner;
      float* gx = grad_x + base + d * inner;
      if (log) {
        for (int64_t l = 0; l < lanes; ++l) gx[l] = gr[l] - std::exp(yr[l]) * dot[l];
      } else {
        for (int64_t l = 0; l < lanes; ++l) gx[l] = yr[l] * (gr[l] - dot[l]);
      }
    }
  });
}

}  // namespace hn::cpu
