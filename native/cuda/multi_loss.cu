#include "multi_loss.h"

#include <vector>

#include "allocator.h"
#include "common.cuh"

namespace hn::cuda {
namespace {

// What the kernels of one task share on the device (and what comes back to the host).
struct TaskState {
  double loss;
  long long count;
  long long bad_label_at;  // -1 when every label is valid
};

// The kernels see a TaskLoss by value (its pointers are device pointers).
struct TaskView {
  LossKind kind;
  bool mean;
  const float* output;
  const int32_t* labels;
  const float* target;
  const float* sample_mask;
  long long N, C, S;
  int32_t ignore_index;
  float weight;
  float* grad;
};

__device__ __forceinline__ bool sample_on(const TaskView& t, long long n) {
  return !t.sample_mask || t.sample_mask[n] != 0.0f;
}

// One block: count the terms of the mean and find the first bad label (smallest flat index).
__global__ void count_kernel(TaskView t, TaskState* state) {
  __shared__ long long shared[32];
  __shared__ long long bad_shared[32];
  long long count = 0, bad = -1;
  const long long rows = t.N * t.S;
  for (long long r = threadIdx.x; r < rows; r += blockDim.x) {
    const long long n = r / t.S;
    if (!sample_on(t, n)) continue;
    if (t.kind != LossKind::CrossEntropy) {
      ++count;
      continue;
    }
    const int32_t y = t.labels[r];
    if (y == t.ignore_index) continue;
    if (y < 0 || y >= t.C) {
      if (bad < 0) bad = r;  // rows grow per thread: the first one is this thread's smallest
      continue;
    }
    ++count;
  }
  count = block_sum(count, shared);
  // Smallest non-negative bad index over the block.
  long long v = bad < 0 ? 0x7fffffffffffffffLL : bad;
  for (int offset = 16; offset > 0; offset >>= 1) {
    const long long other = __shfl_down_sync(0xffffffffu, v, offset);
    v = other < v ? other : v;
  }
  if ((threadIdx.x & 31) == 0) bad_shared[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    long long best = 0x7fffffffffffffffLL;
    for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) best = bad_shared[w] < best ? bad_shared[w] : best;
    state->count = count;
    state->bad_label_at = best == 0x7fffffffffffffffLL ? -1 : best;
    state->loss = 0.0;
  }
}

__device__ __forceinline__ bool skip_task(const TaskView& t, const TaskState* state, float* scale) {
  if (state->bad_label_at >= 0) return true;  // the caller reports the label; nothing is written
  *scale = t.mean ? (state->count == 0 ? 0.0f : t.weight / static_cast<float>(state->count)) : t.weight;
  return false;
}

// One thread per position (n, s): loss term and gradient scale · (softmax - onehot).
__global__ void cross_entropy_kernel(TaskView t, const TaskState* state, double* partial) {
  __shared__ double shared[32];
  float scale;
  if (skip_task(t, state, &scale)) return;
  double loss = 0.0;
  const long long rows = t.N * t.S;
  for (long long r = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long n = r / t.S, s = r - n * t.S;
    const float* x = t.output + n * t.C * t.S + s;
    float* g = t.grad ? t.grad + n * t.C * t.S + s : nullptr;
    const int32_t label = t.labels[r];
    const bool counted = sample_on(t, n) && label != t.ignore_index && label >= 0 && label < t.C;
    if (!counted) {
      if (g)
        for (long long c = 0; c < t.C; ++c) g[c * t.S] = 0.0f;
      continue;
    }
    float max = x[0];
    for (long long c = 1; c < t.C; ++c) max = fmaxf(max, x[c * t.S]);
    float sum = 0.0f;
    for (long long c = 0; c < t.C; ++c) sum += expf(x[c * t.S] - max);
    loss += static_cast<double>(logf(sum) + max - x[label * t.S]);
    if (!g) continue;
    const float inv = 1.0f / sum;
    for (long long c = 0; c < t.C; ++c) {
      const float p = expf(x[c * t.S] - max) * inv;
      g[c * t.S] = scale * (c == label ? p - 1.0f : p);
    }
  }
  loss = block_sum(loss, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = loss;
}

__global__ void regression_kernel(TaskView t, const TaskState* state, double* partial) {
  __shared__ double shared[32];
  float scale;
  if (skip_task(t, state, &scale)) return;
  double loss = 0.0;
  const long long total = t.N * t.S;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long n = i / t.S;
    if (!sample_on(t, n)) {
      if (t.grad) t.grad[i] = 0.0f;
      continue;
    }
    const float x = t.output[i], y = t.target[i];
    float g = 0.0f;
    switch (t.kind) {
      case LossKind::Mse: {
        const float d = x - y;
        loss += static_cast<double>(d) * d;
        g = 2.0f * scale * d;
        break;
      }
      case LossKind::L1: {
        const float d = x - y;
        loss += fabs(static_cast<double>(d));
        g = d > 0 ? scale : (d < 0 ? -scale : 0.0f);
        break;
      }
      case LossKind::BceWithLogits: {
        // max(x, 0) - x y + log(1 + e^-|x|): never overflows.
        loss += static_cast<double>(fmaxf(x, 0.0f) - x * y + log1pf(expf(-fabsf(x))));
        const float sig = x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
        g = scale * (sig - y);
        break;
      }
      case LossKind::CrossEntropy:
        break;
    }
    if (t.grad) t.grad[i] = g;
  }
  loss = block_sum(loss, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = loss;
}

__global__ void finish_kernel(TaskView t, TaskState* state, const double* partial, int blocks) {
  __shared__ double shared[32];
  if (state->bad_label_at >= 0) return;
  double sum = 0.0;
  for (int i = threadIdx.x; i < blocks; i += blockDim.x) sum += partial[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) {
    state->loss = t.mean ? (state->count == 0 ? 0.0 : sum / static_cast<double>(state->count)) : sum;
  }
}

constexpr int kLossBlocks = 1024;  // fixed per task size: the partial sums never depend on timing

}  // namespace

void multi_loss_forward_backward(TaskLoss* tasks, int num_tasks, Stream stream) {
  if (num_tasks <= 0) return;
  const int device = current();
  DeviceBuffer states(sizeof(TaskState) * num_tasks, device);
  DeviceBuffer partials(sizeof(double) * kLossBlocks * num_tasks, device);
  for (int i = 0; i < num_tasks; ++i) {
    const TaskLoss& task = tasks[i];
    TaskView t{task.kind, task.reduction == LossReduction::Mean, task.output, task.labels, task.target,
               task.sample_mask, task.N, task.C, task.S, task.ignore_index, task.weight, task.grad};
    TaskState* state = states.as<TaskState>() + i;
    double* partial = partials.as<double>() + static_cast<size_t>(i) * kLossBlocks;
    count_kernel<<<1, 1024, 0, stream>>>(t, state);
    check_launch("multi_loss (count)");
    const long long rows = t.N * t.S;
    const int blocks = static_cast<int>(grid_for(rows) < kLossBlocks ? grid_for(rows) : kLossBlocks);
    if (task.kind == LossKind::CrossEntropy) {
      cross_entropy_kernel<<<blocks, kThreads, 0, stream>>>(t, state, partial);
    } else {
      regression_kernel<<<blocks, kThreads, 0, stream>>>(t, state, partial);
    }
    check_launch("multi_loss (loss and gradient)");
    finish_kernel<<<1, kThreads, 0, stream>>>(t, state, partial, blocks);
    check_launch("multi_loss (finish)");
  }
  std::vector<TaskState> host(num_tasks);
  copy_device_to_host(host.data(), states.as<TaskState>(), sizeof(TaskState) * num_tasks, stream);
  for (int i = 0; i < num_tasks; ++i) {
    tasks[i].loss = host[i].loss;
    tasks[i].count = host[i].count;
    tasks[i].bad_label_at = host[i].bad_label_at;
  }
}

}  // namespace hn::cuda
