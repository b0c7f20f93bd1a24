"""``gankit age CKPT face.png [--to BIN | --all] --out DIR``: re-age a face with an ageing model (``AgePipeline``:
agecgan stage 2).

Any size and mode (greyscale, RGBA on white, 16-bit ...). For a model trained on photographs the largest frontal
face (dlib's HOG detector) is cropped with a margin like IMDB-WIKI's crops; no face found is an error (exit 2)
unless ``--no-detect`` takes the whole image. Emoji models take the whole image. The face is encoded (E), its
latent optimised for identity (stage 3, ``--steps``), and drawn at every age bin: ``<stem>-ages.png`` holds the
input first, then one column per bin; ``--to BIN`` writes ``<stem>-<BIN>.png`` only, ``--all`` both the strip
and one file per bin. A picture far from the training faces (an apple, a cat) gets a one-line warning on stderr
(``AgePipeline.far_inputs``) and is re-aged all the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch
import typer
from PIL import Image

from ..errors import GankitError


def age(
    ckpt_path: Path = typer.Argument(
        ..., metavar="CKPT", help="stage-2 agecgan run dir, checkpoints dir or step folder"
    ),
    image: Path = typer.Argument(..., metavar="FACE", help="image file (any size; greyscale and RGBA are fine)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    to: Optional[str] = typer.Option(None, "--to", help="one target age bin, e.g. 60+ (photos) or older (emoji)"),
    all_bins: bool = typer.Option(False, "--all", help="the strip and one image per bin"),
    age_of_input: Optional[str] = typer.Option(
        None, "--from", help="the input's own age bin, the y0 of the latent optimisation (default: the middle bin)"
    ),
    steps: Optional[int] = typer.Option(None, "--steps", help="latent optimisation steps (stage 3; 0: encoder only)"),
    detect: Optional[bool] = typer.Option(
        None,
        "--detect/--no-detect",
        help="crop the largest face first (default: on for photo models, off for emoji models)",
    ),
    identity: Optional[str] = typer.Option(None, "--identity", help="identity embedder: emoji, dlib or none"),
    device: str = typer.Option("cpu", "--device"),
):
    """Re-age a face: a strip across all ages (input first), or one target age."""
    from ..data.images import open_rgb, to_uint8
    from ..pipelines import AgePipeline
    from ..viz.grid import save_grid, save_png

    if to is not None and all_bins:
        raise GankitError("--to and --all exclude each other")
    if identity not in (None, "emoji", "dlib", "none"):
        raise GankitError(f"--identity must be emoji, dlib or none, got '{identity}'")
    model = AgePipeline.from_checkpoint(ckpt_path, device, identity=identity)
    classes = model.classes
    target = model.bin_index(to) if to is not None else None
    y0 = model.bin_index(age_of_input, "--from") if age_of_input is not None else len(classes) // 2
    if not image.is_file():
        raise GankitError(f"{image}: no such file")
    x = model.face(open_rgb(image, "white"), detect)  # DataError (a GankitError) for unreadable files
    far = model.far_inputs(x)
    for _, d, t in far:  # a warning, not an error: the picture is re-aged all the same
        typer.echo(model.far_message(str(image), d, t), err=True)
    y = torch.tensor([y0], device=device)
    z = model.latents(x, y, steps, check=False)
    outs = [model.reage(z, torch.tensor([b], device=device)) for b in range(len(classes))]
    out.mkdir(parents=True, exist_ok=True)
    stem, written = image.stem, []
    if target is None:
        written.append(
            save_grid(
                torch.cat([x.float().cpu()] + [o.cpu() for o in outs]), out / f"{stem}-ages.png", nrow=len(classes) + 1
            )
        )
    if target is not None or all_bins:
        for b in [target] if target is not None else range(len(classes)):
            arr = to_uint8(outs[b][0].cpu()).permute(1, 2, 0).numpy()
            safe = classes[b].replace("+", "plus").replace("/", "-")
            written.append(save_png(Image.fromarray(arr), out / f"{stem}-{safe}.png"))
    typer.echo(
        json.dumps(
            {
                "input": str(image),
                "columns": ["input"] + classes if target is None else [classes[target]],
                "assumed_input_bin": classes[y0],
                "latent_steps": model.opts.latent_steps if steps is None else steps,
                "identity": getattr(model.identity, "name", "none"),
                "far_from_training": bool(far),
                "files": [str(p) for p in written],
            }
        )
    )


def register(app: typer.Typer) -> None:
    app.command("age")(age)
