// Process-wide controls: threads, CPU features, releasing tensor memory at once.
#include <napi.h>

#include "../native/common/thread_pool.h"
#include "../native/cpu/cpu_features.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), hn::num_threads());
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  hn::set_num_threads(static_cast<int>(integer(info, 0, "setNumThreads", "n", 1, 1024)));
  return info.Env().Undefined();
}

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("avx2", hn::cpu::has_avx2_fma());
  out.Set("forcePortable", hn::cpu::force_portable());
  return out;
}

Napi::Value SetForcePortable(const Napi::CallbackInfo& info) {
  hn::cpu::set_force_portable(boolean(info, 0, "setForcePortable", "force"));
  return info.Env().Undefined();
}

// Detaching drops V8's only reference to the backing store, which frees it now rather than
// at the next GC: this is how Tensor.dispose() releases memory at once.
Napi::Value DetachBuffer(const Napi::CallbackInfo& info) {
  Napi::Value value = info[0];
  if (!value.IsArrayBuffer()) throw_type_error(info.Env(), "dispose", "buffer", "an ArrayBuffer", describe(value));
  auto buffer = value.As<Napi::ArrayBuffer>();
  if (!buffer.IsDetached()) buffer.Detach();
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<NumThreads>(env, exports, "numThreads");
  export_function<SetNumThreads>(env, exports, "setNumThreads");
  export_function<CpuFeatures>(env, exports, "cpuFeatures");
  export_function<SetForcePortable>(env, exports, "setForcePortable");
  export_function<DetachBuffer>(env, exports, "detachBuffer");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
