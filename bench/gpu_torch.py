"""PyTorch (cuDNN / cuBLAS) times for the same work as bench/native/gpu_bench.cc: K1-K8 of
shared/WORKLOADS.md at B = 64, SGEMM 1024^3 / 4096^3 and a batched matmul, FP32 with TF32 off (as
hydranet's default kernels); then the "... tf32" rows (K1, the SGEMMs) with TF32 on, as hydranet's
rows under hn::cuda::set_allow_tf32. Prints tab-separated "RESULT name ms" lines with the names
gpu_bench uses.

Timing: CUDA events around repeated calls after warm-up (torch.backends.cudnn.benchmark on, so
cuDNN picks its best algorithm during the warm-up). Backward data and backward weight are timed
separately through aten.convolution_backward with one output mask each.

    python3 bench/gpu_torch.py [--quick]
"""
import sys

import torch
import torch.nn.functional as F

QUICK = "--quick" in sys.argv
torch.backends.cudnn.benchmark = True
torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
dev = torch.device("cuda")
B = 64


def time_ms(fn, min_ms=300.0, max_runs=200):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    runs, elapsed = 0, 0.0
    start.record()
    while True:
        fn()
        runs += 1
        if runs % 10 == 0 or runs < 10:
            end.record()
            end.synchronize()
            elapsed = start.elapsed_time(end)
            if elapsed >= min_ms or runs >= max_runs:
                break
    return elapsed / runs


def result(name, ms):
    print(f"RESULT\t{name}\t{ms:.5f}", flush=True)


def bench_conv(name, cin, hw, cout, k, s, p, transposed):
    x = torch.rand(B, cin, hw, hw, device=dev) * 2 - 1
    w = (torch.rand(cin, cout, k, k, device=dev) if transposed else torch.rand(cout, cin, k, k, device=dev)) * 2 - 1
    b = torch.rand(cout, device=dev)
    fwd = (lambda: F.conv_transpose2d(x, w, b, stride=s, padding=p)) if transposed else (lambda: F.conv2d(x, w, b, stride=s, padding=p))
    y = fwd()
    gy = torch.rand_like(y)
    result(f"{name} fwd", time_ms(fwd))

    def backward(mask):
        return torch.ops.aten.convolution_backward(gy, x, w, [cout], [s, s], [p, p], [1, 1], transposed, [0, 0], 1, mask)

    result(f"{name} bwd-data", time_ms(lambda: backward([True, False, False])))
    result(f"{name} bwd-weight", time_ms(lambda: backward([False, True, True])))


def bench_gemm(name, M, N, K, ta, tb):
    a = torch.rand(K, M, device=dev).t() if ta else torch.rand(M, K, device=dev)
    b = torch.rand(N, K, device=dev).t() if tb else torch.rand(K, N, device=dev)
    out = torch.empty(M, N, device=dev)
    result(name, time_ms(lambda: torch.mm(a, b, out=out)))


def set_tf32(on):
    torch.backends.cudnn.allow_tf32 = on
    torch.backends.cuda.matmul.allow_tf32 = on


def main():
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    bench_conv("K1 conv2d 64->64 32x32 k3p1", 64, 32, 64, 3, 1, 1, False)
    bench_conv("K2 conv2d 3->64 32x32 k3p1", 3, 32, 64, 3, 1, 1, False)
    bench_conv("K3 conv2d 128->128 8x8 k3p1", 128, 8, 128, 3, 1, 1, False)
    bench_conv("K4 convT 128->64 8->16 k2s2", 128, 8, 64, 2, 2, 0, True)
    bench_conv("K5 convT 64->32 16->32 k4s2p1", 64, 16, 32, 4, 2, 1, True)
    x = torch.rand(64, 64, 32, 32, device=dev, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, 2, return_indices=True)
    gy = torch.rand_like(y)
    result("K6 maxpool 2x2s2 64x64x32x32 fwd", time_ms(lambda: F.max_pool2d(x.detach(), 2, 2, return_indices=True)))
    result("K6 maxpool 2x2s2 64x64x32x32 bwd",
           time_ms(lambda: torch.ops.aten.max_pool2d_with_indices_backward(gy, x.detach(), [2, 2], [2, 2], [0, 0], [1, 1], False, idx)))
    bench_gemm("K7 linear 8192->10 fwd", B, 10, 8192, False, True)
    bench_gemm("K7 linear 8192->10 bwd-data", B, 8192, 10, False, False)
    bench_gemm("K7 linear 8192->10 bwd-weight", 10, 8192, B, True, False)
    bench_gemm("K7 sgemm 1024^3", 1024, 1024, 1024, False, False)
    if not QUICK:
        bench_gemm("sgemm 4096^3", 4096, 4096, 4096, False, False)
    a, b = torch.rand(256, 64, 64, device=dev), torch.rand(256, 64, 64, device=dev)
    result("bmm 256x(64x64 @ 64x64)", time_ms(lambda: torch.bmm(a, b)))
    cls = torch.rand(B, 10, device=dev, requires_grad=True)
    seg = torch.rand(B, 11, 32, 32, device=dev, requires_grad=True)
    ycls = torch.randint(0, 10, (B,), device=dev)
    yseg = torch.randint(0, 11, (B, 32, 32), device=dev)

    def losses():
        loss = F.cross_entropy(cls, ycls) + 0.5 * F.cross_entropy(seg, yseg)
        grads = torch.autograd.grad(loss, [cls, seg])
        return loss.item(), grads  # item(): the same one synchronisation hydranet's fused loss makes

    result("K8 fused multi-loss fwd+bwd", time_ms(losses))

    set_tf32(True)
    x = torch.rand(B, 64, 32, 32, device=dev) * 2 - 1
    w = torch.rand(64, 64, 3, 3, device=dev) * 2 - 1
    bias = torch.rand(64, device=dev)
    gy = torch.rand(B, 64, 32, 32, device=dev)
    result("K1 conv2d 64->64 32x32 k3p1 fwd tf32", time_ms(lambda: F.conv2d(x, w, bias, padding=1)))
    for name, mask in (("bwd-data", [True, False, False]), ("bwd-weight", [False, True, True])):
        result(f"K1 conv2d 64->64 32x32 k3p1 {name} tf32", time_ms(
            lambda: torch.ops.aten.convolution_backward(gy, x, w, [64], [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)))
    bench_gemm("K7 sgemm 1024^3 tf32", 1024, 1024, 1024, False, False)
    if not QUICK:
        bench_gemm("sgemm 4096^3 tf32", 4096, 4096, 4096, False, False)
    set_tf32(False)


if __name__ == "__main__":
    main()
