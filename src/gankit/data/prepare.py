"""Dataset preparation steps (``gankit data prepare``): ``prepare_images`` (square them: crop, pad or stretch, resize,
hold out a test split), ``prepare_pairs`` (pix2pix's A|B layout from two folders matched by name) and
``crop_faces`` — the book's anime-face step (ch.4 §4.3.3) with an OpenCV cascade.

The book uses the ``animeface`` binding; gankit uses OpenCV's ``CascadeClassifier`` with a cascade file the
user gives (e.g. nagadomi's ``lbpcascade_animeface.xml`` for drawings, OpenCV's Haar frontal-face cascade for
photos). Fixes the book script's bugs: every face of every image (not ``faces[0]`` only), square boxes with a
margin (no stretching), unique names, RGBA/palette images converted, Lanczos resampling.
OpenCV (``opencv-python-headless``) is imported only here.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..fileio import atomic_path
from .images import IMAGE_SUFFIXES, fit_square, is_grey, open_rgb


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
        raise DataError(
            f"OpenCV {cv2.__version__} has no CascadeClassifier (OpenCV 5 moved it out): "
            "pip install 'opencv-python-headless<5'"
        )
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


def crop_faces(
    src: str | Path,
    dst: str | Path,
    cascade: str | Path,
    size: int = 64,
    margin: float = 0.2,
    min_size: int = 24,
    max_faces: int | None = None,
    background: str = "white",
    detector=None,
    log=None,
) -> CropReport:
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


# --------------------------------------------------------------------------- resize, pair, split


@dataclass
class PrepareReport:
    out: str
    train: int = 0
    test: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    unmatched_a: list[str] = field(default_factory=list)
    unmatched_b: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"wrote {self.train + self.test} image(s) to {self.out}"
            + (f" (train/ {self.train}, test/ {self.test})" if self.test else "")
        ]
        if self.skipped:
            lines.append(
                f"skipped {len(self.skipped)}: "
                + "; ".join(f"{f} ({why})" for f, why in self.skipped[:10])
                + (" ..." if len(self.skipped) > 10 else "")
            )
        for side, names in (("A", self.unmatched_a), ("B", self.unmatched_b)):
            if names:
                lines.append(
                    f"no partner in the other folder for {len(names)} {side} file(s): "
                    + ", ".join(names[:10])
                    + (" ..." if len(names) > 10 else "")
                )
        return "\n".join(lines)


def held_out(keys: list[str], fraction: float) -> set[str]:
    """The ``fraction`` of ``keys`` (rounded, at least one when there are two or more) with the lowest SHA-256 of
    their name: the same files stay held out when others are added or the command is run again."""
    if not 0 <= fraction < 1:
        raise DataError(f"--split must be in [0, 1), got {fraction}")
    if fraction == 0 or len(keys) < 2:
        return set()
    k = min(len(keys) - 1, max(1, round(fraction * len(keys))))
    return set(sorted(keys, key=lambda s: hashlib.sha256(s.encode()).hexdigest())[:k])


def _open_keep(path: Path) -> Image.Image:
    """An image in the mode closest to its own: L (greyscale), LA, RGB or RGBA; 16-bit scaled to 8."""
    im = open_rgb(path, keep_alpha=True)  # RGB or RGBA, with 16-bit and palettes handled
    with Image.open(path) as raw:
        grey = is_grey(raw)
    if grey:
        return im.convert("LA" if im.mode == "RGBA" else "L")
    return im


def _save_png(im: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")


def _out_names(rel: list[Path]) -> list[Path]:
    """Each relative path with a .png suffix; ``a.jpg`` beside ``a.png`` becomes ``a.jpg.png`` (no collisions)."""
    stems = Counter(r.with_suffix("") for r in rel)
    return [r.with_suffix(".png") if stems[r.with_suffix("")] == 1 else r.with_name(r.name + ".png") for r in rel]


def _split_by_class(rel: list[Path], fraction: float) -> set[str]:
    """Held-out files chosen within each first-level folder (class), so every class keeps its share."""
    groups: dict[str, list[str]] = {}
    for r in rel:
        groups.setdefault(r.parts[0] if len(r.parts) > 1 else "", []).append(str(r))
    return set().union(*(held_out(g, fraction) for g in groups.values())) if groups else set()


def prepare_images(
    src: str | Path,
    dst: str | Path,
    size: int | None = None,
    fit: str = "crop",
    split: float = 0.0,
    background: str = "white",
) -> PrepareReport:
    """Every image under ``src`` as a PNG under ``dst`` (same relative path: class folders survive), made square
    by ``fit`` and resized to ``size``; with ``split``, ``dst/train/`` and ``dst/test/`` (held out per class).
    Greyscale stays 1 channel and transparency stays (``data.background`` decides at training time; ``pad`` fills
    with transparent pixels then)."""
    src, dst = Path(src).expanduser(), Path(dst).expanduser()
    _check_args(src, size, fit)
    files = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{src}: no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    rel = [f.relative_to(src) for f in files]
    test = _split_by_class(rel, split)
    rep = PrepareReport(out=str(dst))
    for f, r, name in zip(files, rel, _out_names(rel)):
        try:
            im = fit_square(_open_keep(f), size, fit, background)
        except DataError as e:
            rep.skipped.append((str(r), str(e).split(": ", 1)[-1]))
            continue
        part = ("test" if str(r) in test else "train") if split else ""
        _save_png(im, dst / part / name)
        rep.test += part == "test"
        rep.train += part != "test"
    return rep


def prepare_pairs(
    a_dir: str | Path,
    b_dir: str | Path,
    dst: str | Path,
    size: int | None = None,
    fit: str = "crop",
    split: float = 0.0,
    background: str = "white",
) -> PrepareReport:
    """pix2pix's aligned layout from two folders matched by relative path without suffix (``a/x.jpg`` with
    ``b/x.png``): ``dst/train/x.png`` = A | B side by side, each ``size`` x ``size`` (RGB on ``background``);
    with ``split``, a held-out ``dst/test/``. Files without a partner are listed, not fatal."""
    a_dir, b_dir, dst = Path(a_dir).expanduser(), Path(b_dir).expanduser(), Path(dst).expanduser()
    _check_args(a_dir, size, fit)
    _check_args(b_dir, size, fit)

    def index(d: Path) -> dict[str, Path]:
        return {
            str(p.relative_to(d).with_suffix("")): p
            for p in sorted(d.rglob("*"))
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        }

    ia, ib = index(a_dir), index(b_dir)
    keys = sorted(set(ia) & set(ib))
    rep = PrepareReport(out=str(dst), unmatched_a=sorted(set(ia) - set(ib)), unmatched_b=sorted(set(ib) - set(ia)))
    if not keys:
        raise DataError(f"no file names in common between {a_dir} and {b_dir} (pairs are matched by name)")
    test = held_out(keys, split)
    for k in keys:
        try:
            a, b = open_rgb(ia[k], background), open_rgb(ib[k], background)
            if size is None and (a.size != b.size or a.size[0] != a.size[1]):
                raise DataError(f"A is {a.size[0]}x{a.size[1]}, B {b.size[0]}x{b.size[1]}: give --size")
            a, b = fit_square(a, size, fit, background), fit_square(b, size, fit, background)
        except DataError as e:
            rep.skipped.append((k, str(e).split(": ", 1)[-1]))
            continue
        side = a.size[0]
        ab = Image.new("RGB", (2 * side, side))
        ab.paste(a, (0, 0))
        ab.paste(b, (side, 0))
        part = "test" if k in test else "train"
        _save_png(ab, dst / part / f"{k}.png")
        rep.test += part == "test"
        rep.train += part == "train"
    return rep


def _check_args(src: Path, size: int | None, fit: str) -> None:
    if not src.is_dir():
        raise DataError(f"not a folder: {src}")
    if size is not None and size < 4:
        raise DataError(f"--size must be >= 4, got {size}")
    if fit not in ("crop", "pad", "stretch"):
        raise DataError(f"--fit must be crop, pad or stretch, got '{fit}'")
