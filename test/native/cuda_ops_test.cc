// Checks every CUDA kernel (native/cuda/*.h) against its CPU twin (native/cpu/*.h) on random
// inputs, and the caching allocator's bookkeeping.
//
//   cuda_ops_test      exit code 1 on any failure; last line "cuda_ops_test: N passed, N failed,
//                      N skipped". With no CUDA build or no GPU every check is skipped (exit 0).
//
// Error measure: max_i |gpu_i - cpu_i| / max_i |cpu_i| (norm-wise relative error) <= 1e-4 unless
// a check states otherwise; integer outputs (max-pool indices, counts) must match exactly. Every
// device output starts filled with NaN, so an element a kernel forgets to write fails. The TF32
// tensor-core path is checked against the CPU's FP32 at 1e-2 (TF32 keeps 10 mantissa bits: about
// 1e-3 is expected, an indexing error gives O(1)) and its measured error is printed ("TF32 ...").
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../../native/cpu/batchnorm.h"
#include "../../native/cpu/conv.h"
#include "../../native/cpu/elementwise.h"
#include "../../native/cpu/gemm.h"
#include "../../native/cpu/loss.h"
#include "../../native/cpu/multi_loss.h"
#include "../../native/cpu/optim.h"
#include "../../native/cpu/pool.h"
#include "../../native/cpu/softmax.h"

#ifdef HN_WITH_CUDA
#include "../../native/cuda/allocator.h"
#include "../../native/cuda/batchnorm.h"
#include "../../native/cuda/conv.h"
#include "../../native/cuda/copy.h"
#include "../../native/cuda/elementwise.h"
#include "../../native/cuda/gemm.h"
#include "../../native/cuda/loss.h"
#include "../../native/cuda/multi_loss.h"
#include "../../native/cuda/optim.h"
#include "../../native/cuda/pool.h"
#include "../../native/cuda/runtime.h"
#include "../../native/cuda/softmax.h"
#endif

namespace {

// The checks, by name; main() runs or skips them all.
std::vector<std::pair<std::string, std::function<void()>>>& checks() {
  static std::vector<std::pair<std::string, std::function<void()>>> list;
  return list;
}
int g_passed = 0, g_failed = 0;

#ifdef HN_WITH_CUDA
namespace cu = hn::cuda;
constexpr double kTolerance = 1e-4;
cu::Stream g_stream = nullptr;
std::mt19937 g_rng(1234);

std::vector<float> random_vector(size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(g_rng);
  return v;
}

std::vector<int32_t> random_labels(size_t n, int classes, int32_t ignore_index = -100, double ignore_rate = 0.0) {
  std::uniform_int_distribution<int> dist(0, classes - 1);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = coin(g_rng) < ignore_rate ? ignore_index : dist(g_rng);
  return v;
}

// Device copy of a host vector; released into the caching allocator at scope end.
template <typename T>
class Device {
 public:
  explicit Device(const std::vector<T>& host) : n_(host.size()) {
    ptr_ = static_cast<T*>(cu::device_malloc(bytes(), cu::current_device()));
    cu::copy_host_to_device(ptr_, host.data(), bytes(), g_stream);
  }
  // n elements filled with NaN (or -7 for integers): outputs a kernel must overwrite.
  explicit Device(size_t n) : Device(std::vector<T>(n, poison())) {}
  ~Device() { cu::device_free(ptr_); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  T* get() const { return ptr_; }
  std::vector<T> host() const {
    std::vector<T> out(n_);
    cu::copy_device_to_host(out.data(), ptr_, bytes(), g_stream);
    return out;
  }

 private:
  static T poison() {
    if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::quiet_NaN();
    return T(-7);
  }
  size_t bytes() const { return n_ * sizeof(T); }
  T* ptr_ = nullptr;
  size_t n_;
};

void report(const std::string& name, bool ok, const std::string& detail) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s: %s\n", name.c_str(), detail.c_str());
  }
}

// Norm-wise relative error, or a negative number when the sizes differ or the GPU has a NaN the CPU lacks.
double relative_error(const std::vector<float>& gpu, const std::vector<float>& cpu) {
  if (gpu.size() != cpu.size()) return -1.0;
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    scale = std::max(scale, static_cast<double>(std::fabs(cpu[i])));
    if (std::isnan(gpu[i]) != std::isnan(cpu[i])) return -1.0;
    if (!std::isnan(cpu[i])) worst = std::max(worst, std::fabs(static_cast<double>(gpu[i]) - cpu[i]));
  }
  return scale > 0 ? worst / scale : worst;
}

void expect_close(const std::string& name, const std::vector<float>& gpu, const std::vector<float>& cpu,
                  double tolerance = kTolerance) {
  if (gpu.size() != cpu.size()) return report(name, false, "size mismatch");
  double worst = 0.0, scale = 0.0;
  size_t at = 0;
  bool nan = false;
  for (size_t i = 0; i < cpu.size(); ++i) {
    scale = std::max(scale, static_cast<double>(std::fabs(cpu[i])));
    if (std::isnan(gpu[i]) != std::isnan(cpu[i])) nan = true;
    if (std::isnan(cpu[i])) continue;
    const double d = std::fabs(static_cast<double>(gpu[i]) - cpu[i]);
    if (d > worst || std::isnan(d)) worst = d, at = i;
  }
  const double rel = scale > 0 ? worst / scale : worst;
  char detail[256];
  std::snprintf(detail, sizeof(detail), "relative error %.3g (max |diff| %.3g at %zu: gpu %.7g cpu %.7g; scale %.3g)%s",
                rel, worst, at, cpu.empty() ? 0.0 : gpu[at], cpu.empty() ? 0.0 : cpu[at], scale,
                nan ? "; NaN where the CPU has none (or unwritten output)" : "");
  report(name, !nan && rel <= tolerance, detail);
}

template <typename T>
void expect_equal(const std::string& name, const std::vector<T>& gpu, const std::vector<T>& cpu) {
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (gpu[i] != cpu[i]) {
      return report(name, false, "differs at " + std::to_string(i) + ": gpu " + std::to_string(gpu[i]) +
                                     " cpu " + std::to_string(cpu[i]));
    }
  }
  report(name, gpu.size() == cpu.size(), "size mismatch");
}

void expect_scalar(const std::string& name, double gpu, double cpu, double tolerance = kTolerance) {
  const double rel = std::fabs(gpu - cpu) / std::max(std::fabs(cpu), 1e-30);
  report(name, rel <= tolerance || gpu == cpu, "gpu " + std::to_string(gpu) + " cpu " + std::to_string(cpu));
}

#define HN_CHECK(name) \
  void name();         \
  const bool name##_registered = (checks().emplace_back(#name, name), true); \
  void name()

// ---- SGEMM ------------------------------------------------------------------------------------

void gemm_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int64_t pad,
               double tolerance = kTolerance) {
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const auto A = random_vector((ta ? K : M) * lda), B = random_vector((tb ? N : K) * ldb);
  auto C = random_vector(M * ldc);
  Device<float> dA(A), dB(B), dC(C);
  hn::cpu::sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  cu::sgemm(ta, tb, M, N, K, alpha, dA.get(), lda, dB.get(), ldb, beta, dC.get(), ldc, g_stream);
  char name[128];
  std::snprintf(name, sizeof(name), "%ssgemm ta=%d tb=%d %lldx%lldx%lld alpha=%g beta=%g pad=%lld",
                cu::allow_tf32() ? "TF32 " : "", ta, tb, static_cast<long long>(M), static_cast<long long>(N),
                static_cast<long long>(K), alpha, beta, static_cast<long long>(pad));
  const auto gpu = dC.host();
  if (cu::allow_tf32()) std::printf("%s: relative error %.3g vs FP32 CPU\n", name, relative_error(gpu, C));
  expect_close(name, gpu, C, tolerance);
}

HN_CHECK(sgemm_shapes) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      gemm_case(ta, tb, 67, 45, 33, 1.0f, 0.0f, 0);
      gemm_case(ta, tb, 130, 257, 129, 0.5f, 1.0f, 3);
      gemm_case(ta, tb, 16, 10, 8192, 1.0f, 0.0f, 0);  // split K
      gemm_case(ta, tb, 1, 1, 1, 2.0f, -1.0f, 0);
    }
  gemm_case(false, false, 512, 512, 512, 1.0f, 0.0f, 0);
  gemm_case(false, false, 64, 10, 8192, 1.0f, 0.0f, 0);  // K7's linear 8192 -> 10, B = 64
  gemm_case(false, true, 33, 17, 0, 1.0f, 0.5f, 0);      // K = 0: C = beta C
  gemm_case(false, false, 2304, 2304, 64, 1.0f, 0.0f, 0);  // enough tiles for the 128 x 128 kernel
  gemm_case(true, true, 2304, 2400, 40, 1.0f, 0.5f, 1);
}

// Batched: every matrix against the CPU sgemm on its slice; strides leave gaps between matrices
// (and C's gaps must stay untouched: they start as NaN and are compared too).
void batched_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t batch, int64_t gap) {
  const int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
  const int64_t sa = (ta ? K : M) * lda + gap, sb = (tb ? N : K) * ldb + gap, sc = M * ldc + gap;
  const auto A = random_vector(batch * sa), B = random_vector(batch * sb);
  std::vector<float> C(batch * sc, std::numeric_limits<float>::quiet_NaN());
  Device<float> dA(A), dB(B), dC(C);
  for (int64_t i = 0; i < batch; ++i) {
    hn::cpu::sgemm(ta, tb, M, N, K, 1.5f, A.data() + i * sa, lda, B.data() + i * sb, ldb, 0.0f, C.data() + i * sc, ldc);
  }
  cu::sgemm_strided_batched(ta, tb, M, N, K, 1.5f, dA.get(), lda, sa, dB.get(), ldb, sb, 0.0f, dC.get(), ldc, sc, batch,
                            g_stream);
  char name[128];
  std::snprintf(name, sizeof(name), "%ssgemm_strided_batched ta=%d tb=%d %lldx%lldx%lld batch=%lld", cu::allow_tf32() ? "TF32 " : "",
                ta, tb, static_cast<long long>(M), static_cast<long long>(N), static_cast<long long>(K),
                static_cast<long long>(batch));
  expect_close(name, dC.host(), C, cu::allow_tf32() ? 1e-2 : kTolerance);
}

HN_CHECK(sgemm_batched) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) batched_case(ta, tb, 37, 29, 45, 3, 5);
  batched_case(false, false, 130, 70, 300, 4, 0);
  batched_case(false, true, 2, 3, 4, 70000, 1);  // more matrices than one launch's grid holds (65535)
  batched_case(true, false, 5, 4, 0, 2, 3);      // K = 0: C = 0
}

// ---- Block copy (concat) -------------------------------------------------------------------------

HN_CHECK(copy_blocks) {
  const int64_t rows = 37, cols = 53, src_ld = 61, dst_ld = 130, src_off = 7, dst_off = 11;
  const auto src = random_vector(src_off + rows * src_ld);
  auto dst = random_vector(dst_off + rows * dst_ld);
  Device<float> dsrc(src), ddst(dst);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[dst_off + r * dst_ld + c] = src[src_off + r * src_ld + c];
  cu::copy_2d(ddst.get() + dst_off, dst_ld, dsrc.get() + src_off, src_ld, rows, cols, g_stream);
  expect_equal("copy_2d float32 (the rest of dst untouched)", ddst.host(), dst);
  // int32 and NaN payloads pass as bits.
  std::vector<int32_t> bits = {0x7fa00001, -1, 0, 123456789, INT32_MIN, 0x7f800000};
  Device<int32_t> dbits(bits), dout(bits.size());
  cu::copy_2d(dout.get(), 3, dbits.get(), 3, 2, 3, g_stream);
  expect_equal("copy_2d int32 bits", dout.host(), bits);
  cu::copy_2d(dout.get(), 3, dbits.get(), 3, 0, 3, g_stream);  // nothing to copy: no launch
  expect_equal("copy_2d with no rows", dout.host(), bits);
}

// ---- Convolution --------------------------------------------------------------------------------

hn::cpu::Conv2dParams conv_params(int64_t batch, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t k,
                                  int64_t stride, int64_t pad, int64_t dilation, int64_t groups) {
  hn::cpu::Conv2dParams p;
  p.batch = batch, p.in_channels = cin, p.in_h = h, p.in_w = w, p.out_channels = cout;
  p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = stride, p.pad_h = p.pad_w = pad;
  p.dilation_h = p.dilation_w = dilation, p.groups = groups;
  p.out_h = hn::cpu::conv2d_output_size(h, k, stride, pad, pad, dilation);
  p.out_w = hn::cpu::conv2d_output_size(w, k, stride, pad, pad, dilation);
  return p;
}

void conv_case(const std::string& label, const hn::cpu::Conv2dParams& p, bool transposed, double tolerance = kTolerance) {
  const int64_t xs = p.batch * p.in_channels * p.in_h * p.in_w;
  const int64_t ys = p.batch * p.out_channels * p.out_h * p.out_w;
  const int64_t ws = p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w;
  // Forward input, weight, bias and the output gradient, in the op's own roles.
  const int64_t in_size = transposed ? ys : xs, out_size = transposed ? xs : ys;
  const int64_t bias_size = transposed ? p.in_channels : p.out_channels;
  const auto x = random_vector(in_size), w = random_vector(ws), b = random_vector(bias_size);
  const auto dy = random_vector(out_size);
  std::vector<float> y(out_size), dx(in_size), dw(ws), db(bias_size);
  Device<float> gx(x), gw(w), gb(b), gdy(dy), gy(out_size), gdx(in_size), gdw(ws), gdb(bias_size);
  if (transposed) {
    hn::cpu::conv_transpose2d_forward(p, x.data(), w.data(), b.data(), y.data());
    hn::cpu::conv_transpose2d_backward_data(p, dy.data(), w.data(), dx.data());
    hn::cpu::conv_transpose2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data());
    cu::conv_transpose2d_forward(p, gx.get(), gw.get(), gb.get(), gy.get(), g_stream);
    cu::conv_transpose2d_backward_data(p, gdy.get(), gw.get(), gdx.get(), g_stream);
    cu::conv_transpose2d_backward_weight(p, gx.get(), gdy.get(), gdw.get(), gdb.get(), g_stream);
  } else {
    hn::cpu::conv2d_forward(p, x.data(), w.data(), b.data(), y.data());
    hn::cpu::conv2d_backward_data(p, dy.data(), w.data(), dx.data());
    hn::cpu::conv2d_backward_weight(p, x.data(), dy.data(), dw.data(), db.data());
    cu::conv2d_forward(p, gx.get(), gw.get(), gb.get(), gy.get(), g_stream);
    cu::conv2d_backward_data(p, gdy.get(), gw.get(), gdx.get(), g_stream);
    cu::conv2d_backward_weight(p, gx.get(), gdy.get(), gdw.get(), gdb.get(), g_stream);
  }
  const std::string kind = std::string(cu::allow_tf32() ? "TF32 " : "") + (transposed ? "conv_transpose2d " : "conv2d ");
  const std::pair<std::string, std::pair<std::vector<float>, const std::vector<float>*>> outputs[] = {
      {"forward", {gy.host(), &y}}, {"backward data", {gdx.host(), &dx}}, {"backward weight", {gdw.host(), &dw}}};
  for (const auto& [what, values] : outputs) {
    if (cu::allow_tf32()) {
      std::printf("%s: relative error %.3g vs FP32 CPU\n", (kind + label + " " + what).c_str(),
                  relative_error(values.first, *values.second));
    }
    expect_close(kind + label + " " + what, values.first, *values.second, tolerance);
  }
  expect_close(kind + label + " backward bias", gdb.host(), db);  // a plain sum: FP32 in either mode
}

HN_CHECK(conv2d) {
  conv_case("3->8 k3 p1", conv_params(2, 3, 9, 11, 8, 3, 1, 1, 1, 1), false);
  conv_case("16->32 k3 p1 (K1-like)", conv_params(4, 16, 16, 16, 32, 3, 1, 1, 1, 1), false);
  conv_case("130->70 k3 p1 (two 128-tiles)", conv_params(2, 130, 12, 12, 70, 3, 1, 1, 1, 1), false);
  conv_case("8->8 k3 s2 p1", conv_params(3, 8, 13, 13, 8, 3, 2, 1, 1, 1), false);
  conv_case("6->4 k3 d2 p2", conv_params(2, 6, 10, 9, 4, 3, 1, 2, 2, 1), false);
  conv_case("8->6 k3 groups 2", conv_params(2, 8, 7, 7, 6, 3, 1, 1, 1, 2), false);
  conv_case("4->4 depthwise k5 p2", conv_params(2, 4, 8, 8, 4, 5, 1, 2, 1, 4), false);
  conv_case("32->16 1x1", conv_params(2, 32, 6, 6, 16, 1, 1, 0, 1, 1), false);
  conv_case("5->7 k4 s3 p1", conv_params(2, 5, 14, 11, 7, 4, 3, 1, 1, 1), false);
  conv_case("1->10 k5 (W2)", conv_params(8, 1, 28, 28, 10, 5, 1, 0, 1, 1), false);
  conv_case("64->64 k3 p1 B8 (split-K weight gradient)", conv_params(8, 64, 32, 32, 64, 3, 1, 1, 1, 1), false);
  // Asymmetric 'same' padding: one less row and column out than the padding allows.
  auto p = conv_params(2, 3, 8, 8, 5, 4, 1, 2, 1, 1);
  p.out_h -= 1, p.out_w -= 1;
  conv_case("3->5 k4 asymmetric padding", p, false);
}

// A transposed convolution with input [B, cin, h, w] and output [B, cout, ...]: p describes the
// convolution from its output back to its input.
hn::cpu::Conv2dParams transpose_params(int64_t batch, int64_t cin, int64_t h, int64_t w, int64_t cout,
                                       int64_t k, int64_t stride, int64_t pad, int64_t out_pad,
                                       int64_t dilation, int64_t groups) {
  hn::cpu::Conv2dParams p;
  p.batch = batch, p.out_channels = cin, p.out_h = h, p.out_w = w, p.in_channels = cout;
  p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = stride, p.pad_h = p.pad_w = pad;
  p.dilation_h = p.dilation_w = dilation, p.groups = groups;
  p.in_h = hn::cpu::conv_transpose2d_output_size(h, k, stride, pad, out_pad, dilation);
  p.in_w = hn::cpu::conv_transpose2d_output_size(w, k, stride, pad, out_pad, dilation);
  return p;
}

HN_CHECK(conv_transpose2d) {
  conv_case("16->8 k2 s2 (K4-like)", transpose_params(2, 16, 8, 8, 8, 2, 2, 0, 0, 1, 1), true);
  conv_case("8->4 k4 s2 p1 (K5-like)", transpose_params(2, 8, 16, 16, 4, 4, 2, 1, 0, 1, 1), true);
  conv_case("6->5 k3 s1 p1", transpose_params(2, 6, 7, 9, 5, 3, 1, 1, 0, 1, 1), true);
  conv_case("4->6 k3 s3 p1 out_pad 2 d2", transpose_params(2, 4, 5, 6, 6, 3, 3, 1, 2, 2, 1), true);
  conv_case("6->4 k3 s2 groups 2 out_pad 1", transpose_params(2, 6, 5, 5, 4, 3, 2, 1, 1, 1, 2), true);
  conv_case("3->2 k1 s2 (phases without taps)", transpose_params(2, 3, 5, 5, 2, 1, 2, 0, 1, 1, 1), true);
  conv_case("128->64 k2 s2 B4 (K4 channels)", transpose_params(4, 128, 8, 8, 64, 2, 2, 0, 0, 1, 1), true);
}

// ---- Pooling ------------------------------------------------------------------------------------

void pool_case(const std::string& label, int64_t planes, int64_t h, int64_t w, int64_t k, int64_t s,
               int64_t pad, int64_t dilation, bool ceil_mode, bool count_include_pad, int64_t divisor) {
  hn::cpu::Pool2dShape sh{};
  sh.planes = planes, sh.in_h = h, sh.in_w = w, sh.kernel_h = sh.kernel_w = k, sh.stride_h = sh.stride_w = s;
  sh.pad_h = sh.pad_w = pad, sh.dilation_h = sh.dilation_w = dilation;
  sh.out_h = hn::cpu::pool_output_size(h, k, s, pad, dilation, ceil_mode);
  sh.out_w = hn::cpu::pool_output_size(w, k, s, pad, dilation, ceil_mode);
  const int64_t in = planes * h * w, out = planes * sh.out_h * sh.out_w;
  // Few distinct values: ties exercise the first-maximum rule.
  auto x = random_vector(in);
  for (auto& v : x) v = std::round(v * 4.0f) / 4.0f;
  const auto gy = random_vector(out);
  std::vector<float> y(out), gx(in);
  std::vector<int32_t> idx(out);
  Device<float> dx(x), dgy(gy), dy(out), dgx(in);
  Device<int32_t> didx(out);
  hn::cpu::max_pool2d_forward(x.data(), y.data(), idx.data(), sh);
  hn::cpu::max_pool2d_backward(gy.data(), idx.data(), gx.data(), sh);
  cu::max_pool2d_forward(dx.get(), dy.get(), didx.get(), sh, g_stream);
  cu::max_pool2d_backward(dgy.get(), didx.get(), dgx.get(), sh, g_stream);
  expect_close("max_pool2d " + label + " forward", dy.host(), y);
  expect_equal("max_pool2d " + label + " indices", didx.host(), idx);
  expect_close("max_pool2d " + label + " backward", dgx.host(), gx);
  if (dilation != 1) return;
  hn::cpu::avg_pool2d_forward(x.data(), y.data(), sh, count_include_pad, divisor);
  hn::cpu::avg_pool2d_backward(gy.data(), gx.data(), sh, count_include_pad, divisor);
  cu::avg_pool2d_forward(dx.get(), dy.get(), sh, count_include_pad, divisor, g_stream);
  cu::avg_pool2d_backward(dgy.get(), dgx.get(), sh, count_include_pad, divisor, g_stream);
  expect_close("avg_pool2d " + label + " forward", dy.host(), y);
  expect_close("avg_pool2d " + label + " backward", dgx.host(), gx);
}

HN_CHECK(pooling) {
  pool_case("2x2 s2 (K6-like)", 64, 32, 32, 2, 2, 0, 1, false, true, 0);
  pool_case("3x3 s2 p1 ceil", 6, 11, 10, 3, 2, 1, 1, true, true, 0);
  pool_case("3x3 s1 p1 exclude pad", 5, 7, 9, 3, 1, 1, 1, false, false, 0);
  pool_case("3x3 s2 divisor 5 ceil", 4, 9, 9, 3, 2, 1, 1, true, false, 5);
  pool_case("3x3 s2 d2 p2", 3, 12, 12, 3, 2, 2, 2, false, true, 0);
  pool_case("5x5 s3 p2 ceil", 2, 16, 17, 5, 3, 2, 1, true, true, 0);
}

// ---- Softmax ------------------------------------------------------------------------------------

HN_CHECK(softmax) {
  const int64_t shapes[][3] = {{64, 10, 1}, {7, 1000, 1}, {4, 11, 1024}, {3, 5, 7}, {2, 300, 33}};
  for (const auto& s : shapes) {
    for (int log = 0; log < 2; ++log) {
      const int64_t n = s[0] * s[1] * s[2];
      const auto x = random_vector(n, -8.0f, 8.0f), g = random_vector(n);
      std::vector<float> y(n), gx(n);
      Device<float> dx(x), dg(g), dy(n), dgx(n);
      hn::cpu::softmax_forward(x.data(), y.data(), s[0], s[1], s[2], log);
      cu::softmax_forward(dx.get(), dy.get(), s[0], s[1], s[2], log, g_stream);
      hn::cpu::softmax_backward(y.data(), g.data(), gx.data(), s[0], s[1], s[2], log);
      cu::softmax_backward(dy.get(), dg.get(), dgx.get(), s[0], s[1], s[2], log, g_stream);
      const std::string name = std::string(log ? "log_softmax " : "softmax ") + std::to_string(s[0]) + "x" +
                               std::to_string(s[1]) + "x" + std::to_string(s[2]);
      expect_close(name + " forward", dy.host(), y);
      expect_close(name + " backward", dgx.host(), gx);
    }
  }
}

// ---- Losses -------------------------------------------------------------------------------------

void class_loss_case(int64_t N, int64_t C, int64_t S, bool weighted, float smoothing, double ignore_rate) {
  const int32_t ignore = -100;
  const auto x = random_vector(N * C * S, -4.0f, 4.0f);
  const auto t = random_labels(N * S, static_cast<int>(C), ignore, ignore_rate);
  const auto w = random_vector(C, 0.2f, 2.0f);
  const float* wp = weighted ? w.data() : nullptr;
  const auto grow = random_vector(N * S);
  std::vector<float> lse(N * S), row(N * S), gx(N * C * S);
  Device<float> dx(x), dw(w), dlse(N * S), drow(N * S), dgx(N * C * S), dgrow(grow);
  Device<int32_t> dt(t);
  Device<double> totals(2);
  Device<float> gscalar(std::vector<float>{0.75f});
  const float* dwp = weighted ? dw.get() : nullptr;
  char label[128];
  std::snprintf(label, sizeof(label), "N=%lld C=%lld S=%lld weighted=%d smoothing=%g", static_cast<long long>(N),
                static_cast<long long>(C), static_cast<long long>(S), weighted, smoothing);
  const auto tot = hn::cpu::cross_entropy_forward(x.data(), t.data(), wp, N, C, S, ignore, smoothing, lse.data(), row.data());
  cu::cross_entropy_forward(dx.get(), dt.get(), dwp, N, C, S, ignore, smoothing, dlse.get(), drow.get(), totals.get(), g_stream);
  expect_close(std::string("cross_entropy lse ") + label, dlse.host(), lse);
  expect_close(std::string("cross_entropy row loss ") + label, drow.host(), row);
  const auto dtot = totals.host();
  expect_scalar(std::string("cross_entropy total loss ") + label, dtot[0], tot.loss);
  expect_scalar(std::string("cross_entropy total weight ") + label, dtot[1], tot.weight);
  Device<float> reduced(1);
  cu::finish_loss(totals.get(), true, 1.0, reduced.get(), g_stream);
  expect_scalar(std::string("cross_entropy mean ") + label, reduced.host()[0], tot.loss / tot.weight);
  // 'mean' backward: scale 0.75 / weight total, with the upstream scalar on the device.
  hn::cpu::cross_entropy_backward(x.data(), t.data(), wp, lse.data(), nullptr, static_cast<float>(0.75 / tot.weight), N, C, S,
                                  ignore, smoothing, gx.data());
  cu::cross_entropy_backward(dx.get(), dt.get(), dwp, dlse.get(), nullptr, 1.0f, gscalar.get(), totals.get(), N, C, S, ignore,
                             smoothing, dgx.get(), g_stream);
  expect_close(std::string("cross_entropy backward (mean) ") + label, dgx.host(), gx);
  hn::cpu::cross_entropy_backward(x.data(), t.data(), wp, lse.data(), grow.data(), 0.0f, N, C, S, ignore, smoothing, gx.data());
  cu::cross_entropy_backward(dx.get(), dt.get(), dwp, dlse.get(), dgrow.get(), 0.0f, nullptr, nullptr, N, C, S, ignore,
                             smoothing, dgx.get(), g_stream);
  expect_close(std::string("cross_entropy backward (none) ") + label, dgx.host(), gx);
  // NLL on the same numbers read as log-probabilities.
  const auto ntot = hn::cpu::nll_loss_forward(x.data(), t.data(), wp, N, C, S, ignore, row.data());
  cu::nll_loss_forward(dx.get(), dt.get(), dwp, N, C, S, ignore, drow.get(), totals.get(), g_stream);
  expect_close(std::string("nll row loss ") + label, drow.host(), row);
  expect_scalar(std::string("nll total ") + label, totals.host()[0], ntot.loss);
  hn::cpu::nll_loss_backward(t.data(), wp, nullptr, 0.5f, N, C, S, ignore, gx.data());
  cu::nll_loss_backward(dt.get(), dwp, nullptr, 0.5f, nullptr, nullptr, N, C, S, ignore, dgx.get(), g_stream);
  expect_close(std::string("nll backward ") + label, dgx.host(), gx);
}

HN_CHECK(class_losses) {
  class_loss_case(64, 10, 1, false, 0.0f, 0.0);
  class_loss_case(8, 11, 1024, false, 0.0f, 0.1);
  class_loss_case(5, 7, 13, true, 0.1f, 0.2);
  class_loss_case(3, 1000, 1, true, 0.0f, 0.0);
}

HN_CHECK(pointwise_losses) {
  const int64_t n = 10007;
  const auto x = random_vector(n, -3.0f, 3.0f), t = random_vector(n, 0.0f, 1.0f);
  const auto w = random_vector(n, 0.5f, 1.5f), pw = random_vector(n, 0.5f, 3.0f), g = random_vector(n);
  Device<float> dx(x), dt(t), dw(w), dpw(pw), dg(g), dout(n), dgi(n), dgt(n);
  Device<double> sum(1);
  Device<float> gscalar(std::vector<float>{2.0f});
  const char* names[] = {"mse", "l1", "smooth_l1", "huber", "bce_with_logits"};
  for (int k = 0; k < 5; ++k) {
    const auto kind = static_cast<hn::cpu::PointwiseLoss>(k);
    const bool bce = kind == hn::cpu::PointwiseLoss::BceWithLogits;
    const float beta = 0.7f;
    std::vector<float> out(n), gi(n), gt(n);
    const double total = hn::cpu::pointwise_loss_forward(kind, x.data(), t.data(), bce ? w.data() : nullptr,
                                                         bce ? pw.data() : nullptr, n, beta, out.data());
    cu::pointwise_loss_forward(kind, dx.get(), dt.get(), bce ? dw.get() : nullptr, bce ? dpw.get() : nullptr, n, beta,
                               dout.get(), sum.get(), g_stream);
    expect_close(std::string(names[k]) + " per element", dout.host(), out);
    expect_scalar(std::string(names[k]) + " sum", sum.host()[0], total);
    hn::cpu::pointwise_loss_backward(kind, x.data(), t.data(), bce ? w.data() : nullptr, bce ? pw.data() : nullptr, n, beta,
                                     nullptr, 2.0f / n, gi.data(), gt.data());
    cu::pointwise_loss_backward(kind, dx.get(), dt.get(), bce ? dw.get() : nullptr, bce ? dpw.get() : nullptr, n, beta,
                                nullptr, 1.0f / n, gscalar.get(), dgi.get(), dgt.get(), g_stream);
    expect_close(std::string(names[k]) + " grad input (mean)", dgi.host(), gi);
    expect_close(std::string(names[k]) + " grad target (mean)", dgt.host(), gt);
    hn::cpu::pointwise_loss_backward(kind, x.data(), t.data(), bce ? w.data() : nullptr, bce ? pw.data() : nullptr, n, beta,
                                     g.data(), 0.0f, gi.data(), nullptr);
    cu::pointwise_loss_backward(kind, dx.get(), dt.get(), bce ? dw.get() : nullptr, bce ? dpw.get() : nullptr, n, beta,
                                dg.get(), 0.0f, nullptr, dgi.get(), nullptr, g_stream);
    expect_close(std::string(names[k]) + " grad input (none)", dgi.host(), gi);
  }
}

// ---- Batch norm ---------------------------------------------------------------------------------

HN_CHECK(batch_norm) {
  const int64_t N = 6, C = 5, HW = 37;
  const int64_t n = N * C * HW;
  const auto x = random_vector(n, -2.0f, 3.0f), g = random_vector(n);
  const auto weight = random_vector(C, 0.5f, 1.5f), bias = random_vector(C);
  for (int training = 0; training < 2; ++training) {
    auto rm = random_vector(C), rv = random_vector(C, 0.5f, 2.0f);
    std::vector<float> y(n), mean(C), invstd(C), gx(n), gw(C), gb(C);
    Device<float> dx(x), dg(g), dweight(weight), dbias(bias), drm(rm), drv(rv), dy(n), dmean(C), dinv(C), dgx(n),
        dgw(C), dgb(C);
    hn::cpu::batch_norm_forward(x.data(), weight.data(), bias.data(), rm.data(), rv.data(), N, C, HW, training, 0.1f, 1e-5f,
                                y.data(), mean.data(), invstd.data());
    cu::batch_norm_forward(dx.get(), dweight.get(), dbias.get(), drm.get(), drv.get(), N, C, HW, training, 0.1f, 1e-5f,
                           dy.get(), dmean.get(), dinv.get(), g_stream);
    hn::cpu::batch_norm_backward(x.data(), g.data(), weight.data(), mean.data(), invstd.data(), N, C, HW, training,
                                 gx.data(), gw.data(), gb.data());
    cu::batch_norm_backward(dx.get(), dg.get(), dweight.get(), dmean.get(), dinv.get(), N, C, HW, training, dgx.get(),
                            dgw.get(), dgb.get(), g_stream);
    const std::string mode = training ? "batch_norm train " : "batch_norm eval ";
    expect_close(mode + "forward", dy.host(), y);
    expect_close(mode + "saved mean", dmean.host(), mean);
    expect_close(mode + "saved invstd", dinv.host(), invstd);
    expect_close(mode + "running mean", drm.host(), rm);
    expect_close(mode + "running var", drv.host(), rv);
    expect_close(mode + "grad input", dgx.host(), gx);
    expect_close(mode + "grad weight", dgw.host(), gw);
    expect_close(mode + "grad bias", dgb.host(), gb);
  }
}

// ---- Element-wise -------------------------------------------------------------------------------

std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    const size_t j = out.size() - shape.size() + i;
    strides[j] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

HN_CHECK(binary_broadcast) {
  const std::vector<std::vector<int64_t>> cases[] = {
      {{4, 5, 6}, {4, 5, 6}, {4, 5, 6}}, {{4, 5, 6}, {6}, {4, 5, 6}}, {{4, 1, 6}, {1, 5, 1}, {4, 5, 6}},
      {{}, {3, 7}, {3, 7}},             {{2, 3, 1, 5}, {3, 4, 1}, {2, 3, 4, 5}}};
  const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum"};
  for (const auto& c : cases) {
    const auto a = random_vector(numel(c[0]), 0.5f, 2.0f), b = random_vector(numel(c[1]), -2.0f, 2.0f);
    const auto as = broadcast_strides(c[0], c[2]), bs = broadcast_strides(c[1], c[2]);
    const int64_t n = numel(c[2]);
    Device<float> da(a), db(b), dout(n);
    for (int k = 0; k < 6; ++k) {
      std::vector<float> out(n);
      const auto kind = static_cast<hn::cpu::BinaryKind>(k);
      hn::cpu::binary_forward(kind, a.data(), as.data(), b.data(), bs.data(), out.data(), c[2].data(), static_cast<int>(c[2].size()));
      cu::binary_forward(kind, da.get(), as.data(), db.get(), bs.data(), dout.get(), c[2].data(), static_cast<int>(c[2].size()),
                         g_stream);
      expect_close(std::string(names[k]) + " broadcast to rank " + std::to_string(c[2].size()) + " (" +
                       std::to_string(c[0].size()) + "," + std::to_string(c[1].size()) + ")",
                   dout.host(), out);
    }
  }
}

HN_CHECK(unary) {
  const int64_t n = 5003;
  const char* names[] = {"neg", "exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "pow", "add_scalar", "mul_scalar",
                         "reciprocal"};
  const auto signed_x = random_vector(n, -3.0f, 3.0f), positive_x = random_vector(n, 0.1f, 3.0f), g = random_vector(n);
  for (int k = 0; k < 12; ++k) {
    const auto kind = static_cast<hn::cpu::UnaryKind>(k);
    const bool positive = kind == hn::cpu::UnaryKind::Log || kind == hn::cpu::UnaryKind::Sqrt ||
                          kind == hn::cpu::UnaryKind::Pow || kind == hn::cpu::UnaryKind::Reciprocal;
    const auto& x = positive ? positive_x : signed_x;
    const float s = 1.7f;
    std::vector<float> y(n), gx(n);
    Device<float> dx(x), dg(g), dy(n), dgx(n);
    hn::cpu::unary_forward(kind, x.data(), y.data(), n, s);
    cu::unary_forward(kind, dx.get(), dy.get(), n, s, g_stream);
    hn::cpu::unary_backward(kind, x.data(), y.data(), g.data(), gx.data(), n, s);
    cu::unary_backward(kind, dx.get(), dy.get(), dg.get(), dgx.get(), n, s, g_stream);
    expect_close(std::string(names[k]) + " forward", dy.host(), y);
    expect_close(std::string(names[k]) + " backward", dgx.host(), gx);
  }
  const auto y0 = random_vector(n);
  auto y = y0;
  Device<float> dx(signed_x), dy(y0);
  hn::cpu::axpy(n, -0.5f, signed_x.data(), y.data());
  cu::axpy(n, -0.5f, dx.get(), dy.get(), g_stream);
  expect_close("axpy", dy.host(), y);
}

HN_CHECK(reduce_sum) {
  const std::vector<int64_t> shape = {3, 4, 5, 6};
  const std::vector<std::vector<uint8_t>> masks = {{1, 1, 1, 1}, {0, 1, 0, 0}, {1, 0, 0, 1}, {0, 0, 0, 1},
                                                   {1, 0, 1, 0}, {0, 0, 0, 0}, {1, 1, 0, 0}};
  const auto x = random_vector(numel(shape));
  Device<float> dx(x);
  for (const auto& mask : masks) {
    int64_t out_n = 1;
    for (size_t d = 0; d < shape.size(); ++d)
      if (!mask[d]) out_n *= shape[d];
    std::vector<float> out(out_n);
    Device<float> dout(out_n);
    hn::cpu::reduce_sum(x.data(), shape.data(), 4, mask.data(), 0.5f, out.data());
    cu::reduce_sum(dx.get(), shape.data(), 4, mask.data(), 0.5f, dout.get(), g_stream);
    std::string m;
    for (auto v : mask) m += std::to_string(v);
    expect_close("reduce_sum mask " + m, dout.host(), out);
  }
  // A long reduction (split into chunks) and one long column reduction.
  const std::vector<int64_t> big = {1 << 20};
  const std::vector<uint8_t> all = {1};
  const auto xb = random_vector(big[0]);
  Device<float> dxb(xb), dsum(1);
  std::vector<float> sum(1);
  hn::cpu::reduce_sum(xb.data(), big.data(), 1, all.data(), 1.0f, sum.data());
  cu::reduce_sum(dxb.get(), big.data(), 1, all.data(), 1.0f, dsum.get(), g_stream);
  expect_close("reduce_sum of 2^20 elements", dsum.host(), sum, 1e-5);
  const std::vector<int64_t> tall = {4096, 64};
  const std::vector<uint8_t> rows = {1, 0};
  std::vector<float> cols(64);
  Device<float> dcols(64);
  hn::cpu::reduce_sum(xb.data(), tall.data(), 2, rows.data(), 1.0f, cols.data());
  cu::reduce_sum(dxb.get(), tall.data(), 2, rows.data(), 1.0f, dcols.get(), g_stream);
  expect_close("reduce_sum 4096x64 over rows", dcols.host(), cols);
}

// ---- Fused multi-task loss -----------------------------------------------------------------------

HN_CHECK(multi_loss) {
  const int64_t B = 16;
  const auto cls = random_vector(B * 10, -3.0f, 3.0f);
  const auto cls_y = random_labels(B, 10);
  const auto seg = random_vector(B * 11 * 64, -3.0f, 3.0f);
  auto seg_y = random_labels(B * 64, 11, 255, 0.1);
  const auto reg = random_vector(B * 3), reg_t = random_vector(B * 3);
  const auto bce = random_vector(B * 4, -4.0f, 4.0f), bce_t = random_vector(B * 4, 0.0f, 1.0f);
  std::vector<float> mask(B, 1.0f);
  mask[3] = mask[7] = 0.0f;
  Device<float> dcls(cls), dseg(seg), dreg(reg), dreg_t(reg_t), dbce(bce), dbce_t(bce_t), dmask(mask);
  Device<int32_t> dcls_y(cls_y), dseg_y(seg_y);
  Device<float> gcls(B * 10), gseg(B * 11 * 64), greg(B * 3), gbce(B * 4);
  std::vector<float> hcls(B * 10), hseg(B * 11 * 64), hreg(B * 3), hbce(B * 4);
  auto make = [&](bool device) {
    std::vector<hn::cpu::TaskLoss> t(4);
    t[0].kind = hn::cpu::LossKind::CrossEntropy, t[0].N = B, t[0].C = 10, t[0].S = 1, t[0].weight = 1.0f;
    t[0].output = device ? dcls.get() : cls.data(), t[0].labels = device ? dcls_y.get() : cls_y.data();
    t[0].grad = device ? gcls.get() : hcls.data(), t[0].sample_mask = device ? dmask.get() : mask.data();
    t[1].kind = hn::cpu::LossKind::CrossEntropy, t[1].N = B, t[1].C = 11, t[1].S = 64, t[1].weight = 0.5f;
    t[1].ignore_index = 255;
    t[1].output = device ? dseg.get() : seg.data(), t[1].labels = device ? dseg_y.get() : seg_y.data();
    t[1].grad = device ? gseg.get() : hseg.data();
    t[2].kind = hn::cpu::LossKind::Mse, t[2].N = B, t[2].S = 3, t[2].weight = 2.0f, t[2].reduction = hn::cpu::LossReduction::Sum;
    t[2].output = device ? dreg.get() : reg.data(), t[2].target = device ? dreg_t.get() : reg_t.data();
    t[2].grad = device ? greg.get() : hreg.data(), t[2].sample_mask = device ? dmask.get() : mask.data();
    t[3].kind = hn::cpu::LossKind::BceWithLogits, t[3].N = B, t[3].S = 4, t[3].weight = 1.0f;
    t[3].output = device ? dbce.get() : bce.data(), t[3].target = device ? dbce_t.get() : bce_t.data();
    t[3].grad = device ? gbce.get() : hbce.data();
    return t;
  };
  auto cpu = make(false), gpu = make(true);
  hn::cpu::multi_loss_forward_backward(cpu.data(), 4);
  cu::multi_loss_forward_backward(gpu.data(), 4, g_stream);
  const char* names[] = {"classification CE", "pixel CE", "MSE (sum)", "BCE"};
  for (int i = 0; i < 4; ++i) {
    expect_scalar(std::string("multi_loss ") + names[i] + " loss", gpu[i].loss, cpu[i].loss);
    expect_equal(std::string("multi_loss ") + names[i] + " count", std::vector<int64_t>{gpu[i].count},
                 std::vector<int64_t>{cpu[i].count});
  }
  expect_close("multi_loss classification CE gradient", gcls.host(), hcls);
  expect_close("multi_loss pixel CE gradient", gseg.host(), hseg);
  expect_close("multi_loss MSE gradient", greg.host(), hreg);
  expect_close("multi_loss BCE gradient", gbce.host(), hbce);
  // A bad label is reported at its first flat index, as on the CPU.
  seg_y[77] = 11, seg_y[300] = -3;
  Device<int32_t> bad(seg_y);
  auto cpu_bad = make(false), gpu_bad = make(true);
  cpu_bad[1].labels = seg_y.data(), gpu_bad[1].labels = bad.get();
  hn::cpu::multi_loss_forward_backward(cpu_bad.data(), 4);
  cu::multi_loss_forward_backward(gpu_bad.data(), 4, g_stream);
  expect_equal("multi_loss bad label index", std::vector<int64_t>{gpu_bad[1].bad_label_at},
               std::vector<int64_t>{cpu_bad[1].bad_label_at});
}

// ---- Optimizers ---------------------------------------------------------------------------------

HN_CHECK(optimizers) {
  const int64_t n = 4099;
  const auto p0 = random_vector(n), g = random_vector(n), b0 = random_vector(n);
  struct SgdCase { double momentum, dampening, wd; bool nesterov, maximize, first; };
  const SgdCase sgd_cases[] = {{0, 0, 0, false, false, false}, {0.9, 0.1, 1e-2, false, false, false},
                               {0.9, 0, 1e-3, true, true, false}, {0.8, 0.5, 0, false, false, true}};
  for (const auto& c : sgd_cases) {
    hn::cpu::SgdOptions o;
    o.lr = 0.05, o.momentum = c.momentum, o.dampening = c.dampening, o.weight_decay = c.wd;
    o.nesterov = c.nesterov, o.maximize = c.maximize, o.first_step = c.first;
    auto p = p0, b = b0;
    Device<float> dp(p0), dg(g), db(b0);
    for (int step = 0; step < 3; ++step) {
      hn::cpu::sgd_step(p.data(), g.data(), b.data(), n, o);
      cu::sgd_step(dp.get(), dg.get(), db.get(), n, o, g_stream);
      o.first_step = false;
    }
    char name[128];
    std::snprintf(name, sizeof(name), "sgd momentum=%g nesterov=%d maximize=%d", c.momentum, c.nesterov, c.maximize);
    expect_close(std::string(name) + " param", dp.host(), p);
    expect_close(std::string(name) + " buffer", db.host(), b);
  }
  struct AdamCase { double wd; bool decoupled, amsgrad, maximize; };
  const AdamCase adam_cases[] = {{0, false, false, false}, {1e-2, false, true, false}, {1e-2, true, false, true},
                                 {0.1, true, true, false}};
  for (const auto& c : adam_cases) {
    hn::cpu::AdamOptions o;
    o.lr = 1e-3, o.beta1 = 0.9, o.beta2 = 0.999, o.eps = 1e-8, o.weight_decay = c.wd;
    o.decoupled_weight_decay = c.decoupled, o.amsgrad = c.amsgrad, o.maximize = c.maximize;
    auto p = p0;
    std::vector<float> m(n, 0.0f), v(n, 0.0f), vmax(n, 0.0f);
    Device<float> dp(p0), dg(g), dm(m), dv(v), dvmax(vmax);
    for (int step = 1; step <= 3; ++step) {
      o.step = step;
      hn::cpu::adam_step(p.data(), g.data(), m.data(), v.data(), c.amsgrad ? vmax.data() : nullptr, n, o);
      cu::adam_step(dp.get(), dg.get(), dm.get(), dv.get(), c.amsgrad ? dvmax.get() : nullptr, n, o, g_stream);
    }
    char name[128];
    std::snprintf(name, sizeof(name), "adam wd=%g decoupled=%d amsgrad=%d maximize=%d", c.wd, c.decoupled, c.amsgrad,
                  c.maximize);
    expect_close(std::string(name) + " param", dp.host(), p);
    expect_close(std::string(name) + " exp_avg", dm.host(), m);
    expect_close(std::string(name) + " exp_avg_sq", dv.host(), v);
  }
}

// ---- TF32 tensor cores ------------------------------------------------------------------------------

// Sets the TF32 flag for a scope; always restores it, so later checks run FP32.
struct Tf32Scope {
  explicit Tf32Scope(bool on) { cu::set_allow_tf32(on); }
  ~Tf32Scope() { cu::set_allow_tf32(false); }
};

HN_CHECK(tf32) {
  report("TF32 is off by default", !cu::allow_tf32(), "allow_tf32() is true before any call set it");
  if (cu::compute_capability(0) < 80) {
    std::printf("SKIP tf32: sm_%d has no TF32 tensor cores; the FP32 kernels run with the flag set\n", cu::compute_capability(0));
    return;
  }
  Tf32Scope scope(true);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      gemm_case(ta, tb, 67, 45, 33, 1.0f, 0.0f, 0, 1e-2);
      gemm_case(ta, tb, 2304, 2304, 64, 0.5f, 1.0f, 3, 1e-2);  // the 128 x 128 tensor-core kernel
    }
  gemm_case(false, true, 64, 10, 8192, 1.0f, 0.0f, 0, 1e-2);  // split K (K7's linear)
  batched_case(false, true, 37, 29, 45, 3, 5);
  conv_case("16->32 k3 p1 (K1-like)", conv_params(4, 16, 16, 16, 32, 3, 1, 1, 1, 1), false, 1e-2);
  conv_case("8->6 k3 groups 2", conv_params(2, 8, 7, 7, 6, 3, 1, 1, 1, 2), false, 1e-2);
  conv_case("64->64 k3 p1 B8 (split-K weight gradient)", conv_params(8, 64, 32, 32, 64, 3, 1, 1, 1, 1), false, 1e-2);
  conv_case("128->64 k2 s2 B4 (K4 channels)", transpose_params(4, 128, 8, 8, 64, 2, 2, 0, 0, 1, 1), true, 1e-2);
}

// ---- Caching allocator --------------------------------------------------------------------------

HN_CHECK(allocator) {
  const int device = cu::current_device();
  report("size classes", cu::size_class(1) == 512 && cu::size_class(513) == 1024 && cu::size_class((1 << 20) + 1) == (2u << 20),
         "unexpected size class");
  const auto before = cu::memory_stats(device);
  void* a = cu::device_malloc(3000, device);
  const auto live = cu::memory_stats(device);
  cu::device_free(a);
  void* b = cu::device_malloc(4000, device);  // same 4 KiB class: must come from the cache
  const auto reused = cu::memory_stats(device);
  report("freed block is reused", b == a && reused.cache_hits == live.cache_hits + 1,
         "second allocation of the same class did not reuse the block");
  report("allocated bytes counted", live.allocated_bytes == before.allocated_bytes + 4096,
         "allocated " + std::to_string(live.allocated_bytes) + " before " + std::to_string(before.allocated_bytes));
  cu::device_free(b);
  cu::synchronize(device);
  cu::empty_cache();
  const auto emptied = cu::memory_stats(device);
  report("emptyCache releases cached blocks", emptied.cached_blocks == 0 && emptied.reserved_bytes == emptied.allocated_bytes,
         "reserved " + std::to_string(emptied.reserved_bytes) + " allocated " + std::to_string(emptied.allocated_bytes));
  bool threw = false;
  try {
    cu::device_malloc(size_t{1} << 50, device);  // 1 PiB
  } catch (const cu::Error& e) {
    threw = std::string(e.what()).find("out of memory") != std::string::npos;
  }
  report("an impossible allocation throws 'out of memory'", threw, "no hn::cuda::Error naming out of memory");
}
#endif  // HN_WITH_CUDA

}  // namespace

int main() {
#ifdef HN_WITH_CUDA
  const int devices = hn::cuda::device_count();
  if (devices == 0) {
    std::printf("SKIP: no CUDA device (%s); the CUDA kernels were compiled but cannot run here\n",
                hn::cuda::unavailable_reason());
    std::printf("cuda_ops_test: 0 passed, 0 failed, %zu skipped\n", checks().size());
    return 0;
  }
  hn::cuda::set_device(0);
  g_stream = hn::cuda::stream(0);
  std::printf("device: %s\n", hn::cuda::device_name(0).c_str());
  for (auto& [name, fn] : checks()) {
    const int failed_before = g_failed;
    try {
      fn();
      hn::cuda::synchronize(0);
    } catch (const std::exception& e) {
      ++g_failed;
      std::printf("FAIL %s: threw %s\n", name.c_str(), e.what());
    }
    std::printf("%-20s %s\n", name.c_str(), g_failed == failed_before ? "ok" : "FAILED");
  }
  std::printf("cuda_ops_test: %d passed, %d failed, 0 skipped\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
#else
  std::printf("SKIP: this build has no CUDA kernels (no CUDA toolkit found at build time)\n");
  std::printf("cuda_ops_test: 0 passed, 0 failed, 17 skipped\n");
  return 0;
#endif
}
