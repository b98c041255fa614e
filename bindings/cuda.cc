// CUDA availability. In a CPU-only build these report no devices and say why.
#include <napi.h>

#include "registry.h"
#ifdef HN_WITH_CUDA
#include "../native/cuda/runtime.h"
#endif

namespace hn::bindings {
namespace {

int device_count() {
#ifdef HN_WITH_CUDA
  return hn::cuda::device_count();
#else
  return 0;
#endif
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), device_count());
}

Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), device_count() > 0);
}

Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
#ifdef HN_WITH_CUDA
  const int count = hn::cuda::device_count();
  out.Set("compiled", true);
  out.Set("deviceCount", count);
  out.Set("reason", count > 0 ? "" : hn::cuda::unavailable_reason());
#else
  out.Set("compiled", false);
  out.Set("deviceCount", 0);
  out.Set("reason", "this build has no CUDA kernels (no CUDA toolkit was found at build time)");
#endif
  return out;
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<CudaDeviceCount>(env, exports, "cudaDeviceCount");
  export_function<CudaIsAvailable>(env, exports, "cudaIsAvailable");
  export_function<CudaStatus>(env, exports, "cudaStatus");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
