"""Training-step speed of a recipe's default preset with the fast path vs fp32, steps interleaved in one process (so
a busy machine slows both alike); the ratio of medians is the figure.

Usage: python benchmarks/fast_vs_fp32.py RECIPE [STEPS]   (one thread; first 2 steps of each discarded)
"""

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from roofline import FAST, build  # noqa: E402


def main():
    torch.set_num_threads(1)
    recipe, steps = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 12
    ms = {
        mode: build(
            recipe,
            "default",
            FAST if mode == "fast" else ["train.precision=fp32", "train.channels_last=false", "train.fused=false"],
        )
        for mode in ("fp32", "fast")
    }
    times = {"fp32": [], "fast": []}
    for i in range(steps):
        for mode, (_cfg, r, ctx, batch, _b) in ms.items():
            r.step = i
            t = time.perf_counter()
            with ctx():
                r.train_step(batch)
            times[mode].append(time.perf_counter() - t)
    f, q = statistics.median(times["fp32"][2:]), statistics.median(times["fast"][2:])
    print(f"{recipe}: batch {ms['fp32'][4]}, fp32 {f:.3f} s/step, fast {q:.3f} s/step, speed-up {f / q:.2f}x")


if __name__ == "__main__":
    main()
