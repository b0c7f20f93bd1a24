"""Time of FID for 10k generated 28x28 samples against cached reference statistics, generation included.

Target: <= 60 s on a 2-core CPU, with the Fashion-MNIST domain extractor. Two numbers are reported:
- ``in_process_s``: ``gankit.evaluation.evaluate(ckpt, metrics="fid", n=10000)``: load the checkpoint, generate 10k,
  extract features, FID against the cached reference features;
- ``cli_s``: the same as a user runs it, ``gankit eval CKPT --metrics fid --n 10000``, process start-up included
  (this is the number the target applies to).
Set-up that is not timed: a small mlp-gan checkpoint (a few steps: speed does not depend on quality), the domain
extractor (the cached one when present, else a quick one trained into a temporary cache) and one warm-up
evaluation that fills the reference cache.

Usage: python benchmarks/bench_fid.py [--ckpt RUN_DIR] [--n 10000] [--threads 2]
Prints one JSON line; exit code 1 when the CLI time exceeds the target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 60.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", help="a 28x28 checkpoint / run dir (default: a throwaway mlp-gan run)")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from gankit import api, evaluation
    from gankit.metrics import extractors

    tmp = Path(tempfile.mkdtemp(prefix="gankit-bench-fid-"))
    if not extractors.domain_path("fashion-mnist").is_file():
        os.environ["GANKIT_CACHE"] = str(tmp / "cache")
        print(
            "no cached domain:fashion-mnist extractor: training a quick one into a temporary cache "
            "(speed only; run `gankit metrics train-extractor fashion-mnist` for the real one)",
            file=sys.stderr,
        )
        extractors.train_extractor("fashion-mnist", epochs=0.1, log=lambda m: None)
    ckpt = args.ckpt
    if ckpt is None:
        ckpt = api.train(
            "mlp-gan",
            overrides=[
                "data.name=fashion-mnist",
                "train.steps=20",
                "train.log_every=20",
                "train.device=cpu",
                "data.limit=2048",
            ],
            out=tmp / "runs",
        )
    evaluation.evaluate(ckpt, metrics="fid", n=500)  # warm-up: computes and caches the reference features

    t0 = time.perf_counter()
    res = evaluation.evaluate(ckpt, metrics="fid", n=args.n)
    in_process = time.perf_counter() - t0
    assert res["card"]["image_size"][-1] == 28 and res["card"]["n_fake"] == args.n

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    t0 = time.perf_counter()
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "gankit.cli",
            "eval",
            str(ckpt),
            "--metrics",
            "fid",
            "--n",
            str(args.n),
            "--json",
            "--out",
            str(tmp / "result.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    cli = time.perf_counter() - t0
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        return 2
    out = {
        "bench": "fid-10k-28px-cached-ref",
        "n": args.n,
        "extractor": res["card"]["extractor"]["name"],
        "threads": args.threads,
        "fid": round(res["fid"], 4),
        "in_process_s": round(in_process, 2),
        "cli_s": round(cli, 2),
        "target_s": TARGET_S,
        "ok": cli <= TARGET_S,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
