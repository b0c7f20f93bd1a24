"""Figures of docs/gan3d.md: real procedural furniture next to a gan3d checkpoint's samples, and the data set at 64^3.

    PYTHONPATH=src python benchmarks/figures/gan3d_figures.py --ckpt RUN_DIR [--n 36] [--seed 0] \
        [--label "default, 3 CPU-min (EMA G)"]

Writes docs/img/gan3d_real_vs_generated.png (left: held-out shapes, right: samples of the checkpoint's EMA
generator, seed ``--seed``) and docs/img/gan3d_furniture64.png (the first 24 training shapes at 64^3).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

from gankit import api
from gankit.config import DataConfig
from gankit.data.voxels import load_voxels
from gankit.viz.voxels import render

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def grid(vox: torch.Tensor, size: int, nrow: int) -> Image.Image:
    g = make_grid(render(vox, size=size), nrow=nrow, padding=2, pad_value=1.0)
    return Image.fromarray(((g + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy())


def titled(im: Image.Image, title: str) -> Image.Image:
    out = Image.new("RGB", (im.width, im.height + 22), "white")
    out.paste(im, (0, 22))
    ImageDraw.Draw(out).text((6, 5), title, fill=(0, 0, 0))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--n", type=int, default=36)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)
    gen = api.load(a.ckpt)
    res = gen.recipe.shape[-1]
    nrow = math.ceil(math.sqrt(a.n))
    real = load_voxels(DataConfig(name="voxel-furniture", size=res, split="test", limit=a.n)).voxels().float()
    fake = gen.sample(a.n, seed=a.seed)
    left = titled(grid(real, 64, nrow), f"real: held-out voxel-furniture {res}^3")
    right = titled(grid(fake, 64, nrow), f"generated: {a.label or gen.config.preset} (step {gen.checkpoint.step})")
    both = Image.new("RGB", (left.width + right.width + 12, max(left.height, right.height)), "white")
    both.paste(left, (0, 0))
    both.paste(right, (left.width + 12, 0))
    both.save(IMG / "gan3d_real_vs_generated.png")
    v64 = load_voxels(DataConfig(name="voxel-furniture", size=64, limit=24)).voxels().float()
    titled(grid(v64, 96, 8), "voxel-furniture at 64^3 (training split, shapes 0-23)").save(
        IMG / "gan3d_furniture64.png"
    )
    print(IMG / "gan3d_real_vs_generated.png", IMG / "gan3d_furniture64.png")


if __name__ == "__main__":
    main()
