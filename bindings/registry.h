// Each bindings/*.cc file registers its functions with HN_REGISTER_BINDINGS(fn); addon.cc calls
// every registered fn at load, so adding an op family never touches a shared file.
#pragma once
#include <napi.h>

namespace hn::bindings {

using RegisterFn = void (*)(Napi::Env env, Napi::Object exports);

struct Registrar {
  explicit Registrar(RegisterFn fn);
};

void register_all(Napi::Env env, Napi::Object exports);

}  // namespace hn::bindings

#define HN_REGISTER_BINDINGS(fn) \
  static ::hn::bindings::Registrar hn_registrar_##fn(fn)
