"""The one unpickler for data files (CIFAR-10 batches, StackGAN's CUB pickles): plain data only.

A pickle may name any importable callable and run it while loading, so a downloaded data file could execute code.
The data pickles hold dicts, lists, strings, bytes and numpy arrays; ``PlainData`` rebuilds those and refuses every
other class by name.
"""

from __future__ import annotations

import pickle
from pathlib import Path

# what loading a bad, truncated or refused pickle raises: callers turn these into a DataError naming the file
ERRORS = (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError)


class PlainData(pickle.Unpickler):
    """Containers, strings, bytes and numpy arrays (numpy 1 and 2 module paths); any other class is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_plain(path: Path, encoding: str = "latin1"):
    """The object in the pickle at ``path`` (``encoding`` for Python 2 strings: ``bytes`` keeps them as bytes)."""
    with open(path, "rb") as f:
        return PlainData(f, encoding=encoding).load()
