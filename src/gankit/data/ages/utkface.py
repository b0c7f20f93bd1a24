"""``utkface:PATH`` or a folder of ``<age>_*.jpg`` files (UTKFace naming): the age from each file's name."""

from __future__ import annotations

import re
from pathlib import Path

from .bins import valid_age

_UTK = re.compile(r"^(\d{1,3})_")


def read_utk_folder(root: Path) -> tuple[list[Path], list[int], dict]:
    """(image paths, ages, skip counts) of the UTKFace-named images under ``root``."""
    paths, ages, reasons = [], [], {"age_out_of_range": 0}
    for p in sorted(root.rglob("*")):
        m = _UTK.match(p.name)
        if not (m and p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file()):
            continue
        age = int(m.group(1))
        if not valid_age(age):
            reasons["age_out_of_range"] += 1
            continue
        paths.append(p)
        ages.append(age)
    return paths, ages, reasons
