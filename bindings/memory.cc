// The malloc policy for tensor memory (native/common/memory_policy.h), applied when the addon
// loads; memoryPolicy() reports what was applied.
#include <napi.h>

#include "../native/common/memory_policy.h"
#include "registry.h"

namespace hn::bindings {
namespace {

MemoryPolicy& loaded_policy() {
  static MemoryPolicy policy = apply_memory_policy();
  return policy;
}

Napi::Value GetMemoryPolicy(const Napi::CallbackInfo& info) {
  const MemoryPolicy& p = loaded_policy();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("mallocTuned", p.applied);
  out.Set("mmapThreshold", static_cast<double>(p.mmap_threshold));
  out.Set("trimThreshold", static_cast<double>(p.trim_threshold));
  return out;
}

void Register(Napi::Env env, Napi::Object exports) {
  loaded_policy();
  exports.Set("memoryPolicy", Napi::Function::New(env, GetMemoryPolicy, "memoryPolicy"));
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
