"""Image folders (``folder:PATH``): a header scan, the channel policy, then pixels in memory or in the on-disk cache.

- First-level subfolders are classes (files at the top level: one class).
- Channels: a folder whose images are all greyscale by their headers (modes L, LA, I;16, 1, a palette of greys)
  gives 1-channel data; any colour image makes it 3 channels; ``data.channels`` overrides either way. The policy
  in words travels to the run card (run.json, ``gankit info``).
- Pixels (``data.cache``): ``memory`` decodes into one uint8 tensor; ``mmap`` decodes once into a cache file
  (data/cache.py) and maps it; ``auto`` maps when the decoded size exceeds ``cache.AUTO_MMAP_BYTES``.
"""

from __future__ import annotations

import glob
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from . import cache
from .images import IMAGE_SUFFIXES, fit_square, is_grey, open_image, to_tensor_u8

CHUNK_BYTES = 32 << 20  # decoded pixels per round of threads (at most 256 files): memory holds one chunk


@dataclass
class Scan:
    root: Path
    paths: list[Path]
    classes: list[str]
    labels: list[int] | None
    headers: list[tuple[str, int, int, bool] | None]  # (mode, width, height, grey) or None: unreadable header
    stats: list[tuple[int, int]] = field(default_factory=list)  # (bytes, mtime_ns) for the cache key


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _header(p: Path, background: str):
    try:
        with Image.open(p) as im:
            return im.mode, im.size[0], im.size[1], is_grey(im, background)
    except Exception:  # unreadable: decoding reports (or skips) it with its reason
        return None


def read_headers(paths: list[Path], background: str) -> list:
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda p: _header(p, background), paths))


def scan(folder: Path, background: str = "white", headers: bool = True) -> Scan:
    """List a folder (classes, labels, file sizes and times); ``headers``: open every file's header too."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    paths = list_images(folder)
    if not paths:
        raise DataError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    rel = [p.relative_to(folder).parts for p in paths]
    classes = sorted({r[0] for r in rel if len(r) > 1})
    labels = None
    if classes:
        cls_of = {c: i for i, c in enumerate(classes)}
        labels = [cls_of[r[0]] if len(r) > 1 else 0 for r in rel]
    stats = [(st.st_size, st.st_mtime_ns) for st in (p.stat() for p in paths)]
    return Scan(folder, paths, classes, labels, read_headers(paths, background) if headers else [], stats)


def channel_policy(s: Scan, channels: int | None) -> tuple[int, str]:
    """(channels, the policy in words) for a scanned folder."""
    readable = [h for h in s.headers if h is not None]
    grey = sum(h[3] for h in readable)
    found = f"{grey} of {len(readable)} image(s) greyscale"
    if channels is not None:
        if channels not in (1, 3):
            raise DataError(f"data.channels must be 1 or 3, got {channels}")
        return channels, f"data.channels={channels} (set; {found})"
    if readable and grey == len(readable):
        return 1, f"auto: 1 channel ({found}; data.channels=3 overrides)"
    return 3, f"auto: 3 channels ({found}; data.channels=1 overrides)"


def row_shape(s: Scan, size: int | None, c: int) -> tuple[int, int, int]:
    if size is not None:
        if size < 4:
            raise DataError(f"data.size must be >= 4, got {size}")
        return c, size, size
    sizes = {(h[1], h[2]) for h in s.headers if h is not None}
    if not sizes:
        raise DataError(f"no readable images among {len(s.paths)} file(s) in {s.root}")
    for p, h in zip(s.paths, s.headers):
        if h is not None and h[1] != h[2]:
            raise DataError(
                f"{p}: image is {h[1]}x{h[2]}; set data.size to crop and resize "
                f"(`gankit data check folder:{s.root}` suggests one)"
            )
    if len(sizes) > 1:
        raise DataError(f"images have different sizes {sorted(sizes)[:3]}; set data.size to resize them")
    ((w, _),) = sizes
    return c, w, w


def decode_chunks(s: Scan, shape, fit: str, background: str, skip_bad: bool, limit: int | None = None):
    """Yield (uint8 array k x C x H x W, indices of the files kept) chunk after chunk, ``limit`` rows at most."""
    c, side, _ = shape

    def one(p):
        try:
            im = fit_square(open_image(p, background, c), side, fit, background)
        except DataError:
            if skip_bad:
                return None
            raise
        if im.size != (side, side):
            raise DataError(f"{p}: image is {im.size[0]}x{im.size[1]}, the others {side}x{side}; set data.size")
        return to_tensor_u8(im).numpy()

    got, chunk = 0, max(1, min(256, CHUNK_BYTES // int(np.prod(shape))))
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, len(s.paths), chunk):
            rows = list(pool.map(one, s.paths[start : start + chunk]))
            kept = [start + i for i, r in enumerate(rows) if r is not None]
            if limit is not None:
                kept = kept[: limit - got]
            if kept:
                yield np.stack([rows[i - start] for i in kept]), kept
            got += len(kept)
            if limit is not None and got >= limit:
                return


@dataclass
class FolderData:
    images: torch.Tensor
    labels: torch.Tensor | None
    classes: list[str]
    skipped: int
    files: list[Path]
    channels: str  # the channel policy in words
    cache: str  # "memory" or "mmap <cache file>"
    fingerprint: str | None = None  # known from the cache file; None: computed on demand


def load(
    folder: Path,
    size: int | None,
    channels: int | None,
    background: str = "white",
    fit: str = "crop",
    skip_bad: bool = False,
    limit: int | None = None,
    mode: str = "auto",
) -> FolderData:
    if mode not in ("auto", "memory", "mmap"):
        raise DataError(f"data.cache must be auto, memory or mmap, got '{mode}'")
    if limit is not None and limit < 1:
        raise DataError(f"data.limit must be >= 1, got {limit}")
    s = scan(folder, background, headers=False)
    request = {"size": size, "channels": channels, "fit": fit, "background": background}
    if mode != "memory":  # a cache built for this very request and this folder as it is: no header to read
        hit = _cached(s, request, skip_bad, limit)
        if hit is not None:
            return hit
    s.headers = read_headers(s.paths, background)
    c, policy = channel_policy(s, channels)
    shape = row_shape(s, size, c)
    n_want = len(s.paths) if limit is None else min(limit, len(s.paths))
    if mode == "auto":
        mode = "mmap" if n_want * int(np.prod(shape)) > cache.AUTO_MMAP_BYTES else "memory"
    if mode == "memory":
        return _in_memory(s, shape, fit, background, skip_bad, limit, policy)
    return _mapped(s, shape, fit, background, skip_bad, limit, policy, request)


def _labels(s: Scan, kept: list[int]) -> torch.Tensor | None:
    return None if s.labels is None else torch.tensor([s.labels[i] for i in kept], dtype=torch.long)


def _in_memory(s, shape, fit, background, skip_bad, limit, policy) -> FolderData:
    n = len(s.paths) if limit is None else min(limit, len(s.paths))
    try:
        out = torch.empty((n, *shape), dtype=torch.uint8)  # filled in place: no second copy of the data set
    except (RuntimeError, MemoryError):
        raise DataError(
            f"{s.root}: {n} images at {shape[1]}x{shape[2]}x{shape[0]} need {n * np.prod(shape) / 2**30:.2f} "
            f"GiB of memory, more than this process may allocate; use data.cache=mmap"
        ) from None
    kept: list[int] = []
    for rows, idx in decode_chunks(s, shape, fit, background, skip_bad, limit):
        out[len(kept) : len(kept) + len(idx)] = torch.from_numpy(rows)
        kept += idx
    if not kept:
        raise DataError(f"no readable images among {len(s.paths)} file(s) in {s.root}")
    skipped = (kept[-1] + 1 if limit is not None else len(s.paths)) - len(kept)
    return FolderData(
        out[: len(kept)], _labels(s, kept), s.classes, skipped, [s.paths[i] for i in kept], policy, "memory"
    )


def _mapped(s, shape, fit, background, skip_bad, limit, policy, request) -> FolderData:
    settings = {"shape": list(shape), "fit": fit, "background": background}
    rel = _rel(s)
    path = cache.cache_file(s.root, settings, _key(s, rel), shape)
    kept_all: list[int] = []

    def chunks():
        for rows, idx in decode_chunks(s, shape, fit, background, skip_bad):
            kept_all.extend(idx)
            yield rows

    def meta():  # called after the last chunk: which files were kept is known then
        return {
            "source": str(s.root.resolve()),
            "classes": s.classes,
            "channels": policy,
            "settings": settings,
            "request": request,
            "labels": None if s.labels is None else [s.labels[i] for i in kept_all],
            "files": [rel[i] for i in kept_all],
        }

    images, meta, _ = cache.open_or_build(path, shape, chunks, meta)
    return _from_cache(s, rel, path, images, meta, skip_bad, limit)


def _rel(s: Scan) -> list[str]:
    return [str(p.relative_to(s.root)) for p in s.paths]


def _key(s: Scan, rel: list[str]) -> str:
    return cache.source_key((r, b, t) for r, (b, t) in zip(rel, s.stats))


def _cached(s: Scan, request: dict, skip_bad: bool, limit: int | None) -> FolderData | None:
    """The cache file of this folder (same files, sizes and times) built for the same request, if there is one."""
    rel = _rel(s)
    key = _key(s, rel)
    for path in sorted((cache.cache_dir() / "decoded").glob(f"folder-{glob.escape(s.root.name)}-*-{key}.u8")):
        got = cache.read(path)
        if got is not None and got[1].get("request") == request and got[1].get("source") == str(s.root.resolve()):
            return _from_cache(s, rel, path, *got, skip_bad, limit)
    return None


def _from_cache(s, rel, path, images, meta, skip_bad, limit) -> FolderData:
    labels = None if meta.get("labels") is None else torch.tensor(meta["labels"], dtype=torch.long)
    files = [s.root / f for f in meta["files"]]
    skipped = len(s.paths) - images.shape[0]
    if skipped and not skip_bad:  # the cache was built with data.skip_bad=true
        bad = sorted(set(rel) - set(meta["files"]))
        raise DataError(
            f"{s.root / bad[0]}: unreadable image ({skipped} in all, left out of the cache {path.name}); "
            f"set data.skip_bad=true to train without them"
        )
    fp = meta["fingerprint"]
    if limit is not None and limit < images.shape[0]:
        images, files, fp = images[:limit], files[:limit], None
        labels = labels[:limit] if labels is not None else None
    return FolderData(images, labels, meta.get("classes", []), skipped, files, meta["channels"], f"mmap {path}", fp)
