"""pix2pix training throughput on the CPU at 64 px (the emoji `default` preset's nets: 6-level U-Net ngf 32,
34x34 conditional PatchGAN ndf 32), one full iteration = D on (input, target) + (input, G(input)), then G with
cGAN + 100 L1. img/s counts input images. Random tensors stand in for data (loading is not timed).

Usage: python benchmarks/bench_pix2pix.py [iters] [threads] [variant ...]   (variants: fp32, channels-last, bf16)
"""

from __future__ import annotations

import sys
import time

import torch

from gankit.models import resolve_config
from gankit.models.pix2pix import Pix2Pix
from gankit.train.fast import apply_fast_path

VARIANTS = {"fp32": [], "channels-last": ["train.channels_last=true"], "bf16": ["train.precision=bf16"]}


def throughput(overrides: list[str], iters: int, batch: int = 8, size: int = 64) -> float:
    torch.manual_seed(0)
    cfg = resolve_config("pix2pix", "default", None, [f"train.batch_size={batch}", f"data.size={size}", *overrides])
    r = Pix2Pix(cfg, (3, size, size), 0, "cpu")
    r.gen = torch.Generator().manual_seed(0)
    ctx = apply_fast_path(r, cfg.train, torch.device("cpu"))
    a, b = torch.rand(64, 3, size, size) * 2 - 1, torch.rand(64, 3, size, size) * 2 - 1
    if "train.channels_last=true" in overrides:
        a, b = a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(1)

    def step():
        idx = torch.randint(0, 64, (batch,), generator=g)
        with ctx():
            r.train_step({"A": a[idx], "B": b[idx]})

    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    return iters * batch / (time.perf_counter() - t)


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    names = sys.argv[3:] or ["fp32"]
    torch.set_num_threads(threads)
    print(f"pix2pix default nets, 64 px, batch 8, {threads} thread(s), torch {torch.__version__}")
    for n in names:
        print(f"{n:14s} {throughput(VARIANTS[n], iters):7.1f} img/s")


if __name__ == "__main__":
    main()
