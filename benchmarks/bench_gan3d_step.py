"""gan3d training-step speed (shapes/s) and peak memory at 32^3 and 64^3, fp32 vs bf16 and NCDHW vs channels-last-3d.

    PYTHONPATH=src python benchmarks/bench_gan3d_step.py [--steps 3] [--threads 1] [--configs small,book]
        [--batch 8] [--json benchmarks/gan3d_step.json]

Each configuration runs in a fresh process (peak RSS is per process): one warm-up step, then ``--steps`` timed ones
on random occupancy batches of the preset's resolution, one thread. Speed is reported per CPU-second of the process
(``time.process_time``), which a busy machine does not inflate the way it inflates wall time; compare the rows of
one run side by side.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from gankit.models import resolve_config
from gankit.train.fast import cpu_has_bf16

VARIANTS = {
    "fp32": ["train.precision=fp32", "train.channels_last=false"],
    "fp32+cl3d": ["train.precision=fp32", "train.channels_last=true"],
    "bf16": ["train.precision=bf16", "train.channels_last=false"],
    "bf16+cl3d": ["train.precision=bf16", "train.channels_last=true"],
}


def one(preset: str, variant: str, steps: int, threads: int, batch: int) -> dict:
    import torch

    from gankit.models import recipe_class
    from gankit.train.fast import apply_fast_path, to_channels_last
    from gankit.train.stats import Collector

    torch.set_num_threads(threads)
    cfg = resolve_config("gan3d", preset, None, [f"train.batch_size={batch}", *VARIANTS[variant]])
    res = cfg.data.size
    r = recipe_class("gan3d")(cfg, (1, res, res, res), 6, "cpu")
    r._report = Collector()
    r.gen = torch.Generator().manual_seed(0)
    autocast = apply_fast_path(r, cfg.train, torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    times = []
    for i in range(steps + 1):
        x = (torch.rand(batch, 1, res, res, res, generator=g) < 0.1).float()
        b = {"voxels": to_channels_last(x) if cfg.train.channels_last else x}
        t0, c0 = time.perf_counter(), time.process_time()
        r.step = i
        with autocast():
            r.train_step(b)
        if i:
            times.append((time.perf_counter() - t0, time.process_time() - c0))
    sec = sorted(t for t, _ in times)[len(times) // 2]
    cpu = sorted(c for _, c in times)[len(times) // 2]
    return {
        "preset": preset,
        "res": res,
        "variant": variant,
        "batch": batch,
        "threads": threads,
        "s_per_step": round(sec, 3),
        "shapes_per_s": round(batch / sec, 2),
        "cpu_s_per_step": round(cpu, 3),
        "shapes_per_cpu_s": round(batch / cpu, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--configs", default="small,book")
    # bf16 without AVX512-BF16/AMX is emulated: minutes per step, nothing a user would run
    ap.add_argument("--variants", default=",".join(v for v in VARIANTS if cpu_has_bf16() or "bf16" not in v))
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(one(a.child[0], a.child[1], a.steps, a.threads, a.batch)))
        return
    rows = []
    for preset in a.configs.split(","):
        for v in a.variants.split(","):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    preset,
                    v,
                    "--steps",
                    str(a.steps),
                    "--threads",
                    str(a.threads),
                    "--batch",
                    str(a.batch),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            r = rows[-1]
            print(
                f"{preset:6s} {r['res']}^3 {v:10s} batch {r['batch']:3d}: {r['cpu_s_per_step']:7.3f} CPU-s/step "
                f"{r['shapes_per_cpu_s']:7.2f} shapes/CPU-s (wall {r['shapes_per_s']:.2f} shapes/s)  "
                f"peak RSS {r['peak_rss_mib']} MiB",
                flush=True,
            )
    if a.json:
        from pathlib import Path

        Path(a.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
