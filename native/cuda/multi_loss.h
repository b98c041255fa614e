// The fused multi-task loss on the GPU: the twin of native/cpu/multi_loss.h (same TaskLoss,
// same semantics). Every pointer in a TaskLoss is a device pointer. Per task: one kernel counts
// the terms (and finds a bad label), one computes every position's loss and its gradient (one
// thread per position: cross-entropy keeps only the max and the log-sum-exp in registers and
// never materialises probabilities), one adds the per-block loss sums in a fixed order.
// The task's scale λ_t / count is read on the device, so nothing waits for the host until the
// end: the function then copies every task's loss, count and bad label back (one
// synchronisation, because the losses are returned to the caller).
#pragma once

#include "../cpu/multi_loss.h"
#include "runtime.h"

namespace hn::cuda {

using hn::cpu::LossKind;
using hn::cpu::LossReduction;
using hn::cpu::TaskLoss;

void multi_loss_forward_backward(TaskLoss* tasks, int num_tasks, Stream stream);

}  // namespace hn::cuda
