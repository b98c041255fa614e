// A 64-byte aligned scratch buffer for kernels that keep one per thread (thread_local) across
// calls: vector rows loaded from it are whole cache lines, and the hot path allocates nothing
// once warm. Allocation happens on the calling thread, so std::bad_alloc reaches the binding.
// Include only from portable files (not from files compiled with a target pragma).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <new>

namespace hn::cpu {

class AlignedScratch {
 public:
  AlignedScratch() = default;
  AlignedScratch(const AlignedScratch&) = delete;
  AlignedScratch& operator=(const AlignedScratch&) = delete;
  ~AlignedScratch() { std::free(data_); }

  // At least `floats` floats, 64-byte aligned (the previous contents are not kept).
  float* reserve(int64_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      capacity_ = (floats + 15) / 16 * 16;
      data_ = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(capacity_) * sizeof(float)));
      if (data_ == nullptr) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
    }
    return data_;
  }

  // A one-off huge call should not pin its memory for the life of the thread: above 64 MiB the
  // buffer is released.
  void trim() {
    if (capacity_ > (int64_t{16} << 20)) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
    }
  }

 private:
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

}  // namespace hn::cpu
