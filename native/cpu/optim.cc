#include "optim.h"

#include <cmath>

#include "../common/thread_pool.h"

namespace hn::cpu {
namespace {

// Elements per chunk: an update touches 3-5 floats per element, so 16k elements (~256 KiB of
// traffic) is enough work to pay for waking a worker.
constexpr int64_t kGrain = 16384;

// The flags are template parameters so each inner loop is branch-free and vectorises.
template <bool kMaximize, bool kWeightDecay, bool kMomentum, bool kNesterov, bool kFirstStep>
void sgd_loop(float* __restrict param, const float* __restrict grad,
              float* __restrict buffer, int64_t begin, int64_t end, const SgdOptions& o) {
  const float lr = static_cast<float>(o.lr), wd = static_cast<float>(o.weight_decay);
  const float mu = static_cast<float>(o.momentum), keep = static_cast<float>(1.0 - o.dampening);
  for (int64_t i = begin; i < end; ++i) {
    float g = kMaximize ? -grad[i] : grad[i];
    if (kWeightDecay) g = g + wd * param[i];
    if (kMomentum) {
      const float b = kFirstStep ? g : buffer[i] * mu + keep * g;
      buffer[i] = b;
      g = kNesterov ? g + mu * b : b;
    }
    param[i] = param[i] - lr * g;
  }
}

template <bool kMaximize, bool kWeightDecay, bool kMomentum, bool kNesterov>
void sgd_dispatch_first(float* param, const float* grad, float* buffer, int64_t n,
                        const SgdOptions& o) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (o.first_step) {
      sgd_loop<kMaximize, kWeightDecay, kMomentum, kNesterov, true>(param, grad, buffer, b, e, o);
    } else {
      sgd_loop<kMaximize, kWeightDecay, kMomentum, kNesterov, false>(param, grad, buffer, b, e, o);
    }
  });
}

template <bool kMaximize, bool kWeightDecay>
void sgd_dispatch_momentum(float* param, const float* grad, float* buffer, int64_t n,
                           const SgdOptions& o) {
  if (o.momentum == 0.0f) {
    sgd_dispatch_first<kMaximize, kWeightDecay, false, false>(param, grad, buffer, n, o);
  } else if (o.nesterov) {
    sgd_dispatch_first<kMaximize, kWeightDecay, true, true>(param, grad, buffer, n, o);
  } else {
    sgd_dispatch_first<kMaximize, kWeightDecay, true, false>(param, grad, buffer, n, o);
  }
}

template <bool kMaximize, bool kDecoupled, bool kAmsgrad>
void adam_loop(float* __restrict param, const float* __restrict grad, float* __restrict m,
               float* __restrict v, float* __restrict v_max, int64_t begin, int64_t end,
               const AdamOptions& o, float step_size, float bias_correction2_sqrt) {
  const float one_minus_beta1 = static_cast<float>(1.0 - o.beta1);
  const float beta2 = static_cast<float>(o.beta2), one_minus_beta2 = static_cast<float>(1.0 - o.beta2);
  const float wd = static_cast<float>(o.weight_decay), eps = static_cast<float>(o.eps);
  const float decay = static_cast<float>(1.0 - o.lr * o.weight_decay);
  const bool l2 = o.weight_decay != 0.0;
  for (int64_t i = begin; i < end; ++i) {
    float g = kMaximize ? -grad[i] : grad[i];
    float p = param[i];
    if (kDecoupled) {
      p = p * decay;
    } else {
      g = l2 ? g + wd * p : g;  // a select, not a branch: the loop still vectorises
    }
    // PyTorch updates m with lerp: m + (1 - β1)(g - m).
    const float mi = m[i] + one_minus_beta1 * (g - m[i]);
    const float vi = v[i] * beta2 + one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float second = vi;
    if (kAmsgrad) {
      second = v_max[i] > vi ? v_max[i] : vi;
      v_max[i] = second;
    }
    const float denom = std::sqrt(second) / bias_correction2_sqrt + eps;
    param[i] = p - step_size * (mi / denom);
  }
}

template <bool kMaximize, bool kDecoupled, bool kAmsgrad>
void adam_run(float* param, const float* grad, float* m, float* v, float* v_max, int64_t n,
              const AdamOptions& o) {
  const double t = static_cast<double>(o.step);
  const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
  const float step_size = static_cast<float>(o.lr / bias_correction1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    adam_loop<kMaximize, kDecoupled, kAmsgrad>(param, grad, m, v, v_max, b, e, o, step_size,
                                               bc2_sqrt);
  });
}

template <bool kMaximize>
void adam_dispatch(float* param, const float* grad, float* m, float* v, float* v_max, int64_t n,
                   const AdamOptions& o) {
  if (o.decoupled_weight_decay) {
    if (o.amsgrad) return adam_run<kMaximize, true, true>(param, grad, m, v, v_max, n, o);
    return adam_run<kMaximize, true, false>(param, grad, m, v, v_max, n, o);
  }
  if (o.amsgrad) return adam_run<kMaximize, false, true>(param, grad, m, v, v_max, n, o);
  return adam_run<kMaximize, false, false>(param, grad, m, v, v_max, n, o);
}

}  // namespace

void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n,
              const SgdOptions& o) {
  const bool wd = o.weight_decay != 0.0f;
  if (o.maximize) {
    if (wd) return sgd_dispatch_momentum<true, true>(param, grad, momentum_buffer, n, o);
    return sgd_dispatch_momentum<true, false>(param, grad, momentum_buffer, n, o);
  }
  if (wd) return sgd_dispatch_momentum<false, true>(param, grad, momentum_buffer, n, o);
  return sgd_dispatch_momentum<false, false>(param, grad, momentum_buffer, n, o);
}

void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamOptions& o) {
  if (o.maximize) return adam_dispatch<true>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, o);
  adam_dispatch<false>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, n, o);
}

}  // namespace hn::cpu
