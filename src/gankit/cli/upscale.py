"""``gankit upscale``: enlarge any image x4 with an srgan checkpoint; ``gankit sr-eval``: score checkpoints.

Parsing only: the tiling, the image modes and the held-out scores are in ``gankit.pipelines.upscale`` and
``gankit.metrics.sr``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import GankitError

# --------------------------------------------------------------------------- commands


def upscale(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="srgan run dir, checkpoints dir or step folder"),
    inputs: List[Path] = typer.Argument(..., metavar="INPUT...", help="image files or folders"),
    out: Path = typer.Option(..., "--out", help="output folder (PNG files named <stem>_x4.png)"),
    tile: int = typer.Option(128, "--tile", help="tile side in input pixels for large images (0: no tiling)"),
    overlap: int = typer.Option(16, "--overlap", help="overlap of neighbouring tiles in input pixels"),
    device: str = typer.Option("cpu", "--device"),
    no_ema: bool = typer.Option(False, "--no-ema", help="use the raw generator instead of its EMA copy"),
    precision: str = typer.Option(
        "auto", "--precision", help="auto (bf16 + channels-last where the hardware is fast at it), fp32, bf16 or fp16"
    ),
):
    """Enlarge images x4 (any size; alpha kept; greyscale stays greyscale)."""
    from ..data.images import input_images
    from ..pipelines import UpscalePipeline
    from ..train.fast import check_precision

    check_precision(precision)  # option values first: a bad one is named before any file is read
    files = [f for f, _ in input_images(inputs)]
    if tile < 0 or overlap < 0:
        raise GankitError("--tile and --overlap must be >= 0")
    model = UpscalePipeline.from_checkpoint(ckpt_path, device, ema=not no_ema, precision=precision)
    for f in files:
        dest = out / f"{f.stem}_x{model.scale}.png"
        res = model.upscale_file(f, dest, tile or None, overlap)
        typer.echo(f"{f} -> {dest} ({res.width}x{res.height} {res.mode})")


def sr_eval(
    ckpts: Optional[List[Path]] = typer.Argument(
        None, metavar="CKPT...", help="srgan checkpoints (none: bicubic only)"
    ),
    data: str = typer.Option("openmoji", "--data", help="HR data whose held-out split is scored"),
    size: Optional[int] = typer.Option(128, "--size", help="data.size (OpenMoji render size)"),
    limit: Optional[int] = typer.Option(None, "--limit", help="score only the first N held-out images"),
    device: str = typer.Option("cpu", "--device"),
    as_json: bool = typer.Option(False, "--json", help="print the score cards as JSON"),
    dump: Optional[Path] = typer.Option(
        None,
        "--dump",
        help="also write the held-out HR images and every method's "
        "outputs as PNG folders (DIR/hr, DIR/bicubic, DIR/model-K), e.g. for "
        "`gankit eval --real DIR/hr --fake DIR/model-1`",
    ),
):
    """Score cards on the fixed held-out split: PSNR/SSIM (Y, border = scale) of bicubic and each checkpoint."""
    from ..config import DataConfig
    from ..data.sr import load_sr
    from ..metrics.sr import sr_scores
    from ..pipelines import UpscalePipeline
    from ..pipelines.upscale import dump_outputs

    models = [(str(p), UpscalePipeline.from_checkpoint(p, device)) for p in (ckpts or [])]
    scale = models[0][1].scale if models else 4
    ds = load_sr(DataConfig(name=data, size=size), crop=4 * scale, scale=scale)
    cards = [{"model": "bicubic", **sr_scores(None, ds, scale, limit, device)["bicubic"]}]
    for name, m in models:
        res = sr_scores(m.G, ds, m.scale, limit, device)
        o = m.opts
        card = {"model": name, "stage": o.stage, "content": o.content, "step": m.checkpoint.step, **res["sr"]}
        if o.content_note:
            card["warning"] = o.content_note
        cards.append(card)
    n = min(limit or len(ds.heldout), len(ds.heldout))
    if dump is not None:
        dump_outputs(dump, ds, [m for _, m in models], n, scale, device)
        typer.echo(f"wrote {n} held-out images per method under {dump}")
    head = {"data": data, "size": size, "heldout_images": n, "metric": f"Y (BT.601), {scale}-px border cropped, 8-bit"}
    if as_json:
        typer.echo(json.dumps({**head, "cards": cards}, indent=1))
        return
    typer.echo(f"held-out {data} ({n} images); PSNR/SSIM on {head['metric']}")
    for c in cards:
        typer.echo(
            f"  {c['model']}: PSNR {c['psnr_y']:.2f} dB  SSIM {c['ssim_y']:.4f}  (RGB PSNR {c['psnr_rgb']:.2f})"
            + (f"  [{c['stage']}, content {c['content']}, step {c['step']}]" if "stage" in c else "")
        )
        if "warning" in c:
            typer.echo(f"  warning: {c['warning']}")


def register(app: typer.Typer) -> None:
    app.command("upscale")(upscale)
    app.command("sr-eval")(sr_eval)
