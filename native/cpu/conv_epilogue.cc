#include "conv_epilogue.h"

namespace hn::cpu {

void max_pool2x2_planes(const float* x, float* y, int64_t planes, int64_t h, int64_t w, bool relu) {
  const int64_t oh_count = h / 2, ow_count = w / 2;
  for (int64_t c = 0; c < planes; ++c) {
    for (int64_t oh = 0; oh < oh_count; ++oh) {
      const float* r0 = x + (c * h + 2 * oh) * w;
      const float* r1 = r0 + w;
      float* out = y + (c * oh_count + oh) * ow_count;
      // Branch-free selects the compiler vectorises; `m != m` keeps a NaN once it is chosen.
      for (int64_t ow = 0; ow < ow_count; ++ow) {
        float m = r0[2 * ow];
        const float b = r0[2 * ow + 1], d = r1[2 * ow], e = r1[2 * ow + 1];
        m = (b > m || b != b) ? b : m;
        m = (d > m || d != d) ? d : m;
        m = (e > m || e != e) ? e : m;
        out[ow] = relu ? ((m > 0.0f || m != m) ? m : 0.0f) : m;
      }
    }
  }
}

}  // namespace hn::cpu
