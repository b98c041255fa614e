// Each bindings/*.cc file registers its functions with HN_REGISTER_BINDINGS(fn); addon.cc calls
// every registered fn at load, so adding an op family never touches a shared file.
// Functions are exported with export_function<Fn>(env, exports, "name"), which makes sure that no
// C++ exception can escape a binding and abort the process.
#pragma once
#include <napi.h>

#include <exception>
#include <new>
#include <string>

namespace hn::bindings {

using RegisterFn = void (*)(Napi::Env env, Napi::Object exports);
using BindingFn = Napi::Value (*)(const Napi::CallbackInfo& info);

struct Registrar {
  explicit Registrar(RegisterFn fn);
};

void register_all(Napi::Env env, Napi::Object exports);

// node-addon-api turns only Napi::Error into a JS exception; any other C++ exception leaving a
// binding (std::bad_alloc from a kernel's workspace or a std::vector sized by the caller,
// std::system_error when a thread cannot start) would reach std::terminate. This wrapper turns
// running out of memory into a RangeError and anything else into an Error, naming the function.
template <BindingFn fn>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  const char* name = static_cast<const char*>(info.Data());
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + ": out of memory (the request is larger than the memory available)");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(name) + ": native error: " + e.what());
  }
}

// Exports fn as `name` (a string literal: it is kept as the function's data).
template <BindingFn fn>
void export_function(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New<guarded<fn>>(env, name, const_cast<char*>(name)));
}

}  // namespace hn::bindings

#define HN_REGISTER_BINDINGS(fn) \
  static ::hn::bindings::Registrar hn_registrar_##fn(fn)
