// Thread orchestration for the FMA peak probe; the timed loop is in avx2/peak_avx2.cc.
#include "peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <system_error>
#include <thread>
#include <vector>

#include "cpu_features.h"

namespace hn::cpu {

double measure_peak_gflops(int threads, double milliseconds) {
#if defined(HN_HAVE_AVX2)
  if (!has_avx2_fma()) return 0.0;
  threads = std::max(1, threads);
  const double seconds = std::max(milliseconds, 1.0) * 1e-3;
  std::vector<double> flops(static_cast<size_t>(threads), 0.0);
  // Every thread waits at the gate so that all chains run at the same time: a peak over two
  // cores must see both busy together (shared clocks and power limits).
  std::atomic<int> ready{0};
  std::atomic<int> started{threads};
  auto body = [&](int t) {
    ready.fetch_add(1);
    while (ready.load() < started.load()) std::this_thread::yield();
    flops[static_cast<size_t>(t)] = fma_chain_flops_avx2(seconds);
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads - 1));
  try {
    for (int t = 1; t < threads; ++t) workers.emplace_back(body, t);
  } catch (const std::system_error&) {
    // Out of threads (a process or container limit): measure with those that started rather
    // than leave them waiting at the gate (and abort on their destruction).
    started.store(static_cast<int>(workers.size()) + 1);
  }
  body(0);
  for (auto& w : workers) w.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double total = 0.0;
  for (double f : flops) total += f;
  return total / elapsed * 1e-9;
#else
  (void)threads;
  (void)milliseconds;
  return 0.0;
#endif
}

}  // namespace hn::cpu
