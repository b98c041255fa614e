#include "cpu_features.h"

#include <atomic>

namespace hn::cpu {
namespace {
std::atomic<bool> g_force_portable{false};

bool detect() {
#if defined(HN_HAVE_AVX2) && (defined(__x86_64__) || defined(_M_X64))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}
}  // namespace

bool has_avx2_fma() {
  static const bool value = detect();
  return value;
}

void set_force_portable(bool force) { g_force_portable.store(force); }
bool force_portable() { return g_force_portable.load(); }

}  // namespace hn::cpu
