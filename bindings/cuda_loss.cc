// CUDA twins of the loss bindings (loss.cc, multi_loss.cc) under exports.cuda, with the CPU names
// and argument lists and device buffer handles in place of typed arrays (see cuda_ops.cc). The
// forwards wait for the device: their totals come back to JS; crossEntropy and nllLoss first
// copy the labels back and check them on the host, as the CPU bindings do, so a bad label is a
// RangeError naming its index (the kernels never index with one in any case).
#ifdef HN_WITH_CUDA
#include <napi.h>

#include <string>
#include <vector>

#include "../native/cuda/allocator.h"
#include "../native/cuda/loss.h"
#include "../native/cuda/multi_loss.h"
#include "args.h"
#include "loss_args.h"
#include "cuda_common.h"
#include "registry.h"

namespace hn::bindings::cuda {
namespace {

// The (input, target, weight|null) buffers that crossEntropy's bindings and nllLossForward start with.
struct ClassBuffers {
  float* input;
  int32_t* target;
  float* weight;
};

ClassBuffers class_buffers(DeviceArgs& args, const ClassDims& d) {
  return {args.floats(0, "input", d.N * d.C * d.S), args.ints(1, "target", d.N * d.S), args.optional_floats(2, "weight", d.C)};
}

// What the crossEntropy and nllLoss forwards share: copy the N * S labels back (waits for the
// device) and throw a RangeError at the first one that is neither a class in [0, C) nor
// ignoreIndex, with the CPU binding's message; then run `forward`, which writes {loss sum, weight
// sum} to device memory, and return them as {loss, weight}.
template <typename Fn>
Napi::Value class_loss_totals(const Napi::CallbackInfo& info, DeviceArgs& args, const char* op, const ClassArgs& c,
                              const int32_t* target, Fn forward) {
  Napi::Env env = info.Env();
  double totals[2] = {0.0, 0.0};
  run_cuda(env, op, [&] {
    const auto stream = args.stream();
    std::vector<int32_t> labels(static_cast<size_t>(c.d.N * c.d.S));
    hn::cuda::copy_device_to_host(labels.data(), target, labels.size() * 4, stream);
    for (size_t i = 0; i < labels.size(); ++i) {
      const int32_t t = labels[i];
      if (t != c.ignore && (t < 0 || t >= c.d.C)) {
        throw_range_error(env, op, "target[" + std::to_string(i) + "] (flat index)",
                          "a class index in [0, " + std::to_string(c.d.C) + ") or ignoreIndex " + std::to_string(c.ignore),
                          std::to_string(t));
      }
    }
    hn::cuda::DeviceBuffer device_totals(sizeof(double) * 2, args.device());
    forward(device_totals.as<double>(), stream);
    hn::cuda::copy_device_to_host(totals, device_totals.as<double>(), sizeof(totals), stream);
  });
  Napi::Object out = Napi::Object::New(env);
  out.Set("loss", totals[0]);
  out.Set("weight", totals[1]);
  return out;
}

// (logits, target, weight|null, [N, C, S], ignoreIndex, labelSmoothing, lse, rowLoss) -> {loss, weight}
Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropy";
  const ClassArgs c = class_args(info, 3, op);
  const auto smoothing = static_cast<float>(label_smoothing(info, 5, op));
  DeviceArgs args(info, op);
  const ClassBuffers b = class_buffers(args, c.d);
  float* lse = args.floats(6, "lse", c.d.N * c.d.S);
  float* row_loss = args.floats(7, "rowLoss", c.d.N * c.d.S);
  return class_loss_totals(info, args, op, c, b.target, [&](double* totals, hn::cuda::Stream stream) {
    hn::cuda::cross_entropy_forward(b.input, b.target, b.weight, c.d.N, c.d.C, c.d.S, c.ignore, smoothing, lse, row_loss,
                                    totals, stream);
  });
}

// (logits, target, weight|null, lse, gradRow|null, gradScale, [N, C, S], ignoreIndex, labelSmoothing, gradLogits)
// A label outside [0, C) is treated as ignored by the kernel (never indexed).
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropyBackward";
  const ClassArgs c = class_args(info, 6, op);
  const auto smoothing = static_cast<float>(label_smoothing(info, 8, op));
  const auto scale = static_cast<float>(any_number(info, 5, op, "gradScale"));
  DeviceArgs args(info, op);
  const ClassBuffers b = class_buffers(args, c.d);
  float* lse = args.floats(3, "lse", c.d.N * c.d.S);
  float* grad_row = args.optional_floats(4, "gradOutput", c.d.N * c.d.S);
  float* grad = args.floats(9, "gradInput", c.d.N * c.d.C * c.d.S);
  run_cuda(info.Env(), op, [&] {
    hn::cuda::cross_entropy_backward(b.input, b.target, b.weight, lse, grad_row, scale, nullptr, nullptr, c.d.N, c.d.C, c.d.S,
                                     c.ignore, smoothing, grad, args.stream());
  });
  return info.Env().Undefined();
}

// (logProbs, target, weight|null, [N, C, S], ignoreIndex, rowLoss) -> {loss, weight}
Napi::Value NllLossForward(const Napi::CallbackInfo& info) {
  const char* op = "nllLoss";
  const ClassArgs c = class_args(info, 3, op);
  DeviceArgs args(info, op);
  const ClassBuffers b = class_buffers(args, c.d);
  float* row_loss = args.floats(5, "rowLoss", c.d.N * c.d.S);
  return class_loss_totals(info, args, op, c, b.target, [&](double* totals, hn::cuda::Stream stream) {
    hn::cuda::nll_loss_forward(b.input, b.target, b.weight, c.d.N, c.d.C, c.d.S, c.ignore, row_loss, totals, stream);
  });
}

// (target, weight|null, gradRow|null, gradScale, [N, C, S], ignoreIndex, gradLogProbs)
// A label outside [0, C) gets no gradient (never indexed).
Napi::Value NllLossBackward(const Napi::CallbackInfo& info) {
  const char* op = "nllLossBackward";
  const ClassArgs c = class_args(info, 4, op);
  const auto scale = static_cast<float>(any_number(info, 3, op, "gradScale"));
  DeviceArgs args(info, op);
  int32_t* target = args.ints(0, "target", c.d.N * c.d.S);
  float* weight = args.optional_floats(1, "weight", c.d.C);
  float* grad_row = args.optional_floats(2, "gradOutput", c.d.N * c.d.S);
  float* grad = args.floats(6, "gradInput", c.d.N * c.d.C * c.d.S);
  run_cuda(info.Env(), op, [&] {
    hn::cuda::nll_loss_backward(target, weight, grad_row, scale, nullptr, nullptr, c.d.N, c.d.C, c.d.S, c.ignore, grad,
                                args.stream());
  });
  return info.Env().Undefined();
}

// ---- Point-wise losses: (kind, input, target, weight|null, posWeight|null, beta, ...) -----------------

double beta_value(const Napi::CallbackInfo& info, size_t index, const char* op) {
  const double beta = number(info, index, op, "beta");
  if (beta < 0.0) throw_range_error(info.Env(), op, "beta", "a non-negative number", std::to_string(beta));
  return beta;
}

// What both point-wise bindings start with: (kind, input, target, weight|null, posWeight|null,
// beta), every array of input's length n.
struct PointwiseArgs {
  hn::cpu::PointwiseLoss kind;
  int64_t n;
  float *input, *target, *weight, *pos_weight;
  float beta;
};

PointwiseArgs pointwise_args(const Napi::CallbackInfo& info, DeviceArgs& args, const char* op) {
  PointwiseArgs a;
  a.kind = static_cast<hn::cpu::PointwiseLoss>(integer(info, 0, op, "kind", 0, 4));
  a.n = args.length(1, "input");
  a.input = args.floats(1, "input");
  a.target = args.floats(2, "target", a.n);
  a.weight = args.optional_floats(3, "weight", a.n);
  a.pos_weight = args.optional_floats(4, "posWeight", a.n);
  a.beta = static_cast<float>(beta_value(info, 5, op));
  return a;
}

// (kind, input, target, weight|null, posWeight|null, beta, output|null) -> sum of the element losses.
// Waits for the device: the sum comes back to JS.
Napi::Value PointwiseLossForward(const Napi::CallbackInfo& info) {
  const char* op = "pointwiseLoss";
  DeviceArgs args(info, op);
  const PointwiseArgs a = pointwise_args(info, args, op);
  float* out = args.optional_floats(6, "output", a.n);
  double sum = 0.0;
  run_cuda(info.Env(), op, [&] {
    const auto stream = args.stream();
    hn::cuda::DeviceBuffer device_sum(sizeof(double), args.device());
    hn::cuda::pointwise_loss_forward(a.kind, a.input, a.target, a.weight, a.pos_weight, a.n, a.beta, out,
                                     device_sum.as<double>(), stream);
    hn::cuda::copy_device_to_host(&sum, device_sum.as<double>(), sizeof(double), stream);
  });
  return Napi::Number::New(info.Env(), sum);
}

// (kind, input, target, weight|null, posWeight|null, beta, gradOutput|null, gradScale, gradInput|null,
//  gradTarget|null)
Napi::Value PointwiseLossBackward(const Napi::CallbackInfo& info) {
  const char* op = "pointwiseLossBackward";
  DeviceArgs args(info, op);
  const PointwiseArgs a = pointwise_args(info, args, op);
  float* grad_out = args.optional_floats(6, "gradOutput", a.n);
  const auto scale = static_cast<float>(any_number(info, 7, op, "gradScale"));
  float* grad_input = args.optional_floats(8, "gradInput", a.n);
  float* grad_target = args.optional_floats(9, "gradTarget", a.n);
  run_cuda(info.Env(), op, [&] {
    hn::cuda::pointwise_loss_backward(a.kind, a.input, a.target, a.weight, a.pos_weight, a.n, a.beta, grad_out, scale, nullptr,
                                      grad_input, grad_target, args.stream());
  });
  return info.Env().Undefined();
}

// ---- Fused multi-task loss: the task objects of bindings/multi_loss.cc, device buffers in them ---

int64_t task_int(Napi::Env env, Napi::Object task, const char* key, const std::string& who, int64_t lo, int64_t hi) {
  Napi::Value v = task.Get(key);
  if (!v.IsNumber()) throw_type_error(env, "multiTaskLoss", who + "." + key, "an integer", describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw_range_error(env, "multiTaskLoss", who + "." + key, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
                      describe(v));
  }
  return static_cast<int64_t>(d);
}

// [{name, kind, reduction, n, c, s, output, labels | target, mask | null, ignoreIndex, weight,
//   grad | null}] -> [{loss, count}]. Waits for the device once: the losses come back to JS.
Napi::Value MultiTaskLoss(const Napi::CallbackInfo& info) {
  const char* op = "multiTaskLoss";
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw_type_error(env, op, "tasks", "an array of task objects", describe(info[0]));
  auto list = info[0].As<Napi::Array>();
  constexpr uint32_t kMaxTasks = 1 << 16;
  if (list.Length() > kMaxTasks) throw_range_error(env, op, "tasks", "at most " + std::to_string(kMaxTasks) + " tasks", std::to_string(list.Length()));
  std::vector<hn::cuda::TaskLoss> tasks(list.Length());
  std::vector<std::string> names(list.Length());
  std::vector<std::pair<DeviceBlock*, std::string>> borrowed;
  int device = -1;
  // A device buffer field of a task: dtype, length, one device for all.
  auto field = [&](Napi::Object task, const char* key, const std::string& who, int64_t expected, bool optional,
                   bool is_int) -> void* {
    Napi::Value v = task.Get(key);
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    const std::string arg = who + "." + key;
    DeviceBlock* b = block_value(env, v, op, arg);
    if (b->freed) throw_type_error(env, op, arg, "a live CUDA tensor", "a disposed one");
    if (b->is_int != is_int) throw_type_error(env, op, arg, is_int ? "an int32 CUDA buffer" : "a float32 CUDA buffer", "another dtype");
    if (b->length != expected) throw_range_error(env, op, arg, std::to_string(expected) + " elements", std::to_string(b->length));
    if (device < 0) device = b->device;
    if (b->device != device) throw_range_error(env, op, arg, "a buffer on cuda:" + std::to_string(device), "one on cuda:" + std::to_string(b->device));
    borrowed.emplace_back(b, arg);
    return b->ptr;
  };
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value item = list.Get(i);
    if (!item.IsObject()) throw_type_error(env, op, "tasks[" + std::to_string(i) + "]", "a task object", describe(item));
    Napi::Object task = item.As<Napi::Object>();
    Napi::Value name = task.Get("name");
    names[i] = name.IsString() ? name.As<Napi::String>().Utf8Value() : std::to_string(i);
    const std::string who = "task '" + names[i] + "'";
    hn::cuda::TaskLoss& t = tasks[i];
    t.kind = static_cast<hn::cpu::LossKind>(task_int(env, task, "kind", who, 0, 3));
    t.reduction = static_cast<hn::cpu::LossReduction>(task_int(env, task, "reduction", who, 0, 1));
    t.N = task_int(env, task, "n", who, 0, INT32_MAX);
    t.C = task_int(env, task, "c", who, 1, INT32_MAX);
    t.S = task_int(env, task, "s", who, 1, INT32_MAX);
    const int64_t out_n = checked_numel(env, op, (who + " sizes [n, c, s]").c_str(), {t.N, t.C, t.S});
    t.output = static_cast<const float*>(field(task, "output", who, out_n, false, false));
    if (t.kind == hn::cpu::LossKind::CrossEntropy) {
      t.labels = static_cast<const int32_t*>(field(task, "labels", who, t.N * t.S, false, true));
      t.ignore_index = static_cast<int32_t>(task_int(env, task, "ignoreIndex", who, INT32_MIN, INT32_MAX));
    } else {
      if (t.C != 1) throw_range_error(env, op, who + ".c", "1 for a regression loss", std::to_string(t.C));
      t.target = static_cast<const float*>(field(task, "target", who, out_n, false, false));
    }
    t.sample_mask = static_cast<const float*>(field(task, "mask", who, t.N, true, false));
    t.grad = static_cast<float*>(field(task, "grad", who, out_n, true, false));
    Napi::Value weight = task.Get("weight");
    if (!weight.IsNumber()) throw_type_error(env, op, who + ".weight", "a number", describe(weight));
    t.weight = static_cast<float>(weight.As<Napi::Number>().DoubleValue());
  }
  // A getter of a later field could have disposed a buffer read before it.
  for (const auto& [block, arg] : borrowed) {
    if (block->freed) throw_type_error(env, op, arg, "a buffer that stays live while the tasks are read", "one disposed by a getter");
  }
  std::vector<int32_t> bad_values(tasks.size(), 0);
  run_cuda(env, op, [&] {
    hn::cuda::set_device(device < 0 ? 0 : device);
    const auto stream = hn::cuda::stream(device < 0 ? 0 : device);
    hn::cuda::multi_loss_forward_backward(tasks.data(), static_cast<int>(tasks.size()), stream);
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (tasks[i].bad_label_at >= 0) {
        hn::cuda::copy_device_to_host(&bad_values[i], tasks[i].labels + tasks[i].bad_label_at, sizeof(int32_t), stream);
      }
    }
  });
  Napi::Array out = Napi::Array::New(env, tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto& t = tasks[i];
    if (t.bad_label_at >= 0) {
      throw_range_error(env, op, "task '" + names[i] + "' targets",
                        "class indices in [0, " + std::to_string(t.C) + ") or ignoreIndex " + std::to_string(t.ignore_index),
                        std::to_string(bad_values[i]) + " at flat position " + std::to_string(t.bad_label_at));
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("loss", t.loss);
    r.Set("count", static_cast<double>(t.count));
    out.Set(static_cast<uint32_t>(i), r);
  }
  return out;
}

void Register(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = cuda_table(env, exports);
  export_function<CrossEntropyForward>(env, cuda, "crossEntropyForward");
  export_function<CrossEntropyBackward>(env, cuda, "crossEntropyBackward");
  export_function<NllLossForward>(env, cuda, "nllLossForward");
  export_function<NllLossBackward>(env, cuda, "nllLossBackward");
  export_function<PointwiseLossForward>(env, cuda, "pointwiseLossForward");
  export_function<PointwiseLossBackward>(env, cuda, "pointwiseLossBackward");
  export_function<MultiTaskLoss>(env, cuda, "multiTaskLoss");
}

}  // namespace
HN_REGISTER_BINDINGS(Register);
}  // namespace hn::bindings::cuda
#endif  // HN_WITH_CUDA
