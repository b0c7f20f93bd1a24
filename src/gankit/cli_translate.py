"""``gankit translate CKPT INPUT... --direction AtoB --out DIR`` (the work is in ``gankit.translate``)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .errors import GankitError


def translate(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="run dir, checkpoints dir or step folder"),
    inputs: Optional[List[Path]] = typer.Argument(None, metavar="INPUT...", help="image files and/or folders"),
    direction: Optional[str] = typer.Option(None, "--direction", help="AtoB or BtoA (default: as trained)"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: RUN/translated/<direction>)"),
    fit: str = typer.Option("scale", "--fit", help="scale: to the model's size and back; native: own resolution"),
    test_grid_n: int = typer.Option(0, "--test-grid", help="also write a grid of N held-out input|output|target"),
    device: str = typer.Option("cpu", "--device"),
):
    """Translate images with a pix2pix or CycleGAN checkpoint (any size; outputs keep the input's size)."""
    from .train import checkpoint as ckpt
    from .translate import _inputs, load_translator, test_grid, translate_file
    from .viz.grid import save_grid, save_png

    if fit not in ("scale", "native"):
        raise GankitError(f"--fit must be scale or native, got '{fit}'")
    if not inputs and not test_grid_n:
        raise GankitError("name image files or folders to translate (or --test-grid N)")
    tr = load_translator(ckpt_path, direction, device)
    out = out or ckpt.load(ckpt_path).run_dir / "translated" / tr.direction
    jobs = _inputs(list(inputs or []))
    for src, rel in jobs:
        save_png(translate_file(tr, src, fit), out / rel)
    if jobs:
        typer.echo(f"{len(jobs)} image(s) {tr.direction}: {out}")
    if test_grid_n:
        g = save_grid(test_grid(tr, test_grid_n), out / f"test-grid-{tr.direction}.png", 8)
        typer.echo(f"grid (rows: input | output | target): {g}")
