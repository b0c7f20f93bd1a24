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
from .models import recipe_class
from .models.base import Recipe
from .train import checkpoint as ckpt


def train(recipe: str, preset: str = "default", overrides: list[str] | None = None, config_file=None,
          out="runs", progress: bool = False) -> Path:
    from .train.trainer import Trainer

    cfg = C.resolve(recipe, preset, config_file, overrides)
    return Trainer(cfg, out=out, progress=progress).fit()


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
    c = ckpt.load(path)
    cfg = C.from_dict(c.config)
    info = c.state.get("data_info", {})
    shape = tuple(info.get("shape") or ())
    if len(shape) != 3:
        raise GankitError(f"{c.path}: checkpoint does not record the image shape")
    cls = recipe_class(cfg.recipe)
    if cls.use_instead:
        raise GankitError(f"{c.path}: a {cfg.recipe} checkpoint maps images to images, it does not sample from "
                          f"noise; use: {cls.use_instead}")
    recipe = cls(cfg, shape, len(info.get("classes", [])), device)
    for n, net in recipe.networks().items():
        c.load_into(net, f"net.{n}")
    G = recipe.G
    used_ema = False
    if ema and "G" in c.state.get("ema_nets", []):
        import copy
        G = copy.deepcopy(recipe.G)
        c.load_into(G, "ema.G")
        used_ema = True
    G.eval()
    return Generator(recipe, G, c, used_ema)


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
