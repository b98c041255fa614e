// CUDA runtime: device discovery, the one stream per device, copies, errors. Every function is
// safe to call on a machine with no driver or GPU: the queries report 0 devices, everything else
// throws hn::cuda::Error with the runtime's message. This header needs no CUDA include, so plain
// C++ (the bindings, the C++ tests) can use it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace hn::cuda {

using Stream = CUstream_st*;

// A CUDA call failed (launch error, out of memory, no device). what() names the call.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Number of usable CUDA devices (0 when there is no driver, no GPU, or the runtime fails).
int device_count();
// Human-readable reason when device_count() is 0 ("" otherwise).
const char* unavailable_reason();
// "NVIDIA H200 (sm_90, 132 SMs, 139.8 GiB)"; throws when the device does not exist.
std::string device_name(int device);
int multiprocessor_count(int device);
// major * 10 + minor (80 for sm_80, 90 for sm_90); throws when the device does not exist.
int compute_capability(int device);

// Makes `device` current for this host thread (no-op when it already is).
void set_device(int device);
int current_device();

// The stream every kernel of `device` runs on, created on first use (non-blocking, so it never
// waits for work on the legacy default stream). All kernels of one device are ordered on it,
// which is what lets the caching allocator hand a freed block to the next request at once.
Stream stream(int device);
// The stream of the current device.
Stream current_stream();

// Host waits until everything queued on the device's stream has run; throws the first
// asynchronous error a kernel raised.
void synchronize(int device);

// Copies on the current device's stream. host_to_device returns once the host memory may be
// reused (pageable memory is staged before the call returns). device_to_host waits for the
// copy (and so for every kernel queued before it): the one place a value comes back.
void copy_host_to_device(void* dst, const void* src, size_t bytes, Stream stream);
void copy_device_to_host(void* dst, const void* src, size_t bytes, Stream stream);
void copy_device_to_device(void* dst, const void* src, size_t bytes, Stream stream);
// dst[0..bytes) = 0 (asynchronous).
void fill_zero(void* dst, size_t bytes, Stream stream);

}  // namespace hn::cuda
