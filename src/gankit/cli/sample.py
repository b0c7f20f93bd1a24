"""``gankit sample`` and ``gankit interpolate``: a noise model's grid and latent walks (``pipelines.NoisePipeline``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import GankitError


def _parse_latent(value: str, dim: int):
    import torch

    try:
        nums = [float(v) for v in value.split(",")]
    except ValueError:
        raise GankitError(f"--latent takes a number or {dim} comma-separated numbers, got '{value}'") from None
    if len(nums) == 1:
        return torch.full((1, dim), nums[0])
    if len(nums) != dim:
        raise GankitError(f"--latent has {len(nums)} numbers; this generator takes {dim}")
    return torch.tensor(nums)[None]


def sample(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="run dir, checkpoints dir or step folder"),
    n: int = typer.Option(64, "-n", help="number of images"),
    grid: Optional[int] = typer.Option(None, "--grid", help="images per row of the grid (default: sqrt(n))"),
    seed: int = typer.Option(0, "--seed"),
    cls: Optional[int] = typer.Option(None, "--class", help="class index for conditional models"),
    latent: Optional[str] = typer.Option(None, "--latent", help="a constant latent (e.g. 0.75) or a full vector"),
    out: Optional[Path] = typer.Option(None, "--out", help="grid PNG path (default: RUN/generated/...)"),
    singles: Optional[Path] = typer.Option(None, "--singles", help="also write each image as a PNG into this folder"),
    no_ema: bool = typer.Option(False, "--no-ema", help="use the raw generator instead of its EMA copy"),
    device: str = typer.Option("cpu", "--device"),
):
    """Generate images from a checkpoint (its config travels with it: no training flags needed)."""
    import math

    from ..pipelines import NoisePipeline
    from ..viz.grid import save_grid, save_images

    if n < 1:
        raise GankitError("-n must be at least 1")
    gen = NoisePipeline.from_checkpoint(ckpt_path, device, ema=not no_ema)
    z = _parse_latent(latent, gen.recipe.latent_dim).expand(n, -1) if latent is not None else None
    images = gen.sample(n, seed=seed, cls=cls, z=z)
    if images.dim() == 5:  # voxels (a VoxelPipeline): shaded renders; `gankit voxels` exports meshes
        from ..viz.voxels import render

        images = render(images)
    nrow = grid or max(1, round(math.sqrt(n)))
    run = gen.checkpoint.run_dir
    tag = (
        f"step{gen.checkpoint.step}-seed{seed}"
        + (f"-class{cls}" if cls is not None else "")
        + ("-latent" if latent is not None else "")
    )
    out = out or run / "generated" / f"sample-{tag}.png"
    save_grid(images, out, nrow)
    typer.echo(f"grid: {out}")
    if singles is not None:
        paths = save_images(images, singles, prefix=f"sample-{tag}")
        typer.echo(f"{len(paths)} images: {singles}")


def interpolate(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT"),
    steps: int = typer.Option(10, "--steps", help="frames per walk"),
    rows: int = typer.Option(4, "--rows", help="number of walks (rows of the strip)"),
    mode: str = typer.Option("slerp", "--mode", help="slerp or lerp"),
    seed: int = typer.Option(0, "--seed"),
    out: Optional[Path] = typer.Option(None, "--out"),
    device: str = typer.Option("cpu", "--device"),
):
    """A latent walk strip: each row goes from one random latent to another."""
    from ..pipelines import NoisePipeline
    from ..viz.grid import save_grid

    gen = NoisePipeline.from_checkpoint(ckpt_path, device)
    images = gen.interpolate(steps=steps, rows=rows, mode=mode, seed=seed)
    out = out or gen.checkpoint.run_dir / "generated" / f"interp-{mode}-step{gen.checkpoint.step}-seed{seed}.png"
    save_grid(images, out, steps)
    typer.echo(f"strip: {out}")


def register(app: typer.Typer) -> None:
    app.command()(sample)
    app.command()(interpolate)
