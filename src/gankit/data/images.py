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
        raise DataError(f"{path}: unreadable image ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})") from None
    if im.mode == "RGBA" and not keep_alpha:
        canvas = Image.new("RGBA", im.size, bg + (255,))
        im = Image.alpha_composite(canvas, im).convert("RGB")
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
