// 2-D max and average pooling over NCHW planes, forward and backward side by side.
// Semantics are PyTorch's (torch.nn.functional.max_pool2d / avg_pool2d), including ceil mode,
// max pooling's implicit -inf padding and the divisor rules of average pooling.
#pragma once
#include <cstdint>

namespace hn::cpu {

// Geometry of one pooling call. Every plane (one of N*C) is pooled independently.
struct Pool2dShape {
  int64_t planes;       // N * C
  int64_t in_h, in_w;   // H, W
  int64_t out_h, out_w; // from pool_output_size
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t dilation_h, dilation_w;  // 1 for average pooling
};

// PyTorch's output-size rule: floor((in + 2p - d(k-1) - 1 [+ s-1 in ceil mode]) / s) + 1, and in
// ceil mode the last window must start inside the input or the left padding. May be < 1: the
// caller rejects that.
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                         int64_t dilation, bool ceil_mode);

// x: [planes, in_h, in_w] -> y, indices: [planes, out_h, out_w]. indices hold the flat position
// h * in_w + w of each window's maximum inside its plane (the first one on ties, the last NaN
// when NaNs are present, as PyTorch), or -1 for a window that covers no input element.
void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dShape& s);
// grad_x = scatter of grad_y to the saved argmax positions. Overwrites grad_x. Safe on any
// indices: returns false when one lies outside [-1, in_h * in_w) (grad_x is then unspecified,
// but nothing outside it is written), so the caller need not scan them first.
bool max_pool2d_backward(const float* grad_y, const int32_t* indices, float* grad_x,
                         const Pool2dShape& s);

// divisor_override <= 0 means none. Windows are clipped to the padded input for the
// count_include_pad divisor and to the input itself for the sum.
void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool count_include_pad,
                        int64_t divisor_override);
// grad_x[i] = sum over windows covering i of grad_y / divisor (same divisor as forward).
// Overwrites grad_x.
void avg_pool2d_backward(const float* grad_y, float* grad_x, const Pool2dShape& s,
                         bool count_include_pad, int64_t divisor_override);

}  // namespace hn::cpu
