#!/usr/bin/env python3
"""PyTorch peer of `npm run bench`: the same kernels (K1-K8, SGEMM 1024^3) and workloads (W1, W2)
of shared/WORKLOADS.md, measured the same way (median of timed calls after warm-up), printed as
one JSON object {name: median seconds, ...} on stdout.

    python3 bench/torch_peer.py [--threads 2] [--filter X]   # the table
    python3 bench/torch_peer.py --rss-w1 STEPS                # peak RSS of a W1 training run

Run with OPENBLAS_NUM_THREADS=1 (bench/run.ts sets it) so only torch's own pool runs.
"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def time_it(fn, warmup=2, min_repeats=5, budget_ms=1500):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_repeats or ((time.perf_counter() - start) * 1e3 < budget_ms and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def forward_backward(rows, name, inputs, forward):
    with torch.no_grad():
        rows[f'{name} fwd'] = time_it(lambda: forward(*inputs))
    out = forward(*inputs)
    seed = torch.randn_like(out)
    rows[f'{name} bwd'] = time_it(lambda: torch.autograd.grad(out, inputs, seed, retain_graph=True))


def conv(rows, name, n, cin, cout, hw, k, padding):
    x = torch.randn(n, cin, hw, hw, requires_grad=True)
    w = torch.randn(cout, cin, k, k, requires_grad=True)
    b = torch.randn(cout, requires_grad=True)
    forward_backward(rows, name, [x, w, b], lambda a, c, d: F.conv2d(a, c, d, padding=padding))


def conv_transpose(rows, name, n, cin, cout, hw, k, stride, padding):
    x = torch.randn(n, cin, hw, hw, requires_grad=True)
    w = torch.randn(cin, cout, k, k, requires_grad=True)
    b = torch.randn(cout, requires_grad=True)
    forward_backward(rows, name, [x, w, b], lambda a, c, d: F.conv_transpose2d(a, c, d, stride=stride, padding=padding))


def kernels(rows):
    torch.manual_seed(0)
    conv(rows, 'K1 conv2d 64->64 32x32 k3p1', 64, 64, 64, 32, 3, 1)
    conv(rows, 'K2 conv2d 3->64 32x32 k3p1', 64, 3, 64, 32, 3, 1)
    conv(rows, 'K3 conv2d 128->128 8x8 k3p1', 64, 128, 128, 8, 3, 1)
    conv_transpose(rows, 'K4 convT 128->64 8->16 k2s2', 64, 128, 64, 8, 2, 2, 0)
    conv_transpose(rows, 'K5 convT 64->32 16->32 k4s2p1', 64, 64, 32, 16, 4, 2, 1)
    x = torch.randn(64, 64, 32, 32, requires_grad=True)
    forward_backward(rows, 'K6 maxPool2d 2x2 64x64x32x32', [x], lambda a: F.max_pool2d(a, 2))
    x = torch.randn(64, 8192, requires_grad=True)
    w = torch.randn(10, 8192, requires_grad=True)
    b = torch.randn(10, requires_grad=True)
    forward_backward(rows, 'K7 linear 8192->10 B=64', [x, w, b], F.linear)
    a = torch.randn(1024, 1024)
    bm = torch.randn(1024, 1024)
    c = torch.empty(1024, 1024)
    rows['SGEMM 1024x1024x1024'] = time_it(lambda: torch.mm(a, bm, out=c), warmup=3, min_repeats=10)


class W1(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.cls = nn.Sequential(nn.Flatten(), nn.Linear(8192, 10))
        self.seg = nn.Sequential(nn.ConvTranspose2d(128, 64, 2, stride=2), nn.ReLU(), nn.ConvTranspose2d(64, 11, 2, stride=2))

    def forward(self, x):
        z = self.shared(x)
        return self.cls(z), self.seg(z)


class W2(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Sequential(
            nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(10, 20, 5), nn.MaxPool2d(2), nn.ReLU(),
            nn.Flatten(), nn.Linear(320, 50), nn.ReLU())
        self.left = nn.Sequential(nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 10))
        self.right = nn.Sequential(nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 10))

    def forward(self, x):
        z = self.shared(x)
        return self.left(z), self.right(z)


def w1_step(batch):
    model = W1()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, 32, 32)
    yc = torch.randint(0, 10, (batch,))
    ys = torch.randint(0, 11, (batch, 32, 32))

    def step():
        opt.zero_grad(set_to_none=True)
        cls, seg = model(x)
        loss = F.cross_entropy(cls, yc) + 0.5 * F.cross_entropy(seg, ys)
        loss.backward()
        opt.step()
    return step


def workloads(rows):
    torch.manual_seed(0)
    b = 64
    cls = torch.randn(b, 10, requires_grad=True)
    seg = torch.randn(b, 11, 32, 32, requires_grad=True)
    yc = torch.randint(0, 10, (b,))
    ys = torch.randint(0, 11, (b, 32, 32))

    def k8():
        loss = F.cross_entropy(cls, yc) + 0.5 * F.cross_entropy(seg, ys)
        torch.autograd.grad(loss, [cls, seg])
    rows['K8 fused multi-loss fwd+bwd'] = time_it(k8)
    rows['W1 train step B=64 (static)'] = time_it(w1_step(64), warmup=2, min_repeats=5, budget_ms=4000)
    model = W1().eval()
    for batch in (64, 1):
        x = torch.randn(batch, 3, 32, 32)
        with torch.no_grad():
            rows[f'W1 inference B={batch}'] = time_it(lambda: model(x))
    model = W2()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(256, 1, 28, 28)
    yl = torch.randint(0, 10, (256,))
    yr = torch.randint(0, 10, (256,))

    def w2():
        opt.zero_grad(set_to_none=True)
        left, right = model(x)
        (F.cross_entropy(left, yl) + F.cross_entropy(right, yr)).backward()
        opt.step()
    rows['W2 train step B=256'] = time_it(w2, budget_ms=3000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--only', default='kernels,workloads')
    parser.add_argument('--rss-w1', type=int, default=0, help='train W1 at B=64 for this many steps, print peak RSS')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.rss_w1:
        step = w1_step(64)
        for _ in range(args.rss_w1):
            step()
        # ru_maxrss is in KiB on Linux.
        print(json.dumps({'peakRssBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
        return
    rows = {}
    groups = args.only.split(',')
    if 'kernels' in groups:
        kernels(rows)
    if 'workloads' in groups:
        workloads(rows)
    info = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'python': sys.version.split()[0]}
    print(json.dumps({'info': info, 'seconds': rows}))


if __name__ == '__main__':
    main()
