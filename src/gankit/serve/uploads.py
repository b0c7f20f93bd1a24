"""Turning untrusted uploaded bytes into a PIL image, or refusing them with a clear 4xx reason.

The order matters: the byte count is checked first, then the type is sniffed from the first bytes (never the file
name or the declared content type), then Pillow opens the file lazily (header only) and the pixel count is checked
*before* ``load()`` decodes anything, so a tiny PNG that claims to be 50 000 x 50 000 never allocates its pixels.
Decoding happens in memory: nothing is written to disk here (the multipart parser spools large bodies to the
system temporary directory, and nowhere else).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# magic bytes -> Pillow format name. Anything else (SVG, zip, GIF, BMP, TIFF, HTML ...) is refused.
ALLOWED = ("PNG", "JPEG", "WEBP")


class UploadError(Exception):
    """A refused upload: ``status`` is the HTTP code (413 too large, 415 wrong type, 400 unreadable)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 16_000_000  # decoded width x height of any upload


def sniff(data: bytes) -> str | None:
    """The image format the bytes really are (``PNG``, ``JPEG``, ``WEBP``), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def describe(data: bytes) -> str:
    """A short name for what refused bytes look like, for the error message."""
    head = data[:512].lstrip().lower()
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "a zip archive"
    if head.startswith(b"<?xml") or b"<svg" in head:
        return "SVG/XML"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF"
    if data.startswith(b"BM"):
        return "a BMP"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "a TIFF"
    if data.startswith((b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!")):
        return "an archive"
    return "not a PNG, JPEG or WebP image"


def decode(data: bytes, limits: Limits, name: str = "upload") -> Image.Image:
    """Bytes of a PNG/JPEG/WebP file -> a loaded RGB or RGBA PIL image (first frame), or UploadError."""
    if not data:
        raise UploadError(400, f"{name}: the file is empty")
    if len(data) > limits.max_bytes:
        raise UploadError(413, f"{name}: {len(data):,} bytes is over the {limits.max_bytes:,}-byte limit")
    fmt = sniff(data)
    if fmt is None:
        raise UploadError(415, f"{name}: {describe(data)}; only PNG, JPEG and WebP images are accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])  # lazy: reads the header only
            w, h = im.size
            if w < 1 or h < 1:
                raise UploadError(400, f"{name}: the image has no pixels ({w} x {h})")
            if w * h > limits.max_pixels:
                raise UploadError(
                    413, f"{name}: {w} x {h} = {w * h:,} pixels is over the {limits.max_pixels:,}-pixel limit"
                )
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit greyscale PNG -> 8-bit
                import numpy as np

                arr = np.asarray(im, dtype=np.float64)
                hi = 65535.0 if arr.max() > 255 else 255.0
                im = Image.fromarray((arr / hi * 255).round().clip(0, 255).astype(np.uint8), "L")
            has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            return im.convert("RGBA" if has_alpha else "RGB")
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UploadError(413, f"{name}: over the {limits.max_pixels:,}-pixel limit (Pillow: {e})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        msg = str(e).splitlines()[0] if str(e) else "corrupt"
        raise UploadError(400, f"{name}: unreadable {fmt} ({type(e).__name__}: {msg})") from None
