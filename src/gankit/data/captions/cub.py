"""``cub`` / a folder holding ``CUB_200_2011/``: CUB-200-2011 birds cropped around their bounding boxes (the StackGAN
crop: a square of side 1.5 x max(w, h) around the box centre, clipped at the border), captions from
``text_c10/<class>/<image>.txt`` (10 per image) or, with ``train/`` and ``test/`` holding the original
``char-CNN-RNN-embeddings.pickle``, ``filenames.pickle`` and ``class_info.pickle``, those embeddings (read through
the package's one restricted unpickler, ``data/pickles.py``). Groups are the classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...errors import DataError
from ..images import fit_square, open_rgb, to_tensor_u8
from ..pickles import ERRORS, load_plain
from ..sources import decode_many
from .dataset import CaptionSet, group_ids, index_captions


def read_pickle(path: Path):
    """A char-CNN-RNN pickle: lists, strings and numpy arrays only."""
    try:
        return load_plain(path, "latin1")
    except ERRORS as e:
        raise DataError(f"{path}: cannot read ({type(e).__name__}: {e})") from None


def cub_crop(im, box) -> "object":
    """StackGAN's crop: a square of half-side ``0.75 * max(w, h)`` around the box centre, clipped at the border."""
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    W, H = im.size
    return im.crop((max(0, cx - r), max(0, cy - r), min(W, cx + r), min(H, cy + r)))


def _cub_root(root: Path) -> Path:
    for c in (root, root / "CUB_200_2011"):
        if (c / "images.txt").is_file() and (c / "images").is_dir():
            return c
    raise DataError(f"{root}: no CUB_200_2011/images.txt and images/ (CUB-200-2011 layout)")


def is_cub(root: Path) -> bool:
    try:
        _cub_root(root)
        return True
    except DataError:
        return False


def load_cub(root: Path, size: int, limit: int | None, skip_bad: bool) -> CaptionSet:
    """CUB with captions (``text_c10``/``text``) or the char-CNN-RNN pickles (``train/``, ``test/``)."""
    cub = _cub_root(root)
    names = {}
    for line in (cub / "images.txt").read_text().splitlines():
        bits = line.split()
        if len(bits) == 2:
            names[bits[0]] = bits[1][:-4]
    boxes = {}
    bb = cub / "bounding_boxes.txt"
    if bb.is_file():
        for line in bb.read_text().splitlines():
            bits = line.split()
            if len(bits) == 5:
                boxes[names.get(bits[0])] = [int(float(v)) for v in bits[1:]]
    pickles = [d for d in (root / "train", root / "test") if (d / "filenames.pickle").is_file()]
    text_dir = next((d for d in (root / "text_c10", root / "text", cub / "text_c10", cub / "text") if d.is_dir()), None)

    splits: dict[str, list[str]] = {}
    emb: dict[str, np.ndarray] = {}
    if len(pickles) == 2:
        for d in pickles:
            fn = [str(f) for f in read_pickle(d / "filenames.pickle")]
            splits[d.name] = fn
            ep = d / "char-CNN-RNN-embeddings.pickle"
            if ep.is_file() and text_dir is None:
                arr = np.asarray(read_pickle(ep), dtype=np.float32)
                if arr.ndim != 3 or arr.shape[0] != len(fn):
                    raise DataError(f"{ep}: expected N x captions x dim with N={len(fn)}, got {arr.shape}")
                emb.update({f: arr[i] for i, f in enumerate(fn)})
    else:
        split_file = cub / "train_test_split.txt"
        is_train = {}
        if split_file.is_file():
            for line in split_file.read_text().splitlines():
                bits = line.split()
                if len(bits) == 2:
                    is_train[names.get(bits[0])] = bits[1] == "1"
        allf = sorted(names.values())
        splits = {
            "train": [f for f in allf if is_train.get(f, True)],
            "test": [f for f in allf if not is_train.get(f, True)],
        }
    if text_dir is None and not emb:
        raise DataError(
            f"{root}: CUB captions not found (text_c10/<class>/<image>.txt, or train/ and test/ with "
            f"char-CNN-RNN-embeddings.pickle)"
        )

    def read(f):
        p = cub / "images" / f"{f}.jpg"
        im = open_rgb(p, "white")
        if f in boxes:
            im = cub_crop(im, boxes[f])
        return to_tensor_u8(fit_square(im, size, "stretch", "white"))

    def build(split: str) -> CaptionSet | None:
        sel = splits.get(split, [])[:limit]
        if not sel:
            return None
        per, vecs = [], []
        for f in sel:
            if emb:
                per.append([f"{f} #{k}" for k in range(emb[f].shape[0])])
                vecs.append(torch.from_numpy(emb[f]))
            else:
                t = text_dir / f"{f}.txt"
                if not t.is_file():
                    raise DataError(f"{t}: caption file missing")
                lines = t.read_text(encoding="utf-8", errors="replace").splitlines()
                per.append([l.strip() for l in lines if l.strip()])
        tensors, ok = decode_many(sel, read, skip_bad)
        caps, item_caps = index_captions([per[i] for i in ok])
        groups, classes = group_ids([sel[i].split("/")[0] for i in ok])
        s = CaptionSet(
            torch.stack([tensors[i] for i in ok]),
            caps,
            item_caps,
            groups,
            "cub",
            str(root),
            [sel[i] for i in ok],
            skipped=len(sel) - len(ok),
        )
        if emb:
            s.embeddings = torch.cat([vecs[i] for i in ok])
        return s

    out = build("train")
    if out is None:
        raise DataError(f"{root}: CUB training split is empty")
    out.test = build("test")
    return out
