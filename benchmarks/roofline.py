"""How close each family's training step comes to this machine's own matrix-multiply peak.

1. The machine's peak: a 4096x4096 ``torch.matmul`` on the current threads (best of a few), in bf16 where the CPU
   has native bf16 (AVX512-BF16/AMX) and in fp32 otherwise (emulated bf16 runs at well under 1 % of fp32's speed:
   not a peak worth comparing with, and minutes per matmul).
2. For every recipe's default preset (and ``paper`` where it differs), one training step on a real batch of its
   own data (``data.limit`` small): FLOPs counted by ``torch.utils.flop_counter`` (matmuls and convolutions,
   forward and backward), the step timed with the preset's own precision/layout ("preset") and with the fast path
   forced on ("fast": ``train.precision=auto``, channels-last, fused Adam), img/s and the share of that peak.
3. Inference: ``gankit translate --fit native`` and ``gankit upscale`` library calls on one 1024x1024 image,
   ``--precision fp32`` (before) vs ``--precision auto`` (after: bf16 autocast + channels-last).

Usage: python benchmarks/roofline.py [--iters 3] [--only dcgan,pix2pix,inference] [--json out.json]
Prints a Markdown table (and JSON lines with --json). Times are wall-clock on this machine: run it on an idle one.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from gankit.models import RECIPES, recipe_class, resolve_config
from gankit.train.fast import apply_fast_path, cpu_has_bf16, resolve_precision

FAST = ["train.precision=auto", "train.channels_last=true", "train.fused=true"]
SMALL_DATA = ["data.limit=64"]


def gemm_peak(dtype: torch.dtype, n: int = 4096, reps: int = 3) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def machine_peak() -> tuple[str, float]:
    """The GEMM peak steps are compared with: bf16 where it is native, fp32 where bf16 would be emulated."""
    return ("bf16", gemm_peak(torch.bfloat16)) if cpu_has_bf16() else ("fp32", gemm_peak(torch.float32))


def presets() -> list[tuple[str, str]]:
    out = []
    for r in RECIPES:
        out.append((r, "default"))
        try:
            resolve_config(r, "paper", overrides=[])
            out.append((r, "paper"))
        except Exception:
            pass
    return out


def build(recipe: str, preset: str, extra: list[str]):
    cfg = resolve_config(recipe, preset, overrides=SMALL_DATA + extra)
    cls = recipe_class(recipe)
    data = cls.load_data(cfg)
    r = cls(cfg, data.shape, data.num_classes, torch.device("cpu"))
    r.gen = torch.Generator().manual_seed(0)
    ctx = apply_fast_path(r, cfg.train, torch.device("cpu"))
    b = min(cfg.train.batch_size, len(data))
    batch = data.batch(torch.arange(b), torch.device("cpu"), torch.Generator().manual_seed(0))
    if cfg.train.channels_last:
        batch = {
            k: v.contiguous(memory_format=torch.channels_last) if torch.is_tensor(v) and v.dim() == 4 else v
            for k, v in batch.items()
        }
    return cfg, r, ctx, batch, b


def flops_and_time(r, ctx, batch, iters: int, sync=lambda: None) -> tuple[float, float]:
    """FLOPs of one training step of recipe ``r`` on ``batch`` (counted by torch.utils.flop_counter) and its mean
    wall time over ``iters`` timed steps after two warm-up steps."""

    def step(i):
        r.step = i
        with ctx():
            r.train_step(batch)

    step(0)
    with FlopCounterMode(display=False) as fc:
        step(1)
    flops = fc.get_total_flops()
    step(2)
    sync()
    t = time.perf_counter()
    for i in range(iters):
        step(3 + i)
    sync()
    return flops, (time.perf_counter() - t) / iters


def measure_step(recipe: str, preset: str, fast: bool, iters: int) -> dict:
    cfg, r, ctx, batch, b = build(recipe, preset, FAST if fast else [])
    flops, dt = flops_and_time(r, ctx, batch, iters)
    return {
        "recipe": recipe,
        "preset": preset,
        "mode": "fast" if fast else "preset",
        "precision": resolve_precision(cfg.train.precision, torch.device("cpu")),
        "batch": b,
        "img_per_s": b / dt,
        "step_ms": dt * 1e3,
        "gflop": flops / 1e9,
        "tflop_s": flops / dt / 1e12,
    }


INFERENCE = {  # row label -> (recipe whose default G runs, how the library runs it)
    "translate 1024² (pix2pix G, --fit native)": ("pix2pix", "translate"),
    "translate 1024² (cyclegan G, --fit native)": ("cyclegan", "translate"),
    "upscale 1024² → 4096² (srgan G, tiles 128)": ("srgan", "upscale"),
}


def measure_inference(label: str, fast: bool, iters: int = 1) -> dict:
    """One 1024x1024 image through the library call ``gankit translate --fit native`` / ``gankit upscale`` makes,
    with the default preset's G (untrained weights: the time does not depend on their values), fp32 as loaded
    (``--precision fp32``) or the inference fast path (``--precision auto``)."""
    from gankit.pipelines import TranslatePipeline, UpscalePipeline
    from gankit.pipelines.upscale import upscale_tensor

    recipe, how = INFERENCE[label]
    _, r, _, _, _ = build(recipe, "default", ["train.precision=fp32", "train.channels_last=false"])
    G, cpu, precision = r.G.eval(), torch.device("cpu"), "auto" if fast else "fp32"
    x = torch.rand(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(0)) * 2 - 1
    if how == "upscale":
        model = UpscalePipeline(G, r.opts, precision=precision, recipe=r)
        call = lambda: upscale_tensor(model, x, r.opts.scale, 128, 16)  # noqa: E731 (the CLI's default tiles)
    else:
        tr = TranslatePipeline(r, {"G": G}, "AtoB", precision=precision)
        call = lambda: tr.translate_tensor(x[0], "native")  # noqa: E731
    call()
    with FlopCounterMode(display=False) as fc:
        call()
    t = time.perf_counter()
    for _ in range(iters):
        call()
    dt = (time.perf_counter() - t) / iters
    flops = fc.get_total_flops()
    return {
        "recipe": label,
        "preset": "default",
        "mode": "fast" if fast else "fp32",
        "precision": resolve_precision(precision, cpu),
        "batch": 1,
        "img_per_s": 1 / dt,
        "step_ms": dt * 1e3,
        "gflop": flops / 1e9,
        "tflop_s": flops / dt / 1e12,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default=None)
    ap.add_argument("--presets", default="default,paper", help="which presets to measure (gan3d's paper: minutes/step)")
    a = ap.parse_args()
    kind, peak = machine_peak()
    peaks = {kind: peak}
    print(f"GEMM peak on {torch.get_num_threads()} threads: {kind} {peak / 1e12:.3f} TFLOP/s\n")
    print(f"| recipe / preset | mode | precision | batch | img/s | GFLOP/step | TFLOP/s | share of {kind} peak |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    rows = []
    only = [s for s in a.only.split(",") if s]
    for recipe, preset in presets():
        if (only and recipe not in only) or preset not in a.presets.split(","):
            continue
        for fast in (False, True):
            try:
                m = measure_step(recipe, preset, fast, a.iters)
            except Exception as e:  # a family whose data or weights are missing here: say so, go on
                print(
                    f"| {recipe} / {preset} | {'fast' if fast else 'preset'} | not measured: "
                    f"{str(e).splitlines()[0][:80]} | | | | | |"
                )
                continue
            m["share_peak"] = m["tflop_s"] * 1e12 / peak
            rows.append(m)
            print(
                f"| {recipe} / {preset} | {m['mode']} | {m['precision']} | {m['batch']} | {m['img_per_s']:.1f} | "
                f"{m['gflop']:.2f} | {m['tflop_s']:.3f} | {100 * m['share_peak']:.0f} % |",
                flush=True,
            )
    if not only or "inference" in only:
        print(
            "\n| inference, one 1024×1024 image | mode | precision | batch | img/s | GFLOP/image | TFLOP/s | "
            f"share of {kind} peak |"
        )
        print("|---|---|---|---:|---:|---:|---:|---:|")
        for label in INFERENCE:
            for fast in (False, True):
                m = measure_inference(label, fast)
                m["share_peak"] = m["tflop_s"] * 1e12 / peak
                rows.append(m)
                print(
                    f"| {label} | {m['mode']} | {m['precision']} | 1 | {m['img_per_s']:.3f} | {m['gflop']:.1f} | "
                    f"{m['tflop_s']:.3f} | {100 * m['share_peak']:.0f} % |",
                    flush=True,
                )
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"peaks": peaks, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
