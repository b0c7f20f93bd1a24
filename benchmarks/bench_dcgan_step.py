"""Training-step throughput of the Keras CIFAR-10 DCGAN tutorial's nets under gankit's speed
options, side by side.

The iteration is the tutorial's (and benchmarks/refs/'s): D on 64 real + 64 fake, then G on 128; img/s counts
the 128.
Usage: python benchmarks/bench_dcgan_step.py [iters] [variant ...]
"""

from __future__ import annotations

import sys
import time

import torch

from gankit.models import recipe_class, resolve_config
from gankit.train.fast import apply_fast_path

FAST = [
    "train.channels_last=true",
    "train.precision=auto",
    "train.fused=true",
    "model.reuse_fakes=true",
]  # as the defaults
VARIANTS = {
    "default-fast": FAST,
    "fp32-eager": [],
    "channels-last": ["train.channels_last=true"],
    "bf16": ["train.precision=bf16"],
    "cl+bf16": ["train.channels_last=true", "train.precision=bf16"],
    "cl+bf16+fused": ["train.channels_last=true", "train.precision=bf16", "train.fused=true"],
    "cl+bf16+fused+reuse": [
        "train.channels_last=true",
        "train.precision=bf16",
        "train.fused=true",
        "model.reuse_fakes=true",
    ],
    "cl+bf16+fused+compile": [
        "train.channels_last=true",
        "train.precision=bf16",
        "train.fused=true",
        "train.compile=true",
    ],
}
SEED_ITERATION = ["model.d_split_steps=false", "model.g_batch_mult=2", "train.batch_size=64", "data.size=32"]


def build(overrides):
    cfg = resolve_config("dcgan", "tutorial", overrides=SEED_ITERATION + overrides)
    r = recipe_class("dcgan")(cfg, (3, 32, 32), 0, "cpu")
    r.gen = torch.Generator().manual_seed(0)
    ctx = apply_fast_path(r, cfg.train, torch.device("cpu"))
    return r, ctx


def throughput(overrides, iters: int) -> float:
    r, ctx = build(overrides)
    data = torch.rand(2048, 3, 32, 32) * 2 - 1
    if "train.channels_last=true" in overrides:  # the Trainer converts batches the same way
        data = data.contiguous(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(1)

    def step():
        idx = torch.randint(0, len(data), (64,), generator=g)
        with ctx():
            r.train_step({"image": data[idx]})

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    return iters * 128 / (time.perf_counter() - t)


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    names = sys.argv[2:] or list(VARIANTS)
    for name in names:
        print(f"{name:24s} img_per_s={throughput(VARIANTS[name], iters):.1f}", flush=True)


if __name__ == "__main__":
    main()
