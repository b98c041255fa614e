// Argument readers shared by the CPU and CUDA loss bindings (loss.cc, cuda_loss.cc), so both
// devices check class-target losses the same way and say so in the same words.
#pragma once
#include <napi.h>

#include <cstdint>

namespace hn::bindings {

struct ClassDims {
  int64_t N, C, S;
};

// [N, C, S] at `index`: the input viewed as batch, classes, flattened spatial dims.
ClassDims class_dims(const Napi::CallbackInfo& info, size_t index, const char* op);

// How every class-target loss starts: [N, C, S] at `index`, then ignoreIndex.
struct ClassArgs {
  ClassDims d;
  int32_t ignore;
};
ClassArgs class_args(const Napi::CallbackInfo& info, size_t index, const char* op);

// labelSmoothing in [0, 1].
double label_smoothing(const Napi::CallbackInfo& info, size_t index, const char* op);

// Any number, infinities included (a 'mean' over no targets scales by 1/0; every row is then
// ignored and the scale is never used).
double any_number(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg);

}  // namespace hn::bindings
