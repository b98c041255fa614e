// Measures the machine's single-precision FMA peak, the yardstick for kernel efficiency
// (e.g. "SGEMM runs at 88% of peak").
#pragma once

namespace hn::cpu {

// Runs independent FMA chains on `threads` threads (>= 1) for about `milliseconds` each and
// returns the total rate in GFLOP/s (one FMA = 2 FLOPs). Returns 0 when the CPU or the build
// has no AVX2/FMA: the portable build has no instruction mix that defines a peak.
double measure_peak_gflops(int threads, double milliseconds);

#if defined(HN_HAVE_AVX2)
// The timed loop (avx2/peak_avx2.cc): runs FMA chains on the calling thread until `seconds`
// have passed and returns the FLOPs it did.
double fma_chain_flops_avx2(double seconds);
#endif

}  // namespace hn::cpu
