"""The ground floor: plain file helpers every layer may import (atomic writes, the cache folder, the version).

Nothing here imports another gankit module except ``errors``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path


def gankit_version() -> str:
    from . import __version__

    return __version__


def cache_dir() -> Path:
    """``$GANKIT_CACHE``, default ``~/.cache/gankit``: decoded data, reference statistics, extractors, weights."""
    return Path(os.environ.get("GANKIT_CACHE", Path.home() / ".cache" / "gankit"))


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary name beside ``path``; on success it is fsynced and renamed onto ``path``, on an error it is
    removed, so ``path`` is either the old file or the complete new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
