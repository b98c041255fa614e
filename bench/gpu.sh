#!/usr/bin/env bash
# GPU check in one command: builds the CUDA kernels and the C++ tests (CMake, Ninja when present,
# Release, HN_BUILD_NATIVE_TESTS=ON), runs the GPU tests (ctest: every CUDA kernel against its CPU
# twin, the TF32 tensor-core path against FP32 at a loose bound), the GPU kernel benchmarks K1-K8,
# a batched matmul and the TF32 rows (bench/native/gpu_bench.cc) and PyTorch + cuDNN on the same
# work (bench/gpu_torch.py), and prints a short table last, with TF32's measured error against
# FP32. Needs nvcc, cmake, a GPU and python3 with torch; not Node.js (the addon is not built).
# About 4-6 minutes on an H200.
#
#   bash bench/gpu.sh              build dir build-gpu, CUDA architecture of the local GPU
#   BUILD_DIR=... HN_CUDA_ARCHS=90 bash bench/gpu.sh
#   QUICK=1 bash bench/gpu.sh      skip the 4096^3 SGEMM
# Logs land in $BUILD_DIR (and in $OUT when that is set, as on the device tool's machine).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD_DIR:-build-gpu}"
LOGS="${OUT:-$BUILD}"
mkdir -p "$BUILD" "$LOGS"
STATUS=0
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
NVCC="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
[ -x "$NVCC" ] || { echo "gpu.sh: nvcc not found"; exit 1; }
"$NVCC" --version | tail -1

step "configure"
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
# The local GPU's architecture only (CMake >= 3.24 'native'): the CI build keeps sm_80 + sm_90 + PTX.
cmake -S . -B "$BUILD" ${GENERATOR[@]+"${GENERATOR[@]}"} -DCMAKE_BUILD_TYPE=Release -DHN_BUILD_NATIVE_TESTS=ON \
  -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_CUDA_ARCHITECTURES="${HN_CUDA_ARCHS:-native}" >"$LOGS/configure.log" 2>&1 \
  || { tail -30 "$LOGS/configure.log"; exit 1; }
grep -q "CUDA kernels ON" "$LOGS/configure.log" || { echo "gpu.sh: CMake did not enable the CUDA kernels"; tail -30 "$LOGS/configure.log"; exit 1; }

step "build (kernels and C++ tests; the Node addon is skipped)"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 4)}"
cmake --build "$BUILD" -j "$JOBS" --target hn_kernels hn_cuda_kernels cuda_ops_test cuda_conv_loaders_test \
  >"$LOGS/build.log" 2>&1 || { tail -40 "$LOGS/build.log"; exit 1; }
"$NVCC" -O2 -std=c++17 -DHN_WITH_CUDA=1 bench/native/gpu_bench.cc "$BUILD/libhn_cuda_kernels.a" "$BUILD/libhn_kernels.a" \
  -o "$BUILD/gpu_bench" -lpthread >>"$LOGS/build.log" 2>&1 || { tail -40 "$LOGS/build.log"; exit 1; }

step "GPU tests (ctest)"
(cd "$BUILD" && ctest -R cuda -V --timeout 240) 2>&1 | tee "$LOGS/ctest.log" || STATUS=1
grep -h "passed, .* failed" "$LOGS/ctest.log" || true
echo "TF32 vs the CPU's FP32 in ctest (bound 1e-2; FP32 checks hold 1e-4):"
grep -h "TF32 .*relative error" "$LOGS/ctest.log" | sed 's/^[0-9]*: /  /' || echo "  (none: no TF32 check ran)"

step "hydranet CUDA kernels"
BENCH_ARGS=()
[ -n "${QUICK:-}" ] && BENCH_ARGS=(--quick)
timeout 180 "$BUILD/gpu_bench" ${BENCH_ARGS[@]+"${BENCH_ARGS[@]}"} 2>&1 | tee "$LOGS/gpu_bench.log" || STATUS=1

step "PyTorch + cuDNN on the same work"
TORCH_ARGS=()
[ -n "${QUICK:-}" ] && TORCH_ARGS=(--quick)
PYTHONUNBUFFERED=1 timeout 180 python3 bench/gpu_torch.py ${TORCH_ARGS[@]+"${TORCH_ARGS[@]}"} 2>&1 | tee "$LOGS/gpu_torch.log" \
  || echo "gpu.sh: the PyTorch comparison failed (see above); hydranet's numbers stand alone"

step "summary"
python3 - "$LOGS/gpu_bench.log" "$LOGS/gpu_torch.log" <<'PY'
import sys

def results(path):
    rows = {}
    try:
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "RESULT":
                rows[parts[1]] = [float(v) for v in parts[2:]]
    except OSError:
        pass
    return rows

def tf32_errors(path):
    rows = []
    try:
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "TF32ERR":
                rows.append((parts[1], float(parts[2])))
    except OSError:
        pass
    return rows

ours, torch = results(sys.argv[1]), results(sys.argv[2])
print(f"{'work (B=64, fp32)':<38} {'hydranet ms':>11} {'TFLOP/s':>8} {'GB/s':>7} {'torch ms':>9} {'torch/hn':>8}")
for name, (ms, gflop, gbytes) in ours.items():
    t = torch.get(name, [None])[0]
    tflops = f"{gflop / ms:8.2f}" if gflop else f"{'':>8}"
    gbs = f"{gbytes / ms * 1e3:7.0f}" if gbytes else f"{'':>7}"
    tcol = f"{t:9.4f}" if t else f"{'n/a':>9}"
    ratio = f"{t / ms:8.2f}" if t else f"{'':>8}"
    print(f"{name:<38} {ms:11.4f} {tflops} {gbs} {tcol} {ratio}")
print("torch/hn > 1: hydranet is faster. TF32 off on both sides, except the 'tf32' rows (on on both sides).")
errors = tf32_errors(sys.argv[1])
if errors:
    print(f"\n{'TF32 vs FP32 on the same inputs':<38} {'max|diff|/max|fp32|':>20}")
    for name, err in errors:
        print(f"{name:<38} {err:>20.3e}")
PY
printf '\ngpu.sh: done in %ss, tests %s\n' "$SECONDS" "$([ $STATUS -eq 0 ] && echo passed || echo FAILED)"
exit $STATUS
