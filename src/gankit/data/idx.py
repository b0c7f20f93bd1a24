"""IDX files (MNIST, Fashion-MNIST), gzipped or raw."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..errors import DataError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read IDX file ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    n = int(np.prod(shape)) if shape else 1
    if len(raw) - header != n * dtype.itemsize:
        raise DataError(f"{path}: IDX payload has {len(raw) - header} bytes, header says {n * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx(folder: Path, split: str) -> tuple[Path, Path]:
    """The image and label files of ``split`` ('train' or 'test') in ``folder``, gz or raw."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise DataError(f"split '{split}' is not one of train, test")
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        for name in (f"{prefix}-{kind}.gz", f"{prefix}-{kind}", f"{prefix}-{kind.replace('-idx', '.idx')}"):
            if (folder / name).exists():
                found.append(folder / name)
                break
        else:
            raise DataError(f"{folder}: no {prefix}-{kind}[.gz]")
    return found[0], found[1]


def load_idx_pair(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    img_path, lab_path = find_idx(folder, split)
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3:
        raise DataError(f"{img_path}: expected N x H x W images, got shape {images.shape}")
    if labels.shape != (images.shape[0],):
        raise DataError(f"{lab_path}: {labels.shape[0]} labels for {images.shape[0]} images")
    return images[:, None], labels.astype(np.int64)
