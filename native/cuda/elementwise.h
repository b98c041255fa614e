// Element-wise arithmetic with broadcasting, unary maps and their derivatives, and reductions
// on the GPU: the twin of native/cpu/elementwise.h (same enums and semantics). Shapes and
// strides are host arrays (copied into the kernel's parameters); data pointers are device
// pointers. Sums accumulate in double in a fixed order (deterministic).
#pragma once
#include <cstdint>

#include "../cpu/elementwise.h"
#include "runtime.h"

namespace hn::cuda {

using hn::cpu::BinaryKind;
using hn::cpu::kMaxDims;
using hn::cpu::UnaryKind;

void binary_forward(BinaryKind kind, const float* a, const int64_t* a_strides, const float* b,
                    const int64_t* b_strides, float* out, const int64_t* shape, int ndim,
                    Stream stream);
void unary_forward(UnaryKind kind, const float* x, float* y, int64_t n, float scalar,
                   Stream stream);
void unary_backward(UnaryKind kind, const float* x, const float* y, const float* grad_y,
                    float* grad_x, int64_t n, float scalar, Stream stream);
// y += alpha * x
void axpy(int64_t n, float alpha, const float* x, float* y, Stream stream);
void reduce_sum(const float* x, const int64_t* shape, int ndim, const uint8_t* reduce_mask,
                float scale, float* out, Stream stream);
// y[i] = value
void fill(float* y, int64_t n, float value, Stream stream);

}  // namespace hn::cuda
