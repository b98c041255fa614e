#include "args.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace hn::bindings {
namespace {

std::string message(const std::string& op, const std::string& arg, const std::string& expected,
                    const std::string& actual) {
  return op + ": expected " + arg + " to be " + expected + ", got " + actual;
}

template <typename T, napi_typedarray_type kType>
ArrayView<T> typed_array(const Napi::CallbackInfo& info, size_t index, const char* op,
                         const char* arg, int64_t expected_length, bool optional,
                         const char* type_name) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (optional && (value.IsNull() || value.IsUndefined())) return {};
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != kType) {
    throw_type_error(env, op, arg, std::string("a ") + type_name, describe(value));
  }
  auto array = value.As<Napi::TypedArrayOf<T>>();
  if (array.ArrayBuffer().IsDetached()) {
    throw_type_error(env, op, arg, std::string("a live ") + type_name,
                     "a disposed tensor (detached buffer)");
  }
  if (expected_length >= 0 && static_cast<int64_t>(array.ElementLength()) != expected_length) {
    throw_range_error(env, op, arg, std::to_string(expected_length) + " elements",
                      std::to_string(array.ElementLength()) + " elements");
  }
  return {array.Data(), array.ElementLength()};
}

}  // namespace

void throw_type_error(Napi::Env env, const std::string& op, const std::string& arg,
                      const std::string& expected, const std::string& actual) {
  throw Napi::TypeError::New(env, message(op, arg, expected, actual));
}

void throw_range_error(Napi::Env env, const std::string& op, const std::string& arg,
                       const std::string& expected, const std::string& actual) {
  throw Napi::RangeError::New(env, message(op, arg, expected, actual));
}

std::string describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsNumber()) {
    std::ostringstream out;
    out << "number " << value.As<Napi::Number>().DoubleValue();
    return out.str();
  }
  if (value.IsBoolean()) return "boolean";
  if (value.IsString()) return "string";
  if (value.IsTypedArray()) {
    auto array = value.As<Napi::TypedArray>();
    const char* name = "TypedArray";
    switch (array.TypedArrayType()) {
      case napi_float32_array: name = "Float32Array"; break;
      case napi_float64_array: name = "Float64Array"; break;
      case napi_int32_array: name = "Int32Array"; break;
      case napi_uint8_array: name = "Uint8Array"; break;
      default: break;
    }
    return std::string(name) + "(" + std::to_string(array.ElementLength()) + ")";
  }
  if (value.IsArray()) return "array(" + std::to_string(value.As<Napi::Array>().Length()) + ")";
  if (value.IsFunction()) return "function";
  return "object";
}

ArrayView<float> float_array(const Napi::CallbackInfo& info, size_t index, const char* op,
                             const char* arg, int64_t expected_length) {
  return typed_array<float, napi_float32_array>(info, index, op, arg, expected_length, false,
                                                "Float32Array");
}

ArrayView<int32_t> int_array(const Napi::CallbackInfo& info, size_t index, const char* op,
                             const char* arg, int64_t expected_length) {
  return typed_array<int32_t, napi_int32_array>(info, index, op, arg, expected_length, false,
                                                "Int32Array");
}

ArrayView<float> optional_float_array(const Napi::CallbackInfo& info, size_t index,
                                      const char* op, const char* arg, int64_t expected_length) {
  return typed_array<float, napi_float32_array>(info, index, op, arg, expected_length, true,
                                                "Float32Array");
}

ArrayView<int32_t> optional_int_array(const Napi::CallbackInfo& info, size_t index,
                                      const char* op, const char* arg,
                                      int64_t expected_length) {
  return typed_array<int32_t, napi_int32_array>(info, index, op, arg, expected_length, true,
                                                "Int32Array");
}

int64_t integer(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg,
                int64_t min_value, int64_t max_value) {
  Napi::Value value = info[index];
  if (!value.IsNumber()) throw_type_error(info.Env(), op, arg, "an integer", describe(value));
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min_value) ||
      d > static_cast<double>(max_value)) {
    throw_range_error(info.Env(), op, arg,
                      "an integer in [" + std::to_string(min_value) + ", " +
                          std::to_string(max_value) + "]",
                      describe(value));
  }
  return static_cast<int64_t>(d);
}

double number(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg) {
  Napi::Value value = info[index];
  if (!value.IsNumber()) throw_type_error(info.Env(), op, arg, "a number", describe(value));
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw_range_error(info.Env(), op, arg, "a finite number", describe(value));
  return d;
}

bool boolean(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg) {
  Napi::Value value = info[index];
  if (!value.IsBoolean()) throw_type_error(info.Env(), op, arg, "a boolean", describe(value));
  return value.As<Napi::Boolean>().Value();
}

std::vector<int64_t> int_list(const Napi::CallbackInfo& info, size_t index, const char* op,
                              const char* arg, int64_t min_value, int64_t max_value,
                              size_t max_rank) {
  Napi::Env env = info.Env();
  Napi::Value value = info[index];
  if (!value.IsArray()) throw_type_error(env, op, arg, "an array of integers", describe(value));
  auto array = value.As<Napi::Array>();
  if (array.Length() > max_rank) {
    throw_range_error(env, op, arg, "at most " + std::to_string(max_rank) + " entries",
                      std::to_string(array.Length()) + " entries");
  }
  std::vector<int64_t> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    const std::string name = std::string(arg) + "[" + std::to_string(i) + "]";
    if (!item.IsNumber()) throw_type_error(env, op, name, "an integer", describe(item));
    const double d = item.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(min_value) ||
        d > static_cast<double>(max_value)) {
      throw_range_error(env, op, name,
                        "an integer in [" + std::to_string(min_value) + ", " +
                            std::to_string(max_value) + "]",
                        describe(item));
    }
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

std::vector<int64_t> int_list_of(const Napi::CallbackInfo& info, size_t index, const char* op,
                                 const char* arg, size_t count, const std::string& expected,
                                 int64_t min_value, int64_t max_value) {
  auto v = int_list(info, index, op, arg, min_value, max_value, count);
  if (v.size() != count) {
    throw_range_error(info.Env(), op, arg, expected, std::to_string(v.size()) + " entries");
  }
  return v;
}

void snapshot_if_shared(const Napi::CallbackInfo& info, size_t index, ArrayView<int32_t>& view,
                        std::vector<int32_t>& storage) {
  if (view.length == 0 || info[index].As<Napi::TypedArray>().ArrayBuffer().IsArrayBuffer()) return;
  storage.assign(view.data, view.data + view.length);
  view.data = storage.data();
}

int64_t checked_numel(Napi::Env env, const char* op, const char* arg,
                      const std::vector<int64_t>& dims) {
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw_range_error(env, op, arg, "non-negative dimensions", std::to_string(d));
    if (d != 0 && n > kMaxElements / d) {
      throw_range_error(env, op, arg, "at most 2^40 elements", "a larger shape");
    }
    n *= d;
  }
  return n;
}

double number_in_range(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg,
                       double lo, double hi, bool hi_inclusive) {
  const double v = number(info, index, op, arg);
  if (v < lo || (hi_inclusive ? v > hi : v >= hi)) {
    // %g keeps bounds readable: an "unbounded" 1e300 prints as 1e+300, not 300 digits.
    char bounds[96];
    std::snprintf(bounds, sizeof(bounds), "a number in [%g, %g%s", lo, hi, hi_inclusive ? "]" : ")");
    throw_range_error(info.Env(), op, arg, bounds, describe(info[index]));
  }
  return v;
}

void check_strided_length(Napi::Env env, const char* op, const char* arg, int64_t length,
                          const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  // Largest element offset reachable, + 1 (0 for an empty shape).
  int64_t needed = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) {
      needed = 0;
      break;
    }
    needed += (shape[d] - 1) * strides[d];
  }
  if (length < needed) {
    throw_range_error(env, op, arg, "at least " + std::to_string(needed) + " elements", std::to_string(length));
  }
}

}  // namespace hn::bindings
