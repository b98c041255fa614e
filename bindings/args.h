// Argument checks shared by every binding. TypeScript validates first with friendlier messages;
// these checks exist so that no caller can crash the process. Each throws a JS error naming the
// op, the argument, what was expected and what was received.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace hn::bindings {

template <typename T>
struct ArrayView {
  T* data = nullptr;
  size_t length = 0;
};

[[noreturn]] void throw_type_error(Napi::Env env, const std::string& op, const std::string& arg,
                                   const std::string& expected, const std::string& actual);
[[noreturn]] void throw_range_error(Napi::Env env, const std::string& op, const std::string& arg,
                                    const std::string& expected, const std::string& actual);

// Describes a JS value for error messages ("Float32Array(12)", "number 3.5", "undefined").
std::string describe(const Napi::Value& value);

// A Float32Array (or Int32Array) argument that is not detached. `expected_length` < 0 skips
// the length check.
ArrayView<float> float_array(const Napi::CallbackInfo& info, size_t index, const char* op,
                             const char* arg, int64_t expected_length = -1);
ArrayView<int32_t> int_array(const Napi::CallbackInfo& info, size_t index, const char* op,
                             const char* arg, int64_t expected_length = -1);
// As float_array, but null/undefined gives an empty view (optional bias, mask, ...).
ArrayView<float> optional_float_array(const Napi::CallbackInfo& info, size_t index,
                                      const char* op, const char* arg,
                                      int64_t expected_length = -1);
ArrayView<int32_t> optional_int_array(const Napi::CallbackInfo& info, size_t index,
                                      const char* op, const char* arg,
                                      int64_t expected_length = -1);

// An integral number in [min_value, max_value].
int64_t integer(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg,
                int64_t min_value, int64_t max_value = INT32_MAX);
// A finite number.
double number(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg);
bool boolean(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg);
// An array of integers (a shape), each in [min_value, max_value]; rank in [0, max_rank].
std::vector<int64_t> int_list(const Napi::CallbackInfo& info, size_t index, const char* op,
                              const char* arg, int64_t min_value, int64_t max_value = INT32_MAX,
                              size_t max_rank = 8);
// Exactly `count` integers in [min_value, max_value]; a list of another length is a RangeError
// that says `expected` ("3 entries [N, C, HW]", "a pair of integers") and the length given.
std::vector<int64_t> int_list_of(const Napi::CallbackInfo& info, size_t index, const char* op,
                                 const char* arg, size_t count, const std::string& expected,
                                 int64_t min_value = 0, int64_t max_value = INT32_MAX);

// Index arrays (class targets, pooling indices) are validated and then used to address memory.
// When one lives in a SharedArrayBuffer, another thread could change it between the check and
// the kernel; such an array is copied into `storage` and `view` pointed at the copy.
void snapshot_if_shared(const Napi::CallbackInfo& info, size_t index, ArrayView<int32_t>& view,
                        std::vector<int32_t>& storage);

// A number in [lo, hi] (or [lo, hi) when !hi_inclusive).
double number_in_range(const Napi::CallbackInfo& info, size_t index, const char* op, const char* arg,
                       double lo, double hi, bool hi_inclusive);

// Throws a RangeError unless `length` elements cover every offset reachable over `shape` with
// `strides` (a broadcast operand: stride 0 on its broadcast dims).
void check_strided_length(Napi::Env env, const char* op, const char* arg, int64_t length,
                          const std::vector<int64_t>& shape, const std::vector<int64_t>& strides);

// Product of dims with overflow detection; throws RangeError above 2^40 elements.
int64_t checked_numel(Napi::Env env, const char* op, const char* arg,
                      const std::vector<int64_t>& dims);

}  // namespace hn::bindings
