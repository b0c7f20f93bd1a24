"""``folder:PATH`` / a path: images with a same-named ``.txt`` beside each (one caption per line) or a
``captions.csv`` (``file,caption`` rows, several rows per file allowed). Each image is its own group; 1 in 8 files
(by a hash of the name) is held out."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import torch

from ...errors import DataError
from ..images import IMAGE_SUFFIXES, fit_square, open_rgb, to_tensor_u8
from ..sources import decode_many
from .dataset import CaptionSet, index_captions

FOLDER_HELDOUT_EVERY = 8


def read_captions(root: Path) -> tuple[list[Path], list[list[str]]]:
    """The captioned images under ``root`` and each one's captions (``captions.csv`` rows first, then its .txt)."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{root}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    table = root / "captions.csv"
    caps: dict[Path, list[str]] = {}
    if table.exists():
        try:
            with open(table, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"{table}: cannot read ({type(e).__name__}: {e})") from None
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "caption"]:
            rows = rows[1:]
        for k, row in enumerate(rows, 1):
            if not row:
                continue
            if len(row) < 2 or not row[1].strip():
                raise DataError(f"{table}: row {k} is not 'file,caption'")
            p = root / row[0].strip()
            if not p.is_file():
                raise DataError(f"{table}: row {k} names {row[0]!r}, which is not a file in {root}")
            caps.setdefault(p.resolve(), []).append(row[1].strip())
    kept, per = [], []
    for p in files:
        lines = list(caps.get(p.resolve(), []))
        txt = p.with_suffix(".txt")
        if txt.is_file():
            try:
                lines += [l.strip() for l in txt.read_text(encoding="utf-8").splitlines() if l.strip()]
            except (OSError, UnicodeDecodeError) as e:
                raise DataError(f"{txt}: cannot read ({type(e).__name__})") from None
        if lines:
            kept.append(p)
            per.append(lines)
    if not kept:
        raise DataError(f"{root}: no image has a caption (a same-named .txt beside it, or a captions.csv)")
    return kept, per


def load_caption_folder(root: Path, size: int, background: str, limit: int | None, skip_bad: bool) -> CaptionSet:
    files, per = read_captions(root)
    rel = [str(p.relative_to(root)) for p in files]
    held = [int(hashlib.sha1(r.encode()).hexdigest(), 16) % FOLDER_HELDOUT_EVERY == 0 for r in rel]
    if not any(held) and len(files) > 2:
        held[-1] = True

    def read(p):
        return to_tensor_u8(fit_square(open_rgb(p, background), size, "crop", background))

    tensors, ok = decode_many(files, read, skip_bad)
    skipped = len(files) - len(ok)

    def build(flag: bool) -> CaptionSet | None:
        sel = [i for i in ok if held[i] == flag][:limit]
        if not sel:
            return None
        caps, item_caps = index_captions([per[i] for i in sel])
        groups = torch.arange(len(sel))
        return CaptionSet(
            torch.stack([tensors[i] for i in sel]),
            caps,
            item_caps,
            groups,
            f"folder:{root}",
            str(root),
            [rel[i] for i in sel],
            skipped=skipped,
        )

    out = build(False)
    if out is None:
        raise DataError(f"{root}: no readable captioned images in the training split")
    out.test = build(True)
    return out
