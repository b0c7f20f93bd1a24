"""``wiki:PATH`` or a folder holding ``wiki.mat`` (IMDB-WIKI ``wiki_crop``): ages from Matlab datenums exactly as
the book computes them (``bins.datenum_to_age``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import DataError
from .bins import datenum_to_age, valid_age


def read_wiki_mat(root: Path) -> tuple[list[Path], list[int], dict]:
    """(image paths, ages, skip counts) from ``root/wiki.mat``: records whose image file is missing, whose age is
    <= 0 or >= 100, or whose face_score is -inf (no face found) are skipped and counted."""
    from scipy.io import loadmat

    mat = root / "wiki.mat"
    try:
        w = loadmat(str(mat))["wiki"][0, 0]
        full_path, dob, taken = w["full_path"][0], w["dob"][0], w["photo_taken"][0]
        score = w["face_score"][0] if "face_score" in w.dtype.names else np.zeros(len(dob))
    except (OSError, KeyError, ValueError, IndexError, TypeError) as e:
        raise DataError(f"{mat}: not an IMDB-WIKI wiki.mat ({type(e).__name__}: {str(e)[:120]})") from None
    paths, ages = [], []
    reasons = {"no_image": 0, "age_out_of_range": 0, "no_face": 0}
    for fp, d, t, s in zip(full_path, dob, taken, score):
        if np.isneginf(s):
            reasons["no_face"] += 1
            continue
        age = datenum_to_age(d, t)
        if not valid_age(age):
            reasons["age_out_of_range"] += 1
            continue
        p = root / str(np.ravel(fp)[0])
        if not p.is_file():
            reasons["no_image"] += 1
            continue
        paths.append(p)
        ages.append(age)
    return paths, ages, reasons
