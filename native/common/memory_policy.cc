#include "memory_policy.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace hn {

MemoryPolicy apply_memory_policy() {
  MemoryPolicy policy;
#if defined(__GLIBC__)
  const char* env = std::getenv("HYDRANET_MALLOC_TUNING");
  if (env != nullptr && std::strcmp(env, "0") == 0) return policy;
  // A threshold the user set for glibc (environment or tunables) wins over ours.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr)) {
    return policy;
  }
  // glibc caps the mmap threshold at 32 MiB on 64-bit; larger blocks still get mappings.
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 256 << 20;
  const bool ok = mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 &&
                  mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  policy.applied = ok;
  policy.mmap_threshold = ok ? kMmapThreshold : 0;
  policy.trim_threshold = ok ? kTrimThreshold : 0;
#endif
  return policy;
}

}  // namespace hn
