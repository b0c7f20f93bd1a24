"""The age set: face images with an age bin and an identity each, a held-out split, and a balanced index space."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...config import DataConfig
from ...errors import DataError
from ..images import resize_batch, to_float


@dataclass
class AgeSet:
    """uint8 images N x C x H x W with an age bin each (and an identity id, -1 where unknown); ``test`` holds the
    held-out split. ``order`` maps the (balanced) index space onto rows of ``images``. A ``Dataset``
    (``data/protocol.py``)."""

    images: torch.Tensor
    labels: torch.Tensor
    identity: torch.Tensor
    classes: list[str]
    name: str
    source: str
    keys: list[str] = field(default_factory=list, repr=False)
    identities: list[str] = field(default_factory=list, repr=False)  # identity id -> readable key
    skipped: int = 0
    skip_reasons: dict = field(default_factory=dict)
    test: "AgeSet | None" = field(default=None, repr=False)
    order: torch.Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.order.shape[0]) if self.order is not None else int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def rows(self, index) -> torch.Tensor:
        index = torch.as_tensor(index, dtype=torch.long)
        return self.order[index] if self.order is not None else index

    def batch(self, index, device=None, generator=None) -> dict:
        """{"image": float [-1, 1], "label": age bin, "identity": id} for ``index`` (balanced index space)."""
        r = self.rows(index)
        x = self.images[r]
        if device is not None:
            x = x.to(device, non_blocking=True)
        return {"image": to_float(x), "label": self.labels[r].to(x.device), "identity": self.identity[r].to(x.device)}

    def counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(str(tuple(self.images.shape)).encode())
        h.update(self.images.contiguous().numpy().tobytes())
        h.update(self.labels.numpy().tobytes())
        if self.order is not None:
            h.update(self.order.numpy().tobytes())
        return h.hexdigest()[:16]

    def tag(self) -> str:
        base = self.name.split(":")[0]
        if "/" in base or base.startswith((".", "~")):
            base = Path(base).expanduser().name
        return f"{base}{self.images.shape[-1]}"

    def card(self) -> dict:
        """What the data holds, for run logs and the benchmark."""
        return {
            "name": self.name,
            "source": self.source,
            "n": int(self.images.shape[0]),
            "bins": self.classes,
            "per_bin": self.counts(),
            "held_out": int(self.test.images.shape[0]) if self.test is not None else 0,
            "held_out_per_bin": self.test.counts() if self.test is not None else [],
            "skipped": self.skipped,
            "skip_reasons": self.skip_reasons,
        }


def balanced_order(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Row indices in which every present bin appears as often as the largest: smaller bins are repeated whole
    (then topped up by their first rows), so no item of a bin is seen twice more often than another."""
    per = [torch.nonzero(labels == k).flatten() for k in range(num_classes)]
    top = max(len(p) for p in per)
    out = []
    for p in per:
        if len(p):
            reps = -(-top // len(p))
            out.append(p.repeat(reps)[:top])
    return torch.cat(out)


def split_set(cfg: DataConfig, images, labels, identity, classes, keys, ids, test_mask, source) -> AgeSet:
    """The training AgeSet (its ``.test``: the rows of ``test_mask``), resized to ``data.size`` when it is set."""
    if cfg.size is not None and images.shape[-1] != cfg.size:
        if cfg.size < 8:
            raise DataError(f"data.size must be >= 8, got {cfg.size}")
        images = resize_batch(images, cfg.size)
    if cfg.channels is not None and cfg.channels != 3:
        raise DataError("data.channels: age data is RGB (3 channels)")
    tr, te = ~test_mask, test_mask

    def part(m):
        idx = torch.nonzero(m).flatten()
        return AgeSet(
            images[idx].contiguous(),
            labels[idx],
            identity[idx],
            list(classes),
            cfg.name,
            source,
            [keys[i] for i in idx.tolist()],
            list(ids),
        )

    train, test = part(tr), part(te)
    if len(train) == 0:
        raise DataError(f"{cfg.name}: no training images")
    train.test = test
    return train
