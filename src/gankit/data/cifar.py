"""CIFAR-10 in its python pickle layout (data_batch_1..5, test_batch, batches.meta)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .pickles import ERRORS, load_plain

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = load_plain(path, "bytes")
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except (*ERRORS, KeyError) as e:
        raise DataError(f"{path}: not a CIFAR-10 batch ({type(e).__name__}: {e})") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise DataError(f"{path}: expected N x 3072 data and N labels, got {data.shape} and {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    folder = Path(folder)
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if split not in ("train", "test"):
        raise DataError(f"split '{split}' is not one of train, test")
    missing = [n for n in names if not (folder / n).exists()]
    if missing:
        raise DataError(f"{folder}: missing CIFAR-10 batch file(s) {', '.join(missing)}")
    parts = [_read_batch(folder / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
