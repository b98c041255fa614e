// Bindings for softmax / log-softmax along one dim (native/cpu/softmax.h).
#include <napi.h>

#include "../native/cpu/softmax.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

struct SoftmaxDims {
  int64_t outer, dim, inner;
};

// Reads [outer, dim, inner] at `index` (the tensor viewed around the softmax dim).
SoftmaxDims softmax_dims(const Napi::CallbackInfo& info, size_t index, const char* op) {
  auto dims = int_list_of(info, index, op, "dims", 3, "3 entries [outer, dim, inner]");
  checked_numel(info.Env(), op, "dims", dims);
  return {dims[0], dims[1], dims[2]};
}

// (x, [outer, dim, inner], log, y)
Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
  const bool log = boolean(info, 2, "softmax", "log");
  const char* op = log ? "logSoftmax" : "softmax";
  const auto d = softmax_dims(info, 1, op);
  const int64_t n = d.outer * d.dim * d.inner;
  auto x = float_array(info, 0, op, "input", n);
  auto y = float_array(info, 3, op, "output", n);
  if (n == 0) return info.Env().Undefined();
  hn::cpu::softmax_forward(x.data, y.data, d.outer, d.dim, d.inner, log);
  return info.Env().Undefined();
}

// (y, gradOutput, [outer, dim, inner], log, gradInput)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  const bool log = boolean(info, 3, "softmaxBackward", "log");
  const char* op = log ? "logSoftmaxBackward" : "softmaxBackward";
  const auto d = softmax_dims(info, 2, op);
  const int64_t n = d.outer * d.dim * d.inner;
  auto y = float_array(info, 0, op, "output", n);
  auto gy = float_array(info, 1, op, "gradOutput", n);
  auto gx = float_array(info, 4, op, "gradInput", n);
  if (n == 0) return info.Env().Undefined();
  hn::cpu::softmax_backward(y.data, gy.data, gx.data, d.outer, d.dim, d.inner, log);
  return info.Env().Undefined();
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<SoftmaxForward>(env, exports, "softmaxForward");
  export_function<SoftmaxBackward>(env, exports, "softmaxBackward");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
