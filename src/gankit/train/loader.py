"""Checkpoint -> recipe -> weights: the one loader behind every pipeline (``gankit.pipelines``: sample, translate,
upscale, text2img, voxels, age, export, the studio) and a run's ``model.init_from``.

``read(path)`` opens a checkpoint and names its family (so a caller can refuse the wrong kind before anything is
built); ``load_recipe`` rebuilds the recipe from the checkpoint's own config and data shape and loads every
network, plus EMA copies for sampling; ``start_weights`` hands a new run the networks of an earlier one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, GankitError
from ..models import config_from_dict, recipe_class
from ..models.base import Recipe
from . import checkpoint as ckpt


@dataclass
class Loaded:
    """A recipe rebuilt from a checkpoint. ``nets``: the networks to use (the EMA copy where one was used), in eval
    mode; ``ema``: the names whose EMA copy is in ``nets``."""

    recipe: Recipe
    checkpoint: ckpt.Checkpoint
    nets: dict[str, nn.Module]
    ema: tuple[str, ...]


def read(path: str | Path | ckpt.Checkpoint) -> tuple[ckpt.Checkpoint, type[Recipe]]:
    """The checkpoint at ``path`` (run dir / checkpoints dir / step folder, or one already read) and its recipe
    class."""
    c = path if isinstance(path, ckpt.Checkpoint) else ckpt.load(path)
    name = c.config.get("recipe")
    if not name:
        raise CheckpointError(f"{c.path}: checkpoint config names no recipe")
    return c, recipe_class(name)


def load_recipe(source: str | Path | ckpt.Checkpoint, device: str | torch.device = "cpu", ema: bool = True) -> Loaded:
    """Rebuild the recipe of ``source`` on ``device`` with its trained weights (all nets; EMA copies when ``ema``)."""
    c = source if isinstance(source, ckpt.Checkpoint) else ckpt.load(source)
    cfg = config_from_dict(c.config)
    cls = recipe_class(cfg.recipe)
    info = c.state.get("data_info", {})
    shape = tuple(info.get("shape") or ())
    if len(shape) not in (3, 4):  # C x H x W images, or 1 x D x H x W voxels
        raise GankitError(f"{c.path}: checkpoint does not record the data shape")
    recipe = cls(cfg, shape, len(info.get("classes", [])), device)
    for n, net in recipe.networks().items():
        c.load_into(net, f"net.{n}")
    nets, used = dict(recipe.networks()), []
    if ema:
        for n in c.state.get("ema_nets", []):
            if n in nets:
                nets[n] = copy.deepcopy(nets[n])
                c.load_into(nets[n], f"ema.{n}")
                used.append(n)
    for net in nets.values():
        net.eval()
    return Loaded(recipe, c, nets, tuple(used))


def start_weights(path: "str | Path | ckpt.Checkpoint", recipe: str) -> dict[str, dict[str, torch.Tensor]]:
    """The trained networks (``{net name: state_dict}``, and ``ema.<name>`` for their EMA copies) of a ``recipe``
    checkpoint (a path, or one already read), to start a new run from (``model.init_from``)."""
    c = path if isinstance(path, ckpt.Checkpoint) else ckpt.load(path)
    if c.config.get("recipe") != recipe:
        raise CheckpointError(f"model.init_from={path}: a {c.config.get('recipe')} checkpoint, not {recipe}")
    names = sorted({k.split(".")[1] for k in c.tensors if k.startswith("net.")})
    out = {n: c.net(f"net.{n}") for n in names}
    out.update({f"ema.{n}": c.net(f"ema.{n}") for n in c.state.get("ema_nets", []) if n in names})
    return out
