"""Rows of runs over training, 4 fixed latents per saved step, for the README's book ch.4 figures.
usage: python benchmarks/figures/book_crosscheck.py OUT.png STEPS LABEL=RUN [LABEL=RUN ...]
STEPS is a comma list (0,25,50); RUN is a gankit run directory (samples/step-*.png grids) or a folder of
benchmarks/keras_book_ch4.py outputs (step-*.npy)."""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

N, PAD, SIZE = 4, 2, 48


def samples(run: Path, step: int) -> list[Image.Image] | None:
    npy, png = run / f"step-{step:05d}.npy", run / "samples" / f"step-{step:07d}.png"
    if npy.exists():
        x = ((np.load(npy)[:N] + 1) * 127.5).clip(0, 255).astype(np.uint8)
        return [Image.fromarray(i) for i in x]
    if png.exists():
        g = Image.open(png).convert("RGB")
        cell = (g.size[0] - PAD) // 8 - PAD
        return [g.crop((PAD + i * (cell + PAD), PAD, PAD + i * (cell + PAD) + cell, PAD + cell)) for i in range(N)]
    return None


def main(out: str, steps: str, *runs: str) -> None:
    steps = [int(s) for s in steps.split(",")]
    rows = [(r.split("=", 1)[0], Path(r.split("=", 1)[1])) for r in runs]
    label_w, gap, block = 170, 10, N * (SIZE + 1)
    fig = Image.new("RGB", (label_w + len(steps) * (block + gap), 16 + len(rows) * (SIZE + 6)), "white")
    d = ImageDraw.Draw(fig)
    for j, s in enumerate(steps):
        d.text((label_w + j * (block + gap), 2), f"step {s}", fill="black")
    for r, (name, run) in enumerate(rows):
        y = 16 + r * (SIZE + 6)
        d.text((2, y + SIZE // 2 - 6), name, fill="black")
        for j, s in enumerate(steps):
            for i, im in enumerate(samples(run, s) or []):
                fig.paste(im.resize((SIZE, SIZE)), (label_w + j * (block + gap) + i * (SIZE + 1), y))
    fig.save(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
