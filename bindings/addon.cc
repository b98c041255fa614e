// Module entry: every bindings/*.cc file registered itself with HN_REGISTER_BINDINGS.
#include <napi.h>

#include <vector>

#include "registry.h"

namespace hn::bindings {
namespace {
std::vector<RegisterFn>& registry() {
  static std::vector<RegisterFn> fns;
  return fns;
}
}  // namespace

Registrar::Registrar(RegisterFn fn) { registry().push_back(fn); }

void register_all(Napi::Env env, Napi::Object exports) {
  for (RegisterFn fn : registry()) fn(env, exports);
}

}  // namespace hn::bindings

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  hn::bindings::register_all(env, exports);
  return exports;
}

NODE_API_MODULE(hydranet, Init)
