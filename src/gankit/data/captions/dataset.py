"""The caption set: images with several captions each, batches with a right and a mismatched caption."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...errors import DataError
from ..images import to_float


@dataclass
class CaptionSet:
    """Images (uint8 N x C x S x S) with captions. ``item_caps[i]`` lists indices into ``captions`` for image ``i``;
    ``groups[i]`` is its group (emoji codepoint group / bird class / file): mismatched captions come from another
    group. ``embeddings`` (one row per caption) is set by the recipe's text encoder, or read from precomputed
    pickles. A ``Dataset`` (``data/protocol.py``)."""

    images: torch.Tensor
    captions: list[str]
    item_caps: list[list[int]]
    groups: torch.Tensor  # N, long
    name: str
    source: str
    keys: list[str] = field(default_factory=list, repr=False)  # codepoints / file names, one per image
    embeddings: torch.Tensor | None = None
    tokens: torch.Tensor | None = None  # per caption, for a trainable text encoder (char ids)
    skipped: int = 0
    test: "CaptionSet | None" = field(default=None, repr=False)
    classes: list = field(default_factory=list)
    num_classes: int = 0
    _cap_item: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self):
        if len(self.item_caps) != self.images.shape[0] or self.groups.shape[0] != self.images.shape[0]:
            raise DataError(f"{self.name}: {self.images.shape[0]} images but {len(self.item_caps)} caption lists")
        if any(not c for c in self.item_caps):
            raise DataError(f"{self.name}: an image has no caption")
        if self.images.shape[0] > 1 and int(self.groups.unique().numel()) < 2:
            raise DataError(f"{self.name}: mismatched captions need images of at least 2 different groups")
        self._caps_t = [torch.tensor(c, dtype=torch.long) for c in self.item_caps]
        self._ncaps = torch.tensor([len(c) for c in self.item_caps])
        self._first = torch.tensor([c[0] for c in self.item_caps])
        owner = torch.full((len(self.captions),), -1, dtype=torch.long)
        for i, cs in enumerate(self.item_caps):
            owner[torch.tensor(cs)] = i
        self._cap_item = owner

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def caption_group(self, caption_index: torch.Tensor) -> torch.Tensor:
        return self.groups[self._cap_item[caption_index]]

    def pick_captions(self, index: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """One caption per item, uniformly among that item's captions."""
        u = torch.rand(index.shape[0], generator=generator)
        k = (u * self._ncaps[index]).long().clamp_max(self._ncaps[index] - 1)
        return torch.stack([self._caps_t[int(i)][int(j)] for i, j in zip(index, k)])

    def mismatched(self, index: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A caption of a random item from a *different group* for each item (rejection sampling)."""
        n, m = index.shape[0], len(self)
        other = torch.randint(0, m, (n,), generator=generator)
        for _ in range(64):
            bad = self.groups[other] == self.groups[index]
            if not bool(bad.any()):
                break
            other[bad] = torch.randint(0, m, (int(bad.sum()),), generator=generator)
        else:  # practically unreachable with >= 2 groups; a deterministic fallback keeps the guarantee
            for j in torch.nonzero(self.groups[other] == self.groups[index]).flatten().tolist():
                other[j] = int(torch.nonzero(self.groups != self.groups[index[j]])[0])
        return self.pick_captions(other, generator)

    def batch(self, index: torch.Tensor, device=None, generator: torch.Generator | None = None) -> dict:
        """``{"image": float [-1, 1], "emb": right caption's embedding, "emb_wrong": another group's, "cap",
        "cap_wrong": caption indices, "group"}`` (``tokens``/``tokens_wrong`` instead of embeddings for a
        trainable encoder)."""
        if self.embeddings is None and self.tokens is None:
            raise DataError(f"{self.name}: captions are not embedded yet (the recipe's text encoder sets them)")
        index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        cap = self.pick_captions(index, generator)
        wrong = self.mismatched(index, generator)
        x = self.images[index]
        if device is not None:
            x = x.to(device, non_blocking=True)
        dev = x.device
        out = {"image": to_float(x), "cap": cap, "cap_wrong": wrong, "group": self.groups[index].to(dev)}
        if self.embeddings is not None:
            out.update(emb=self.embeddings[cap].to(dev), emb_wrong=self.embeddings[wrong].to(dev))
        else:
            out.update(tokens=self.tokens[cap].to(dev), tokens_wrong=self.tokens[wrong].to(dev))
        return out

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(str(tuple(self.images.shape)).encode())
        h.update(self.images.contiguous().numpy().tobytes())
        h.update("\n".join(self.captions).encode())
        h.update(str(self.item_caps).encode())
        return h.hexdigest()[:16]

    def tag(self) -> str:
        base = self.name
        if base.startswith("folder:"):
            base = Path(base[7:]).name
        elif "/" in base:
            base = Path(base).name
        return f"{base}{self.images.shape[-1]}"


def embed_captions(sets: list, encoder) -> None:
    """Set ``embeddings`` (one row per caption) of each caption set, embedding each distinct caption once (Twemoji
    and OpenMoji of one emoji share theirs; the training and held-out sets are embedded together)."""
    uniq = list(dict.fromkeys(c for s in sets for c in s.captions))
    pos = {c: i for i, c in enumerate(uniq)}
    table = encoder.encode(uniq)
    for s in sets:
        s.embeddings = table[torch.tensor([pos[c] for c in s.captions], dtype=torch.long)]


def grid_rows(data, n: int, min_side: int = 1) -> tuple:
    """The fixed grid of a text-to-image recipe: ``side`` ~ sqrt(n) held-out items (the training set's when there is
    no held-out split) spread over the set, one row each, and each item's first caption. Returns
    ``(held, items, caps)``."""
    held = data.test if data.test is not None and len(data.test) else data
    side = max(min_side, round(n**0.5))
    items = (
        [(j * len(held)) // side for j in range(side)] if side <= len(held) else [j % len(held) for j in range(side)]
    )
    return held, items, [held.item_caps[i][0] for i in items]


def index_captions(per_item: list[list[str]]) -> tuple[list[str], list[list[int]]]:
    """One flat caption list and, per item, the indices of its captions in it."""
    caps, item_caps = [], []
    for cs in per_item:
        item_caps.append(list(range(len(caps), len(caps) + len(cs))))
        caps += cs
    return caps, item_caps


def group_ids(keys: list[str]) -> tuple[torch.Tensor, list[str]]:
    """Group keys as ids 0..G-1 (in sorted key order), and the keys by id."""
    uniq = sorted(set(keys))
    pos = {k: i for i, k in enumerate(uniq)}
    return torch.tensor([pos[k] for k in keys], dtype=torch.long), uniq
