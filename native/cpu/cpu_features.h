// Run-time CPU detection: the AVX2/FMA kernels are compiled in their own files and chosen here.
#pragma once

namespace hn::cpu {

// True when the CPU supports AVX2 and FMA and the build includes those kernels.
bool has_avx2_fma();
// Forces the portable path (for tests that compare the fast path against it).
void set_force_portable(bool force);
bool force_portable();
inline bool use_avx2() { return has_avx2_fma() && !force_portable(); }

}  // namespace hn::cpu
