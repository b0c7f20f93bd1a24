"""``gankit data list | fetch | check | prepare``: datasets on this machine, the one explicit download, a folder's
report, and preparing a training folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Tuple

import typer

from ..errors import GankitError

data_app = typer.Typer(no_args_is_help=True, help="Datasets: list, fetch (explicit download), check.")


def data_list():
    """Named datasets and whether they are found on this machine."""
    from ..config import DataConfig
    from ..data import NAMED, load

    for name, desc in NAMED.items():
        status = ""
        if ":" not in name:
            try:
                s = load(DataConfig(name=name, limit=1, size=32 if name == "twemoji" else None))
                status = f"[found: {s.source}]"
            except GankitError:
                status = "[missing]"
        typer.echo(f"{name:14s} {desc} {status}")


def data_fetch(
    name: str = typer.Argument(..., help="mnist, fashion-mnist, cifar10 or inception (FID weights)"),
    root: Optional[Path] = typer.Option(None, "--root", help="default: ~/.cache/gankit"),
):
    """Download a dataset (the only command that uses the network)."""
    from ..data.fetch import fetch

    path = fetch(name, root)
    typer.echo(f"{name}: {path}")


def data_check(
    spec: str = typer.Argument(..., help="folder:PATH, a path, or a dataset name"),
    as_json: bool = typer.Option(False, "--json", help="the report as JSON"),
    size: Optional[int] = typer.Option(None, "--size", help="voxel sets: the grid side (16, 32, 64)"),
):
    """Look at every image and report: count, sizes, modes, unreadable files, duplicates, classes, transparency,
    and the settings to train with. Exit 0 (with warnings), 2 only when nothing is usable."""
    from ..data import voxels
    from ..data.check import check, format_text

    if spec in voxels.NAMED or voxels.is_voxel_spec(spec):  # count, classes, occupancy histogram
        from ..config import DataConfig
        from ..data import load

        typer.echo(json.dumps(voxels.describe(load(DataConfig(name=spec, size=size))), indent=1))
        return
    rep = check(spec)
    typer.echo(json.dumps(rep.to_dict(), indent=1) if as_json else format_text(rep))
    if not rep.usable:
        raise GankitError(f"{rep.source}: no usable images")


def data_prepare(
    src: Optional[Path] = typer.Argument(None, help="folder of images (searched recursively)"),
    out: Path = typer.Option(..., "--out", help="folder for the prepared images"),
    size: Optional[int] = typer.Option(None, "--size", help="side of the square images (faces: 64)"),
    fit: str = typer.Option("crop", "--fit", help="non-square images: crop (centre), pad or stretch"),
    pairs: Optional[Tuple[Path, Path]] = typer.Option(
        None, "--pairs", metavar="A B", help="pix2pix A|B images from two folders matched by file name"
    ),
    split: float = typer.Option(0.0, "--split", help="fraction held out into OUT/test/ (e.g. 0.1)"),
    background: str = typer.Option("white", "--background", help="colour for pad (RGB) and pairs"),
    crop_faces: Optional[Path] = typer.Option(
        None, "--crop-faces", metavar="CASCADE.xml", help="crop faces with this OpenCV cascade file"
    ),
    margin: float = typer.Option(0.2, "--margin", help="extra border around a face, fraction of its size"),
    min_face: int = typer.Option(24, "--min-face", help="smallest face in pixels"),
    max_faces: Optional[int] = typer.Option(None, "--max-faces", help="at most this many per image"),
    voxelize: bool = typer.Option(
        False,
        "--voxelize",
        help="meshes/voxel files -> one OUT.npz stack "
        "of --size^3 grids with labels (first-level subfolders are classes)",
    ),
):
    """Prepare a training folder: square and resize (--size, --fit), hold out a split (--split), build pix2pix
    pairs (--pairs A B), crop faces (--crop-faces, book ch.4), or voxelise a folder of meshes once (--voxelize,
    gan3d: `--data OUT.npz`). Prints what it wrote and skipped."""
    from ..data import prepare

    if voxelize:
        from ..data.voxels import save_stack

        if src is None:
            raise GankitError("--voxelize needs SRC, the folder of meshes or voxel files")
        n = save_stack(src, out, size or 32, skip_bad=True)
        typer.echo(f"{n.n} shape(s) in {len(n.classes)} class(es) -> {out}  ({n.skipped} unreadable)")
        return

    if pairs is not None:
        if src is not None or crop_faces is not None:
            raise GankitError("--pairs A B takes its images from A and B: give no SRC and no --crop-faces")
        rep = prepare.prepare_pairs(pairs[0], pairs[1], out, size, fit, split, background)
        typer.echo(rep.summary())
        typer.echo(
            f"train pix2pix: gankit train pix2pix --data folder:{rep.out}" + (f" data.size={size}" if size else "")
        )
        return
    if src is None:
        raise GankitError("give SRC, the folder of images (or --pairs A B)")
    if crop_faces is not None:
        rep = prepare.crop_faces(
            src,
            out,
            crop_faces,
            size=size or 64,
            margin=margin,
            min_size=min_face,
            max_faces=max_faces,
            log=lambda m: typer.echo(m, err=True),
        )
        typer.echo(
            f"{rep.faces} face(s) from {rep.images} image(s) -> {rep.out}  "
            f"({rep.no_face} without a face, {rep.unreadable} unreadable)"
        )
        return
    if size is None and not split and fit == "crop":
        raise GankitError(
            "nothing to do: give --size N (with --fit), --split F, --pairs A B or --crop-faces CASCADE.xml"
        )
    rep = prepare.prepare_images(src, out, size, fit, split, background)
    typer.echo(rep.summary())
    typer.echo(f"check it: gankit data check folder:{Path(rep.out) / 'train' if split else rep.out}")


def register(app: typer.Typer) -> None:
    data_app.command("list")(data_list)
    data_app.command("fetch")(data_fetch)
    data_app.command("check")(data_check)
    data_app.command("prepare")(data_prepare)
    app.add_typer(data_app, name="data")
