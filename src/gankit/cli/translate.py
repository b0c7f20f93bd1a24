"""``gankit translate CKPT INPUT... --direction AtoB --out DIR`` and ``gankit translate-eval RUN...`` (parsing only:
the work is in ``gankit.pipelines.translate``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import GankitError


def translate(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="run dir, checkpoints dir or step folder"),
    inputs: Optional[List[Path]] = typer.Argument(None, metavar="INPUT...", help="image files and/or folders"),
    direction: Optional[str] = typer.Option(None, "--direction", help="AtoB or BtoA (default: as trained)"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: RUN/translated/<direction>)"),
    fit: str = typer.Option("scale", "--fit", help="scale: to the model's size and back; native: own resolution"),
    test_grid_n: int = typer.Option(0, "--test-grid", help="also write a grid of N held-out input|output|target"),
    device: str = typer.Option("cpu", "--device"),
    precision: str = typer.Option(
        "auto", "--precision", help="auto (bf16 + channels-last where the hardware is fast at it), fp32, bf16 or fp16"
    ),
):
    """Translate images with a pix2pix or CycleGAN checkpoint (any size; outputs keep the input's size)."""
    from ..data.images import input_images
    from ..pipelines import TranslatePipeline
    from ..viz.grid import save_grid, save_png

    if fit not in ("scale", "native"):
        raise GankitError(f"--fit must be scale or native, got '{fit}'")
    from ..train.fast import check_precision

    check_precision(precision)
    if not inputs and not test_grid_n:
        raise GankitError("name image files or folders to translate (or --test-grid N)")
    tr = TranslatePipeline.from_checkpoint(ckpt_path, device, direction=direction, precision=precision)
    out = out or tr.checkpoint.run_dir / "translated" / tr.direction
    jobs = input_images(inputs) if inputs else []
    for src, rel in jobs:
        save_png(tr.translate_file(src, fit), out / rel)
    if jobs:
        typer.echo(f"{len(jobs)} image(s) {tr.direction}: {out}")
    if test_grid_n:
        g = save_grid(tr.test_grid(test_grid_n), out / f"test-grid-{tr.direction}.png", 8)
        typer.echo(f"grid (rows: input | output | target): {g}")


def translate_eval(
    runs: List[Path] = typer.Argument(..., metavar="RUN...", help="pix2pix / cyclegan run dirs or checkpoints"),
    extractor: str = typer.Option("auto", "--extractor", help="FID features: domain:twemoji, inception, none"),
    as_json: Optional[Path] = typer.Option(None, "--json", help="also write the rows here"),
):
    """The held-out table: PSNR, SSIM, L1 and FID of each model on its test split (identity baseline first)."""
    from ..fileio import write_text_atomic
    from ..pipelines import TranslatePipeline
    from ..pipelines.translate import evaluate

    ext = None if extractor == "none" else extractor
    trs = [TranslatePipeline.from_checkpoint(run) for run in runs]
    first = trs[0].recipe.cfg.data
    rows = [{"model": "identity (input as output)", **evaluate(None, first, ext)}]
    for run, tr in zip(runs, trs):
        c = tr.recipe.cfg
        if (c.data.name, c.data.direction, c.data.size) != (first.name, first.direction, first.size):
            raise GankitError(
                f"{run}: trained on {c.data.name} {c.data.direction} at {c.data.size} px, unlike "
                f"{runs[0]}: the rows would not share a test set"
            )
        rows.append({"model": f"{c.recipe} ({c.preset}, step {tr.checkpoint.step})", **evaluate(tr, c.data, ext)})
    typer.echo("| model | PSNR (dB) | SSIM | L1 | FID |")
    typer.echo("|---|---|---|---|---|")
    for r in rows:
        fid_s = f"{r['fid']:.2f}" if "fid" in r else "—"
        typer.echo(f"| {r['model']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['l1']:.4f} | {fid_s} |")
    typer.echo(f"\n{rows[0]['n']} held-out pairs; FID features: {rows[0].get('extractor', 'none')}")
    if as_json:
        write_text_atomic(as_json, json.dumps(rows, indent=1))


def register(app: typer.Typer) -> None:
    app.command("translate")(translate)
    app.command("translate-eval")(translate_eval)
