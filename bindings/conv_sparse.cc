// Switch for the sparse-gradient convolution backward (native/cpu/conv_sparse.h), for tests and
// benchmarks that compare it with the dense kernels:
//   setConvSparse(enabled, force, maxIsa)  maxIsa: 0 portable, 1 AVX2, 2 AVX-512 (the best the
//                                          CPU has up to it)
#include <napi.h>

#include "../native/cpu/conv_sparse.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

Napi::Value SetConvSparse(const Napi::CallbackInfo& info) {
  const char* op = "setConvSparse";
  const bool enabled = boolean(info, 0, op, "enabled");
  const bool force = boolean(info, 1, op, "force");
  const auto max_isa = static_cast<int>(integer(info, 2, op, "maxIsa", hn::cpu::kSparseIsaPortable, hn::cpu::kSparseIsaAvx512));
  hn::cpu::set_conv_sparse_mode(enabled, force, max_isa);
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<SetConvSparse>(env, exports, "setConvSparse");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
