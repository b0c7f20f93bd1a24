"""Does the book's 64 px DCGAN learn with batch norm after G's convolutions? `book` vs `book-bn` vs `paper`.

Trains the three presets one after another at the same step budget and batch (one thread each), then writes
  OUT/summary.json   per run and saved step: sample diversity relative to real data (health/diversity), the
                     per-pixel spread across the 64 grid latents (0: every latent draws the same image), the
                     fraction of generated pixels saturated at tanh's asymptotes (|x| > 0.95), D's accuracies
  OUT/strip.png      4 fixed latents per saved step and run (benchmarks/figures/book_crosscheck.py)
Usage: python benchmarks/dcgan64_book_bn.py OUT [--steps 60] [--batch 32] [--every 10] [--presets book-bn,book,paper]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def train(preset: str, out: Path, steps: int, batch: int, every: int) -> Path:
    runs = out / preset
    if not (runs.exists() and any(runs.iterdir())):
        cmd = [
            sys.executable,
            "-m",
            "gankit.cli",
            "train",
            "dcgan",
            "-p",
            preset,
            "--steps",
            str(steps),
            "--out",
            str(runs),
            "--no-progress",
            f"train.batch_size={batch}",
            "train.threads=1",
            f"train.sample_every={every}",
            f"train.log_every={every}",
            f"train.ckpt_every={steps}",
        ]
        print(" ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True)
    (run,) = runs.iterdir()
    return run


def cells(run: Path, step: int, pad: int = 2) -> np.ndarray:
    """The images of a saved sample grid (samples/step-*.png, 8 per row, 2 px padding) in [-1, 1]."""
    g = np.asarray(Image.open(run / "samples" / f"step-{step:07d}.png").convert("RGB"), dtype=np.float32)
    n = 8
    cell = (g.shape[1] - pad) // n - pad
    rows = (g.shape[0] - pad) // (cell + pad)
    return (
        np.stack(
            [
                g[
                    pad + r * (cell + pad) : pad + r * (cell + pad) + cell,
                    pad + c * (cell + pad) : pad + c * (cell + pad) + cell,
                ]
                for r in range(rows)
                for c in range(n)
            ]
        )
        / 127.5
        - 1
    )


def saturation(run: Path, step: int) -> float:
    return float((np.abs(cells(run, step)) > 0.95).mean())


def spread(run: Path, step: int) -> float:
    """Mean per-pixel standard deviation across the grid's latents: 0 when every latent draws the same image."""
    return float(cells(run, step).std(axis=0).mean())


def summarise(run: Path, steps: list[int]) -> dict:
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    div = {r["step"]: r["health/diversity"] for r in rows if "health/diversity" in r}
    acc = {r["step"]: (r.get("D/acc_real"), r.get("D/acc_fake")) for r in rows if "D/acc_fake" in r}
    return {
        str(s): {
            "diversity": div.get(s),
            "spread_across_latents": spread(run, s),
            "saturated": saturation(run, s),
            "D_acc_real_fake": acc.get(s),
        }
        for s in steps
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--presets", default="book-bn,book,paper")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    steps = list(range(0, a.steps + 1, a.every))
    runs = {p: train(p, a.out, a.steps, a.batch, a.every) for p in a.presets.split(",")}
    summary = {
        "steps": a.steps,
        "batch": a.batch,
        "threads": 1,
        "runs": {p: summarise(r, steps) for p, r in runs.items()},
    }
    (a.out / "summary.json").write_text(json.dumps(summary, indent=1))
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/figures/book_crosscheck.py"),
            str(a.out / "strip.png"),
            ",".join(map(str, steps)),
            *[f"-p {p}={r}" for p, r in runs.items()],
        ],
        check=True,
    )
    for p, s in summary["runs"].items():
        last = s[str(steps[-1])]
        print(
            f"{p:8s} step {steps[-1]}: diversity {last['diversity']:.3f}, spread {last['spread_across_latents']:.3f}, "
            f"saturated {last['saturated']:.3f}"
        )


if __name__ == "__main__":
    main()
