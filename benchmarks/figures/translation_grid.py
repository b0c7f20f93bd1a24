"""docs/img/translation-emoji.png: held-out pairs of the pix2pix run's test split, one column each; rows: the input,
pix2pix's output, CycleGAN's output, the target (Twemoji -> OpenMoji with the default presets).

    PYTHONPATH=src python benchmarks/figures/translation_grid.py RUN_PIX2PIX RUN_CYCLEGAN OUT.png [INDICES]

INDICES: a comma list of held-out pair indices (default: the first 10).
"""

import sys

import torch

from gankit.data.pairs import load_pairs
from gankit.pipelines import TranslatePipeline
from gankit.viz.grid import grid_image


def main(pix2pix: str, cyclegan: str, out: str, indices: str = "") -> None:
    p, c = TranslatePipeline.from_checkpoint(pix2pix), TranslatePipeline.from_checkpoint(cyclegan)
    held = load_pairs(p.recipe.cfg.data, paired=False).test
    picks = [int(i) for i in indices.split(",")] if indices else list(range(min(10, len(held.A))))
    b = held.batch(torch.tensor(picks))
    x, y = b["A"], b["B"]
    grid_image(torch.cat([x, p(x).cpu(), c(x).cpu(), y]), len(picks), pad=2).save(out, optimize=True)
    print(out, picks)


if __name__ == "__main__":
    main(*sys.argv[1:])
