#include "optim.h"

#include <cmath>

#include "common.cuh"

namespace hn::cuda {
namespace {

struct SgdScalars {
  float lr, wd, mu, keep;
  bool maximize, weight_decay, momentum, nesterov, first_step;
};

__global__ void sgd_kernel(float* param, const float* grad, float* buffer, int64_t n, SgdScalars o) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = o.maximize ? -grad[i] : grad[i];
    if (o.weight_decay) g = g + o.wd * param[i];
    if (o.momentum) {
      const float b = o.first_step ? g : buffer[i] * o.mu + o.keep * g;
      buffer[i] = b;
      g = o.nesterov ? g + o.mu * b : b;
    }
    param[i] = param[i] - o.lr * g;
  }
}

struct AdamScalars {
  float one_minus_beta1, beta2, one_minus_beta2, wd, eps, decay, step_size, bc2_sqrt;
  bool maximize, decoupled, l2, amsgrad;
};

__global__ void adam_kernel(float* param, const float* grad, float* m, float* v, float* v_max,
                            int64_t n, AdamScalars o) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float g = o.maximize ? -grad[i] : grad[i];
    float p = param[i];
    if (o.decoupled) {
      p = p * o.decay;
    } else if (o.l2) {
      g = g + o.wd * p;
    }
    // PyTorch updates m with lerp: m + (1 - β1)(g - m).
    const float mi = m[i] + o.one_minus_beta1 * (g - m[i]);
    const float vi = v[i] * o.beta2 + o.one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float second = vi;
    if (o.amsgrad) {
      second = v_max[i] > vi ? v_max[i] : vi;
      v_max[i] = second;
    }
    const float denom = sqrtf(second) / o.bc2_sqrt + o.eps;
    param[i] = p - o.step_size * (mi / denom);
  }
}

}  // namespace

void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n,
              const SgdOptions& o, Stream stream) {
  if (n == 0) return;
  SgdScalars s;
  s.lr = static_cast<float>(o.lr);
  s.wd = static_cast<float>(o.weight_decay);
  s.mu = static_cast<float>(o.momentum);
  s.keep = static_cast<float>(1.0 - o.dampening);
  s.maximize = o.maximize;
  s.weight_decay = o.weight_decay != 0.0;
  s.momentum = o.momentum != 0.0;
  s.nesterov = o.nesterov;
  s.first_step = o.first_step;
  sgd_kernel<<<grid_for(n), kThreads, 0, stream>>>(param, grad, momentum_buffer, n, s);
  check_launch("sgd_step");
}

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamOptions& o, Stream stream) {
  if (n == 0) return;
  const double t = static_cast<double>(o.step);
  AdamScalars s;
  s.one_minus_beta1 = static_cast<float>(1.0 - o.beta1);
  s.beta2 = static_cast<float>(o.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - o.beta2);
  s.wd = static_cast<float>(o.weight_decay);
  s.eps = static_cast<float>(o.eps);
  s.decay = static_cast<float>(1.0 - o.lr * o.weight_decay);
  s.step_size = static_cast<float>(o.lr / (1.0 - std::pow(o.beta1, t)));
  s.bc2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(o.beta2, t)));
  s.maximize = o.maximize;
  s.decoupled = o.decoupled_weight_decay;
  s.l2 = o.weight_decay != 0.0;
  s.amsgrad = o.amsgrad;
  adam_kernel<<<grid_for(n), kThreads, 0, stream>>>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
                                                    n, s);
  check_launch("adam_step");
}

}  // namespace hn::cuda
