"""What the Trainer needs from a data set (StyleGAN's ``Dataset`` base class, as a structural ``Protocol``).

Every data set a recipe's ``load_data`` returns states this surface; a test checks that each one has it
(``tests/test_data.py``). Beyond it a data set may say what it holds for the run card with ``card() -> dict``
(optional: the Trainer records ``{}`` without it), and a recipe may use its own extras (``test``, ``labels``, ...).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Dataset(Protocol):
    """``len()`` items, each drawn as a dict of tensors by ``batch``; the rest names and identifies the data."""

    @property
    def name(self) -> str:
        """The ``data.name`` it was loaded from."""

    @property
    def source(self) -> str:
        """Where it was read from (a folder, a package's data directory)."""

    @property
    def skipped(self) -> int:
        """Files that could not be read and were left out."""

    @property
    def shape(self) -> tuple[int, ...]:
        """One item as the nets see it: C x H x W (C x D x H x W for voxels)."""

    @property
    def classes(self) -> list:
        """Class names (empty when unlabelled)."""

    @property
    def num_classes(self) -> int:
        """How many classes a conditional recipe is built for (0 when unlabelled)."""

    def __len__(self) -> int:
        """Items in the (training) index space the sampler draws from."""

    def tag(self) -> str:
        """Short name for run directories: ``twemoji32``, ``fashion-mnist``."""

    def fingerprint(self) -> str:
        """A hash of what a model sees, recorded in run.json and every checkpoint."""

    def batch(self, index: torch.Tensor, device=None, generator: torch.Generator | None = None) -> dict:
        """The items at ``index`` as float tensors on ``device``; random augmentation draws from ``generator`` (the
        Trainer checkpoints it, so a resumed run draws the same)."""
