#include "pool.h"

#include "common.cuh"

namespace hn::cuda {
namespace {

struct Dims {  // Pool2dShape in 64-bit for the plane index, 32-bit inside a plane
  int64_t planes;
  int in_h, in_w, out_h, out_w, kh, kw, sh, sw, ph, pw, dh, dw;
};

Dims dims_of(const Pool2dShape& s) {
  return {s.planes,
          static_cast<int>(s.in_h), static_cast<int>(s.in_w), static_cast<int>(s.out_h),
          static_cast<int>(s.out_w), static_cast<int>(s.kernel_h), static_cast<int>(s.kernel_w),
          static_cast<int>(s.stride_h), static_cast<int>(s.stride_w), static_cast<int>(s.pad_h),
          static_cast<int>(s.pad_w), static_cast<int>(s.dilation_h), static_cast<int>(s.dilation_w)};
}

// First in-bounds tap and exclusive end of a dilated window starting at `start` (as hn::cpu).
__device__ __forceinline__ void dilated_span(int start, int kernel, int dilation, int in, int* begin,
                                             int* end) {
  int b = start;
  if (b < 0) b += ((-b + dilation - 1) / dilation) * dilation;
  *begin = b;
  *end = min(start + (kernel - 1) * dilation + 1, in);
}

// Average pooling's window clipped to the input, and its size clipped to the padded input.
__device__ __forceinline__ void avg_span(int start, int kernel, int pad, int in, int* begin, int* end,
                                         int* padded) {
  const int padded_end = min(start + kernel, in + pad);
  *begin = max(start, 0);
  *end = min(padded_end, in);
  *padded = padded_end - start;
}

__device__ __forceinline__ int avg_divisor(int hb, int he, int hp, int wb, int we, int wp,
                                           bool count_include_pad, int64_t divisor_override) {
  if (divisor_override > 0) return static_cast<int>(divisor_override);
  if (count_include_pad) return hp * wp;
  return (he - hb) * (we - wb);
}

// Output rows o whose window (start o*s - p, dilated extent e) covers input row i:
// o*s - p <= i and o*s - p + e - 1 >= i, clipped to [0, out).
__device__ __forceinline__ void covering(int i, int pad, int stride, int extent, int out, int* lo,
                                         int* hi) {
  const int top = i + pad;  // o*s <= top
  const int low = top - extent + 1;  // o*s >= low
  *lo = low <= 0 ? 0 : (low + stride - 1) / stride;
  *hi = min(top / stride + 1, out);
}

// Where flat index i of a stack of planes (plane_size elements, `width` columns) lies.
struct PlanePoint {
  int64_t plane;
  int index;  // within the plane
  int row, col;
};

__device__ __forceinline__ PlanePoint locate(int64_t i, int64_t plane_size, int width) {
  PlanePoint p;
  p.plane = i / plane_size;
  p.index = static_cast<int>(i - p.plane * plane_size);
  p.row = p.index / width;
  p.col = p.index - p.row * width;
  return p;
}

// op(i) for every i < total, grid-stride: one thread per output (the forwards) or per input
// element (the gathering backwards).
template <class Op>
__global__ void for_each_kernel(Op op, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    op(i);
  }
}

template <class Op>
void launch_for_each(const Op& op, int64_t total, const char* name, cudaStream_t stream) {
  if (total == 0) return;
  for_each_kernel<<<grid_for(total), kThreads, 0, stream>>>(op, total);
  check_launch(name);
}

struct MaxForward {  // i: an output element
  const float* x;
  float* y;
  int32_t* indices;
  Dims s;
  __device__ void operator()(int64_t i) const {
    const PlanePoint o = locate(i, static_cast<int64_t>(s.out_h) * s.out_w, s.out_w);
    const float* xp = x + o.plane * s.in_h * s.in_w;
    int hb, he, wb, we;
    dilated_span(o.row * s.sh - s.ph, s.kh, s.dh, s.in_h, &hb, &he);
    dilated_span(o.col * s.sw - s.pw, s.kw, s.dw, s.in_w, &wb, &we);
    float best = -INFINITY;
    int best_index = -1;
    for (int ih = hb; ih < he; ih += s.dh) {
      for (int iw = wb; iw < we; iw += s.dw) {
        const int index = ih * s.in_w + iw;
        const float v = xp[index];
        // Strictly greater keeps the first maximum; NaN wins and propagates (PyTorch).
        if (best_index < 0 || v > best || isnan(v)) {
          best = v;
          best_index = index;
        }
      }
    }
    y[i] = best;
    indices[i] = best_index;
  }
};

struct MaxBackward {  // i: an input element; gathers the outputs whose argmax it is
  const float* grad_y;
  const int32_t* indices;
  float* grad_x;
  Dims s;
  __device__ void operator()(int64_t i) const {
    const int64_t out_plane = static_cast<int64_t>(s.out_h) * s.out_w;
    const PlanePoint p = locate(i, static_cast<int64_t>(s.in_h) * s.in_w, s.in_w);
    int oh_lo, oh_hi, ow_lo, ow_hi;
    covering(p.row, s.ph, s.sh, (s.kh - 1) * s.dh + 1, s.out_h, &oh_lo, &oh_hi);
    covering(p.col, s.pw, s.sw, (s.kw - 1) * s.dw + 1, s.out_w, &ow_lo, &ow_hi);
    const int32_t* ip = indices + p.plane * out_plane;
    const float* gy = grad_y + p.plane * out_plane;
    float sum = 0.0f;
    for (int oh = oh_lo; oh < oh_hi; ++oh) {
      for (int ow = ow_lo; ow < ow_hi; ++ow) {
        const int o = oh * s.out_w + ow;
        if (ip[o] == p.index) sum += gy[o];
      }
    }
    grad_x[i] = sum;
  }
};

struct AvgForward {  // i: an output element
  const float* x;
  float* y;
  Dims s;
  bool count_include_pad;
  int64_t divisor_override;
  __device__ void operator()(int64_t i) const {
    const PlanePoint o = locate(i, static_cast<int64_t>(s.out_h) * s.out_w, s.out_w);
    int hb, he, hp, wb, we, wp;
    avg_span(o.row * s.sh - s.ph, s.kh, s.ph, s.in_h, &hb, &he, &hp);
    avg_span(o.col * s.sw - s.pw, s.kw, s.pw, s.in_w, &wb, &we, &wp);
    if (hb >= he || wb >= we) {
      y[i] = 0.0f;  // a window of padding only (PyTorch writes 0)
      return;
    }
    const float* xp = x + o.plane * s.in_h * s.in_w;
    float sum = 0.0f;
    for (int ih = hb; ih < he; ++ih)
      for (int iw = wb; iw < we; ++iw) sum += xp[ih * s.in_w + iw];
    y[i] = sum / static_cast<float>(avg_divisor(hb, he, hp, wb, we, wp, count_include_pad, divisor_override));
  }
};

struct AvgBackward {  // i: an input element; gathers the windows that contain it
  const float* grad_y;
  float* grad_x;
  Dims s;
  bool count_include_pad;
  int64_t divisor_override;
  __device__ void operator()(int64_t i) const {
    const PlanePoint p = locate(i, static_cast<int64_t>(s.in_h) * s.in_w, s.in_w);
    const int ih = p.row, iw = p.col;
    int oh_lo, oh_hi, ow_lo, ow_hi;
    covering(ih, s.ph, s.sh, s.kh, s.out_h, &oh_lo, &oh_hi);
    covering(iw, s.pw, s.sw, s.kw, s.out_w, &ow_lo, &ow_hi);
    const float* gy = grad_y + p.plane * static_cast<int64_t>(s.out_h) * s.out_w;
    float sum = 0.0f;
    for (int oh = oh_lo; oh < oh_hi; ++oh) {
      int hb, he, hp;
      avg_span(oh * s.sh - s.ph, s.kh, s.ph, s.in_h, &hb, &he, &hp);
      if (ih < hb || ih >= he) continue;
      for (int ow = ow_lo; ow < ow_hi; ++ow) {
        int wb, we, wp;
        avg_span(ow * s.sw - s.pw, s.kw, s.pw, s.in_w, &wb, &we, &wp);
        if (iw < wb || iw >= we) continue;
        const int divisor = avg_divisor(hb, he, hp, wb, we, wp, count_include_pad, divisor_override);
        sum += gy[oh * s.out_w + ow] / static_cast<float>(divisor);
      }
    }
    grad_x[i] = sum;
  }
};

int64_t out_total(const Pool2dShape& s) { return s.planes * s.out_h * s.out_w; }
int64_t in_total(const Pool2dShape& s) { return s.planes * s.in_h * s.in_w; }

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* indices, const Pool2dShape& s,
                        Stream stream) {
  launch_for_each(MaxForward{x, y, indices, dims_of(s)}, out_total(s), "max_pool2d_forward", stream);
}

void max_pool2d_backward(const float* grad_y, const int32_t* indices, float* grad_x,
                         const Pool2dShape& s, Stream stream) {
  launch_for_each(MaxBackward{grad_y, indices, grad_x, dims_of(s)}, in_total(s), "max_pool2d_backward", stream);
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool count_include_pad,
                        int64_t divisor_override, Stream stream) {
  launch_for_each(AvgForward{x, y, dims_of(s), count_include_pad, divisor_override}, out_total(s),
                  "avg_pool2d_forward", stream);
}

void avg_pool2d_backward(const float* grad_y, float* grad_x, const Pool2dShape& s,
                         bool count_include_pad, int64_t divisor_override, Stream stream) {
  launch_for_each(AvgBackward{grad_y, grad_x, dims_of(s), count_include_pad, divisor_override}, in_total(s),
                  "avg_pool2d_backward", stream);
}

}  // namespace hn::cuda
