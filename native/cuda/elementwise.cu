#include "elementwise.h"

#include <vector>

#include "allocator.h"
#include "common.cuh"

namespace hn::cuda {
namespace {

struct Strided {  // shape and the strides of both inputs, passed by value to the kernel
  int ndim;
  int64_t shape[kMaxDims];
  int64_t a[kMaxDims];
  int64_t b[kMaxDims];
};

template <BinaryKind kKind>
__device__ __forceinline__ float apply(float x, float y) {
  if (kKind == BinaryKind::Add) return x + y;
  if (kKind == BinaryKind::Sub) return x - y;
  if (kKind == BinaryKind::Mul) return x * y;
  if (kKind == BinaryKind::Div) return x / y;
  if (kKind == BinaryKind::Maximum) return (x != x || x > y) ? x : y;
  return (x != x || x < y) ? x : y;  // Minimum
}

template <BinaryKind kKind>
__global__ void binary_contiguous_kernel(const float* a, const float* b, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = apply<kKind>(a[i], b[i]);
  }
}

template <BinaryKind kKind>
__global__ void binary_strided_kernel(const float* a, const float* b, float* out, int64_t n, Strided s) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rem = i, ao = 0, bo = 0;
    for (int d = s.ndim - 1; d >= 0; --d) {
      const int64_t idx = rem % s.shape[d];
      rem /= s.shape[d];
      ao += idx * s.a[d];
      bo += idx * s.b[d];
    }
    out[i] = apply<kKind>(a[ao], b[bo]);
  }
}

template <BinaryKind kKind>
void launch_binary(const float* a, const float* b, float* out, int64_t n, const Strided& s,
                   bool contiguous, cudaStream_t stream) {
  if (contiguous) {
    binary_contiguous_kernel<kKind><<<grid_for(n), kThreads, 0, stream>>>(a, b, out, n);
  } else {
    binary_strided_kernel<kKind><<<grid_for(n), kThreads, 0, stream>>>(a, b, out, n, s);
  }
}

__device__ __forceinline__ float unary_value(UnaryKind kind, float v, float s) {
  switch (kind) {
    case UnaryKind::Neg: return -v;
    case UnaryKind::Exp: return expf(v);
    case UnaryKind::Log: return logf(v);
    case UnaryKind::Sqrt: return sqrtf(v);
    case UnaryKind::Abs: return fabsf(v);
    case UnaryKind::Relu: return v > 0.0f || v != v ? v : 0.0f;  // NaN propagates (PyTorch)
    case UnaryKind::Sigmoid: {
      if (v >= 0) return 1.0f / (1.0f + expf(-v));
      const float e = expf(v);
      return e / (1.0f + e);
    }
    case UnaryKind::Tanh: return tanhf(v);
    case UnaryKind::Pow: return powf(v, s);
    case UnaryKind::AddScalar: return v + s;
    case UnaryKind::MulScalar: return v * s;
    case UnaryKind::Reciprocal: return 1.0f / v;
  }
  return 0.0f;
}

__device__ __forceinline__ float unary_grad(UnaryKind kind, float x, float y, float g, float s) {
  switch (kind) {
    case UnaryKind::Neg: return -g;
    case UnaryKind::Exp: return g * y;
    case UnaryKind::Log: return g / x;
    case UnaryKind::Sqrt: return g / (2.0f * y);
    case UnaryKind::Abs: return x > 0 ? g : (x < 0 ? -g : 0.0f);
    case UnaryKind::Relu: return y > 0 ? g : 0.0f;
    case UnaryKind::Sigmoid: return g * y * (1.0f - y);
    case UnaryKind::Tanh: return g * (1.0f - y * y);
    case UnaryKind::Pow: return s == 0.0f ? 0.0f : g * s * powf(x, s - 1.0f);
    case UnaryKind::AddScalar: return g;
    case UnaryKind::MulScalar: return g * s;
    case UnaryKind::Reciprocal: return -g * y * y;
  }
  return 0.0f;
}

__global__ void unary_forward_kernel(UnaryKind kind, const float* x, float* y, int64_t n, float s) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = unary_value(kind, x[i], s);
  }
}

__global__ void unary_backward_kernel(UnaryKind kind, const float* x, const float* y, const float* g,
                                      float* gx, int64_t n, float s) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    gx[i] = unary_grad(kind, x ? x[i] : 0.0f, y ? y[i] : 0.0f, g[i], s);
  }
}

__global__ void axpy_kernel(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] += alpha * x[i];
  }
}

__global__ void fill_kernel(float* y, int64_t n, float value) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] = value;
  }
}

// ---- Reductions ----------------------------------------------------------------------------------
// After merging, the input is a sequence of dims, each kept or reduced. An output element o picks
// its kept coordinates; its reduced positions r (in [0, R)) are split into `splits` contiguous
// chunks, each summed by one thread (kept innermost: consecutive threads read consecutive
// memory) or one block (reduced innermost). Partial sums [out_n, splits] are then added in split
// order by a second kernel.

struct ReduceLayout {
  int nkept, nreduced;
  int64_t kept_dim[kMaxDims], kept_stride[kMaxDims];
  int64_t red_dim[kMaxDims], red_stride[kMaxDims];
};

__device__ __forceinline__ int64_t kept_offset(const ReduceLayout& l, int64_t o) {
  int64_t off = 0;
  for (int k = l.nkept - 1; k >= 0; --k) {
    off += (o % l.kept_dim[k]) * l.kept_stride[k];
    o /= l.kept_dim[k];
  }
  return off;
}

__device__ __forceinline__ int64_t reduced_offset(const ReduceLayout& l, int64_t r) {
  int64_t off = 0;
  for (int k = l.nreduced - 1; k >= 0; --k) {
    off += (r % l.red_dim[k]) * l.red_stride[k];
    r /= l.red_dim[k];
  }
  return off;
}

// One thread per (output, split): used when the innermost dim is kept.
__global__ void reduce_columns_kernel(const float* x, ReduceLayout l, int64_t out_n, int64_t R,
                                      int splits, int64_t chunk, double* partial) {
  const int64_t total = out_n * splits;
  for (int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t split = t / out_n, o = t - split * out_n;
    const float* base = x + kept_offset(l, o);
    const int64_t r1 = min(R, (split + 1) * chunk);
    double acc = 0.0;
    for (int64_t r = split * chunk; r < r1; ++r) acc += base[reduced_offset(l, r)];
    partial[o * splits + split] = acc;
  }
}

// One block per (output, split): used when the innermost dim is reduced.
__global__ void reduce_rows_kernel(const float* x, ReduceLayout l, int64_t out_n, int64_t R,
                                   int splits, int64_t chunk, double* partial) {
  __shared__ double shared[32];
  const int64_t total = out_n * splits;
  for (int64_t t = blockIdx.x; t < total; t += gridDim.x) {
    const int64_t o = t / splits, split = t - o * splits;
    const float* base = x + kept_offset(l, o);
    const int64_t r0 = split * chunk, r1 = min(R, r0 + chunk);
    double acc = 0.0;
    for (int64_t r = r0 + threadIdx.x; r < r1; r += blockDim.x) acc += base[reduced_offset(l, r)];
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) partial[o * splits + split] = acc;
    __syncthreads();
  }
}

__global__ void reduce_finish_kernel(const double* partial, int64_t out_n, int splits, float scale,
                                     float* out) {
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < out_n;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double acc = 0.0;
    for (int s = 0; s < splits; ++s) acc += partial[o * splits + s];
    out[o] = static_cast<float>(acc * scale);
  }
}

}  // namespace

void binary_forward(BinaryKind kind, const float* a, const int64_t* a_strides, const float* b,
                    const int64_t* b_strides, float* out, const int64_t* shape, int ndim,
                    Stream stream) {
  // Merge neighbouring dims that both inputs walk contiguously: most calls become 1-3 dims.
  Strided s{};
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) {
    n *= shape[d];
    if (shape[d] == 1) continue;
    if (s.ndim > 0) {
      const int last = s.ndim - 1;
      if (s.a[last] == a_strides[d] * shape[d] && s.b[last] == b_strides[d] * shape[d]) {
        s.shape[last] *= shape[d];
        s.a[last] = a_strides[d];
        s.b[last] = b_strides[d];
        continue;
      }
    }
    s.shape[s.ndim] = shape[d];
    s.a[s.ndim] = a_strides[d];
    s.b[s.ndim] = b_strides[d];
    ++s.ndim;
  }
  if (n == 0) return;
  const bool contiguous = s.ndim == 0 || (s.ndim == 1 && s.a[0] == 1 && s.b[0] == 1);
  if (s.ndim == 0) {  // one element
    s.ndim = 1;
    s.shape[0] = 1;
    s.a[0] = s.b[0] = 0;
  }
  switch (kind) {
    case BinaryKind::Add: launch_binary<BinaryKind::Add>(a, b, out, n, s, contiguous, stream); break;
    case BinaryKind::Sub: launch_binary<BinaryKind::Sub>(a, b, out, n, s, contiguous, stream); break;
    case BinaryKind::Mul: launch_binary<BinaryKind::Mul>(a, b, out, n, s, contiguous, stream); break;
    case BinaryKind::Div: launch_binary<BinaryKind::Div>(a, b, out, n, s, contiguous, stream); break;
    case BinaryKind::Maximum: launch_binary<BinaryKind::Maximum>(a, b, out, n, s, contiguous, stream); break;
    case BinaryKind::Minimum: launch_binary<BinaryKind::Minimum>(a, b, out, n, s, contiguous, stream); break;
  }
  check_launch("binary_forward");
}

void unary_forward(UnaryKind kind, const float* x, float* y, int64_t n, float scalar, Stream stream) {
  if (n == 0) return;
  unary_forward_kernel<<<grid_for(n), kThreads, 0, stream>>>(kind, x, y, n, scalar);
  check_launch("unary_forward");
}

void unary_backward(UnaryKind kind, const float* x, const float* y, const float* grad_y,
                    float* grad_x, int64_t n, float scalar, Stream stream) {
  if (n == 0) return;
  unary_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(kind, x, y, grad_y, grad_x, n, scalar);
  check_launch("unary_backward");
}

void axpy(int64_t n, float alpha, const float* x, float* y, Stream stream) {
  if (n == 0) return;
  axpy_kernel<<<grid_for(n), kThreads, 0, stream>>>(n, alpha, x, y);
  check_launch("axpy");
}

void fill(float* y, int64_t n, float value, Stream stream) {
  if (n == 0) return;
  fill_kernel<<<grid_for(n), kThreads, 0, stream>>>(y, n, value);
  check_launch("fill");
}

void reduce_sum(const float* x, const int64_t* shape, int ndim, const uint8_t* reduce_mask,
                float scale, float* out, Stream stream) {
  // Merge adjacent dims with the same role (as hn::cpu::reduce_sum).
  std::vector<int64_t> dims;
  std::vector<uint8_t> roles;
  int64_t out_n = 1, total = 1;
  for (int d = 0; d < ndim; ++d) {
    total *= shape[d];
    if (!reduce_mask[d]) out_n *= shape[d];
    if (shape[d] == 1) continue;
    const uint8_t role = reduce_mask[d] ? 1 : 0;
    if (!roles.empty() && roles.back() == role) {
      dims.back() *= shape[d];
    } else {
      dims.push_back(shape[d]);
      roles.push_back(role);
    }
  }
  if (out_n == 0) return;
  if (total == 0) {  // empty reduction: zeros
    fill(out, out_n, 0.0f, stream);
    return;
  }
  ReduceLayout l{};
  int64_t stride = 1;
  // Strides of the merged dims (innermost last), split into the kept and reduced lists in order.
  std::vector<int64_t> strides(dims.size());
  for (int i = static_cast<int>(dims.size()) - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= dims[i];
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    if (roles[i]) {
      l.red_dim[l.nreduced] = dims[i];
      l.red_stride[l.nreduced++] = strides[i];
    } else {
      l.kept_dim[l.nkept] = dims[i];
      l.kept_stride[l.nkept++] = strides[i];
    }
  }
  const int64_t R = total / out_n;
  const bool inner_reduced = !roles.empty() && roles.back() == 1;
  // Enough independent sums to fill the device: about 64K threads (columns) or 1K blocks (rows),
  // each chunk at least 256 long.
  const int64_t target = inner_reduced ? 1024 : 65536;
  int64_t splits = (target + out_n - 1) / out_n;
  const int64_t most = (R + 255) / 256;
  if (splits > most) splits = most;
  if (splits < 1) splits = 1;
  if (splits > 4096) splits = 4096;
  const int64_t chunk = (R + splits - 1) / splits;
  DeviceBuffer partial(sizeof(double) * out_n * splits, current());
  if (inner_reduced) {
    const int64_t blocks = out_n * splits;
    reduce_rows_kernel<<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), kThreads, 0, stream>>>(
        x, l, out_n, R, static_cast<int>(splits), chunk, partial.as<double>());
  } else {
    reduce_columns_kernel<<<grid_for(out_n * splits), kThreads, 0, stream>>>(
        x, l, out_n, R, static_cast<int>(splits), chunk, partial.as<double>());
  }
  check_launch("reduce_sum");
  reduce_finish_kernel<<<grid_for(out_n), kThreads, 0, stream>>>(partial.as<double>(), out_n,
                                                                 static_cast<int>(splits), scale, out);
  check_launch("reduce_sum (finish)");
}

}  // namespace hn::cuda
