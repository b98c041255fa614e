// The 2x2/stride-2 max pool of the fused convolution epilogue (conv.h's kReluMaxPool2x2):
// applied to a block of conv output planes while they are still in cache, no argmax kept.
#pragma once
#include <cstdint>

namespace hn::cpu {

// y[c][oh][ow] = max over the window x[c][2oh .. 2oh+1][2ow .. 2ow+1] for oh < h / 2, ow < w / 2
// (floor mode: a last odd row or column is dropped), then relu when `relu`. The rules of
// max_pool2d and relu: a NaN in the window wins, relu keeps NaN and maps -0 to +0.
// x: [planes][h][w], y: [planes][h / 2][w / 2]; h, w >= 2. Single-threaded.
void max_pool2x2_planes(const float* x, float* y, int64_t planes, int64_t h, int64_t w, bool relu);

}  // namespace hn::cpu
