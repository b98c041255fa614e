// Stress test of the thread pool (native/common/thread_pool.h): every index of every parallel
// region runs exactly once, on any thread count, with regions back to back (workers still
// spinning), regions after a pause (workers asleep), nested regions, several submitting threads
// at once and resizes in between. Run it with HYDRANET_SPIN_US=0 too (sleep/wake path only).
//
//   thread_pool_test     exit code 1 on any failure; last line "N passed, N failed"
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "../../native/common/thread_pool.h"

namespace {

int g_passed = 0;
int g_failed = 0;

void check(bool ok, const char* what, int64_t detail) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s (%lld)\n", what, static_cast<long long>(detail));
  }
}

// One region over n indices: each is counted once; returns false on any miss or repeat.
bool region(int64_t n, int64_t grain, int spin_work) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  hn::parallel_for(n, grain, [&](int64_t b, int64_t e) {
    volatile double sink = 0;
    for (int64_t i = b; i < e; ++i) {
      hits[static_cast<size_t>(i)].fetch_add(1);
      for (int k = 0; k < spin_work; ++k) sink = sink + 1.0;
    }
  });
  for (auto& h : hits) {
    if (h.load() != 1) return false;
  }
  return true;
}

}  // namespace

int main() {
  std::mt19937 gen(7);
  for (int threads : {1, 2, 3, 5}) {
    hn::set_num_threads(threads);
    check(hn::num_threads() == threads, "num_threads after resize", hn::num_threads());
    int bad = 0;
    for (int r = 0; r < 3000; ++r) {
      const int64_t n = 1 + static_cast<int64_t>(gen() % 300);
      if (!region(n, 1 + static_cast<int64_t>(gen() % 8), static_cast<int>(gen() % 200))) ++bad;
      // Now and then a pause longer than the spin, so the workers fall asleep.
      if (r % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    check(bad == 0, "back-to-back regions", bad);

    // Nested regions run serially inside a chunk and still cover every index once.
    std::atomic<int64_t> total{0};
    hn::parallel_for(8, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        hn::parallel_for(100, 1, [&](int64_t b2, int64_t e2) { total.fetch_add(e2 - b2); });
      }
    });
    check(total.load() == 800, "nested regions", total.load());

    // Several threads submit at once (worker_threads in Node share the pool).
    std::atomic<int> submit_bad{0};
    std::vector<std::thread> submitters;
    for (int s = 0; s < 3; ++s) {
      submitters.emplace_back([&, s] {
        for (int r = 0; r < 500; ++r) {
          if (!region(17 + s * 13 + r % 50, 1, 50)) submit_bad.fetch_add(1);
        }
      });
    }
    for (auto& t : submitters) t.join();
    check(submit_bad.load() == 0, "concurrent submitters", submit_bad.load());
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
