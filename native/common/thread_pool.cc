#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace hn {
namespace {

thread_local bool tls_inside_pool = false;

class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return size_.load(); }

  // Waits for a kernel in flight (submit_mutex_): several JS threads (worker_threads) share the
  // pool, and one may resize it while another runs a kernel.
  void resize(int n) {
    n = std::max(1, n);
    std::lock_guard<std::mutex> submit_lock(submit_mutex_);
    stop_workers();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = false;
    }
    // A thread that cannot start (a process or container thread limit) leaves a smaller pool.
    try {
      for (int i = 0; i < n - 1; ++i) workers_.emplace_back([this] { worker_loop(); });
    } catch (const std::system_error&) {
    }
    size_.store(static_cast<int>(workers_.size()) + 1);
  }

  // Runs task(i) for i in [0, count); the caller runs tasks too.
  void run(int count, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> submit_lock(submit_mutex_);
    uint32_t tag;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      task_count_ = count;
      tag = static_cast<uint32_t>(++generation_);
      pending_.store(count);
      next_.store(static_cast<uint64_t>(tag) << 32);
    }
    wake_.notify_all();
    drain(tag, &task, count);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_.load() == 0; });
    task_ = nullptr;
  }

 private:
  // Claims and runs task indices of generation `tag` until none is left. The counter carries the
  // generation in its high half, and an index is claimed by compare-exchange only while that
  // half matches: a worker that woke for an earlier run and was descheduled can never claim (and
  // run twice, or count twice) an index of the next run.
  void drain(uint32_t tag, const std::function<void(int)>* task, int count) {
    const bool was_inside = tls_inside_pool;
    tls_inside_pool = true;
    uint64_t v = next_.load();
    for (;;) {
      if (static_cast<uint32_t>(v >> 32) != tag) break;
      const int i = static_cast<int>(v & 0xffffffffu);
      if (i >= count) break;
      if (!next_.compare_exchange_weak(v, v + 1)) continue;  // v now holds the current value
      (*task)(i);
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
      v = next_.load();
    }
    tls_inside_pool = was_inside;
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* task;
      int count;
      uint32_t tag;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        if (task_ == nullptr) continue;
        task = task_;
        count = task_count_;
        tag = static_cast<uint32_t>(generation_);
      }
      drain(tag, task, count);
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::atomic<int> size_{1};
  std::mutex submit_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* task_ = nullptr;
  int task_count_ = 0;
  std::atomic<uint64_t> next_{0};  // generation tag << 32 | next index to claim
  std::atomic<int> pending_{0};
  uint64_t generation_ = 0;
  bool stopping_ = false;
};

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool& pool() {
  static ThreadPool instance(default_threads());
  return instance;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(n); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int threads = tls_inside_pool ? 1 : num_threads();
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  const int64_t per_chunk = (n + chunks - 1) / chunks;
  chunks = (n + per_chunk - 1) / per_chunk;
  pool().run(static_cast<int>(chunks), [&](int c) {
    const int64_t begin = c * per_chunk;
    fn(begin, std::min(n, begin + per_chunk));
  });
}

}  // namespace hn
