#include <cuda_runtime.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "common.cuh"
#include "runtime.h"

namespace hn::cuda {
namespace {
std::string g_reason;
std::mutex g_mutex;
std::vector<cudaStream_t> g_streams;  // one per device, created lazily
}  // namespace

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(status));
}

int device_count() {
  // The static runtime loads the driver here, lazily: no driver just means no devices.
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    g_reason = cudaGetErrorString(status);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  if (count == 0) g_reason = "no CUDA device found";
  return count;
}

const char* unavailable_reason() { return g_reason.c_str(); }

std::string device_name(int device) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  char buffer[256];
  snprintf(buffer, sizeof(buffer), "%s (sm_%d%d, %d SMs, %.1f GiB)", prop.name, prop.major,
           prop.minor, prop.multiProcessorCount,
           static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return buffer;
}

int multiprocessor_count(int device) {
  int count = 0;
  check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device),
        "cudaDeviceGetAttribute(multiProcessorCount)");
  return count;
}

int compute_capability(int device) {
  int major = 0, minor = 0;
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
        "cudaDeviceGetAttribute(computeCapabilityMajor)");
  check(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device),
        "cudaDeviceGetAttribute(computeCapabilityMinor)");
  return major * 10 + minor;
}

void set_device(int device) {
  int current = -1;
  check(cudaGetDevice(&current), "cudaGetDevice");
  if (current != device) check(cudaSetDevice(device), "cudaSetDevice");
}

int current_device() {
  int current = 0;
  check(cudaGetDevice(&current), "cudaGetDevice");
  return current;
}

Stream stream(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (device < 0) throw Error("CUDA stream: negative device index");
  if (g_streams.size() <= static_cast<size_t>(device)) g_streams.resize(device + 1, nullptr);
  if (!g_streams[device]) {
    int previous = 0;
    check(cudaGetDevice(&previous), "cudaGetDevice");
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaStream_t s = nullptr;
    const cudaError_t status = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    cudaSetDevice(previous);
    check(status, "cudaStreamCreateWithFlags");
    g_streams[device] = s;
  }
  return g_streams[device];
}

Stream current_stream() { return stream(current_device()); }

void synchronize(int device) {
  set_device(device);
  check(cudaStreamSynchronize(stream(device)), "cudaStreamSynchronize (a kernel failed)");
}

void copy_host_to_device(void* dst, const void* src, size_t bytes, Stream s) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s), "cudaMemcpyAsync(host to device)");
}

void copy_device_to_host(void* dst, const void* src, size_t bytes, Stream s) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(device to host)");
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize after a copy to the host (a kernel failed)");
}

void copy_device_to_device(void* dst, const void* src, size_t bytes, Stream s) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync(device to device)");
}

void fill_zero(void* dst, size_t bytes, Stream s) {
  if (bytes == 0) return;
  check(cudaMemsetAsync(dst, 0, bytes, s), "cudaMemsetAsync");
}

}  // namespace hn::cuda
