"""Reading image files into uint8 tensors, whatever their mode; batch resizing and channel conversion."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageColor, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from ..errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def parse_colour(name: str) -> tuple[int, int, int]:
    try:
        return ImageColor.getrgb(name)[:3]
    except ValueError:
        raise DataError(f"background colour '{name}' is not a colour name or #rrggbb") from None


def open_rgb(path: Path, background: str | tuple = "white", keep_alpha: bool = False) -> Image.Image:
    """Open any image as RGB (alpha composited on ``background``) or RGBA; a clear error if unreadable.

    16-bit, palette, CMYK, greyscale-with-alpha and the like are all converted.
    """
    path = Path(path)
    bg = parse_colour(background) if isinstance(background, str) else background
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.load()
                if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                    arr = np.asarray(im, dtype=np.float64)
                    hi = 65535.0 if arr.max() > 255 else 255.0
                    im = Image.fromarray((arr / hi * 255).round().astype(np.uint8), "L")
                has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
                im = im.convert("RGBA") if has_alpha else im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(
            f"{path}: unreadable image ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})"
        ) from None
    if im.mode == "RGBA" and not keep_alpha:
        canvas = Image.new("RGBA", im.size, bg + (255,))
        im = Image.alpha_composite(canvas, im).convert("RGB")
    return im


GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def _grey_palette(im: Image.Image) -> bool:
    pal = im.getpalette() or []
    return all(pal[i] == pal[i + 1] == pal[i + 2] for i in range(0, len(pal) - 2, 3))


def is_grey(im: Image.Image, background: str | tuple = "white") -> bool:
    """Whether an opened (not necessarily loaded) image is greyscale by its header: a grey mode or a palette of
    greys. An image with transparency counts as grey only when the background it is composited on is grey."""
    if im.mode in GREY_MODES:
        grey = True
    elif im.mode in ("P", "PA"):
        grey = _grey_palette(im)
    else:
        return False
    alpha = im.mode in ("LA", "PA") or "transparency" in im.info
    if grey and alpha:
        bg = parse_colour(background) if isinstance(background, str) else background
        return bg[0] == bg[1] == bg[2]
    return grey


def open_image(path: Path, background: str | tuple = "white", channels: int = 3) -> Image.Image:
    """``open_rgb`` then, for ``channels=1``, luminance (exact for grey pixels: ITU-R 601 weights sum to one)."""
    im = open_rgb(path, background)
    return im.convert("L") if channels == 1 else im


def fit_square(im: Image.Image, size: int | None, fit: str = "crop", background: str | tuple = "white") -> Image.Image:
    """Make ``im`` square (``crop``: centre crop, ``stretch``: resize, ``pad``: pad with ``background``; an image with
    alpha is padded with transparent pixels), then resize to ``size`` (Lanczos when shrinking, bicubic otherwise).
    ``size`` None: keep the side."""
    w, h = im.size
    if w != h:
        if fit == "crop":
            s = min(w, h)
            im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        elif fit == "pad":
            s = max(w, h)
            bg = parse_colour(background) if isinstance(background, str) else tuple(background)
            fill = {
                "RGB": bg,
                "L": round(0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]),
                "RGBA": (0, 0, 0, 0),
                "LA": (0, 0),
            }.get(im.mode, 0)
            canvas = Image.new(im.mode, (s, s), fill)
            canvas.paste(im, ((s - w) // 2, (s - h) // 2))
            im = canvas
        elif fit == "stretch":
            s = size or max(w, h)
            im = im.resize((s, s), Image.Resampling.BICUBIC)
        else:
            raise DataError(f"fit must be crop, pad or stretch, got '{fit}'")
    if size is not None and im.size[0] != size:
        im = im.resize((size, size), Image.Resampling.LANCZOS if im.size[0] > size else Image.Resampling.BICUBIC)
    return im


def to_tensor_u8(im: Image.Image) -> torch.Tensor:
    """PIL image -> uint8 tensor C x H x W."""
    arr = np.asarray(im, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def square_resize(im: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize with antialiasing (Lanczos when shrinking, bicubic otherwise)."""
    w, h = im.size
    if w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
    if im.size[0] != size:
        im = im.resize((size, size), Image.Resampling.LANCZOS if im.size[0] > size else Image.Resampling.BICUBIC)
    return im


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 N x C x H x W -> N x C x size x size (antialiased bilinear), in chunks to bound memory."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    out = [TF.resize(c, [size, size], antialias=True) for c in x.split(4096)]
    return torch.cat(out)


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if channels not in (1, 3):
        raise DataError(f"data.channels must be 1 or 3, got {channels}")
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1:
        return x.expand(-1, 3, -1, -1).contiguous()
    return torch.cat([TF.rgb_to_grayscale(p) for p in x.split(4096)])


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return x.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255]."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def input_images(paths) -> list[tuple[Path, Path]]:
    """Image files named on a command line, and every image file under a named folder (recursive, sorted), each with
    its output path relative to an output folder (the folder's sub-folders kept, suffix ``.png``)."""
    out = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise DataError(f"{p}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
            out += [(f, f.relative_to(p).with_suffix(".png")) for f in files]
        elif p.is_file():
            out.append((p, Path(p.name).with_suffix(".png")))
        else:
            raise DataError(f"input not found: {p}")
    if not out:
        raise DataError("no input images found")
    return out
