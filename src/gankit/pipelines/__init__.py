"""One way to use a trained model per modality: the pipelines, and the registry from modality to pipeline.

| modality    | pipeline            | recipes                                    | command            |
|-------------|---------------------|--------------------------------------------|--------------------|
| `noise`     | `NoisePipeline`     | mlp-gan, dcgan, lsgan, cgan, r3gan, agecgan stage 1 | `gankit sample` |
| `translate` | `TranslatePipeline` | pix2pix, cyclegan                          | `gankit translate` |
| `upscale`   | `UpscalePipeline`   | srgan                                      | `gankit upscale`   |
| `text`      | `TextPipeline`      | dfgan, stackgan                            | `gankit text2img`  |
| `voxel`     | `VoxelPipeline`     | gan3d                                      | `gankit voxels`    |
| `age`       | `AgePipeline`       | agecgan stage 2                            | `gankit age`       |

A recipe declares its modality (``Recipe.modality``; ``modality_for(config)`` where a stage decides); a pipeline
declares the modality it serves and so joins ``PIPELINES``. Every module of this package is imported here, so a
new modality is one new file: ``pipelines/<modality>.py``.

>>> from gankit import pipelines
>>> pipe = pipelines.load("runs/00003-pix2pix-facades")   # a TranslatePipeline: its modality picked it
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from ..models import recipe_class
from ..train.loader import read
from .age import AgePipeline
from .base import PIPELINES, Exportable, Pipeline, pipeline_class
from .noise import NoisePipeline, slerp
from .text import TextPipeline
from .translate import TranslatePipeline
from .upscale import UpscalePipeline
from .voxel import VoxelPipeline

for _m in pkgutil.iter_modules(__path__):  # a modality added as a new module registers itself on import
    importlib.import_module(f"{__name__}.{_m.name}")

__all__ = [
    "PIPELINES",
    "AgePipeline",
    "Exportable",
    "NoisePipeline",
    "Pipeline",
    "TextPipeline",
    "TranslatePipeline",
    "UpscalePipeline",
    "VoxelPipeline",
    "load",
    "pipeline_for",
    "slerp",
]


def pipeline_for(recipe: str, config: dict | None = None) -> type[Pipeline]:
    """The pipeline class of a recipe's checkpoints (``config``: the checkpoint's, where a stage decides)."""
    return pipeline_class(recipe_class(recipe).modality_for(config or {}))


def load(path: str | Path, device: str = "cpu", ema: bool = True, **options) -> Pipeline:
    """The pipeline of whatever checkpoint ``path`` holds, picked by its modality (``options``: the keywords that
    pipeline takes, e.g. ``direction`` for a translation model; another pipeline's option is a one-line error)."""
    c, recipe_cls = read(path)
    return pipeline_class(recipe_cls.modality_for(c.config)).from_checkpoint(c, device, ema, **options)
