#include "elementwise.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "../common/thread_pool.h"

namespace hn::cpu {
namespace {

template <typename Op>
void binary_rows(Op op, const float* a, const int64_t* a_strides, const float* b,
                 const int64_t* b_strides, float* out, const int64_t* shape, int ndim) {
  if (ndim == 0) {
    out[0] = op(a[0], b[0]);
    return;
  }
  const int64_t inner = shape[ndim - 1];
  const int64_t as = a_strides[ndim - 1], bs = b_strides[ndim - 1];
  int64_t rows = 1;
  for (int d = 0; d < ndim - 1; ++d) rows *= shape[d];
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1));
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t rem = r, ao = 0, bo = 0;
      for (int d = ndim - 2; d >= 0; --d) {
        const int64_t idx = rem % shape[d];
        rem /= shape[d];
        ao += idx * a_strides[d];
        bo += idx * b_strides[d];
      }
      const float* pa = a + ao;
      const float* pb = b + bo;
      float* po = out + r * inner;
      if (as == 1 && bs == 1) {
        for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i], pb[i]);
      } else if (as == 1 && bs == 0) {
        const float vb = pb[0];
        for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i], vb);
      } else if (as == 0 && bs == 1) {
        const float va = pa[0];
        for (int64_t i = 0; i < inner; ++i) po[i] = op(va, pb[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i * as], pb[i * bs]);
      }
    }
  });
}

template <typename F>
void map(int64_t n, F f) {
  parallel_for(n, 32768, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) f(i);
  });
}

// relu and its gradient are on every conv layer's path: branch-free loops over local pointers,
// which the compiler vectorises (a branch on the sign of random activations mispredicts half
// the time).
void relu_forward(const float* x, float* y, int64_t n) {
  parallel_for(n, 32768, [x, y](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float v = x[i];
      y[i] = (v > 0.0f || v != v) ? v : 0.0f;  // NaN propagates, as in PyTorch
    }
  });
}

void relu_backward(const float* y, const float* gy, float* gx, int64_t n) {
  parallel_for(n, 32768, [y, gy, gx](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const float g = gy[i];  // loaded unconditionally so the select vectorises
      gx[i] = y[i] > 0.0f ? g : 0.0f;
    }
  });
}

}  // namespace

void binary_forward(BinaryKind kind, const float* a, const int64_t* a_strides, const float* b,
                    const int64_t* b_strides, float* out, const int64_t* shape, int ndim) {
  switch (kind) {
    case BinaryKind::Add:
      return binary_rows([](float x, float y) { return x + y; }, a, a_strides, b, b_strides, out, shape, ndim);
    case BinaryKind::Sub:
      return binary_rows([](float x, float y) { return x - y; }, a, a_strides, b, b_strides, out, shape, ndim);
    case BinaryKind::Mul:
      return binary_rows([](float x, float y) { return x * y; }, a, a_strides, b, b_strides, out, shape, ndim);
    case BinaryKind::Div:
      return binary_rows([](float x, float y) { return x / y; }, a, a_strides, b, b_strides, out, shape, ndim);
    case BinaryKind::Maximum:
      return binary_rows([](float x, float y) { return (x != x || x > y) ? x : y; }, a, a_strides, b, b_strides, out, shape, ndim);
    case BinaryKind::Minimum:
      return binary_rows([](float x, float y) { return (x != x || x < y) ? x : y; }, a, a_strides, b, b_strides, out, shape, ndim);
  }
}

void unary_forward(UnaryKind kind, const float* x, float* y, int64_t n, float s) {
  switch (kind) {
    case UnaryKind::Neg: return map(n, [&](int64_t i) { y[i] = -x[i]; });
    case UnaryKind::Exp: return map(n, [&](int64_t i) { y[i] = std::exp(x[i]); });
    case UnaryKind::Log: return map(n, [&](int64_t i) { y[i] = std::log(x[i]); });
    case UnaryKind::Sqrt: return map(n, [&](int64_t i) { y[i] = std::sqrt(x[i]); });
    case UnaryKind::Abs: return map(n, [&](int64_t i) { y[i] = std::fabs(x[i]); });
    // NaN propagates through relu as in PyTorch.
    case UnaryKind::Relu: return relu_forward(x, y, n);
    case UnaryKind::Sigmoid:
      return map(n, [&](int64_t i) {
        const float v = x[i];
        // Stable on both tails: never exponentiates a large positive number.
        if (v >= 0) {
          y[i] = 1.0f / (1.0f + std::exp(-v));
        } else {
          const float e = std::exp(v);
          y[i] = e / (1.0f + e);
        }
      });
    case UnaryKind::Tanh: return map(n, [&](int64_t i) { y[i] = std::tanh(x[i]); });
    case UnaryKind::Pow: return map(n, [&](int64_t i) { y[i] = std::pow(x[i], s); });
    case UnaryKind::AddScalar: return map(n, [&](int64_t i) { y[i] = x[i] + s; });
    case UnaryKind::MulScalar: return map(n, [&](int64_t i) { y[i] = x[i] * s; });
    case UnaryKind::Reciprocal: return map(n, [&](int64_t i) { y[i] = 1.0f / x[i]; });
  }
}

void unary_backward(UnaryKind kind, const float* x, const float* y, const float* gy, float* gx,
                    int64_t n, float s) {
  switch (kind) {
    case UnaryKind::Neg: return map(n, [&](int64_t i) { gx[i] = -gy[i]; });
    case UnaryKind::Exp: return map(n, [&](int64_t i) { gx[i] = gy[i] * y[i]; });
    case UnaryKind::Log: return map(n, [&](int64_t i) { gx[i] = gy[i] / x[i]; });
    case UnaryKind::Sqrt: return map(n, [&](int64_t i) { gx[i] = gy[i] / (2.0f * y[i]); });
    case UnaryKind::Abs:
      return map(n, [&](int64_t i) { gx[i] = x[i] > 0 ? gy[i] : (x[i] < 0 ? -gy[i] : 0.0f); });
    case UnaryKind::Relu: return relu_backward(y, gy, gx, n);
    case UnaryKind::Sigmoid: return map(n, [&](int64_t i) { gx[i] = gy[i] * y[i] * (1.0f - y[i]); });
    case UnaryKind::Tanh: return map(n, [&](int64_t i) { gx[i] = gy[i] * (1.0f - y[i] * y[i]); });
    case UnaryKind::Pow:
      return map(n, [&](int64_t i) { gx[i] = s == 0.0f ? 0.0f : gy[i] * s * std::pow(x[i], s - 1.0f); });
    case UnaryKind::AddScalar: return map(n, [&](int64_t i) { gx[i] = gy[i]; });
    case UnaryKind::MulScalar: return map(n, [&](int64_t i) { gx[i] = gy[i] * s; });
    case UnaryKind::Reciprocal: return map(n, [&](int64_t i) { gx[i] = -gy[i] * y[i] * y[i]; });
  }
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
  map(n, [&](int64_t i) { y[i] += alpha * x[i]; });
}

void reduce_sum(const float* x, const int64_t* shape, int ndim, const uint8_t* reduce_mask,
                float scale, float* out) {
  // Merge adjacent dims with the same role so the common cases become [outer, reduce, inner].
  std::vector<int64_t> dims;
  std::vector<uint8_t> roles;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    const uint8_t role = reduce_mask[d] ? 1 : 0;
    if (!roles.empty() && roles.back() == role) {
      dims.back() *= shape[d];
    } else {
      dims.push_back(shape[d]);
      roles.push_back(role);
    }
  }
  int64_t out_n = 1, total = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    total *= dims[i];
    if (!roles[i]) out_n *= dims[i];
  }
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 0) {
      std::fill(out, out + out_n, 0.0f);
      return;
    }
  }
  // Strides of each merged input dim, and of the output for kept dims.
  const int nd = static_cast<int>(dims.size());
  std::vector<int64_t> in_stride(nd), out_stride(nd);
  int64_t s = 1, os = 1;
  for (int i = nd - 1; i >= 0; --i) {
    in_stride[i] = s;
    s *= dims[i];
    out_stride[i] = roles[i] ? 0 : os;
    if (!roles[i]) os *= dims[i];
  }
  // Each output element is owned by one thread: split over outputs, loop over reduced positions.
  std::vector<int> kept, reduced;
  for (int i = 0; i < nd; ++i) (roles[i] ? reduced : kept).push_back(i);
  int64_t reduce_n = total / std::max<int64_t>(out_n, 1);
  const bool inner_is_kept = nd > 0 && !roles[nd - 1];
  if (inner_is_kept && reduced.size() == 1 && kept.size() <= 2) {
    // [outer?, R, inner]: accumulate whole inner rows (vectorises).
    const int64_t inner = dims[nd - 1];
    const int64_t outer = out_n / inner;
    const int64_t R = reduce_n;
    parallel_for(outer * inner, 4096, [&](int64_t o0, int64_t o1) {
      std::vector<double> acc;
      for (int64_t o = o0; o < o1;) {
        const int64_t ob = o / inner, ib = o % inner;
        const int64_t len = std::min(o1 - o, inner - ib);
        acc.assign(static_cast<size_t>(len), 0.0);
        const float* base = x + ob * R * inner + ib;
        for (int64_t r = 0; r < R; ++r) {
          const float* row = base + r * inner;
          for (int64_t i = 0; i < len; ++i) acc[i] += row[i];
        }
        for (int64_t i = 0; i < len; ++i) out[o + i] = static_cast<float>(acc[i] * scale);
        o += len;
      }
    });
    return;
  }
  parallel_for(out_n, 1, [&](int64_t o0, int64_t o1) {
    std::vector<int64_t> idx(nd);
    for (int64_t o = o0; o < o1; ++o) {
      // Input offset of this output's first element.
      int64_t rem = o, base = 0;
      for (int k = static_cast<int>(kept.size()) - 1; k >= 0; --k) {
        const int i = kept[k];
        base += (rem % dims[i]) * in_stride[i];
        rem /= dims[i];
      }
      double acc = 0.0;
      for (int64_t r = 0; r < reduce_n; ++r) {
        int64_t rr = r, off = base;
        for (int k = static_cast<int>(reduced.size()) - 1; k >= 0; --k) {
          const int i = reduced[k];
          off += (rr % dims[i]) * in_stride[i];
          rr /= dims[i];
        }
        acc += x[off];
      }
      out[o] = static_cast<float>(acc * scale);
    }
  });
}

}  // namespace hn::cpu
