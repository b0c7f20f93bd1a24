"""``gankit age CKPT face.png [--to BIN | --all] --out DIR``: re-age a face with a stage-2 agecgan checkpoint.

Any size and mode (greyscale, RGBA on white, 16-bit ...). For a model trained on photographs the largest frontal
face (dlib's HOG detector) is cropped with a margin like IMDB-WIKI's crops; no face found is an error (exit 2)
unless ``--no-detect`` takes the whole image. Emoji models take the whole image. The face is encoded (E), its
latent optimised for identity (stage 3, ``--steps``), and drawn at every age bin: ``<stem>-ages.png`` holds the
input first, then one column per bin; ``--to BIN`` writes ``<stem>-<BIN>.png`` only, ``--all`` both the strip
and one file per bin.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch
import typer
from PIL import Image

from .errors import GankitError


def crop_face(im: Image.Image, margin: float = 0.4) -> Image.Image:
    """The largest frontal face with ``margin`` x its size added on every side, as a square (padded with the edge
    colour where it leaves the picture)."""
    import numpy as np

    from .metrics.identity import detect_faces

    arr = np.asarray(im.convert("RGB"))
    boxes = detect_faces(arr, upsample=1 if max(im.size) > 300 else 2)
    if not boxes:
        raise GankitError("no face found in the image (dlib frontal face detector); use --no-detect to age the whole image")
    l, t, r, b = boxes[0]
    cx, cy, side = (l + r) / 2, (t + b) / 2, max(r - l, b - t) * (1 + 2 * margin)
    box = tuple(int(round(v)) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return im.convert("RGB").crop(box)  # PIL fills outside the picture with black; the margin rarely leaves it


def _load_face(path: Path, size: int, detect: bool) -> torch.Tensor:
    from .data.images import open_rgb, square_resize, to_float, to_tensor_u8

    if not path.is_file():
        raise GankitError(f"{path}: no such file")
    im = open_rgb(path, "white")  # DataError (a GankitError) for unreadable files
    if detect:
        im = crop_face(im)
    return to_float(to_tensor_u8(square_resize(im, size)))[None]


def _bin_index(classes: list[str], name: str) -> int:
    if name in classes:
        return classes.index(name)
    raise GankitError(f"--to {name}: not an age bin of this model (bins: {', '.join(classes)})")


def age(
    ckpt_path: Path = typer.Argument(..., metavar="CKPT", help="stage-2 agecgan run dir, checkpoints dir or step folder"),
    image: Path = typer.Argument(..., metavar="FACE", help="image file (any size; greyscale and RGBA are fine)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    to: Optional[str] = typer.Option(None, "--to", help="one target age bin, e.g. 60+ (photos) or older (emoji)"),
    all_bins: bool = typer.Option(False, "--all", help="the strip and one image per bin"),
    age_of_input: Optional[str] = typer.Option(None, "--from", help="the input's own age bin, the y0 of the latent "
                                               "optimisation (default: the middle bin)"),
    steps: Optional[int] = typer.Option(None, "--steps", help="latent optimisation steps (stage 3; 0: encoder only)"),
    detect: Optional[bool] = typer.Option(None, "--detect/--no-detect", help="crop the largest face first "
                                          "(default: on for photo models, off for emoji models)"),
    identity: Optional[str] = typer.Option(None, "--identity", help="identity embedder: emoji, dlib or none"),
    device: str = typer.Option("cpu", "--device"),
):
    """Re-age a face: a strip across all ages (input first), or one target age."""
    from .data.images import to_uint8
    from .ageing import load_model
    from .viz.grid import save_grid, save_png

    if to is not None and all_bins:
        raise GankitError("--to and --all exclude each other")
    if identity not in (None, "emoji", "dlib", "none"):
        raise GankitError(f"--identity must be emoji, dlib or none, got '{identity}'")
    model = load_model(ckpt_path, device, identity)
    classes = model.classes
    photo = model.opts.identity != "emoji"
    target = _bin_index(classes, to) if to is not None else None
    y0 = _bin_index(classes, age_of_input) if age_of_input is not None else len(classes) // 2
    x = _load_face(image, model.shape[-1], photo if detect is None else detect).to(device)
    y = torch.tensor([y0], device=device)
    z = model.latents(x, y, steps)
    outs = [model.reage(z, torch.tensor([b], device=device)) for b in range(len(classes))]
    out.mkdir(parents=True, exist_ok=True)
    stem, written = image.stem, []
    if target is None:
        written.append(save_grid(torch.cat([x.float().cpu()] + [o.cpu() for o in outs]), out / f"{stem}-ages.png",
                                 nrow=len(classes) + 1))
    if target is not None or all_bins:
        for b in ([target] if target is not None else range(len(classes))):
            arr = to_uint8(outs[b][0].cpu()).permute(1, 2, 0).numpy()
            safe = classes[b].replace("+", "plus").replace("/", "-")
            written.append(save_png(Image.fromarray(arr), out / f"{stem}-{safe}.png"))
    typer.echo(json.dumps({"input": str(image), "columns": ["input"] + classes if target is None else [classes[target]],
                           "assumed_input_bin": classes[y0], "latent_steps": model.opts.latent_steps if steps is None else steps,
                           "identity": getattr(model.identity, "name", "none"), "files": [str(p) for p in written]}))
