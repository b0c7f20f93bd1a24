"""The Python API: train, load a checkpoint's generator, sample, interpolate.

>>> from gankit import api
>>> run = api.train("mlp-gan", overrides=["train.steps=200"])
>>> gen = api.load(run)                       # config travels with the checkpoint
>>> images = gen.sample(16, seed=0)           # float [-1, 1], N x C x H x W
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from . import config as C
from .errors import GankitError
from .metrics.periodic import PeriodicEval
from .models import resolve_config
from .models.base import Recipe
from .train import checkpoint as ckpt
from .train.loader import load_recipe, read
from .train.trainer import Trainer


def trainer(cfg: C.Config, out="runs", resume=None, progress: bool | None = None, data=None) -> Trainer:
    """A Trainer for ``cfg`` with periodic FID/KID (``train.eval_every``) wired in: what ``train`` and
    ``gankit train`` run."""
    return Trainer(cfg, out=out, resume=resume, progress=progress, data=data, evaluator=PeriodicEval)


def train(recipe: str, preset: str = "default", overrides: list[str] | None = None, config_file=None,
          out="runs", progress: bool = False) -> Path:
    cfg = resolve_config(recipe, preset, config_file, overrides)
    return trainer(cfg, out=out, progress=progress).fit()


@dataclass
class Generator:
    """A trained generator with everything needed to use it, read from one checkpoint."""

    recipe: Recipe
    G: torch.nn.Module
    checkpoint: ckpt.Checkpoint
    ema: bool

    @property
    def config(self) -> C.Config:
        return self.recipe.cfg

    @property
    def classes(self) -> list[str]:
        return self.checkpoint.state.get("data_info", {}).get("classes", [])

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        return self.recipe.latent(n, torch.Generator(self.recipe.device).manual_seed(seed))

    def labels(self, n: int, cls: int | None = None, seed: int = 0) -> torch.Tensor | None:
        if not self.recipe.conditional:
            if cls is not None:
                raise GankitError(f"{self.recipe.name} is not class-conditional: --class is not available")
            return None
        k = self.recipe.num_classes
        if cls is not None:
            if not 0 <= cls < k:
                raise GankitError(f"class {cls} is out of range: this model has classes 0..{k - 1}")
            return torch.full((n,), cls, dtype=torch.long, device=self.recipe.device)
        return torch.arange(n, device=self.recipe.device) % k

    def sample(self, n: int = 16, seed: int = 0, cls: int | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
        z = self.latents(n, seed) if z is None else z.to(self.recipe.device)
        return self.recipe.sample(self.G, z, self.labels(z.shape[0], cls, seed))


def load(path, device: str = "cpu", ema: bool = True) -> Generator:
    """The generator of a checkpoint (its EMA copy when it has one and ``ema``)."""
    c, cls = read(path)
    if cls.use_instead:
        raise GankitError(f"{c.path}: a {cls.name} checkpoint does not sample images from noise alone; "
                          f"use: {cls.use_instead}")
    loaded = load_recipe(c, device, ema)
    return Generator(loaded.recipe, loaded.nets["G"], c, "G" in loaded.ema)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` (falls back to lerp when they are parallel)."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    out = torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b
    return torch.where(so.abs() < 1e-6, lerp, out)


def interpolate(gen: Generator, steps: int = 10, rows: int = 1, mode: str = "slerp", seed: int = 0) -> torch.Tensor:
    """``rows`` latent walks of ``steps`` frames each: images of shape (rows * steps) x C x H x W."""
    if mode not in ("slerp", "lerp"):
        raise GankitError(f"--mode must be slerp or lerp, got '{mode}'")
    if steps < 2:
        raise GankitError("--steps must be at least 2")
    z = gen.latents(2 * rows, seed)
    a, b = z[:rows, None], z[rows:, None]
    t = torch.linspace(0, 1, steps, device=z.device)[None, :, None]
    walk = slerp(a, b, t) if mode == "slerp" else (1 - t) * a + t * b
    walk = walk.reshape(rows * steps, -1)
    labels = gen.labels(rows * steps, None)
    if labels is not None:
        labels = torch.arange(rows, device=z.device).repeat_interleave(steps) % gen.recipe.num_classes
    return gen.recipe.sample(gen.G, walk, labels)
