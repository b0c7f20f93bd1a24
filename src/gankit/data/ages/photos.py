"""Face photographs with an age (IMDB-WIKI, UTKFace) as an AgeSet in the book's six bins. Records with no image
file, an age <= 0 or >= 100, or (wiki.mat) a ``face_score`` of -inf are skipped and counted (``skip_reasons``); an
image that fails to decode drops its label. The held-out split is fixed by a hash of each file's relative path
(12 %)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ...config import DataConfig
from ...errors import DataError
from ..images import open_rgb, square_resize, to_tensor_u8
from ..sources import decode_many
from .bins import BOOK_BINS, age_bin
from .dataset import AgeSet, split_set
from .utkface import read_utk_folder
from .wiki import read_wiki_mat

TEST_PERCENT = 12


def is_test(key: str) -> bool:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100 < TEST_PERCENT


def load_photos(cfg: DataConfig, root: Path, layout: str) -> AgeSet:
    """``layout``: ``wiki`` (``root/wiki.mat``) or ``utk`` (UTKFace file names)."""
    paths, ages, reasons = (read_wiki_mat if layout == "wiki" else read_utk_folder)(root)
    if cfg.limit is not None:
        paths, ages = paths[: cfg.limit], ages[: cfg.limit]
    size = cfg.size or 64

    def one(p):
        return to_tensor_u8(square_resize(open_rgb(p, cfg.background), size))

    tensors, kept = decode_many(paths, one, skip_bad=True)  # a file that fails to decode drops its label too
    reasons["unreadable"] = len(paths) - len(kept)
    if not kept:
        raise DataError(f"{root}: no readable face images with a valid age")
    images = torch.stack([tensors[i] for i in kept])
    labels = torch.tensor([age_bin(ages[i]) for i in kept])
    keys = [str(paths[i].relative_to(root)) for i in kept]
    test = torch.tensor([is_test(k) for k in keys])
    identity = torch.full((len(kept),), -1)
    s = split_set(cfg, images, labels, identity, BOOK_BINS, keys, [], test, str(root))
    s.skip_reasons, s.skipped = reasons, sum(reasons.values())
    return s
