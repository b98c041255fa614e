// Binding for the fused multi-task loss (native/cpu/multi_loss.h).
#include <napi.h>

#include <string>
#include <vector>

#include "../native/cpu/multi_loss.h"
#include "args.h"
#include "registry.h"

namespace hn::bindings {
namespace {

using hn::cpu::LossKind;
using hn::cpu::TaskLoss;

// An array read from a task object, kept so that it can be checked again once every field has
// been read: a field's getter is JS code that could dispose (detach) or shrink an array read
// before it, leaving the kernel a dangling pointer.
struct Borrowed {
  Napi::TypedArray array;
  size_t length;
  std::string who;
};

template <typename T, napi_typedarray_type kType>
ArrayView<T> field_array(Napi::Env env, Napi::Object task, const char* key, const std::string& who,
                         int64_t expected, bool optional, const char* type_name,
                         std::vector<Borrowed>& borrowed) {
  Napi::Value value = task.Get(key);
  if (optional && (value.IsNull() || value.IsUndefined())) return {};
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != kType) {
    throw_type_error(env, "multiTaskLoss", who + "." + key, std::string("a ") + type_name, describe(value));
  }
  auto array = value.As<Napi::TypedArrayOf<T>>();
  if (array.ArrayBuffer().IsDetached()) {
    throw_type_error(env, "multiTaskLoss", who + "." + key, "a live array", "a disposed tensor");
  }
  if (static_cast<int64_t>(array.ElementLength()) != expected) {
    throw_range_error(env, "multiTaskLoss", who + "." + key, std::to_string(expected) + " elements",
                      std::to_string(array.ElementLength()) + " elements");
  }
  borrowed.push_back({array, array.ElementLength(), who + "." + key});
  return {array.Data(), array.ElementLength()};
}

int64_t field_int(Napi::Env env, Napi::Object task, const char* key, const std::string& who,
                  int64_t min_value, int64_t max_value) {
  Napi::Value value = task.Get(key);
  if (!value.IsNumber()) throw_type_error(env, "multiTaskLoss", who + "." + key, "an integer", describe(value));
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min_value) && d <= static_cast<double>(max_value)) || d != static_cast<double>(static_cast<int64_t>(d))) {
    throw_range_error(env, "multiTaskLoss", who + "." + key,
                      "an integer in [" + std::to_string(min_value) + ", " + std::to_string(max_value) + "]", describe(value));
  }
  return static_cast<int64_t>(d);
}

// tasks: [{name, kind, reduction, n, c, s, output, labels?, target?, mask?, ignoreIndex, weight, grad?}]
// Returns [{loss, count}] in the same order.
Napi::Value MultiTaskLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw_type_error(env, "multiTaskLoss", "tasks", "an array of task objects", describe(info[0]));
  auto list = info[0].As<Napi::Array>();
  // The length of a JS array is not its size in memory (a sparse array may claim 2^32 - 1).
  constexpr uint32_t kMaxTasks = 1 << 16;
  if (list.Length() > kMaxTasks) {
    throw_range_error(env, "multiTaskLoss", "tasks", "at most " + std::to_string(kMaxTasks) + " tasks",
                      std::to_string(list.Length()) + " entries");
  }
  std::vector<Borrowed> borrowed;
  std::vector<TaskLoss> tasks(list.Length());
  std::vector<std::string> names(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) throw_type_error(env, "multiTaskLoss", "tasks[" + std::to_string(i) + "]", "an object", describe(item));
    Napi::Object task = item.As<Napi::Object>();
    Napi::Value name = task.Get("name");
    names[i] = name.IsString() ? name.As<Napi::String>().Utf8Value() : "tasks[" + std::to_string(i) + "]";
    const std::string who = "task '" + names[i] + "'";
    TaskLoss& t = tasks[i];
    t.kind = static_cast<LossKind>(field_int(env, task, "kind", who, 0, 3));
    t.reduction = static_cast<hn::cpu::LossReduction>(field_int(env, task, "reduction", who, 0, 1));
    t.N = field_int(env, task, "n", who, 0, INT32_MAX);
    t.C = field_int(env, task, "c", who, 1, INT32_MAX);
    t.S = field_int(env, task, "s", who, 1, INT32_MAX);
    // Checked before multiplying: N * C * S of three int32 values can overflow int64.
    const int64_t out_n = checked_numel(env, "multiTaskLoss", (who + " sizes [n, c, s]").c_str(), {t.N, t.C, t.S});
    t.output = field_array<float, napi_float32_array>(env, task, "output", who, out_n, false, "Float32Array", borrowed).data;
    if (t.kind == LossKind::CrossEntropy) {
      t.labels = field_array<int32_t, napi_int32_array>(env, task, "labels", who, t.N * t.S, false, "Int32Array", borrowed).data;
      t.ignore_index = static_cast<int32_t>(field_int(env, task, "ignoreIndex", who, INT32_MIN, INT32_MAX));
    } else {
      if (t.C != 1) throw_range_error(env, "multiTaskLoss", who + ".c", "1 for a regression loss", std::to_string(t.C));
      t.target = field_array<float, napi_float32_array>(env, task, "target", who, out_n, false, "Float32Array", borrowed).data;
    }
    t.sample_mask = field_array<float, napi_float32_array>(env, task, "mask", who, t.N, true, "Float32Array", borrowed).data;
    t.grad = field_array<float, napi_float32_array>(env, task, "grad", who, out_n, true, "Float32Array", borrowed).data;
    Napi::Value weight = task.Get("weight");
    if (!weight.IsNumber()) throw_type_error(env, "multiTaskLoss", who + ".weight", "a number", describe(weight));
    t.weight = static_cast<float>(weight.As<Napi::Number>().DoubleValue());
  }
  for (const Borrowed& b : borrowed) {
    if (b.array.ArrayBuffer().IsDetached() || b.array.ElementLength() != b.length) {
      throw_type_error(env, "multiTaskLoss", b.who, "an array that stays live while the tasks are read",
                       "one disposed or resized by a getter of a later field");
    }
  }
  hn::cpu::multi_loss_forward_backward(tasks.data(), static_cast<int>(tasks.size()));
  Napi::Array out = Napi::Array::New(env, tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    const TaskLoss& t = tasks[i];
    if (t.bad_label_at >= 0) {
      const int64_t pos = t.bad_label_at;
      throw_range_error(env, "multiTaskLoss", "task '" + names[i] + "' targets",
                        "class indices in [0, " + std::to_string(t.C) + ") or ignoreIndex " + std::to_string(t.ignore_index),
                        std::to_string(t.labels[pos]) + " at flat position " + std::to_string(pos));
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("loss", t.loss);
    r.Set("count", static_cast<double>(t.count));
    out.Set(static_cast<uint32_t>(i), r);
  }
  return out;
}

void Register(Napi::Env env, Napi::Object exports) {
  export_function<MultiTaskLoss>(env, exports, "multiTaskLoss");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings
