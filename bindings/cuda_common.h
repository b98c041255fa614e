// Device buffers as JS values, and argument checks for the CUDA bindings (cuda_memory.cc,
// cuda_ops.cc). Only compiled with HN_WITH_CUDA.
//
// A device buffer is an N-API external (type-tagged, so no other external passes for one)
// holding a block from the caching allocator: its device, dtype and element count. dispose()
// frees it at once (cudaFree binding); otherwise its finaliser returns it to the cache when V8
// collects the handle; the block's bytes are reported to V8 as external memory so that garbage
// CUDA tensors count as memory pressure and get collected. Returning a block while kernels that use it are still queued is safe:
// every kernel of a device runs on its one stream (native/cuda/allocator.h).
#pragma once
#ifdef HN_WITH_CUDA
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../native/cuda/runtime.h"

namespace hn::bindings::cuda {

struct DeviceBlock {
  void* ptr = nullptr;  // null for 0 elements and once freed
  bool freed = false;
  int64_t length = 0;   // elements
  int device = 0;
  bool is_int = false;  // int32 rather than float32
  int64_t accounted = 0;  // bytes reported to V8 as external memory (0 once released)
};

// Releases a block now (dispose) and withdraws its bytes from V8's external-memory count.
void release_block(Napi::Env env, DeviceBlock* block);

Napi::Value wrap_block(Napi::Env env, DeviceBlock block);
// The block behind a handle argument; throws a TypeError naming op and arg otherwise.
DeviceBlock* block_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg);
// The same for any value (a field of an options object).
DeviceBlock* block_value(Napi::Env env, Napi::Value value, const char* op, const std::string& arg);

// Collects the device pointers of one call, checking dtype, length, liveness and that every
// buffer is on the same device; makes that device current for the kernels.
class DeviceArgs {
 public:
  DeviceArgs(const Napi::CallbackInfo& info, const char* op) : info_(info), op_(op) {}
  // expected_length < 0 skips the length check.
  float* floats(size_t index, const char* arg, int64_t expected_length = -1);
  float* optional_floats(size_t index, const char* arg, int64_t expected_length = -1);
  int32_t* ints(size_t index, const char* arg, int64_t expected_length = -1);
  int64_t length(size_t index, const char* arg);  // element count of a (float) buffer
  // A live buffer of either dtype (copies move bits), on the common device.
  DeviceBlock* any(size_t index, const char* arg);
  // The common device (the first buffer's), made current; its stream.
  hn::cuda::Stream stream();
  int device() const { return device_; }

 private:
  DeviceBlock* take(size_t index, const char* arg, bool is_int, int64_t expected_length);
  const Napi::CallbackInfo& info_;
  const char* op_;
  int device_ = -1;
};

// Runs fn, turning hn::cuda::Error (a failed launch, out of device memory) into a JS Error that
// names op and the CUDA call. Every other C++ exception reaches the export_function guard
// (registry.h) that each CUDA binding is registered behind: nothing reaches std::terminate.
template <typename Fn>
void run_cuda(Napi::Env env, const char* op, Fn fn) {
  try {
    fn();
  } catch (const hn::cuda::Error& e) {
    throw Napi::Error::New(env, std::string(op) + ": " + e.what());
  }
}

// The largest buffer a binding accepts (elements), as checked_numel's bound.
constexpr int64_t kMaxElements = int64_t{1} << 40;

// exports.cuda, created by whichever CUDA binding file registers first.
Napi::Object cuda_table(Napi::Env env, Napi::Object exports);

// "[1, 2, 3]"
std::string list_string(const std::vector<int64_t>& v);
// An integer list of exactly `size` entries, each in [min_value, max_value].
std::vector<int64_t> fixed_list(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg,
                                size_t size, int64_t min_value, int64_t max_value = INT32_MAX);
// [a, b, c] at `index` (argument "dims") whose product is addressable.
std::vector<int64_t> dims3(const Napi::CallbackInfo& info, size_t index, const char* op);

}  // namespace hn::bindings::cuda
#endif  // HN_WITH_CUDA
