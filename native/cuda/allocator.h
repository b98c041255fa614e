// Caching allocator for device memory. cudaMalloc and cudaFree are slow and cudaFree waits for
// the whole device, so freed blocks go to a per-device cache and the next request of the same
// size class takes one back at once. This is safe without events because every kernel of a
// device runs on its one stream (runtime.h): work that used a block before it was freed is
// queued before any work of its next owner.
//
// Size classes: requests round up to a power of two from 512 B to 1 MiB, and to a multiple of
// 2 MiB above, so a reused block wastes under half of a small request and under 2 MiB of a
// large one. A request the device cannot satisfy empties the cache and retries once before it
// throws hn::cuda::Error with the allocator's statistics.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hn::cuda {

struct MemoryStats {
  int64_t allocated_bytes = 0;       // held by live blocks (their size class)
  int64_t reserved_bytes = 0;        // obtained from cudaMalloc: live + cached
  int64_t peak_allocated_bytes = 0;  // high-water mark of allocated_bytes
  int64_t cached_blocks = 0;         // blocks waiting in the cache
  int64_t alloc_count = 0;           // device_malloc calls
  int64_t cache_hits = 0;            // ... served from the cache
  int64_t cuda_malloc_count = 0;     // ... that needed a cudaMalloc
};

// Rounded size a request of `bytes` occupies.
size_t size_class(size_t bytes);

// A block of at least `bytes` on `device` (nullptr for 0 bytes). Throws hn::cuda::Error.
void* device_malloc(size_t bytes, int device);
// Returns a block to its device's cache. nullptr is ignored; a pointer not from device_malloc
// throws.
void device_free(void* ptr);
// The device a live block belongs to (-1 when unknown).
int device_of(void* ptr);

MemoryStats memory_stats(int device);
// Releases every cached block of every device to the driver (live blocks stay).
void empty_cache();

// RAII scratch memory for one kernel launch sequence: freed into the cache at scope end, which
// is safe while later work is still queued (see above).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t bytes, int device) : ptr_(device_malloc(bytes, device)) {}
  ~DeviceBuffer() { device_free(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
};

}  // namespace hn::cuda
