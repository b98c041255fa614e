// Switch between the direct convolution kernel and im2col + SGEMM (tests and benchmarks compare
// the two): setConvDirect(enabled), convDirectEnabled().
#include <napi.h>

#include "../native/cpu/conv_direct.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

Napi::Value SetConvDirect(const Napi::CallbackInfo& info) {
  hn::cpu::set_conv_direct_enabled(boolean(info, 0, "setConvDirect", "enabled"));
  return info.Env().Undefined();
}

Napi::Value ConvDirectEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), hn::cpu::conv_direct_enabled());
}

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("setConvDirect", Napi::Function::New(env, SetConvDirect, "setConvDirect"));
  exports.Set("convDirectEnabled", Napi::Function::New(env, ConvDirectEnabled, "convDirectEnabled"));
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
