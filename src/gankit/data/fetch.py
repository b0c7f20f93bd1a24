"""``gankit data fetch``: the one place that downloads, and only when the user asks."""
from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import DataError
from .sources import cache_dir


def fetch(name: str, root: Path | None = None) -> Path:
    from torchvision import datasets

    root = Path(root) if root else cache_dir()
    tv = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}
    if name not in tv:
        raise DataError(f"cannot fetch '{name}' (fetchable: {', '.join(tv)})")
    staging = root / f".fetch-{name}"
    try:
        for train in (True, False):
            tv[name](str(staging), train=train, download=True)
    except Exception as e:  # network errors come in many types
        raise DataError(f"download of {name} failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    dest = root / name
    dest.mkdir(parents=True, exist_ok=True)
    if name == "cifar10":
        src = staging / "cifar-10-batches-py"
        for f in src.iterdir():
            shutil.copy2(f, dest / f.name)
    else:
        raw = staging / {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[name] / "raw"
        for f in raw.glob("*-ubyte*"):
            shutil.copy2(f, dest / f.name)
    shutil.rmtree(staging, ignore_errors=True)
    return dest
