"""Super-resolution data: high-resolution images only; the low-resolution input is made from each HR crop.

The degradation is fixed and exact (``downscale``): the HR crop as float [-1, 1] goes through
``torch.nn.functional.interpolate(hr, size=(H // s, W // s), mode="bicubic", antialias=True,
align_corners=False)``, is clamped to [-1, 1] and rounded to the 8-bit grid (``to_float(to_uint8(.))``), so the
network sees exactly what a saved LR image would hold. This is PIL's ``BICUBIC`` reduction (antialiased kernel,
a = -0.5) up to one grey level, except near black/white where PIL clips between its two passes.

Sources (``data.name``):
- ``openmoji`` (embedded default): OpenMoji rendered from SVG at ``data.size`` px (default 128; 128-256 is
  true high resolution, rasterised from vectors), composited on ``data.background``.
- ``twemoji``: Twemoji PNGs at their native 72 px.
- ``folder:PATH`` or a path: any HR folder. DIV2K layout (``DIV2K_train_HR/``, ``DIV2K_valid_HR/``: only
  ``*HR*`` folders are read, ``*valid*``/``*val*``/``*test*`` ones are held out) and CelebA layout
  (``list_eval_partition.txt`` beside the images: partition 2 is held out) are recognised; elsewhere a fixed
  hash of each file's relative path holds out 1 in 20. Images keep their native size unless ``data.size``
  crops and resizes them to a square; every image must be at least one crop in size.

The held-out split is fixed by content identity, never by ``seed``: emoji are split by their base codepoint
(so skin-tone and gender variants of one emoji all land on the same side), files by path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import DataError
from .images import IMAGE_SUFFIXES, open_rgb, square_resize, to_float, to_tensor_u8, to_uint8
from .sources import decode_many

HELDOUT_EVERY = 20  # 1 in 20 groups is held out


# --------------------------------------------------------------------------- the degradation


def downscale(hr: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """The LR image of ``hr`` (float [-1, 1], N x C x H x W, H and W multiples of ``scale``): antialiased bicubic
    ``1/scale`` reduction, clamped and rounded to the 8-bit grid."""
    h, w = hr.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"HR size {h}x{w} is not a multiple of the scale {scale}")
    lr = F.interpolate(hr.float(), size=(h // scale, w // scale), mode="bicubic", antialias=True, align_corners=False)
    return to_float(to_uint8(lr)).to(hr.device)


def bicubic_up(lr: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """The baseline: plain bicubic ``scale``x enlargement (a = -0.75, as OpenCV/PyTorch), clamped to [-1, 1]."""
    return F.interpolate(lr.float(), scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


def modcrop(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop the bottom/right so height and width are multiples of ``scale``."""
    h, w = x.shape[-2:]
    return x[..., : h - h % scale, : w - w % scale]


# --------------------------------------------------------------------------- the dataset


@dataclass
class SRData:
    """HR images (uint8 C x H x W each, any size >= crop) split into train and held-out; batches are random
    crops with flips, and their LR made by ``downscale``. A ``Dataset`` (``data/protocol.py``)."""

    train: list[torch.Tensor]
    heldout: list[torch.Tensor]
    name: str
    source: str
    crop: int = 96
    scale: int = 4
    flip: bool = True
    skipped: int = 0
    train_names: list[str] = field(default_factory=list, repr=False)
    heldout_names: list[str] = field(default_factory=list, repr=False)
    classes: list[str] = field(default_factory=list)
    num_classes: int = 0
    vflip: bool = True  # with ``flip``: vertical flips too (the book flips horizontally only)

    def __len__(self) -> int:
        return len(self.train)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The HR crop a training batch holds."""
        return (self.train[0].shape[0], self.crop, self.crop)

    def crops(self, index: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """uint8 HR crops (N x C x crop x crop) at random positions, randomly flipped, drawn from ``generator``."""
        idx = [int(i) for i in torch.as_tensor(index).reshape(-1)]
        r = torch.rand(len(idx), 4, generator=generator)
        c, out = self.crop, []
        for j, k in enumerate(idx):
            img = self.train[k]
            h, w = img.shape[-2:]
            y, x = int(r[j, 0] * (h - c + 1)), int(r[j, 1] * (w - c + 1))
            p = img[:, y : y + c, x : x + c]
            if self.flip and r[j, 2] < 0.5:
                p = p.flip(-1)
            if self.flip and self.vflip and r[j, 3] < 0.5:
                p = p.flip(-2)
            out.append(p)
        return torch.stack(out)

    def batch(self, index: torch.Tensor, device=None, generator: torch.Generator | None = None) -> dict:
        """``{"hr": float [-1, 1] N x C x crop x crop, "lr": downscale(hr)}``."""
        x = self.crops(index, generator)
        if device is not None:
            x = x.to(device, non_blocking=True)
        hr = to_float(x)
        return {"hr": hr, "lr": downscale(hr, self.scale)}

    def heldout_pair(self, i: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Held-out image ``i`` whole (modcropped to the scale): (hr 1 x C x H x W, lr)."""
        hr = to_float(modcrop(self.heldout[i], self.scale)[None])
        if device is not None:
            hr = hr.to(device)
        return hr, downscale(hr, self.scale)

    def heldout_crops(self, n: int, device=None) -> torch.Tensor:
        """Centre crops (crop x crop) of ``n`` held-out images spread evenly over the split (repeated if fewer),
        float [-1, 1]."""
        c, out, m = self.crop, [], len(self.heldout)
        for j in range(n):
            img = self.heldout[(j * m // n) if n <= m else j % m]
            h, w = img.shape[-2:]
            y, x = (h - c) // 2, (w - c) // 2
            out.append(img[:, y : y + c, x : x + c])
        x = to_float(torch.stack(out))
        return x.to(device) if device is not None else x

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for part in (self.train, self.heldout):
            h.update(str(len(part)).encode())
            for t in part:
                h.update(str(tuple(t.shape)).encode())
                h.update(t.contiguous().numpy().tobytes())
        h.update(f"crop={self.crop} scale={self.scale}".encode())
        return h.hexdigest()[:16]

    def tag(self) -> str:
        base = Path(self.name[7:]).name if self.name.startswith("folder:") else Path(self.name).name
        sizes = {tuple(t.shape[-2:]) for t in self.train[:50]}
        if len(sizes) == 1:
            ((h, w),) = sizes
            if h == w:
                return f"{base}{h}-x{self.scale}"
        return f"{base}-x{self.scale}"


# --------------------------------------------------------------------------- splitting


def held_out(key: str) -> bool:
    """Whether the group ``key`` is in the fixed held-out split (1 in ``HELDOUT_EVERY``, by SHA-1)."""
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % HELDOUT_EVERY == 0


def split(images: list[torch.Tensor], names: list[str], keys: list[str], heldout_flags: list[bool] | None = None):
    flags = heldout_flags if heldout_flags is not None else [held_out(k) for k in keys]
    if len(images) < 2:
        raise DataError(f"super-resolution data needs at least 2 images (one is held out), got {len(images)}")
    if not any(flags):  # tiny selections: hold out the last group rather than nothing
        last = keys[-1]
        flags = [k == last for k in keys]
    if all(flags):
        flags = [False] + list(flags[1:])
    tr = [i for i, f in enumerate(flags) if not f]
    ho = [i for i, f in enumerate(flags) if f]
    return [images[i] for i in tr], [images[i] for i in ho], [names[i] for i in tr], [names[i] for i in ho]


def spread(n_total: int, limit: int | None) -> list[int]:
    """``limit`` indices spread evenly over ``range(n_total)`` (all of them without a limit)."""
    if limit is None or limit >= n_total:
        return list(range(n_total))
    if limit < 1:
        raise DataError(f"data.limit must be >= 1, got {limit}")
    step = n_total / limit
    return [int(i * step) for i in range(limit)]


# --------------------------------------------------------------------------- sources


def _emoji_key(name: str) -> str:
    """Split key of an emoji file stem: the codepoints without skin-tone modifiers and FE0F, so the five skin
    tones of one emoji land on the same side of the split."""
    cps = [c for c in name.upper().split("-") if c != "FE0F" and not 0x1F3FB <= int(c, 16) <= 0x1F3FF]
    return "-".join(cps) or name.upper()


def load_openmoji(size: int, background: str, limit: int | None):
    from .openmoji import render_openmoji

    images, names = render_openmoji(size, background, limit)
    return list(images.unbind(0)), names, [_emoji_key(n) for n in names]


def load_twemoji_hr(size: int | None, background: str, skip_bad: bool, limit: int | None):
    from . import sources

    images, files, skipped = sources.load_twemoji(size, background, skip_bad)
    keep = spread(len(files), limit)
    names = [files[i].stem for i in keep]
    return [images[i] for i in keep], names, [_emoji_key(n) for n in names], skipped, sources.twemoji_dir()


def _folder_files(folder: Path) -> tuple[list[Path], list[bool]]:
    """HR image files and their held-out flags, by the DIV2K / CelebA / plain layout."""
    subdirs = [d for d in folder.iterdir() if d.is_dir()]
    hr_dirs = [d for d in subdirs if "HR" in d.name]
    if hr_dirs:  # DIV2K-like: DIV2K_train_HR, DIV2K_valid_HR (LR folders are ignored)
        files, flags = [], []
        for d in sorted(hr_dirs):
            fs = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            ho = any(t in d.name.lower() for t in ("valid", "val", "test"))
            files += fs
            flags += [ho] * len(fs)
        return files, flags
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    for part in (folder / "list_eval_partition.txt", folder.parent / "list_eval_partition.txt"):
        if part.exists():  # CelebA: "000001.jpg 0" (0 train, 1 valid, 2 test)
            table = {}
            for line in part.read_text().splitlines():
                bits = line.split()
                if len(bits) == 2:
                    table[bits[0]] = bits[1] == "2"
            return files, [table.get(p.name, held_out(p.name)) for p in files]
    return files, [held_out(str(p.relative_to(folder))) for p in files]


def load_hr_folder(folder: Path, size: int | None, background: str, skip_bad: bool, limit: int | None, crop: int):
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    files, flags = _folder_files(folder)
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    keep = spread(len(files), limit)
    files, flags = [files[i] for i in keep], [flags[i] for i in keep]

    def read(p: Path):
        im = open_rgb(p, background)
        if size is not None:
            im = square_resize(im, size)
        if min(im.size) < crop:
            raise DataError(
                f"{p}: image is {im.size[0]}x{im.size[1]}, smaller than the HR crop {crop} "
                f"(lower model.crop or raise data.size)"
            )
        return to_tensor_u8(im)

    tensors, kept = decode_many(files, read, skip_bad)
    if not kept:
        raise DataError(f"{folder}: no readable images of at least {crop}x{crop} among {len(files)} file(s)")
    names = [str(files[i].relative_to(folder)) for i in kept]
    return ([tensors[i] for i in kept], names, [flags[i] for i in kept], len(files) - len(kept))


def load_sr(cfg_data, crop: int = 96, scale: int = 4, flip: bool = True) -> SRData:
    """The SR dataset for ``cfg_data`` (a DataConfig): see the module docstring."""
    spec = cfg_data.name.strip()
    name, _, where = spec.partition(":")
    if cfg_data.channels not in (None, 3):
        raise DataError(
            f"data.channels={cfg_data.channels}: super-resolution trains on RGB "
            "(greyscale images are handled by `gankit upscale`)"
        )
    if crop % scale:
        raise DataError(f"HR crop {crop} is not a multiple of the scale {scale}")
    skipped, flags = 0, None
    if name == "openmoji":
        size = cfg_data.size or 128
        images, names, keys = load_openmoji(size, cfg_data.background, cfg_data.limit)
        from .openmoji import openmoji_dir

        source = str(openmoji_dir())
    elif name == "twemoji":
        images, names, keys, skipped, source = load_twemoji_hr(
            cfg_data.size, cfg_data.background, cfg_data.skip_bad, cfg_data.limit
        )
        source = str(source)
    else:
        if name == "folder":
            if not where:
                raise DataError("folder: needs a path, e.g. folder:~/DIV2K")
            path = Path(where).expanduser()
        else:
            path = Path(spec).expanduser()
            if not path.exists():
                raise DataError(
                    f"unknown super-resolution dataset '{spec}' (named: openmoji, twemoji; "
                    f"or folder:PATH / a path to HR images)"
                )
            spec = f"folder:{path}"
        images, names, flags, skipped = load_hr_folder(
            path, cfg_data.size, cfg_data.background, cfg_data.skip_bad, cfg_data.limit, crop
        )
        keys, source = names, str(path)
    small = [n for n, t in zip(names, images) if min(t.shape[-2:]) < crop]
    if small:
        raise DataError(
            f"{spec}: {len(small)} image(s) smaller than the HR crop {crop} (e.g. {small[0]}: "
            f"{tuple(images[names.index(small[0])].shape[-2:])}); lower model.crop or raise data.size"
        )
    tr, ho, trn, hon = split(images, names, keys, flags)
    return SRData(tr, ho, spec, source, crop, scale, flip, skipped, trn, hon)
