"""``gankit text2img CKPT "a smiling cat" -n 16 --seed S --out grid.png``: text models (``TextPipeline``:
DF-GAN, StackGAN).

Any caption works, seen in training or not: the text encoder the model was trained with (MiniLM by default)
embeds it. ``--interpolate "cat" "dog"`` walks from one caption's embedding to the other's (slerp) with the
noise of each row held fixed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import GankitError


def text2img(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="text model run dir, checkpoints dir or step folder"),
    captions: Optional[List[str]] = typer.Argument(None, metavar="CAPTION...", help="one or more captions"),
    n: int = typer.Option(16, "-n", help="images per caption (interpolation: rows)"),
    seed: int = typer.Option(0, "--seed"),
    out: Optional[Path] = typer.Option(None, "--out", help="grid PNG (default: RUN/generated/text2img-...png)"),
    interpolate: Optional[List[str]] = typer.Option(
        None, "--interpolate", help="two captions: --interpolate A --interpolate B, or --interpolate A B"
    ),
    steps: int = typer.Option(8, "--steps", help="interpolation frames per row"),
    stage1: bool = typer.Option(False, "--stage1", help="stage II model: show its stage-I images instead"),
    no_ema: bool = typer.Option(False, "--no-ema", help="the raw generator instead of its EMA copy"),
    device: str = typer.Option("cpu", "--device"),
):
    """Draw images for captions with a text-to-image checkpoint (a grid: one row block per caption)."""
    from ..pipelines import TextPipeline
    from ..viz.grid import save_grid

    texts = [c for c in (captions or []) if c.strip()]
    walk = list(interpolate or [])
    if walk and len(walk) == 1 and len(texts) == 1:  # --interpolate A B: typer leaves B as an argument
        walk, texts = walk + texts, []
    if walk and len(walk) != 2:
        raise GankitError(f"--interpolate takes two captions, got {len(walk)}")
    if not texts and not walk:
        raise GankitError('give a caption, e.g. gankit text2img RUN "a red apple"')
    if n < 1 or n > 1024:
        raise GankitError(f"-n must be between 1 and 1024, got {n}")
    if walk and steps < 2:
        raise GankitError(f"--steps must be at least 2, got {steps}")
    model = TextPipeline.from_checkpoint(ckpt_path, device, ema=not no_ema)
    output = "stage1" if stage1 else "image"
    if stage1 and output not in model.outputs:
        raise GankitError("--stage1: only a stage-II model has stage-I images to show")
    if walk:
        images, nrow = model.walk(walk[0], walk[1], steps, rows=n, seed=seed, output=output), steps
        tag = f"interp-{_slug(walk[0])}-{_slug(walk[1])}"
    else:
        images = model(texts, n, seed, output=output)
        nrow = n if len(texts) > 1 else max(1, round(math.sqrt(n)))
        tag = _slug(texts[0]) + (f"-and-{len(texts) - 1}-more" if len(texts) > 1 else "")
    c = model.checkpoint
    out = out or c.run_dir / "generated" / f"text2img-{tag}-step{c.step}-seed{seed}.png"
    save_grid(images, out, nrow)
    typer.echo(f"grid: {out}")


def _slug(text: str) -> str:
    s = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return "-".join(p for p in s.split("-") if p)[:40] or "caption"


def register(app: typer.Typer) -> None:
    app.command("text2img")(text2img)
