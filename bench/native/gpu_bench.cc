// GPU kernel benchmarks K1-K8 of shared/WORKLOADS.md (B = 64) plus SGEMM 1024^3 / 4096^3 and a
// batched matmul, on the CUDA kernels of native/cuda; then the same GEMMs and K1 with TF32 tensor
// cores (hn::cuda::set_allow_tf32) and, for each, TF32's error against the FP32 kernel on the same
// inputs. Prints one "RESULT <name> <ms> <gflop> <gbytes>" line per measurement and one
// "TF32ERR <name> <relative error>" line per comparison (bench/gpu.sh joins them with PyTorch's
// times from bench/gpu_torch.py) and a readable table.
//
// Timing: 3 warm-up runs, then repeats until 0.3 s or 200 runs have passed, bracketed by device
// synchronisations (host clock; every measured call is at least tens of microseconds, so the
// launch overhead is part of what is measured, as it is for a user). Inputs are uniform in [-1, 1].
// The FLOP counts are the useful multiply-adds x 2 of each op (a stride-2 transposed convolution
// counts only the taps that reach an output), so TFLOP/s compare across implementations.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../../native/cpu/conv.h"
#include "../../native/cpu/pool.h"
#include "../../native/cuda/allocator.h"
#include "../../native/cuda/conv.h"
#include "../../native/cuda/gemm.h"
#include "../../native/cuda/multi_loss.h"
#include "../../native/cuda/pool.h"
#include "../../native/cuda/runtime.h"

namespace {

namespace cu = hn::cuda;
cu::Stream g_stream = nullptr;
std::mt19937 g_rng(42);

struct Buffer {
  float* p = nullptr;
  size_t n = 0;
  explicit Buffer(size_t count, bool random = true) : n(count) {
    p = static_cast<float*>(cu::device_malloc(n * sizeof(float), 0));
    std::vector<float> host(n, 0.0f);
    if (random) {
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (auto& v : host) v = dist(g_rng);
    }
    cu::copy_host_to_device(p, host.data(), n * sizeof(float), g_stream);
  }
  ~Buffer() { cu::device_free(p); }
};

struct Labels {
  int32_t* p = nullptr;
  Labels(size_t n, int classes) {
    p = static_cast<int32_t*>(cu::device_malloc(n * sizeof(int32_t), 0));
    std::uniform_int_distribution<int> dist(0, classes - 1);
    std::vector<int32_t> host(n);
    for (auto& v : host) v = dist(g_rng);
    cu::copy_host_to_device(p, host.data(), n * sizeof(int32_t), g_stream);
  }
  ~Labels() { cu::device_free(p); }
};

struct Row {
  std::string name;
  double ms, gflop, gbytes;
};
std::vector<Row> g_rows;

// Mean milliseconds per call of fn.
double time_ms(const std::function<void()>& fn) {
  for (int i = 0; i < 3; ++i) fn();
  cu::synchronize(0);
  const auto start = std::chrono::steady_clock::now();
  int runs = 0;
  double elapsed = 0.0;
  do {
    fn();
    ++runs;
    if (runs % 10 == 0 || runs < 10) {
      cu::synchronize(0);
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  } while (elapsed < 0.3 && runs < 200);
  cu::synchronize(0);
  elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return elapsed * 1e3 / runs;
}

void record(const std::string& name, double ms, double gflop, double gbytes = 0.0) {
  g_rows.push_back({name, ms, gflop, gbytes});
  std::printf("RESULT\t%s\t%.5f\t%.5f\t%.5f\n", name.c_str(), ms, gflop, gbytes);
  std::fflush(stdout);
}

hn::cpu::Conv2dParams conv(int64_t batch, int64_t cin, int64_t hw, int64_t cout, int64_t k, int64_t s, int64_t pad) {
  hn::cpu::Conv2dParams p;
  p.batch = batch, p.in_channels = cin, p.in_h = p.in_w = hw, p.out_channels = cout;
  p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = s, p.pad_h = p.pad_w = pad;
  p.out_h = p.out_w = hn::cpu::conv2d_output_size(hw, k, s, pad, pad, 1);
  return p;
}

// A transposed convolution cin -> cout from hw: described as the convolution it transposes.
hn::cpu::Conv2dParams transpose(int64_t batch, int64_t cin, int64_t hw, int64_t cout, int64_t k, int64_t s, int64_t pad) {
  hn::cpu::Conv2dParams p;
  p.batch = batch, p.out_channels = cin, p.out_h = p.out_w = hw, p.in_channels = cout;
  p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = s, p.pad_h = p.pad_w = pad;
  p.in_h = p.in_w = hn::cpu::conv_transpose2d_output_size(hw, k, s, pad, 0, 1);
  return p;
}

// Useful multiply-adds of a convolution: each output pixel x each in-bounds tap.
double conv_gflop(const hn::cpu::Conv2dParams& p) {
  double taps = 0;
  for (int64_t oh = 0; oh < p.out_h; ++oh)
    for (int64_t ow = 0; ow < p.out_w; ++ow)
      for (int64_t kh = 0; kh < p.kernel_h; ++kh)
        for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
          const int64_t ih = oh * p.stride_h - p.pad_h + kh, iw = ow * p.stride_w - p.pad_w + kw;
          taps += ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w;
        }
  return 2.0 * p.batch * p.out_channels * (p.in_channels / p.groups) * taps / 1e9;
}

void bench_conv(const std::string& name, const hn::cpu::Conv2dParams& p, bool transposed) {
  const size_t xs = p.batch * p.in_channels * p.in_h * p.in_w, ys = p.batch * p.out_channels * p.out_h * p.out_w;
  const size_t ws = p.out_channels * p.in_channels / p.groups * p.kernel_h * p.kernel_w;
  const double gflop = conv_gflop(p);
  // The op's own input and output: a transposed convolution reads y-shaped data and writes x-shaped.
  Buffer in(transposed ? ys : xs), out(transposed ? xs : ys), w(ws), bias(transposed ? p.in_channels : p.out_channels);
  Buffer gin(transposed ? ys : xs), gout(transposed ? xs : ys), gw(ws), gb(transposed ? p.in_channels : p.out_channels);
  if (transposed) {
    record(name + " fwd", time_ms([&] { cu::conv_transpose2d_forward(p, in.p, w.p, bias.p, out.p, g_stream); }), gflop);
    record(name + " bwd-data", time_ms([&] { cu::conv_transpose2d_backward_data(p, gout.p, w.p, gin.p, g_stream); }), gflop);
    record(name + " bwd-weight", time_ms([&] { cu::conv_transpose2d_backward_weight(p, in.p, gout.p, gw.p, gb.p, g_stream); }), gflop);
  } else {
    record(name + " fwd", time_ms([&] { cu::conv2d_forward(p, in.p, w.p, bias.p, out.p, g_stream); }), gflop);
    record(name + " bwd-data", time_ms([&] { cu::conv2d_backward_data(p, gout.p, w.p, gin.p, g_stream); }), gflop);
    record(name + " bwd-weight", time_ms([&] { cu::conv2d_backward_weight(p, in.p, gout.p, gw.p, gb.p, g_stream); }), gflop);
  }
}

void bench_gemm(const std::string& name, int64_t M, int64_t N, int64_t K, bool ta, bool tb) {
  Buffer a(M * K), b(K * N), c(M * N);
  const double gflop = 2.0 * M * N * K / 1e9;
  record(name, time_ms([&] { cu::sgemm(ta, tb, M, N, K, 1.0f, a.p, ta ? M : K, b.p, tb ? K : N, 0.0f, c.p, N, g_stream); }), gflop);
}

std::vector<float> download(const Buffer& b) {
  std::vector<float> host(b.n);
  cu::copy_device_to_host(host.data(), b.p, b.n * sizeof(float), g_stream);
  return host;
}

// max |tf32 - fp32| / max |fp32|, printed as a TF32ERR line (reported, not asserted: ctest holds
// the bound that catches wrong results).
void report_tf32_error(const std::string& name, const std::vector<float>& tf32, const std::vector<float>& fp32) {
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < fp32.size(); ++i) {
    scale = std::max(scale, static_cast<double>(std::fabs(fp32[i])));
    worst = std::max(worst, std::fabs(static_cast<double>(tf32[i]) - fp32[i]));
  }
  std::printf("TF32ERR\t%s\t%.3e\n", name.c_str(), scale > 0 ? worst / scale : worst);
  std::fflush(stdout);
}

// Runs `fn` (which writes `out`) in FP32 and in TF32, times the TF32 run as `name tf32` and reports
// its error against the FP32 output.
void bench_tf32(const std::string& name, double gflop, const Buffer& out, const std::function<void()>& fn) {
  fn();
  const auto fp32 = download(out);
  cu::set_allow_tf32(true);
  fn();
  const auto tf32 = download(out);
  record(name + " tf32", time_ms(fn), gflop);
  cu::set_allow_tf32(false);
  report_tf32_error(name, tf32, fp32);
}

void bench_gemm_tf32(const std::string& name, int64_t M, int64_t N, int64_t K) {
  Buffer a(M * K), b(K * N), c(M * N);
  bench_tf32(name, 2.0 * M * N * K / 1e9, c, [&] { cu::sgemm(false, false, M, N, K, 1.0f, a.p, K, b.p, N, 0.0f, c.p, N, g_stream); });
}

void bench_conv_tf32(const std::string& name, const hn::cpu::Conv2dParams& p) {
  const size_t xs = p.batch * p.in_channels * p.in_h * p.in_w, ys = p.batch * p.out_channels * p.out_h * p.out_w;
  const size_t ws = p.out_channels * p.in_channels / p.groups * p.kernel_h * p.kernel_w;
  const double gflop = conv_gflop(p);
  Buffer x(xs), w(ws), bias(p.out_channels), y(ys), gy(ys), gx(xs), gw(ws), gb(p.out_channels);
  bench_tf32(name + " fwd", gflop, y, [&] { cu::conv2d_forward(p, x.p, w.p, bias.p, y.p, g_stream); });
  bench_tf32(name + " bwd-data", gflop, gx, [&] { cu::conv2d_backward_data(p, gy.p, w.p, gx.p, g_stream); });
  bench_tf32(name + " bwd-weight", gflop, gw, [&] { cu::conv2d_backward_weight(p, x.p, gy.p, gw.p, gb.p, g_stream); });
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  if (cu::device_count() == 0) {
    std::printf("SKIP: no CUDA device (%s)\n", cu::unavailable_reason());
    return 0;
  }
  cu::set_device(0);
  g_stream = cu::stream(0);
  std::printf("device: %s\n", cu::device_name(0).c_str());
  const int64_t B = 64;
  bench_conv("K1 conv2d 64->64 32x32 k3p1", conv(B, 64, 32, 64, 3, 1, 1), false);
  bench_conv("K2 conv2d 3->64 32x32 k3p1", conv(B, 3, 32, 64, 3, 1, 1), false);
  bench_conv("K3 conv2d 128->128 8x8 k3p1", conv(B, 128, 8, 128, 3, 1, 1), false);
  bench_conv("K4 convT 128->64 8->16 k2s2", transpose(B, 128, 8, 64, 2, 2, 0), true);
  bench_conv("K5 convT 64->32 16->32 k4s2p1", transpose(B, 64, 16, 32, 4, 2, 1), true);
  {
    hn::cpu::Pool2dShape s{};
    s.planes = 64 * 64, s.in_h = s.in_w = 32, s.kernel_h = s.kernel_w = 2, s.stride_h = s.stride_w = 2;
    s.dilation_h = s.dilation_w = 1, s.out_h = s.out_w = 16;
    Buffer x(s.planes * 32 * 32), y(s.planes * 16 * 16), gy(s.planes * 16 * 16), gx(s.planes * 32 * 32);
    auto* idx = static_cast<int32_t*>(cu::device_malloc(s.planes * 16 * 16 * 4, 0));
    const double fwd_gb = (s.planes * 32 * 32 * 4.0 + s.planes * 16 * 16 * 8.0) / 1e9;
    const double bwd_gb = (s.planes * 16 * 16 * 8.0 + s.planes * 32 * 32 * 4.0) / 1e9;
    record("K6 maxpool 2x2s2 64x64x32x32 fwd", time_ms([&] { cu::max_pool2d_forward(x.p, y.p, idx, s, g_stream); }), 0, fwd_gb);
    record("K6 maxpool 2x2s2 64x64x32x32 bwd", time_ms([&] { cu::max_pool2d_backward(gy.p, idx, gx.p, s, g_stream); }), 0, bwd_gb);
    cu::device_free(idx);
  }
  bench_gemm("K7 linear 8192->10 fwd", B, 10, 8192, false, true);
  bench_gemm("K7 linear 8192->10 bwd-data", B, 8192, 10, false, false);
  bench_gemm("K7 linear 8192->10 bwd-weight", 10, 8192, B, true, false);
  bench_gemm("K7 sgemm 1024^3", 1024, 1024, 1024, false, false);
  if (!quick) bench_gemm("sgemm 4096^3", 4096, 4096, 4096, false, false);
  {
    const int64_t batch = 256, n = 64;
    Buffer a(batch * n * n), b(batch * n * n), c(batch * n * n);
    record("bmm 256x(64x64 @ 64x64)", time_ms([&] {
      cu::sgemm_strided_batched(false, false, n, n, n, 1.0f, a.p, n, n * n, b.p, n, n * n, 0.0f, c.p, n, n * n, batch, g_stream);
    }), 2.0 * batch * n * n * n / 1e9);
  }
  {
    Buffer cls(B * 10), seg(B * 11 * 32 * 32), gcls(B * 10), gseg(B * 11 * 32 * 32);
    Labels ycls(B, 10), yseg(B * 32 * 32, 11);
    std::vector<hn::cuda::TaskLoss> tasks(2);
    tasks[0].kind = hn::cpu::LossKind::CrossEntropy, tasks[0].N = B, tasks[0].C = 10, tasks[0].S = 1;
    tasks[0].output = cls.p, tasks[0].labels = ycls.p, tasks[0].grad = gcls.p;
    tasks[1].kind = hn::cpu::LossKind::CrossEntropy, tasks[1].N = B, tasks[1].C = 11, tasks[1].S = 32 * 32, tasks[1].weight = 0.5f;
    tasks[1].output = seg.p, tasks[1].labels = yseg.p, tasks[1].grad = gseg.p;
    const double gb = (B * 10 * 8.0 + B * 11 * 1024 * 8.0 + B * 1025 * 4.0) / 1e9;
    // Includes the one host synchronisation the fused loss makes to return the losses.
    record("K8 fused multi-loss fwd+bwd", time_ms([&] { cu::multi_loss_forward_backward(tasks.data(), 2, g_stream); }), 0, gb);
  }
  if (cu::compute_capability(0) >= 80) {
    bench_conv_tf32("K1 conv2d 64->64 32x32 k3p1", conv(B, 64, 32, 64, 3, 1, 1));
    bench_gemm_tf32("K7 sgemm 1024^3", 1024, 1024, 1024);
    if (!quick) bench_gemm_tf32("sgemm 4096^3", 4096, 4096, 4096);
  } else {
    std::printf("TF32 rows skipped: sm_%d has no TF32 tensor cores\n", cu::compute_capability(0));
  }
  std::printf("\n%-40s %10s %10s %10s\n", "hydranet CUDA kernel", "ms", "TFLOP/s", "GB/s");
  for (const auto& r : g_rows) {
    std::printf("%-40s %10.4f %10.2f %10.1f\n", r.name.c_str(), r.ms, r.gflop / r.ms, r.gbytes / r.ms * 1e3);
  }
  const auto stats = cu::memory_stats(0);
  std::printf("allocator: peak %.1f MiB, %lld cudaMalloc calls for %lld allocations\n",
              stats.peak_allocated_bytes / 1048576.0, static_cast<long long>(stats.cuda_malloc_count),
              static_cast<long long>(stats.alloc_count));
  return 0;
}
