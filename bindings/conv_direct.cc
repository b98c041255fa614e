// Switches between the direct convolution kernels and im2col + SGEMM (tests and benchmarks
// compare them): setConvDirect(enabled) for every direct kernel, setConvDirect512(enabled) for
// the AVX-512 one alone; convDirectStatus() says what is on and whether the CPU has AVX-512.
#include <napi.h>

#include "../native/cpu/conv_direct.h"
#include "../native/cpu/conv_direct512.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

Napi::Value SetConvDirect(const Napi::CallbackInfo& info) {
  hn::cpu::set_conv_direct_enabled(boolean(info, 0, "setConvDirect", "enabled"));
  return info.Env().Undefined();
}

Napi::Value SetConvDirect512(const Napi::CallbackInfo& info) {
  hn::cpu::set_conv_direct512_enabled(boolean(info, 0, "setConvDirect512", "enabled"));
  return info.Env().Undefined();
}

Napi::Value ConvDirectStatus(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("direct", hn::cpu::conv_direct_enabled());
  out.Set("direct512", hn::cpu::conv_direct512_enabled());
  out.Set("avx512", hn::cpu::has_avx512());
  return out;
}

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("setConvDirect", Napi::Function::New(env, SetConvDirect, "setConvDirect"));
  exports.Set("setConvDirect512", Napi::Function::New(env, SetConvDirect512, "setConvDirect512"));
  exports.Set("convDirectStatus", Napi::Function::New(env, ConvDirectStatus, "convDirectStatus"));
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
