"""``gankit train`` (a recipe, or ``--resume RUN``), ``gankit presets`` and ``gankit info CKPT``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import GankitError


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
    vgg_weights: Optional[Path] = typer.Option(
        None, "--vgg-weights", help="srgan: torchvision VGG19 state_dict (model.vgg_weights)"
    ),
):
    """Train a recipe (or resume a run) and write runs/NNNNN-<recipe>-<data>/."""
    from .. import config as C
    from ..models import config_from_dict, resolve_config
    from ..train import checkpoint as ckpt

    flags = list(overrides or [])
    if recipe is not None and "=" in recipe:  # `gankit train --resume RUN train.steps=9`: no recipe given
        flags.insert(0, recipe)
        recipe = None
    for key, val in (
        ("data.name", data),
        ("train.steps", steps),
        ("train.epochs", epochs),
        ("train.minutes", minutes),
        ("train.seed", seed),
        ("train.device", device),
        ("model.vgg_weights", vgg_weights),
    ):
        if val is not None:
            flags.append(f"{key}={val}")
    if skip_bad:
        flags.append("data.skip_bad=true")
    if resume is not None:
        c = ckpt.load(resume)
        raw = C.merge(c.config, C.parse_overrides(flags))
        changed = {k.split("=")[0] for k in flags}
        not_budget = [
            k
            for k in changed
            if k
            not in (
                "train.steps",
                "train.epochs",
                "train.minutes",
                "train.device",
                "train.threads",
                "train.log_every",
                "train.sample_every",
                "train.ckpt_every",
                "train.keep",
            )
        ]
        if not_budget:
            raise GankitError(
                f"--resume keeps the run's config; only budgets and logging can change (not {', '.join(not_budget)})"
            )
        if recipe is not None and recipe != raw["recipe"]:
            raise GankitError(f"--resume: the run is a {raw['recipe']} run, not {recipe}")
        cfg = config_from_dict(raw)
        run_dir = c.run_dir
    else:
        if recipe is None:
            raise GankitError("name a recipe (gankit presets lists them) or --resume RUN_DIR")
        cfg = resolve_config(recipe, preset, config_file, flags)
        run_dir = None
    if dry_run:
        typer.echo(C.dump(cfg), nl=False)
        return
    from ..api import trainer as make_trainer

    trainer = make_trainer(cfg, out=out, resume=run_dir, progress=progress)
    path = trainer.fit()
    if trainer.is_main:
        typer.echo(f"run: {path}  (step {trainer.step})")


def presets(
    recipe: Optional[str] = typer.Argument(None, help="only this recipe's presets"),
    diff: Optional[str] = typer.Option(
        None, "--diff", metavar="PRESET", help="the keys PRESET changes, down its bases to the dataclass defaults"
    ),
):
    """List the bundled presets, or what one changes (`gankit presets dcgan --diff book`)."""
    from ..config import list_presets, preset_diff
    from ..models import recipe_class

    if diff is not None:
        if recipe is None:
            raise GankitError("--diff names a preset of a recipe: gankit presets RECIPE --diff PRESET")
        for line in preset_diff(recipe_class(recipe), diff):
            typer.echo(line)
        return
    if recipe is not None:
        recipe_class(recipe)  # an unknown recipe is an error, not an empty list
    for r, preset, desc in list_presets():
        if recipe in (None, r):
            typer.echo(f"{r:10s} {preset:10s} {desc}")


def info(ckpt_path: Path = typer.Argument(..., metavar="CKPT"), as_json: bool = typer.Option(False, "--json")):
    """What a checkpoint holds: networks and parameter counts, step, data, config."""
    from collections import defaultdict

    from .. import config as C
    from ..models import config_from_dict
    from ..train import checkpoint as ckpt

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
        "path": str(c.path),
        "recipe": s["config"]["recipe"],
        "preset": s["config"].get("preset"),
        "step": s["step"],
        "epoch": s.get("epoch"),
        "train_seconds": round(s.get("elapsed", 0), 1),
        "gankit": s.get("gankit"),
        "torch": s.get("torch"),
        "created": s.get("created"),
        "data": s.get("data_info"),
        "parameters": dict(groups),
        "optimizers": {
            n: {"lr": m["param_groups"][0].get("lr"), "states": len(m["state"])} for n, m in s.get("optim", {}).items()
        },
        "rng_saved": sorted({k.split(".")[1] for k in c.tensors if k.startswith("rng.")} | set(s.get("rng", {}))),
        "data_position": s.get("data"),
        "best": s.get("best"),
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


def register(app: typer.Typer) -> None:
    app.command(context_settings={"allow_extra_args": False})(train)
    app.command()(presets)
    app.command()(info)
