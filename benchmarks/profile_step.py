"""Where a training step's time goes: the profile behind each family's share of the machine's GEMM peak.

For each recipe's default preset (its own precision and layout, as ``roofline.py`` measures it), one training step
on a real batch is run under ``torch.profiler`` (after warm-up steps) and every operator's *self* CPU time is put in
one of a few bins:

- ``conv/GEMM``: the convolution and matrix-multiply kernels (forward and backward), the work the FLOP count counts;
- ``norm``: batch / instance / group / layer norm, forward and backward;
- ``layout``: copies and reorders (``copy_``, ``to``, ``contiguous``, ``clone``, ``cat``, padding, pixel shuffle);
- ``elementwise``: activations, adds, multiplies, losses and the rest of the pointwise ops;
- ``optimizer``: the Adam update (fused or not) and gradient zeroing;
- ``other``: everything else (random numbers, reductions, indexing, bookkeeping).

It also prints the rate the conv/GEMM kernels alone reach (the step's FLOPs over their time): when that rate is
near the GEMM peak and the share is still low, the time is lost outside the matrix kernels (memory-bound layers,
small-matrix overhead); when the rate itself is low, the matrices are too small or thin for the kernels.

Usage: python benchmarks/profile_step.py RECIPE [RECIPE...] [--iters 3] [--out benchmarks/PROFILES.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).parent))
from roofline import build, flops_and_time, machine_peak  # noqa: E402

BINS = {
    "conv/GEMM": ("convolution", "conv1d", "conv2d", "conv3d", "conv_transpose", "mkldnn_"),  # + GEMMS below
    "norm": ("batch_norm", "instance_norm", "group_norm", "layer_norm", "native_norm"),
    "layout": (
        "copy_",
        "aten::to",
        "_to_copy",
        "contiguous",
        "clone",
        "cat",
        "pad",
        "pixel_shuffle",
        "reflection",
        "replication",
        "stack",
        "empty_strided",
        "as_strided",
        "permute",
        "transpose",
        "view",
    ),
    "optimizer": ("adam", "zero_", "_foreach", "lerp"),
    "elementwise": (
        "add",
        "mul",
        "sub",
        "div",
        "relu",
        "leaky",
        "tanh",
        "sigmoid",
        "softplus",
        "exp",
        "log",
        "pow",
        "sqrt",
        "where",
        "clamp",
        "threshold",
        "neg",
        "abs",
        "mse",
        "l1_loss",
        "binary_cross",
        "dropout",
        "bernoulli",
        "fill",
        "sum",
        "mean",
        "rsub",
        "gelu",
        "silu",
        "upsample",
        "avg_pool",
        "max_pool",
    ),
}
GEMMS = {"mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "_addmm_activation"}
ORDER = ["conv/GEMM", "norm", "layout", "elementwise", "optimizer", "other"]


def bin_of(name: str) -> str:
    n = name.lower()
    if n.split("::")[-1] in GEMMS:
        return "conv/GEMM"
    for b in ("conv/GEMM", "norm", "optimizer", "layout", "elementwise"):  # conv/norm before the pointwise words
        if any(k in n for k in BINS[b]):
            return b
    return "other"


def profile_recipe(recipe: str, iters: int) -> dict:
    cfg, r, ctx, batch, b = build(recipe, "default", [])
    flops, dt = flops_and_time(r, ctx, batch, iters)  # warms up too

    def step(i):
        r.step = i
        with ctx():
            r.train_step(batch)

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(iters):
            step(100 + i)
    bins = dict.fromkeys(ORDER, 0.0)
    ops = []
    for e in prof.key_averages():
        if e.self_cpu_time_total <= 0:
            continue
        bins[bin_of(e.key)] += e.self_cpu_time_total
        ops.append((e.self_cpu_time_total, e.key))
    total = sum(bins.values())
    ops.sort(reverse=True)
    gemm_s = bins["conv/GEMM"] / 1e6 / iters * (dt * iters * 1e6 / total)  # profiler time rescaled to wall time
    return {
        "recipe": recipe,
        "batch": b,
        "step_ms": dt * 1e3,
        "tflop_s": flops / dt / 1e12,
        "gemm_tflop_s": flops / gemm_s / 1e12 if gemm_s > 0 else float("nan"),
        "bins": {k: v / total for k, v in bins.items()},
        "top": [(k, t / total) for t, k in ops[:6]],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipes", nargs="+")
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    a = ap.parse_args()
    kind, peak = machine_peak()
    lines = [
        f"{kind} GEMM peak on {torch.get_num_threads()} threads: {peak / 1e12:.3f} TFLOP/s\n",
        "| recipe (default) | batch | step ms | share of peak | conv/GEMM kernels alone | "
        + " | ".join(ORDER)
        + " | top operators (self time) |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(ORDER) + "---|",
    ]
    print("\n".join(lines), flush=True)
    for rec in a.recipes:
        p = profile_recipe(rec, a.iters)
        top = ", ".join(f"{k.replace('aten::', '')} {100 * s:.0f} %" for k, s in p["top"])
        lines.append(
            f"| {rec} | {p['batch']} | {p['step_ms']:.0f} | {100 * p['tflop_s'] * 1e12 / peak:.0f} % | "
            f"{100 * p['gemm_tflop_s'] * 1e12 / peak:.0f} % | "
            + " | ".join(f"{100 * p['bins'][k]:.0f} %" for k in ORDER)
            + f" | {top} |"
        )
        print(lines[-1], flush=True)
    if a.out:
        a.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
