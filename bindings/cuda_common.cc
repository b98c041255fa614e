// Device buffer handles and argument checks for the CUDA bindings (see cuda_common.h).
#ifdef HN_WITH_CUDA
#include "cuda_common.h"

#include "../native/cuda/allocator.h"
#include "args.h"

namespace hn::bindings::cuda {
namespace {

// Marks externals created here; napi_check_object_type_tag rejects any other external.
const napi_type_tag kBlockTag = {0x6879647261636475ULL, 0x6461626c6f636b31ULL};

}  // namespace

void release_block(Napi::Env env, DeviceBlock* b) {
  void* ptr = b->ptr;
  b->ptr = nullptr;
  b->freed = true;
  if (b->accounted > 0) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -b->accounted);
    b->accounted = 0;
  }
  try {
    hn::cuda::device_free(ptr);
  } catch (...) {
    // Never thrown for a pointer from device_malloc; a finaliser must not throw in any case.
  }
}

Napi::Value wrap_block(Napi::Env env, DeviceBlock block) {
  auto* owned = new DeviceBlock(block);
  owned->accounted = owned->ptr ? block.length * 4 : 0;
  if (owned->accounted > 0) Napi::MemoryManagement::AdjustExternalMemory(env, owned->accounted);
  auto external = Napi::External<DeviceBlock>::New(env, owned, [](Napi::Env finalizer_env, DeviceBlock* b) {
    release_block(finalizer_env, b);
    delete b;
  });
  napi_status status = napi_type_tag_object(env, external, &kBlockTag);
  if (status != napi_ok) throw Napi::Error::New(env, "cuda: cannot tag a device buffer handle");
  return external;
}

DeviceBlock* block_value(Napi::Env env, Napi::Value value, const char* op, const std::string& arg) {
  bool tagged = false;
  if (value.IsExternal()) napi_check_object_type_tag(env, value, &kBlockTag, &tagged);
  if (!tagged) throw_type_error(env, op, arg, "a CUDA device buffer", describe(value));
  return value.As<Napi::External<DeviceBlock>>().Data();
}

DeviceBlock* block_arg(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg) {
  return block_value(info.Env(), info[index], op, arg);
}

DeviceBlock* DeviceArgs::take(size_t index, const char* arg, bool is_int, int64_t expected_length) {
  DeviceBlock* b = block_arg(info_, index, op_, arg);
  Napi::Env env = info_.Env();
  if (b->freed) throw_type_error(env, op_, arg, "a live CUDA tensor", "a disposed one");
  if (b->is_int != is_int) {
    throw_type_error(env, op_, arg, is_int ? "an int32 CUDA buffer" : "a float32 CUDA buffer",
                     b->is_int ? "an int32 one" : "a float32 one");
  }
  if (expected_length >= 0 && b->length != expected_length) {
    throw_range_error(env, op_, arg, std::to_string(expected_length) + " elements", std::to_string(b->length));
  }
  if (device_ < 0) {
    device_ = b->device;
  } else if (b->device != device_) {
    throw_range_error(env, op_, arg, "a tensor on cuda:" + std::to_string(device_) + " like the other arguments",
                      "one on cuda:" + std::to_string(b->device));
  }
  return b;
}

float* DeviceArgs::floats(size_t index, const char* arg, int64_t expected_length) {
  return static_cast<float*>(take(index, arg, false, expected_length)->ptr);
}

float* DeviceArgs::optional_floats(size_t index, const char* arg, int64_t expected_length) {
  Napi::Value v = info_[index];
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return floats(index, arg, expected_length);
}

int32_t* DeviceArgs::ints(size_t index, const char* arg, int64_t expected_length) {
  return static_cast<int32_t*>(take(index, arg, true, expected_length)->ptr);
}

int64_t DeviceArgs::length(size_t index, const char* arg) { return take(index, arg, false, -1)->length; }

DeviceBlock* DeviceArgs::any(size_t index, const char* arg) {
  DeviceBlock* b = block_arg(info_, index, op_, arg);
  return take(index, arg, b->is_int, -1);
}

hn::cuda::Stream DeviceArgs::stream() {
  const int device = device_ < 0 ? 0 : device_;
  hn::cuda::set_device(device);
  return hn::cuda::stream(device);
}

Napi::Object cuda_table(Napi::Env env, Napi::Object exports) {
  if (exports.Has("cuda")) return exports.Get("cuda").As<Napi::Object>();
  Napi::Object table = Napi::Object::New(env);
  exports.Set("cuda", table);
  return table;
}

std::string list_string(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

std::vector<int64_t> fixed_list(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg,
                                size_t size, int64_t min_value, int64_t max_value) {
  auto v = int_list(info, index, op, arg, min_value, max_value, size);
  if (v.size() != size) throw_range_error(info.Env(), op, arg, std::to_string(size) + " entries", list_string(v));
  return v;
}

std::vector<int64_t> dims3(const Napi::CallbackInfo& info, size_t index, const char* op) {
  auto d = fixed_list(info, index, op, "dims", 3, 0);
  checked_numel(info.Env(), op, "dims", d);
  return d;
}

}  // namespace hn::bindings::cuda
#endif  // HN_WITH_CUDA
