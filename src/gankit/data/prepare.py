"""Dataset preparation steps: ``crop_faces`` — the book's anime-face step (ch.4 §4.3.3) with an OpenCV cascade.

The book uses the ``animeface`` binding; gankit uses OpenCV's ``CascadeClassifier`` with a cascade file the
user gives (e.g. nagadomi's ``lbpcascade_animeface.xml`` for drawings, OpenCV's Haar frontal-face cascade for
photos). Fixes the book script's bugs: every face of every image (not ``faces[0]`` only), square boxes with a
margin (no stretching), unique names, RGBA/palette images converted, Lanczos resampling.
OpenCV (``opencv-python-headless``) is imported only here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from .images import IMAGE_SUFFIXES, open_rgb


@dataclass
class CropReport:
    images: int = 0
    faces: int = 0
    no_face: int = 0
    unreadable: int = 0
    out: str = ""


def load_cascade(path: str | Path):
    try:
        import cv2
    except ImportError:
        raise DataError("--crop-faces needs OpenCV: pip install opencv-python-headless") from None
    if not hasattr(cv2, "CascadeClassifier"):
        raise DataError(f"OpenCV {cv2.__version__} has no CascadeClassifier (OpenCV 5 moved it out): "
                        "pip install 'opencv-python-headless<5'")
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"cascade file not found: {p}")
    try:
        clf = cv2.CascadeClassifier(str(p))
    except (cv2.error, SystemError):  # a malformed XML raises inside OpenCV's parser
        clf = None
    if clf is None or clf.empty():
        raise DataError(f"{p}: not an OpenCV cascade classifier file (Haar or LBP cascade XML)")
    return clf


def square_box(x: int, y: int, w: int, h: int, width: int, height: int, margin: float) -> tuple[int, int, int, int]:
    """A square around a detection, ``margin`` of its size added on every side, moved (not cut) to fit the image."""
    side = int(round(max(w, h) * (1 + 2 * margin)))
    side = max(1, min(side, width, height))
    cx, cy = x + w / 2, y + h / 2
    left = int(round(min(max(cx - side / 2, 0), width - side)))
    top = int(round(min(max(cy - side / 2, 0), height - side)))
    return left, top, left + side, top + side


def detect(clf, image: Image.Image, min_size: int = 24, scale: float = 1.1, neighbors: int = 5) -> list:
    import cv2

    gray = cv2.equalizeHist(cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY))
    faces = clf.detectMultiScale(gray, scaleFactor=scale, minNeighbors=neighbors, minSize=(min_size, min_size))
    return sorted((tuple(int(v) for v in f) for f in faces), key=lambda f: -f[2] * f[3])


def crop_faces(src: str | Path, dst: str | Path, cascade: str | Path, size: int = 64, margin: float = 0.2,
               min_size: int = 24, max_faces: int | None = None, background: str = "white",
               detector=None, log=None) -> CropReport:
    """Crop every detected face of every image under ``src`` (recursively) to ``size`` x ``size`` PNGs in ``dst``."""
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    if not src.is_dir():
        raise DataError(f"not a folder: {src}")
    if size < 4:
        raise DataError(f"--size must be >= 4, got {size}")
    clf = load_cascade(cascade) if detector is None else None
    find = detector or (lambda im: detect(clf, im, min_size))
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{src}: no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    dst.mkdir(parents=True, exist_ok=True)
    rep = CropReport(out=str(dst))
    for f in files:
        try:
            im = open_rgb(f, background)
        except DataError as e:
            rep.unreadable += 1
            if log:
                log(f"skipped: {e}")
            continue
        rep.images += 1
        faces = find(im)[:max_faces] if max_faces else find(im)
        if not len(faces):
            rep.no_face += 1
            continue
        stem = "-".join(f.relative_to(src).with_suffix("").parts)
        for k, (x, y, w, h) in enumerate(faces):
            box = square_box(x, y, w, h, im.width, im.height, margin)
            crop = im.crop(box).resize((size, size), Image.Resampling.LANCZOS)
            crop.save(dst / f"{stem}-face{k}.png")
            rep.faces += 1
    return rep
