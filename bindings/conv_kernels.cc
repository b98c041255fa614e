// Switches for the convolution kernels of issue 7's small-plane work, so that tests and
// benchmarks can compare each with the path it replaces: setConvWgrad512(enabled) for the
// channel-vectorised AVX-512 weight gradient (native/cpu/conv_wgrad512.h), setConvWinograd(enabled)
// for the Winograd F(2x2, 3x3) forward and input gradient (native/cpu/conv_winograd.h).
#include <napi.h>

#include "../native/cpu/conv_wgrad512.h"
#include "../native/cpu/conv_winograd.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

Napi::Value SetConvWgrad512(const Napi::CallbackInfo& info) {
  hn::cpu::set_conv_wgrad512_enabled(boolean(info, 0, "setConvWgrad512", "enabled"));
  return info.Env().Undefined();
}

Napi::Value SetConvWinograd(const Napi::CallbackInfo& info) {
  hn::cpu::set_conv_winograd_enabled(boolean(info, 0, "setConvWinograd", "enabled"));
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<SetConvWgrad512>(env, exports, "setConvWgrad512");
  export_function<SetConvWinograd>(env, exports, "setConvWinograd");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
