// The fused multi-task loss: every task's loss and its gradient with respect to that task's
// head output, in one call and one pass over each output. Never materialises probabilities:
// cross-entropy keeps only a per-position max and log-sum-exp in registers.
#pragma once
#include <cstdint>

namespace hn::cpu {

enum class LossKind : int { CrossEntropy = 0, Mse = 1, L1 = 2, BceWithLogits = 3 };
enum class LossReduction : int { Mean = 0, Sum = 1 };

struct TaskLoss {
  LossKind kind = LossKind::CrossEntropy;
  LossReduction reduction = LossReduction::Mean;
  // Cross-entropy: output [N, C, S] logits (S = product of spatial dims, 1 for (N, C)),
  // labels [N, S]. Regression kinds: output and target [N, S] (S = features per sample).
  const float* output = nullptr;
  const int32_t* labels = nullptr;
  const float* target = nullptr;
  // [N] or null: a sample whose mask is 0 has no label for this task and contributes nothing.
  const float* sample_mask = nullptr;
  int64_t N = 0, C = 1, S = 1;
  int32_t ignore_index = -100;
  // λ_t: scales the gradient written to grad (the reported loss is unscaled).
  float weight = 1.0f;
  // Output: λ_t · dL_t/d output, same layout as output; null to skip the gradient.
  float* grad = nullptr;
  // Outputs: the task's loss, and how many terms its mean divided by.
  double loss = 0.0;
  int64_t count = 0;
  // Set when a label is outside [0, C) and is not ignore_index: index of the first bad label.
  int64_t bad_label_at = -1;
};

// Computes every task. With reduction Mean, a task with no counted term has loss 0 and a zero
// gradient (a batch may hold no labels for a task).
void multi_loss_forward_backward(TaskLoss* tasks, int num_tasks);

}  // namespace hn::cpu
