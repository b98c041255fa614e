// CUDA runtime queries. Safe to call on machines with no driver or GPU: they report 0 devices.
#pragma once

namespace hn::cuda {

// Number of usable CUDA devices (0 when there is no driver, no GPU, or the runtime fails).
int device_count();
// Human-readable reason when device_count() is 0 ("" otherwise).
const char* unavailable_reason();

}  // namespace hn::cuda
