"""``gankit data fetch``: the one place that downloads, and only when the user asks."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import DataError
from ..fileio import cache_dir

# The standard FID Inception weights (TF 2015-12-05 ported by pytorch-fid); metrics.extractors finds them on disk.
INCEPTION_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
INCEPTION_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + INCEPTION_FILES[0]
INCEPTION_SHA256_PREFIX = "6726825d"


def fetch(name: str, root: Path | None = None) -> Path:
    from torchvision import datasets

    if name == "inception":
        return fetch_inception(root)
    root = Path(root) if root else cache_dir()
    tv = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}
    if name not in tv:
        raise DataError(f"cannot fetch '{name}' (fetchable: {', '.join(tv)}, inception)")
    staging = root / f".fetch-{name}"
    try:
        for train in (True, False):
            tv[name](str(staging), train=train, download=True)
    except Exception as e:  # network errors come in many types
        raise DataError(
            f"download of {name} failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
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


def fetch_inception(root: Path | None = None) -> Path:
    """The FID Inception weights (pt_inception-2015-12-05), checked against the SHA-256 prefix in their name."""
    import hashlib
    import os
    import urllib.request

    dest = (Path(root) if root else cache_dir()) / "weights" / INCEPTION_FILES[0]
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part{os.getpid()}")
    try:
        with urllib.request.urlopen(INCEPTION_URL, timeout=60) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    except Exception as e:
        tmp.unlink(missing_ok=True)
        raise DataError(
            f"download of the Inception weights failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    if not digest.startswith(INCEPTION_SHA256_PREFIX):
        tmp.unlink(missing_ok=True)
        raise DataError(
            f"downloaded Inception weights have SHA-256 {digest[:12]}..., expected {INCEPTION_SHA256_PREFIX}..."
        )
    os.replace(tmp, dest)
    return dest
