"""``gankit data check``: look at every image of a data set and report, instead of stopping at the first problem.

For a folder: count, a histogram of sizes, modes (RGB, RGBA, L, P, 16-bit ...), unreadable files by name, exact
duplicates (same decoded pixels), classes and their balance, images with transparency, greyscale content, and the
settings that fit the folder (``data.size``, ``data.channels``, ``data.background``, ``data.fit``,
``train.batch_size``). A named data set (``fashion-mnist``, ``cifar10`` ...) is loaded and reported the same way
from its tensor. ``usable`` is False only when nothing can be trained on.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from .folder import list_images
from .images import is_grey, open_rgb

SHORT_SIDE_BINS = [(0, 32), (32, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, None)]
POW2 = [8, 16, 32, 64, 128, 256]
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128)}


@dataclass
class Report:
    source: str
    files: int = 0
    readable: int = 0
    unreadable: list[dict] = field(default_factory=list)  # {"file", "reason"}
    sizes: dict = field(default_factory=dict)  # "WxH" -> count, most common first (top 10)
    short_side: dict = field(default_factory=dict)  # histogram of min(W, H)
    non_square: int = 0
    max_aspect: float = 1.0
    modes: dict = field(default_factory=dict)  # RGB, RGBA, L, LA, P, P+transparency, 16-bit, ...
    transparent: int = 0  # images with at least one pixel not fully opaque
    transparent_examples: list[str] = field(default_factory=list)
    greyscale: int = 0  # greyscale by mode or by content (R = G = B everywhere)
    grey_in_colour_mode: int = 0  # of those, stored in a colour mode (the loader, reading headers, sees colour)
    duplicates: list[list[str]] = field(default_factory=list)  # groups of files with identical pixels
    classes: dict = field(default_factory=dict)  # class -> count ({} when the folder has no class subfolders)
    top_level_files: int = 0  # files beside class folders (they train as the first class)
    suggested: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)  # why each suggestion
    warnings: list[str] = field(default_factory=list)
    usable: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- one file


def _mode_label(im: Image.Image) -> str:
    if im.mode.startswith("I;16") or im.mode == "I":
        return "16-bit"
    if im.mode == "P" and "transparency" in im.info:
        return "P+transparency"
    return im.mode


def inspect(path: Path) -> dict:
    """Facts about one file: mode, size, transparency, greyscale content, a hash of its decoded pixels, the mean
    colour of its opaque pixels. Never raises: an unreadable file gives {"error": reason}."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                mode, (w, h), header_grey = _mode_label(im), im.size, is_grey(im)
        rgba = np.asarray(open_rgb(path, keep_alpha=True).convert("RGBA"))
    except DataError as e:
        return {"error": str(e).split(": ", 1)[-1]}
    except Exception as e:  # noqa: BLE001  (a check must survive any broken file)
        return {"error": f"unreadable image ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})"}
    alpha = rgba[..., 3]
    rgb = rgba[..., :3]
    opaque = alpha > 0
    grey = mode in ("L", "LA", "1", "16-bit") or bool(
        (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    )
    h_ = hashlib.sha256(f"{w}x{h}".encode())
    h_.update(rgba.tobytes())
    mean = rgb[opaque].mean(0).tolist() if opaque.any() else None
    return {
        "mode": mode,
        "w": w,
        "h": h,
        "transparent": bool((alpha < 255).any()),
        "grey": grey,
        "header_grey": header_grey,
        "hash": h_.hexdigest(),
        "mean": mean,
    }


# --------------------------------------------------------------------------- the report


def check_folder(folder: str | Path) -> Report:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    paths = list_images(folder)
    rep = Report(source=str(folder), files=len(paths))
    if not paths:
        rep.warnings.append(f"no image files in {folder}")
        return rep
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        facts = list(pool.map(inspect, paths))
    rel = [str(p.relative_to(folder)) for p in paths]
    ok = [(r, f) for r, f in zip(rel, facts) if "error" not in f]
    rep.unreadable = [{"file": r, "reason": f["error"]} for r, f in zip(rel, facts) if "error" in f]
    rep.readable = len(ok)
    rep.usable = rep.readable > 0
    if not ok:
        rep.warnings.append(f"none of the {len(paths)} file(s) could be read")
        return rep

    sizes = Counter(f"{f['w']}x{f['h']}" for _, f in ok)
    rep.sizes = dict(sizes.most_common(10))
    if len(sizes) > 10:
        rep.sizes["(other sizes)"] = sum(sizes.values()) - sum(rep.sizes.values())
    short = [min(f["w"], f["h"]) for _, f in ok]
    for lo, hi in SHORT_SIDE_BINS:
        k = sum(lo <= s < (hi or 1 << 30) for s in short)
        if k:
            rep.short_side[f"{lo}-{hi - 1}" if hi else f">={lo}"] = k
    aspects = [max(f["w"], f["h"]) / min(f["w"], f["h"]) for _, f in ok]
    rep.non_square = sum(a > 1 for a in aspects)
    rep.max_aspect = round(max(aspects), 2)
    rep.modes = dict(Counter(f["mode"] for _, f in ok).most_common())
    transparent = [r for r, f in ok if f["transparent"]]
    rep.transparent, rep.transparent_examples = len(transparent), transparent[:5]
    rep.greyscale = sum(f["grey"] for _, f in ok)
    rep.grey_in_colour_mode = sum(f["grey"] and not f["header_grey"] for _, f in ok)

    groups = defaultdict(list)
    for r, f in ok:
        groups[f["hash"]].append(r)
    rep.duplicates = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))

    parts = [Path(r).parts for r, _ in ok]
    if any(len(p) > 1 for p in parts):
        rep.classes = dict(sorted(Counter(p[0] for p in parts if len(p) > 1).items()))
        rep.top_level_files = sum(len(p) == 1 for p in parts)
    dims = {(f["w"], f["h"]) for _, f in ok}
    _suggest(rep, dims, short, aspects, [f for r, f in ok if f["transparent"]])
    _warn(rep, short)
    return rep


def _native_size(side: int) -> tuple[int, str]:
    if side % 8 == 0:
        return side, f"every image is {side}x{side}: no resizing needed"
    near = max(8, round(side / 8) * 8)
    return near, (
        f"every image is {side}x{side}; the conv generators (dcgan, lsgan, cgan) double 3 times, so the "
        f"nearest multiple of 8"
    )


def _pow2_at_most(n: float) -> int:
    return max([p for p in POW2 if p <= n] or [POW2[0]])


def _suggest(rep: Report, dims: set, short: list[int], aspects: list[float], transparent: list[dict]) -> None:
    s, why = rep.suggested, rep.reasons
    p10 = float(np.percentile(short, 10))
    w, h = next(iter(dims)) if len(dims) == 1 else (0, 0)
    if w and w == h:
        s["data.size"], why["data.size"] = _native_size(w)
    else:
        s["data.size"] = _pow2_at_most(p10)
        why["data.size"] = (
            f"the largest power of two (<= {POW2[-1]}) that 90% of the images reach without upscaling "
            f"(10th percentile of the short side: {p10:.0f} px)"
        )
    if rep.non_square:
        long = sum(a > 1.5 for a in aspects)
        s["data.fit"] = "pad" if long > len(aspects) // 10 else "crop"
        why["data.fit"] = f"{rep.non_square} image(s) are not square, {long} of them wider than 1.5:1; " + (
            "pad keeps the whole of each picture"
            if s["data.fit"] == "pad"
            else "few enough for a centre crop (it cuts their sides; pad keeps them whole)"
        )
    if rep.greyscale == rep.readable:
        s["data.channels"] = 1
        why["data.channels"] = f"all {rep.readable} images are greyscale" + (
            f" ({rep.grey_in_colour_mode} stored in a colour mode: set data.channels=1, the "
            f"headers alone make them 3 channels)"
            if rep.grey_in_colour_mode
            else " (gankit picks 1 channel by itself)"
        )
    else:
        s["data.channels"] = 3
        why["data.channels"] = f"{rep.readable - rep.greyscale} of {rep.readable} images have colour"
    if transparent:
        means = np.array([f["mean"] for f in transparent if f["mean"] is not None] or [[128, 128, 128]])
        mean = means.mean(0)
        name = max(BACKGROUNDS, key=lambda k: float(np.linalg.norm(mean - np.array(BACKGROUNDS[k]))))
        s["data.background"] = name
        why["data.background"] = (
            f"{len(transparent)} image(s) have transparency; {name} is the farthest of "
            f"white/black/gray from their mean opaque colour "
            f"({', '.join(f'{v:.0f}' for v in mean)}), so shapes keep a visible edge"
        )
    n = rep.readable
    bs = max(1, min(64, _pow2_at_most(n / 10) if n >= 80 else 2 ** int(np.log2(max(1, n // 4)))))
    if s["data.size"] >= 256:
        bs = min(bs, 16)
    s["train.batch_size"] = bs
    why["train.batch_size"] = f"at most 64, and about 10 or more steps per epoch over {n} image(s)" + (
        " (16 at 256 px and above: memory)" if s["data.size"] >= 256 else ""
    )
    if rep.unreadable:
        s["data.skip_bad"] = True
        why["data.skip_bad"] = f"{len(rep.unreadable)} unreadable file(s) would stop training otherwise"


def _warn(rep: Report, short: list[int]) -> None:
    w = rep.warnings
    if rep.unreadable:
        w.append(
            f"{len(rep.unreadable)} unreadable file(s): "
            + ", ".join(u["file"] for u in rep.unreadable[:5])
            + (" ..." if len(rep.unreadable) > 5 else "")
        )
    if rep.duplicates:
        extra = sum(len(g) - 1 for g in rep.duplicates)
        w.append(
            f"{extra} exact duplicate(s) in {len(rep.duplicates)} group(s), e.g. {' = '.join(rep.duplicates[0][:3])}"
        )
    size = rep.suggested.get("data.size", 0)
    small = sum(s < size for s in short)
    if small:
        w.append(f"{small} image(s) are smaller than {size} px on their short side and will be upscaled")
    if rep.classes:
        counts = list(rep.classes.values())
        if len(counts) == 1:
            w.append(f"one class folder only ('{next(iter(rep.classes))}'): a conditional model needs two or more")
        elif max(counts) > 3 * min(counts):
            w.append(
                f"classes are unbalanced: {max(counts)} vs {min(counts)} images "
                f"({max(rep.classes, key=rep.classes.get)} vs {min(rep.classes, key=rep.classes.get)})"
            )
        if rep.top_level_files:
            w.append(
                f"{rep.top_level_files} file(s) sit beside the class folders and train as class "
                f"'{next(iter(rep.classes))}'; move them into a class folder"
            )
    if rep.readable < 100:
        w.append(f"only {rep.readable} readable image(s): a GAN will memorise them; a few thousand are usual")
    modes = set(rep.modes)
    if "16-bit" in modes:
        w.append(f"{rep.modes['16-bit']} 16-bit image(s) are scaled to 8 bits")
    if rep.transparent and "data.background" in rep.suggested:
        w.append(
            f"{rep.transparent} image(s) with transparency are composited on data.background "
            f"(default white; suggested {rep.suggested['data.background']})"
        )


def check_tensor(name: str, source: str, images, labels, classes: list[str], names: list[str] | None = None) -> Report:
    """The same report for a loaded data set (IDX, CIFAR, Twemoji): counts, shape, classes, duplicate rows (named by
    ``names`` when given, else by row index)."""
    n, c, h, w = images.shape
    rep = Report(source=f"{name} ({source})", files=n, readable=n, usable=n > 0)
    rep.sizes, rep.short_side = {f"{w}x{h}": n}, {f"{min(w, h)}": n}
    rep.modes = {"L" if c == 1 else "RGB": n}
    rep.greyscale = n if c == 1 else 0
    groups = defaultdict(list)
    for i in range(n):
        groups[hashlib.sha256(images[i].numpy().tobytes()).digest()].append(names[i] if names else str(i))
    rep.duplicates = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))
    if labels is not None and classes:
        counts = Counter(labels.tolist())
        rep.classes = {classes[k]: counts.get(k, 0) for k in range(len(classes))}
    size, why = _native_size(w) if w == h else (_pow2_at_most(min(w, h)), "a power of two within the short side")
    rep.suggested = {"data.size": size, "data.channels": c, "train.batch_size": max(1, min(64, _pow2_at_most(n / 10)))}
    rep.reasons = {
        "data.size": why,
        "data.channels": "the native channels",
        "train.batch_size": "at most 64, about 10 or more steps per epoch",
    }
    _warn(rep, [min(w, h)] * n)
    return rep


def format_text(rep: Report) -> str:
    """The report as a few readable lines."""
    out = [
        f"source: {rep.source}",
        f"images: {rep.readable} readable of {rep.files} file(s)"
        + (f", {len(rep.unreadable)} unreadable" if rep.unreadable else ""),
    ]
    if rep.sizes:
        out.append("sizes: " + ", ".join(f"{k} x{v}" for k, v in rep.sizes.items()))
        out.append(
            "short side: "
            + ", ".join(f"{k} px: {v}" for k, v in rep.short_side.items())
            + (f"; {rep.non_square} not square (aspect up to {rep.max_aspect})" if rep.non_square else "")
        )
    if rep.modes:
        out.append(
            "modes: "
            + ", ".join(f"{k} {v}" for k, v in rep.modes.items())
            + f"; greyscale {rep.greyscale}; with transparency {rep.transparent}"
        )
    if rep.classes:
        out.append("classes: " + ", ".join(f"{k} {v}" for k, v in rep.classes.items()))
    for u in rep.unreadable[:20]:
        out.append(f"unreadable: {u['file']}: {u['reason']}")
    if len(rep.unreadable) > 20:
        out.append(f"unreadable: ... {len(rep.unreadable) - 20} more (--json lists all)")
    for g in rep.duplicates[:10]:
        out.append("duplicates: " + " = ".join(g))
    for m in rep.warnings:
        out.append(f"warning: {m}")
    if rep.suggested:
        out.append("suggested settings:")
        for k, v in rep.suggested.items():
            v = str(v).lower() if isinstance(v, bool) else v
            out.append(f"  {k}={v}".ljust(28) + f"# {rep.reasons.get(k, '')}")
        flags = " ".join(f"{k}={v}" for k, v in rep.suggested.items() if k != "data.skip_bad")
        flags += " --skip-bad" if rep.suggested.get("data.skip_bad") else ""
        out.append(f"try: gankit train dcgan --data {_spec(rep.source)} {flags} --minutes 5")
    out.append("usable: yes" if rep.usable else "usable: no (nothing to train on)")
    return "\n".join(out)


def _spec(source: str) -> str:
    return source.split(" (")[0] if " (" in source else f"folder:{source}"


def check(spec: str) -> Report:
    """A report for ``folder:PATH``, a path, or a named data set."""
    from ..config import DataConfig
    from . import _detect, load  # the package's loader: named data sets, IDX/CIFAR folders

    spec = spec.strip()
    name, _, where = spec.partition(":")
    if name == "folder":
        return check_folder(where)
    p = Path(spec).expanduser()
    if p.is_dir() and _detect(p) == "folder":
        return check_folder(p)
    s = load(DataConfig(name=spec, size=72 if spec == "twemoji" else None))
    names = [f.name for f in s.files] if len(s.files) == len(s) else None
    return check_tensor(s.name, s.source, s.images, s.labels, s.classes, names)
