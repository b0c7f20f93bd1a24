"""Batch throughput and private memory: an image folder read from the memory-mapped decoded cache vs in memory.

Writes a folder of N PNGs (default 2,000 at 128 px, 94 MiB decoded), then, alternating over rounds, runs each
variant in a fresh process: load the folder (``data.cache=memory`` / ``mmap``, the cache already built and in the
page cache), then draw random batches of 64 the way the Trainer does (``ImageSet.batch`` on shuffled indices) for
a fixed number of batches. Each process reports its load time, batches/s and the growth of its private memory
(VmData: what it allocated; the map's pages belong to the page cache and are shared between ranks).

Usage: python benchmarks/bench_data_cache.py [--n 2000] [--size 128] [--batches 200] [--rounds 3]
The last line is JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def vmdata() -> int:
    with open("/proc/self/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmData"))) * 1024


def write_folder(d: Path, n: int, side: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(32):
        im = Image.fromarray(rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)).resize((side, side))
        b = io.BytesIO()
        im.save(b, format="PNG")
        blobs.append(b.getvalue())
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (d / f"{i:06d}.png").write_bytes(blobs[i % len(blobs)])


def one(folder: str, mode: str, batches: int, batch: int) -> dict:
    """Runs in a child process: load, then time random batches."""
    import torch

    from gankit.config import DataConfig
    from gankit.data import load

    torch.set_num_threads(1)
    base = vmdata()
    t = time.perf_counter()
    s = load(DataConfig(name=f"folder:{folder}", cache=mode))
    loaded = time.perf_counter() - t
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(s), generator=g)
    t = time.perf_counter()
    for i in range(batches):
        idx = order[(i * batch) % len(s) :][:batch]
        if len(idx) < batch:
            idx = torch.randperm(len(s), generator=g)[:batch]
        s.batch(idx)["image"].sum()
    dt = time.perf_counter() - t
    return {
        "mode": mode,
        "cache": s.cache.split(" ")[0],
        "load_s": loaded,
        "img_per_s": batches * batch / dt,
        "private_mib": (vmdata() - base) / 2**20,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "MODE"))
    a = ap.parse_args()
    if a.child:
        print(json.dumps(one(a.child[0], a.child[1], a.batches, a.batch)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / f"pics{a.size}"
        write_folder(folder, a.n, a.size)
        env = {**os.environ, "GANKIT_CACHE": str(Path(tmp) / "cache"), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, __file__, "--batches", str(a.batches), "--batch", str(a.batch), "--child", str(folder)]
        t = time.perf_counter()
        build = json.loads(
            subprocess.run(cmd + ["mmap"], capture_output=True, text=True, env=env, check=True).stdout.splitlines()[-1]
        )
        build_s = time.perf_counter() - t
        runs: dict[str, list[dict]] = {"memory": [], "mmap": []}
        for _ in range(a.rounds):
            for mode in runs:  # alternate the variants within each round
                out = subprocess.run(cmd + [mode], capture_output=True, text=True, env=env, check=True).stdout
                runs[mode].append(json.loads(out.splitlines()[-1]))
    decoded = a.n * 3 * a.size * a.size / 2**20
    print(
        f"{a.n} PNGs at {a.size} px ({decoded:.0f} MiB decoded), batches of {a.batch}, {a.rounds} rounds; "
        f"first mmap load (decode + write the cache): {build['load_s']:.1f} s"
    )
    print("| variant | load (s, median) | batch img/s (median) | private memory growth (MiB, median) |")
    print("|---|---|---|---|")
    res = {}
    for mode, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("load_s", "img_per_s", "private_mib")}
        res[mode] = med
        print(f"| {mode} | {med['load_s']:.2f} | {med['img_per_s']:.0f} | {med['private_mib']:.0f} |")
    ratios = [m["img_per_s"] / r["img_per_s"] for m, r in zip(runs["mmap"], runs["memory"])]
    ratio = statistics.median(ratios)
    print(
        f"mmap / memory batch throughput: median of per-round ratios {ratio:.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(
        json.dumps(
            {
                "n": a.n,
                "size": a.size,
                "decoded_mib": decoded,
                "build_s": build["load_s"],
                "build_wall_s": build_s,
                "median": res,
                "ratio_mmap_over_memory": ratio,
            }
        )
    )


if __name__ == "__main__":
    main()
