"""Sample grids and strips as PNG files, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from ..data.images import to_uint8


def grid_image(images: torch.Tensor, nrow: int, pad: int = 2, pad_value: float = 1.0) -> Image.Image:
    """float [-1, 1] N x C x H x W -> one PIL image with ``nrow`` images per row."""
    g = make_grid(images.detach().float().cpu(), nrow=nrow, padding=pad, pad_value=pad_value * 2 - 1)
    arr = to_uint8(g).permute(1, 2, 0).numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def save_png(im: Image.Image, path: Path, scale: int = 1) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    im.save(tmp)
    os.replace(tmp, path)
    return path


def save_grid(images: torch.Tensor, path: Path, nrow: int) -> Path:
    """Small images are upscaled (nearest) so a 28 px grid is readable at a glance."""
    side = images.shape[-1]
    return save_png(grid_image(images, nrow), path, scale=max(1, 64 // side))


def save_images(images: torch.Tensor, folder: Path, prefix: str = "img") -> list[Path]:
    paths = []
    for i, x in enumerate(images):
        arr = to_uint8(x).permute(1, 2, 0).numpy()
        im = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
        paths.append(save_png(im, Path(folder) / f"{prefix}-{i:05d}.png"))
    return paths


def pad_rows(rows: list[torch.Tensor], cols: int) -> torch.Tensor:
    """Stack rows of up to ``cols`` images into one batch, filling short rows with white images, so a grid of
    ``cols`` per row keeps every row aligned (e.g. input | output | target rows)."""
    fill = (
        lambda r: (
            r
            if r.shape[0] == cols
            else torch.cat(  # noqa: E731
                [r, torch.ones(cols - r.shape[0], *r.shape[1:], device=r.device, dtype=r.dtype)]
            )
        )
    )
    return torch.cat([fill(r) for r in rows])
