// Fused optimizer updates: one pass over a parameter's elements reads the gradient and the
// optimizer state once and writes the parameter and the state once. Nothing is materialised
// (no temporary g + λθ, no m̂ or v̂ arrays), unlike a chain of element-wise ops.
#pragma once
#include <cstdint>

namespace hn::cpu {

// SGD with momentum (PyTorch's torch.optim.SGD, per element):
//   g = maximize ? -grad : grad;  g += weight_decay * θ
//   momentum != 0:  b = first_step ? g : momentum * b + (1 - dampening) * g
//                   g = nesterov ? g + momentum * b : b
//   θ -= lr * g
// momentum_buffer may be null when momentum == 0 (and is then not touched).
struct SgdOptions {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
  bool first_step = false;  // no momentum buffer yet: b = g (not (1 - dampening) g)
};
void sgd_step(float* param, const float* grad, float* momentum_buffer, int64_t n,
              const SgdOptions& options);

// Adam / AdamW / AMSGrad (torch.optim.Adam and AdamW), step t >= 1 counted after this update:
//   g = maximize ? -grad : grad
//   decoupled (AdamW): θ *= 1 - lr * weight_decay;  otherwise g += weight_decay * θ
//   m = β1 m + (1 - β1) g;   v = β2 v + (1 - β2) g²
//   amsgrad: v_max = max(v_max, v), and v_max replaces v below
//   θ -= (lr / (1 - β1^t)) * m / (sqrt(v) / sqrt(1 - β2^t) + eps)
// Scalars derived from the options (1 - β1, lr / (1 - β1^t), ...) are computed in double and
// rounded once to float, as PyTorch computes them in Python; the element math is float32.
// max_exp_avg_sq may be null unless amsgrad.
struct AdamOptions {
  double lr = 0;
  double beta1 = 0;
  double beta2 = 0;
  double eps = 0;
  double weight_decay = 0;
  bool decoupled_weight_decay = false;
  bool amsgrad = false;
  bool maximize = false;
  int64_t step = 1;
};
void adam_step(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
               float* max_exp_avg_sq, int64_t n, const AdamOptions& options);

}  // namespace hn::cpu
