#include "multi_loss.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "../common/thread_pool.h"

namespace hn::cpu {
namespace {

bool sample_on(const TaskLoss& t, int64_t n) { return !t.sample_mask || t.sample_mask[n] != 0.0f; }

// Number of terms the mean divides by; also finds labels out of range.
int64_t count_terms(TaskLoss& t) {
  int64_t count = 0;
  for (int64_t n = 0; n < t.N; ++n) {
    if (!sample_on(t, n)) continue;
    if (t.kind != LossKind::CrossEntropy) {
      count += t.S;
      continue;
    }
    const int32_t* y = t.labels + n * t.S;
    for (int64_t s = 0; s < t.S; ++s) {
      if (y[s] == t.ignore_index) continue;
      if (y[s] < 0 || y[s] >= t.C) {
        if (t.bad_label_at < 0) t.bad_label_at = n * t.S + s;
        continue;
      }
      ++count;
    }
  }
  return count;
}

// Loss over samples [n0, n1); writes scale · dloss into grad.
double cross_entropy_rows(const TaskLoss& t, int64_t n0, int64_t n1, float scale) {
  const int64_t C = t.C, S = t.S;
  std::vector<float> row_max(static_cast<size_t>(S)), row_sum(static_cast<size_t>(S));
  double loss = 0.0;
  for (int64_t n = n0; n < n1; ++n) {
    const float* x = t.output + n * C * S;
    const int32_t* y = t.labels + n * S;
    float* g = t.grad ? t.grad + n * C * S : nullptr;
    if (!sample_on(t, n)) {
      if (g) std::fill(g, g + C * S, 0.0f);
      continue;
    }
    // Positions run along the contiguous axis so each pass over a class vectorises.
    std::copy(x, x + S, row_max.begin());
    for (int64_t c = 1; c < C; ++c) {
      const float* xc = x + c * S;
      for (int64_t s = 0; s < S; ++s) row_max[s] = std::max(row_max[s], xc[s]);
    }
    std::fill(row_sum.begin(), row_sum.end(), 0.0f);
    for (int64_t c = 0; c < C; ++c) {
      const float* xc = x + c * S;
      for (int64_t s = 0; s < S; ++s) row_sum[s] += std::exp(xc[s] - row_max[s]);
    }
    for (int64_t s = 0; s < S; ++s) {
      const int32_t label = y[s];
      if (label == t.ignore_index || label < 0 || label >= C) continue;
      loss += static_cast<double>(std::log(row_sum[s]) + row_max[s] - x[label * S + s]);
    }
    if (!g) continue;
    // grad = scale · (softmax − onehot); ignored positions get 0.
    for (int64_t c = 0; c < C; ++c) {
      const float* xc = x + c * S;
      float* gc = g + c * S;
      for (int64_t s = 0; s < S; ++s) gc[s] = std::exp(xc[s] - row_max[s]) / row_sum[s];
    }
    for (int64_t s = 0; s < S; ++s) {
      const int32_t label = y[s];
      if (label == t.ignore_index || label < 0 || label >= C) {
        for (int64_t c = 0; c < C; ++c) g[c * S + s] = 0.0f;
        continue;
      }
      g[label * S + s] -= 1.0f;
      for (int64_t c = 0; c < C; ++c) g[c * S + s] *= scale;
    }
  }
  return loss;
}

double regression_rows(const TaskLoss& t, int64_t n0, int64_t n1, float scale) {
  const int64_t S = t.S;
  double loss = 0.0;
  for (int64_t n = n0; n < n1; ++n) {
    const float* x = t.output + n * S;
    const float* y = t.target + n * S;
    float* g = t.grad ? t.grad + n * S : nullptr;
    if (!sample_on(t, n)) {
      if (g) std::fill(g, g + S, 0.0f);
      continue;
    }
    switch (t.kind) {
      case LossKind::Mse:
        for (int64_t s = 0; s < S; ++s) {
          const float d = x[s] - y[s];
          loss += static_cast<double>(d) * d;
          if (g) g[s] = 2.0f * scale * d;
        }
        break;
      case LossKind::L1:
        for (int64_t s = 0; s < S; ++s) {
          const float d = x[s] - y[s];
          loss += std::fabs(static_cast<double>(d));
          if (g) g[s] = d > 0 ? scale : (d < 0 ? -scale : 0.0f);
        }
        break;
      case LossKind::BceWithLogits:
        for (int64_t s = 0; s < S; ++s) {
          // max(x, 0) − x·y + log(1 + e^−|x|): never overflows.
          const float v = x[s];
          loss += static_cast<double>(std::max(v, 0.0f) - v * y[s] + std::log1p(std::exp(-std::fabs(v))));
          if (g) {
            const float sig = v >= 0 ? 1.0f / (1.0f + std::exp(-v)) : std::exp(v) / (1.0f + std::exp(v));
            g[s] = scale * (sig - y[s]);
          }
        }
        break;
      case LossKind::CrossEntropy:
        break;
    }
  }
  return loss;
}

void run_task(TaskLoss& t) {
  t.count = count_terms(t);
  if (t.bad_label_at >= 0) return;
  const bool mean = t.reduction == LossReduction::Mean;
  if (mean && t.count == 0) {
    t.loss = 0.0;
    if (t.grad) std::fill(t.grad, t.grad + t.N * t.C * t.S, 0.0f);
    return;
  }
  const float scale = mean ? t.weight / static_cast<float>(t.count) : t.weight;
  // Partial sums are added in sample order, so the loss is the same whatever the thread count.
  std::mutex mutex;
  std::vector<std::pair<int64_t, double>> parts;
  const int64_t per_sample = t.C * t.S;
  parallel_for(t.N, std::max<int64_t>(1, 8192 / std::max<int64_t>(per_sample, 1)), [&](int64_t n0, int64_t n1) {
    const double part = t.kind == LossKind::CrossEntropy ? cross_entropy_rows(t, n0, n1, scale)
                                                         : regression_rows(t, n0, n1, scale);
    std::lock_guard<std::mutex> lock(mutex);
    parts.emplace_back(n0, part);
  });
  std::sort(parts.begin(), parts.end());
  double total = 0.0;
  for (const auto& p : parts) total += p.second;
  t.loss = mean ? total / static_cast<double>(t.count) : total;
}

}  // namespace

void multi_loss_forward_backward(TaskLoss* tasks, int num_tasks) {
  for (int i = 0; i < num_tasks; ++i) run_task(tasks[i]);
}

}  // namespace hn::cpu
