// How the process's malloc treats the large blocks tensors live in.
#pragma once
#include <cstdint>

namespace hn {

struct MemoryPolicy {
  // false: not glibc, turned off by HYDRANET_MALLOC_TUNING=0, or the user set glibc's own
  // MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / GLIBC_TUNABLES=glibc.malloc.*
  bool applied = false;
  int64_t mmap_threshold = 0;    // bytes; blocks at least this large get their own mapping
  int64_t trim_threshold = 0;    // bytes of free memory kept at the top of the heap
};

// Tensor memory is V8 ArrayBuffers, which Node allocates with calloc. With glibc's defaults a
// freed activation of a few MiB goes back to the kernel (munmap or trim), so the next step's
// tensor of the same size page-faults every 4 KiB page again: in a W1 training step that was
// about 100k faults and a quarter of the CPU time. Raising both thresholds keeps freed blocks
// in the heap for reuse; the peak RSS stays the same (the same live set at the peak), memory
// just is not returned between steps. Called once, when the addon loads.
MemoryPolicy apply_memory_policy();

}  // namespace hn
