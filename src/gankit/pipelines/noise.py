"""Noise -> images: a trained generator that samples from latents (and a class label for a conditional model).

>>> from gankit.pipelines import NoisePipeline
>>> pipe = NoisePipeline.from_checkpoint("runs/00001-dcgan-twemoji32")   # config travels with the checkpoint
>>> images = pipe.sample(16, seed=0)                                     # float [-1, 1], N x C x H x W
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import GankitError
from .base import IMAGES, Exportable, Pipeline


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` (falls back to lerp when they are parallel)."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    out = torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b
    return torch.where(so.abs() < 1e-6, lerp, out)


class NoiseGenerator(nn.Module):
    """``z`` (and ``label`` for a conditional model) -> samples, as ``Recipe.generate`` computes them: what
    ``gankit export`` traces."""

    def __init__(self, recipe, G: nn.Module):
        super().__init__()
        self.G = G
        self._generate = recipe.generate  # a bound method of a plain object: not registered as a submodule

    def forward(self, z: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        return self._generate(self.G, z, label).float()


class NoisePipeline(Pipeline):
    """A trained generator with everything needed to use it: ``sample``, ``latents``, ``labels``, ``interpolate``."""

    modality = "noise"
    command = "gankit sample CKPT -n 64"
    output = {"name": "image", **IMAGES}  # what one sample is (VoxelPipeline: occupancy grids)

    def __init__(self, recipe, G: nn.Module, checkpoint=None, ema: bool = False):
        self.recipe, self.G, self.checkpoint, self.ema = recipe, G, checkpoint, ema

    @classmethod
    def from_loaded(cls, loaded, **options):
        return cls(loaded.recipe, loaded.nets["G"], loaded.checkpoint, "G" in loaded.ema)

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        return self.recipe.latent(n, torch.Generator(self.recipe.device).manual_seed(seed))

    def labels(self, n: int, cls: int | None = None, seed: int = 0) -> torch.Tensor | None:
        """Class labels for ``n`` samples: all ``cls``, or cycling through the classes; None for an unconditional
        model (where asking for a class is an error)."""
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

    def interpolate(self, steps: int = 10, rows: int = 1, mode: str = "slerp", seed: int = 0) -> torch.Tensor:
        """``rows`` latent walks of ``steps`` frames each: samples of shape (rows * steps) x ..."""
        if mode not in ("slerp", "lerp"):
            raise GankitError(f"--mode must be slerp or lerp, got '{mode}'")
        if steps < 2:
            raise GankitError("--steps must be at least 2")
        z = self.latents(2 * rows, seed)
        a, b = z[:rows, None], z[rows:, None]
        t = torch.linspace(0, 1, steps, device=z.device)[None, :, None]
        walk = slerp(a, b, t) if mode == "slerp" else (1 - t) * a + t * b
        walk = walk.reshape(rows * steps, -1)
        labels = self.labels(rows * steps, None)
        if labels is not None:
            labels = torch.arange(rows, device=z.device).repeat_interleave(steps) % self.recipe.num_classes
        return self.recipe.sample(self.G, walk, labels)

    def exportable(self, batch: int = 2) -> Exportable:
        return noise_exportable(self, self.G, batch, self.output)


def noise_exportable(pipe: Pipeline, G: nn.Module, batch: int, output: dict) -> Exportable:
    """``z`` (+ ``label``) -> one sample per row through ``recipe.generate``: the export of every generator that
    draws from a latent (noise and voxel models; an ageing model's decoder)."""
    r = pipe.recipe
    g = torch.Generator().manual_seed(0)
    z = torch.randn(batch, r.latent_dim, generator=g)
    inputs = [{"name": "z", "shape": ["batch", r.latent_dim], "dtype": "float32", "distribution": "standard normal"}]
    args: tuple = (z,)
    name = output["name"]
    axes = {"z": {0: "batch"}, name: {0: "batch"}}
    if r.conditional:
        args = (z, torch.arange(batch) % max(1, r.num_classes))
        inputs.append({"name": "label", "shape": ["batch"], "dtype": "int64", "range": [0, r.num_classes - 1]})
        axes["label"] = {0: "batch"}
    out = [{"name": name, "shape": ["batch", *r.shape], **{k: v for k, v in output.items() if k != "name"}}]
    return Exportable(NoiseGenerator(r, G).eval(), args, inputs, out, axes, pipe.export_meta(classes=pipe.classes))
