// A persistent pool of worker threads shared by every CPU kernel.
// Kernels split work with parallel_for; the calling thread takes a share too, so a pool of
// n threads keeps n cores busy with n-1 workers.
#pragma once
#include <cstdint>
#include <functional>

namespace hn {

// Number of threads kernels may use (>= 1). Defaults to the hardware concurrency.
int num_threads();
// Resizes the pool. n < 1 is clamped to 1. Not safe to call while a kernel runs.
void set_num_threads(int n);

// Calls fn(begin, end) over disjoint chunks covering [0, n). Chunks are at least `grain` long
// (except the last), so tiny loops stay on the calling thread. Blocks until every chunk is done.
// Nested calls from inside a chunk run serially on the caller.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace hn
