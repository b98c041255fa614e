#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace hn {
namespace {

thread_local bool tls_inside_pool = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// How long a thread spins before it sleeps: a worker after its last task (for the next parallel
// region), the caller for the workers' last tasks. A small batch runs 5-10 regions per forward a
// few microseconds apart, and a sleeping worker takes 5-300 us to wake (futex + scheduler, more
// in a VM); a spinning one sees the next region in well under a microsecond. Bounded, so a
// process that stops calling kernels loses at most this much CPU per region.
// HYDRANET_SPIN_US sets the bound (0: never spin).
constexpr int64_t kDefaultSpinMicros = 50;
// Budgets below this are treated as 0 (not worth a clock read).
constexpr int64_t kMinSpinNanos = 1000;
// A spinner that finds this much time passed between two clock reads (16 pauses, ~1 us apart)
// was descheduled: another runnable thread wanted its core. On such an oversubscribed machine a
// spinning thread takes the time slices its own process's other thread (or the next kernel)
// needs (measured: batch-1 W1 inference 10-15% slower at load 8 on 2 cores), so every thread of
// the pool stops spinning for a while: 1 ms after an isolated deschedule, twice the last pause
// after each further one, up to 200 ms; each spin that ends with its work found halves it. A
// fixed 200 ms pause was measured to switch spinning off for good at load 2 (a deschedule every
// 100-200 ms): two 10 us tasks then took 34 us a region (both sides woken by futex), 10.6 us
// with this rule.
constexpr int64_t kPreemptedGapNanos = 30000;
constexpr int64_t kMinSpinPauseNanos = 1000 * 1000;
constexpr int64_t kMaxSpinPauseNanos = 200 * 1000 * 1000;

int64_t spin_nanos_from_env() {
  const char* env = std::getenv("HYDRANET_SPIN_US");
  if (env == nullptr || *env == '\0') return kDefaultSpinMicros * 1000;
  char* end = nullptr;
  const long long us = std::strtoll(env, &end, 10);
  if (end == env || us < 0) return kDefaultSpinMicros * 1000;
  return std::min<long long>(us, 1000000) * 1000;
}

int64_t now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

enum class SpinResult { kDone, kTimedOut, kPreempted };

// Spins until done() or `nanos` have passed. The clock is read every 16 pauses (a read costs
// ~0.1 us here, a pause ~0.05 us). No sched_yield: on a loaded machine a yield hands the core
// to every other runnable process first (milliseconds).
template <typename Pred>
SpinResult spin_until(Pred done, int64_t nanos) {
  if (done()) return SpinResult::kDone;
  if (nanos <= 0) return SpinResult::kTimedOut;
  int64_t last = now_nanos();
  const int64_t deadline = last + nanos;
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      cpu_relax();
      if (done()) return SpinResult::kDone;
    }
    const int64_t t = now_nanos();
    if (done()) return SpinResult::kDone;
    if (t - last > kPreemptedGapNanos) return SpinResult::kPreempted;
    if (t >= deadline) return SpinResult::kTimedOut;
    last = t;
  }
}

class ThreadPool {
 public:
  explicit ThreadPool(int n) : max_spin_nanos_(spin_nanos_from_env()), spin_nanos_(max_spin_nanos_) {
    resize(n);
  }
  ~ThreadPool() { stop_workers(); }

  int size() const { return size_.load(); }

  // Waits for a kernel in flight (submit_mutex_): several JS threads (worker_threads) share the
  // pool, and one may resize it while another runs a kernel.
  void resize(int n) {
    n = std::max(1, n);
    std::lock_guard<std::mutex> submit_lock(submit_mutex_);
    stop_workers();
    stopping_.store(false);
    // A thread that cannot start (a process or container thread limit) leaves a smaller pool.
    try {
      for (int i = 0; i < n - 1; ++i) {
        workers_.emplace_back([this, seen = generation_.load()] { worker_loop(seen); });
      }
    } catch (const std::system_error&) {
    }
    size_.store(static_cast<int>(workers_.size()) + 1);
  }

  // Runs task(i) for i in [0, count); the caller runs tasks too.
  void run(int count, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> submit_lock(submit_mutex_);
    const uint32_t tag = generation_.load() + 1;
    // Publication order (all sequentially consistent): the claim counter moves to the new tag
    // first, so a worker still holding the previous tag can claim nothing, and the task and
    // count are stored before the generation a worker acts on.
    pending_.store(count);
    next_.store(static_cast<uint64_t>(tag) << 32);
    task_.store(&task);
    count_.store(count);
    generation_.store(tag);
    // A worker that announced sleep before the store above is woken; one that announces it
    // later sees the new generation in its predicate (Dekker-style: both sides store, then load).
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    drain(tag, &task, count);
    if (!spin([this] { return pending_.load() == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_waiting_.store(true);
      done_.wait(lock, [this] { return pending_.load() == 0; });
      caller_waiting_.store(false);
    }
    task_.store(nullptr);
  }

 private:
  // Claims and runs task indices of generation `tag` until none is left. The counter carries the
  // generation in its high half, and an index is claimed by compare-exchange only while that
  // half matches: a worker that woke for an earlier run and was descheduled can never claim (and
  // run twice, or count twice) an index of the next run.
  // Returns how many indices this thread ran.
  int drain(uint32_t tag, const std::function<void(int)>* task, int count) {
    const bool was_inside = tls_inside_pool;
    tls_inside_pool = true;
    int ran = 0;
    uint64_t v = next_.load();
    for (;;) {
      if (static_cast<uint32_t>(v >> 32) != tag) break;
      const int i = static_cast<int>(v & 0xffffffffu);
      if (i >= count) break;
      if (!next_.compare_exchange_weak(v, v + 1)) continue;  // v now holds the current value
      (*task)(i);
      ++ran;
      if (pending_.fetch_sub(1) == 1 && caller_waiting_.load()) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
      v = next_.load();
    }
    tls_inside_pool = was_inside;
    return ran;
  }

  // Spins on done() within the budget; false when the thread should sleep instead. A spin cut
  // short by a deschedule suspends spinning pool-wide (see kPreemptedGapNanos).
  template <typename Pred>
  bool spin(Pred done) {
    int64_t budget = spin_nanos_.load(std::memory_order_relaxed);
    if (budget > 0 && now_nanos() < spin_suspended_until_.load(std::memory_order_relaxed)) budget = 0;
    const SpinResult r = spin_until(done, budget);
    if (r == SpinResult::kPreempted) {
      const int64_t pause =
          std::min(kMaxSpinPauseNanos, std::max(kMinSpinPauseNanos, 2 * spin_pause_nanos_.load(std::memory_order_relaxed)));
      spin_pause_nanos_.store(pause, std::memory_order_relaxed);
      spin_suspended_until_.store(now_nanos() + pause, std::memory_order_relaxed);
    } else if (r == SpinResult::kDone && budget > 0) {
      const int64_t pause = spin_pause_nanos_.load(std::memory_order_relaxed);
      if (pause > 0) spin_pause_nanos_.store(pause / 2 < kMinSpinPauseNanos ? 0 : pause / 2, std::memory_order_relaxed);
    }
    return r == SpinResult::kDone;
  }

  // A worker that took part in a run (it claimed an index) was worth keeping ready: the budget
  // returns to its bound. One that found the run already finished by the caller arrived too late
  // (descheduled, or on the caller's own core): the budget halves. Racy updates from several
  // workers are fine, it is a hint.
  void note_claims(int ran) {
    const int64_t spin = spin_nanos_.load(std::memory_order_relaxed);
    int64_t next = ran > 0 ? max_spin_nanos_ : spin / 2;
    if (next < kMinSpinNanos) next = 0;
    if (next != spin) spin_nanos_.store(next, std::memory_order_relaxed);
  }

  void worker_loop(uint32_t seen) {
    for (;;) {
      uint32_t g = seen;
      const auto ready = [&] {
        g = generation_.load();
        return g != seen || stopping_.load();
      };
      if (!spin(ready)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(lock, ready);
        sleepers_.fetch_sub(1);
      }
      if (stopping_.load()) return;
      seen = g;
      // A stale pointer (the run already finished) is harmless: drain claims nothing for an old
      // tag, so the task is never called.
      const auto* task = task_.load();
      const int count = count_.load();
      note_claims(task != nullptr ? drain(g, task, count) : 0);
    }
  }

  void stop_workers() {
    stopping_.store(true);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  const int64_t max_spin_nanos_;
  std::atomic<int64_t> spin_nanos_;  // current budget in [0, max_spin_nanos_]
  std::atomic<int64_t> spin_suspended_until_{0};  // now_nanos() before which nobody spins
  std::atomic<int64_t> spin_pause_nanos_{0};      // the last suspension's length (0: none lately)
  std::vector<std::thread> workers_;
  std::atomic<int> size_{1};
  std::mutex submit_mutex_;
  std::mutex mutex_;  // guards the sleeps only; the run state is atomic
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<const std::function<void(int)>*> task_{nullptr};
  std::atomic<int> count_{0};
  std::atomic<uint64_t> next_{0};  // generation tag << 32 | next index to claim
  std::atomic<int> pending_{0};
  std::atomic<uint32_t> generation_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_waiting_{false};
  std::atomic<bool> stopping_{false};
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
