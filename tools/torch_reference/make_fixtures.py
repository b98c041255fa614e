#!/usr/bin/env python3
"""Dumps PyTorch reference values for test/torch-reference.test.ts (llm.c's approach).

Every value the test compares against is computed here by real PyTorch, on inputs drawn here
with a fixed torch.manual_seed and stored in the fixture next to the results, so the test feeds
hydranet exactly the same inputs, weights and upstream gradients. The test never runs Python.

Regenerate (from the repository root, with PyTorch installed; Debian: apt-get install python3-torch):

    python3 tools/torch_reference/make_fixtures.py            # writes test/fixtures/torch/
    python3 tools/torch_reference/make_fixtures.py --out DIR  # somewhere else

The .safetensors fixtures are written by `safetensors.torch.save_file` (the `safetensors` Python
package; a wheel installed with `pip install --target DIR safetensors` and PYTHONPATH=DIR is
enough). Without that package the script falls back to a few lines of its own that follow the
safetensors spec, and records `"safetensors_writer": "handwritten"` in the JSON fixtures.

Format. Each fixture is JSON: {"torch_version", "numpy_version", "safetensors_writer", "seed",
"about", "cases": [...]}. A tensor is {"shape": [...], "dtype": "float32" | "int32", "b64":
base64 of its little-endian bytes} (int64 tensors are stored as int32; they all fit). For a
gradient case the scalar that backward starts from is (out * R).sum() with R stored as "R";
gradients are named "grad_<input>".

Shapes are small on purpose: the fixtures together stay well under 2 MB (about 1 MB).
Regenerating gives the same bytes, except interop.safetensors, whose two metadata entries
safetensors writes in a random order.
"""
import argparse
import base64
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import safetensors
    import safetensors.torch as safetensors_torch
    SAFETENSORS_WRITER = f"safetensors {safetensors.__version__} (safetensors.torch.save_file)"
except ImportError:  # pragma: no cover - depends on the machine
    safetensors_torch = None
    SAFETENSORS_WRITER = "handwritten"

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 20240611


# ---- Encoding -------------------------------------------------------------------------------

def enc(t):
    """A tensor as {shape, dtype, b64}: float32 or int32, little-endian, row-major."""
    t = t.detach().cpu().contiguous()
    if t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool):
        arr = t.to(torch.int64).numpy()
        assert arr.size == 0 or (arr.min() >= -2**31 and arr.max() < 2**31)
        arr = arr.astype("<i4")
        dtype = "int32"
    else:
        arr = t.to(torch.float32).numpy().astype("<f4")
        dtype = "float32"
    return {"shape": list(t.shape), "dtype": dtype, "b64": base64.b64encode(arr.tobytes()).decode("ascii")}


def plain(v):
    """Options and layouts as JSON: tuples become lists, tensors their values."""
    if isinstance(v, torch.Tensor):
        return v.item() if v.numel() == 1 and v.dim() == 0 else v.tolist()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return v


def write_json(out_dir, name, about, cases, **extra):
    doc = {
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "safetensors_writer": SAFETENSORS_WRITER,
        "seed": SEED,
        "generated_by": "tools/torch_reference/make_fixtures.py",
        "about": about,
        **extra,
        "cases": cases,
    }
    path = os.path.join(out_dir, name)
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    return path


def save_safetensors(tensors, path, metadata=None):
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    if safetensors_torch is not None:
        safetensors_torch.save_file(tensors, path, metadata=metadata)
        return
    # The spec: u64 header length, JSON header {name: {dtype, shape, data_offsets}}, raw bytes.
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
    header, blobs, offset = {}, [], 0
    for k, v in sorted(tensors.items()):
        raw = v.view(torch.int16).numpy().tobytes() if v.dtype == torch.bfloat16 else v.numpy().tobytes()
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def backward_with_R(out, *leaves):
    """Backward of (out * R).sum() for a random R; returns R and each leaf's gradient."""
    R = torch.randn(out.shape)
    (out * R).sum().backward()
    return R, [None if leaf is None else leaf.grad for leaf in leaves]


def leaf(shape, scale=1.0):
    return (torch.randn(shape) * scale).requires_grad_()


# ---- Convolutions ----------------------------------------------------------------------------

def conv_cases():
    torch.manual_seed(SEED)
    specs = [
        # name, op, x shape, weight shape, bias, options (PyTorch names)
        ("conv_k3_p1", "conv2d", (2, 3, 7, 7), (4, 3, 3, 3), True, dict(padding=1)),
        ("conv_stride2_pad_1_2_rect_kernel", "conv2d", (2, 3, 9, 8), (5, 3, 3, 2), True, dict(stride=2, padding=(1, 2))),
        ("conv_stride_2_1_dilation2", "conv2d", (1, 2, 10, 9), (3, 2, 3, 3), True, dict(stride=(2, 1), padding=2, dilation=2)),
        ("conv_dilation_1_3", "conv2d", (2, 2, 8, 11), (3, 2, 2, 3), True, dict(padding=(0, 1), dilation=(1, 3))),
        ("conv_groups2", "conv2d", (2, 4, 6, 6), (6, 2, 3, 3), True, dict(padding=1, groups=2)),
        ("conv_depthwise_stride2", "conv2d", (2, 4, 7, 7), (4, 1, 3, 3), True, dict(stride=2, padding=1, groups=4)),
        ("conv_same_even_kernel", "conv2d", (2, 3, 6, 7), (4, 3, 4, 2), True, dict(padding="same")),
        ("conv_same_dilated", "conv2d", (1, 2, 7, 7), (3, 2, 3, 3), True, dict(padding="same", dilation=2)),
        ("conv_same_even_kernel_dilation_2_1", "conv2d", (1, 2, 8, 6), (2, 2, 4, 4), True, dict(padding="same", dilation=(2, 1))),
        ("conv_same_groups", "conv2d", (1, 4, 5, 5), (4, 2, 2, 2), True, dict(padding="same", groups=2)),
        ("conv_valid_nobias", "conv2d", (2, 3, 6, 5), (2, 3, 3, 3), False, dict(padding="valid")),
        ("conv_unbatched", "conv2d", (3, 6, 6), (2, 3, 3, 3), True, dict(padding=1, stride=2)),
        ("convT_k2_s2", "conv_transpose2d", (2, 4, 4, 4), (4, 3, 2, 2), True, dict(stride=2)),
        ("convT_k3_s2_p1_op1", "conv_transpose2d", (2, 3, 5, 4), (3, 2, 3, 3), True, dict(stride=2, padding=1, output_padding=1)),
        ("convT_rect_stride_2_3_pad_0_1_op_1_2", "conv_transpose2d", (1, 2, 4, 3), (2, 3, 3, 4), True,
         dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2))),
        ("convT_dilation2", "conv_transpose2d", (2, 3, 5, 5), (3, 2, 3, 3), True, dict(padding=1, dilation=2)),
        ("convT_stride2_dilation2_op1", "conv_transpose2d", (1, 2, 4, 4), (2, 3, 3, 3), True, dict(stride=2, dilation=2, output_padding=1)),
        ("convT_op_below_dilation", "conv_transpose2d", (1, 2, 4, 5), (2, 2, 2, 3), True, dict(dilation=3, output_padding=2)),
        ("convT_groups2", "conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), True, dict(stride=2, padding=1, groups=2)),
        ("convT_groups4_op", "conv_transpose2d", (1, 4, 3, 4), (4, 2, 3, 3), True, dict(stride=2, groups=4, output_padding=1)),
        ("convT_nobias", "conv_transpose2d", (2, 3, 3, 3), (3, 4, 4, 4), False, dict(stride=2, padding=1)),
        ("convT_unbatched", "conv_transpose2d", (3, 4, 4), (3, 2, 3, 3), True, dict(stride=2, padding=1, output_padding=1)),
    ]
    cases = []
    for name, op, xs, ws, has_bias, opts in specs:
        x = leaf(xs)
        w = leaf(ws, 0.5)
        out_c = ws[0] if op == "conv2d" else ws[1] * opts.get("groups", 1)
        b = leaf((out_c,)) if has_bias else None
        fn = F.conv2d if op == "conv2d" else F.conv_transpose2d
        out = fn(x, w, b, **opts)
        R, (gx, gw, gb) = backward_with_R(out, x, w, b)
        case = {"name": name, "op": op, "options": plain(opts),
                "x": enc(x), "weight": enc(w), "R": enc(R), "out": enc(out), "grad_x": enc(gx), "grad_weight": enc(gw)}
        if b is not None:
            case["bias"] = enc(b)
            case["grad_bias"] = enc(gb)
        cases.append(case)
    return cases


# ---- Pooling ---------------------------------------------------------------------------------

def pool_cases():
    torch.manual_seed(SEED + 1)
    ties = lambda shape: torch.randint(-2, 3, shape).float()  # many equal values per window
    negative = lambda shape: -1 - torch.rand(shape)  # all < 0: padding (-inf) must never win
    specs = [
        ("max_k2_s2", "max_pool2d", torch.randn(2, 3, 6, 6), dict(kernel_size=2, stride=2)),
        ("max_k3_s1_p1", "max_pool2d", torch.randn(2, 2, 5, 5), dict(kernel_size=3, stride=1, padding=1)),
        ("max_k3_s2_p1_dilation2", "max_pool2d", torch.randn(1, 2, 9, 8), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
        ("max_rect_kernel_stride", "max_pool2d", torch.randn(2, 2, 7, 9), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))),
        ("max_ceil_mode", "max_pool2d", torch.randn(1, 2, 7, 8), dict(kernel_size=3, stride=2, ceil_mode=True)),
        ("max_ceil_mode_last_window_dropped", "max_pool2d", torch.randn(1, 2, 5, 6), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
        ("max_ties_k2_s2", "max_pool2d", ties((2, 2, 6, 6)), dict(kernel_size=2, stride=2)),
        ("max_ties_overlapping_k3_s1", "max_pool2d", ties((1, 3, 6, 5)), dict(kernel_size=3, stride=1, padding=1)),
        ("max_ties_dilation_ceil", "max_pool2d", ties((1, 2, 8, 7)), dict(kernel_size=2, stride=2, dilation=2, ceil_mode=True)),
        ("max_negative_with_padding", "max_pool2d", negative((1, 2, 5, 5)), dict(kernel_size=3, stride=2, padding=1)),
        ("max_unbatched", "max_pool2d", torch.randn(3, 6, 6), dict(kernel_size=2)),
        ("avg_k2_s2", "avg_pool2d", torch.randn(2, 3, 6, 6), dict(kernel_size=2, stride=2)),
        ("avg_p1_count_include_pad", "avg_pool2d", torch.randn(2, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1, count_include_pad=True)),
        ("avg_p1_exclude_pad", "avg_pool2d", torch.randn(2, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
        ("avg_ceil_mode", "avg_pool2d", torch.randn(1, 2, 7, 8), dict(kernel_size=3, stride=2, ceil_mode=True)),
        ("avg_ceil_mode_pad_include", "avg_pool2d", torch.randn(1, 2, 6, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True)),
        ("avg_ceil_mode_pad_exclude", "avg_pool2d", torch.randn(1, 2, 6, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
        ("avg_divisor_override", "avg_pool2d", torch.randn(2, 2, 6, 6), dict(kernel_size=2, stride=2, divisor_override=3)),
        ("avg_divisor_override_pad_ceil", "avg_pool2d", torch.randn(1, 2, 5, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=5)),
        ("avg_rect", "avg_pool2d", torch.randn(2, 2, 7, 9), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))),
        ("avg_unbatched", "avg_pool2d", torch.randn(3, 6, 6), dict(kernel_size=2)),
    ]
    cases = []
    for name, op, x, opts in specs:
        x = x.clone().requires_grad_()
        out = getattr(F, op)(x, **opts)
        R, (gx,) = backward_with_R(out, x)
        cases.append({"name": name, "op": op, "options": plain(opts), "x": enc(x), "R": enc(R), "out": enc(out), "grad_x": enc(gx)})
    return cases


# ---- Linear, softmax, activations ------------------------------------------------------------

def activation_cases():
    torch.manual_seed(SEED + 2)
    cases = []
    for name, xs, ws, has_bias in [("linear_2d", (4, 6), (5, 6), True), ("linear_3d_input", (2, 3, 6), (4, 6), True),
                                   ("linear_nobias", (5, 7), (3, 7), False), ("linear_1d_input", (6,), (4, 6), True)]:
        x, w = leaf(xs), leaf(ws, 0.5)
        b = leaf((ws[0],)) if has_bias else None
        out = F.linear(x, w, b)
        R, (gx, gw, gb) = backward_with_R(out, x, w, b)
        case = {"name": name, "op": "linear", "options": {}, "x": enc(x), "weight": enc(w), "R": enc(R), "out": enc(out),
                "grad_x": enc(gx), "grad_weight": enc(gw)}
        if b is not None:
            case.update(bias=enc(b), grad_bias=enc(gb))
        cases.append(case)
    for op in ("softmax", "log_softmax"):
        for xs, dim in [((2, 3, 4, 5), 0), ((2, 3, 4, 5), 1), ((2, 3, 4, 5), 2), ((2, 3, 4, 5), -1), ((4, 7), 1), ((6,), 0)]:
            x = leaf(xs, 3.0)  # wide logits: exercises the max subtraction
            out = getattr(F, op)(x, dim=dim)
            R, (gx,) = backward_with_R(out, x)
            cases.append({"name": f"{op}_{'x'.join(map(str, xs))}_dim{dim}", "op": op, "options": {"dim": dim},
                          "x": enc(x), "R": enc(R), "out": enc(out), "grad_x": enc(gx)})
    for op in ("relu", "sigmoid", "tanh"):
        x = torch.randn(3, 4, 5) * 3
        x.view(-1)[::7] = 0.0  # exact zeros: relu's gradient there is 0 in PyTorch
        x.requires_grad_()
        out = getattr(torch, op)(x)
        R, (gx,) = backward_with_R(out, x)
        cases.append({"name": op, "op": op, "options": {}, "x": enc(x), "R": enc(R), "out": enc(out), "grad_x": enc(gx)})
    return cases


# ---- Losses ----------------------------------------------------------------------------------

def loss_cases():
    torch.manual_seed(SEED + 3)
    cases = []

    def class_case(name, op, shape, opts, ignore_positions=(), ignore_value=None, all_ignored=False):
        C = shape[1]
        x = leaf(shape, 2.0)
        target_shape = (shape[0],) + tuple(shape[2:])
        t = torch.randint(0, C, target_shape)
        flat = t.view(-1)
        for p in ignore_positions:
            flat[p] = ignore_value
        if all_ignored:
            flat[:] = ignore_value
        kw = dict(opts)
        weight = None
        if kw.pop("class_weight", False):
            weight = torch.rand(C) + 0.2
            kw["weight"] = weight
        inp = F.log_softmax(x.detach(), 1).requires_grad_() if op == "nll_loss" else x
        out = getattr(F, op)(inp, t, **kw)
        R, (gx,) = backward_with_R(out, inp)
        case = {"name": name, "op": op, "options": plain({k: v for k, v in kw.items() if k != "weight"}),
                "x": enc(inp), "target": enc(t), "R": enc(R), "out": enc(out), "grad_x": enc(gx)}
        if weight is not None:
            case["class_weight"] = enc(weight)
        cases.append(case)

    for red in ("mean", "sum", "none"):
        class_case(f"ce_2d_{red}", "cross_entropy", (6, 5), dict(reduction=red))
        class_case(f"ce_2d_weight_{red}", "cross_entropy", (6, 5), dict(reduction=red, class_weight=True))
        class_case(f"ce_2d_ignore_default_{red}", "cross_entropy", (6, 5), dict(reduction=red), ignore_positions=(1, 4), ignore_value=-100)
        class_case(f"ce_2d_smoothing_{red}", "cross_entropy", (6, 5), dict(reduction=red, label_smoothing=0.1))
        class_case(f"ce_2d_weight_ignore2_smoothing_{red}", "cross_entropy", (6, 5),
                   dict(reduction=red, class_weight=True, ignore_index=2, label_smoothing=0.2), ignore_positions=(0, 3), ignore_value=2)
        class_case(f"ce_4d_{red}", "cross_entropy", (2, 4, 3, 3), dict(reduction=red))
        class_case(f"ce_4d_weight_ignore_{red}", "cross_entropy", (2, 4, 3, 3), dict(reduction=red, class_weight=True, ignore_index=255),
                   ignore_positions=(0, 5, 11, 17), ignore_value=255)
        class_case(f"ce_4d_weight_ignore_smoothing_{red}", "cross_entropy", (2, 4, 3, 3),
                   dict(reduction=red, class_weight=True, ignore_index=-1, label_smoothing=0.15), ignore_positions=(2, 9), ignore_value=-1)
        class_case(f"nll_2d_{red}", "nll_loss", (6, 5), dict(reduction=red))
        class_case(f"nll_2d_weight_ignore_{red}", "nll_loss", (6, 5), dict(reduction=red, class_weight=True, ignore_index=1),
                   ignore_positions=(2,), ignore_value=1)
        class_case(f"nll_4d_weight_ignore_{red}", "nll_loss", (2, 3, 2, 4), dict(reduction=red, class_weight=True),
                   ignore_positions=(1, 6), ignore_value=-100)
    class_case("ce_2d_all_ignored_mean_is_nan", "cross_entropy", (3, 4), dict(reduction="mean"), ignore_value=-100, all_ignored=True)
    class_case("ce_2d_smoothing_1", "cross_entropy", (4, 3), dict(reduction="mean", label_smoothing=1.0))

    def pointwise_case(name, op, opts, shape=(3, 4), extra=None):
        x = leaf(shape, 1.5)
        if op == "binary_cross_entropy_with_logits":
            t = torch.rand(shape)
            t.view(-1)[::3] = torch.randint(0, 2, t.view(-1)[::3].shape).float()  # some hard labels
        else:
            t = torch.randn(shape)
            t.view(-1)[::5] = x.detach().view(-1)[::5]  # exact ties: l1's gradient is 0 there
        t.requires_grad_()
        kw = dict(opts)
        case_extra = {}
        for key, value in (extra or {}).items():
            kw[key] = value
            case_extra[key] = enc(value)
        out = getattr(F, op)(x, t, **kw)
        R, (gx, gt) = backward_with_R(out, x, t)
        cases.append({"name": name, "op": op, "options": plain(opts), "x": enc(x), "target": enc(t), "R": enc(R), "out": enc(out),
                      "grad_x": enc(gx), "grad_target": enc(gt), **case_extra})

    for red in ("mean", "sum", "none"):
        pointwise_case(f"mse_{red}", "mse_loss", dict(reduction=red))
        pointwise_case(f"l1_{red}", "l1_loss", dict(reduction=red))
        pointwise_case(f"bce_logits_{red}", "binary_cross_entropy_with_logits", dict(reduction=red))
        pointwise_case(f"bce_logits_weight_{red}", "binary_cross_entropy_with_logits", dict(reduction=red), extra={"weight": torch.rand(4) + 0.5})
        pointwise_case(f"bce_logits_pos_weight_{red}", "binary_cross_entropy_with_logits", dict(reduction=red), extra={"pos_weight": torch.rand(4) * 3})
        pointwise_case(f"bce_logits_weight_pos_weight_{red}", "binary_cross_entropy_with_logits", dict(reduction=red),
                       extra={"weight": torch.rand(3, 1) + 0.5, "pos_weight": torch.rand(4) * 3})
    pointwise_case("mse_4d_mean", "mse_loss", dict(reduction="mean"), shape=(2, 3, 2, 2))
    pointwise_case("bce_logits_4d_pos_weight_per_channel", "binary_cross_entropy_with_logits", dict(reduction="mean"), shape=(2, 3, 2, 2),
                   extra={"pos_weight": torch.rand(3, 1, 1) * 2})
    x = torch.tensor([-120.0, -30.0, 0.0, 30.0, 120.0]).requires_grad_()  # saturated logits stay finite
    t = torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0]).requires_grad_()
    out = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    R, (gx, gt) = backward_with_R(out, x, t)
    cases.append({"name": "bce_logits_extreme_logits", "op": "binary_cross_entropy_with_logits", "options": {"reduction": "none"},
                  "x": enc(x), "target": enc(t), "R": enc(R), "out": enc(out), "grad_x": enc(gx), "grad_target": enc(gt)})
    return cases


# ---- Batch norm ------------------------------------------------------------------------------

def batch_norm_cases():
    torch.manual_seed(SEED + 4)
    cases = []
    for name, opts in [("momentum_0.1", dict(momentum=0.1)), ("momentum_none_cumulative", dict(momentum=None)),
                       ("momentum_0.3_eps_1e-3", dict(momentum=0.3, eps=1e-3))]:
        bn = nn.BatchNorm2d(3, **opts)
        with torch.no_grad():
            bn.weight.copy_(torch.rand(3) + 0.5)
            bn.bias.copy_(torch.randn(3))
        case = {"name": name, "options": plain(opts), "weight": enc(bn.weight), "bias": enc(bn.bias), "steps": []}
        bn.train()
        for step in range(3):
            x = (torch.randn(4, 3, 3, 2) * (step + 1) + step).requires_grad_()
            bn.zero_grad()
            out = bn(x)
            R, (gx, gw, gb) = backward_with_R(out, x, bn.weight, bn.bias)
            case["steps"].append({"x": enc(x), "R": enc(R), "out": enc(out), "grad_x": enc(gx), "grad_weight": enc(gw), "grad_bias": enc(gb),
                                  "running_mean": enc(bn.running_mean), "running_var": enc(bn.running_var),
                                  "num_batches_tracked": int(bn.num_batches_tracked)})
        bn.eval()
        bn.zero_grad()
        x = torch.randn(2, 3, 2, 2).requires_grad_()
        out = bn(x)
        R, (gx, gw, gb) = backward_with_R(out, x, bn.weight, bn.bias)
        case["eval"] = {"x": enc(x), "R": enc(R), "out": enc(out), "grad_x": enc(gx), "grad_weight": enc(gw), "grad_bias": enc(gb)}
        cases.append(case)
    return cases


# ---- Optimizers ------------------------------------------------------------------------------

IMPLEMENTATION_FLAGS = ["foreach", "capturable", "differentiable", "fused"]


def optimizer_cases():
    torch.manual_seed(SEED + 5)
    w0, b0, h0 = torch.randn(3, 4), torch.randn(3), torch.randn(2, 3)
    # Gradients that shrink after step 2, so AMSGrad's running max matters.
    scales = [1.0, 2.0, 0.3, 0.2, 0.1]
    grads = [[torch.randn(3, 4) * s, torch.randn(3) * s, torch.randn(2, 3) * s] for s in scales]
    specs = [
        ("sgd_plain", "SGD", dict(lr=0.1), False),
        ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9), False),
        ("sgd_momentum_dampening", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.3), False),
        ("sgd_nesterov", "SGD", dict(lr=0.05, momentum=0.8, nesterov=True), False),
        ("sgd_momentum_weight_decay", "SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.05), False),
        ("sgd_two_groups", "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01), True),
        ("adam_default", "Adam", dict(lr=0.01), False),
        ("adam_amsgrad", "Adam", dict(lr=0.01, amsgrad=True), False),
        ("adam_weight_decay", "Adam", dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.99), eps=1e-6), False),
        ("adam_amsgrad_weight_decay_two_groups", "Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05), True),
        ("adamw_default", "AdamW", dict(lr=0.01), False),
        ("adamw_weight_decay_amsgrad", "AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True), False),
    ]
    cases = []
    for name, cls, opts, two_groups in specs:
        params = [w0.clone().requires_grad_(), b0.clone().requires_grad_(), h0.clone().requires_grad_()]
        if two_groups:
            # The head gets its own lr (and no weight decay): groups keep their order and options.
            groups = [{"params": params[:2]}, {"params": [params[2]], "lr": opts["lr"] * 0.5, "weight_decay": 0.0}]
            opt = getattr(torch.optim, cls)(groups, **opts)
        else:
            opt = getattr(torch.optim, cls)(params, **opts)
        history = []
        for k in range(5):
            opt.zero_grad()
            for p, g in zip(params, grads[k]):
                p.grad = g.clone()
            opt.step()
            history.append([enc(p) for p in params])
        sd = opt.state_dict()
        layout = {
            "param_groups": [[[k, plain(v)] for k, v in g.items()] for g in sd["param_groups"]],
            "state": {str(i): [[k, None if v is None else (enc(v) if isinstance(v, torch.Tensor) and v.dim() > 0 else plain(v))]
                               for k, v in s.items()] for i, s in sd["state"].items()},
        }
        cases.append({"name": name, "optimizer": cls, "options": plain(opts), "two_groups": two_groups,
                      "initial": [enc(w0), enc(b0), enc(h0)], "grads": [[enc(g) for g in step] for step in grads],
                      "after_step": history, "state_dict": layout})
    return cases


# ---- LR schedulers ---------------------------------------------------------------------------

def scheduler_cases():
    cases = []
    specs = [
        ("step_lr", "StepLR", dict(step_size=3, gamma=0.5), 12, 0.1),
        ("step_lr_gamma_0.9", "StepLR", dict(step_size=1, gamma=0.9), 6, 1.0),
        ("cosine", "CosineAnnealingLR", dict(T_max=5, eta_min=0.01), 16, 0.1),
        ("cosine_eta0_long", "CosineAnnealingLR", dict(T_max=10), 25, 0.5),
        ("one_cycle_cos", "OneCycleLR", dict(max_lr=0.1, total_steps=20, cycle_momentum=False), 20, 0.1),
        ("one_cycle_linear", "OneCycleLR", dict(max_lr=0.05, total_steps=15, anneal_strategy="linear", pct_start=0.4, cycle_momentum=False), 15, 0.1),
        ("one_cycle_three_phase", "OneCycleLR", dict(max_lr=0.2, total_steps=21, three_phase=True, div_factor=10, final_div_factor=100,
                                                     cycle_momentum=False), 21, 0.1),
        ("one_cycle_epochs_steps", "OneCycleLR", dict(max_lr=0.01, epochs=3, steps_per_epoch=4, cycle_momentum=False), 12, 0.1),
        # PyTorch's default cycles SGD's momentum too; the lr sequence is the same either way.
        ("one_cycle_default_cycle_momentum", "OneCycleLR", dict(max_lr=0.1, total_steps=10), 10, 0.1),
    ]
    for name, cls, opts, steps, lr0 in specs:
        p = torch.zeros(2, requires_grad=True)
        opt = torch.optim.SGD([p], lr=lr0, momentum=0.9)
        sched = getattr(torch.optim.lr_scheduler, cls)(opt, **opts)
        lrs = [opt.param_groups[0]["lr"]]
        momenta = [opt.param_groups[0]["momentum"]]
        for _ in range(steps):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
            momenta.append(opt.param_groups[0]["momentum"])
        group_keys = [k for k in opt.state_dict()["param_groups"][0].keys()]
        cases.append({"name": name, "scheduler": cls, "options": plain(opts), "lr0": lr0, "optimizer_momentum": 0.9, "steps": steps,
                      "lrs": lrs, "momenta": momenta, "get_last_lr": sched.get_last_lr(), "optimizer_group_keys": group_keys})
    return cases


# ---- Modules, state dicts, default init ------------------------------------------------------

class MultiTask(nn.Module):
    """The layout of hydranet's MultiTaskModel: self.shared and self.heads (a ModuleDict)."""

    def __init__(self, shared, heads):
        super().__init__()
        self.shared = shared
        self.heads = nn.ModuleDict(heads)

    def forward(self, x):
        z = self.shared(x)
        return {name: head(z) for name, head in self.heads.items()}


def w1_seed():
    # /work/shared/WORKLOADS.md, W1.
    shared = nn.Sequential(nn.Conv2d(3, 64, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                           nn.Conv2d(64, 128, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))
    heads = {"cls": nn.Sequential(nn.Flatten(), nn.Linear(8192, 10)),
             "seg": nn.Sequential(nn.ConvTranspose2d(128, 64, 2, stride=2), nn.ReLU(), nn.ConvTranspose2d(64, 11, 2, stride=2))}
    return MultiTask(shared, heads)


def w2_multimnist():
    # /work/shared/WORKLOADS.md, W2 (without the reproduction's dropout).
    shared = nn.Sequential(nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(10, 20, 5), nn.MaxPool2d(2), nn.ReLU(),
                           nn.Flatten(), nn.Linear(320, 50), nn.ReLU())
    heads = {name: nn.Sequential(nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 10)) for name in ("left", "right")}
    return MultiTask(shared, heads)


def bn_model():
    shared = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2))
    heads = {"cls": nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 5)),
             "seg": nn.Sequential(nn.ConvTranspose2d(8, 4, 2, stride=2), nn.BatchNorm2d(4, momentum=None), nn.ReLU(), nn.Conv2d(4, 3, 1))}
    return MultiTask(shared, heads)


def layout(model):
    return {
        "state_dict": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()],
        "named_parameters": [[k, list(v.shape)] for k, v in model.named_parameters()],
        "named_buffers": [[k, list(v.shape)] for k, v in model.named_buffers()],
    }


def module_cases(out_dir):
    cases = []
    torch.manual_seed(SEED + 6)
    # W1: its 193k weights are stored as float16 (half the bytes); the model is rounded to those
    # values first, so the reference outputs are computed from exactly the stored weights.
    model = w1_seed()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    save_safetensors({k: v.half() for k, v in model.state_dict().items()}, os.path.join(out_dir, "w1_seed.safetensors"),
                     metadata={"format": "pt"})
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = model(x)
    cases.append({"name": "w1_seed", "weights": "w1_seed.safetensors", "layout": layout(model), "x": enc(x),
                  "outputs": {k: enc(v) for k, v in out.items()}})

    model = w2_multimnist()
    save_safetensors(model.state_dict(), os.path.join(out_dir, "w2_multimnist.safetensors"), metadata={"format": "pt"})
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        out = model(x)
    cases.append({"name": "w2_multimnist", "weights": "w2_multimnist.safetensors", "layout": layout(model), "x": enc(x),
                  "outputs": {k: enc(v) for k, v in out.items()}})

    model = bn_model()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):  # gamma and beta off their defaults (1 and 0)
                m.weight.copy_(torch.rand(m.weight.shape) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape) * 0.2)
        model.train()
        for _ in range(3):  # moves the running statistics and num_batches_tracked off their defaults
            model(torch.randn(4, 3, 8, 8) * 2 + 0.5)
    save_safetensors(model.state_dict(), os.path.join(out_dir, "bn_model.safetensors"), metadata={"format": "pt"})
    x = torch.randn(3, 3, 8, 8)
    model.eval()
    with torch.no_grad():
        eval_out = model(x)
    model.train()
    with torch.no_grad():
        train_out = model(x)
    after = model.state_dict()
    cases.append({"name": "bn_model", "weights": "bn_model.safetensors", "layout": layout(model), "x": enc(x),
                  "outputs": {k: enc(v) for k, v in eval_out.items()},
                  "train_outputs": {k: enc(v) for k, v in train_out.items()},
                  "buffers_after_train_forward": {k: enc(v) for k, v in after.items() if "running" in k or "num_batches" in k}})
    return cases


def init_cases():
    torch.manual_seed(SEED + 7)
    specs = [
        ("Conv2d", (64, 128, 3), {}),
        ("Conv2d", (32, 64, 5), {"groups": 4}),
        ("ConvTranspose2d", (128, 64, 2), {"stride": 2}),
        ("ConvTranspose2d", (64, 64, 4), {"stride": 2, "padding": 1, "groups": 2}),
        ("Linear", (8192, 10), {}),
        ("Linear", (320, 256), {}),
    ]
    cases = []
    for cls, args, kw in specs:
        m = getattr(nn, cls)(*args, **kw)
        w, b = m.weight.detach().double(), m.bias.detach().double()
        fan_in = w.shape[1] * int(np.prod(w.shape[2:])) if w.dim() > 2 else w.shape[1]
        cases.append({"name": f"{cls}({', '.join(map(str, args))}{''.join(f', {k}={v}' for k, v in kw.items())})", "module": cls,
                      "args": list(args), "options": kw, "weight_shape": list(w.shape), "fan_in": fan_in, "bound": 1 / math.sqrt(fan_in),
                      "weight": {"n": w.numel(), "min": w.min().item(), "max": w.max().item(), "mean": w.mean().item(), "std": w.std().item()},
                      "bias": {"n": b.numel(), "min": b.min().item(), "max": b.max().item()}})
    return cases


def safetensors_interop(out_dir):
    """A tiny file of mixed dtypes, written by safetensors.torch.save_file."""
    tensors = {
        "f32": torch.tensor([[1.5, -2.25, 3.0], [0.1, 1e-8, -7.0e6]], dtype=torch.float32),
        "f16": torch.tensor([0.5, -1.0, 65504.0, 6.1035156e-05], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.140625, 1.0e30], dtype=torch.bfloat16),
        "f64": torch.tensor([0.125, -2.5], dtype=torch.float64),
        "i64": torch.tensor([-(2**31), 7, 2**31 - 1], dtype=torch.int64),
        "i32": torch.tensor([[1, -2], [3, -4]], dtype=torch.int32),
        "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4,
    }
    metadata = {"format": "pt", "note": "hydranet interop fixture"}
    save_safetensors(tensors, os.path.join(out_dir, "interop.safetensors"), metadata=metadata)
    expected = {k: {"shape": list(v.shape), "source_dtype": str(v.dtype).replace("torch.", ""),
                    "values": v.double().flatten().tolist() if v.is_floating_point() else v.long().flatten().tolist()}
                for k, v in tensors.items()}
    return [{"name": "interop", "file": "interop.safetensors", "metadata": metadata, "tensors": expected}]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(REPO, "test", "fixtures", "torch"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    written = [
        write_json(args.out, "conv.json", "F.conv2d / F.conv_transpose2d forward and gradients", conv_cases()),
        write_json(args.out, "pool.json", "F.max_pool2d / F.avg_pool2d forward and gradients", pool_cases()),
        write_json(args.out, "activations.json", "F.linear, softmax, log_softmax, relu, sigmoid, tanh", activation_cases()),
        write_json(args.out, "losses.json", "cross_entropy, nll_loss, mse_loss, l1_loss, binary_cross_entropy_with_logits", loss_cases()),
        write_json(args.out, "batch_norm.json", "nn.BatchNorm2d: 3 training steps then eval", batch_norm_cases()),
        write_json(args.out, "optimizers.json", "SGD / Adam / AdamW: 5 steps on fixed gradients, state_dict layout", optimizer_cases(),
                   implementation_flags=IMPLEMENTATION_FLAGS),
        write_json(args.out, "schedulers.json", "StepLR / CosineAnnealingLR / OneCycleLR lr sequences", scheduler_cases()),
        write_json(args.out, "modules.json", "state-dict layouts and forward outputs of W1, W2 and a BatchNorm model", module_cases(args.out)),
        write_json(args.out, "init.json", "default-init statistics of large Conv2d / ConvTranspose2d / Linear layers", init_cases()),
        write_json(args.out, "safetensors.json", "a safetensors file written by safetensors.torch.save_file", safetensors_interop(args.out)),
    ]
    total = 0
    for name in sorted(os.listdir(args.out)):
        size = os.path.getsize(os.path.join(args.out, name))
        total += size
        print(f"{size:>9}  {name}")
    print(f"{total:>9}  total ({len(written)} JSON fixtures, torch {torch.__version__}, {SAFETENSORS_WRITER})")


if __name__ == "__main__":
    sys.exit(main())
