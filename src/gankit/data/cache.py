"""The decoded on-disk cache: one file per (image folder, size, channel policy), read through a memory map.

Layout of a cache file (little-endian)::

    b"GANKITU8" | u32 version | u64 meta offset | u64 meta length | zero padding to 4096
    N x C x H x W uint8 pixels, row after row, from byte 4096 (page-aligned)
    JSON metadata: shape, labels, classes, files, the pixel fingerprint, the source key

The file name carries a hash of the folder's path and the decoding settings (size, channels, fit, background) and
the source's key (a hash of every file's relative path, byte size and mtime), so a changed folder gets a new file
and its stale one is removed, while other settings of the same folder keep theirs. The file is written under a temporary
name and renamed (``fileio.atomic_path``); a lock file serialises builders, so when several DDP ranks start together
one decodes and the others wait, then all of them map the same file: its pages live once, in the page cache, and
each process holds only the rows of its current batch. Opened read-only (``MAP_SHARED``), the map is not private
memory: a data set larger than RAM trains, with the kernel paging rows in and out.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import struct
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from ..errors import DataError
from ..fileio import atomic_path, cache_dir

MAGIC = b"GANKITU8"
VERSION = 1
DATA_OFFSET = 4096
_PRE = struct.Struct("<8sIQQ")
AUTO_MMAP_BYTES = 2 << 30  # data.cache=auto maps folders whose decoded pixels exceed this (2 GiB)


def cache_file(root: Path, settings: dict, key: str, shape: tuple[int, int, int]) -> Path:
    """``<cache>/decoded/folder-<name>-<hash of the folder's path and the decoding settings>-<H>px-<C>ch-<source
    key>.u8``: everything before the last dash names one (folder, settings) pair, whose older files are stale."""
    where = hashlib.sha256(json.dumps([str(Path(root).resolve()), settings], sort_keys=True).encode()).hexdigest()[:8]
    c, h, _ = shape
    return cache_dir() / "decoded" / f"folder-{Path(root).name}-{where}-{h}px-{c}ch-{key}.u8"


def hash_rows(images, labels=None, chunk_bytes: int = 32 << 20) -> str:
    """The ImageSet fingerprint: SHA-256 over the shape, the pixel bytes and the labels, hashed in place a block of
    rows at a time (a memory-mapped array is never copied)."""
    h = hashlib.sha256()
    h.update(str(tuple(images.shape)).encode())
    row = max(1, int(np.prod(images.shape[1:])))
    step = max(1, chunk_bytes // row)
    for i in range(0, images.shape[0], step):
        part = images[i : i + step]
        part = part.numpy() if torch.is_tensor(part) else part
        h.update(memoryview(np.ascontiguousarray(part)).cast("B"))
    if labels is not None:
        h.update(labels.numpy().tobytes() if torch.is_tensor(labels) else np.asarray(labels, np.int64).tobytes())
    return h.hexdigest()[:16]


@contextmanager
def build_lock(path: Path):
    """An exclusive lock beside ``path`` (released when the holder exits, even when it is killed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write(path: Path, shape: tuple[int, int, int], chunks: Iterable[np.ndarray], meta) -> dict:
    """Stream uint8 row chunks (k x C x H x W) into a new cache file at ``path`` (atomically); returns the metadata
    written (``meta`` plus ``n``, ``shape`` and ``fingerprint``). Memory use is one chunk, whatever the data size.
    ``meta`` is a dict or a function called once every chunk is written (labels of the files kept, say)."""
    row = int(np.prod(shape))
    with atomic_path(path) as tmp:
        n = 0
        with open(tmp, "wb") as f:
            f.write(b"\0" * DATA_OFFSET)
            for c in chunks:
                if c.shape[1:] != tuple(shape) or c.dtype != np.uint8:
                    raise ValueError(f"cache rows must be uint8 {shape}, got {c.dtype} {c.shape[1:]}")
                f.write(np.ascontiguousarray(c).tobytes())
                n += c.shape[0]
        meta = meta() if callable(meta) else meta
        if n == 0:
            raise DataError(f"{meta.get('source', path)}: no readable images to cache")
        pixels = np.memmap(tmp, np.uint8, "r", DATA_OFFSET, (n, *shape))
        labels = meta.get("labels")
        meta = {
            **meta,
            "n": n,
            "shape": [n, *shape],
            "format": VERSION,
            "fingerprint": hash_rows(pixels, None if labels is None else torch.tensor(labels)),
        }
        del pixels
        blob = json.dumps(meta).encode()
        with open(tmp, "r+b") as f:
            f.seek(DATA_OFFSET + n * row)
            f.write(blob)
            f.seek(0)
            f.write(_PRE.pack(MAGIC, VERSION, DATA_OFFSET + n * row, len(blob)))
    return meta


def read(path: Path) -> tuple[torch.Tensor, dict] | None:
    """A cache file as a read-only, memory-mapped uint8 tensor N x C x H x W and its metadata; None when the file is
    missing, from another format version, or truncated (the caller rebuilds it)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            magic, version, off, length = _PRE.unpack(f.read(_PRE.size))
            if magic != MAGIC or version != VERSION or off + length != size:
                return None
            f.seek(off)
            meta = json.loads(f.read(length))
    except (OSError, struct.error, ValueError):
        return None
    shape = tuple(meta["shape"])
    if DATA_OFFSET + int(np.prod(shape)) != off:
        return None
    arr = np.memmap(path, np.uint8, "r", DATA_OFFSET, shape)
    with warnings.catch_warnings():  # read-only on purpose: nothing writes into a data set's pixels
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(arr), meta


def remove_stale(path: Path) -> list[Path]:
    """Delete older caches of the same folder and settings (another source key): a changed folder's leftovers. A
    process still mapping one keeps reading it (an unlinked file lives until its last map is gone)."""
    stem = path.name.rsplit("-", 1)[0]
    gone = []
    for old in path.parent.glob(f"{stem}-*.u8"):
        if old != path and old.name.rsplit("-", 1)[0] == stem:
            for f in (old, old.with_name(old.name + ".lock")):
                try:
                    f.unlink()
                except OSError:
                    pass
            gone.append(old)
    return gone


def open_or_build(path: Path, shape: tuple[int, int, int], chunks_fn, meta) -> tuple[torch.Tensor, dict, bool]:
    """The cache at ``path``, built from ``chunks_fn()`` (and ``meta``, see ``write``) first when absent; returns
    (pixels, metadata, built)."""
    got = read(path)
    if got is not None:
        return (*got, False)
    with build_lock(path):
        got = read(path)  # another process may have built it while this one waited
        if got is not None:
            return (*got, False)
        write(path, shape, chunks_fn(), meta)
        remove_stale(path)
    got = read(path)
    if got is None:
        raise DataError(f"{path}: the cache just written cannot be read back (disk full?)")
    return (*got, True)


def source_key(items: Iterable[tuple[str, int, int]]) -> str:
    """The source's fingerprint: a hash of (relative path, byte size, mtime in ns) of every file."""
    h = hashlib.sha256(f"format {VERSION}\n".encode())
    for rel, size, mtime in items:
        h.update(f"{rel}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()[:16]
