// Element-wise arithmetic with broadcasting, unary maps and their derivatives, reductions.
#pragma once
#include <cstdint>

namespace hn::cpu {

constexpr int kMaxDims = 8;

enum class BinaryKind : int { Add = 0, Sub = 1, Mul = 2, Div = 3, Maximum = 4, Minimum = 5 };

// out[i] = a[..] op b[..] over the output shape (ndim <= kMaxDims). a_strides / b_strides are
// element strides into a and b per output dim, 0 where that input is broadcast.
void binary_forward(BinaryKind kind, const float* a, const int64_t* a_strides, const float* b,
                    const int64_t* b_strides, float* out, const int64_t* shape, int ndim);

enum class UnaryKind : int {
  Neg = 0, Exp = 1, Log = 2, Sqrt = 3, Abs = 4, Relu = 5, Sigmoid = 6, Tanh = 7,
  Pow = 8,        // x ^ scalar
  AddScalar = 9,  // x + scalar
  MulScalar = 10, // x * scalar
  Reciprocal = 11,
};

// y = f(x), n elements.
void unary_forward(UnaryKind kind, const float* x, float* y, int64_t n, float scalar);
// grad_x = grad_y * f'(x); uses y where the derivative is cheaper from the output
// (exp, sqrt, sigmoid, tanh, relu). Overwrites grad_x.
void unary_backward(UnaryKind kind, const float* x, const float* y, const float* grad_y,
                    float* grad_x, int64_t n, float scalar);

// y += alpha * x
void axpy(int64_t n, float alpha, const float* x, float* y);

// out = scale * sum of x over the dims where reduce_mask[d] != 0; out holds the kept dims in
// order. Accumulates in double so means over millions of elements stay exact to float precision.
void reduce_sum(const float* x, const int64_t* shape, int ndim, const uint8_t* reduce_mask,
                float scale, float* out);

}  // namespace hn::cpu
