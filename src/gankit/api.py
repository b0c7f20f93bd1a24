"""The Python API: train, load a checkpoint's generator, sample, interpolate.

>>> from gankit import api
>>> run = api.train("mlp-gan", overrides=["train.steps=200"])
>>> gen = api.load(run)                       # config travels with the checkpoint: a NoisePipeline
>>> images = gen.sample(16, seed=0)           # float [-1, 1], N x C x H x W

Every other way of using a checkpoint is a pipeline too (``gankit.pipelines``: ``pipelines.load(path)`` picks the
one of its modality).
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import config as C
from .metrics.periodic import PeriodicEval
from .models import resolve_config
from .pipelines import NoisePipeline, slerp
from .train.trainer import Trainer

Generator = NoisePipeline  # the name this API gave it first
__all__ = ["Generator", "NoisePipeline", "interpolate", "load", "slerp", "train", "trainer"]


def trainer(cfg: C.Config, out="runs", resume=None, progress: bool | None = None, data=None) -> Trainer:
    """A Trainer for ``cfg`` with periodic FID/KID (``train.eval_every``) wired in: what ``train`` and
    ``gankit train`` run."""
    return Trainer(cfg, out=out, resume=resume, progress=progress, data=data, evaluator=PeriodicEval)


def train(
    recipe: str,
    preset: str = "default",
    overrides: list[str] | None = None,
    config_file=None,
    out="runs",
    progress: bool = False,
) -> Path:
    cfg = resolve_config(recipe, preset, config_file, overrides)
    return trainer(cfg, out=out, progress=progress).fit()


def load(path, device: str = "cpu", ema: bool = True) -> NoisePipeline:
    """The generator of a checkpoint that samples from noise (its EMA copy when it has one and ``ema``); another
    modality's checkpoint is a one-line error naming its command."""
    return NoisePipeline.from_checkpoint(path, device, ema)


def interpolate(gen: NoisePipeline, steps: int = 10, rows: int = 1, mode: str = "slerp", seed: int = 0) -> torch.Tensor:
    """``rows`` latent walks of ``steps`` frames each: images of shape (rows * steps) x C x H x W."""
    return gen.interpolate(steps, rows, mode, seed)
