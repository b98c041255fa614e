#include "multi_loss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "../common/thread_pool.h"

namespace hn::cpu {
namespace {

// exp(x) for x <= 0 (a logit minus its row's max), in plain arithmetic the compiler vectorises
// (std::exp is a library call per element). 2^n * p(r) with n = round(x / ln 2), r = x - n ln 2
// in [-ln2/2, ln2/2] (ln 2 split in two for an exact product) and p the degree-6 Taylor
// polynomial: relative error below 2e-7 (about 2 ulp). Inputs below -87 give exp(-87) ~ 1.6e-38
// instead of smaller values or 0, which no sum of at least 1 can see; NaN stays NaN.
// Compiled without -ftrapping-math (a comparison that could raise an FP exception blocks the
// select the vectoriser needs); no code here reads the FP exception flags.
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
inline float exp_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  const float t = x * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t ti;
  std::memcpy(&ti, &t, sizeof ti);
  const int32_t bits = (ti - 0x4B400000 + 127) << 23;  // 2^n as a float's bits
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// e[s] = exp(x[s] - m[s]) (when e is given) and sum[s] += it, one class of one sample.
void exp_accumulate(const float* x, const float* m, float* e, float* sum, int64_t n) {
  if (e != nullptr) {
    for (int64_t s = 0; s < n; ++s) {
      const float v = exp_nonpositive(x[s] - m[s]);
      e[s] = v;
      sum[s] += v;
    }
  } else {
    for (int64_t s = 0; s < n; ++s) sum[s] += exp_nonpositive(x[s] - m[s]);
  }
}
#pragma GCC pop_options

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
    // One exp per element: exp(x - max) goes into grad (when wanted) while it is summed, and the
    // gradient pass only scales it. Every pass runs along the contiguous positions.
    std::fill(row_sum.begin(), row_sum.end(), 0.0f);
    for (int64_t c = 0; c < C; ++c) {
      exp_accumulate(x + c * S, row_max.data(), g ? g + c * S : nullptr, row_sum.data(), S);
    }
    for (int64_t s = 0; s < S; ++s) {
      const int32_t label = y[s];
      if (label == t.ignore_index || label < 0 || label >= C) continue;
      loss += static_cast<double>(std::log(row_sum[s]) + row_max[s] - x[label * S + s]);
    }
    if (!g) continue;
    // grad = scale · (softmax − onehot); ignored positions get 0.
    for (int64_t s = 0; s < S; ++s) row_sum[s] = scale / row_sum[s];
    for (int64_t c = 0; c < C; ++c) {
      float* gc = g + c * S;
      for (int64_t s = 0; s < S; ++s) gc[s] *= row_sum[s];
    }
    for (int64_t s = 0; s < S; ++s) {
      const int32_t label = y[s];
      if (label == t.ignore_index || label < 0 || label >= C) {
        for (int64_t c = 0; c < C; ++c) g[c * S + s] = 0.0f;
        continue;
      }
      g[label * S + s] -= scale;
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
