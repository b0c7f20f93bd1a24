"""The pipeline protocol: a trained model ready to use, built from one checkpoint through the one loader.

A recipe declares its ``modality`` (``Recipe.modality_for(config)``); exactly one ``Pipeline`` subclass declares
the same ``modality`` and is registered in ``PIPELINES`` by doing so. ``Pipeline.from_checkpoint(path)`` reads the
checkpoint (``train.loader.read``), looks up the pipeline of its modality, refuses one that is not this class (or a
subclass), rebuilds the recipe with its weights (``train.loader.load_recipe``) and hands the result to
``from_loaded``, where each pipeline takes the networks it needs. As diffusers' ``from_pretrained``: the caller never
names a family, and ``Pipeline(...)`` can also be built from networks in memory (tests, training-time previews).

``exportable(batch)`` says how ``gankit export`` traces the pipeline: the module, example inputs, and what its inputs
and outputs mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from ..errors import GankitError
from ..fileio import gankit_version
from ..train import checkpoint as ckpt
from ..train.loader import Loaded, load_recipe, read

PIPELINES: dict[str, type["Pipeline"]] = {}  # modality -> pipeline class; a subclass declaring `modality` joins


@dataclass
class Exportable:
    """A module ready to trace, example inputs, and what its inputs and outputs mean."""

    module: nn.Module
    args: tuple
    inputs: list[dict]
    outputs: list[dict]
    dynamic_axes: dict[str, dict[int, str]]
    meta: dict = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return [i["name"] for i in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [o["name"] for o in self.outputs]


IMAGES = {"dtype": "float32", "range": [-1.0, 1.0], "layout": "NCHW"}  # how the library's images are described


class Pipeline:
    """One way of using a trained model. Subclasses set ``modality``, and ``command`` (how the shell uses it, named
    in the one-line error that sends a user elsewhere) and ``options`` (the keywords ``from_checkpoint`` takes
    besides ``device`` and ``ema``) where they have them, implement ``from_loaded``, and ``exportable`` to be
    exported."""

    modality: ClassVar[str]
    command: ClassVar[str] = "gankit.pipelines.load(CKPT) in Python"  # a modality with no command of its own
    options: ClassVar[tuple[str, ...]] = ()
    recipe = None  # the recipe rebuilt from the checkpoint (its config, shape, classes, device)
    checkpoint: ckpt.Checkpoint | None = None
    ema: bool = False  # whether the generator is the EMA copy

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "modality" in cls.__dict__:
            old = PIPELINES.get(cls.modality)
            if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
                raise TypeError(f"modality '{cls.modality}' has a pipeline: {old.__module__}.{old.__qualname__}")
            PIPELINES[cls.modality] = cls

    # ---------------------------------------------------------------- building
    @classmethod
    def from_checkpoint(
        cls, path: str | Path | ckpt.Checkpoint, device: str | torch.device = "cpu", ema: bool = True, **options
    ):
        """The pipeline of the checkpoint at ``path`` (run dir / checkpoints dir / step folder); EMA weights when it
        has them and ``ema``. The checkpoint's modality picks the class: ``NoisePipeline.from_checkpoint`` of a 3D
        run is a ``VoxelPipeline``; a checkpoint of another modality is a one-line ``GankitError``."""
        c, recipe_cls = read(path)
        found = pipeline_class(recipe_cls.modality_for(c.config))
        if not issubclass(found, cls):
            raise GankitError(
                f"{c.path}: a {recipe_cls.name} checkpoint is {_a(found.modality)} model, not "
                f"{_a(cls.modality)} model; use: {found.command}"
            )
        options = {k: v for k, v in options.items() if v is not None}  # None: not given
        unknown = sorted(set(options) - set(found.options))
        if unknown:
            takers = [p.modality for p in PIPELINES.values() if unknown[0] in p.options]
            raise GankitError(
                f"--{unknown[0]} applies to {' and '.join(takers) or 'no'} models only, not to this "
                f"{recipe_cls.name} checkpoint ({_a(found.modality)} model)"
            )
        loaded = load_recipe(c, device, ema)
        loaded.checkpoint = ckpt.Checkpoint(c.path, c.state, {})  # the weights are in the nets: no second copy
        return found.from_loaded(loaded, **options)

    @classmethod
    def from_loaded(cls, loaded: Loaded, **options) -> "Pipeline":
        """Take the networks this pipeline uses from a recipe rebuilt by ``train.loader.load_recipe``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- what every pipeline can say
    @property
    def config(self):
        return self.recipe.cfg

    @property
    def device(self) -> torch.device:
        return self.recipe.device

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.recipe.shape)

    @property
    def classes(self) -> list[str]:
        return list((self.checkpoint.state.get("data_info") or {}).get("classes", [])) if self.checkpoint else []

    def exportable(self, batch: int = 2) -> Exportable:
        """The module ``gankit export`` traces, with example inputs of batch size ``batch``."""
        raise GankitError(f"gankit export does not know how to export {self.modality} models yet")

    def export_meta(self, **extra) -> dict:
        """What an exported file records about where it came from."""
        c = self.checkpoint
        cfg = c.config
        return {
            "gankit": gankit_version(),
            "torch": torch.__version__,
            "recipe": cfg["recipe"],
            "preset": cfg.get("preset"),
            "step": c.step,
            "checkpoint": str(c.path),
            "ema": self.ema,
            "data": (c.state.get("data_info") or {}).get("name"),
            **extra,
        }


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def pipeline_class(modality: str) -> type[Pipeline]:
    try:
        return PIPELINES[modality]
    except KeyError:
        raise GankitError(f"no pipeline for modality '{modality}' (have: {', '.join(PIPELINES)})") from None
