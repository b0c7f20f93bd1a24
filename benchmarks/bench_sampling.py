"""Sampling throughput of the seed DCGAN generator: plain eager fp32 vs gankit's fast sampling path.
Prints one JSON line {variant: median img/s}. Usage: python benchmarks/bench_sampling.py [rounds]"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

from gankit.models import recipe_class, resolve_config
from gankit.train.fast import fast_sampler

BATCH, ITERS = 256, 10


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    cfg = resolve_config("dcgan", "tutorial")
    G = recipe_class("dcgan")(cfg, (3, 32, 32), 0, "cpu").G.eval()
    z = torch.randn(BATCH, 100)

    def plain(z):
        with torch.no_grad():
            return G(z)

    variants = {"eager-fp32": plain, "gankit-fast": fast_sampler(G, torch.device("cpu"))}
    res = {k: [] for k in variants}
    for _ in range(rounds):
        for name, f in variants.items():
            for _ in range(2):
                f(z)
            t = time.perf_counter()
            for _ in range(ITERS):
                f(z)
            res[name].append(BATCH * ITERS / (time.perf_counter() - t))
    print(json.dumps({k: statistics.median(v) for k, v in res.items()}))


if __name__ == "__main__":
    main()
