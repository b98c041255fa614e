#include "conv.h"

#include <string>

#include "allocator.h"
#include "conv_loaders.h"
#include "common.cuh"
#include "gemm.h"
#include "gemm_tile.cuh"

namespace hn::cuda {
namespace {

__global__ void channel_sums_kernel(const float* t, float* out, int batch, int channels, int plane) {
  __shared__ double shared[32];
  const int c = blockIdx.x;
  double sum = 0.0;
  for (int n = 0; n < batch; ++n) {
    const float* src = t + (static_cast<int64_t>(n) * channels + c) * plane;
    for (int i = threadIdx.x; i < plane; i += blockDim.x) sum += src[i];
  }
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) out[c] = static_cast<float>(sum);
}

void backward_data_impl(const Conv2dParams& p, const float* dy, const float* w, const float* init,
                        float* dx, cudaStream_t stream) {
  const Geometry g = geometry_of(p);
  if (g.batch == 0 || g.cin == 0 || g.in_plane == 0) return;
  const int device = current();
  for (int rh = 0; rh < g.sh; ++rh) {
    const Phase ph = make_phase(rh, g.in_h, g.ph, g.sh, g.kh, g.dh);
    if (ph.count == 0) continue;
    for (int rw = 0; rw < g.sw; ++rw) {
      const Phase pw = make_phase(rw, g.in_w, g.pw, g.sw, g.kw, g.dw);
      if (pw.count == 0) continue;
      const int M = g.cin_g, N = g.batch * ph.count * pw.count;
      const int K = g.cout_g * ph.taps * pw.taps;  // 0 when no tap reaches this phase: dx = init
      const GemmPlan plan = plan_gemm(M, N, K, g.groups, device, false);
      launch_tiled_gemm(plan, DataWeights{w, g, ph, pw}, DataGradient{dy, g, ph, pw, N},
                        DataEpilogue{dx, init, g, ph, pw}, M, N, K, stream);
      check_launch("conv2d_backward_data");
    }
  }
}

}  // namespace

// ---- Convolution -------------------------------------------------------------------------------

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                    float* y, Stream stream) {
  const Geometry g = geometry_of(p);
  const int M = g.cout_g, N = g.batch * g.out_plane, K = g.cin_g * g.taps;
  if (M == 0 || N == 0) return;
  const GemmPlan plan = plan_gemm(M, N, K, g.groups, current(), false);
  launch_tiled_gemm(plan, ForwardWeights{w, g}, ForwardImage{x, g, N}, ForwardEpilogue{y, bias, g},
                    M, N, K, stream);
  check_launch("conv2d_forward");
}

void conv2d_backward_data(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                          Stream stream) {
  backward_data_impl(p, dy, w, nullptr, dx, stream);
}

void conv2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw,
                            float* db, Stream stream) {
  const Geometry g = geometry_of(p);
  if (dw) {
    const int M = g.cout_g, N = g.cin_g * g.taps, K = g.batch * g.out_plane;
    const int device = current();
    const GemmPlan plan = plan_gemm(M, N, K, g.groups, device, true);
    if (plan.splits == 1) {
      launch_tiled_gemm(plan, WeightGradient{dy, g}, WeightImage{x, g},
                        WeightEpilogue{dw, g.cout, N, g.cout_g}, M, N, K, stream);
      check_launch("conv2d_backward_weight");
    } else {
      DeviceBuffer partial(sizeof(float) * static_cast<size_t>(plan.splits) * g.cout * N, device);
      launch_tiled_gemm(plan, WeightGradient{dy, g}, WeightImage{x, g},
                        WeightEpilogue{partial.as<float>(), g.cout, N, g.cout_g}, M, N, K, stream);
      check_launch("conv2d_backward_weight (split K)");
      sum_splits(partial.as<float>(), plan.splits, g.cout, N, 1.0f, 0.0f, dw, N, stream);
    }
  }
  if (db) channel_sums(dy, db, p.batch, p.out_channels, p.out_h * p.out_w, stream);
}

void channel_sums(const float* t, float* out, int64_t batch, int64_t channels, int64_t plane,
                  Stream stream) {
  if (channels == 0) return;
  channel_sums_kernel<<<static_cast<unsigned>(channels), kThreads, 0, stream>>>(
      t, out, static_cast<int>(batch), static_cast<int>(channels), static_cast<int>(plane));
  check_launch("channel_sums");
}

// ---- Transposed convolution: the same kernels with the roles swapped ---------------------------

void conv_transpose2d_forward(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y, Stream stream) {
  backward_data_impl(p, x, w, bias, y, stream);
}

void conv_transpose2d_backward_data(const Conv2dParams& p, const float* dy, const float* w,
                                    float* dx, Stream stream) {
  conv2d_forward(p, dy, w, nullptr, dx, stream);
}

void conv_transpose2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                      float* dw, float* db, Stream stream) {
  if (dw) conv2d_backward_weight(p, dy, x, dw, nullptr, stream);
  if (db) channel_sums(dy, db, p.batch, p.in_channels, p.in_h * p.in_w, stream);
}

}  // namespace hn::cuda
