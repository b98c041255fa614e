#include <cuda_runtime.h>

#include <string>

#include "runtime.h"

namespace hn::cuda {
namespace {
std::string g_reason;
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

}  // namespace hn::cuda
