"""Intra-class diversity of cgan variants after the same short training.

For each variant: train on Fashion-MNIST (first 6000 images) for --steps steps, then for every class the mean
pairwise distance (health.mean_pairwise_distance: images pooled to 8x8) of 16 EMA samples divided by that of 16
real images of the class. A G that ignores z scores 0; real-like variety scores about 1.

    PYTHONPATH=src python benchmarks/cgan_diversity.py --steps 400 --threads 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from gankit import api
from gankit.config import DataConfig
from gankit.data import load
from gankit.train.health import mean_pairwise_distance

TINY = ["model.g_base=64", "model.g_channels=[32,16]", "model.d_channels=[32,64]", "model.embed_dim=16"]
VARIANTS = {
    "old default (input cond, bce, dropout D)": [
        "model.g_cond=input",
        "model.loss=bce",
        "model.d_norm=none",
        "model.d_dropout=0.3",
    ],
    "hinge + SN projection D": ["model.g_cond=input", "model.loss=hinge", "model.d_norm=spectral", "model.d_dropout=0"],
    "+ CBN (class only)": [
        "model.g_cond=cbn",
        "model.z_skip=false",
        "model.loss=hinge",
        "model.d_norm=spectral",
        "model.d_dropout=0",
    ],
    "+ CBN with z at every scale": [
        "model.g_cond=cbn",
        "model.z_skip=true",
        "model.loss=hinge",
        "model.d_norm=spectral",
        "model.d_dropout=0",
    ],
}


def class_ratios(gen, real, labels, n=16) -> list[float]:
    out = []
    for c in range(10):
        r = real[labels == c][:n]
        f = gen.sample(n, seed=100 + c, cls=c)
        out.append(mean_pairwise_distance(f) / mean_pairwise_distance(r))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--full", action="store_true", help="the default preset's nets instead of tiny ones")
    ap.add_argument("--only", default=None, help="comma-separated variant indices")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    data = load(DataConfig(name="fashion-mnist", limit=6000))
    real = data.batch(torch.arange(6000))["image"]
    names = list(VARIANTS)
    if a.only:
        names = [names[int(i)] for i in a.only.split(",")]
    for name in names:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.time()
            run = api.train(
                "cgan",
                overrides=([] if a.full else TINY)
                + VARIANTS[name]
                + [
                    "data.limit=6000",
                    f"train.steps={a.steps}",
                    "train.batch_size=64",
                    "train.lr=1e-3",
                    "train.ema=0.9",
                    "train.log_every=100",
                    f"train.threads={a.threads}",
                ],
                out=d,
            )
            r = class_ratios(api.load(run), real, data.labels[:6000])
            print(
                json.dumps(
                    {
                        "variant": name,
                        "steps": a.steps,
                        "seconds": round(time.time() - t0),
                        "min_ratio": round(min(r), 3),
                        "mean_ratio": round(sum(r) / 10, 3),
                        "ratios": [round(x, 2) for x in r],
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
