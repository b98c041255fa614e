// CUDA memory bindings: device buffers for tensors (alloc, free, copies between host and
// device), the caching allocator's statistics and cache, synchronisation. Registered under
// exports.cuda; absent from a build without CUDA (lib/cuda.ts then reports it unavailable).
//   alloc(length, dtype 'float32'|'int32', device) -> handle (zero-filled)
//   free(handle)                      releases now; later use throws
//   upload(handle, typedArray)        host -> device (same length and dtype)
//   download(handle, typedArray)      device -> host; waits for the device (the sync point)
//   copy(dst, src)                    device -> device (across devices through the host)
//   memoryStats(device), emptyCache(), synchronize(device), deviceName(device)
//   setAllowTF32(bool), allowTF32()   the TF32 tensor-core flag of the GEMMs (native/cuda/gemm.h)
#ifdef HN_WITH_CUDA
#include <napi.h>

#include <vector>

#include "../native/cuda/allocator.h"
#include "../native/cuda/gemm.h"
#include "../native/cuda/runtime.h"
#include "args.h"
#include "cuda_common.h"
#include "registry.h"

namespace hn::bindings::cuda {
namespace {

int device_index(const Napi::CallbackInfo& info, size_t index, const char* op) {
  const int count = hn::cuda::device_count();
  if (count == 0) {
    throw_range_error(info.Env(), op, "device", "a CUDA device", std::string("none available (") +
                                                                     hn::cuda::unavailable_reason() + ")");
  }
  return static_cast<int>(integer(info, index, op, "device", 0, count - 1));
}

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  const char* op = "cuda.alloc";
  const int64_t length = integer(info, 0, op, "length", 0, int64_t{1} << 40);
  Napi::Value dtype = info[1];
  const std::string d = dtype.IsString() ? dtype.As<Napi::String>().Utf8Value() : "";
  if (d != "float32" && d != "int32") throw_type_error(info.Env(), op, "dtype", "'float32' or 'int32'", describe(dtype));
  const int device = device_index(info, 2, op);
  DeviceBlock block;
  block.length = length;
  block.device = device;
  block.is_int = d == "int32";
  run_cuda(info.Env(), op, [&] {
    block.ptr = hn::cuda::device_malloc(static_cast<size_t>(length) * 4, device);
    hn::cuda::set_device(device);
    hn::cuda::fill_zero(block.ptr, static_cast<size_t>(length) * 4, hn::cuda::stream(device));
  });
  return wrap_block(info.Env(), block);
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  DeviceBlock* b = block_arg(info, 0, "cuda.free", "handle");
  release_block(info.Env(), b);
  return info.Env().Undefined();
}

// The typed array at `index` matching the block's dtype and length: {data, bytes}.
std::pair<void*, size_t> host_array(const Napi::CallbackInfo& info, size_t index, const char* op,
                                    const DeviceBlock& b) {
  if (b.is_int) {
    auto a = int_array(info, index, op, "array", b.length);
    return {a.data, a.length * 4};
  }
  auto a = float_array(info, index, op, "array", b.length);
  return {a.data, a.length * 4};
}

DeviceBlock* live_block(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg) {
  DeviceBlock* b = block_arg(info, index, op, arg);
  if (b->freed) throw_type_error(info.Env(), op, arg, "a live CUDA tensor", "a disposed one");
  return b;
}

// host -> device (upload) or device -> host (download, which waits for the device).
template <bool kToDevice>
Napi::Value Transfer(const Napi::CallbackInfo& info) {
  const char* op = kToDevice ? "cuda.upload" : "cuda.download";
  DeviceBlock* b = live_block(info, 0, op, "handle");
  auto host = host_array(info, 1, op, *b);
  run_cuda(info.Env(), op, [&] {
    hn::cuda::set_device(b->device);
    if (kToDevice) {
      hn::cuda::copy_host_to_device(b->ptr, host.first, host.second, hn::cuda::stream(b->device));
    } else {
      hn::cuda::copy_device_to_host(host.first, b->ptr, host.second, hn::cuda::stream(b->device));
    }
  });
  return info.Env().Undefined();
}

Napi::Value Copy(const Napi::CallbackInfo& info) {
  const char* op = "cuda.copy";
  DeviceBlock* dst = live_block(info, 0, op, "dst");
  DeviceBlock* src = live_block(info, 1, op, "src");
  if (dst->length != src->length || dst->is_int != src->is_int) {
    throw_range_error(info.Env(), op, "dst", "a buffer of the source's dtype and length " + std::to_string(src->length),
                      std::to_string(dst->length) + " elements");
  }
  const size_t bytes = static_cast<size_t>(src->length) * 4;
  run_cuda(info.Env(), op, [&] {
    if (dst->device == src->device) {
      hn::cuda::set_device(src->device);
      hn::cuda::copy_device_to_device(dst->ptr, src->ptr, bytes, hn::cuda::stream(src->device));
      return;
    }
    std::vector<char> staging(bytes);  // across devices: through the host, in order on both streams
    hn::cuda::set_device(src->device);
    hn::cuda::copy_device_to_host(staging.data(), src->ptr, bytes, hn::cuda::stream(src->device));
    hn::cuda::set_device(dst->device);
    hn::cuda::copy_host_to_device(dst->ptr, staging.data(), bytes, hn::cuda::stream(dst->device));
    hn::cuda::synchronize(dst->device);  // the staging buffer dies here
  });
  return info.Env().Undefined();
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  const int device = device_index(info, 0, "cuda.memoryStats");
  const auto s = hn::cuda::memory_stats(device);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("allocatedBytes", static_cast<double>(s.allocated_bytes));
  out.Set("reservedBytes", static_cast<double>(s.reserved_bytes));
  out.Set("peakAllocatedBytes", static_cast<double>(s.peak_allocated_bytes));
  out.Set("cachedBlocks", static_cast<double>(s.cached_blocks));
  out.Set("allocCount", static_cast<double>(s.alloc_count));
  out.Set("cacheHits", static_cast<double>(s.cache_hits));
  out.Set("cudaMallocCount", static_cast<double>(s.cuda_malloc_count));
  return out;
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  // Blocks in the cache may still be named by queued work: wait for every device first.
  run_cuda(info.Env(), "cuda.emptyCache", [&] {
    const int count = hn::cuda::device_count();
    for (int d = 0; d < count; ++d) hn::cuda::synchronize(d);
    hn::cuda::empty_cache();
  });
  return info.Env().Undefined();
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  const int device = device_index(info, 0, "cuda.synchronize");
  run_cuda(info.Env(), "cuda.synchronize", [&] { hn::cuda::synchronize(device); });
  return info.Env().Undefined();
}

Napi::Value DeviceName(const Napi::CallbackInfo& info) {
  const int device = device_index(info, 0, "cuda.deviceName");
  std::string name;
  run_cuda(info.Env(), "cuda.deviceName", [&] { name = hn::cuda::device_name(device); });
  return Napi::String::New(info.Env(), name);
}

Napi::Value SetAllowTF32(const Napi::CallbackInfo& info) {
  hn::cuda::set_allow_tf32(boolean(info, 0, "cuda.setAllowTF32", "allow"));
  return info.Env().Undefined();
}

Napi::Value AllowTF32(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), hn::cuda::allow_tf32()); }

void Register(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = cuda_table(env, exports);
  export_function<Alloc>(env, cuda, "alloc");
  export_function<Free>(env, cuda, "free");
  export_function<Transfer<true>>(env, cuda, "upload");
  export_function<Transfer<false>>(env, cuda, "download");
  export_function<Copy>(env, cuda, "copy");
  export_function<MemoryStats>(env, cuda, "memoryStats");
  export_function<EmptyCache>(env, cuda, "emptyCache");
  export_function<Synchronize>(env, cuda, "synchronize");
  export_function<DeviceName>(env, cuda, "deviceName");
  export_function<SetAllowTF32>(env, cuda, "setAllowTF32");
  export_function<AllowTF32>(env, cuda, "allowTF32");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings::cuda
#endif  // HN_WITH_CUDA
