"""The ``gankit`` command line. Bad input: one line on stderr and exit code 2."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from .errors import GankitError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train, evaluate and use generative adversarial networks.")
data_app = typer.Typer(no_args_is_help=True, help="Datasets: list, fetch (explicit download), check.")
app.add_typer(data_app, name="data")


def fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


# --------------------------------------------------------------------------- train


@app.command(context_settings={"allow_extra_args": False})
def train(
    recipe: Optional[str] = typer.Argument(None, help="mlp-gan, dcgan, lsgan (see `gankit presets`)"),
    overrides: Optional[List[str]] = typer.Argument(None, help="dotted overrides, e.g. train.lr=1e-4 data.size=32"),
    preset: str = typer.Option("default", "--preset", "-p", help="preset name (see `gankit presets`)"),
    config_file: Optional[Path] = typer.Option(None, "--config", help="YAML file merged over the preset"),
    data: Optional[str] = typer.Option(None, "--data", help="dataset name, folder:PATH or a path (data.name)"),
    steps: Optional[int] = typer.Option(None, "--steps", help="budget in steps (train.steps)"),
    epochs: Optional[float] = typer.Option(None, "--epochs", help="budget in epochs (train.epochs)"),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="budget in minutes (train.minutes)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="train.seed"),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu, cuda, mps (train.device)"),
    out: Path = typer.Option(Path("runs"), "--out", help="parent folder of the numbered run directories"),
    resume: Optional[Path] = typer.Option(None, "--resume", help="continue the run in this directory"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="skip unreadable images and count them"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the resolved config and exit"),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Rich progress bar"),
    vgg_weights: Optional[Path] = typer.Option(None, "--vgg-weights", help="srgan: torchvision VGG19 state_dict (model.vgg_weights)"),
):
    """Train a recipe (or resume a run) and write runs/NNNNN-<recipe>-<data>/."""
    from . import config as C
    from .models import config_from_dict, resolve_config
    from .train import checkpoint as ckpt

    flags = list(overrides or [])
    if recipe is not None and "=" in recipe:  # `gankit train --resume RUN train.steps=9`: no recipe given
        flags.insert(0, recipe)
        recipe = None
    for key, val in (("data.name", data), ("train.steps", steps), ("train.epochs", epochs),
                     ("train.minutes", minutes), ("train.seed", seed), ("train.device", device),
                     ("model.vgg_weights", vgg_weights)):
        if val is not None:
            flags.append(f"{key}={val}")
    if skip_bad:
        flags.append("data.skip_bad=true")
    if resume is not None:
        c = ckpt.load(resume)
        raw = C.merge(c.config, C.parse_overrides(flags))
        changed = {k.split("=")[0] for k in flags}
        not_budget = [k for k in changed if k not in ("train.steps", "train.epochs", "train.minutes", "train.device",
                                                      "train.threads", "train.log_every", "train.sample_every",
                                                      "train.ckpt_every", "train.keep")]
        if not_budget:
            fail(f"--resume keeps the run's config; only budgets and logging can change (not {', '.join(not_budget)})")
        if recipe is not None and recipe != raw["recipe"]:
            fail(f"--resume: the run is a {raw['recipe']} run, not {recipe}")
        cfg = config_from_dict(raw)
        run_dir = c.run_dir
    else:
        if recipe is None:
            fail("name a recipe (gankit presets lists them) or --resume RUN_DIR")
        cfg = resolve_config(recipe, preset, config_file, flags)
        run_dir = None
    if dry_run:
        typer.echo(C.dump(cfg), nl=False)
        return
    from .api import trainer as make_trainer

    trainer = make_trainer(cfg, out=out, resume=run_dir, progress=progress)
    path = trainer.fit()
    if trainer.is_main:
        typer.echo(f"run: {path}  (step {trainer.step})")


@app.command()
def presets(
    recipe: Optional[str] = typer.Argument(None, help="only this recipe's presets"),
    diff: Optional[str] = typer.Option(None, "--diff", metavar="PRESET",
                                       help="the keys PRESET changes, down its bases to the dataclass defaults"),
):
    """List the bundled presets, or what one changes (`gankit presets dcgan --diff book`)."""
    from .config import list_presets, preset_diff
    from .models import recipe_class

    if diff is not None:
        if recipe is None:
            fail("--diff names a preset of a recipe: gankit presets RECIPE --diff PRESET")
        for line in preset_diff(recipe_class(recipe), diff):
            typer.echo(line)
        return
    if recipe is not None:
        recipe_class(recipe)  # an unknown recipe is an error, not an empty list
    for r, preset, desc in list_presets():
        if recipe in (None, r):
            typer.echo(f"{r:10s} {preset:10s} {desc}")


# --------------------------------------------------------------------------- use a checkpoint


def _parse_latent(value: str, dim: int):
    import torch

    try:
        nums = [float(v) for v in value.split(",")]
    except ValueError:
        fail(f"--latent takes a number or {dim} comma-separated numbers, got '{value}'")
    if len(nums) == 1:
        return torch.full((1, dim), nums[0])
    if len(nums) != dim:
        fail(f"--latent has {len(nums)} numbers; this generator takes {dim}")
    return torch.tensor(nums)[None]


@app.command()
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

    from . import api
    from .viz.grid import save_grid, save_images

    if n < 1:
        fail("-n must be at least 1")
    gen = api.load(ckpt_path, device=device, ema=not no_ema)
    z = _parse_latent(latent, gen.recipe.latent_dim).expand(n, -1) if latent is not None else None
    images = gen.sample(n, seed=seed, cls=cls, z=z)
    if images.dim() == 5:  # voxels (gan3d): shaded renders; `gankit voxels` exports meshes
        from .viz.voxels import render
        images = render(images)
    nrow = grid or max(1, round(math.sqrt(n)))
    run = gen.checkpoint.run_dir
    tag = f"step{gen.checkpoint.step}-seed{seed}" + (f"-class{cls}" if cls is not None else "") + \
          ("-latent" if latent is not None else "")
    out = out or run / "generated" / f"sample-{tag}.png"
    save_grid(images, out, nrow)
    typer.echo(f"grid: {out}")
    if singles is not None:
        paths = save_images(images, singles, prefix=f"sample-{tag}")
        typer.echo(f"{len(paths)} images: {singles}")


@app.command()
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
    from . import api
    from .viz.grid import save_grid

    gen = api.load(ckpt_path, device=device)
    images = api.interpolate(gen, steps=steps, rows=rows, mode=mode, seed=seed)
    out = out or gen.checkpoint.run_dir / "generated" / f"interp-{mode}-step{gen.checkpoint.step}-seed{seed}.png"
    save_grid(images, out, steps)
    typer.echo(f"strip: {out}")


@app.command()
def info(ckpt_path: Path = typer.Argument(..., metavar="CKPT"), as_json: bool = typer.Option(False, "--json")):
    """What a checkpoint holds: networks and parameter counts, step, data, config."""
    from collections import defaultdict

    from . import config as C
    from .models import config_from_dict
    from .train import checkpoint as ckpt

    c = ckpt.load(ckpt_path)
    groups: dict[str, int] = defaultdict(int)
    for k, v in c.tensors.items():
        parts = k.split(".")
        if parts[0] in ("net", "ema"):
            if not k.endswith(("running_mean", "running_var", "num_batches_tracked", "_u", "_v")):
                groups[f"{parts[0]}.{parts[1]}"] += v.numel()
    s = c.state
    if "param_counts" in s:  # exact: buffers (BN statistics, an image pool) are not parameters
        groups = {f"net.{n}": v for n, v in s["param_counts"].items()}
        groups.update({f"ema.{n}": s["param_counts"][n] for n in s.get("ema_nets", []) if n in s["param_counts"]})
    summary = {
        "path": str(c.path), "recipe": s["config"]["recipe"], "preset": s["config"].get("preset"),
        "step": s["step"], "epoch": s.get("epoch"), "train_seconds": round(s.get("elapsed", 0), 1),
        "gankit": s.get("gankit"), "torch": s.get("torch"), "created": s.get("created"),
        "data": s.get("data_info"), "parameters": dict(groups),
        "optimizers": {n: {"lr": m["param_groups"][0].get("lr"), "states": len(m["state"])} for n, m in s.get("optim", {}).items()},
        "rng_saved": sorted({k.split(".")[1] for k in c.tensors if k.startswith("rng.")} | set(s.get("rng", {}))),
        "data_position": s.get("data"), "best": s.get("best"),
    }
    if as_json:
        typer.echo(json.dumps({**summary, "config": s["config"]}, indent=1))
        return
    for k, v in summary.items():
        if k == "parameters":
            typer.echo("parameters:")
            for name, cnt in v.items():
                typer.echo(f"  {name:8s} {cnt:,}")
        else:
            typer.echo(f"{k}: {v}")
    typer.echo("config:")
    for line in C.dump(config_from_dict(s["config"])).splitlines():
        typer.echo(f"  {line}")


# --------------------------------------------------------------------------- data


@data_app.command("list")
def data_list():
    """Named datasets and whether they are found on this machine."""
    from .config import DataConfig
    from .data import NAMED, load

    for name, desc in NAMED.items():
        status = ""
        if ":" not in name:
            try:
                s = load(DataConfig(name=name, limit=1, size=32 if name == "twemoji" else None))
                status = f"[found: {s.source}]"
            except GankitError as e:
                status = "[missing]"
        typer.echo(f"{name:14s} {desc} {status}")


@data_app.command("fetch")
def data_fetch(name: str = typer.Argument(..., help="mnist, fashion-mnist, cifar10 or inception (FID weights)"),
               root: Optional[Path] = typer.Option(None, "--root", help="default: ~/.cache/gankit")):
    """Download a dataset (the only command that uses the network)."""
    from .data.fetch import fetch

    path = fetch(name, root)
    typer.echo(f"{name}: {path}")


@data_app.command("check")
def data_check(spec: str = typer.Argument(..., help="folder:PATH, a path, or a dataset name"),
               as_json: bool = typer.Option(False, "--json", help="the report as JSON"),
               size: Optional[int] = typer.Option(None, "--size", help="voxel sets: the grid side (16, 32, 64)")):
    """Look at every image and report: count, sizes, modes, unreadable files, duplicates, classes, transparency,
    and the settings to train with. Exit 0 (with warnings), 2 only when nothing is usable."""
    from .data import voxels
    from .data.check import check, format_text

    if spec in voxels.NAMED or voxels.is_voxel_spec(spec):  # count, classes, occupancy histogram
        from .config import DataConfig
        from .data import load

        typer.echo(json.dumps(voxels.describe(load(DataConfig(name=spec, size=size))), indent=1))
        return
    rep = check(spec)
    typer.echo(json.dumps(rep.to_dict(), indent=1) if as_json else format_text(rep))
    if not rep.usable:
        fail(f"{rep.source}: no usable images")


from .cli_upscale import register as _register_upscale  # noqa: E402  (gankit upscale, gankit sr-eval)

_register_upscale(app)
from .cli_eval import register as _register_eval  # noqa: E402  (gankit eval, gankit metrics ...)

_register_eval(app)


from .cli_translate import register as _register_translate  # noqa: E402  (gankit translate, translate-eval)

_register_translate(app)
from .cli_voxels import voxels as _voxels  # noqa: E402  (gankit voxels: gan3d)

app.command("voxels")(_voxels)
from .cli_age import age as _age  # noqa: E402  (gankit age CKPT FACE: agecgan)

app.command("age")(_age)
from .cli_text import text2img as _text2img  # noqa: E402  (gankit text2img: stackgan)

app.command("text2img")(_text2img)


@data_app.command("prepare")
def data_prepare(src: Optional[Path] = typer.Argument(None, help="folder of images (searched recursively)"),
                 out: Path = typer.Option(..., "--out", help="folder for the prepared images"),
                 size: Optional[int] = typer.Option(None, "--size", help="side of the square images (faces: 64)"),
                 fit: str = typer.Option("crop", "--fit", help="non-square images: crop (centre), pad or stretch"),
                 pairs: Optional[Tuple[Path, Path]] = typer.Option(None, "--pairs", metavar="A B",
                                                                    help="pix2pix A|B images from two folders "
                                                                         "matched by file name"),
                 split: float = typer.Option(0.0, "--split", help="fraction held out into OUT/test/ (e.g. 0.1)"),
                 background: str = typer.Option("white", "--background", help="colour for pad (RGB) and pairs"),
                 crop_faces: Optional[Path] = typer.Option(None, "--crop-faces", metavar="CASCADE.xml",
                                                           help="crop faces with this OpenCV cascade file"),
                 margin: float = typer.Option(0.2, "--margin", help="extra border around a face, fraction of its size"),
                 min_face: int = typer.Option(24, "--min-face", help="smallest face in pixels"),
                 max_faces: Optional[int] = typer.Option(None, "--max-faces", help="at most this many per image"),
                 voxelize: bool = typer.Option(False, "--voxelize", help="meshes/voxel files -> one OUT.npz stack "
                                               "of --size^3 grids with labels (first-level subfolders are classes)")):
    """Prepare a training folder: square and resize (--size, --fit), hold out a split (--split), build pix2pix
    pairs (--pairs A B), crop faces (--crop-faces, book ch.4), or voxelise a folder of meshes once (--voxelize,
    gan3d: `--data OUT.npz`). Prints what it wrote and skipped."""
    from .data import prepare

    if voxelize:
        from .data.voxels import save_stack

        if src is None:
            fail("--voxelize needs SRC, the folder of meshes or voxel files")
        n = save_stack(src, out, size or 32, skip_bad=True)
        typer.echo(f"{n.n} shape(s) in {len(n.classes)} class(es) -> {out}  ({n.skipped} unreadable)")
        return

    if pairs is not None:
        if src is not None or crop_faces is not None:
            fail("--pairs A B takes its images from A and B: give no SRC and no --crop-faces")
        rep = prepare.prepare_pairs(pairs[0], pairs[1], out, size, fit, split, background)
        typer.echo(rep.summary())
        typer.echo(f"train pix2pix: gankit train pix2pix --data folder:{rep.out}" + (f" data.size={size}" if size else ""))
        return
    if src is None:
        fail("give SRC, the folder of images (or --pairs A B)")
    if crop_faces is not None:
        rep = prepare.crop_faces(src, out, crop_faces, size=size or 64, margin=margin, min_size=min_face,
                                 max_faces=max_faces, log=lambda m: typer.echo(m, err=True))
        typer.echo(f"{rep.faces} face(s) from {rep.images} image(s) -> {rep.out}  "
                   f"({rep.no_face} without a face, {rep.unreadable} unreadable)")
        return
    if size is None and not split and fit == "crop":
        fail("nothing to do: give --size N (with --fit), --split F, --pairs A B or --crop-faces CASCADE.xml")
    rep = prepare.prepare_images(src, out, size, fit, split, background)
    typer.echo(rep.summary())
    typer.echo(f"check it: gankit data check folder:{Path(rep.out) / 'train' if split else rep.out}")


from .cli_studio import export as _export, serve as _serve  # noqa: E402  (gankit serve, gankit export)

app.command("serve")(_serve)
app.command("export")(_export)


def main(argv: list[str] | None = None) -> int:
    try:
        ret = app(args=argv, standalone_mode=False)
        if isinstance(ret, int):  # click returns typer.Exit's code instead of raising it here
            return ret
    except GankitError as e:
        typer.echo(f"error: {e}", err=True)
        return 2
    except typer.Exit as e:
        return e.exit_code
    except KeyboardInterrupt:
        typer.echo("aborted", err=True)
        return 130
    except typer.Abort:
        return 130
    except Exception as e:  # usage errors (Typer's bundled click): show them, exit 2
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
