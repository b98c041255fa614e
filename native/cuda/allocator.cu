#include <cuda_runtime.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "allocator.h"
#include "common.cuh"
#include "runtime.h"

namespace hn::cuda {
namespace {

constexpr size_t kMinBlock = 512;
constexpr size_t kSmallLimit = size_t{1} << 20;  // 1 MiB
constexpr size_t kLargeRound = size_t{2} << 20;  // 2 MiB

struct Block {
  size_t size;
  int device;
};

struct DeviceCache {
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // size class -> cached blocks
  MemoryStats stats;
};

std::mutex g_mutex;
std::vector<DeviceCache> g_caches;
std::unordered_map<void*, Block> g_live;

DeviceCache& cache_of(int device) {
  if (g_caches.size() <= static_cast<size_t>(device)) g_caches.resize(device + 1);
  return g_caches[device];
}

// cudaFree of every cached block of one device (caller holds the mutex).
void release_cached(int device) {
  DeviceCache& cache = cache_of(device);
  int previous = 0;
  cudaGetDevice(&previous);
  cudaSetDevice(device);
  for (auto& entry : cache.free_blocks) {
    for (void* p : entry.second) {
      cudaFree(p);
      cache.stats.reserved_bytes -= static_cast<int64_t>(entry.first);
      cache.stats.cached_blocks -= 1;
    }
  }
  cache.free_blocks.clear();
  cudaSetDevice(previous);
}

std::string mib(int64_t bytes) { return std::to_string(bytes / (1024 * 1024)) + " MiB"; }

}  // namespace

size_t size_class(size_t bytes) {
  if (bytes <= kMinBlock) return kMinBlock;
  if (bytes <= kSmallLimit) {
    size_t s = kMinBlock;
    while (s < bytes) s <<= 1;
    return s;
  }
  return (bytes + kLargeRound - 1) / kLargeRound * kLargeRound;
}

void* device_malloc(size_t bytes, int device) {
  if (bytes == 0) return nullptr;
  const size_t size = size_class(bytes);
  std::lock_guard<std::mutex> lock(g_mutex);
  DeviceCache& cache = cache_of(device);
  cache.stats.alloc_count += 1;
  void* ptr = nullptr;
  auto it = cache.free_blocks.find(size);
  if (it != cache.free_blocks.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    cache.stats.cache_hits += 1;
    cache.stats.cached_blocks -= 1;
  } else {
    int previous = 0;
    check(cudaGetDevice(&previous), "cudaGetDevice");
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaError_t status = cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      release_cached(device);  // other size classes may free enough
      status = cudaMalloc(&ptr, size);
    }
    cudaSetDevice(previous);
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw Error("CUDA out of memory: cannot allocate " + mib(static_cast<int64_t>(size)) +
                  " on cuda:" + std::to_string(device) + " (" + mib(cache.stats.allocated_bytes) +
                  " allocated by hydranet, " + mib(cache.stats.reserved_bytes) + " reserved): " +
                  cudaGetErrorString(status));
    }
    cache.stats.cuda_malloc_count += 1;
    cache.stats.reserved_bytes += static_cast<int64_t>(size);
  }
  cache.stats.allocated_bytes += static_cast<int64_t>(size);
  if (cache.stats.allocated_bytes > cache.stats.peak_allocated_bytes) {
    cache.stats.peak_allocated_bytes = cache.stats.allocated_bytes;
  }
  g_live[ptr] = Block{size, device};
  return ptr;
}

void device_free(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_live.find(ptr);
  if (it == g_live.end()) throw Error("device_free: pointer was not allocated by hydranet's CUDA allocator");
  const Block block = it->second;
  g_live.erase(it);
  DeviceCache& cache = cache_of(block.device);
  cache.stats.allocated_bytes -= static_cast<int64_t>(block.size);
  cache.stats.cached_blocks += 1;
  cache.free_blocks[block.size].push_back(ptr);
}

int device_of(void* ptr) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_live.find(ptr);
  return it == g_live.end() ? -1 : it->second.device;
}

MemoryStats memory_stats(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return cache_of(device).stats;
}

void empty_cache() {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (size_t d = 0; d < g_caches.size(); ++d) release_cached(static_cast<int>(d));
}

}  // namespace hn::cuda
